"""The grid operator's collector: verify received day blocks and store each once, in batches.

Strategy: every message is checked on its own (`edge.grid.ingest.examine`: size, topic,
envelope, signature by the key bound to its gateway, contents); the store then settles a whole
batch in one transaction against what it holds (new, the same signed bytes again = duplicate,
other bytes under a stored seq or a broken `prev` link to a stored neighbour = rejected), so
blocks may arrive out of order after an outage and several collectors may share the work.
Rejections are stored apart with their reason. `handle`/`handle_batch` are plain code,
testable without a broker; `edge.grid.subscriber` feeds them from MQTT.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from edge.adapters.mqtt_topics import DEFAULT_PREFIX
from edge.blocks.cose import KeyRing, key_id
from edge.errors import KeyFileError
from edge.grid.ingest import (
    GatewayKeys,
    conflicting_gateways,
    examine,
    gateway_keys,
    merge_keys,
    raw_keys,
)
from edge.grid.store import Candidate, Rejection, Store, Verdict, open_store
from edge.grid.verify import Gap


@dataclass(frozen=True, slots=True)
class Collected:
    """What happened to one received message; `gaps`: the missing seqs just before it."""

    verdict: Verdict
    topic: str
    gw: str | None
    ap: str | None
    seq: int | None
    day: str | None
    problems: tuple[str, ...] = ()
    gaps: tuple[Gap, ...] = ()

    def line(self) -> str:
        """One line for the terminal."""
        if self.verdict == "rejected":
            return f"FAIL  {self.topic}: {'; '.join(self.problems)}"
        word = "ok  " if self.verdict == "stored" else "dup "
        text = f"{word}  {self.gw}/{self.ap} seq={self.seq} day={self.day}"
        return text + (" (same signed bytes already stored)" if self.verdict == "duplicate" else "")


def gap_line(gap: Gap) -> str:
    """One line for a gap in a chain."""
    seqs = str(gap.first) if gap.first == gap.last else f"{gap.first}-{gap.last}"
    return f"gap   {gap.gw}/{gap.ap} seq {seqs} missing"


# how often at most the store is asked for keys added since the last look (a flood of blocks
# with unknown keys must not become a flood of queries), and how far back each look reaches
# (the importing host's clock set `updated_utc`: it may be a little behind this one's)
KEY_REFRESH_SECONDS = 10.0
KEY_CLOCK_MARGIN = 600


def startup_keys(store: Store, from_dir: GatewayKeys | None, directory: str = "DIR") -> GatewayKeys:
    """The keys of `DIR/<gw>.pub` (if given) and of the store's `gateway_key` table together;
    `KeyFileError` when there are none, or a gateway has different keys in the two, or one key
    is bound to two gateways."""
    stored = raw_keys(store.gateway_keys(), "the store's gateway keys")
    if from_dir is None:
        if not stored:
            raise KeyFileError("no gateway keys: give --pubkeys DIR or import them into the "
                               "store (edge-agent grid keys --store URL import DIR)")  # fmt: skip
        return gateway_keys(stored, "the store's gateway keys")
    conflicts = conflicting_gateways(from_dir.keys, stored)
    if conflicts:
        raise KeyFileError(f"{', '.join(conflicts[:5])}: another key in {directory} than in the "
                           f"store ({len(conflicts)} gateways)")  # fmt: skip
    return merge_keys(from_dir, stored, f"{directory} and the store's gateway keys")


class Collector:
    """Checks received blocks and settles them in the store (one thread per instance).

    Keys: those given, and keys imported into the store while it runs: a batch with blocks
    whose key is unknown (or not their gateway's) first looks for keys added since the last
    look (at most every `KEY_REFRESH_SECONDS`) and checks those blocks again. A key of
    `DIR/<gw>.pub` (`pinned`) is not replaced from the store; a store key already bound to
    another gateway is not taken."""

    def __init__(
        self,
        store: Store | str | Path,
        keys: GatewayKeys | KeyRing,
        *,
        prefix: str = DEFAULT_PREFIX,
        keys_since: int | None = None,
        pinned: frozenset[str] = frozenset(),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store if isinstance(store, Store) else open_store(store)
        self.keys = keys
        self.prefix = prefix
        self.keys_since = keys_since  # wall-clock seconds of the last look (None: never)
        self.pinned = pinned
        self.monotonic = monotonic
        self.looked_at: float | None = None  # monotonic time of the last look

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def handle(self, topic: str, payload: bytes, *, now: int) -> Collected:
        """Check and settle one message (its own transaction)."""
        return self.handle_batch([(topic, payload)], now=now)[0]

    def handle_batch(self, messages: Sequence[tuple[str, bytes]], *, now: int) -> list[Collected]:
        """Check and settle (topic, payload) pairs in one transaction; committed on return."""
        return self.settle(self.examine(messages), now=now)

    def examine(self, messages: Sequence[tuple[str, bytes]]) -> list[Candidate | Rejection]:
        """The checks of each message on its own (no store access: any thread)."""
        return [
            examine(topic, payload, self.keys, prefix=self.prefix) for topic, payload in messages
        ]

    def settle(self, items: Sequence[Candidate | Rejection], *, now: int) -> list[Collected]:
        """Settle examined messages in the store in one transaction; committed on return."""
        if isinstance(self.keys, GatewayKeys) and any(
            isinstance(item, Rejection) and item.key_problem for item in items
        ):
            items = self._again_with_new_keys(items, now)
        outcomes = self.store.ingest(items, now=now)
        results: list[Collected] = []
        for item, outcome in zip(items, outcomes, strict=True):
            gaps: tuple[Gap, ...] = ()
            if outcome.gap is not None and isinstance(item, Candidate):
                gaps = (Gap(item.gw, item.ap, *outcome.gap),)
            results.append(
                Collected(
                    outcome.verdict,
                    item.topic,
                    item.gw,
                    item.ap,
                    item.seq,
                    item.day,
                    outcome.problems,
                    gaps,
                )
            )
        return results

    def _again_with_new_keys(
        self, items: Sequence[Candidate | Rejection], now: int
    ) -> Sequence[Candidate | Rejection]:
        if not self._look_for_keys(now):
            return items
        return [
            examine(item.topic, item.payload, self.keys, prefix=self.prefix)
            if isinstance(item, Rejection) and item.key_problem and item.payload is not None
            else item
            for item in items
        ]

    def _look_for_keys(self, now: int) -> bool:
        """Take the keys added to the store since the last look; True when there were any."""
        assert isinstance(self.keys, GatewayKeys)
        moment = self.monotonic()
        if self.looked_at is not None and moment - self.looked_at < KEY_REFRESH_SECONDS:
            return False
        since = None if self.keys_since is None else self.keys_since - KEY_CLOCK_MARGIN
        stored = self.store.gateway_keys(since)  # a store failure: the batch is tried again
        self.looked_at, self.keys_since = moment, now  # (only a look that happened counts)
        try:
            fresh = raw_keys(stored, "the store's gateway keys")
        except KeyFileError:
            return False  # an unusable stored key: the blocks stay rejected with their reason
        # a kid already taken is this gateway's same key (no change) or another's (not taken)
        taken = set(self.keys.kids.values())
        new = {
            gw: key
            for gw, key in fresh.items()
            if gw not in self.pinned and key_id(key) not in taken
        }
        if not new:
            return False
        self.keys = merge_keys(self.keys, new, "the store's gateway keys")
        return True

    def gaps(self, gw: str | None = None, ap: str | None = None) -> list[Gap]:
        """Missing seqs per stored chain (all chains, or the one of `gw`/`ap`), from seq 1 on."""
        return [Gap(g.gw, g.ap, g.first, g.last) for g in self.store.gaps(gw, ap)]

    def count(self) -> int:
        """Number of stored blocks."""
        return self.store.count()

    def blocks(self, gw: str, ap: str) -> list[bytes]:
        """The stored COSE bytes of one chain, by seq."""
        return self.store.chain(gw, ap)
