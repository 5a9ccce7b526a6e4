"""The grid operator's signed requests to a gateway: readout, consent, resend (SPEC §5).

Strategy: a request is a COSE_Sign1 like a day block, with its own content type, signed with the
operator's Ed25519 key. `open_request` never raises for a bad message: it reports what it found
(`signature_valid`, `problem`) so the policy layer can answer with a refusal (`bad-signature`)
instead of dropping the request. Expiry and replay are policy decisions (they need `now` and
the set of seen ids), so they are not checked here.

The checks run in a fixed order, each on bytes the previous one bounded: the size of the whole
message (before any decoding), the COSE shape, the signature, and only then the payload's fields
(types and ranges: every integer a time can be built from, every text short). Nothing of an
unverified message is converted or trusted: it yields at most a `claimed_id`, cut to
`MAX_TEXT` characters, so the refusal can name the request it answers.
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
REQUEST_TYPES = frozenset({"readout", "consent", "resend"})
CONSENT_VALUES = frozenset({"opt-out", "opt-in"})
_COMMON_KEYS = frozenset({"type", "gw", "ap", "id", "iat", "exp"})
_EXTRA_KEYS = {"readout": frozenset({"day"}), "consent": frozenset(), "resend": frozenset()}
_REQUIRED_EXTRA = {
    "readout": frozenset(),
    "consent": frozenset({"consent"}),
    "resend": frozenset({"from_seq", "to_seq"}),
}
MAX_REQUEST_BYTES = 4096  # a real request is ~200 bytes; anything bigger is refused undecoded
MAX_TEXT = 64  # gw, ap and id: an EAN has 18 digits, a request id is a short token
MAX_EPOCH = 2**32  # iat/exp in [0, 2**32): every such second is a valid datetime (until 2106)
MAX_SEQ = 2**62
MAX_RESEND = 1000  # blocks per resend request: a range bounded like the backfill


@dataclass(frozen=True, slots=True)
class Request:
    """A readout, consent or resend request; `iat`/`exp` are Unix seconds.

    `consent` only for consent; `day` (optional, readout only, "YYYY-MM-DD") names the local day
    the operator asks for; `from_seq`/`to_seq` (resend only) the inclusive range of block seqs.
    """

    type: str
    gw: str
    ap: str
    id: str
    iat: int
    exp: int
    consent: str | None = None
    day: str | None = None
    from_seq: int | None = None
    to_seq: int | None = None

    def __post_init__(self) -> None:
        if self.type not in REQUEST_TYPES:
            raise BlockError(
                f"request type {_cut(self.type)!r} is not one of {sorted(REQUEST_TYPES)}"
            )
        for name in ("gw", "ap", "id"):
            value = getattr(self, name)
            if type(value) is not str or not 0 < len(value) <= MAX_TEXT or not value.isprintable():
                raise BlockError(f"request {name} must be 1 to {MAX_TEXT} printable characters")
        if not (_epoch(self.iat) and _epoch(self.exp) and self.exp >= self.iat):
            raise BlockError(
                f"request iat/exp must be integer Unix seconds in [0, {MAX_EPOCH}) with exp >= iat"
            )
        self._check_extras()

    def _check_extras(self) -> None:
        if (self.type == "consent") != (self.consent is not None):
            raise BlockError("consent is required for a consent request and only there")
        if self.consent is not None and self.consent not in CONSENT_VALUES:
            raise BlockError(f"consent {self.consent!r} is not one of {sorted(CONSENT_VALUES)}")
        if self.day is not None and (self.type != "readout" or not _is_iso_day(self.day)):
            raise BlockError(f"day {_cut(self.day)!r} must be YYYY-MM-DD, on readout requests only")
        seqs = (self.from_seq, self.to_seq)
        if self.type != "resend":
            if seqs != (None, None):
                raise BlockError("from_seq/to_seq belong to resend requests only")
            return
        first, last = seqs
        if not (_seq(first) and _seq(last) and first <= last < first + MAX_RESEND):  # type: ignore[operator]
            raise BlockError(
                f"resend needs integer 1 <= from_seq <= to_seq < from_seq + {MAX_RESEND}"
            )


def _epoch(value: Any) -> bool:
    return type(value) is int and 0 <= value < MAX_EPOCH


def _seq(value: Any) -> bool:
    return type(value) is int and 1 <= value <= MAX_SEQ


def _cut(value: Any) -> str:
    """A bounded text of any value, for error messages about untrusted input."""
    text = value if type(value) is str else type(value).__name__
    return text[:MAX_TEXT]


def _is_iso_day(text: Any) -> bool:
    try:
        return type(text) is str and len(text) == 10 and bool(date.fromisoformat(text))
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class OpenedRequest:
    """What `open_request` found.

    `request` is set only when the signature verifies with a known operator key and every field
    passed its checks (`signature_valid` says whether the signature did); `problem` explains any
    failure. `claimed_id` is the (unverified, at most `MAX_TEXT` characters) request id of a
    message that failed, so its refusal can carry it; it is never used for anything else.
    """

    request: Request | None
    signature_valid: bool
    kid: bytes | None
    problem: str | None
    claimed_id: str | None = None


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
    if request.type == "resend":
        body["from_seq"] = request.from_seq
        body["to_seq"] = request.to_seq
    return cbor2.dumps(body, canonical=True)


def sign_request(request: Request, key: Ed25519PrivateKey) -> bytes:
    """Encode and sign a request with the operator's key; returns COSE_Sign1 bytes."""
    return sign(encode_request(request), key, REQUEST_CONTENT_TYPE)


def decode_request(payload: bytes) -> Request:
    """Decode a request payload (unverified); raises `BlockError` if malformed."""
    body = _load_map(payload)
    kind = body.get("type")
    if type(kind) is not str or kind not in REQUEST_TYPES:
        raise BlockError(f"request type {_cut(kind)!r} is not one of {sorted(REQUEST_TYPES)}")
    required = _COMMON_KEYS | _REQUIRED_EXTRA[kind]
    if not required <= body.keys() <= required | _EXTRA_KEYS[kind]:
        names = sorted(_cut(k) for k in list(body)[:16])
        raise BlockError(f"request keys {names}: need {sorted(required)}")
    return Request(**body)


def _load_map(payload: bytes) -> dict[Any, Any]:
    try:
        body = strict_loads(payload)
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise BlockError(f"request payload is not CBOR: {str(exc)[:200]}") from exc
    if type(body) is not dict:
        raise BlockError("request payload is not a map")
    return body


def open_request(
    cose_bytes: bytes, operator_keys: Mapping[bytes, Ed25519PublicKey] | Ed25519PublicKey
) -> OpenedRequest:
    """Check a signed request in order — size, shape, signature, fields; never raises for bad
    input, reports it instead."""
    if len(cose_bytes) > MAX_REQUEST_BYTES:
        problem = f"{len(cose_bytes)} bytes: a request has at most {MAX_REQUEST_BYTES}"
        return OpenedRequest(request=None, signature_valid=False, kid=None, problem=problem)
    try:
        message = verify(cose_bytes, operator_keys, content_type=REQUEST_CONTENT_TYPE)
    except SignatureError as exc:
        return _unverified(cose_bytes, str(exc))
    except BlockError as exc:
        return OpenedRequest(request=None, signature_valid=False, kid=None, problem=str(exc))
    try:
        request = decode_request(message.payload)
    except (BlockError, TypeError) as exc:
        return OpenedRequest(None, signature_valid=True, kid=message.kid, problem=str(exc)[:300])
    return OpenedRequest(request, signature_valid=True, kid=message.kid, problem=None)


def _unverified(cose_bytes: bytes, problem: str) -> OpenedRequest:
    # The signature failed: only the claimed id is read (cut short), so the refusal names it.
    _, header, payload, _ = decode_envelope(cose_bytes)
    try:
        claimed = _load_map(payload).get("id")
    except BlockError:
        claimed = None
    claimed_id = claimed[:MAX_TEXT] if type(claimed) is str and claimed else None
    return OpenedRequest(
        None, signature_valid=False, kid=header[HEADER_KID], problem=problem, claimed_id=claimed_id
    )
