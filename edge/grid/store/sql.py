"""The grid store on either engine: ingest in batches, and the reads of the allocation run.

Strategy: `ingest` takes a batch of checked blocks and rejections and settles them in one
transaction: one query fetches what is stored under their keys and their chain neighbours
(seq - 1, seq + 1), the decisions are made in Python in arrival order (so a batch sees its own
earlier blocks), then one multi-row insert writes the new ones. The insert's ON CONFLICT is the
last word when another collector committed the same key meanwhile (PostgreSQL): a block that
lost that race is then a duplicate or a conflict, never a second row. The caller acknowledges
the batch's messages to the broker only after `ingest` returned (= committed).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import suppress
from datetime import date
from decimal import Decimal
from typing import Any

from edge.blocks.chain import Link, link_problems
from edge.errors import KeyFileError
from edge.grid.registry import RegistryRow
from edge.grid.store.engines import Connection, database_error
from edge.grid.store.model import Candidate, ChainGap, Outcome, RejectedRow, Rejection
from edge.grid.store.schema import migrate

_Key = tuple[str, str, int]
# what the chain checks need of a stored (or just accepted) block
_Known = tuple[bytes, bytes | None, str]  # sha256, prev, day

_INSERT = (
    "INSERT INTO block (gw, ap, seq, day, kid, cose, sha256, received_utc, kind, prev) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (gw, ap, seq) DO NOTHING"
)
_REJECT = (
    "INSERT INTO rejected (received_utc, topic, gw, ap, day, seq, reason, size, sha256, payload) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_REGISTRY_COLUMNS = (
    "ap", "connection", "role", "grid_area", "supplier", "brp", "capacity_kva", "valid_from",
    "valid_to",
)  # fmt: skip
# PostgreSQL: a whole batch is copied (COPY, binary) into session-local staging tables, then
# settled by one statement each; parameter lists of thousands cost more than the work itself
_PG_LOOKUP = (
    "SELECT b.gw, b.ap, b.seq, b.sha256, b.prev, b.day FROM block AS b "
    "JOIN staged_key AS k ON b.gw = k.gw AND b.ap = k.ap AND b.seq = k.seq"
)
_PG_INSERT = (
    "INSERT INTO block (gw, ap, seq, day, kid, cose, sha256, received_utc, kind, prev) "
    "SELECT gw, ap, seq, day, kid, cose, sha256, received_utc, kind, prev FROM staged_block "
    "ON CONFLICT (gw, ap, seq) DO NOTHING RETURNING gw, ap, seq"
)
_BLOCK_COLUMNS = ("gw", "ap", "seq", "day", "kid", "cose", "sha256", "received_utc", "kind", "prev")
_LOOKUP_CHUNK = 300  # keys per lookup query (3 parameters each, far below SQLite's limit)


class SqlStore:
    """The grid store (one connection, one thread); see `edge.grid.store.open_store`."""

    def __init__(
        self, conn: Connection, url: str, connect: Callable[[], Connection] | None = None
    ) -> None:
        self.conn = conn
        self.url = url
        self.engine = conn.engine.name
        self._connect = connect
        self._migrate()

    def _migrate(self) -> None:
        try:
            with self.conn.transaction(write=True):
                if self.engine == "postgresql":  # one migrator at a time across collectors
                    self.conn.execute("SELECT pg_advisory_xact_lock(7031656447)")
                migrate(self.conn.engine, self.conn.execute)
        except Exception as exc:
            error = database_error(exc, f"cannot open the {self.engine} store: {exc}")
            if error is None:
                raise
            with suppress(Exception):
                self.conn.close()
            raise error from exc

    def reconnect(self) -> None:
        """Drop the connection (it may be broken) and open a new one, checking the schema again
        (another collector may have migrated it meanwhile). Raises what opening raises:
        `StoreUnavailable` while the store is away."""
        if self._connect is None:
            raise RuntimeError("this store was not opened by open_store: it cannot reconnect")
        with suppress(Exception):  # the old connection may be dead already: closing is best effort
            self.conn.close()
        self.conn = self._connect()
        self._migrate()

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ---- ingest ------------------------------------------------------------------------------

    def ingest(self, items: Sequence[Candidate | Rejection], *, now: int) -> list[Outcome]:
        """Store a batch in one transaction; one outcome per item, in order."""
        with self.conn.transaction(write=True):
            candidates = [item for item in items if isinstance(item, Candidate)]
            known = self._lookup(candidates)
            outcomes: list[Outcome] = []
            accepted: list[Candidate] = []
            for item in items:
                if isinstance(item, Rejection):
                    outcomes.append(Outcome("rejected", (item.reason,)))
                    continue
                outcome = _decide(item, known)
                if outcome.verdict == "stored":
                    known[(item.gw, item.ap, item.seq)] = (item.sha256, item.prev, item.day)
                    accepted.append(item)
                outcomes.append(outcome)
            lost = self._insert(accepted, now)
            outcomes = [
                self._settle(item, o, lost) for item, o in zip(items, outcomes, strict=True)
            ]
            rejected = [
                _rejection(item, o) for item, o in zip(items, outcomes, strict=True)
                if o.verdict == "rejected"
            ]  # fmt: skip
            if rejected:
                self.conn.executemany(_REJECT, [_reject_row(r, now) for r in rejected])
            return [self._with_gap(item, o, known) for item, o in zip(items, outcomes, strict=True)]

    def _lookup(self, candidates: Sequence[Candidate]) -> dict[_Key, _Known]:
        keys = sorted({(c.gw, c.ap, c.seq + d) for c in candidates for d in (-1, 0, 1)})
        rows: list[tuple[Any, ...]] = []
        if self.engine == "postgresql" and keys:
            self.conn.copy_rows("staged_key", ("gw", "ap", "seq"), keys)
            rows = self.conn.execute(_PG_LOOKUP)
        for start in range(0, len(keys) if self.engine == "sqlite" else 0, _LOOKUP_CHUNK):
            chunk = keys[start : start + _LOOKUP_CHUNK]
            values = ", ".join(["(?, ?, ?)"] * len(chunk))
            rows += self.conn.execute(
                f"SELECT gw, ap, seq, sha256, prev, day FROM block "
                f"WHERE (gw, ap, seq) IN (VALUES {values})",
                [part for key in chunk for part in key],
            )
        return {
            (gw, ap, int(seq)): (bytes(sha), None if prev is None else bytes(prev), day)
            for gw, ap, seq, sha, prev, day in rows
        }

    def _insert(self, accepted: Sequence[Candidate], now: int) -> set[_Key]:
        """Insert; returns the keys another writer had taken meanwhile (the race's losers)."""
        if not accepted:
            return set()
        rows = [
            (c.gw, c.ap, c.seq, c.day, c.kid, c.cose, c.sha256, now, c.kind, c.prev)
            for c in accepted
        ]
        if self.engine == "sqlite":  # BEGIN IMMEDIATE: nobody else wrote since the lookup
            self.conn.executemany(_INSERT, rows)
            return set()
        self.conn.copy_rows("staged_block", _BLOCK_COLUMNS, rows)
        inserted = self.conn.execute(_PG_INSERT)
        won = {(gw, ap, int(seq)) for gw, ap, seq in inserted}
        return {(c.gw, c.ap, c.seq) for c in accepted} - won

    def _settle(self, item: Candidate | Rejection, outcome: Outcome, lost: set[_Key]) -> Outcome:
        if not isinstance(item, Candidate) or (item.gw, item.ap, item.seq) not in lost:
            return outcome
        (stored,) = self.conn.execute(
            "SELECT sha256 FROM block WHERE gw = ? AND ap = ? AND seq = ?",
            (item.gw, item.ap, item.seq),
        )
        if bytes(stored[0]) == item.sha256:
            return Outcome("duplicate")
        return Outcome("rejected", (f"seq {item.seq} reused, other content",))

    def _with_gap(
        self, item: Candidate | Rejection, outcome: Outcome, known: dict[_Key, _Known]
    ) -> Outcome:
        """A new block whose predecessor is not stored: the missing range before it."""
        if outcome.verdict != "stored" or not isinstance(item, Candidate) or item.seq <= 1:
            return outcome
        if (item.gw, item.ap, item.seq - 1) in known:  # the usual case: no query
            return outcome
        ((below,),) = self.conn.execute(
            "SELECT MAX(seq) FROM block WHERE gw = ? AND ap = ? AND seq < ?",
            (item.gw, item.ap, item.seq),
        )
        first = 1 if below is None else int(below) + 1
        if first > item.seq - 1:
            return outcome
        return dataclasses.replace(outcome, gap=(first, item.seq - 1))

    # ---- reads -------------------------------------------------------------------------------

    def count(self) -> int:
        """Number of stored blocks."""
        return int(self.conn.execute("SELECT COUNT(*) FROM block")[0][0])

    def rejected_count(self) -> int:
        """Number of stored rejections."""
        return int(self.conn.execute("SELECT COUNT(*) FROM rejected")[0][0])

    def chain(self, gw: str, ap: str) -> list[bytes]:
        """The stored COSE bytes of one chain, by seq."""
        rows = self.conn.execute(
            "SELECT cose FROM block WHERE gw = ? AND ap = ? ORDER BY seq", (gw, ap)
        )
        return [bytes(row[0]) for row in rows]

    def gaps(self, gw: str | None = None, ap: str | None = None) -> list[ChainGap]:
        """Missing seqs of every stored chain (or one), from seq 1 on; computed in SQL."""
        rows = self.conn.execute(
            "SELECT gw, ap, prior, seq FROM (SELECT gw, ap, seq, "
            "LAG(seq, 1, 0) OVER (PARTITION BY gw, ap ORDER BY seq) AS prior FROM block "
            "WHERE (CAST(? AS TEXT) IS NULL OR gw = ?) AND (CAST(? AS TEXT) IS NULL OR ap = ?)) "
            "AS chained "
            "WHERE seq > prior + 1 ORDER BY gw, ap, seq",
            (gw, gw, ap, ap),
        )
        return [ChainGap(g, a, int(prior) + 1, int(seq) - 1) for g, a, prior, seq in rows]

    def blocks(self) -> Iterator[tuple[str, str, int, bytes]]:
        """Every stored block (day and month), by gateway, ap, seq: for `grid export`."""
        with self.conn.transaction(write=False):
            for gw, ap, seq, cose in self.conn.stream(
                "SELECT gw, ap, seq, cose FROM block ORDER BY gw, ap, seq", ()
            ):
                yield gw, ap, int(seq), bytes(cose)

    def blocks_for_days(self, days: Sequence[str]) -> Iterator[tuple[str, str, int, bytes]]:
        """(gw, ap, seq, COSE bytes) of every stored day block of the given local days (ISO
        dates), by gateway, ap, seq, from one consistent snapshot; monthly blocks excluded."""
        wanted = sorted({str(day) for day in days})
        if not wanted:
            return
        marks = ", ".join("?" * len(wanted))
        with self.conn.transaction(write=False):
            for gw, ap, seq, cose in self.conn.stream(
                f"SELECT gw, ap, seq, cose FROM block WHERE kind = 'day' AND day IN ({marks}) "
                "ORDER BY gw, ap, seq",
                wanted,
            ):
                yield gw, ap, int(seq), bytes(cose)

    def nearest_blocks(
        self, ap: str, day: str
    ) -> tuple[tuple[str, int, str] | None, tuple[str, int, str] | None]:
        """(gw, seq, day) of the point's newest day block before `day` and its oldest after
        it, whichever gateway sent them (None: none stored); two index seeks."""
        found: list[tuple[str, int, str] | None] = []
        for sign, order in (("<", "DESC"), (">", "ASC")):
            rows = self.conn.execute(
                f"SELECT gw, seq, day FROM block WHERE ap = ? AND kind = 'day' AND day {sign} ? "
                f"ORDER BY day {order}, seq {order} LIMIT 1",
                (ap, day),
            )
            found.append((rows[0][0], int(rows[0][1]), rows[0][2]) if rows else None)
        return found[0], found[1]

    def latest_block_before(self, ap: str, day: str) -> bytes | None:
        """The COSE bytes of the point's newest day block before `day` (one index seek)."""
        rows = self.conn.execute(
            "SELECT cose FROM block WHERE ap = ? AND kind = 'day' AND day < ? "
            "ORDER BY day DESC, seq DESC LIMIT 1",
            (ap, day),
        )
        return bytes(rows[0][0]) if rows else None

    def rejected_for_days(self, days: Sequence[str]) -> list[RejectedRow]:
        """The stored rejections of the given local days (what the payload or topic said)."""
        wanted = sorted({str(day) for day in days})
        if not wanted:
            return []
        marks = ", ".join("?" * len(wanted))
        rows = self.conn.execute(
            f"SELECT gw, ap, day, reason FROM rejected WHERE day IN ({marks}) "
            "ORDER BY gw, ap, day, id",
            wanted,
        )
        return [RejectedRow(gw, ap, day, reason) for gw, ap, day, reason in rows]

    # ---- gateway keys ------------------------------------------------------------------------

    def import_gateway_keys(
        self, keys: Mapping[str, bytes], *, now: int, replace: bool = False
    ) -> int:
        """Store raw 32-byte Ed25519 public keys by gateway in one transaction; returns how many
        were new or changed (the same key again is no change). A gateway that holds another key
        is refused (`KeyFileError`, nothing stored) unless `replace`; a key that another gateway
        holds always is."""
        if not keys:
            return 0
        rows = [(gw, bytes(raw), key_id_of(raw)) for gw, raw in sorted(keys.items())]
        given_kids: dict[bytes, str] = {}
        for gw, _raw, kid in rows:
            if given_kids.setdefault(kid, gw) != gw:
                raise KeyFileError(f"one public key is given for {given_kids[kid]} and {gw}")
        with self.conn.transaction(write=True):
            stored = {gw: (bytes(raw), bytes(kid)) for gw, raw, kid in
                      self.conn.execute("SELECT gw, public_key, kid FROM gateway_key")}  # fmt: skip
            owner = {kid: gw for gw, (_raw, kid) in stored.items()}
            changed = [row for row in rows if stored.get(row[0], (b"",))[0] != row[1]]
            for gw, _raw, kid in changed:
                if kid in owner:  # (the same gateway's same key is not a change)
                    raise KeyFileError(f"the key given for {gw} is the stored key of {owner[kid]}")
                if gw in stored and not replace:
                    raise KeyFileError(
                        f"{gw} has another key in the store (give --replace to replace it)"
                    )
            # replaced first, so that a key moving between gateways never is there twice
            self.conn.executemany("DELETE FROM gateway_key WHERE gw = ?",
                                  [(gw,) for gw, _r, _k in changed if gw in stored])  # fmt: skip
            self.conn.executemany(
                "INSERT INTO gateway_key (gw, public_key, kid, updated_utc) VALUES (?, ?, ?, ?)",
                [(gw, raw, kid, now) for gw, raw, kid in changed],
            )
        return len(changed)

    def gateway_keys(self, since: int | None = None) -> dict[str, bytes]:
        """The stored raw public keys by gateway (those updated at or after `since`)."""
        rows = self.conn.execute(
            "SELECT gw, public_key FROM gateway_key WHERE updated_utc >= ?",
            (-1 if since is None else since,),
        )
        return {gw: bytes(raw) for gw, raw in rows}

    # ---- registry ----------------------------------------------------------------------------

    def import_registry(self, rows: Sequence[RegistryRow], *, replace: bool = False) -> int:
        """Store checked registry rows in one transaction: each allocation point in `rows` gets
        exactly its rows from `rows` (its older periods go, so they cannot overlap the checked
        new ones); with `replace`, the whole registry becomes `rows`. Returns the rows written."""
        values = [
            tuple(_registry_value(getattr(row, c)) for c in _REGISTRY_COLUMNS) for row in rows
        ]
        with self.conn.transaction(write=True):
            if replace:
                self.conn.execute("DELETE FROM registry")
            else:
                aps = sorted({row.ap for row in rows})
                self.conn.executemany("DELETE FROM registry WHERE ap = ?", [(ap,) for ap in aps])
            if values:
                self.conn.executemany(
                    f"INSERT INTO registry ({', '.join(_REGISTRY_COLUMNS)}) VALUES "
                    f"({', '.join('?' * len(_REGISTRY_COLUMNS))})",
                    values,
                )
        return len(values)

    def registry_rows(self) -> list[RegistryRow]:
        """The registry as `edge.grid.registry.RegistryRow`s, by ap and valid_from."""
        rows = self.conn.execute(
            f"SELECT {', '.join(_REGISTRY_COLUMNS)} FROM registry ORDER BY ap, valid_from"
        )
        return [_registry_row(row) for row in rows]


def key_id_of(raw: bytes) -> bytes:
    """The kid of a raw public key (SPEC §6: the first 8 bytes of its SHA-256)."""
    return hashlib.sha256(raw).digest()[:8]


def _decide(item: Candidate, known: dict[_Key, _Known]) -> Outcome:
    """New, duplicate or conflicting: against the stored key and its chain neighbours."""
    here = known.get((item.gw, item.ap, item.seq))
    if here is not None:
        if here[0] == item.sha256:
            return Outcome("duplicate")
        return Outcome("rejected", (f"seq {item.seq} reused, other content",))
    problems: list[str] = []
    own = Link(seq=item.seq, prev=item.prev, hash=item.sha256)
    before = known.get((item.gw, item.ap, item.seq - 1))
    if before is not None:
        problems += link_problems(Link(item.seq - 1, before[1], before[0]), own)
        if before[2] >= item.day and len(before[2]) == len(item.day):
            problems.append(f"day {item.day} does not follow day {before[2]} of seq {item.seq - 1}")
    after = known.get((item.gw, item.ap, item.seq + 1))
    if after is not None:
        problems += [
            f"seq {item.seq + 1} (stored): {p}"
            for p in link_problems(own, Link(item.seq + 1, after[1], after[0]))
        ]
    return Outcome("rejected", tuple(problems)) if problems else Outcome("stored")


def _rejection(item: Candidate | Rejection, outcome: Outcome) -> Rejection:
    if isinstance(item, Rejection):
        return item
    return Rejection(
        item.topic, item.gw, item.ap, item.day, item.seq, "; ".join(outcome.problems),
        len(item.cose), item.sha256, item.cose,
    )  # fmt: skip


def _reject_row(r: Rejection, now: int) -> tuple[Any, ...]:
    return (now, r.topic, r.gw, r.ap, r.day, r.seq, r.reason, r.size, r.sha256, r.payload)


def _registry_value(value: Any) -> Any:
    if value is None or isinstance(value, str | int):
        return None if value is None else str(value)
    if isinstance(value, date | Decimal):
        return str(value)
    raise TypeError(f"registry value {value!r} of an unexpected type")


def _registry_row(values: tuple[Any, ...]) -> RegistryRow:
    ap, connection, role, grid_area, supplier, brp, capacity, valid_from, valid_to = values
    return RegistryRow(
        ap, connection, role, grid_area, supplier, brp, Decimal(capacity),
        date.fromisoformat(valid_from), None if valid_to is None else date.fromisoformat(valid_to),
    )  # fmt: skip
