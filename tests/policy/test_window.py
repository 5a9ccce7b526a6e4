"""The push window: parsing, and a deterministic push moment inside it, DST days included."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.errors import ConfigError
from edge.policy import (
    PolicyConfigError,
    PolicyState,
    PushWindow,
    config_from_table,
    push_due,
    push_instant,
    push_moment,
    push_offset,
    window_end,
)
from edge.policy.periods import wall_instant
from tests.policy.support import AMS, config, local


def test_parse_default_window() -> None:
    window = PushWindow.parse("01:00-05:00")
    assert (window.start_minute, window.end_minute, window.seconds) == (60, 300, 4 * 3600)
    assert str(window) == "01:00-05:00"
    assert PushWindow.parse(" 22:30 - 24:00 ").end_minute == 24 * 60


@pytest.mark.parametrize(
    "text",
    ["", "1-5", "05:00-01:00", "01:00-01:00", "25:00-26:00", "01:60-02:00", "23:00-24:30", 5],
)
def test_bad_window_names_the_key(text: object) -> None:
    with pytest.raises(PolicyConfigError, match=r"^policy\.push_window: ") as info:
        PushWindow.parse(text)
    assert isinstance(info.value, ValueError) and isinstance(info.value, ConfigError)
    assert info.value.key == "policy.push_window"


def test_config_from_table_validates_each_key() -> None:
    cfg = config_from_table(
        {"regime": "monthly", "push_window": "02:00-03:00", "max_backfill_days": 7},
        gateway_id="gw",
        tz="Europe/Brussels",
        points=(),
    )
    assert (cfg.regime.value, str(cfg.push_window), cfg.max_backfill_days) == (
        "monthly",
        "02:00-03:00",
        7,
    )
    cases: list[tuple[dict[str, object], str]] = [
        ({"regime": "yearly"}, "policy.regime"),
        ({"max_backfill_days": "40"}, "policy.max_backfill_days"),
        ({"max_backfill_days": 0}, "policy.max_backfill_days"),
        ({"push_windw": "01:00-05:00"}, "policy.push_windw"),
    ]
    for table, key in cases:
        with pytest.raises(PolicyConfigError) as info:
            config_from_table(table, gateway_id="gw", tz="Europe/Brussels", points=())
        assert info.value.key == key


@settings(max_examples=300)
@given(
    gw=st.text(min_size=1, max_size=40),
    day=st.dates(min_value=date(2025, 1, 1), max_value=date(2030, 12, 31)),
)
def test_push_moment_is_deterministic_and_inside_the_window(gw: str, day: date) -> None:
    cfg = config(gateway_id=gw)
    moment = push_moment(cfg, day)
    assert moment == push_moment(config(gateway_id=gw), day)
    start = wall_instant(day, local(2000, 1, 1, 1).time(), AMS)
    assert start <= moment < window_end(cfg, day)
    assert moment.astimezone(AMS).date() == day


@pytest.mark.parametrize("day", [date(2026, 3, 29), date(2026, 10, 25)])
def test_push_due_exactly_once_on_dst_days(day: date) -> None:
    cfg = config()
    moment = push_moment(cfg, day)
    state = PolicyState()
    assert not push_due(state, moment - timedelta(seconds=1), cfg)
    assert push_due(state, moment, cfg)
    stamped = PolicyState(last_push_day=day)
    assert not push_due(stamped, moment + timedelta(minutes=1), cfg)


def test_offsets_spread_over_the_window() -> None:
    window = PushWindow.parse("01:00-05:00")
    offsets = [push_offset(f"gw-{i:06d}", window) for i in range(4000)]
    buckets = [0] * 8
    for offset in offsets:
        buckets[offset * 8 // window.seconds] += 1
    assert min(buckets) > 400 and max(buckets) < 600  # 500 expected per bucket
    # 4000 ids over 14 400 seconds: a uniform hash gives about 14400·(1−e^(−4000/14400)) ≈ 3490
    # distinct seconds (birthday collisions), a bad one far fewer.
    assert len(set(offsets)) > 3300


def test_missed_window_is_not_made_up_late() -> None:
    cfg = config()
    assert not push_due(PolicyState(), local(2026, 6, 5, 5), cfg)
    assert not push_due(PolicyState(), local(2026, 6, 5, 0, 59), cfg)


def test_window_until_midnight() -> None:
    cfg = config(push_window=PushWindow.parse("23:00-24:00"))
    day = date(2026, 6, 5)
    assert window_end(cfg, day) == local(2026, 6, 6)
    assert push_due(PolicyState(), push_moment(cfg, day), cfg)


def test_push_instant_takes_a_moment_crossed_between_two_looks() -> None:
    cfg = config()
    day = date(2026, 6, 5)
    moment = push_moment(cfg, day)
    before, after = moment - timedelta(minutes=7), local(2026, 6, 5, 6)  # after the window
    assert push_instant(cfg, before, None) is None  # not yet
    assert push_instant(cfg, after, before) == moment  # crossed while running: as of then
    assert push_due(PolicyState(), moment, cfg)
    assert push_instant(cfg, after, None) is None  # missed while down: not made up
    inside = moment + timedelta(seconds=30)
    assert push_instant(cfg, inside, moment) == inside
