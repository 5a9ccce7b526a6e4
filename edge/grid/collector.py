"""The grid operator's collector: receive day blocks, verify them, store each once, find gaps.

Strategy: every block is checked on its own (envelope, signature by kid, contents) and against
the topic it came on; then against its stored neighbours seq - 1 and seq + 1 with the grid
verifier's chain checks (`prev` hash, days moving forward, registers not dropping), because
blocks may arrive out of order after an outage. Only blocks that pass are stored, keyed by
(gateway, ap, seq): the same signed bytes again are a harmless re-delivery (at-least-once
MQTT), other bytes under a stored seq are a failure. Gaps are derived from the stored seqs.
The collector has its own SQLite file; `handle` is plain code, testable without a broker.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edge.adapters.mqtt_blocking import BlockingClient
from edge.adapters.mqtt_topics import DEFAULT_PREFIX, day_filter, month_filter, parse_day_topic
from edge.blocks.chain import find_gaps
from edge.blocks.cose import KeyRing
from edge.blocks.payload import FIRST_SEQ
from edge.grid.verify import BlockReport, Gap, check_block, verify_blocks

Verdict = Literal["stored", "duplicate", "rejected"]

_SCHEMA = """CREATE TABLE IF NOT EXISTS block (
    gw TEXT NOT NULL,
    ap TEXT NOT NULL,
    seq INTEGER NOT NULL,
    day TEXT NOT NULL,
    kid TEXT NOT NULL,
    cose BLOB NOT NULL,
    sha256 BLOB NOT NULL,
    received_utc INTEGER NOT NULL,
    PRIMARY KEY (gw, ap, seq)
) WITHOUT ROWID"""


@dataclass(frozen=True, slots=True)
class Collected:
    """What happened to one received message; `gaps` are its chain's gaps afterwards."""

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
    """Verified, de-duplicated day blocks in an SQLite file (one thread per instance)."""

    def __init__(self, db_path: str | Path, keys: KeyRing, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.keys = keys
        self.prefix = prefix
        self.conn = sqlite3.connect(db_path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        self.conn.close()

    def handle(self, topic: str, payload: bytes, *, now: int) -> Collected:
        """Verify and (if it passes and is new) store one received block."""
        where = parse_day_topic(self.prefix, topic)
        if where is None:
            return Collected("rejected", topic, None, None, None, None, ("not a day-block topic",))
        report = check_block(payload, self.keys, source=topic)
        problems = [*report.problems, *_topic_problems(report, where)]
        if problems or report.gw is None or report.ap is None or report.seq is None:
            return self._result("rejected", topic, report, problems or ["unusable block"])
        gw, ap, seq = report.gw, report.ap, report.seq
        stored = self._cose(gw, ap, seq)
        if stored is not None:
            if stored == payload:
                return self._result("duplicate", topic, report, [])
            return self._result("rejected", topic, report, [f"seq {seq} reused, other content"])
        problems = self._chain_problems(gw, ap, seq, topic, payload)
        if problems:
            return self._result("rejected", topic, report, problems)
        self.conn.execute(
            "INSERT INTO block VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (gw, ap, seq, report.day, report.kid, payload, hashlib.sha256(payload).digest(), now),
        )
        return self._result("stored", topic, report, [])

    def _result(
        self, verdict: Verdict, topic: str, report: BlockReport, problems: list[str]
    ) -> Collected:
        gaps = self.gaps(report.gw, report.ap) if report.gw and report.ap else []
        return Collected(
            verdict, topic, report.gw, report.ap, report.seq, report.day, tuple(problems),
            tuple(gaps),
        )  # fmt: skip

    def _cose(self, gw: str, ap: str, seq: int) -> bytes | None:
        row = self.conn.execute(
            "SELECT cose FROM block WHERE gw = ? AND ap = ? AND seq = ?", (gw, ap, seq)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def _chain_problems(self, gw: str, ap: str, seq: int, topic: str, payload: bytes) -> list[str]:
        """Chain checks of the new block between its stored neighbours (if any)."""
        before, after = self._cose(gw, ap, seq - 1), self._cose(gw, ap, seq + 1)
        window = [(f"seq {seq - 1}", before)] if before is not None else []
        window.append((topic, payload))
        if after is not None:
            window.append((f"seq {seq + 1}", after))
        result = verify_blocks(window, self.keys, in_order=True)
        problems: list[str] = []
        for report in result.reports:
            prefix = "" if report.source == topic else f"{report.source} (stored): "
            problems += [prefix + problem for problem in report.problems]
        return problems

    def gaps(self, gw: str | None = None, ap: str | None = None) -> list[Gap]:
        """Missing seqs per chain (all chains, or the one of `gw`/`ap`), from seq 1 on."""
        rows = self.conn.execute(
            "SELECT gw, ap, seq FROM block WHERE (?1 IS NULL OR gw = ?1) "
            "AND (?2 IS NULL OR ap = ?2) ORDER BY gw, ap, seq",
            (gw, ap),
        ).fetchall()
        chains: dict[tuple[str, str], list[int]] = {}
        for row_gw, row_ap, seq in rows:
            chains.setdefault((row_gw, row_ap), []).append(seq)
        return [
            Gap(g, a, first, last)
            for (g, a), seqs in chains.items()
            for first, last in find_gaps(seqs, start=FIRST_SEQ)
        ]

    def count(self) -> int:
        """Number of stored blocks."""
        return int(self.conn.execute("SELECT COUNT(*) FROM block").fetchone()[0])

    def blocks(self, gw: str, ap: str) -> list[bytes]:
        """The stored COSE bytes of one chain, by seq."""
        rows = self.conn.execute(
            "SELECT cose FROM block WHERE gw = ? AND ap = ? ORDER BY seq", (gw, ap)
        )
        return [bytes(row[0]) for row in rows.fetchall()]


def _topic_problems(report: BlockReport, where: tuple[str, str, str]) -> list[str]:
    gw, ap, day = where
    found = (report.gw, report.ap, report.day)
    if report.gw is None or found == (gw, ap, day):
        return []
    return [f"topic says {gw}/{ap}/{day}, the signed block {report.gw}/{report.ap}/{report.day}"]


@dataclass(slots=True)
class CollectSummary:
    """Counts of one collect run."""

    stored: int = 0
    duplicates: int = 0
    rejected: int = 0


def collect(
    client: BlockingClient,
    collector: Collector,
    *,
    until: int | None,
    clock: Callable[[], float],
    out: Callable[[str], None],
    deadline: float | None = None,
) -> CollectSummary:
    """Subscribe to every gateway's day blocks and handle them until `until` blocks are stored
    (or forever), or `clock()` passes `deadline`. One line per block, one per new gap."""
    client.subscribe(day_filter(collector.prefix), month_filter(collector.prefix))
    summary = CollectSummary()
    while until is None or summary.stored < until:
        if deadline is not None and clock() >= deadline:
            break
        message = client.receive(timeout=0.5)
        if message is None:
            continue
        result = collector.handle(message.topic, message.payload, now=int(clock()))
        out(result.line())
        if result.verdict == "stored":
            summary.stored += 1
            for gap in result.gaps:
                out(gap_line(gap))
        elif result.verdict == "duplicate":
            summary.duplicates += 1
        else:
            summary.rejected += 1
    return summary
