"""The schema as an append-only list of migrations (never edit a released step: add one)."""

from __future__ import annotations

MIGRATIONS: list[tuple[str, ...]] = [
    # 1: quarter-hour registers (edge.store.registers)
    (
        """CREATE TABLE meter_series (
            ap TEXT NOT NULL,
            series INTEGER NOT NULL,
            meter TEXT,
            started_utc INTEGER NOT NULL,
            PRIMARY KEY (ap, series)
        )""",
        """CREATE TABLE boundary (
            ap TEXT NOT NULL,
            boundary_utc INTEGER NOT NULL,
            meter TEXT,
            series INTEGER NOT NULL,
            import_t1 INTEGER, import_t2 INTEGER, export_t1 INTEGER, export_t2 INTEGER,
            status TEXT NOT NULL CHECK (status IN ('measured', 'interpolated', 'missing')),
            PRIMARY KEY (ap, boundary_utc)
        ) WITHOUT ROWID""",
        """CREATE TABLE interval (
            ap TEXT NOT NULL,
            start_utc INTEGER NOT NULL,
            status TEXT NOT NULL,
            flags TEXT NOT NULL,
            max_power_w INTEGER,
            PRIMARY KEY (ap, start_utc)
        ) WITHOUT ROWID""",
        """CREATE TABLE checkpoint (
            ap TEXT PRIMARY KEY,
            state TEXT NOT NULL
        )""",
    ),
]
