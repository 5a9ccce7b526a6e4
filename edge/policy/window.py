"""The daily push moment of a gateway inside the push window.

Strategy: the moment is a pure function of the gateway id and the local date — SHA-256 of the id
gives a stable number — so it survives restarts without being stored, and a million gateways
spread evenly instead of publishing at the same second.

Two rules shape the span the moments are spread over, both in real (UTC) seconds:
- it starts no earlier than the instant the previous day settles (its local midnight plus the
  policy's `settle`): a moment before that would find yesterday incomplete and push a day late;
- it is as long as the window really is on that day — 3 h for "01:00-05:00" on spring-forward,
  5 h on fall-back — so no moment falls into a skipped hour and lands on top of the next one.
On ordinary days the moment is the same local time every day.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timedelta

from edge.policy.config import PolicyConfig, PushWindow
from edge.policy.periods import local_date, local_midnight, require_aware, wall_instant
from edge.policy.state import PolicyState

MIN_SPAN = timedelta(minutes=1)  # a window that closes before yesterday settles still gets one


def _digest(gateway_id: str) -> int:
    return int.from_bytes(hashlib.sha256(gateway_id.encode("utf-8")).digest()[:8], "big")


def push_offset(gateway_id: str, window: PushWindow) -> int:
    """Seconds after the window start at which `gateway_id` pushes on an ordinary day with no
    settle time; always inside the window."""
    return _digest(gateway_id) % window.seconds


def _wall(minute_of_day: int) -> time:
    return time(minute_of_day // 60, minute_of_day % 60)


def _nominal_end(config: PolicyConfig, day: date) -> datetime:
    end = config.push_window.end_minute
    if end == 24 * 60:
        return local_midnight(date.fromordinal(day.toordinal() + 1), config.zone)
    return wall_instant(day, _wall(end), config.zone)


def push_span(config: PolicyConfig, day: date) -> tuple[datetime, datetime]:
    """The UTC span [first, end) the push moments of local `day` are spread over: the window's
    real extent on that day, from no earlier than the previous day has settled."""
    start = wall_instant(day, _wall(config.push_window.start_minute), config.zone)
    first = max(start, local_midnight(day, config.zone) + config.settle)
    return first, max(_nominal_end(config, day), first + MIN_SPAN)


def push_moment(config: PolicyConfig, day: date) -> datetime:
    """The UTC instant of the push on local `day` (see the module text)."""
    first, end = push_span(config, day)
    span = int((end - first).total_seconds())
    return first + timedelta(seconds=_digest(config.gateway_id) % span)


def window_end(config: PolicyConfig, day: date) -> datetime:
    """The UTC instant at which the push window of local `day` closes."""
    return push_span(config, day)[1]


def push_instant(config: PolicyConfig, now: datetime, previous: datetime | None) -> datetime | None:
    """The instant to ask `push` about today's push, or None while it cannot be due.

    `previous` is when the caller last looked. If today's push moment fell between the two
    looks, the answer is that moment: the gateway was running then (in meter time, replays and
    demos jump minutes between looks). Otherwise `now`, if it lies in the window after the
    moment. A moment missed while the gateway was down stays missed (see `push_due`).
    """
    now = require_aware(now, "now")
    today = local_date(now, config.zone)
    moment = push_moment(config, today)
    if now < moment:
        return None
    if previous is not None and previous < moment:
        return moment
    return now if now < window_end(config, today) else None


def push_due(state: PolicyState, now: datetime, config: PolicyConfig) -> bool:
    """True if the gateway should push now: today's moment has come, the window is still open
    and no push happened today. A missed window is not made up late; the next day's push
    covers the missed days (backfill), which keeps the load spread over the window.
    """
    now = require_aware(now, "now")
    today = local_date(now, config.zone)
    if state.last_push_day is not None and state.last_push_day >= today:
        return False
    return push_moment(config, today) <= now < window_end(config, today)
