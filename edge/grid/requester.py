"""The grid operator's readout and consent requests: sign, send, wait for the gateway's reply.

Strategy: the request is built and signed with `edge.blocks.request` (COSE_Sign1, the operator's
Ed25519 key); the reply topic is subscribed *before* the request is published, so a fast gateway
cannot answer into the void. Replies are matched by request id: other traffic on the reply topic
(answers to other requests) is ignored.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.adapters.mqtt_blocking import BlockingClient
from edge.adapters.mqtt_topics import CommandKind, command_topic, reply_topic
from edge.blocks.request import Request, sign_request
from edge.errors import BlockError, RequestTimeoutError

DEFAULT_LIFETIME = 300  # seconds a request stays valid: long enough for a slow link, no longer


def new_request(
    kind: CommandKind,
    *,
    gateway: str,
    ap: str,
    now: int,
    lifetime: int = DEFAULT_LIFETIME,
    consent: str | None = None,
    day: str | None = None,
    request_id: str | None = None,
    seqs: tuple[int, int] | None = None,
) -> Request:
    """A request issued at `now` (Unix seconds) with a fresh random id unless one is given;
    `seqs` (first, last) for a resend."""
    first, last = seqs if seqs is not None else (None, None)
    return Request(
        type=kind,
        gw=gateway,
        ap=ap,
        id=request_id or secrets.token_hex(8),
        iat=now,
        exp=now + lifetime,
        consent=consent,
        day=day,
        from_seq=first,
        to_seq=last,
    )


def parse_seq_range(text: str) -> tuple[int, int]:
    """``"FROM-TO"`` (or one seq) as (first, last); raises `BlockError` when it is not one."""
    head, _, tail = text.partition("-")
    try:
        first = int(head)
        last = int(tail) if tail else first
    except ValueError:
        raise BlockError(f"--resend {text!r}: expected FROM-TO, e.g. 12-15") from None
    if not 1 <= first <= last:
        raise BlockError(f"--resend {text!r}: need 1 <= FROM <= TO")
    return first, last


def ask(
    client: BlockingClient,
    prefix: str,
    request: Request,
    key: Ed25519PrivateKey,
    *,
    timeout: float,
) -> dict[str, Any]:
    """Send the signed request and return the gateway's JSON reply to it.

    Raises `RequestTimeoutError` when no reply with this request id arrives within `timeout`
    seconds, and `MqttError` when the broker cannot be used.
    """
    kind: CommandKind = request.type if request.type in ("consent", "resend") else "readout"  # type: ignore[assignment]
    client.subscribe(reply_topic(prefix, request.gw, kind))
    client.publish(command_topic(prefix, request.gw, kind), sign_request(request, key), qos=1)
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        message = client.receive(timeout=left)
        if message is None:
            break
        reply = _json(message.payload)
        if reply is not None and reply.get("request_id") == request.id:
            return reply
    raise RequestTimeoutError(f"no reply to request {request.id} from {request.gw} in {timeout} s")


def _json(payload: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def describe_reply(reply: dict[str, Any]) -> str:
    """One human line for a reply, e.g. ``released 871...: 2026-03-01..2026-03-09``."""
    status = reply.get("status", "?")
    where = f"{reply.get('ap', '?')} (request {reply.get('request_id', '?')})"
    if status == "refused":
        return f"refused {where}: {reply.get('reason', 'no reason given')}"
    if status == "released":
        periods = ", ".join(f"{a}..{b}" if a != b else a for a, b in reply.get("periods", []))
        return f"released {where}: {periods or 'nothing'}"
    if status == "resent":
        seqs = f"{reply.get('from_seq', '?')}-{reply.get('to_seq', '?')}"
        return f"resent {where}: seq {seqs}, {reply.get('blocks', '?')} blocks re-queued"
    if status == "consent-set":
        return f"consent set {where}: {reply.get('consent', '?')}"
    return f"{status} {where}"
