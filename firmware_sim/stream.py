"""One meter's output as a time-ordered stream of items: telegram bytes, unplug events, truth.

Strategy: simulate -> render -> (encrypt) -> line faults, lazily per block, so a month-long run
holds one day in memory and a port can start writing the first telegram at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from firmware_sim.dialects import DIALECTS, ENCRYPTED, HAS_CRC
from firmware_sim.dlms import encrypt_frame
from firmware_sim.faults import FaultPlan, LineFaults
from firmware_sim.meter import MeterSpec
from firmware_sim.render import render_block
from firmware_sim.simulate import Block, TruthRow, simulate


@dataclass(frozen=True, slots=True)
class Telegram:
    """Bytes to put on the line at simulated instant t (possibly faulted)."""

    meter: str
    t: int
    data: bytes
    faults: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Unplug:
    """The cable is pulled at t for `seconds`: the port closes and reappears afterwards."""

    meter: str
    t: int
    seconds: int


@dataclass(frozen=True, slots=True)
class Truth:
    rows: tuple[TruthRow, ...]


Item = Telegram | Unplug | Truth


def clean_telegrams(spec: MeterSpec, block: Block) -> list[bytes]:
    """Rendered (and for Smarty/Sagemcom encrypted) telegrams of a block, without faults."""
    out = render_block(spec, block, DIALECTS[spec.dialect], HAS_CRC.get(spec.dialect, True))
    if spec.dialect in ENCRYPTED:
        # The invocation counter must never repeat under one key: derive it from the instant.
        out = [
            encrypt_frame(p, spec.key, spec.auth_key, spec.system_title, int(t) & 0xFFFFFFFF)
            for p, t in zip(out, block.t.tolist(), strict=True)
        ]
    return out


def meter_items(spec: MeterSpec, start: int, end: int, plan: FaultPlan) -> Iterator[Item]:
    """Everything one meter puts out over [start, end), in time order."""
    line = LineFaults(plan, spec.seed, framed=spec.dialect not in ENCRYPTED)
    quiet = plan.of_kind("silence") + plan.of_kind("unplug")
    unplugs = sorted(plan.of_kind("unplug"), key=lambda e: e.start)
    for part in simulate(spec, start, end):
        if isinstance(part, list):
            yield Truth(tuple(part))
            continue
        for t, data in zip(part.t.tolist(), clean_telegrams(spec, part), strict=True):
            while unplugs and unplugs[0].start <= t:
                ev = unplugs.pop(0)
                yield Unplug(part.meter_id, ev.start, ev.seconds)
            if quiet and any(e.covers(t) for e in quiet):
                continue
            if line.active:
                faulted, hit = line.apply(data)
                if faulted is not None:
                    yield Telegram(part.meter_id, t, faulted, hit)
                continue
            yield Telegram(part.meter_id, t, data)
