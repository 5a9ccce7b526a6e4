"""The state survives a JSON round trip exactly, and malformed JSON is a clear ValueError."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.policy import ConsentChange, PointState, PolicyState, state_from_json, state_to_json

instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
)
dates = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 1, 1))
changes = st.builds(
    ConsentChange,
    at=instants,
    opted_out=st.booleans(),
    by=st.sampled_from(["customer", "grid-operator"]),
    ref=st.text(max_size=8),
)
points = st.builds(
    PointState,
    released_days=st.frozensets(dates, max_size=10),
    released_months=st.frozensets(dates.map(lambda d: d.replace(day=1)), max_size=3),
    last_release_day=st.none() | dates,
    floor=st.none() | dates,
    consent=st.lists(changes, max_size=4).map(lambda cs: tuple(sorted(cs, key=lambda c: c.at))),
)
states = st.builds(
    PolicyState,
    points=st.dictionaries(st.text(min_size=1, max_size=18), points, max_size=4).map(
        lambda d: tuple(sorted(d.items()))
    ),
    last_push_day=st.none() | dates,
    seen_requests=st.dictionaries(st.text(max_size=12), instants, max_size=5).map(
        lambda d: tuple(sorted(d.items()))
    ),
)


@given(states)
def test_json_round_trip(state: PolicyState) -> None:
    text = json.dumps(state_to_json(state), sort_keys=True)
    assert state_from_json(json.loads(text)) == state


def test_non_utc_instants_come_back_as_utc() -> None:
    change = ConsentChange(datetime(2026, 6, 1, 12, tzinfo=UTC) + timedelta(0), True, "customer")
    state = PolicyState(points=(("ap", PointState(consent=(change,))),))
    assert state_from_json(state_to_json(state)).point("ap").consent[0].at.tzinfo is UTC


@pytest.mark.parametrize(
    "raw",
    [
        None,
        {},
        {"v": 2},
        {"v": 1, "points": {}, "last_push_day": 5, "seen_requests": {}},
        {"v": 1, "points": {}, "last_push_day": None, "seen_requests": {"r": "2026-01-01T00:00"}},
        {"v": 1, "points": {"a": {}}, "last_push_day": None, "seen_requests": {}},
    ],
)
def test_malformed_state_is_a_value_error(raw: object) -> None:
    with pytest.raises(ValueError, match="policy state"):
        state_from_json(raw)
