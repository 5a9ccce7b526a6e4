"""Opt-out: nothing leaves while opted out, and days it touched never leave afterwards."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from edge.policy import (
    PolicyState,
    UnknownAllocationPointError,
    apply_release,
    handle_request,
    opt_out_spans,
    plan_release,
    point_status,
    set_by,
    set_consent,
)
from tests.policy.support import PAP, SAP, config, days, local, request

FIRST = {PAP: date(2026, 5, 1), SAP: date(2026, 5, 1)}


def released(state: PolicyState, ap: str = PAP) -> set[date]:
    return set(state.point(ap).released_days)


def release_on(state: PolicyState, day: date) -> PolicyState:
    cfg = config()
    now = local(day.year, day.month, day.day, 2)
    return apply_release(state, now, cfg, plan_release(state, now, cfg, FIRST)).state


def test_opt_out_deletes_outbox_logs_and_stops_releases() -> None:
    cfg = config()
    out = set_consent(PolicyState(), local(2026, 6, 3, 12), cfg, PAP, opted_out=True, by="customer")
    assert out.delete_outbox == (PAP,)
    assert out.log[0].kind == "consent" and "opted out by customer" in out.log[0].detail
    assert out.state.point(PAP).opted_out
    plan = plan_release(out.state, local(2026, 6, 10, 2), cfg, FIRST)
    assert [r.ap for r in plan] == [SAP]


def test_days_touched_by_opt_out_never_released_after_opt_in() -> None:
    cfg = config()
    state = release_on(PolicyState(), date(2026, 6, 1))  # releases May 1 .. May 31
    state = set_consent(state, local(2026, 6, 3, 12), cfg, PAP, opted_out=True, by="customer").state
    state = set_consent(state, local(2026, 6, 6, 9), cfg, PAP, opted_out=False, by="customer").state
    state = release_on(state, date(2026, 6, 10))
    got = released(state)
    # June 1 and 2 were recorded before the opt-out and are released late; 3..6 never.
    assert {date(2026, 6, 1), date(2026, 6, 2)} <= got
    assert not got & set(days(date(2026, 6, 3), date(2026, 6, 6)))
    assert set(days(date(2026, 6, 7), date(2026, 6, 9))) <= got
    for later in days(date(2026, 6, 11), date(2026, 7, 20)):
        state = release_on(state, later)
        assert not released(state) & set(days(date(2026, 6, 3), date(2026, 6, 6)))


def test_opt_out_at_midnight_blocks_both_adjacent_days() -> None:
    cfg = config()
    state = set_consent(
        PolicyState(), local(2026, 6, 3), cfg, PAP, opted_out=True, by="customer"
    ).state
    state = set_consent(
        state, local(2026, 6, 3, 0, 0, 1), cfg, PAP, opted_out=False, by="customer"
    ).state
    state = release_on(state, date(2026, 6, 10))
    got = released(state)
    assert date(2026, 6, 2) not in got and date(2026, 6, 3) not in got
    assert date(2026, 6, 1) in got and date(2026, 6, 4) in got


def test_opt_out_blocks_whole_month_in_monthly_regime() -> None:
    from edge.policy import Regime

    cfg = config(regime=Regime.MONTHLY)
    state = set_consent(
        PolicyState(), local(2026, 5, 20), cfg, PAP, opted_out=True, by="customer"
    ).state
    state = set_consent(state, local(2026, 5, 21), cfg, PAP, opted_out=False, by="customer").state
    plan = plan_release(state, local(2026, 7, 1, 2), cfg, FIRST)
    got = {r.ap: [str(p) for p in r.periods] for r in plan}
    assert got == {PAP: ["2026-06"], SAP: ["2026-05", "2026-06"]}


def test_opt_out_while_today_is_open_blocks_today_forever() -> None:
    cfg = config()
    state = set_consent(
        PolicyState(), local(2026, 6, 3, 23, 59), cfg, PAP, opted_out=True, by="grid-operator"
    ).state
    state = set_consent(
        state, local(2026, 6, 4, 0, 1), cfg, PAP, opted_out=False, by="customer"
    ).state
    state = release_on(state, date(2026, 6, 5))
    assert date(2026, 6, 3) not in released(state) and date(2026, 6, 4) not in released(state)


def test_repeated_consent_is_logged_without_history_change() -> None:
    cfg = config()
    first = set_consent(PolicyState(), local(2026, 6, 3), cfg, PAP, opted_out=True, by="customer")
    again = set_consent(first.state, local(2026, 6, 4), cfg, PAP, opted_out=True, by="customer")
    assert again.state == first.state
    assert "already opted out" in again.log[0].detail
    assert again.delete_outbox == (PAP,)
    opt_in_noop = set_consent(
        PolicyState(), local(2026, 6, 3), cfg, PAP, opted_out=False, by="customer"
    )
    assert opt_in_noop.delete_outbox == () and opt_in_noop.state == PolicyState()


def test_clock_step_back_cannot_shorten_an_opt_out() -> None:
    cfg = config()
    state = set_consent(
        PolicyState(), local(2026, 6, 3, 12), cfg, PAP, opted_out=True, by="customer"
    ).state
    state = set_consent(
        state, local(2026, 6, 3, 11), cfg, PAP, opted_out=False, by="customer"
    ).state
    history = state.point(PAP).consent
    assert history[1].at == history[0].at == local(2026, 6, 3, 12) - timedelta(0)
    state = release_on(state, date(2026, 6, 10))
    assert date(2026, 6, 3) not in released(state)


def test_unknown_point_is_a_policy_error() -> None:
    with pytest.raises(UnknownAllocationPointError, match="not an allocation point"):
        set_consent(
            PolicyState(), local(2026, 6, 3), config(), "999", opted_out=True, by="customer"
        )


def test_point_status_for_the_retained_status_topic() -> None:
    cfg = config()
    state = set_consent(
        PolicyState(), local(2026, 6, 3), cfg, PAP, opted_out=True, by="customer"
    ).state
    state = release_on(state, date(2026, 6, 5))
    assert point_status(state, cfg) == {
        PAP: {"regime": "quarter-hour", "consent": "opted-out", "last_release_day": None},
        SAP: {"regime": "quarter-hour", "consent": "opted-in", "last_release_day": "2026-06-05"},
    }


def test_operator_cannot_lift_the_customers_opt_out() -> None:
    """Issue 11 item 9: the customer's choice wins."""
    cfg = config()
    out = set_consent(PolicyState(), local(2026, 6, 3), cfg, PAP, opted_out=True, by="customer")
    refused = set_consent(
        out.state, local(2026, 6, 4), cfg, PAP, opted_out=False, by="grid-operator", ref="r7"
    )
    assert refused.state == out.state and refused.state.point(PAP).opted_out
    assert refused.reply is not None and refused.reply.reason == "customer-opted-out"
    assert refused.reply.request_id == "r7"
    assert refused.log[0].kind == "refusal" and "customer-opted-out" in refused.log[0].detail
    # the customer lifts it himself
    lifted = set_consent(out.state, local(2026, 6, 5), cfg, PAP, opted_out=False, by="customer")
    assert not lifted.state.point(PAP).opted_out and lifted.reply is None


def test_operator_opt_in_lifts_the_operators_opt_out_and_records_who_and_when() -> None:
    cfg = config()
    when = local(2026, 6, 3, 9)
    out = set_consent(PolicyState(), when, cfg, PAP, opted_out=True, by="grid-operator", ref="a")
    assert set_by(out.state.point(PAP).consent) == "grid-operator"
    assert out.state.point(PAP).consent[-1].at == when
    back = set_consent(
        out.state, local(2026, 6, 4), cfg, PAP, opted_out=False, by="grid-operator", ref="b"
    )
    assert back.reply is None and not back.state.point(PAP).opted_out


def test_customer_opt_out_over_the_operators_makes_it_the_customers() -> None:
    cfg = config()
    out = set_consent(
        PolicyState(), local(2026, 6, 3), cfg, PAP, opted_out=True, by="grid-operator"
    )
    mine = set_consent(out.state, local(2026, 6, 4), cfg, PAP, opted_out=True, by="customer")
    assert set_by(mine.state.point(PAP).consent) == "customer"
    # the opt-out span did not restart: days touched since the 3rd stay blocked
    assert next(opt_out_spans(mine.state.point(PAP).consent))[0] == local(2026, 6, 3)
    refused = set_consent(
        mine.state, local(2026, 6, 5), cfg, PAP, opted_out=False, by="grid-operator"
    )
    assert refused.reply is not None and refused.reply.reason == "customer-opted-out"


def test_signed_operator_opt_in_against_customer_is_refused_with_reason() -> None:
    cfg = config()
    now = local(2026, 6, 5, 12)
    state = set_consent(PolicyState(), now, cfg, PAP, opted_out=True, by="customer").state
    req = request(now, rid="op-1", kind="consent", consent="opt-in")
    out = handle_request(state, now, cfg, req, {PAP: date(2026, 6, 1)})
    assert out.reply is not None and out.reply.to_json()["reason"] == "customer-opted-out"
    assert out.reply.request_id == "op-1" and out.state.point(PAP).opted_out
    assert [e.kind for e in out.log] == ["refusal"]
