"""Signed readout requests from the grid operator against a running agent (meter time)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.adapters.mqtt_blocking import BlockingClient
from edge.adapters.mqtt_topics import command_topic
from edge.blocks.keys import load_private_key
from edge.blocks.request import sign_request
from edge.grid.requester import ask, new_request
from tests.integration.helpers import PRIMARY, SECONDARY_EV, edge
from tests.release.helpers import GW, PREFIX, Gateway, consumer_log, make_gateway
from tests.support.mosquitto import Broker, mosquitto_fixture

broker = mosquitto_fixture()


@pytest.fixture
def running(tmp_path: Path, broker: Broker) -> Iterator[Gateway]:
    gateway = make_gateway(tmp_path, broker.url)
    # days 27 and 28 complete; the capture ends at 00:30 on the 29th, before the push window
    gateway.feed("2026-03-27T00:00:00+01:00", "48h30m")
    agent = subprocess.Popen(
        [sys.executable, "-m", "edge", "run", "--config", str(gateway.config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            result = edge("status", "--config", str(gateway.config), "--json")
            status = json.loads(result.stdout) if result.stdout.strip() else {}
            sources = status.get("sources") or []
            # the link must be connected (and so subscribed) before a request is sent: a
            # request published earlier is not retained and would never be answered
            grid = status.get("links", {}).get("grid", {}).get("state")
            # and the capture handled to its end: a source is stopped once read, while its last
            # batches may still wait for the main loop (the 28th must be stored complete)
            points = (status.get("points") or {}).values()
            stored = points and all(
                (p.get("last_boundary_utc") or "") >= "2026-03-28T23:00:00Z" for p in points
            )
            read = sources and all(s["state"] == "stopped" for s in sources)
            if read and stored and grid == "connected":
                break
            time.sleep(0.3)
        yield gateway
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.communicate(timeout=30)


def test_requests_are_answered_or_refused_with_their_reason(
    running: Gateway, broker: Broker
) -> None:
    operator = load_private_key(running.keys() / "operator.key")
    forger = Ed25519PrivateKey.generate()
    now = int(time.time())

    def request(ap: str, **options: object) -> object:
        return new_request("readout", gateway=GW, ap=ap, now=now, **options)  # type: ignore[arg-type]

    # connected by `with` alone: a second connect() raced paho's network thread for the
    # socket and leaked one (a ResourceWarning, an error under filterwarnings = error)
    with BlockingClient(broker.settings(), client_id="operator") as client:

        def send(req: object, key: Ed25519PrivateKey = operator) -> dict[str, object]:
            return ask(client, PREFIX, req, key, timeout=30)  # type: ignore[arg-type]

        first = send(request(SECONDARY_EV))
        assert first["status"] == "released"
        # the 27th went out with the push on the 28th; the pull on the 29th takes the 28th
        assert first["periods"] == [["2026-03-28", "2026-03-28"]]
        assert send(request(SECONDARY_EV))["reason"] == "already-released-today"
        assert send(request(PRIMARY, day="2026-03-29"))["reason"] == "nothing-complete"
        assert send(request(PRIMARY), key=forger)["reason"] == "bad-signature"
        expired = new_request("readout", gateway=GW, ap=PRIMARY, now=now - 900, lifetime=300)
        assert send(expired)["reason"] == "expired"
        assert send(request("871687120000000099"))["reason"] == "unknown-allocation-point"
        once = request(PRIMARY)
        assert send(once)["status"] == "released"
        # the very same signed bytes again: a replay
        client.publish(command_topic(PREFIX, GW, "readout"), sign_request(once, operator), qos=1)  # type: ignore[arg-type]
        assert send(once)["reason"] == "replayed"
    log = consumer_log(running.config)
    refusals = [e["detail"] for e in log if e["kind"] == "refusal"]
    for reason in ("already-released-today", "nothing-complete", "bad-signature", "expired",
                   "unknown-allocation-point", "replayed"):  # fmt: skip
        assert any(reason in str(detail) for detail in refusals), (reason, refusals)
    # pushes on the 28th (both points), pulls on the 29th (both points)
    assert sum(e["kind"] == "release" for e in log) == 4
