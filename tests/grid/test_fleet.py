"""The fleet generator: real keys and blocks that the grid verifier accepts, reproducibly."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from itertools import pairwise
from pathlib import Path

import cbor2

from edge.adapters.mqtt_blocking import BlockingClient
from edge.adapters.mqtt_topics import day_filter
from edge.blocks.cose import key_id, keyring
from edge.blocks.keys import load_public_key
from edge.blocks.payload import REGISTERS
from edge.grid.fleet import FleetSpec, generate, plan
from edge.grid.fleet_io import read_blocks, write_fleet
from edge.grid.registry import parse_registry
from edge.grid.verify import verify_blocks
from tests.support.mosquitto import Broker, mosquitto_fixture

SPEC = FleetSpec(gateways=40, days=3, seed=11, secondaries=0.5, opt_out=0.1, gap_rate=0.05,
                 fault_rate=0.3, decrease_rate=0.2)  # fmt: skip


def test_the_fleet_verifies_with_keys_bound_to_gateways_and_shows_every_fault(
    tmp_path: Path,
) -> None:
    written = write_fleet(SPEC, tmp_path, generate(SPEC))
    rows = parse_registry(tmp_path / "registry.csv")
    keys = {p.stem: load_public_key(p) for p in (tmp_path / "pubkeys").glob("*.pub")}
    assert len(keys) == SPEC.gateways
    blocks = list(read_blocks(tmp_path))
    assert len(blocks) == written
    result = verify_blocks(
        [(f"{g}/{a}/{s}", c) for g, a, s, c in blocks],
        keyring(*keys.values()),
        gateway_kids={gw: key_id(k) for gw, k in keys.items()},
    )
    assert result.ok, [r.problems for r in result.reports if r.problems][:3]
    assert result.gaps  # blocks signed but lost
    payloads = [cbor2.loads(cbor2.loads(c).value[2]) for _, _, _, c in blocks]
    assert {p["ap"] for p in payloads} <= {r.ap for r in rows}
    roles = Counter(p["role"] for p in payloads)
    assert roles["primary"] and roles["secondary"]
    statuses = Counter(s for p in payloads for s in p["status"])
    assert statuses["interpolated"] and statuses["missing"]
    flags = Counter(f for p in payloads for fs in p["flags"] for f in fs)
    assert flags["register_decreased"] and flags["power_failure"]
    meters, _ = plan(SPEC)
    opted = [m for m in meters if m.opt_out_day is not None]
    assert opted
    for meter in opted:  # nothing from the opt-out day on
        days = [p["day"] for p in payloads if p["ap"] == meter.ap]
        assert len(days) <= meter.opt_out_day
    assert len({r.grid_area for r in rows}) > 1 and len({r.supplier for r in rows}) > 3


def test_the_main_meter_sees_house_plus_secondaries() -> None:
    spec = FleetSpec(gateways=30, days=1, seed=5, secondaries=1.0, opt_out=0.0, gap_rate=0.0,
                     fault_rate=0.0, decrease_rate=0.0)  # fmt: skip
    payloads = [cbor2.loads(cbor2.loads(b.cose).value[2]) for b in generate(spec)]
    by_gw: dict[str, list[dict[str, object]]] = {}
    for p in payloads:
        by_gw.setdefault(str(p["gw"]), []).append(p)

    def net(p: dict[str, object]) -> list[int]:
        r = p["readings"]
        assert isinstance(r, dict)
        total = [a + b - c - d for a, b, c, d in zip(*(r[k] for k in REGISTERS), strict=True)]
        return [y - x for x, y in pairwise(total)]

    for points in by_gw.values():
        main = next(p for p in points if p["role"] == "primary")
        house = net(main)
        for p in points:
            if p["role"] == "secondary":
                house = [h - s for h, s in zip(house, net(p), strict=True)]
        assert min(house) > 0  # what is left is the household's own load


def test_the_cli_is_reproducible(tmp_path: Path) -> None:
    outputs = []
    for name in ("a", "b"):
        out = tmp_path / name
        done = subprocess.run(
            [sys.executable, "-m", "edge", "grid", "fleet", "--gateways", "12", "--days", "2",
             "--seed", "4", "--out", str(out), "--secondaries", "0.5", "--opt-out", "0.1"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "fleet: 12 gateways" in done.stdout
        outputs.append(
            {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
        )
    assert outputs[0] == outputs[1]
    assert sum(1 for p in outputs[0] if p.suffix == ".cose") >= 20


broker = mosquitto_fixture()


def test_publish_sends_every_block_on_its_day_topic_at_qos_1(
    tmp_path: Path, broker: Broker
) -> None:
    with BlockingClient(broker.settings()) as listener:
        listener.connect()
        listener.subscribe(day_filter("p1edge/v1"), qos=1)
        done = subprocess.run(
            [sys.executable, "-m", "edge", "grid", "fleet", "--gateways", "15", "--days", "2",
             "--seed", "9", "--out", str(tmp_path), "--publish", broker.url, "--window", "0.5"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        files = {(g, a, s): c for g, a, s, c in read_blocks(tmp_path)}
        assert f"fleet: {len(files)} blocks published" in done.stdout
        received: dict[str, bytes] = {}
        deadline = time.monotonic() + 60
        while len(received) < len(files) and time.monotonic() < deadline:
            message = listener.receive(timeout=0.5)
            if message is not None:
                assert message.qos == 1
                received[message.topic] = message.payload
    assert sorted(received.values()) == sorted(files.values())
    for topic, cose in received.items():
        payload = cbor2.loads(cbor2.loads(cose).value[2])
        assert topic == f"p1edge/v1/{payload['gw']}/ap/{payload['ap']}/day/{payload['day']}"
