"""The meter: its configuration, carried state and the exact integer physics of one segment.

Strategy: a segment is a run of seconds without a meter replacement inside it. Power is integer
W per second, so energy is integer Ws; a register in Wh is `initial + cumulative Ws // 3600`,
exact and monotonic, and the value at an instant counts every second strictly before it. A
telegram stamped at second t and the truth at boundary t therefore read the same number.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from firmware_sim.clock import I64, local_date_fields

BoolA = NDArray[np.bool_]

DIALECT_INTERVAL = {
    "dsmr22": 10,
    "dsmr4": 10,
    "dsmr5": 1,
    "fluvius": 1,
    "smarty": 10,
    "sagemcom": 5,
}
DIALECT_TZ = {
    "fluvius": "Europe/Brussels",
    "smarty": "Europe/Luxembourg",
    "sagemcom": "Europe/Vienna",
}
# Which clock hours are tariff 1: NL low tariff 23-07 and weekends; BE indicator 1 is day
# 07-22 on weekdays; single-register meters book everything on tariff 1.
TARIFF_SCHEME = {"fluvius": "be", "smarty": "single", "sagemcom": "be"}


@dataclass(frozen=True, slots=True)
class Outage:
    """A power failure: no telegrams and no energy in [start, start + seconds)."""

    start: int
    seconds: int

    @property
    def end(self) -> int:
        return self.start + self.seconds


@dataclass(frozen=True, slots=True)
class MeterSpec:
    """Everything that defines one simulated meter; time values are UTC epoch seconds."""

    meter_id: str
    dialect: str = "dsmr5"
    profile: str = "household"
    seed: int = 0
    tz: str = "Europe/Amsterdam"
    interval: int = 1
    gas: bool = False
    initial_wh: tuple[int, int, int, int] = (0, 0, 0, 0)
    initial_gas_dm3: int = 0
    clock_offset_s: float = 0.0
    drift_ppm: float = 0.0
    outages: tuple[Outage, ...] = ()
    replace_at: int | None = None
    replacement_id: str = ""
    # Secondary meters behind this one: (profile, seed); their flows pass through this meter.
    behind: tuple[tuple[str, int], ...] = ()
    key: bytes = b""
    auth_key: bytes = b""
    system_title: bytes = b""

    @property
    def tariff_scheme(self) -> str:
        return TARIFF_SCHEME.get(self.dialect, "nl")


@dataclass(frozen=True, slots=True)
class Registers:
    """Cumulative Ws since installation: import t1, import t2, export t1, export t2, gas ml."""

    meter_id: str
    base_wh: tuple[int, int, int, int]
    ws: tuple[int, int, int, int]
    base_gas_dm3: int = 0
    gas_ml: int = 0

    def wh(self) -> tuple[int, int, int, int]:
        b, w = self.base_wh, self.ws
        return (b[0] + w[0] // 3600, b[1] + w[1] // 3600, b[2] + w[2] // 3600, b[3] + w[3] // 3600)


@dataclass(frozen=True, slots=True)
class Physics:
    """Per-second arrays of one segment (length n) plus register values at n+1 instants."""

    t0: int
    net_phase: I64  # (3, n) W, positive = import
    tariff1: BoolA  # (n,) second booked on tariff 1
    reg_wh: I64  # (4, n+1) registers at each instant t0 .. t0+n
    imp_ws: I64  # (n+1,) total import Ws at each instant (Fluvius averages)
    gas_dm3: I64  # (n+1,)
    alive: BoolA  # (n,) False during a power failure
    end: Registers = field(compare=False)


def tariff1_mask(local: I64, scheme: str) -> BoolA:
    """Per second: is it booked on tariff 1 (NL low / BE day / single register)."""
    if scheme == "single":
        return np.ones(len(local), dtype=np.bool_)
    _, _, _, weekday = local_date_fields(local)
    hour = local % 86_400 // 3600
    weekend = weekday >= 5
    if scheme == "be":
        out: BoolA = (~weekend) & (hour >= 7) & (hour < 22)
        return out
    out = weekend | (hour >= 23) | (hour < 7)
    return out


def _excl_cumsum(x: I64, start: int) -> I64:
    out = np.empty(len(x) + 1, dtype=np.int64)
    out[0] = start
    np.cumsum(x, out=out[1:])
    out[1:] += start
    return out


def integrate(
    regs: Registers, t0: int, net_phase: I64, gas_ml: I64, local: I64, scheme: str, alive: BoolA
) -> Physics:
    """Integrate one segment's power into the registers, exactly."""
    net_phase = np.where(alive, net_phase, 0)
    net = net_phase.sum(axis=0)
    t1 = tariff1_mask(local, scheme)
    imp = np.maximum(net, 0)
    exp = np.maximum(-net, 0)
    parts = (np.where(t1, imp, 0), np.where(t1, 0, imp), np.where(t1, exp, 0), np.where(t1, 0, exp))
    cums = [_excl_cumsum(p, regs.ws[i]) for i, p in enumerate(parts)]
    reg_wh = np.stack([regs.base_wh[i] + cums[i] // 3600 for i in range(4)])
    gas_cum = _excl_cumsum(np.where(alive, gas_ml, 0), regs.gas_ml)
    end = Registers(
        regs.meter_id,
        regs.base_wh,
        (int(cums[0][-1]), int(cums[1][-1]), int(cums[2][-1]), int(cums[3][-1])),
        regs.base_gas_dm3,
        int(gas_cum[-1]),
    )
    return Physics(
        t0=t0,
        net_phase=net_phase,
        tariff1=t1,
        reg_wh=reg_wh,
        imp_ws=cums[0] + cums[1],
        gas_dm3=regs.base_gas_dm3 + gas_cum // 1000,
        alive=alive,
        end=end,
    )
