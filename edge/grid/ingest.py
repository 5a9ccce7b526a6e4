"""What a collector makes of one received message before the store sees it.

Strategy: everything from the broker is untrusted. A message is turned into either a
`Candidate` (the block passed its own checks: size, topic, COSE envelope, signature by the key
bound to the gateway it claims, contents, and the topic agreeing with the signed payload) or a
`Rejection` with its reason; nothing here raises on bad input. Keys are bound to gateways by
file name (`DIR/<gw>.pub` is the only key that may sign for gateway `<gw>`) or by the store's
`gateway_key` table; one key never signs for two gateways.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.adapters.mqtt_topics import parse_day_topic
from edge.blocks.cose import KeyRing, key_id, keyring
from edge.blocks.keys import load_public_key
from edge.errors import KeyFileError
from edge.grid.store.model import Candidate, Rejection
from edge.grid.verify import check_block

# a day block is ~3 KiB (100 intervals x 4 registers); far larger is not a block
MAX_BLOCK_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class GatewayKeys:
    """The trusted keys (by kid) and which gateway each may sign for."""

    ring: KeyRing
    kids: dict[str, bytes]  # gateway id -> kid
    keys: Mapping[str, Ed25519PublicKey] = field(default_factory=dict)  # gateway id -> key


def gateway_keys(keys: Mapping[str, Ed25519PublicKey], where: str) -> GatewayKeys:
    """Bind each key to its gateway; `KeyFileError` when one key is given for two gateways
    (either could then sign for the other)."""
    kids = {gw: key_id(key) for gw, key in keys.items()}
    if len(set(kids.values())) < len(kids):
        raise KeyFileError(f"{where}: one public key is given for several gateways")
    return GatewayKeys(keyring(*keys.values()), kids, dict(keys))


def load_gateway_keys(directory: Path) -> GatewayKeys:
    """`DIR/<gw>.pub` for every gateway; `KeyFileError` when none or one is unusable."""
    paths = sorted(directory.glob("*.pub")) if directory.is_dir() else []
    if not paths:
        raise KeyFileError(f"no <gateway>.pub files in {directory}")
    return gateway_keys({path.stem: load_public_key(path) for path in paths}, str(directory))


def raw_keys(raw: Mapping[str, bytes], where: str) -> dict[str, Ed25519PublicKey]:
    """Raw 32-byte keys (as the store holds them) as key objects; `KeyFileError` if one is not
    an Ed25519 public key."""
    try:
        return {gw: Ed25519PublicKey.from_public_bytes(key) for gw, key in raw.items()}
    except ValueError as exc:
        raise KeyFileError(f"{where}: a stored key is not an Ed25519 public key: {exc}") from None


def merge_keys(base: GatewayKeys, more: Mapping[str, Ed25519PublicKey], where: str) -> GatewayKeys:
    """`base` and the keys of `more` (a newer key of a gateway replaces its older one); a key
    bound to two gateways is refused (`KeyFileError`)."""
    merged = dict(base.keys)
    merged.update(more)
    return gateway_keys(merged, where)


def conflicting_gateways(
    a: Mapping[str, Ed25519PublicKey], b: Mapping[str, Ed25519PublicKey]
) -> list[str]:
    """The gateways that `a` and `b` both name, with different keys."""
    return sorted(gw for gw in a.keys() & b.keys() if key_id(a[gw]) != key_id(b[gw]))


def key_problem(problems: list[str]) -> bool:
    """Did the verifier find no key for the block, or a key not its gateway's? (A key added
    to the store since the last look may fix that.)"""
    return any(p.startswith("unknown kid") or " is not the key of gateway " in p
               for p in problems)  # fmt: skip


def examine(
    topic: str, payload: bytes, keys: GatewayKeys | KeyRing, *, prefix: str
) -> Candidate | Rejection:
    """Check one received message on its own; never raises on bad input."""
    kept = payload if len(payload) <= MAX_BLOCK_BYTES else None
    where = parse_day_topic(prefix, topic)
    t_gw, t_ap, t_day = where if where is not None else (None, None, None)

    def reject(reason: str, gw: str | None = t_gw, ap: str | None = t_ap,
               day: str | None = t_day, seq: int | None = None) -> Rejection:  # fmt: skip
        sha = hashlib.sha256(payload).digest()
        return Rejection(topic, gw, ap, day, seq, reason, len(payload), sha, kept)

    if where is None:
        return reject("not a day- or month-block topic")
    if kept is None:
        return reject(f"{len(payload)} bytes: larger than a block can be ({MAX_BLOCK_BYTES})")
    ring, kids = (keys.ring, keys.kids) if isinstance(keys, GatewayKeys) else (keys, None)
    try:
        report = check_block(payload, ring, source=topic, gateway_kids=kids)
    except Exception as exc:  # hostile bytes must never stop the collector (belt and braces)
        return reject(f"unreadable block ({type(exc).__name__}: {exc})")
    gw, ap, seq, day = report.gw, report.ap, report.seq, report.day
    problems = list(report.problems)
    if gw is not None and (gw, ap, day) != where:
        problems.append(f"topic says {t_gw}/{t_ap}/{t_day}, the signed block {gw}/{ap}/{day}")
    if problems or gw is None or ap is None or seq is None or day is None or report.kid is None:
        rejection = reject("; ".join(problems) or "unusable block", gw or t_gw, ap or t_ap,
                           day or t_day, seq)  # fmt: skip
        if key_problem(problems):
            return dataclasses.replace(rejection, key_problem=True)
        return rejection
    sha = report.hash or hashlib.sha256(payload).digest()  # the verifier's, computed once
    return Candidate(topic, gw, ap, seq, day, report.kind, report.kid, report.prev, sha, payload)
