"""Local days as UTC spans, including the two DST days of 2026 in Europe/Amsterdam."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from edge.policy import Period, local_date, local_midnight
from edge.policy.periods import month_periods, wall_instant
from tests.policy.support import AMS


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25), (date(2026, 6, 1), 24)],
)
def test_day_span_length_follows_dst(day: date, hours: int) -> None:
    start, end = Period.day(day).span(AMS)
    assert end - start == timedelta(hours=hours)
    assert start.astimezone(AMS).time() == time(0) == end.astimezone(AMS).time()


def test_spring_forward_gap_maps_past_the_gap() -> None:
    instant = wall_instant(date(2026, 3, 29), time(2, 30), AMS)
    assert instant == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert instant.astimezone(AMS).time() == time(3, 30)


def test_fall_back_ambiguity_takes_first_occurrence() -> None:
    instant = wall_instant(date(2026, 10, 25), time(2, 30), AMS)
    assert instant == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_local_date_uses_local_midnight_not_utc() -> None:
    assert local_date(datetime(2026, 6, 1, 22, 30, tzinfo=UTC), AMS) == date(2026, 6, 2)
    assert local_midnight(date(2026, 6, 2), AMS) == datetime(2026, 6, 1, 22, tzinfo=UTC)


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        local_date(datetime(2026, 6, 1), AMS)


def test_month_periods_and_text() -> None:
    months = month_periods(date(2026, 1, 20), date(2026, 4, 1))
    assert [str(m) for m in months] == ["2026-01", "2026-02", "2026-03"]
    assert months[1] == Period(date(2026, 2, 1), date(2026, 2, 28))
    assert str(Period.day(date(2026, 2, 3))) == "2026-02-03"
    with pytest.raises(ValueError, match="before it starts"):
        Period(date(2026, 2, 3), date(2026, 2, 2))
