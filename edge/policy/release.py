"""Release planning: which complete periods leave the gateway, and recording that they did.

Strategy: `plan_release` is a query — for each point it lists every complete, unreleased,
unblocked period inside the backfill horizon. `apply_release` is the only transition that marks
periods released and stamps the local day, which is what enforces "at most one release per
allocation point per local calendar day" for push and pull alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Literal

from edge.policy.config import PolicyConfig, Regime
from edge.policy.consent import touched_by_opt_out
from edge.policy.log import LogEntry, describe_periods
from edge.policy.outcome import Outcome, Release
from edge.policy.periods import Period, day_periods, local_date, month_periods, require_aware
from edge.policy.state import PointState, PolicyState
from edge.policy.window import push_due

Via = Literal["push", "pull"]


def released_today(point: PointState, today: date) -> bool:
    """True if the point already had its release on local `today` (or, after the clock stepped
    back, on a later day: that release must not be followed by a second one)."""
    return point.last_release_day is not None and point.last_release_day >= today


def _horizon(config: PolicyConfig, today: date, point: PointState, first_data: date) -> date:
    lowest = max(today - timedelta(days=config.max_backfill_days), first_data)
    return lowest if point.floor is None else max(lowest, point.floor)


def _is_released(point: PointState, period: Period) -> bool:
    if period.is_day:
        return period.first in point.released_days
    return period.first in point.released_months


def due_periods(
    state: PolicyState, now: datetime, config: PolicyConfig, ap: str, first_data: date | None
) -> tuple[Period, ...]:
    """Periods of `ap` that are due now, oldest first, ignoring the once-per-day stamp.

    A period is due if its regime asks for it, it has ended (plus `settle`) at `now`, its last
    day is within `max_backfill_days` and not before `first_data`, it was not released before,
    and no instant of it was touched by an opt-out. While opted out nothing is due at all.
    """
    now = require_aware(now, "now")
    regime, point, zone = config.regime_of(ap), state.point(ap), config.zone
    if first_data is None or regime is Regime.NONE or point.opted_out:
        return ()
    today = local_date(now, zone)
    lowest = _horizon(config, today, point, first_data)
    candidates = (month_periods if regime is Regime.MONTHLY else day_periods)(lowest, today)
    due = []
    for period in candidates:
        start, end = period.span(zone)
        if end + config.settle > now or _is_released(point, period):
            continue
        if not touched_by_opt_out(point.consent, start, end):
            due.append(period)
    return tuple(due)


def plan_release(
    state: PolicyState,
    now: datetime,
    config: PolicyConfig,
    first_data: Mapping[str, date],
    aps: Iterable[str] | None = None,
) -> tuple[Release, ...]:
    """What to release now: one `Release` per configured point (or per point in `aps`) that was
    not released today and has due periods. `first_data` maps each point to the first local day
    with recorded data; a point missing from it has nothing to release.
    """
    today = local_date(now, config.zone)
    wanted = [p.ap for p in config.points] if aps is None else list(aps)
    releases = []
    for ap in wanted:
        if not config.knows(ap) or released_today(state.point(ap), today):
            continue
        periods = due_periods(state, now, config, ap, first_data.get(ap))
        if periods:
            releases.append(Release(ap, config.regime_of(ap), periods))
    return tuple(releases)


def _record(point: PointState, release: Release, today: date, floor: date) -> PointState:
    days = point.released_days | {p.first for p in release.periods if p.is_day}
    months = point.released_months | {p.first for p in release.periods if not p.is_day}
    floor = floor if point.floor is None else max(point.floor, floor)
    return replace(
        point,
        released_days=frozenset(d for d in days if d >= floor),
        released_months=frozenset(m for m in months if Period.month(m).last >= floor),
        last_release_day=today,
        floor=floor,
    )


def apply_release(
    state: PolicyState,
    now: datetime,
    config: PolicyConfig,
    releases: Iterable[Release],
    via: Via = "push",
) -> Outcome:
    """Record `releases` (from `plan_release`) as done today and log them.

    Refuses (ValueError) to record a second release of a point on the same local day, so a
    caller bug cannot break the once-per-day rule silently.
    """
    now = require_aware(now, "now")
    today = local_date(now, config.zone)
    floor = today - timedelta(days=config.max_backfill_days)
    done, log = [], []
    for release in releases:
        point = state.point(release.ap)
        if released_today(point, today):
            raise ValueError(f"{release.ap} was already released on {point.last_release_day}")
        state = state.with_point(release.ap, _record(point, release, today, floor))
        done.append(release)
        detail = f"{via} {release.regime.value}: {describe_periods(release.periods)}"
        log.append(LogEntry(now, "release", release.ap, detail))
    return Outcome(state=state, releases=tuple(done), log=tuple(log))


def push(
    state: PolicyState, now: datetime, config: PolicyConfig, first_data: Mapping[str, date]
) -> Outcome:
    """The periodic tick: if the push is due, release every due point and stamp today's push.

    Call it as often as convenient (e.g. every minute); outside the push moment it returns the
    state unchanged and no effects.
    """
    if not push_due(state, now, config):
        return Outcome(state=state)
    outcome = apply_release(state, now, config, plan_release(state, now, config, first_data))
    stamped = replace(outcome.state, last_push_day=local_date(now, config.zone))
    return replace(outcome, state=stamped)


def point_status(state: PolicyState, config: PolicyConfig) -> dict[str, dict[str, str | None]]:
    """Per configured point the regime, consent and last release day, as JSON types — the
    policy's part of the retained `{prefix}/{gw}/status` message (SPEC §7)."""
    status: dict[str, dict[str, str | None]] = {}
    for point_config in config.points:
        point = state.point(point_config.ap)
        last = point.last_release_day
        status[point_config.ap] = {
            "regime": config.regime_of(point_config.ap).value,
            "consent": "opted-out" if point.opted_out else "opted-in",
            "last_release_day": None if last is None else last.isoformat(),
        }
    return status
