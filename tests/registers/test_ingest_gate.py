"""The time gate in the ingest path, on real decoded telegrams: a live line with a trusted
gateway clock, an S/W swap, an M-Bus capture time, and a roll-back after a failed commit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from edge.ingest import Ingestor, PointFeed
from edge.p1 import Telegram, decode
from edge.p1.crc import crc16_arc_pure
from edge.registers import MEASURED, MeterEngine

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)  # a boundary, summer (S = UTC+2)


def telegram(utc: datetime, wh: int, *, letter: str = "S", mbus: str | None = None) -> Telegram:
    offset = {"S": 2, "W": 1}[letter]
    stamp = (utc + timedelta(hours=offset)).strftime("%y%m%d%H%M%S") + letter
    lines = [
        "/ISk5\\2MT382-1000", "", "1-3:0.2.8(50)", f"0-0:1.0.0({stamp})",
        "0-0:96.1.1(4530303030303030303030303030303031)",
        f"1-0:1.8.1({wh // 1000:06d}.{wh % 1000:03d}*kWh)", "1-0:1.8.2(000200.000*kWh)",
        "1-0:2.8.1(000000.000*kWh)", "1-0:2.8.2(000000.000*kWh)",
    ]  # fmt: skip
    if mbus is not None:
        lines += ["0-2:24.1.0(002)", "0-2:96.1.0(534C415645)", f"0-2:24.2.1({mbus})(00050.000*kWh)"]
    body = "\r\n".join([*lines, "!"]).encode()
    (parsed,) = decode(body + f"{crc16_arc_pure(body):04X}\r\n".encode())
    return parsed


def live() -> Ingestor:
    return Ingestor({"ap": MeterEngine("ap", interval_s=1)}, [PointFeed("ap", "ap")])


def test_a_live_line_judged_against_the_trusted_gateway_clock() -> None:
    ingestor = live()
    closed = []
    for k in range(1200):
        at = T0 + timedelta(seconds=k)
        received = int(at.timestamp())
        batch = [telegram(at, 100_000 + k)]
        if k == 300:  # a forged far-future telegram (valid CRC) and an S/W swap
            batch += [telegram(datetime(2099, 6, 30, 21, 59, 59, tzinfo=UTC), 1)]
            batch += [telegram(at + timedelta(hours=1), 100_300, letter="W")]
        closed += ingestor.feed("ap", batch, received)
    assert [(c.boundary.utc, c.boundary.status) for c in closed] == [
        (int(T0.timestamp()) + 900 * q, MEASURED) for q in range(2)
    ]
    assert closed[1].boundary.registers == (100_900, 200_000, 0, 0)  # the truth at 09:15
    assert ingestor.counters["ap"].rejected_time == 2
    assert ingestor.engines["ap"].pending == int(T0.timestamp()) + 1800


def test_a_bad_m_bus_capture_time_is_rejected_against_its_telegram() -> None:
    engines = {"main": MeterEngine("main", interval_s=1), "ev": MeterEngine("ev", interval_s=300)}
    ingestor = Ingestor(engines, [PointFeed("main", "main"), PointFeed("ev", "main", 2)])
    for k in range(5):
        at = T0 + timedelta(seconds=k)
        ingestor.feed("main", [telegram(at, 100_000, mbus="991231235959W")], int(at.timestamp()))
    assert ingestor.counters["ev"].rejected_time == 5
    assert ingestor.engines["ev"].pending is None  # never placed in 2099


def test_a_roll_back_restores_engines_and_gates_together() -> None:
    ingestor = live()
    for k in range(600):
        ingestor.feed("ap", [telegram(T0 + timedelta(seconds=k), 100_000 + k)])
    committed = {"ap": ingestor.engines["ap"].checkpoint()}
    later = [telegram(T0 + timedelta(seconds=k), 100_000 + k) for k in range(600, 1900)]
    first = ingestor.feed("ap", later)
    ingestor.restore(committed)  # the commit of `first` failed
    assert ingestor.feed("ap", later) == first and first
