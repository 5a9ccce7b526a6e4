"""Rate limit for consumer-log rows about unsigned or forged requests (SPEC §5).

Strategy: anyone who can publish on the command topics can send forgeries, so each one must not
cost a fsync'd log row (a flood would fill the SD card). Per kind of refusal and per UTC hour,
the first one is logged at once; the others are only counted, and the count is logged as one
summary row once the hour is over. That is at most two rows per kind per hour, whatever the
flood. Signed requests never pass through here: they are always logged. A pure value, kept in
memory by the shell (a crash forgets at most one hour's count, never a signed request's row).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from edge.policy.log import LogEntry
from edge.policy.periods import require_aware

HOUR = timedelta(hours=1)


def refusal_hour(now: datetime) -> datetime:
    """The start of the UTC hour that `now` is counted in."""
    return _hour(now)


def _hour(now: datetime) -> datetime:
    return require_aware(now, "now").replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class RefusalThrottle:
    """Per kind: (hour start, refusals seen in that hour, of which logged)."""

    hours: tuple[tuple[str, datetime, int], ...] = ()

    def note(self, kind: str, now: datetime) -> tuple[RefusalThrottle, bool, list[LogEntry]]:
        """Count one refusal of `kind`; returns the new value, whether to log this refusal's own
        row, and summary rows of hours that are over."""
        throttle, summaries = self.flush(now)
        counts = {k: (h, n) for k, h, n in throttle.hours}
        hour, seen = counts.get(kind, (_hour(now), 0))
        counts[kind] = (hour, seen + 1)
        hours = tuple(sorted((k, h, n) for k, (h, n) in counts.items()))
        return replace(throttle, hours=hours), seen == 0, summaries

    def flush(self, now: datetime) -> tuple[RefusalThrottle, list[LogEntry]]:
        """Summary rows for every kind whose hour is over (before `now`'s hour)."""
        current = _hour(now)
        keep, rows = [], []
        for kind, hour, seen in self.hours:
            if hour >= current:
                keep.append((kind, hour, seen))
            elif seen > 1:
                detail = (
                    f"{seen - 1} more {kind} refusals between {hour:%H:%M} and "
                    f"{hour + HOUR:%H:%M} UTC (counted, not logged one by one)"
                )
                rows.append(LogEntry(hour + HOUR, "refusal", "", detail, to="(unverified sender)"))
        return RefusalThrottle(tuple(keep)), rows

    def count(self, kind: str) -> int:
        """Refusals of `kind` counted in its current hour."""
        return sum(n for k, _, n in self.hours if k == kind)
