"""The gateway clock is distrusted before the build date or well before the stored data."""

from __future__ import annotations

from edge.clock import BUILD_EPOCH, SLACK_S, clock_trusted


def test_a_clock_before_the_build_date_is_not_synchronised() -> None:
    assert not clock_trusted(0, None)  # a Pi without RTC boots in 1970
    assert not clock_trusted(BUILD_EPOCH - 1, None)
    assert clock_trusted(BUILD_EPOCH, None)


def test_a_clock_well_before_the_newest_stored_time_is_not_synchronised() -> None:
    stored = BUILD_EPOCH + 30 * 86400
    assert not clock_trusted(stored - SLACK_S - 1, stored)  # fake-hwclock from an old shutdown
    assert clock_trusted(stored - SLACK_S, stored)  # meter time a little ahead: fine
    assert clock_trusted(stored + 3600, stored)
