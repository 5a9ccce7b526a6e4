"""Fuzzing the request path (issue 10): any bytes on the cmd topics are answered or refused,
never raise, and nothing echoed or logged grows with the input.

Pure level: `open_request` → `to_policy_request` → `handle_request` / `refuse_unverified` for
arbitrary bytes and for *signed* requests with arbitrary field values (the signature is the
operator's own, so the field checks are what stands). End to end: a handful of such payloads
through a real mosquitto to a running agent, which must keep answering genuine requests.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.adapters.mqtt_blocking import BlockingClient
from edge.adapters.mqtt_topics import COMMAND_KINDS, command_topic
from edge.blocks.cose import keyring, sign
from edge.blocks.keys import save_public_key
from edge.blocks.request import REQUEST_CONTENT_TYPE, open_request
from edge.grid.requester import ask, new_request
from edge.policy import (
    PointConfig,
    PolicyConfig,
    PolicyState,
    handle_request,
    refuse_unverified,
)
from edge.release.service import to_policy_request
from tests.integration.helpers import PRIMARY
from tests.release.helpers import GW, PREFIX, Gateway, make_gateway
from tests.release.test_hostile import agent
from tests.support.mosquitto import Broker, mosquitto_fixture

broker = mosquitto_fixture()
OPERATOR = Ed25519PrivateKey.generate()
RING = keyring(OPERATOR.public_key())
POLICY = PolicyConfig(gateway_id=GW, tz="Europe/Amsterdam", points=(PointConfig(PRIMARY),))
NOW = datetime(2026, 6, 5, 12, tzinfo=UTC)
BOUND = 1500  # bytes (JSON-escaped): any reply or log line, whatever came in

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=300),
    st.binary(max_size=50),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=5)
good = {
    "type": st.sampled_from(["readout", "consent", "resend", "other"]),
    "gw": st.sampled_from([GW, "", "x" * 100]),
    "ap": st.sampled_from([PRIMARY, "871687129999999999"]),
    "id": st.text(min_size=1, max_size=80),
    "iat": st.integers(min_value=-(10**13), max_value=10**13),
    "exp": st.integers(min_value=-(10**13), max_value=10**13),
    "consent": st.sampled_from(["opt-in", "opt-out", "maybe"]),
    "day": st.sampled_from(["2026-06-04", "2026-13-01", "today"]),
    "from_seq": st.integers(min_value=-5, max_value=2**64),
    "to_seq": st.integers(min_value=-5, max_value=2**64),
}
bodies = st.fixed_dictionaries({}, optional={k: st.one_of(v, values) for k, v in good.items()}).map(
    lambda d: {**d}
)


def judge(payload: bytes, shift: timedelta = timedelta(0)) -> None:
    opened = open_request(payload, RING)
    if opened.request is None:
        kind = "readout"
        outcome = refuse_unverified(NOW, kind, opened.claimed_id, (opened.problem or "")[:300])
    else:
        request = to_policy_request(opened.request, shift)
        outcome = handle_request(PolicyState(), NOW, POLICY, request, {PRIMARY: date(2026, 6, 1)})
    if outcome.reply is not None:
        assert len(json.dumps(outcome.reply.to_json())) < BOUND
    for entry in outcome.log:
        assert len(json.dumps(entry.to_json())) < BOUND


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=6000))
def test_any_bytes_are_refused_or_judged_never_raised(payload: bytes) -> None:
    judge(payload)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies, st.integers(min_value=-(10**9), max_value=10**9))
def test_signed_requests_with_any_fields_never_raise(body: dict[str, Any], shift_s: int) -> None:
    try:
        payload = cbor2.dumps(body)
    except (ValueError, TypeError, OverflowError):
        return  # not encodable: cannot be sent at all
    judge(sign(payload, OPERATOR, REQUEST_CONTENT_TYPE), timedelta(seconds=shift_s))
    judge(sign(payload, Ed25519PrivateKey.generate(), REQUEST_CONTENT_TYPE))  # forged twin


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, broker: Broker) -> Iterator[Any]:
    gateway = make_gateway(tmp_path_factory.mktemp("gw"), broker.url)
    # the gateway trusts OPERATOR: the fuzz's signed requests pass the signature check
    (gateway.keys() / "operator.pub").unlink()
    save_public_key(OPERATOR.public_key(), gateway.keys() / "operator.pub")
    gateway.feed("2026-03-27T00:00:00+01:00", "2h")
    with agent(gateway) as process, BlockingClient(broker.settings(), client_id="fuzz") as client:
        yield gateway, process, client


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(payload=st.one_of(st.binary(max_size=20_000), bodies.map(lambda b: _signed(b))))
def test_a_running_agent_survives_fuzz_on_every_cmd_topic(
    running: tuple[Gateway, Any, BlockingClient], payload: bytes
) -> None:
    _, process, client = running
    for kind in COMMAND_KINDS:
        client.publish(command_topic(PREFIX, GW, kind), payload, qos=1)
    request = new_request("readout", gateway=GW, ap=PRIMARY, now=int(time.time()))
    reply = ask(client, PREFIX, request, OPERATOR, timeout=60)
    assert reply["request_id"] == request.id and process.poll() is None


def _signed(body: dict[str, Any]) -> bytes:
    try:
        return sign(cbor2.dumps(body), OPERATOR, REQUEST_CONTENT_TYPE)
    except (ValueError, TypeError, OverflowError):
        return b"\xd2"


def test_agent_memory_stays_bounded_after_the_fuzz(running: tuple[Gateway, Any, Any]) -> None:
    _, process, _ = running
    status = Path(f"/proc/{process.pid}/status").read_text()
    rss_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))
    assert process.poll() is None and rss_kb < 300_000, rss_kb
