"""SQLite persistence: one database file per gateway, WAL mode, `synchronous=FULL`."""

from edge.store.db import SCHEMA_VERSION, connect

__all__ = ["SCHEMA_VERSION", "connect"]
