"""The grid store: verified day blocks, rejections and the registry, on SQLite or PostgreSQL.

    store = open_store("sqlite:///grid.sqlite")   # or a bare path, or postgresql://…
    for gw, ap, seq, cose in store.blocks_for_days(["2026-03-01"]): ...

URLs: `sqlite:///PATH` (SQLAlchemy's form: `sqlite:///rel/path`, `sqlite:////abs/path`), a bare
path (the embedded default), or a libpq URI `postgresql://user@host:port/db` (also with
`?host=/socket/dir`). Opening migrates the schema (idempotent; several collectors may open at
once). One store object per thread.
"""

from __future__ import annotations

from pathlib import Path

from edge.errors import ConfigError
from edge.grid.store.engines import (
    BUSY_TIMEOUT_MS,
    PostgresConnection,
    SqliteConnection,
    StoreUnavailable,
    failure_state,
)
from edge.grid.store.model import Candidate, ChainGap, Outcome, RejectedRow, Rejection, Verdict
from edge.grid.store.schema import SchemaTooNew
from edge.grid.store.sql import SqlStore

Store = SqlStore

__all__ = [
    "Candidate",
    "ChainGap",
    "Outcome",
    "RejectedRow",
    "Rejection",
    "SchemaTooNew",
    "Store",
    "StoreUnavailable",
    "Verdict",
    "failure_state",
    "open_store",
    "store_url",
]


def store_url(store: str | None, db: str | Path | None) -> str:
    """The store URL from `--store URL` or the older `--db FILE` (exactly one of them)."""
    if store and db:
        raise ConfigError("give --store URL or --db FILE, not both")
    if not store and not db:
        raise ConfigError("a store is needed: --store URL (or --db FILE)")
    return str(store or db)


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite store URL or bare path; None for PostgreSQL."""
    if url.startswith(("postgresql://", "postgres://")):
        return None
    if url.startswith("sqlite:///"):
        rest = url[len("sqlite:///") :]
        if not rest:
            raise ConfigError(f"store URL {url!r} names no file: sqlite:///PATH")
        return Path(rest)
    if "://" in url:
        raise ConfigError(f"store URL {url!r}: use sqlite:///PATH, a file path, or postgresql://…")
    return Path(url)


def open_store(url: str | Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> SqlStore:
    """Open (and migrate) the store at `url`; `ConfigError` when it cannot be opened
    (`StoreUnavailable` when that may pass, `SchemaTooNew` when a newer release migrated it).
    `busy_timeout_ms`: how long an SQLite write waits for another writer's lock."""
    text = str(url)
    path = sqlite_path(text)
    if path is None:
        return SqlStore(PostgresConnection(text), text, lambda: PostgresConnection(text))
    file = path

    def connect() -> SqliteConnection:
        return SqliteConnection(file, busy_timeout_ms)

    return SqlStore(connect(), f"sqlite:///{path}", connect)
