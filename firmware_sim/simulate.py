"""Run a meter over a time span: segments in, telegram columns and truth rows out.

Strategy: profiles are drawn per UTC day, the day is cut at a meter replacement, and each piece
is integrated exactly (meter.integrate). Telegrams are the alive seconds on the dialect's
interval grid; truth rows are the registers at every quarter boundary in [start, end]. Nothing
here formats text or touches I/O.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from firmware_sim import fluvius, profiles
from firmware_sim.clock import DAY, I64, QUARTER, offset_at, stamp_digits
from firmware_sim.meter import MeterSpec, Physics, Registers, integrate

BoolA = NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class TruthRow:
    """The meter's registers at one quarter-hour boundary (UTC epoch seconds)."""

    meter: str
    boundary: int
    import_t1_wh: int
    import_t2_wh: int
    export_t1_wh: int
    export_t2_wh: int


@dataclass(frozen=True, slots=True)
class Block:
    """Column data of consecutive telegrams of one meter (k telegrams)."""

    meter_id: str
    t: I64  # true UTC second of each telegram
    stamp: I64  # meter-clock local YYMMDDhhmmss
    summer: BoolA
    reg: I64  # (4, k) Wh
    p_imp: I64
    p_exp: I64
    ph_imp: I64  # (3, k) W
    ph_exp: I64
    volt_dv: I64  # (3, k) 0.1 V
    cur_ca: I64  # (3, k) 0.01 A
    tariff: I64  # 1 or 2
    gas_t: I64  # capture instant (UTC)
    gas_dm3: I64
    fail_count: I64
    fail_since: int = -1  # failures ending at or before this belong to a replaced meter
    demand: fluvius.Demand | None = field(default=None, compare=False)


def offsets_of(ts: I64, tz: str) -> I64:
    """UTC offsets of arbitrary instants, one zone lookup per distinct quarter-hour."""
    q, inv = np.unique(ts // QUARTER, return_inverse=True)
    vals = np.array([offset_at(int(x) * QUARTER, tz) for x in q.tolist()], dtype=np.int64)
    out: I64 = vals[inv.reshape(ts.shape)]
    return out


def _net_day(spec: MeterSpec, day: int) -> tuple[I64, I64]:
    """Per-phase net W and gas ml/s for one whole UTC day, including flows behind the meter."""
    utc = np.arange(day * DAY, (day + 1) * DAY, dtype=np.int64)
    off = offset_at(day * DAY + DAY // 2, spec.tz)
    local = utc + off
    weekday = int((local[0] // DAY + 3) % 7)
    doy = int(
        np.datetime64(int(local[0] // DAY), "D").astype("datetime64[D]").item().timetuple().tm_yday
    )
    span = profiles.Span(utc, (local % DAY) / 3600.0, weekday, doy)
    net = np.zeros((3, DAY), dtype=np.int64)
    gas = np.zeros(DAY, dtype=np.int64)
    for name, seed in ((spec.profile, spec.seed), *spec.behind):
        f = profiles.generate(name, seed, day, span)
        net += f.cons - f.prod
        gas += f.gas_ml
    return net, gas


@dataclass(frozen=True, slots=True)
class _Carry:
    regs: Registers
    peaks: fluvius.PeakState | None
    gas_capture: tuple[int, int]  # (instant, dm3) of the latest gas capture


def gas_period(dialect: str) -> int:
    return 3600 if dialect in ("dsmr22", "dsmr4") else 300


def _block(spec: MeterSpec, ph: Physics, carry: _Carry, start: int) -> tuple[Block, _Carry]:
    n = ph.net_phase.shape[1]
    t_all = np.arange(ph.t0, ph.t0 + n, dtype=np.int64)
    pick = ph.alive & ((t_all - start) % spec.interval == 0)
    idx = np.nonzero(pick)[0]
    t = t_all[idx]
    drift = np.floor(spec.clock_offset_s + spec.drift_ppm * 1e-6 * (t - start)).astype(np.int64)
    mt = t + drift
    moff = offsets_of(mt, spec.tz)
    nph = ph.net_phase[:, idx]
    net = nph.sum(axis=0)
    noise = ((t[None, :] * 7919 + np.arange(3)[:, None] * 104_729) % 31) - 15
    volt = 2300 + noise // 3 - nph // 250
    gp = gas_period(spec.dialect)
    gas_t = t - t % gp
    inside = gas_t >= ph.t0
    gas = np.where(inside, ph.gas_dm3[np.maximum(gas_t - ph.t0, 0)], carry.gas_capture[1])
    last_cap = ph.t0 + n - (ph.t0 + n) % gp
    cap = (last_cap, int(ph.gas_dm3[last_cap - ph.t0])) if last_cap >= ph.t0 else carry.gas_capture
    since = spec.replace_at if spec.replace_at is not None and ph.t0 >= spec.replace_at else -1
    ends = np.array(sorted(o.end for o in spec.outages if o.end > since), dtype=np.int64)
    dem = None
    peaks = carry.peaks
    if spec.dialect == "fluvius" and peaks is not None:
        dem = fluvius.demand(peaks, ph.t0, ph.imp_ws, t, spec.tz)
        peaks = dem.end
    block = Block(
        meter_id=ph.end.meter_id,
        t=t,
        stamp=stamp_digits(mt + moff),
        summer=moff >= 7200,
        reg=ph.reg_wh[:, idx],
        p_imp=np.maximum(net, 0),
        p_exp=np.maximum(-net, 0),
        ph_imp=np.maximum(nph, 0),
        ph_exp=np.maximum(-nph, 0),
        volt_dv=volt,
        cur_ca=np.abs(nph) * 1000 // volt,
        tariff=np.where(ph.tariff1[idx], 1, 2),
        gas_t=gas_t,
        gas_dm3=gas,
        fail_count=np.searchsorted(ends, t, side="right").astype(np.int64),
        fail_since=since,
        demand=dem,
    )
    return block, _Carry(ph.end, peaks, cap)


def _fresh(spec: MeterSpec, t0: int, meter_id: str, base: tuple[int, int, int, int]) -> _Carry:
    regs = Registers(meter_id, base, (0, 0, 0, 0), spec.initial_gas_dm3, 0)
    peaks = fluvius.initial(t0, 0, spec.tz) if spec.dialect == "fluvius" else None
    return _Carry(regs, peaks, (t0 - t0 % gas_period(spec.dialect), spec.initial_gas_dm3))


def _cuts(spec: MeterSpec, lo: int, hi: int) -> list[int]:
    cuts = [lo, hi]
    if spec.replace_at is not None and lo < spec.replace_at < hi:
        cuts.insert(1, spec.replace_at)
    return cuts


def simulate(spec: MeterSpec, start: int, end: int) -> Iterator[Block | list[TruthRow]]:
    """Yield telegram blocks and truth rows, in time order, for seconds [start, end)."""
    carry = _fresh(spec, start, spec.meter_id, spec.initial_wh)
    for day in range(start // DAY, (end - 1) // DAY + 1):
        lo, hi = max(start, day * DAY), min(end, (day + 1) * DAY)
        net_day, gas_day = _net_day(spec, day)
        cuts = _cuts(spec, lo, hi)
        for a, b in itertools.pairwise(cuts):
            if a == spec.replace_at:
                carry = _fresh(spec, a, spec.replacement_id, (int(a % 7), 0, 0, 0))
            ph = _physics(spec, carry.regs, a, b, net_day, gas_day)
            yield _truth(ph, a, b)
            block, carry = _block(spec, ph, carry, start)
            yield block
    if end % QUARTER == 0:
        wh = carry.regs.wh()
        yield [TruthRow(carry.regs.meter_id, end, *wh)]


def _physics(spec: MeterSpec, regs: Registers, a: int, b: int, net: I64, gas: I64) -> Physics:
    d0 = a - a % DAY
    t = np.arange(a, b, dtype=np.int64)
    alive = np.ones(b - a, dtype=np.bool_)
    for o in spec.outages:
        alive &= (t < o.start) | (t >= o.end)
    local = t + offsets_of(t, spec.tz)
    return integrate(
        regs, a, net[:, a - d0 : b - d0], gas[a - d0 : b - d0], local, spec.tariff_scheme, alive
    )


def _truth(ph: Physics, a: int, b: int) -> list[TruthRow]:
    first = a + (-a) % QUARTER
    return [
        TruthRow(ph.end.meter_id, q, *(int(v) for v in ph.reg_wh[:, q - a].tolist()))
        for q in range(first, b, QUARTER)
    ]
