"""A fleet of simulated gateways: the registry, keys and signed day blocks N gateways would send.

Strategy: everything follows from the seed, so a fleet is reproducible byte for byte: the keys
(Ed25519 private keys from SHA-256 of the seed and gateway id), the registry, the profiles and
the faults. Volumes come from numpy profiles over all meters of a day at once (household load
with morning and evening peaks, PV production in daylight, EV charging sessions in the
evening); the main meter measures house + EV − PV, each secondary its own device, so the
primary point's net (main − Σ secondaries) is the household. Readings are cumulative Wh per
register (tariff 1 at night and at weekends, tariff 2 by day) and continue across days. Then the
agent's own block format does the rest (`DayReadings`, `encode_payload`, `sign`), with the
faults a real fleet shows: interpolated intervals, missing runs with unknown boundaries, a
flagged register decrease, blocks signed but lost (chain gaps), and opted-out points (no blocks
from their opt-out day on).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.blocks.chain import block_hash
from edge.blocks.cose import DAY_CONTENT_TYPE, sign
from edge.blocks.days import STEP_SECONDS, day_layout
from edge.blocks.payload import REGISTERS, DayReadings, encode_payload
from edge.config.ean import with_check_digit
from edge.grid.defaults import FLEET_FIRST_DAY, FLEET_TZ
from edge.grid.registry import RegistryRow

GRID_AREAS = ("GA-NOORD", "GA-MIDDEN", "GA-ZUID", "GA-OOST")
# supplier -> its BRP; weights make some cells small, so the privacy merge has work to do
SUPPLIERS = (
    ("SUP-GROEN", "BRP-ALFA", 30), ("SUP-STAD", "BRP-ALFA", 20), ("SUP-ZON", "BRP-BETA", 15),
    ("SUP-WIND", "BRP-BETA", 10), ("SUP-DORP", "BRP-GAMMA", 5), ("SUP-COOP", "BRP-GAMMA", 3),
    ("SUP-KLEIN", "BRP-DELTA", 2), ("SUP-NIEUW", "BRP-DELTA", 1),
)  # fmt: skip
MAIN_KVA = (Decimal("17.3"), Decimal("9.2"), Decimal("10.0"), Decimal("24.2"))
EV_KVA, PV_KVA = Decimal("11.0"), Decimal("5.7")
EV_KW = 11.0
FIRST_DAY = FLEET_FIRST_DAY
TZ = FLEET_TZ


@dataclass(frozen=True, slots=True)
class FleetSpec:
    """What to generate; every fraction is of connections (secondaries) or of points (opt-out)."""

    gateways: int
    days: int
    seed: int
    secondaries: float = 0.3
    opt_out: float = 0.02
    first_day: date = FIRST_DAY
    tz: str = TZ
    gap_rate: float = 0.005  # blocks signed but never delivered: gaps in the chain
    fault_rate: float = 0.02  # point-days with interpolated intervals / a missing run
    decrease_rate: float = 0.002  # point-days of a main meter with a flagged register glitch


@dataclass(frozen=True, slots=True)
class Meter:
    """One allocation point's meter behind a gateway."""

    gw: str
    ap: str
    role: str
    kind: str  # "main", "ev" or "pv"
    meter: str
    opt_out_day: int | None  # index of the first day without blocks, or None


@dataclass(frozen=True, slots=True)
class FleetBlock:
    """One signed day block as the gateway sends it."""

    gw: str
    ap: str
    seq: int
    day: date
    cose: bytes


def gateway_id(index: int) -> str:
    """The id of gateway `index`."""
    return f"gw-{index:06d}"


def gateway_key(seed: int, gw: str) -> Ed25519PrivateKey:
    """The gateway's Ed25519 key, derived from the seed: the same fleet has the same keys."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"{seed}:{gw}".encode()).digest())


def _ean(index: int, slot: int) -> str:
    return with_check_digit(f"871687{index:010d}{slot}")


def plan(spec: FleetSpec) -> tuple[list[Meter], list[RegistryRow]]:
    """The meters and the registry of the fleet (a few points switch supplier mid-period)."""
    if spec.gateways < 1 or spec.days < 1:
        raise ValueError("a fleet needs at least one gateway and one day")
    rng = np.random.default_rng([spec.seed, 1])
    n = spec.gateways
    areas = rng.integers(0, len(GRID_AREAS), n)
    weights = np.array([w for _, _, w in SUPPLIERS], dtype=float)
    suppliers = rng.choice(len(SUPPLIERS), size=(n, 3), p=weights / weights.sum())
    extra = rng.random(n) < spec.secondaries
    kinds = rng.integers(1, 4, n)  # 1: EV, 2: PV, 3: both
    kva = rng.choice(len(MAIN_KVA), n, p=[0.7, 0.1, 0.1, 0.1])
    switch = rng.random(n) < 0.01
    switch_day = rng.integers(1, max(spec.days, 2), n)
    meters: list[Meter] = []
    rows: list[RegistryRow] = []
    for i in range(n):
        gw, connection = gateway_id(i), _ean(i, 0)
        points = [("main", "primary", MAIN_KVA[kva[i]])]
        if extra[i]:
            points += [("ev", "secondary", EV_KVA)] if kinds[i] & 1 else []
            points += [("pv", "secondary", PV_KVA)] if kinds[i] & 2 else []
        for slot, (kind, role, capacity) in enumerate(points):
            ap = connection if slot == 0 else _ean(i, slot)
            opted = rng.random() < spec.opt_out
            opt_day = int(rng.integers(0, spec.days)) if opted else None
            meters.append(
                Meter(gw, ap, role, kind, f"E{spec.seed % 1000:03d}{i:010d}{slot}", opt_day)
            )
            sup, brp, _ = SUPPLIERS[suppliers[i, slot]]
            row = RegistryRow(
                ap, connection, role, GRID_AREAS[areas[i]], sup, brp, capacity,
                spec.first_day - timedelta(days=30), None,
            )  # fmt: skip
            if switch[i] and slot == 0 and spec.days > 1:
                moved = spec.first_day + timedelta(days=int(switch_day[i]))
                new_sup, new_brp, _ = SUPPLIERS[(suppliers[i, slot] + 1) % len(SUPPLIERS)]
                rows.append(_replace(row, valid_to=moved))
                row = _replace(row, supplier=new_sup, brp=new_brp, valid_from=moved)
            rows.append(row)
    return meters, rows


def _replace(row: RegistryRow, **changes: object) -> RegistryRow:
    values = {f: getattr(row, f) for f in RegistryRow.__dataclass_fields__}
    values.update(changes)
    return RegistryRow(**values)  # type: ignore[arg-type]


def local_hours(day: date, tz: str) -> tuple[datetime, np.ndarray]:
    """UTC start of local `day` and the local hour (float) of each interval's start."""
    start, n = day_layout(day, tz)
    zone = ZoneInfo(tz)
    hours = []
    for k in range(n):
        local = (start + timedelta(seconds=STEP_SECONDS * k)).astimezone(zone)
        hours.append(local.hour + local.minute / 60)
    return start, np.array(hours)


def volumes(meters: list[Meter], day: date, tz: str, rng: np.random.Generator) -> np.ndarray:
    """Per meter and interval: Wh of (import_t1, import_t2, export_t1, export_t2), int64."""
    _, hours = local_hours(day, tz)
    m, n = len(meters), len(hours)
    kinds = np.array([{"main": 0, "ev": 1, "pv": 2}[x.kind] for x in meters])
    gws = np.array([x.gw for x in meters])
    # the household: base load, morning and evening peaks, noise (W)
    base = rng.uniform(80, 250, (m, 1))
    peak = rng.uniform(400, 2000, (m, 1))
    shape = 0.5 * np.exp(-(((hours - 7.5) / 1.2) ** 2)) + np.exp(-(((hours - 19.0) / 2.0) ** 2))
    house = (base + peak * shape) * rng.lognormal(0, 0.3, (m, n))
    sun = np.clip(np.sin(np.pi * (hours - 6.5) / 13.0), 0, None)
    pv = rng.uniform(2000, 6000, (m, 1)) * rng.uniform(0.2, 1.0, (m, 1)) * sun
    pv = pv * rng.uniform(0.7, 1.0, (m, n))
    start_h = rng.uniform(17, 22, (m, 1))
    length_h = rng.uniform(1, 3, (m, 1))
    charging = (rng.random((m, 1)) < 0.4) & (hours >= start_h) & (hours < start_h + length_h)
    ev = EV_KW * 1000 * charging
    # the main meter sees the whole connection; a secondary only its own device
    own = {gw: np.zeros(n) for gw in set(gws[kinds != 0])}
    for index in np.flatnonzero(kinds != 0):
        own[gws[index]] = own[gws[index]] + (ev[index] if kinds[index] == 1 else -pv[index])
    watts = np.where(kinds[:, None] == 1, ev, np.where(kinds[:, None] == 2, -pv, house))
    for index in np.flatnonzero(kinds == 0):
        if gws[index] in own:
            watts[index] = watts[index] + own[gws[index]]
    watts = np.where(kinds[:, None] == 2, watts + 3.0, watts)  # the inverter draws 3 W
    wh = np.rint(watts * 0.25).astype(np.int64)
    low = (hours < 7) | (hours >= 23) | (day.weekday() >= 5)
    imp, exp = np.clip(wh, 0, None), np.clip(-wh, 0, None)
    out = np.zeros((m, 4, n), dtype=np.int64)
    out[:, 0], out[:, 1] = imp * low, imp * ~low
    out[:, 2], out[:, 3] = exp * low, exp * ~low
    return out


def generate(spec: FleetSpec) -> Iterator[FleetBlock]:
    """Every block the fleet sends, day by day (each day: every gateway in order)."""
    meters, rows = plan(spec)
    capacity = {r.ap: r.capacity_kva for r in rows}
    keys: dict[str, Ed25519PrivateKey] = {}
    rng = np.random.default_rng([spec.seed, 2])
    readings = rng.integers(1_000_000, 40_000_000, (len(meters), 4)).astype(np.int64)
    chains: dict[str, tuple[int, bytes | None]] = {}
    for offset in range(spec.days):
        day = spec.first_day + timedelta(days=offset)
        day_rng = np.random.default_rng([spec.seed, 3, offset])
        vol = volumes(meters, day, spec.tz, day_rng)
        bounds = np.concatenate([readings[:, :, None], readings[:, :, None] + vol.cumsum(2)], 2)
        readings = bounds[:, :, -1].copy()
        for index, meter in enumerate(meters):
            if meter.opt_out_day is not None and offset >= meter.opt_out_day:
                continue  # opted out: the agent releases nothing for this point any more
            limit = int(capacity[meter.ap] * 300)  # Wh: 120 % of kVA × 0.25 h
            content = _day_readings(meter, day, spec, bounds[index], limit, day_rng)
            seq, prev = chains.get(meter.ap, (0, None))
            seq += 1
            key = keys.get(meter.gw) or keys.setdefault(meter.gw, gateway_key(spec.seed, meter.gw))
            created = content.start + timedelta(
                seconds=STEP_SECONDS * content.n, hours=2, minutes=13
            )
            payload = encode_payload(content, seq=seq, prev=prev, created=created, time_sync="ntp")
            cose = sign(payload, key, DAY_CONTENT_TYPE)
            chains[meter.ap] = (seq, block_hash(cose))
            if day_rng.random() < spec.gap_rate:
                continue  # signed and chained, but lost on the way: a gap the resend can fill
            yield FleetBlock(meter.gw, meter.ap, seq, day, cose)


def _day_readings(
    meter: Meter, day: date, spec: FleetSpec, bounds: np.ndarray, limit: int,
    rng: np.random.Generator,
) -> DayReadings:  # fmt: skip
    n = bounds.shape[1] - 1
    values = bounds.astype(object)
    status = ["measured"] * n
    flags: list[tuple[str, ...]] = [()] * n
    if rng.random() < spec.fault_rate:
        for k in rng.integers(0, n, 2):
            status[k] = "interpolated"
    if rng.random() < spec.fault_rate:  # a missing run: boundaries k+1..k+m unknown
        k, m = int(rng.integers(0, n - 5)), int(rng.integers(1, 4))
        values[:, k + 1 : k + m + 1] = None
        for j in range(k, k + m + 1):
            status[j], flags[j] = "missing", ("power_failure",)
    if meter.role == "primary" and rng.random() < spec.decrease_rate:
        k = int(rng.integers(1, n - 2))  # one boundary reads 20 kWh low: R1 then R2 flag it
        if values[1, k + 1] is not None and values[1, k + 1] >= 20_000:
            values[1, k + 1] -= 20_000
            flags[k] = ("register_decreased",)
            after = values[1, k + 2]
            if after is not None and after - values[1, k + 1] >= limit:
                flags[k + 1] = ("capacity_exceeded",)
    start = datetime.combine(day, datetime.min.time(), ZoneInfo(spec.tz)).astimezone(UTC)
    return DayReadings(
        gw=meter.gw, ap=meter.ap, role=meter.role, meter=meter.meter, day=day, tz=spec.tz,
        start=start, readings={r: tuple(values[i].tolist()) for i, r in enumerate(REGISTERS)},
        status=tuple(status), flags=tuple(flags),
    )  # fmt: skip
