"""SQLite persistence: one database file per gateway, WAL mode, `synchronous=FULL`."""

from edge.store.db import SCHEMA_VERSION, connect
from edge.store.lock import DataDirLock

__all__ = ["SCHEMA_VERSION", "DataDirLock", "connect"]
