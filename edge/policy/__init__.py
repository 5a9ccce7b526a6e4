"""Readout policy (SPEC §5): regimes, consent, once-per-day release, grid operator requests.

Pure: state and `now` in, decisions out. Only the standard library (and `edge.errors`) is
imported; no file, socket, clock or thread access. Every transition returns an `Outcome` (new
frozen state + effects) for the shell to carry out and persist.
"""

from edge.policy.config import (
    PointConfig,
    PolicyConfig,
    PolicyConfigError,
    PushWindow,
    Regime,
    config_from_table,
    parse_regime,
)
from edge.policy.consent import Actor, ConsentChange, opt_out_spans, set_by, touched_by_opt_out
from edge.policy.log import LogEntry, describe_periods, render, render_log
from edge.policy.outcome import Outcome, RefusalReason, Release, Reply, Resend
from edge.policy.periods import Period, local_date, local_midnight
from edge.policy.release import (
    apply_release,
    due_periods,
    plan_release,
    point_status,
    push,
    released_today,
)
from edge.policy.requests import (
    Request,
    UnknownAllocationPointError,
    handle_request,
    refuse_unverified,
    set_consent,
)
from edge.policy.state import PointState, PolicyState, state_from_json, state_to_json
from edge.policy.throttle import RefusalThrottle, refusal_hour
from edge.policy.window import (
    push_due,
    push_instant,
    push_moment,
    push_offset,
    push_span,
    window_end,
)

__all__ = [
    "Actor",
    "ConsentChange",
    "LogEntry",
    "Outcome",
    "Period",
    "PointConfig",
    "PointState",
    "PolicyConfig",
    "PolicyConfigError",
    "PolicyState",
    "PushWindow",
    "RefusalReason",
    "RefusalThrottle",
    "Regime",
    "Release",
    "Reply",
    "Request",
    "Resend",
    "UnknownAllocationPointError",
    "apply_release",
    "config_from_table",
    "describe_periods",
    "due_periods",
    "handle_request",
    "local_date",
    "local_midnight",
    "opt_out_spans",
    "parse_regime",
    "plan_release",
    "point_status",
    "push",
    "push_due",
    "push_instant",
    "push_moment",
    "push_offset",
    "push_span",
    "refusal_hour",
    "refuse_unverified",
    "released_today",
    "render",
    "render_log",
    "set_by",
    "set_consent",
    "state_from_json",
    "state_to_json",
    "touched_by_opt_out",
    "window_end",
]
