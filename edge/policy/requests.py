"""Signed grid operator requests (readout, consent, resend) and the customer's consent command.

Strategy: a request is checked in a fixed order and the first failing check is the one refusal
reason reported, so every request gets exactly one answer:

1. `bad-signature`   — nothing in an unsigned request can be trusted, so nothing else is looked
   at and its id is *not* remembered (a forger must not be able to burn real request ids).
2. `unknown-allocation-point` for a request addressed to another gateway: the (gw, ap) address
   names no point served here; its signature is fine, so `bad-signature` would mislead.
3. `expired` — now after `expires_at`, `issued_at` in the future beyond the clock skew, or a
   validity longer than `max_request_lifetime` (which bounds the replay memory).
4. `replayed` — the request id was seen before. Every request that passes 1–4 has its id
   remembered (until it expires) whatever the final answer: a request id is single-use.
5. `unknown-allocation-point` — the ap is not one of this gateway's points.
6. readout only: `opted-out`, `already-released-today`, `nothing-complete` (also for regime
   none, and for a request naming a `day` that has not ended); resend only: `opted-out`;
   consent only: `customer-opted-out` for an operator opt-in against the customer's opt-out.

A message whose signature does not verify never becomes a `Request` at all (its times are not
even converted): `refuse_unverified` answers it with `bad-signature` from its claimed id only.

Who decides consent: every change records who made it. The customer's choice wins — an
operator's opt-in lifts only an operator's opt-out, a customer's opt-out is lifted only by the
customer; a customer saying "opt-out" while the operator's opt-out holds makes it the customer's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Literal

from edge.errors import PolicyError
from edge.policy.config import PolicyConfig
from edge.policy.consent import Actor, ConsentChange, append_change, set_by
from edge.policy.log import LogEntry
from edge.policy.outcome import Outcome, RefusalReason, Reply, Resend
from edge.policy.periods import Period, local_date, require_aware
from edge.policy.release import apply_release, plan_release, released_today
from edge.policy.state import PolicyState

RequestType = Literal["readout", "consent", "resend"]
ConsentWish = Literal["opt-in", "opt-out"]


class UnknownAllocationPointError(PolicyError, LookupError):
    """A local command named an allocation point this gateway does not serve."""


@dataclass(frozen=True, slots=True)
class Request:
    """A decoded grid operator request; the adapter has already checked the Ed25519 signature
    and reports the result in `signature_valid`. `consent` is required for consent requests.

    `day` (optional) names the local day the operator asks for: a day that is not complete yet
    is refused as `nothing-complete`; otherwise the release covers every due period as usual.
    """

    type: RequestType
    gw: str
    ap: str
    request_id: str
    issued_at: datetime
    expires_at: datetime
    signature_valid: bool
    consent: ConsentWish | None = None
    day: date | None = None
    seqs: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.type not in ("readout", "consent", "resend"):
            raise ValueError(f"request type must be readout, consent or resend: {self.type!r}")
        if (self.type == "resend") != (self.seqs is not None):
            raise ValueError("seqs (from, to) are required for a resend request and only there")
        if self.type == "consent" and self.consent not in ("opt-in", "opt-out"):
            raise ValueError(f"a consent request needs 'opt-in' or 'opt-out', got {self.consent!r}")
        object.__setattr__(self, "issued_at", require_aware(self.issued_at, "issued_at"))
        object.__setattr__(self, "expires_at", require_aware(self.expires_at, "expires_at"))


def _time_problem(request: Request, now: datetime, config: PolicyConfig) -> str | None:
    if now > request.expires_at:
        return f"expired at {request.expires_at.isoformat()}"
    if request.issued_at > now + config.clock_skew:
        return f"issued in the future ({request.issued_at.isoformat()})"
    if request.expires_at - request.issued_at > config.max_request_lifetime:
        return f"valid for longer than {config.max_request_lifetime}"
    return None


def _pre_check(
    state: PolicyState, now: datetime, config: PolicyConfig, request: Request
) -> tuple[RefusalReason, str] | None:
    """Checks 1–4 of the module docstring; None when the request id may be remembered."""
    if not request.signature_valid:
        return "bad-signature", "signature does not verify with the grid operator key"
    if request.gw != config.gateway_id:
        return "unknown-allocation-point", f"addressed to gateway {request.gw!r}"
    problem = _time_problem(request, now, config)
    if problem is not None:
        return "expired", problem
    if any(rid == request.request_id for rid, _ in state.seen_requests):
        return "replayed", f"request id {request.request_id!r} was used before"
    return None


def _remember(
    state: PolicyState, now: datetime, config: PolicyConfig, request: Request
) -> PolicyState:
    """Add the request id and forget ids that expired (plus skew): those fail `expired` anyway."""
    keep = [(rid, exp) for rid, exp in state.seen_requests if exp + config.clock_skew >= now]
    keep.append((request.request_id, request.expires_at))
    return replace(state, seen_requests=tuple(sorted(keep)))


def _refuse(
    state: PolicyState, now: datetime, request: Request, reason: RefusalReason, why: str
) -> Outcome:
    reply = Reply(request.request_id, request.type, request.ap, "refused", reason=reason)
    entry = LogEntry(
        now, "refusal", request.ap, f"{request.type} {request.request_id}: {reason} ({why})"
    )
    return Outcome(state=state, log=(entry,), reply=reply)


def _readout(
    state: PolicyState,
    now: datetime,
    config: PolicyConfig,
    request: Request,
    first_data: Mapping[str, date],
) -> Outcome:
    point = state.point(request.ap)
    if point.opted_out:
        return _refuse(state, now, request, "opted-out", "the point is opted out")
    if released_today(point, local_date(now, config.zone)):
        return _refuse(
            state, now, request, "already-released-today", f"released {point.last_release_day}"
        )
    if (
        request.day is not None
        and Period.day(request.day).span(config.zone)[1] + config.settle > now
    ):
        return _refuse(state, now, request, "nothing-complete", f"{request.day} is not complete")
    releases = plan_release(state, now, config, first_data, aps=[request.ap])
    if not releases:
        why = f"regime {config.regime_of(request.ap).value}: no complete unreleased period"
        return _refuse(state, now, request, "nothing-complete", why)
    outcome = apply_release(state, now, config, releases, via="pull")
    reply = Reply(
        request.request_id, "readout", request.ap, "released", periods=releases[0].periods
    )
    return replace(outcome, reply=reply)


def handle_request(
    state: PolicyState,
    now: datetime,
    config: PolicyConfig,
    request: Request,
    first_data: Mapping[str, date],
) -> Outcome:
    """Check a grid operator request and decide: a release, a consent change, or a refusal.

    The outcome always carries a `reply` for `…/reply` and exactly one log entry per decision
    (a consent change logs as `consent`). `first_data` is as for `plan_release`.
    """
    now = require_aware(now, "now")
    refusal = _pre_check(state, now, config, request)
    if refusal is not None:
        return _refuse(state, now, request, *refusal)
    # Remembered before the last checks: a request id is single-use whatever the answer.
    state = _remember(state, now, config, request)
    if not config.knows(request.ap):
        why = f"{request.ap!r} is not served by this gateway"
        return _refuse(state, now, request, "unknown-allocation-point", why)
    if request.type == "readout":
        return _readout(state, now, config, request, first_data)
    if request.type == "resend":
        return _resend(state, now, request)
    opted_out = request.consent == "opt-out"
    outcome = set_consent(
        state,
        now,
        config,
        request.ap,
        opted_out=opted_out,
        by="grid-operator",
        ref=request.request_id,
    )
    if outcome.reply is not None:  # refused: the customer's opt-out stands
        reply = replace(outcome.reply, request_id=request.request_id)
        return replace(outcome, reply=reply)
    reply = Reply(request.request_id, "consent", request.ap, "consent-set", opted_out=opted_out)
    return replace(outcome, reply=reply)


def _resend(state: PolicyState, now: datetime, request: Request) -> Outcome:
    """Re-queue signed blocks: not a release (no stamp), never for an opted-out point."""
    assert request.seqs is not None  # checked by Request
    if state.point(request.ap).opted_out:
        return _refuse(state, now, request, "opted-out", "the point is opted out")
    first, last = request.seqs
    entry = LogEntry(now, "resend", request.ap, f"resend {request.request_id}: seq {first}-{last}")
    reply = Reply(request.request_id, "resend", request.ap, "resent", seqs=(first, last))
    return Outcome(state=state, log=(entry,), reply=reply, resend=Resend(request.ap, first, last))


def refuse_unverified(
    now: datetime, kind: str, claimed_id: str | None, why: str, *, tag: str = "bad-signature"
) -> Outcome:
    """The answer to a message whose signature failed (or that could not be read): nothing of
    it is trusted — the reply names only its claimed id (if any); the log entry's detail begins
    with "{kind} {tag}" (the key `RefusalThrottle` counts it under) and says why."""
    now = require_aware(now, "now")
    reply = None
    if claimed_id is not None:
        reply = Reply(claimed_id, kind, "", "refused", reason="bad-signature")
    detail = f"{kind} {tag}: request {claimed_id or '(no id)'} refused ({why})"
    entry = LogEntry(now, "refusal", "", detail, to="(unverified sender)")
    return Outcome(state=PolicyState(), log=(entry,), reply=reply)


def set_consent(
    state: PolicyState,
    now: datetime,
    config: PolicyConfig,
    ap: str,
    *,
    opted_out: bool,
    by: Actor,
    ref: str = "",
) -> Outcome:
    """Opt `ap` out or in (the customer's CLI, or a checked grid operator command).

    An opt-out always asks the shell to delete that point's undelivered outbox entries at once.
    Setting the state it already has changes no history but is still logged (except that a
    customer's opt-out over an operator's one takes it over). An operator's opt-in against the
    customer's opt-out is refused: the outcome then carries a `customer-opted-out` reply (with
    `ref` as its request id) and a refusal log entry. An unknown point raises
    `UnknownAllocationPointError` (requests are checked before they get here).
    """
    now = require_aware(now, "now")
    if not config.knows(ap):
        raise UnknownAllocationPointError(f"{ap!r} is not an allocation point of this gateway")
    point = state.point(ap)
    word = "opted out" if opted_out else "opted in"
    owner = set_by(point.consent)
    if point.opted_out and not opted_out and by == "grid-operator" and owner == "customer":
        asked = f"opt-in by {by}{f' ({ref})' if ref else ''}"
        why = f"{asked}: customer-opted-out (the customer's choice wins)"
        reply = Reply(ref, "consent", ap, "refused", reason="customer-opted-out")
        return Outcome(state=state, log=(LogEntry(now, "refusal", ap, why),), reply=reply)
    takeover = point.opted_out and opted_out and by == "customer" and owner != "customer"
    if point.opted_out == opted_out and not takeover:
        detail = f"already {word}; {by} asked again{f' ({ref})' if ref else ''}"
    else:
        history = append_change(point.consent, ConsentChange(now, opted_out, by, ref))
        state = state.with_point(ap, replace(point, consent=history))
        detail = f"{word} by {by}{f' ({ref})' if ref else ''}"
    delete = (ap,) if opted_out else ()
    return Outcome(state=state, delete_outbox=delete, log=(LogEntry(now, "consent", ap, detail),))
