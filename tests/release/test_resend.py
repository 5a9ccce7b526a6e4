"""Signed resend (issue 11 item 16) and who decides consent (item 9), against a running agent
through a real mosquitto."""

from __future__ import annotations

import json
import time
from pathlib import Path

from edge.adapters.mqtt_blocking import BlockingClient
from edge.blocks.keys import load_private_key
from edge.grid.requester import ask, new_request
from tests.integration.helpers import PRIMARY, edge
from tests.release.helpers import GW, PREFIX, Watcher, consumer_log, make_gateway
from tests.release.test_hostile import agent
from tests.support.mosquitto import Broker, mosquitto_fixture

broker = mosquitto_fixture()


def test_resend_requeues_the_same_bytes_and_the_customers_opt_out_wins(
    tmp_path: Path, broker: Broker
) -> None:
    gateway = make_gateway(tmp_path, broker.url)
    gateway.feed("2026-03-27T00:00:00+01:00", "48h30m")  # the push on the 28th sends the 27th
    watcher = Watcher(broker.settings())
    operator = load_private_key(gateway.keys() / "operator.key")
    now = int(time.time())
    try:
        with agent(gateway), BlockingClient(broker.settings(), client_id="operator") as client:
            deadline = time.monotonic() + 60
            while not watcher.day_topics(PRIMARY):
                assert time.monotonic() < deadline, "the push never arrived"
                time.sleep(0.2)
            first = [p for t, p in watcher.seen if f"/ap/{PRIMARY}/day/2026-03-27" in t]
            resend = new_request("resend", gateway=GW, ap=PRIMARY, now=now, seqs=(1, 1))
            reply = ask(client, PREFIX, resend, operator, timeout=60)
            assert (reply["status"], reply["blocks"]) == ("resent", 1)
            while len([t for t in watcher.day_topics(PRIMARY) if t.endswith("03-27")]) < 2:
                assert time.monotonic() < deadline + 60, "the resent block never arrived"
                time.sleep(0.2)
            again = [p for t, p in watcher.seen if f"/ap/{PRIMARY}/day/2026-03-27" in t]
            assert again == [first[0], first[0]]  # the very same signed bytes: not re-signed
            # the customer opts out; the operator cannot lift it, nor get blocks resent
            out = edge("consent", "--config", str(gateway.config), "--ap", PRIMARY, "opt-out")
            assert out.returncode == 0 and "already sent" in out.stdout, out.stdout
            lift = new_request("consent", gateway=GW, ap=PRIMARY, now=now, consent="opt-in")
            reply = ask(client, PREFIX, lift, operator, timeout=60)
            assert reply["reason"] == "customer-opted-out"
            resend = new_request("resend", gateway=GW, ap=PRIMARY, now=now, seqs=(1, 1))
            assert ask(client, PREFIX, resend, operator, timeout=60)["reason"] == "opted-out"
    finally:
        watcher.close()
    shown = edge("consent", "--config", str(gateway.config), "--ap", PRIMARY, "show")
    assert json.loads(shown.stdout)["set_by"] == "customer"
    log = consumer_log(gateway.config)
    assert any(e["kind"] == "resend" and "1 signed blocks re-queued" in e["detail"] for e in log)
    assert any("customer-opted-out" in e["detail"] for e in log)
    # a resend is not a release: one release per point for the day it ran
    assert sum(e["kind"] == "release" and e["ap"] == PRIMARY for e in log) == 1
