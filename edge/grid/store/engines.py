"""The two engines behind the grid store: a connection, its transactions, its placeholders.

SQLite (the embedded default): WAL, `synchronous = FULL` (a block is acknowledged to the broker
only after its commit, so a commit must survive a power cut), BEGIN IMMEDIATE so that two
collector processes on one file take turns instead of failing, and a busy timeout for that.
PostgreSQL (psycopg 3): READ COMMITTED writes whose conflicts the insert itself settles
(ON CONFLICT), REPEATABLE READ for the allocation's consistent read.

`failure_state` sorts an engine's errors into the ones that pass (the server restarting, the
network, a lock held too long, a full disk: a collector waits and tries again) and the ones
that do not (None: a programming or schema error, a corrupt file: retrying cannot help).
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol

from edge.errors import ConfigError
from edge.grid.store.schema import POSTGRES, SQLITE, Engine

BUSY_TIMEOUT_MS = 60_000

# SQLite primary result codes that a retry may get past (sqlite3.h)
_SQLITE_PASSING = {5: "busy", 6: "busy", 8: "read-only", 10: "disk I/O error", 13: "disk full",
                   14: "cannot open its file", 15: "busy"}  # fmt: skip


class StoreUnavailable(ConfigError):
    """The store cannot be reached or written now (`state` says why); it may come back.

    At start this is a configuration error like any other (exit 2); during a collect run the
    collector waits and tries again."""

    def __init__(self, message: str, state: str) -> None:
        super().__init__(message)
        self.state = state


def failure_state(exc: BaseException) -> str | None:
    """What a store error means for a writer that may retry: a short state ("unreachable",
    "disk full", "busy", …) when it may pass, None when it will not."""
    if isinstance(exc, StoreUnavailable):
        return exc.state
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is None:  # an error of the sqlite3 module itself, e.g. a closed connection
            return "unreachable" if isinstance(exc, sqlite3.ProgrammingError) else None
        return _SQLITE_PASSING.get(code & 0xFF)
    return _postgres_state(exc)


def database_error(exc: BaseException, message: str) -> ConfigError | None:
    """An engine's error met while opening a store, as the error to raise (None: not an
    engine's error): `StoreUnavailable` when it may pass, else a plain `ConfigError`."""
    psycopg = sys.modules.get("psycopg")
    if not isinstance(exc, sqlite3.Error) and not (psycopg and isinstance(exc, psycopg.Error)):
        return None
    state = failure_state(exc)
    return ConfigError(message) if state is None else StoreUnavailable(message, state)


def _postgres_state(exc: BaseException) -> str | None:
    psycopg = sys.modules.get("psycopg")
    if psycopg is None or not isinstance(exc, psycopg.Error):
        return None
    sqlstate = getattr(exc, "sqlstate", None) or ""
    if sqlstate.startswith("53"):  # insufficient resources: disk full, out of memory
        return "disk full" if sqlstate == "53100" else "out of resources"
    if sqlstate.startswith("40") or sqlstate == "55P03":  # deadlock, serialization, lock
        return "busy"
    if sqlstate == "25006":  # a standby after a failover: read-only until promoted
        return "read-only"
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return "unreachable"  # connection refused or lost, server shutting down
    return None


class Connection(Protocol):
    """The little of a DB-API connection the store uses, with `?` placeholders."""

    engine: Engine

    def transaction(self, *, write: bool) -> Any: ...
    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...
    def stream(self, sql: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]: ...
    def copy_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None: ...
    def close(self) -> None: ...


class SqliteConnection:
    """One sqlite3 connection in autocommit mode; transactions are explicit."""

    engine = SQLITE

    def __init__(self, path: Path, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        try:
            # one user at a time, not always the opening thread (the collector commits on its own)
            self.conn = sqlite3.connect(
                path, isolation_level=None, timeout=busy_timeout_ms / 1000, check_same_thread=False
            )
            self.conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
            message = f"cannot open the SQLite store {path}: {exc}"
            state = failure_state(exc)
            raise (
                ConfigError(message) if state is None else StoreUnavailable(message, state)
            ) from None

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[None]:
        # a read transaction is one snapshot in WAL mode; a write one takes the lock at once
        self.conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield
        except BaseException:
            # SQLite may have rolled back already (a full disk, an I/O error): the first error
            # is the one to report, not "no transaction is active"
            if self.conn.in_transaction:
                with suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, tuple(params)).fetchall()

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    def stream(self, sql: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        yield from self.conn.execute(sql, tuple(params))

    def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError("staging tables are PostgreSQL's")

    def close(self) -> None:
        self.conn.close()


# the staging tables' column types (binary COPY must be told them)
_STAGED_TYPES = {
    "gw": "text", "ap": "text", "seq": "int8", "day": "text", "kid": "text", "cose": "bytea",
    "sha256": "bytea", "received_utc": "int8", "kind": "text", "prev": "bytea",
}  # fmt: skip

# a cut network must show as an error within seconds, not hang a commit for the kernel's
# retransmission timeout (~15 min) or a connection attempt forever; the URL may override each
_NETWORK_DEFAULTS = {
    "connect_timeout": "10",
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "3",
    "tcp_user_timeout": "30000",
}


def _login_refused(exc: BaseException) -> bool:
    # libpq reports a failed login as text only (no SQLSTATE on a connection attempt): a wrong
    # password, or a user or database that does not exist
    text = str(exc)
    return "authentication failed" in text or "does not exist" in text


def _pg(sql: str) -> str:
    return sql.replace("?", "%s")


class PostgresConnection:
    """One psycopg 3 connection; `?` placeholders become `%s`."""

    engine = POSTGRES

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError:
            raise ConfigError(
                "a postgresql:// store needs psycopg 3: pip install 'p1edge[grid]'"
            ) from None
        self._psycopg = psycopg
        try:
            given = psycopg.conninfo.conninfo_to_dict(url)
            extra = {k: v for k, v in _NETWORK_DEFAULTS.items() if k not in given}
            self.conn = psycopg.connect(
                psycopg.conninfo.make_conninfo(url, **extra), autocommit=True
            )
        except psycopg.Error as exc:
            message = f"cannot connect to the PostgreSQL store: {exc}"
            # a refused login is not a passing state: the operator must act
            state = None if _login_refused(exc) else failure_state(exc)
            raise (
                ConfigError(message) if state is None else StoreUnavailable(message, state)
            ) from None
        self._staged = False

    def _stage(self) -> None:
        # session-local, emptied at each commit: a batch's keys and blocks on their way in
        if self._staged:
            return
        self.conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS staged_key (gw TEXT, ap TEXT, seq BIGINT) "
            "ON COMMIT DELETE ROWS"
        )
        self.conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS staged_block (gw TEXT, ap TEXT, seq BIGINT, "
            "day TEXT, kid TEXT, cose BYTEA, sha256 BYTEA, received_utc BIGINT, kind TEXT, "
            "prev BYTEA) ON COMMIT DELETE ROWS"
        )
        self._staged = True

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[None]:
        if not write:
            self.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield
            finally:
                self.conn.execute("COMMIT")
            return
        with self.conn.transaction():
            yield

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        # binary parameters: arrays of bytea go as bytes, not as hex text (a third of the cost)
        cursor = self.conn.execute(_pg(sql), tuple(params), binary=True)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description is not None else []

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(_pg(sql), rows)  # type: ignore[arg-type]

    def stream(self, sql: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        # a server-side cursor: millions of blocks are not all held in memory at once
        with self.conn.cursor(name="grid_stream") as cursor:
            cursor.itersize = 2000
            cursor.execute(_pg(sql), tuple(params))  # type: ignore[arg-type]
            yield from cursor

    def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """COPY rows into one of the staging tables (inside the caller's transaction)."""
        self._stage()
        # binary: the blocks' bytes go as they are (text COPY would send them hex-escaped, twice
        # the size, and the server would parse that back): a third less CPU on both sides
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
        with self.conn.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[call-overload]
            copy.set_types([_STAGED_TYPES[column] for column in columns])
            for row in rows:
                copy.write_row(row)

    def close(self) -> None:
        self.conn.close()
