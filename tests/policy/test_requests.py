"""Grid operator requests: every refusal reason is reachable, checked in the documented order."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from edge.policy import PolicyState, Request, handle_request, push, set_consent
from tests.policy.support import GW, PAP, SAP, config, local, request

FIRST = {PAP: date(2026, 6, 1), SAP: date(2026, 6, 1)}
NOW = local(2026, 6, 5, 12)


def reason_of(state: PolicyState, req: Request, now: object = NOW) -> str | None:
    out = handle_request(state, now, config(), req, FIRST)  # type: ignore[arg-type]
    assert out.reply is not None and out.reply.request_id == req.request_id
    assert len(out.log) == 1
    return out.reply.reason


def test_readout_releases_and_replies_with_periods() -> None:
    out = handle_request(PolicyState(), NOW, config(), request(NOW), FIRST)
    assert out.reply is not None and out.reply.status == "released"
    assert [str(p) for p in out.reply.periods] == [
        "2026-06-01",
        "2026-06-02",
        "2026-06-03",
        "2026-06-04",
    ]
    assert out.reply.to_json()["periods"][0] == ["2026-06-01", "2026-06-01"]
    assert out.releases[0].ap == PAP and out.log[0].kind == "release"
    assert "pull" in out.log[0].detail


def test_bad_signature_wins_over_everything_and_is_not_remembered() -> None:
    forged = request(NOW, gw="other", ap="999", ttl=timedelta(days=-1), valid=False)
    assert reason_of(PolicyState(), forged) == "bad-signature"
    out = handle_request(
        PolicyState(), NOW, config(), request(NOW, rid=forged.request_id, valid=False), FIRST
    )
    assert out.state.seen_requests == ()
    # The genuine request with the same id still works after a forgery.
    assert reason_of(out.state, request(NOW, rid=forged.request_id)) is None


def test_wrong_gateway_is_unknown_allocation_point() -> None:
    assert reason_of(PolicyState(), request(NOW, gw="gw-9999")) == "unknown-allocation-point"
    assert (
        reason_of(PolicyState(), request(NOW, ap="871687129999999999"))
        == "unknown-allocation-point"
    )


@pytest.mark.parametrize(
    ("issued", "ttl"),
    [
        (NOW - timedelta(minutes=20), timedelta(minutes=10)),  # expired ten minutes ago
        (NOW + timedelta(minutes=5), timedelta(minutes=10)),  # issued in the future beyond skew
        (NOW, timedelta(days=2)),  # validity longer than the replay memory
    ],
)
def test_expired(issued: object, ttl: timedelta) -> None:
    assert reason_of(PolicyState(), request(issued, ttl=ttl)) == "expired"  # type: ignore[arg-type]


def test_small_clock_skew_is_tolerated() -> None:
    assert reason_of(PolicyState(), request(NOW + timedelta(seconds=60))) is None


def test_replayed_even_after_a_refusal_and_forgotten_only_after_expiry() -> None:
    first = handle_request(PolicyState(), NOW, config(), request(NOW, ap="nope"), FIRST)
    assert first.reply is not None and first.reply.reason == "unknown-allocation-point"
    assert reason_of(first.state, request(NOW, ap=PAP)) == "replayed"
    later = NOW + timedelta(hours=1)
    out = handle_request(first.state, later, config(), request(later, rid="r2"), FIRST)
    assert [rid for rid, _ in out.state.seen_requests] == ["r2"]
    # Replaying r1 now: its expiry check comes first, so it can never be accepted again.
    assert reason_of(out.state, request(NOW, ap=PAP), later) == "expired"


def test_opted_out() -> None:
    state = set_consent(PolicyState(), NOW, config(), PAP, opted_out=True, by="customer").state
    assert reason_of(state, request(NOW)) == "opted-out"


def test_already_released_today_by_push_or_pull() -> None:
    pushed = push(PolicyState(), local(2026, 6, 5, 4, 59), config(), FIRST).state
    assert pushed.point(PAP).last_release_day == date(2026, 6, 5)
    assert reason_of(pushed, request(NOW)) == "already-released-today"
    pulled = handle_request(PolicyState(), NOW, config(), request(NOW), FIRST).state
    assert reason_of(pulled, request(NOW, rid="r2")) == "already-released-today"
    assert push(pulled, local(2026, 6, 5, 4, 59), config(), FIRST).releases[0].ap == SAP


def test_nothing_complete() -> None:
    assert (
        reason_of(
            PolicyState(),
            request(NOW),
        )
        is None
    )
    only_today = {PAP: date(2026, 6, 5)}
    out = handle_request(PolicyState(), NOW, config(), request(NOW), only_today)
    assert out.reply is not None and out.reply.reason == "nothing-complete"
    assert out.releases == () and out.state.point(PAP).last_release_day is None


def test_refusals_are_logged_with_reason() -> None:
    out = handle_request(PolicyState(), NOW, config(), request(NOW, valid=False), FIRST)
    entry = out.log[0]
    assert (entry.kind, entry.ap, entry.to) == ("refusal", PAP, "grid-operator")
    assert "bad-signature" in entry.detail
    assert out.reply is not None and out.reply.to_json()["status"] == "refused"


def test_signed_consent_command_changes_consent_and_is_logged() -> None:
    cmd = request(NOW, kind="consent", consent="opt-out", rid="c1")
    out = handle_request(PolicyState(), NOW, config(), cmd, FIRST)
    assert out.state.point(PAP).opted_out
    assert out.delete_outbox == (PAP,)
    assert out.log[0].kind == "consent" and "grid-operator (c1)" in out.log[0].detail
    assert out.reply is not None and out.reply.to_json()["consent"] == "opted-out"
    assert out.state.point(PAP).consent[0].ref == "c1"
    assert reason_of(out.state, cmd) == "replayed"
    forged = request(NOW, kind="consent", consent="opt-in", rid="c2", valid=False)
    assert reason_of(out.state, forged) == "bad-signature"


def test_request_validation() -> None:
    with pytest.raises(ValueError, match="consent request needs"):
        request(NOW, kind="consent")
    with pytest.raises(ValueError, match="request type"):
        request(NOW, kind="erase")
    with pytest.raises(ValueError, match="timezone-aware"):
        Request("readout", GW, PAP, "r", NOW.replace(tzinfo=None), NOW, True)


def test_request_for_today_is_nothing_complete() -> None:
    for_today = replace(request(NOW), day=date(2026, 6, 5))
    out = handle_request(PolicyState(), NOW, config(), for_today, FIRST)
    assert out.reply is not None and out.reply.reason == "nothing-complete"
    assert "2026-06-05 is not complete" in out.log[0].detail
    for_yesterday = replace(request(NOW, rid="r2"), day=date(2026, 6, 4))
    assert reason_of(out.state, for_yesterday) is None
