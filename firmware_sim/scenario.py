"""A grid connection with one primary meter and up to five secondary meters behind it.

Scenario file (TOML):

    start = "2026-03-28T00:00:00+01:00"   # ISO-8601; naive = local time of `timezone`
    duration = "1d"
    seed = 1                               # meters without a seed get seed + their index
    timezone = "Europe/Amsterdam"          # optional (default per dialect)
    faults = "power_failure:10m@12:00"     # optional, connection-wide: every meter sees it

    [primary]                              # the main meter at the connection point
    meter_id = "E0000000000000001"         # optional; default from the seed
    dialect = "dsmr5"
    profile = "household"                  # the house's own load (not behind a secondary)
    port = "pty"                           # pty, pty:LINK, file:PATH, tcp:PORT, stdout
    gas = true                             # optional
    faults = "crc:0.01"                    # optional, this meter's line only
    # also: interval, key, auth_key, drift_ppm, clock_offset_s, seed

    [[secondary]]                          # 0 to 5 of these
    meter_id = "E0000000000000002"
    dialect = "dsmr5"
    profile = "pv-only"                    # what this meter measures
    port = "pty"

Physics: every secondary meter's flows also flow through the primary, second by second: the
primary measures its own profile plus the sum of the secondaries (a PV secondary exporting
2 kWh while the house uses 3 kWh shows 1 kWh import on the primary).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from typing import Any

from firmware_sim.config import DEFAULT_START, Options, Plan, build, default_meter_id

MAX_SECONDARY = 5
_METER_KEYS = {
    "meter_id", "dialect", "profile", "port", "gas", "faults", "interval", "key", "auth_key",
    "drift_ppm", "clock_offset_s", "seed",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ScenarioMeter:
    role: str  # "primary" or "secondary"
    plan: Plan
    port: str


@dataclass(frozen=True, slots=True)
class Scenario:
    meters: tuple[ScenarioMeter, ...]

    @property
    def primary(self) -> ScenarioMeter:
        return self.meters[0]

    @property
    def secondaries(self) -> tuple[ScenarioMeter, ...]:
        return self.meters[1:]


def _options(table: dict[str, Any], where: str, top: dict[str, Any], index: int) -> Options:
    unknown = set(table) - _METER_KEYS
    if unknown:
        raise ValueError(f"scenario {where}: unknown key(s) {', '.join(sorted(unknown))}")
    seed = int(table.get("seed", int(top.get("seed", 0)) + index))
    faults = ",".join(x for x in (top.get("faults", ""), table.get("faults", "")) if x)
    return Options(
        dialect=str(table.get("dialect", "dsmr5")),
        start=str(top.get("start", DEFAULT_START)),
        duration=str(top.get("duration", "1d")),
        seed=seed,
        profile=str(table.get("profile", "household")),
        interval=table.get("interval"),
        meter_id=str(table.get("meter_id", default_meter_id(seed))),
        gas=bool(table.get("gas", False)),
        key=table.get("key"),
        auth_key=table.get("auth_key"),
        faults=faults,
        tz=top.get("timezone"),
        drift_ppm=float(table.get("drift_ppm", 0.0)),
        clock_offset_s=float(table.get("clock_offset_s", 0.0)),
    )


def parse_scenario(text: str) -> Scenario:
    """Parse and check a scenario; errors name the table and key."""
    top = tomllib.loads(text)
    if "primary" not in top:
        raise ValueError("scenario: a [primary] table is required")
    secondaries = top.get("secondary", [])
    if len(secondaries) > MAX_SECONDARY:
        raise ValueError(f"scenario [[secondary]]: at most {MAX_SECONDARY}, got {len(secondaries)}")
    sec_opts = [
        _options(s, f"[[secondary]] #{i + 1}", top, i + 1) for i, s in enumerate(secondaries)
    ]
    prim = _options(top["primary"], "[primary]", top, 0)
    prim = replace(prim, behind=tuple((o.profile, o.seed) for o in sec_opts))
    tables = [top["primary"], *secondaries]
    meters = [
        ScenarioMeter("primary" if i == 0 else "secondary", build(o), str(t.get("port", "pty")))
        for i, (o, t) in enumerate(zip([prim, *sec_opts], tables, strict=True))
    ]
    ids = [m.plan.spec.meter_id for m in meters]
    if len(set(ids)) != len(ids):
        raise ValueError(f"scenario: duplicate meter_id in {ids}")
    return Scenario(tuple(meters))
