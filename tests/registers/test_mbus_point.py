"""A secondary point on the main meter's M-Bus (`source = "mbus:<ean>:<channel>"`): an
electricity slave meter (device type 002) read from the main meter's telegrams, with its own
capture times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from edge.ingest import Ingestor, PointFeed
from edge.p1 import Telegram, decode
from edge.p1.crc import crc16_arc_pure
from edge.registers import MEASURED, MeterEngine

T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)  # a quarter-hour boundary


def telegram(now: datetime, capture: datetime, slave_wh: int) -> Telegram:
    def stamp(moment: datetime) -> str:
        return (moment + timedelta(hours=2)).strftime("%y%m%d%H%M%S") + "S"

    lines = [
        "/ISk5\\2MT382-1000", "", "1-3:0.2.8(50)", f"0-0:1.0.0({stamp(now)})",
        "1-0:1.8.1(000100.000*kWh)", "1-0:1.8.2(000200.000*kWh)",
        "1-0:2.8.1(000000.000*kWh)", "1-0:2.8.2(000000.000*kWh)",
        "0-2:24.1.0(002)", "0-2:96.1.0(534C415645)",
        f"0-2:24.2.1({stamp(capture)})({slave_wh / 1000:010.3f}*kWh)", "!",
    ]  # fmt: skip
    body = "\r\n".join(lines).encode()
    (parsed,) = decode(body + f"{crc16_arc_pure(body):04X}\r\n".encode())
    return parsed


def test_slave_meter_boundaries_come_from_its_own_capture_times() -> None:
    engines = {ap: MeterEngine(ap, interval_s=i) for ap, i in (("main", 1), ("ev", 300))}
    ingestor = Ingestor(engines, [PointFeed("main", "main"), PointFeed("ev", "main", 2)])
    closed = []
    for second in range(0, 1801, 10):  # 30 minutes of telegrams every 10 s
        now = T0 + timedelta(seconds=second)
        capture = T0 + timedelta(minutes=5 * (second // 300))  # a value every 5 minutes
        closed += ingestor.feed("main", [telegram(now, capture, 50_000 + second)])
    ev = [c.boundary for c in closed if c.ap == "ev"]
    assert [b.status for b in ev] == [MEASURED] * 3  # 10:00, 10:15, 10:30
    assert [b.registers for b in ev] == [(50_000, 0, 0, 0), (50_900, 0, 0, 0), (51_800, 0, 0, 0)]
    assert ev[0].meter == "534C415645"
    assert ingestor.counters["ev"].readings == 7  # one reading per capture, not per telegram
