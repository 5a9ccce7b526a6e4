"""What a collector makes of one received message before the store sees it.

Strategy: everything from the broker is untrusted. A message is turned into either a
`Candidate` (the block passed its own checks: size, topic, COSE envelope, signature by the key
bound to the gateway it claims, contents, and the topic agreeing with the signed payload) or a
`Rejection` with its reason; nothing here raises on bad input. Keys are bound to gateways by
file name: `DIR/<gw>.pub` is the only key that may sign for gateway `<gw>`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

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


def load_gateway_keys(directory: Path) -> GatewayKeys:
    """`DIR/<gw>.pub` for every gateway; `KeyFileError` when none or one is unusable."""
    paths = sorted(directory.glob("*.pub")) if directory.is_dir() else []
    if not paths:
        raise KeyFileError(f"no <gateway>.pub files in {directory}")
    keys = {path.stem: load_public_key(path) for path in paths}
    kids = {gw: key_id(key) for gw, key in keys.items()}
    shared = len(set(kids.values())) < len(kids)
    if shared:  # one key for two gateways would let either sign for the other
        raise KeyFileError(f"{directory}: one public key is given for several gateways")
    return GatewayKeys(keyring(*keys.values()), kids)


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
        return reject("; ".join(problems) or "unusable block", gw or t_gw, ap or t_ap,
                      day or t_day, seq)  # fmt: skip
    sha = report.hash or hashlib.sha256(payload).digest()  # the verifier's, computed once
    return Candidate(topic, gw, ap, seq, day, report.kind, report.kid, report.prev, sha, payload)
