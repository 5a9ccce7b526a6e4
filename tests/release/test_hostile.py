"""Hostile requests against a running agent through a real mosquitto (issue 10, item 1).

A forged request published *retained* is delivered again on every (re)connect: if it killed
the agent, systemd's restarts would crash-loop. It must be refused (rate-limited in the consumer
log), and the agent must keep answering genuine requests across restarts.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.adapters.mqtt_blocking import BlockingClient
from edge.adapters.mqtt_topics import command_topic, reply_topic
from edge.blocks.cose import sign
from edge.blocks.keys import load_private_key
from edge.blocks.request import REQUEST_CONTENT_TYPE
from edge.grid.requester import ask, new_request
from tests.integration.helpers import PRIMARY, edge
from tests.release.helpers import GW, PREFIX, Gateway, consumer_log, make_gateway
from tests.support.mosquitto import Broker, mosquitto_fixture

broker = mosquitto_fixture()


seen: list[bytes] = []


def wait_reply(client: BlockingClient, request_id: str, timeout: float) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        message = client.receive(timeout=left)
        if message is None:
            break
        seen.append(message.payload)
        reply = json.loads(message.payload)
        if reply.get("request_id") == request_id:
            return reply  # type: ignore[no-any-return]
    raise AssertionError(f"no reply to {request_id} in {timeout} s")


def forged(key: Ed25519PrivateKey, kind: str, **fields: object) -> bytes:
    body = {"type": kind, "gw": GW, "ap": PRIMARY, "id": "forged", **fields}  # fields win
    return sign(cbor2.dumps(body), key, REQUEST_CONTENT_TYPE)


@contextmanager
def agent(gateway: Gateway) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "edge", "run", "--config", str(gateway.config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            result = edge("status", "--config", str(gateway.config), "--json")
            status = json.loads(result.stdout) if result.stdout.strip() else {}
            sources = status.get("sources") or []
            if sources and all(s["state"] == "stopped" for s in sources):
                break
            time.sleep(0.3)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=30)
        print(errors[-3000:])  # shown by pytest when the test fails


def test_retained_forged_requests_neither_kill_nor_flood(tmp_path: Path, broker: Broker) -> None:
    gateway = make_gateway(tmp_path, broker.url)
    gateway.feed("2026-03-27T00:00:00+01:00", "2h")
    operator = load_private_key(gateway.keys() / "operator.key")
    forger = Ed25519PrivateKey.generate()
    with BlockingClient(broker.settings(), client_id="attacker") as attacker:
        attacker.subscribe(reply_topic(PREFIX, GW, "readout"))
        for restart in range(3):
            poison = {  # a new id each time, so its answer tells this start from the last
                "readout": forged(forger, "readout", id=f"forged-{restart}", iat=10**12,
                                  exp=10**12 + 60),
                "consent": forged(forger, "consent", iat=-(10**12), exp=0, consent="opt-out"),
                # a 100 kB request id: refused before decoding, never echoed
                "resend": forged(forger, "resend", iat=1, exp=2, id="x" * 100_000),
            }  # fmt: skip
            for kind, payload in poison.items():
                topic = command_topic(PREFIX, GW, kind)  # type: ignore[arg-type]
                attacker.publish(topic, payload, qos=1, retain=True)
            with agent(gateway) as process:
                # subscribed and serving once the retained forgery is answered (refused)
                answer = wait_reply(attacker, f"forged-{restart}", timeout=60)
                assert answer["reason"] == "bad-signature"
                assert process.poll() is None, f"agent died on start {restart}"
                # a flood of the same forgery on top of the retained ones
                for _ in range(200):
                    attacker.publish(command_topic(PREFIX, GW, "readout"), poison["readout"], qos=0)
                request = new_request("readout", gateway=GW, ap=PRIMARY, now=int(time.time()))
                # one client for both sides: each paho client is a socket that must be closed
                reply = ask(attacker, PREFIX, request, operator, timeout=60)
                assert reply["request_id"] == request.id  # answered: alive and serving
                assert process.poll() is None
        replies = [*seen]
        while (message := attacker.receive(timeout=0.5)) is not None:
            replies.append(message.payload)
    assert replies and max(len(r) for r in replies) < 400  # every echoed field bounded
    log = consumer_log(gateway.config)
    assert max(len(json.dumps(e)) for e in log) < 1000
    unverified = [e for e in log if e["kind"] == "refusal" and not e["ap"]]
    # 3 starts x 3 kinds x (1 + 200 flood) forgeries: at most two rows per kind per hour
    assert 1 <= len(unverified) <= 2 * 3, unverified
    # the genuine requests are always logged
    assert sum(1 for e in log if e["ap"] == PRIMARY) >= 3
