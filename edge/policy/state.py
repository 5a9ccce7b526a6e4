"""The policy's persistent state and its plain-JSON form.

Strategy: one frozen value holds everything the policy remembers — per allocation point the
released periods, the local date of the last release and the consent history, plus the date of
the last push and the request ids seen. Transitions return a new value; the store persists
`state_to_json(state)` in the same transaction as the effects, so a crash never splits them.
Released periods older than the backfill horizon are pruned below a `floor` date: the state stays
bounded, and a larger `max_backfill_days` later can never release such a period a second time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from edge.policy.consent import ConsentChange, History, is_opted_out
from edge.policy.periods import require_aware

STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class PointState:
    """What the policy remembers about one allocation point.

    `released_months` holds the first day of each released month. Periods ending before `floor`
    are settled: released or given up for good.
    """

    released_days: frozenset[date] = frozenset()
    released_months: frozenset[date] = frozenset()
    last_release_day: date | None = None
    floor: date | None = None
    consent: History = ()

    @property
    def opted_out(self) -> bool:
        """True while the point is opted out."""
        return is_opted_out(self.consent)


@dataclass(frozen=True, slots=True)
class PolicyState:
    """The whole policy state; `points` and `seen_requests` are kept sorted for stable JSON."""

    points: tuple[tuple[str, PointState], ...] = ()
    last_push_day: date | None = None
    seen_requests: tuple[tuple[str, datetime], ...] = ()

    def point(self, ap: str) -> PointState:
        """The state of `ap`; a point never seen before has the default (opted in, nothing out)."""
        for key, value in self.points:
            if key == ap:
                return value
        return PointState()

    def with_point(self, ap: str, value: PointState) -> PolicyState:
        """A copy with `ap`'s state replaced."""
        points = dict(self.points)
        points[ap] = value
        return replace(self, points=tuple(sorted(points.items())))


def _date_or_none(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _change_to_json(change: ConsentChange) -> dict[str, Any]:
    return {
        "at": change.at.isoformat(),
        "opted_out": change.opted_out,
        "by": change.by,
        "ref": change.ref,
    }


def _point_to_json(point: PointState) -> dict[str, Any]:
    return {
        "released_days": sorted(d.isoformat() for d in point.released_days),
        "released_months": sorted(d.isoformat() for d in point.released_months),
        "last_release_day": _date_or_none(point.last_release_day),
        "floor": _date_or_none(point.floor),
        "consent": [_change_to_json(c) for c in point.consent],
    }


def state_to_json(state: PolicyState) -> dict[str, Any]:
    """The state as a dict of JSON types only (str, bool, list, dict, None)."""
    return {
        "v": STATE_VERSION,
        "points": {ap: _point_to_json(p) for ap, p in state.points},
        "last_push_day": _date_or_none(state.last_push_day),
        "seen_requests": {rid: exp.isoformat() for rid, exp in state.seen_requests},
    }


def _day(value: Any, where: str) -> date:
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected a date string, got {value!r}")
    return date.fromisoformat(value)


def _opt_day(value: Any, where: str) -> date | None:
    return None if value is None else _day(value, where)


def _instant(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected an ISO datetime, got {value!r}")
    return require_aware(datetime.fromisoformat(value), where)


def _change_from_json(raw: dict[str, Any], where: str) -> ConsentChange:
    if not isinstance(raw.get("opted_out"), bool):
        raise ValueError(f"{where}.opted_out: expected true or false")
    return ConsentChange(
        at=_instant(raw.get("at"), f"{where}.at"),
        opted_out=raw["opted_out"],
        by=raw.get("by"),  # type: ignore[arg-type]  # ConsentChange validates the actor
        ref=str(raw.get("ref", "")),
    )


def _point_from_json(raw: dict[str, Any], where: str) -> PointState:
    return PointState(
        released_days=frozenset(_day(d, f"{where}.released_days") for d in raw["released_days"]),
        released_months=frozenset(
            _day(d, f"{where}.released_months") for d in raw["released_months"]
        ),
        last_release_day=_opt_day(raw["last_release_day"], f"{where}.last_release_day"),
        floor=_opt_day(raw["floor"], f"{where}.floor"),
        consent=tuple(
            _change_from_json(c, f"{where}.consent[{i}]") for i, c in enumerate(raw["consent"])
        ),
    )


def state_from_json(raw: Any) -> PolicyState:
    """Rebuild a state from `state_to_json` output; malformed input raises ValueError."""
    try:
        if raw.get("v") != STATE_VERSION:
            raise ValueError(f"unsupported version {raw.get('v')!r}")
        points = {ap: _point_from_json(p, f"points.{ap}") for ap, p in raw["points"].items()}
        seen = {
            rid: _instant(exp, f"seen_requests.{rid}") for rid, exp in raw["seen_requests"].items()
        }
        return PolicyState(
            points=tuple(sorted(points.items())),
            last_push_day=_opt_day(raw["last_push_day"], "last_push_day"),
            seen_requests=tuple(sorted(seen.items())),
        )
    except ValueError as exc:
        raise ValueError(f"policy state: {exc}") from exc
    except (AttributeError, KeyError, TypeError) as exc:
        raise ValueError(f"policy state: malformed ({type(exc).__name__}: {exc})") from exc
