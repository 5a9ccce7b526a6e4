"""R4: a meter clock more than 10 s off the gateway's synchronised clock is flagged.

The simulator's meter runs with a clock offset; the telegrams reach the ingest pipeline with
the true (gateway) time of their arrival, as the agent passes it for live sources.
"""

from __future__ import annotations

import pytest

from edge.ingest import Ingestor, PointFeed
from edge.p1 import P1Decoder, Telegram
from edge.registers import MeterEngine
from firmware_sim.api import render


@pytest.mark.parametrize(("offset_s", "flagged"), [(30.0, True), (5.0, False)])
def test_meter_clock_offset_beyond_10_s_is_flagged(offset_s: float, flagged: bool) -> None:
    out = render("dsmr5", start="2026-06-01T12:00:00+02:00", duration="40m", seed=4,
                 profile="household", interval=10, clock_offset_s=offset_s)  # fmt: skip
    ingestor = Ingestor({"ap": MeterEngine("ap", interval_s=10)}, [PointFeed("ap", "line")])
    closed = []
    for data, true_time in zip(out.telegrams, out.times, strict=True):
        telegrams = [e for e in P1Decoder().feed(data) if isinstance(e, Telegram)]
        closed += ingestor.feed("line", telegrams, received=true_time)
    intervals = [c.interval for c in closed if c.interval is not None]
    assert len(intervals) >= 2
    assert all(("clock_skew" in i.flags) == flagged for i in intervals)
