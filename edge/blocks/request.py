"""The grid operator's signed requests to a gateway: readout and consent (SPEC §5 pull).

Strategy: a request is a COSE_Sign1 like a day block, with its own content type, signed with the
operator's Ed25519 key. `open_request` never raises for a bad message: it reports what it found
(`signature_valid`, `problem`) so the policy layer can answer with a refusal (`bad-signature`)
instead of dropping the request. Expiry and replay are policy decisions (they need `now` and
the set of seen ids), so they are not checked here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edge.blocks.cborcompat import strict_loads
from edge.blocks.cose import HEADER_KID, decode_envelope, sign, verify
from edge.errors import BlockError, SignatureError

REQUEST_CONTENT_TYPE = "application/vnd.p1edge.request+cbor"
REQUEST_TYPES = frozenset({"readout", "consent"})
CONSENT_VALUES = frozenset({"opt-out", "opt-in"})
_COMMON_KEYS = frozenset({"type", "gw", "ap", "id", "iat", "exp"})


@dataclass(frozen=True, slots=True)
class Request:
    """A readout or consent request; `iat`/`exp` are Unix seconds; `consent` only for consent.

    `day` (optional, readout only, "YYYY-MM-DD") names the local day the operator asks for.
    """

    type: str
    gw: str
    ap: str
    id: str
    iat: int
    exp: int
    consent: str | None = None
    day: str | None = None

    def __post_init__(self) -> None:
        if self.type not in REQUEST_TYPES:
            raise BlockError(f"request type {self.type!r} is not one of {sorted(REQUEST_TYPES)}")
        for name in ("gw", "ap", "id"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise BlockError(f"request {name} must be a non-empty string")
        if type(self.iat) is not int or type(self.exp) is not int or self.exp < self.iat:
            raise BlockError("request iat/exp must be integer Unix seconds with exp >= iat")
        if (self.type == "consent") != (self.consent is not None):
            raise BlockError("consent is required for a consent request and only there")
        if self.consent is not None and self.consent not in CONSENT_VALUES:
            raise BlockError(f"consent {self.consent!r} is not one of {sorted(CONSENT_VALUES)}")
        if self.day is not None and (self.type != "readout" or not _is_iso_day(self.day)):
            raise BlockError(f"day {self.day!r} must be YYYY-MM-DD, on readout requests only")


def _is_iso_day(text: Any) -> bool:
    try:
        return type(text) is str and len(text) == 10 and bool(date.fromisoformat(text))
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class OpenedRequest:
    """What `open_request` found.

    `request` is None when the payload could not be read at all; `signature_valid` is True only
    when the signature verifies with a known operator key; `problem` explains any failure.
    """

    request: Request | None
    signature_valid: bool
    kid: bytes | None
    problem: str | None


def encode_request(request: Request) -> bytes:
    """The request payload as deterministic CBOR."""
    body: dict[str, Any] = {
        "type": request.type,
        "gw": request.gw,
        "ap": request.ap,
        "id": request.id,
        "iat": request.iat,
        "exp": request.exp,
    }
    if request.consent is not None:
        body["consent"] = request.consent
    if request.day is not None:
        body["day"] = request.day
    return cbor2.dumps(body, canonical=True)


def sign_request(request: Request, key: Ed25519PrivateKey) -> bytes:
    """Encode and sign a request with the operator's key; returns COSE_Sign1 bytes."""
    return sign(encode_request(request), key, REQUEST_CONTENT_TYPE)


def decode_request(payload: bytes) -> Request:
    """Decode a request payload (unverified); raises `BlockError` if malformed."""
    try:
        body = strict_loads(payload)
    except (cbor2.CBORDecodeError, ValueError, TypeError) as exc:
        raise BlockError(f"request payload is not CBOR: {exc}") from exc
    if type(body) is not dict:
        raise BlockError("request payload is not a map")
    required = _COMMON_KEYS | ({"consent"} if body.get("type") == "consent" else set())
    optional = {"day"} if body.get("type") == "readout" else set()
    if not required <= body.keys() <= required | optional:
        raise BlockError(f"request keys {sorted(map(str, body))}: need {sorted(required)}")
    return Request(**body)


def open_request(
    cose_bytes: bytes, operator_keys: Mapping[bytes, Ed25519PublicKey] | Ed25519PublicKey
) -> OpenedRequest:
    """Decode and verify a signed request; never raises for bad input, reports it instead."""
    try:
        message = verify(cose_bytes, operator_keys, content_type=REQUEST_CONTENT_TYPE)
    except SignatureError as exc:
        return _unverified(cose_bytes, str(exc))
    except BlockError as exc:
        return OpenedRequest(request=None, signature_valid=False, kid=None, problem=str(exc))
    try:
        request = decode_request(message.payload)
    except BlockError as exc:
        return OpenedRequest(None, signature_valid=True, kid=message.kid, problem=str(exc))
    return OpenedRequest(request, signature_valid=True, kid=message.kid, problem=None)


def _unverified(cose_bytes: bytes, problem: str) -> OpenedRequest:
    # the signature failed, but the policy still wants to know which request to refuse (its id)
    _, header, payload, _ = decode_envelope(cose_bytes)
    try:
        request: Request | None = decode_request(payload)
    except BlockError:
        request = None
    return OpenedRequest(request, signature_valid=False, kid=header[HEADER_KID], problem=problem)
