"""Python API for tests and benchmarks: render telegrams and the truth in one call.

    from firmware_sim.api import render
    out = render("dsmr5", start="2026-03-29T00:00:00+01:00", duration="1d", seed=7,
                 profile="household-pv", gas=True, faults="power_failure:10m@12:00")
    out.telegrams   # list[bytes], each a whole telegram (CRC + CRLF; DLMS frame if encrypted)
    out.times       # list[int], the true UTC epoch second of each telegram
    out.data        # bytes, the stream as on the wire (telegrams back to back)
    out.truth       # list[TruthRow] (meter, boundary epoch s, import_t1_wh, import_t2_wh, ...)
    out.truth_csv() # the --truth file's text
    out.spec        # the MeterSpec (keys, meter id, outages ...)

`render` accepts every `firmware-sim run` option as a keyword (interval, meter_id, key,
auth_key, tz, drift_ppm, clock_offset_s). `render_to_file(path, ...)` writes the stream and
returns the same result without keeping the bytes twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware_sim.config import Options, build
from firmware_sim.meter import MeterSpec
from firmware_sim.simulate import TruthRow
from firmware_sim.stream import Telegram, Truth, Unplug, meter_items
from firmware_sim.truth import truth_csv


@dataclass(slots=True)
class Rendered:
    """The output of one simulated meter run."""

    spec: MeterSpec
    telegrams: list[bytes] = field(default_factory=list)
    times: list[int] = field(default_factory=list)
    faults: list[tuple[str, ...]] = field(default_factory=list)
    truth: list[TruthRow] = field(default_factory=list)
    unplugs: list[Unplug] = field(default_factory=list)

    @property
    def data(self) -> bytes:
        return b"".join(self.telegrams)

    def truth_csv(self) -> str:
        return truth_csv(self.truth)


def render(dialect: str = "dsmr5", **options: Any) -> Rendered:
    """Simulate one meter and return its telegrams and truth (see the module docstring)."""
    plan = build(Options(dialect=dialect, **options))
    out = Rendered(plan.spec)
    for item in meter_items(plan.spec, plan.start, plan.end, plan.faults):
        if isinstance(item, Telegram):
            out.telegrams.append(item.data)
            out.times.append(item.t)
            out.faults.append(item.faults)
        elif isinstance(item, Truth):
            out.truth.extend(item.rows)
        else:
            out.unplugs.append(item)
    return out


def render_to_file(path: str | Path, dialect: str = "dsmr5", **options: Any) -> Rendered:
    """Like `render`, writing the stream to `path` and keeping only times and truth."""
    plan = build(Options(dialect=dialect, **options))
    out = Rendered(plan.spec)
    pending: list[bytes] = []  # one write per few thousand telegrams, not per telegram
    with open(path, "wb") as fh:
        for item in meter_items(plan.spec, plan.start, plan.end, plan.faults):
            if isinstance(item, Telegram):
                pending.append(item.data)
                out.times.append(item.t)
                if len(pending) >= 4096:
                    fh.write(b"".join(pending))
                    pending.clear()
            elif isinstance(item, Truth):
                out.truth.extend(item.rows)
        fh.write(b"".join(pending))
    return out
