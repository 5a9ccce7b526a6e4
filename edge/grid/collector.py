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

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from edge.adapters.mqtt_topics import DEFAULT_PREFIX
from edge.blocks.cose import KeyRing
from edge.grid.ingest import GatewayKeys, examine
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


class Collector:
    """Checks received blocks and settles them in the store (one thread per instance)."""

    def __init__(
        self,
        store: Store | str | Path,
        keys: GatewayKeys | KeyRing,
        *,
        prefix: str = DEFAULT_PREFIX,
    ) -> None:
        self.store = store if isinstance(store, Store) else open_store(store)
        self.keys = keys
        self.prefix = prefix

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

    def gaps(self, gw: str | None = None, ap: str | None = None) -> list[Gap]:
        """Missing seqs per stored chain (all chains, or the one of `gw`/`ap`), from seq 1 on."""
        return [Gap(g.gw, g.ap, g.first, g.last) for g in self.store.gaps(gw, ap)]

    def count(self) -> int:
        """Number of stored blocks."""
        return self.store.count()

    def blocks(self, gw: str, ap: str) -> list[bytes]:
        """The stored COSE bytes of one chain, by seq."""
        return self.store.chain(gw, ap)
