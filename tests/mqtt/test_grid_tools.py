"""The grid operator's side: signed requests answered over MQTT, and the block collector."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.adapters.mqtt import Command, GridLink
from edge.adapters.mqtt_blocking import BlockingClient
from edge.adapters.mqtt_topics import day_topic
from edge.blocks.cose import keyring
from edge.blocks.keys import save_private_key, save_public_key
from edge.blocks.request import open_request
from edge.cli import main
from edge.grid.collector import Collector, gap_line
from edge.grid.requester import ask, new_request
from edge.grid.subscriber import SessionOptions, collect
from edge.policy import (
    PointConfig,
    PolicyConfig,
    PolicyState,
    Request,
    handle_request,
    refuse_unverified,
)
from tests.blocks.factory import AP, GW, make_chain
from tests.mqtt.helpers import TIMEOUT, running_link
from tests.support.mosquitto import Broker, mosquitto_fixture

broker = mosquitto_fixture()
PREFIX = "p1edge/v1"
Chain = tuple[list[bytes], Ed25519PrivateKey]


class StubGateway:
    """The gateway side of a request, as the agent will wire it: open, decide, reply."""

    def __init__(self, operator: Ed25519PrivateKey) -> None:
        self.operator = operator.public_key()
        self.config = PolicyConfig(gateway_id=GW, tz="Europe/Amsterdam", points=(PointConfig(AP),))
        self.state = PolicyState()
        self.link: GridLink | None = None

    def __call__(self, command: Command) -> None:
        opened = open_request(command.payload, self.operator)
        raw = opened.request
        assert self.link is not None
        if raw is None:  # unverified: refused from its claimed id alone, as the agent does
            refused = refuse_unverified(datetime.now(UTC), command.kind, opened.claimed_id, "")
            assert refused.reply is not None
            self.link.publish_reply(command.kind, json.dumps(refused.reply.to_json()).encode())
            return
        request = Request(
            type=command.kind,
            gw=raw.gw,
            ap=raw.ap,
            request_id=raw.id,
            issued_at=datetime.fromtimestamp(raw.iat, UTC),
            expires_at=datetime.fromtimestamp(raw.exp, UTC),
            signature_valid=opened.signature_valid,
            consent=raw.consent,  # type: ignore[arg-type]
        )
        now = datetime.now(UTC)
        outcome = handle_request(self.state, now, self.config, request, {AP: date(2026, 1, 1)})
        self.state = outcome.state
        assert outcome.reply is not None
        self.link.publish_reply(command.kind, json.dumps(outcome.reply.to_json()).encode())


@pytest.fixture
def gateway(broker: Broker, tmp_path: Path) -> Iterator[Ed25519PrivateKey]:
    """A stub gateway on the broker; yields the operator key it trusts."""
    operator = Ed25519PrivateKey.generate()
    stub = StubGateway(operator)
    with running_link(broker.settings(), tmp_path / "gw.sqlite", GW, on_command=stub) as link:
        stub.link = link
        assert link.wait(lambda s: s.connected, TIMEOUT).connected
        yield operator


def test_readout_request_round_trip_release_then_refusal(
    broker: Broker, gateway: Ed25519PrivateKey
) -> None:
    operator = gateway
    with BlockingClient(broker.settings()) as client:
        first = new_request("readout", gateway=GW, ap=AP, now=int(time.time()))
        reply = ask(client, PREFIX, first, operator, timeout=TIMEOUT)
        assert reply["request_id"] == first.id and reply["status"] == "released"
        again = new_request("readout", gateway=GW, ap=AP, now=int(time.time()))
        reply = ask(client, PREFIX, again, operator, timeout=TIMEOUT)
        assert (reply["status"], reply["reason"]) == ("refused", "already-released-today")
        forged = new_request("readout", gateway=GW, ap=AP, now=int(time.time()))
        reply = ask(client, PREFIX, forged, Ed25519PrivateKey.generate(), timeout=TIMEOUT)
        assert (reply["status"], reply["reason"]) == ("refused", "bad-signature")


def test_grid_request_cli_prints_the_reply_and_times_out(
    broker: Broker, gateway: Ed25519PrivateKey, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    operator = gateway
    key = tmp_path / "operator.key"
    save_private_key(operator, key)
    common = ["grid", "request", "--key", str(key), "--broker", broker.url, "--ap", AP]
    assert main([*common, "--gateway", GW, "--type", "consent", "--consent", "opt-out"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert '"status": "consent-set"' in out and "opted-out" in out
    assert json.loads(out)["status"] == "consent-set"  # stdout is JSON only: it pipes into jq
    assert "consent set" in captured.err  # the human line goes to stderr
    assert main([*common, "--gateway", GW]) == 0
    out = capsys.readouterr().out
    assert "refused" in out and "opted-out" in out
    assert main([*common, "--gateway", "gw-nobody", "--timeout", "1"]) == 1
    assert "timeout" in capsys.readouterr().err


# ---- collector ---------------------------------------------------------------------------------


@pytest.fixture
def chain() -> Chain:
    key = Ed25519PrivateKey.generate()
    return make_chain(key, 5), key


def topic(seq: int) -> str:
    return day_topic(PREFIX, GW, AP, f"2026-03-{seq:02d}")


def test_collector_stores_once_verifies_and_reports_gaps(chain: Chain, tmp_path: Path) -> None:
    blocks, key = chain
    other_key = Ed25519PrivateKey.generate()  # a second gateway key the collector trusts
    collector = Collector(
        tmp_path / "grid.sqlite", keyring(key.public_key(), other_key.public_key())
    )
    try:
        verdicts = [
            collector.handle(topic(seq), blocks[seq - 1], now=0).verdict for seq in (1, 2, 2, 4)
        ]
        assert verdicts == ["stored", "stored", "duplicate", "stored"]
        assert [gap_line(g) for g in collector.gaps()] == [f"gap   {GW}/{AP} seq 3 missing"]
        tampered = bytearray(blocks[4])
        tampered[-1] ^= 1
        bad = collector.handle(topic(5), bytes(tampered), now=0)
        assert bad.verdict == "rejected" and "signature" in bad.line()
        wrong_topic = collector.handle(topic(4), blocks[4], now=0)
        assert wrong_topic.verdict == "rejected" and "topic says" in wrong_topic.problems[0]
        other = make_chain(other_key, 5)  # same seqs and days, other bytes
        reused = collector.handle(topic(2), other[1], now=0)
        assert reused.verdict == "rejected" and "reused" in reused.problems[0]
        broken = collector.handle(topic(3), other[2], now=0)  # prev is not stored seq 2's hash
        assert broken.verdict == "rejected" and "prev does not match" in broken.line()
        fill = collector.handle(topic(3), blocks[2], now=0)
        assert fill.verdict == "stored" and fill.gaps == ()
        assert collector.blocks(GW, AP) == blocks[:4]
    finally:
        collector.close()


def test_collect_over_mqtt_and_the_cli(
    broker: Broker, chain: Chain, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocks, key = chain
    keys = tmp_path / "keys"
    keys.mkdir()
    save_public_key(key, keys / f"{GW}.pub")
    db = tmp_path / "grid.sqlite"
    argv = ["grid", "collect", "--broker", broker.url, "--pubkeys", str(keys), "--db", str(db)]
    result: list[int] = []
    runner = threading.Thread(
        target=lambda: result.append(main([*argv, "--until", "3", "--timeout", str(TIMEOUT)]))
    )
    runner.start()
    with BlockingClient(broker.settings()) as gateway:
        # the collector subscribes when it is ready: repeat block 1 (duplicates are harmless)
        deadline = time.monotonic() + TIMEOUT
        while _stored(db) < 1 and time.monotonic() < deadline:
            gateway.publish(topic(1), blocks[0])
            time.sleep(0.05)  # pacing only; the condition is what is awaited
        for seq in (2, 2, 4):
            gateway.publish(topic(seq), blocks[seq - 1])
    runner.join(TIMEOUT)
    assert result == [0]
    out = capsys.readouterr().out
    assert f"ok    {GW}/{AP} seq=4 day=2026-03-04" in out
    assert f"gap   {GW}/{AP} seq 3 missing" in out
    assert "collected: 3 stored" in out and "1 gaps" in out


def _stored(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM block").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def test_collect_function_stops_at_its_deadline(
    broker: Broker, chain: Chain, tmp_path: Path
) -> None:
    _blocks, key = chain
    collector = Collector(tmp_path / "grid.sqlite", keyring(key.public_key()))
    lines: list[str] = []
    try:
        summary = collect(
            broker.settings(), collector, SessionOptions("deadline-test"), until=1,
            deadline=0, out=lines.append, note=lines.append, clock=time.monotonic,
        )  # fmt: skip
    finally:
        collector.close()
    assert (summary.stored, summary.stop_reason, lines) == (0, "timeout", [])
