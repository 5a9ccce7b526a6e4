"""Policy configuration: regimes, the push window, backfill and request time limits.

Strategy: configuration is parsed and validated once, into frozen values, so the decision
functions never meet a malformed setting. Every error is a `PolicyConfigError` (both a
`ConfigError` and a `ValueError`) whose message starts with the key that is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from edge.errors import ConfigError


class PolicyConfigError(ConfigError, ValueError):
    """A policy setting is wrong; `key` names it (e.g. `policy.push_window`)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


class Regime(StrEnum):
    """Measuring regime of an allocation point (SPEC §5)."""

    QUARTER_HOUR = "quarter-hour"
    MONTHLY = "monthly"
    NONE = "none"


def parse_regime(value: object, key: str = "policy.regime") -> Regime:
    """Parse a regime name; the error names `key` and the allowed values."""
    for regime in Regime:
        if value == regime.value:
            return regime
    allowed = ", ".join(repr(r.value) for r in Regime)
    raise PolicyConfigError(key, f"unknown regime {value!r}; use one of {allowed}")


_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True, slots=True)
class PushWindow:
    """A daily local wall-clock window, minutes after local midnight, start < end ≤ 24:00.

    A window may not cross midnight: the push then always belongs to one local calendar day.
    """

    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        if not 0 <= self.start_minute < self.end_minute <= 24 * 60:
            raise PolicyConfigError(
                "policy.push_window", "the window must start before it ends, within one day"
            )

    @classmethod
    def parse(cls, text: object, key: str = "policy.push_window") -> PushWindow:
        """Parse "HH:MM-HH:MM" (end may be 24:00), e.g. "01:00-05:00"."""
        match = _WINDOW.match(text) if isinstance(text, str) else None
        if match is None:
            raise PolicyConfigError(key, f"expected 'HH:MM-HH:MM' like '01:00-05:00', got {text!r}")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
            raise PolicyConfigError(key, f"not a time of day in {text!r}")
        if h1 * 60 + m1 >= h2 * 60 + m2:
            raise PolicyConfigError(key, f"{text!r} must start before it ends and not cross 24:00")
        return cls(h1 * 60 + m1, h2 * 60 + m2)

    @property
    def seconds(self) -> int:
        """Length of the window in wall-clock seconds."""
        return (self.end_minute - self.start_minute) * 60

    def __str__(self) -> str:
        s, e = self.start_minute, self.end_minute
        return f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}"


@dataclass(frozen=True, slots=True)
class PointConfig:
    """An allocation point (EAN) the gateway serves; `regime` None means the policy default."""

    ap: str
    regime: Regime | None = None


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """Everything the policy needs from the configuration file; validated on construction.

    `settle` delays completeness after local midnight (a day counts as complete once its end plus
    `settle` has passed) for registers that need time to close the last boundary reading.
    """

    gateway_id: str
    tz: str
    points: tuple[PointConfig, ...]
    regime: Regime = Regime.QUARTER_HOUR
    push_window: PushWindow = field(default_factory=lambda: PushWindow(60, 300))
    max_backfill_days: int = 40
    settle: timedelta = timedelta(0)
    clock_skew: timedelta = timedelta(seconds=120)
    max_request_lifetime: timedelta = timedelta(hours=24)

    def __post_init__(self) -> None:
        if not self.gateway_id:
            raise PolicyConfigError("gateway.id", "the gateway id may not be empty")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise PolicyConfigError("timezone", f"unknown time zone {self.tz!r}") from None
        aps = [p.ap for p in self.points]
        if len(set(aps)) != len(aps):
            raise PolicyConfigError("points", f"duplicate allocation point in {aps}")
        if isinstance(self.max_backfill_days, bool) or not 1 <= self.max_backfill_days <= 3660:
            raise PolicyConfigError(
                "policy.max_backfill_days", f"must be 1..3660 days, got {self.max_backfill_days!r}"
            )

    @property
    def zone(self) -> ZoneInfo:
        """The local time zone (ZoneInfo caches instances, so this is cheap)."""
        return ZoneInfo(self.tz)

    def knows(self, ap: str) -> bool:
        """True if `ap` is one of this gateway's allocation points."""
        return any(p.ap == ap for p in self.points)

    def regime_of(self, ap: str) -> Regime:
        """The point's own regime, else the default; unknown points have none."""
        for point in self.points:
            if point.ap == ap:
                return point.regime or self.regime
        return Regime.NONE


_POLICY_KEYS = ("regime", "push_window", "max_backfill_days")


# SPEC §5: quarter-hour by default in the Netherlands; Flanders reads small meters monthly
# unless the customer consents to the quarter-hour regime (Technisch Reglement art. 4.2.11).
_MONTHLY_BY_DEFAULT = frozenset({"Europe/Brussels"})


def default_regime(tz: str) -> str:
    """The regime a point gets when the configuration names none, by the meters' time zone."""
    return "monthly" if tz in _MONTHLY_BY_DEFAULT else "quarter-hour"


def config_from_table(
    table: Mapping[str, object], *, gateway_id: str, tz: str, points: tuple[PointConfig, ...]
) -> PolicyConfig:
    """Build a `PolicyConfig` from the TOML `[policy]` table; errors name `policy.<key>`."""
    for key in table:
        if key not in _POLICY_KEYS:
            raise PolicyConfigError(
                f"policy.{key}", f"unknown key; known: {', '.join(_POLICY_KEYS)}"
            )
    backfill = table.get("max_backfill_days", 40)
    if not isinstance(backfill, int) or isinstance(backfill, bool):
        raise PolicyConfigError("policy.max_backfill_days", f"must be an integer, got {backfill!r}")
    return PolicyConfig(
        gateway_id=gateway_id,
        tz=tz,
        points=points,
        regime=parse_regime(table.get("regime", default_regime(tz))),
        push_window=PushWindow.parse(table.get("push_window", "01:00-05:00")),
        max_backfill_days=backfill,
    )
