"""Release planning: complete days only, backfill, first data, regimes, once per day."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from edge.policy import (
    Period,
    PointConfig,
    PolicyState,
    Regime,
    apply_release,
    plan_release,
    push,
)
from tests.policy.support import PAP, SAP, config, days, local

EARLY = {PAP: date(2020, 1, 1), SAP: date(2020, 1, 1)}


def planned_days(releases: tuple[object, ...], ap: str = PAP) -> list[date]:
    for release in releases:
        if release.ap == ap:  # type: ignore[attr-defined]
            return [p.first for p in release.periods]  # type: ignore[attr-defined]
    return []


def test_never_today_even_one_second_before_midnight() -> None:
    cfg = config()
    now = local(2026, 6, 10, 23, 59, 59)
    got = planned_days(plan_release(PolicyState(), now, cfg, {PAP: date(2026, 6, 9)}))
    assert got == [date(2026, 6, 9)]


def test_day_becomes_complete_exactly_at_local_midnight() -> None:
    cfg = config()
    first = {PAP: date(2026, 6, 10)}
    assert plan_release(PolicyState(), local(2026, 6, 10, 23, 59, 59), cfg, first) == ()
    assert planned_days(plan_release(PolicyState(), local(2026, 6, 11), cfg, first)) == [
        date(2026, 6, 10)
    ]


def test_settle_delays_completeness() -> None:
    cfg = config(settle=timedelta(hours=1))
    first = {PAP: date(2026, 6, 10)}
    assert plan_release(PolicyState(), local(2026, 6, 11, 0, 59), cfg, first) == ()
    assert planned_days(plan_release(PolicyState(), local(2026, 6, 11, 1), cfg, first))


def test_backfill_limit_default_40_days() -> None:
    cfg = config()
    got = planned_days(plan_release(PolicyState(), local(2026, 6, 10, 2), cfg, EARLY))
    assert got == days(date(2026, 5, 1), date(2026, 6, 9))
    assert len(got) == 40


def test_backfill_limit_configurable_and_first_data_respected() -> None:
    cfg = config(max_backfill_days=3)
    now = local(2026, 6, 10, 2)
    assert planned_days(plan_release(PolicyState(), now, cfg, EARLY)) == days(
        date(2026, 6, 7), date(2026, 6, 9)
    )
    first = {PAP: date(2026, 6, 9)}
    assert planned_days(plan_release(PolicyState(), now, cfg, first)) == [date(2026, 6, 9)]
    assert plan_release(PolicyState(), now, cfg, {}) == ()


def test_release_covers_unreleased_days_and_skips_released_ones() -> None:
    cfg = config()
    state = PolicyState()
    first = {PAP: date(2026, 6, 1)}
    out = apply_release(
        state, local(2026, 6, 5, 2), cfg, plan_release(state, local(2026, 6, 5, 2), cfg, first)
    )
    assert planned_days(out.releases) == days(date(2026, 6, 1), date(2026, 6, 4))
    # Three days offline: the next release covers exactly the days in between.
    later = local(2026, 6, 8, 3)
    assert planned_days(plan_release(out.state, later, cfg, first)) == days(
        date(2026, 6, 5), date(2026, 6, 7)
    )


def test_second_release_same_local_day_is_impossible() -> None:
    cfg = config()
    now = local(2026, 6, 5, 2)
    first = {PAP: date(2026, 6, 1)}
    plan = plan_release(PolicyState(), now, cfg, first)
    state = apply_release(PolicyState(), now, cfg, plan).state
    assert plan_release(state, local(2026, 6, 5, 23, 59), cfg, first) == ()
    with pytest.raises(ValueError, match="already released"):
        apply_release(state, local(2026, 6, 5, 23), cfg, plan)
    assert plan_release(state, local(2026, 6, 6), cfg, first)


def test_clock_stepping_back_does_not_allow_a_second_release() -> None:
    cfg = config()
    first = {PAP: date(2026, 6, 1)}
    state = apply_release(
        PolicyState(),
        local(2026, 6, 9, 2),
        cfg,
        plan_release(PolicyState(), local(2026, 6, 9, 2), cfg, first),
    ).state
    assert plan_release(state, local(2026, 6, 8, 2), cfg, first) == ()


@pytest.mark.parametrize("dst_day", [date(2026, 3, 29), date(2026, 10, 25)])
def test_dst_days_are_released_once_and_only_after_they_end(dst_day: date) -> None:
    cfg = config()
    first = {PAP: dst_day}
    end = Period.day(dst_day).span(cfg.zone)[1]
    just_before = end - timedelta(seconds=1)
    assert plan_release(PolicyState(), just_before, cfg, first) == ()
    out = apply_release(PolicyState(), end, cfg, plan_release(PolicyState(), end, cfg, first))
    assert planned_days(out.releases) == [dst_day]
    next_day = end + timedelta(days=1)
    assert planned_days(plan_release(out.state, next_day, cfg, first)) == [
        dst_day + timedelta(days=1)
    ]


def test_monthly_regime_releases_complete_months_only() -> None:
    cfg = config(regime=Regime.MONTHLY)
    first = {PAP: date(2026, 1, 15)}
    releases = plan_release(PolicyState(), local(2026, 3, 31, 23), cfg, first)
    assert releases[0].regime is Regime.MONTHLY
    # Backfill 40 days from 2026-03-31 reaches back to 2026-02-19: February only.
    assert releases[0].periods == (Period.month(date(2026, 2, 1)),)
    state = apply_release(
        PolicyState(),
        local(2026, 4, 1, 2),
        cfg,
        plan_release(PolicyState(), local(2026, 4, 1, 2), cfg, first),
    ).state
    assert state.point(PAP).released_months == {date(2026, 2, 1), date(2026, 3, 1)}
    assert plan_release(state, local(2026, 4, 20), cfg, first) == ()


def test_point_overrides_default_regime_and_none_releases_nothing() -> None:
    cfg = config(points=(PointConfig(PAP, Regime.NONE), PointConfig(SAP, Regime.MONTHLY)))
    releases = plan_release(PolicyState(), local(2026, 4, 2, 2), cfg, EARLY)
    assert [(r.ap, r.regime) for r in releases] == [(SAP, Regime.MONTHLY)]


def test_larger_backfill_later_does_not_re_release_pruned_days() -> None:
    cfg = config(max_backfill_days=5)
    first = {PAP: date(2026, 1, 1)}
    state = PolicyState()
    for day in days(date(2026, 6, 1), date(2026, 6, 20)):
        now = local(day.year, day.month, day.day, 2)
        state = apply_release(state, now, cfg, plan_release(state, now, cfg, first)).state
    point = state.point(PAP)
    assert len(point.released_days) <= 6
    bigger = replace(cfg, max_backfill_days=40)
    got = planned_days(plan_release(state, local(2026, 6, 21, 2), bigger, first))
    assert got == [date(2026, 6, 20)]


def test_push_only_in_window_and_once_per_day() -> None:
    cfg = config()
    first = {PAP: date(2026, 6, 1), SAP: date(2026, 6, 3)}
    state = PolicyState()
    assert push(state, local(2026, 6, 5, 0, 30), cfg, first).releases == ()
    after_window = push(state, local(2026, 6, 5, 5, 0), cfg, first)
    assert after_window.releases == () and after_window.state == state
    in_window = push(state, local(2026, 6, 5, 4, 59, 59), cfg, first)
    assert {r.ap for r in in_window.releases} == {PAP, SAP}
    assert in_window.state.last_push_day == date(2026, 6, 5)
    assert [e.kind for e in in_window.log] == ["release", "release"]
    assert push(in_window.state, local(2026, 6, 5, 4, 59, 59), cfg, first).releases == ()
