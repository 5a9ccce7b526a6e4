"""Seeded numpy load and generation profiles, one chunk (normally a UTC day) at a time.

Strategy: every chunk draws from its own generator keyed by (seed, chunk index, salt), so the
power at a given instant does not depend on where the run started or how it was chunked. Power
is integer watts per second and per phase: the meter model integrates it exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]

PROFILES = ("household", "household-pv", "ev-charger", "heat-pump", "pv-only", "none")


@dataclass(frozen=True, slots=True)
class Flows:
    """Per-phase consumption and production in W, shape (3, n), and gas flow in ml/s."""

    cons: I64
    prod: I64
    gas_ml: I64


@dataclass(frozen=True, slots=True)
class Span:
    """The seconds of one chunk: UTC epoch seconds, local hour of day, day of year."""

    utc: I64
    local_hour: F64
    weekday: int
    doy: int


def _gauss(x: F64, mu: float, sigma: float) -> F64:
    out: F64 = np.exp(-0.5 * ((x - mu) / sigma) ** 2)
    return out


def _slow_noise(rng: np.random.Generator, n: int, scale: float, step: int = 60) -> F64:
    """Piecewise-constant noise changing every `step` seconds (appliances do not flicker)."""
    values = rng.normal(1.0, scale, n // step + 2).clip(0.2, 3.0)
    out: F64 = np.repeat(values, step)[:n]
    return out


def _pulses(
    rng: np.random.Generator, n: int, spec: list[tuple[int, int, float, float, float]], hour0: F64
) -> I64:
    """Rectangular appliance runs: (watts, seconds, runs per day, earliest h, latest h)."""
    diff = np.zeros(n + 1, dtype=np.int64)
    for watts, seconds, per_day, lo, hi in spec:
        runs = rng.poisson(per_day * n / 86_400)
        for _ in range(runs):
            wanted = rng.uniform(lo, hi)
            start = int(np.argmin(np.abs(hour0 - wanted))) + int(rng.integers(0, 60))
            start = min(start, n - 1)
            diff[start] += watts
            diff[min(n, start + seconds)] -= watts
    out: I64 = np.cumsum(diff[:n])
    return out


def _split(total: I64, shares: tuple[int, int]) -> I64:
    """Split watts over three phases in integer percent, exactly (L3 takes the remainder)."""
    l1 = total * shares[0] // 100
    l2 = total * shares[1] // 100
    out: I64 = np.stack([l1, l2, total - l1 - l2])
    return out


def _zeros(n: int) -> I64:
    return np.zeros((3, n), dtype=np.int64)


def _household_w(rng: np.random.Generator, s: Span) -> I64:
    n = len(s.utc)
    h = s.local_hour
    shape = 1.0 + 0.9 * _gauss(h, 7.5, 1.0) + 1.8 * _gauss(h, 19.5, 2.0) - 0.3 * _gauss(h, 3.5, 2)
    if s.weekday >= 5:
        shape = shape + 0.6 * _gauss(h, 12.5, 3.0)
    base = rng.uniform(120, 260) * shape * _slow_noise(rng, n, 0.15)
    fridge = np.where((s.utc // 60) % 45 < 15, 90, 0)
    appliances = _pulses(
        rng,
        n,
        [
            (2000, 180, 4, 6.5, 22),
            (2100, 1800, 0.7, 9, 21),
            (1800, 2400, 0.6, 17, 19.5),
            (1200, 900, 1.0, 7, 23),
            (150, 7200, 1.0, 19, 23),
        ],
        h,
    )
    out: I64 = base.astype(np.int64) + fridge + appliances
    return out


def _pv_w(rng: np.random.Generator, s: Span, kwp: float) -> I64:
    n = len(s.utc)
    hour_utc = (s.utc % 86_400) / 3600.0
    season = np.cos(2 * np.pi * (s.doy - 172) / 365.25)
    daylen = 12.0 + 4.2 * season
    rise = 11.7 - daylen / 2
    sun = np.clip(np.sin(np.pi * (hour_utc - rise) / daylen), 0.0, None) ** 1.3
    clouds = np.clip(_slow_noise(rng, n, 0.35, step=120) * rng.uniform(0.4, 1.0), 0.05, 1.0)
    peak = kwp * (0.55 + 0.35 * season)
    out: I64 = (peak * sun * clouds).astype(np.int64)
    return out


def _heat_w(rng: np.random.Generator, s: Span, on_watts: int) -> I64:
    """A compressor or boiler cycling in 30-minute periods with a duty set by the season."""
    outdoor = 10.0 - 8.0 * np.cos(2 * np.pi * (s.doy - 15) / 365.25) + rng.normal(0, 2)
    duty = float(np.clip((17.0 - outdoor) / 20.0, 0.0, 0.9))
    phase = (s.utc + int(rng.integers(0, 1800))) % 1800
    running = phase < duty * 1800
    night_boost = s.local_hour < 6.0
    out: I64 = np.where(running | (night_boost & (phase < 900) & (duty > 0.2)), on_watts, 0)
    return out.astype(np.int64)


def household(rng: np.random.Generator, s: Span) -> Flows:
    load = _household_w(rng, s)
    gas = _heat_w(rng, s, 280) + _pulses(rng, len(s.utc), [(250, 600, 1.5, 6.5, 9)], s.local_hour)
    return Flows(_split(load, (50, 30)), _zeros(len(load)), gas)


def household_pv(rng: np.random.Generator, s: Span) -> Flows:
    flows = household(rng, s)
    pv = _pv_w(rng, s, rng.uniform(3500, 5500))
    return Flows(flows.cons, _split(pv, (34, 33)), flows.gas_ml)


CHARGER_W = 11_000


def ev_charger(rng: np.random.Generator, s: Span) -> Flows:
    n = len(s.utc)
    seconds = int(rng.uniform(5, 30) / 11.0 * 3600)
    # one car on one 11 kW charger: where two drawn sessions overlap it still draws 11 kW, not
    # 22 kW (more than a 3 x 25 A connection carries: the agent flagged it, the DSO rejected it)
    sessions = _pulses(rng, n, [(CHARGER_W, seconds, 0.7, 17.5, 20.5)], s.local_hour)
    load = np.minimum(sessions, CHARGER_W) + 3
    return Flows(_split(load, (34, 33)), _zeros(n), np.zeros(n, dtype=np.int64))


def heat_pump(rng: np.random.Generator, s: Span) -> Flows:
    n = len(s.utc)
    load = _heat_w(rng, s, int(rng.uniform(1500, 3000))) + 15
    dhw: I64 = _pulses(rng, n, [(2000, 2700, 1.0, 1.5, 3.0)], s.local_hour)
    load = load + dhw
    return Flows(_split(load, (34, 33)), _zeros(n), np.zeros(n, dtype=np.int64))


def pv_only(rng: np.random.Generator, s: Span) -> Flows:
    n = len(s.utc)
    pv = _pv_w(rng, s, rng.uniform(4000, 10_000))
    standby = np.full(n, 2, dtype=np.int64)
    return Flows(_split(standby, (100, 0)), _split(pv, (34, 33)), np.zeros(n, dtype=np.int64))


def no_flow(rng: np.random.Generator, s: Span) -> Flows:
    """Nothing behind the meter (a scenario's primary whose whole load sits behind secondaries)."""
    n = len(s.utc)
    return Flows(_zeros(n), _zeros(n), np.zeros(n, dtype=np.int64))


_BY_NAME: dict[str, Callable[[np.random.Generator, Span], Flows]] = {
    "household": household,
    "household-pv": household_pv,
    "ev-charger": ev_charger,
    "heat-pump": heat_pump,
    "pv-only": pv_only,
    "none": no_flow,
}
_SALT = {name: i + 1 for i, name in enumerate(PROFILES)}


def generate(name: str, seed: int, chunk: int, span: Span) -> Flows:
    """The flows of profile `name` for one chunk; deterministic in (name, seed, chunk)."""
    if name not in _BY_NAME:
        raise ValueError(f"unknown profile {name!r}; choose from {', '.join(PROFILES)}")
    rng = np.random.default_rng([seed & 0xFFFFFFFF, chunk, _SALT[name]])
    return _BY_NAME[name](rng, span)
