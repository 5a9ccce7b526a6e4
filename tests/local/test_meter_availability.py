"""Which meters are available, from their lines' states and the age of their last telegram (time
as an argument); an M-Bus point follows the line it is read through."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from edge.config import load_config
from edge.local import LocalService
from edge.local.availability import MeterAvailability, reading, silence_s
from edge.p1 import decode
from edge.store import connect
from firmware_sim.crc import crc16_arc
from tests.local.helpers import AP, telegram, write_be_config
from tests.local.test_service import Recorder

SUB = "541448800000000002"


@dataclass
class Line:
    state: str
    last_received_monotonic: float | None


def test_silence_thresholds_follow_the_dialects_interval() -> None:
    assert silence_s("dsmr5") == 3.0 and silence_s("fluvius") == 3.0
    assert silence_s("dsmr4") == 30.0 and silence_s("auto") == 30.0  # never too early


def test_a_line_is_read_while_connected_and_recently_heard() -> None:
    assert reading(Line("connected", 100.0), 3.0, 103.0)
    assert not reading(Line("connected", 100.0), 3.0, 103.5)  # silent
    assert not reading(Line("backoff", 100.0), 3.0, 100.5)  # lost, unplugged
    assert not reading(Line("connected", None), 3.0, 100.0)  # reopened, nothing heard yet
    assert not reading(None, 3.0, 100.0)  # no source (yet)


def test_changes_are_reported_once_and_an_mbus_point_follows_its_carrier(tmp_path: Path) -> None:
    extra = f'\n[[allocation_point]]\nean = "{SUB}"\nrole = "secondary"\nsource = "mbus:{AP}:2"\n'
    config = load_config(write_be_config(tmp_path, "/dev/null", dialect="dsmr5", extra=extra))
    lines: dict[str, Line] = {}
    now = [0.0]
    availability = MeterAvailability(config, lambda: lines, clock=lambda: now[0])
    assert availability.changes() == {AP: False, SUB: False}  # the first look: all of them
    lines[AP] = Line("connected", 10.0)
    now[0] = 11.0
    assert availability.changes() == {AP: True, SUB: True}
    assert availability.changes() == {}  # nothing changed
    now[0] = 13.5  # 3.5 s after the last telegram of a 1 s meter
    assert availability.changes() == {AP: False, SUB: False}


def test_the_service_publishes_availability_on_its_tick_and_an_mbus_meter_device(
    tmp_path: Path,
) -> None:
    extra = (
        f'\n[[allocation_point]]\nean = "{SUB}"\nrole = "secondary"\nsource = "mbus:{AP}:2"\n'
        '\n[local]\nbroker = "mqtt://127.0.0.1:1"\nlive_interval_s = 1\n'
    )
    config = load_config(write_be_config(tmp_path, "/dev/null", dialect="dsmr5", extra=extra))
    lines = {AP: Line("connected", 10.0)}
    now = [11.0]
    publisher = Recorder()
    conn = connect(tmp_path / "data")
    try:
        service = LocalService(
            config, publisher, conn, ZoneInfo("Europe/Brussels"),
            availability=MeterAvailability(config, lambda: lines, clock=lambda: now[0]),
        )  # fmt: skip
        topics = [f"p1edge/local/GW-BE/{ap}/availability" for ap in (AP, SUB)]
        assert [publisher.retained[t] for t in topics] == [b"offline", b"offline"]
        service.on_tick(0)
        assert [publisher.retained[t] for t in topics] == [b"online", b"online"]
        now[0] = 20.0
        service.on_tick(0)
        assert [publisher.retained[t] for t in topics] == [b"offline", b"offline"]
        raw = telegram(1_772_406_000, 5_000_000, 700)
        body = raw[: raw.rindex(b"!")] + (
            b"0-2:24.1.0(002)\r\n0-2:96.1.0(4530303030303030303030303030303032)\r\n"
            b"0-2:24.2.1(260302000000W)(001234.567*kWh)\r\n!"
        )
        service.on_telegrams(AP, decode(body + f"{crc16_arc(body):04X}\r\n".encode()))
    finally:
        conn.close()
    sub = publisher.retained[f"homeassistant/device/p1edge_GW-BE_{SUB}/config"]
    config_sub = json.loads(sub)
    assert config_sub["dev"]["via_device"] == f"p1edge_GW-BE_{AP}"  # read through the meter
    assert config_sub["cmps"]["import_kwh"]["unit_of_measurement"] == "kWh"
    assert config_sub["availability"][1] == {"topic": f"p1edge/local/GW-BE/{SUB}/availability"}
