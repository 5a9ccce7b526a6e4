"""Opt-out: nothing leaves while opted out, and days it touched never leave afterwards."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from edge.policy import (
    PolicyState,
    UnknownAllocationPointError,
    apply_release,
    plan_release,
    point_status,
    set_consent,
)
from tests.policy.support import PAP, SAP, config, days, local

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
