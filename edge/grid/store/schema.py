"""The grid store's schema: numbered migrations, the same tables on SQLite and PostgreSQL.

Strategy: `grid_schema` records the applied versions; `migrate` applies the missing ones in one
transaction under the engine's write lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory
lock), so several collectors starting at once migrate exactly once. Version 1 is the table the
collector has always written (an existing `--db` file is version 1 without knowing it: CREATE
... IF NOT EXISTS makes that harmless); version 2 adds what the scaled-out ingest and the
allocation need: the block's kind and prev link (back-filled from the stored bytes), the
rejected blocks, the registry, and the index by day; version 3 the gateways' public keys
(`edge-agent grid keys import`), one key per gateway and one gateway per key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cbor2

from edge.errors import ConfigError

# types per engine: {blob} binary, {int} 64-bit integer, {id} an auto-numbered key
_V1 = """CREATE TABLE IF NOT EXISTS block (
    gw TEXT NOT NULL,
    ap TEXT NOT NULL,
    seq {int} NOT NULL,
    day TEXT NOT NULL,
    kid TEXT NOT NULL,
    cose {blob} NOT NULL,
    sha256 {blob} NOT NULL,
    received_utc {int} NOT NULL,
    PRIMARY KEY (gw, ap, seq)
){without_rowid}"""

_V2 = (
    "ALTER TABLE block ADD COLUMN kind TEXT NOT NULL DEFAULT 'day'",
    "ALTER TABLE block ADD COLUMN prev {blob}",
    "UPDATE block SET kind = 'month' WHERE length(day) = 7",
    "CREATE INDEX IF NOT EXISTS block_by_day ON block (day, kind)",
    """CREATE TABLE IF NOT EXISTS rejected (
    id {id},
    received_utc {int} NOT NULL,
    topic TEXT NOT NULL,
    gw TEXT,
    ap TEXT,
    day TEXT,
    seq {int},
    reason TEXT NOT NULL,
    size {int} NOT NULL,
    sha256 {blob} NOT NULL,
    payload {blob}
)""",
    "CREATE INDEX IF NOT EXISTS rejected_by_day ON rejected (day)",
    """CREATE TABLE IF NOT EXISTS registry (
    ap TEXT NOT NULL,
    connection TEXT NOT NULL,
    role TEXT NOT NULL,
    grid_area TEXT NOT NULL,
    supplier TEXT NOT NULL,
    brp TEXT NOT NULL,
    capacity_kva TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_to TEXT,
    PRIMARY KEY (ap, valid_from)
)""",
)


@dataclass(frozen=True, slots=True)
class Engine:
    """What differs between the engines in the schema's text."""

    name: str
    blob: str
    int: str
    id: str
    without_rowid: str

    def sql(self, text: str) -> str:
        return text.format(
            blob=self.blob, int=self.int, id=self.id, without_rowid=self.without_rowid
        )


SQLITE = Engine("sqlite", "BLOB", "INTEGER", "INTEGER PRIMARY KEY", " WITHOUT ROWID")
POSTGRES = Engine(
    "postgresql", "BYTEA", "BIGINT", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", ""
)

Execute = Callable[[str, tuple[Any, ...]], list[tuple[Any, ...]]]


def _backfill_prev(execute: Execute) -> None:
    # blocks stored before version 2 have their prev link only inside the signed payload
    rows = execute("SELECT gw, ap, seq, cose FROM block WHERE prev IS NULL AND seq > 1", ())
    for gw, ap, seq, cose in rows:
        try:
            payload = cbor2.loads(cbor2.loads(bytes(cose)).value[2])
            prev = payload.get("prev") if isinstance(payload, dict) else None
        except (cbor2.CBORDecodeError, AttributeError, IndexError, TypeError, ValueError):
            continue  # stored bytes were verified once; if unreadable now, leave the link unknown
        if isinstance(prev, bytes):
            execute("UPDATE block SET prev = ? WHERE gw = ? AND ap = ? AND seq = ?",
                    (prev, gw, ap, seq))  # fmt: skip


def _v1(engine: Engine, execute: Execute) -> None:
    execute(engine.sql(_V1), ())


def _v2(engine: Engine, execute: Execute) -> None:
    for statement in _V2:
        execute(engine.sql(statement), ())
    _backfill_prev(execute)


# version 3: the gateways' public keys, so that collectors on several hosts share them
_V3 = (
    """CREATE TABLE IF NOT EXISTS gateway_key (
    gw TEXT NOT NULL PRIMARY KEY,
    public_key {blob} NOT NULL,
    kid {blob} NOT NULL,
    updated_utc {int} NOT NULL
)""",
    # one key signs for one gateway only
    "CREATE UNIQUE INDEX IF NOT EXISTS gateway_key_by_kid ON gateway_key (kid)",
    "CREATE INDEX IF NOT EXISTS gateway_key_by_update ON gateway_key (updated_utc)",
)


def _v3(engine: Engine, execute: Execute) -> None:
    for statement in _V3:
        execute(engine.sql(statement), ())


# version 4: a point's blocks by day, so that `grid allocate` finds a gap's nearest blocks
# (its gateway and seqs) with an index seek, whichever gateway sent them
_V4 = "CREATE INDEX IF NOT EXISTS block_by_ap ON block (ap, kind, day)"


def _v4(engine: Engine, execute: Execute) -> None:
    execute(_V4, ())


MIGRATIONS: tuple[Callable[[Engine, Execute], None], ...] = (_v1, _v2, _v3, _v4)
VERSION = len(MIGRATIONS)


class SchemaTooNew(ConfigError):
    """The store was migrated by a newer release than this one."""


def migrate(engine: Engine, execute: Execute) -> list[int]:
    """Apply the missing migrations (the caller holds the write lock in one transaction);
    returns the versions applied."""
    execute(f"CREATE TABLE IF NOT EXISTS grid_schema (version {engine.int} PRIMARY KEY, "
            f"applied_utc {engine.int} NOT NULL)", ())  # fmt: skip
    done = {int(row[0]) for row in execute("SELECT version FROM grid_schema", ())}
    if max(done, default=0) > VERSION:
        # a newer release migrated this store: an older one must not write what it cannot read
        raise SchemaTooNew(
            f"the store's schema is version {max(done)}, newer than this program's {VERSION}: "
            "upgrade p1edge on this host"
        )
    applied: list[int] = []
    for version, step in enumerate(MIGRATIONS, start=1):
        if version in done:
            continue
        step(engine, execute)
        execute("INSERT INTO grid_schema VALUES (?, CAST(strftime('%s','now') AS INTEGER))"
                if engine is SQLITE else
                "INSERT INTO grid_schema VALUES (?, CAST(extract(epoch FROM now()) AS BIGINT))",
                (version,))  # fmt: skip
        applied.append(version)
    return applied
