"""Property tests over many simulated days of pushes, pulls and consent changes.

Whatever the sequence: at most one release per point per local day, never today, never a period
twice, never a period touched by an opt-out, never outside the backfill horizon.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.policy import (
    Outcome,
    Period,
    PolicyState,
    handle_request,
    local_date,
    push,
    set_consent,
    touched_by_opt_out,
)
from tests.policy.support import AMS, PAP, SAP, config, local, request

APS = (PAP, SAP)
CFG = config(max_backfill_days=10)
FIRST = {PAP: date(2026, 3, 1), SAP: date(2026, 3, 20)}


@dataclass(frozen=True)
class Event:
    kind: str  # "tick" | "pull" | "opt-out" | "opt-in" | "consent-cmd"
    second: int  # seconds into the local day (clipped to the day's real length)
    ap: int
    fault: int  # 0 = good request, otherwise a kind of bad request


events = st.builds(
    Event,
    kind=st.sampled_from(["tick", "tick", "pull", "pull", "opt-out", "opt-in", "consent-cmd"]),
    second=st.integers(0, 25 * 3600 - 1),
    ap=st.integers(0, 1),
    fault=st.integers(0, 6),
)
schedules = st.lists(st.lists(events, max_size=6), min_size=1, max_size=25)


def instants(day: date, todays: list[Event]) -> list[tuple[datetime, Event]]:
    start, end = Period.day(day).span(AMS)
    length = int((end - start).total_seconds())
    return sorted(
        ((start + timedelta(seconds=e.second % length), e) for e in todays), key=lambda p: p[0]
    )


def act(state: PolicyState, now: datetime, event: Event, n: int) -> Outcome:
    ap = APS[event.ap]
    if event.kind == "tick":
        return push(state, now, CFG, FIRST)
    if event.kind in ("opt-out", "opt-in"):
        return set_consent(state, now, CFG, ap, opted_out=event.kind == "opt-out", by="customer")
    rid = "dup" if event.fault == 1 else f"r{n}"
    kind, wish = (
        ("consent", "opt-out" if event.fault % 2 else "opt-in")
        if event.kind == "consent-cmd"
        else ("readout", None)
    )
    req = request(now, rid=rid, ap=ap, kind=kind, consent=wish, valid=event.fault != 2)
    return handle_request(state, now, CFG, req, FIRST)


def check_releases(
    before: PolicyState, now: datetime, out: Outcome, seen: dict[str, set[date]]
) -> None:
    today = local_date(now, AMS)
    for release in out.releases:
        point = before.point(release.ap)
        assert not point.opted_out
        assert point.last_release_day is None or point.last_release_day < today
        for period in release.periods:
            assert period.last < today
            assert period.last >= today - timedelta(days=CFG.max_backfill_days)
            assert not touched_by_opt_out(point.consent, *period.span(AMS))
            assert period.first not in seen.setdefault(release.ap, set())
            seen[release.ap].add(period.first)


@settings(max_examples=150, deadline=None)
@given(
    schedule=schedules,
    start=st.sampled_from([date(2026, 3, 24), date(2026, 10, 20), date(2026, 12, 28)]),
)
def test_policy_invariants_over_simulated_days(schedule: list[list[Event]], start: date) -> None:
    state = PolicyState()
    seen: dict[str, set[date]] = {}
    release_days: set[tuple[str, date]] = set()
    n = 0
    for offset, todays in enumerate(schedule):
        for now, event in instants(start + timedelta(days=offset), todays):
            n += 1
            out = act(state, now, event, n)
            check_releases(state, now, out, seen)
            for release in out.releases:
                key = (release.ap, local_date(now, AMS))
                assert key not in release_days, f"two releases of {key}"
                release_days.add(key)
            state = out.state


def test_daily_pushes_release_every_day_exactly_once() -> None:
    cfg = config()
    state, released = PolicyState(), list[tuple[str, date]]()
    first = {PAP: date(2026, 3, 1), SAP: date(2026, 3, 1)}
    for i in range(300):
        day = date(2026, 3, 1) + timedelta(days=i)
        for hour in (0, 1, 2, 3, 4, 5, 12):
            out = push(state, local(day.year, day.month, day.day, hour, 59), cfg, first)
            released += [(r.ap, p.first) for r in out.releases for p in r.periods]
            state = out.state
    expected = {(ap, date(2026, 3, 1) + timedelta(days=i)) for ap in APS for i in range(299)}
    assert len(released) == len(set(released)) and set(released) == expected
