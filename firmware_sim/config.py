"""From command-line style options to a MeterSpec and a fault plan (shared by CLI, API, scenario).

Strategy: every default that is not given derives from the seed (meter id, starting registers),
so the same options always give the same meter, byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from firmware_sim.clock import end_after, parse_start
from firmware_sim.dlms import DEFAULT_AUTH_KEY, DEFAULT_KEY
from firmware_sim.faults import FaultPlan, parse_faults
from firmware_sim.meter import DIALECT_INTERVAL, DIALECT_TZ, TARIFF_SCHEME, MeterSpec, Outage
from firmware_sim.profiles import PROFILES

DEFAULT_START = "2026-03-28T00:00:00+01:00"


@dataclass(frozen=True, slots=True)
class Options:
    """One meter's settings as the CLI and the scenario file name them."""

    dialect: str = "dsmr5"
    start: str = DEFAULT_START
    duration: str = "1d"
    seed: int = 0
    profile: str = "household"
    interval: int | None = None
    meter_id: str | None = None
    gas: bool = False
    key: str | None = None
    auth_key: str | None = None
    faults: str = ""
    tz: str | None = None
    drift_ppm: float = 0.0
    clock_offset_s: float = 0.0
    behind: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Plan:
    spec: MeterSpec
    start: int
    end: int
    faults: FaultPlan


def default_meter_id(seed: int) -> str:
    return f"E{seed % 10**16:016d}"


def _initial(seed: int, profile: str, dialect: str) -> tuple[tuple[int, int, int, int], int]:
    rng = np.random.default_rng([seed & 0xFFFFFFFF, 0x1417])
    top = 9_000_000 if dialect == "dsmr22" else 20_000_000  # 2.2 prints 5 kWh digits
    imp = rng.integers(100_000, top, 2)
    exp = rng.integers(50_000, 8_000_000, 2) if "pv" in profile else np.zeros(2, dtype=np.int64)
    wh = (int(imp[0]), int(imp[1]), int(exp[0]), int(exp[1]))
    if TARIFF_SCHEME.get(dialect) == "single":  # one register each way: all on tariff 1
        wh = (wh[0] + wh[1], 0, wh[2] + wh[3], 0)
    return wh, int(rng.integers(1_000, 5_000_000))


def build(o: Options) -> Plan:
    """Validate options and build the meter and its fault plan; errors name the option."""
    if o.dialect not in DIALECT_INTERVAL:
        raise ValueError(f"--dialect {o.dialect!r}: choose from {', '.join(DIALECT_INTERVAL)}")
    if o.profile not in PROFILES:
        raise ValueError(f"--profile {o.profile!r}: choose from {', '.join(PROFILES)}")
    tz = o.tz or DIALECT_TZ.get(o.dialect, "Europe/Amsterdam")
    start = parse_start(o.start, tz)
    end = end_after(start, o.duration, tz)
    interval = o.interval or DIALECT_INTERVAL[o.dialect]
    if interval < 1:
        raise ValueError("--interval must be at least 1 second")
    plan = parse_faults(o.faults, start, tz)
    meter_id = o.meter_id or default_meter_id(o.seed)
    if not meter_id.isascii() or not meter_id.isprintable():
        raise ValueError("--meter-id must be printable ASCII")
    replace = plan.of_kind("replace")
    wh, gas = _initial(o.seed, o.profile, o.dialect)
    spec = MeterSpec(
        meter_id=meter_id,
        dialect=o.dialect,
        profile=o.profile,
        seed=o.seed,
        tz=tz,
        interval=interval,
        gas=o.gas,
        initial_wh=wh,
        initial_gas_dm3=gas,
        clock_offset_s=o.clock_offset_s,
        drift_ppm=o.drift_ppm,
        outages=tuple(Outage(e.start, e.seconds) for e in plan.of_kind("power_failure")),
        replace_at=replace[0].start if replace else None,
        replacement_id=_successor(meter_id),
        behind=o.behind,
        key=bytes.fromhex(o.key) if o.key else DEFAULT_KEY,
        auth_key=bytes.fromhex(o.auth_key) if o.auth_key else DEFAULT_AUTH_KEY,
        system_title=(b"SIM" + meter_id.encode()[-5:]).ljust(8, b"0"),
    )
    if len(spec.key) != 16 or len(spec.auth_key) != 16:
        raise ValueError("--key and --auth-key are 16 bytes (32 hex digits)")
    return Plan(spec, start, end, plan)


def _successor(meter_id: str) -> str:
    """The replacement meter's id: same length, last digits counted up (or an R suffix)."""
    digits = len(meter_id) - len(meter_id.rstrip("0123456789"))
    if digits == 0:
        return meter_id + "R"
    head, tail = meter_id[:-digits], meter_id[-digits:]
    return head + f"{(int(tail) + 1) % 10**digits:0{digits}d}"
