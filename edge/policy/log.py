"""Consumer log entries: what left (or was refused, or changed), to whom, when.

Strategy: decisions produce `LogEntry` values and the shell appends them to the store, so the
log says exactly what the policy decided — nothing is reconstructed afterwards. Rendering for
`edge-agent log` is a pure function of the entries and the local time zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

from edge.policy.periods import ONE_DAY, Period, require_aware

LogKind = Literal["release", "refusal", "consent", "resend"]
LOG_KINDS: tuple[LogKind, ...] = ("release", "refusal", "consent", "resend")


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One consumer log line: at `at` (UTC), a `kind` event about point `ap`, sent `to` whom."""

    at: datetime
    kind: LogKind
    ap: str
    detail: str
    to: str = "grid-operator"

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", require_aware(self.at, "LogEntry.at"))
        if self.kind not in LOG_KINDS:
            raise ValueError(f"log kind must be one of {LOG_KINDS}, got {self.kind!r}")

    def to_json(self) -> dict[str, Any]:
        """The entry as plain JSON types."""
        return {
            "at": self.at.isoformat(),
            "kind": self.kind,
            "ap": self.ap,
            "detail": self.detail,
            "to": self.to,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> LogEntry:
        """Inverse of `to_json`; malformed input raises ValueError."""
        try:
            return cls(
                at=datetime.fromisoformat(raw["at"]),
                kind=cast(LogKind, raw["kind"]),
                ap=str(raw["ap"]),
                detail=str(raw["detail"]),
                to=str(raw["to"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed log entry {raw!r}") from exc


def describe_periods(periods: Iterable[Period]) -> str:
    """Compact text for released periods: consecutive days collapse to "first..last"."""
    ordered = sorted(periods)
    if not ordered:
        return "nothing"
    runs: list[list[Period]] = [[ordered[0]]]
    for period in ordered[1:]:
        previous = runs[-1][-1]
        if period.is_day and previous.is_day and period.first == previous.last + ONE_DAY:
            runs[-1].append(period)
        else:
            runs.append([period])
    parts = [str(r[0]) if len(r) == 1 else f"{r[0]}..{r[-1]} ({len(r)} days)" for r in runs]
    return ", ".join(parts)


_VERBS = {"release": "released", "refusal": "refused", "consent": "consent", "resend": "resent"}


def render(entry: LogEntry, tz: ZoneInfo | str) -> str:
    """One human-readable line in local time, e.g. for `edge-agent log`."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    local = entry.at.astimezone(zone)
    stamp = f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}"
    return f"{stamp}  {_VERBS[entry.kind]:<8}  {entry.ap}  to {entry.to}: {entry.detail}"


def render_log(entries: Iterable[LogEntry], tz: ZoneInfo | str) -> str:
    """All entries, one line each, in the order given (the store's append order)."""
    return "\n".join(render(entry, tz) for entry in entries)
