"""Consumer log entries: produced by decisions, rendered for `edge-agent log`, stored as JSON."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from edge.policy import LogEntry, Period, describe_periods, render, render_log
from tests.policy.support import PAP


def test_describe_periods_collapses_runs() -> None:
    periods = [Period.day(date(2026, 6, d)) for d in (1, 2, 3, 5)] + [
        Period.month(date(2026, 4, 1))
    ]
    assert describe_periods(periods) == "2026-04, 2026-06-01..2026-06-03 (3 days), 2026-06-05"
    assert describe_periods([]) == "nothing"


def test_render_in_local_time_with_zone_name() -> None:
    entry = LogEntry(
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC), "release", PAP, "push quarter-hour: 2026-03-28"
    )
    line = render(entry, "Europe/Amsterdam")
    expected = f"released  {PAP}  to grid-operator: push quarter-hour: 2026-03-28"
    assert line == f"2026-03-29 03:30:00 CEST  {expected}"
    winter = LogEntry(datetime(2026, 1, 5, 12, tzinfo=UTC), "refusal", PAP, "readout r1: expired")
    assert (
        "13:00:00 CET  refused " in render_log([entry, winter], "Europe/Amsterdam").splitlines()[1]
    )


def test_json_round_trip_and_validation() -> None:
    entry = LogEntry(datetime(2026, 6, 1, tzinfo=UTC), "consent", PAP, "opted out by customer")
    assert LogEntry.from_json(entry.to_json()) == entry
    with pytest.raises(ValueError, match="log kind"):
        LogEntry(entry.at, "delete", PAP, "")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="malformed log entry"):
        LogEntry.from_json({"at": "2026-06-01T00:00:00+00:00"})
    with pytest.raises(ValueError, match="timezone-aware"):
        LogEntry(datetime(2026, 6, 1), "consent", PAP, "")
