"""Shared helpers for the policy tests: a config, local instants, compact request building."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from edge.policy import PointConfig, PolicyConfig, Regime, Request

AMS = ZoneInfo("Europe/Amsterdam")
PAP = "871687120000000001"
SAP = "871687120000000002"
GW = "gw-0001"


def config(**overrides: object) -> PolicyConfig:
    """A two-point Amsterdam gateway config; keyword arguments replace fields."""
    fields: dict[str, object] = {
        "gateway_id": GW,
        "tz": "Europe/Amsterdam",
        "points": (PointConfig(PAP), PointConfig(SAP)),
        "regime": Regime.QUARTER_HOUR,
    }
    fields.update(overrides)
    return PolicyConfig(**fields)  # type: ignore[arg-type]


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    """An aware Amsterdam wall-clock instant (fold=0)."""
    return datetime(y, m, d, hh, mm, ss, tzinfo=AMS)


def days(first: date, last: date) -> list[date]:
    """Every date from first through last."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def request(
    now: datetime,
    *,
    rid: str = "r1",
    ap: str = PAP,
    gw: str = GW,
    kind: str = "readout",
    valid: bool = True,
    consent: str | None = None,
    ttl: timedelta = timedelta(minutes=10),
) -> Request:
    """A request issued at `now`, valid for `ttl`."""
    return Request(
        type=kind,  # type: ignore[arg-type]
        gw=gw,
        ap=ap,
        request_id=rid,
        issued_at=now,
        expires_at=now + ttl,
        signature_valid=valid,
        consent=consent,  # type: ignore[arg-type]
    )
