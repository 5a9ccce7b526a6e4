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
    # 2: outbox (edge.store.outbox): messages waiting for a PUBACK, in order per allocation
    # point (AUTOINCREMENT: ids are never reused, so id order is queue order even after deletes);
    # block: the archive of signed day blocks, exactly the bytes that were signed
    (
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            ap TEXT NOT NULL,
            topic TEXT NOT NULL,
            payload BLOB NOT NULL,
            qos INTEGER NOT NULL CHECK (qos IN (0, 1, 2)),
            created_utc INTEGER NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT
        )""",
        "CREATE INDEX outbox_by_ap ON outbox (ap, id)",
        """CREATE TABLE block (
            ap TEXT NOT NULL,
            seq INTEGER NOT NULL,
            period TEXT NOT NULL,
            cose BLOB NOT NULL,
            sha256 BLOB NOT NULL,
            created_utc INTEGER NOT NULL,
            PRIMARY KEY (ap, seq)
        ) WITHOUT ROWID""",
    ),
    # 3: the readout policy's state (edge.store.policy) and the customer's consumer log
    (
        """CREATE TABLE policy_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            state TEXT NOT NULL
        )""",
        """CREATE TABLE consumer_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at_utc INTEGER NOT NULL,
            entry TEXT NOT NULL
        )""",
    ),
    # 4: the meter's own monthly peaks (edge.store.peaks): Belgian 1-0:1.6.0 / 0-0:98.1.0, as
    # the meter reported them, for the capacity-tariff cross-check
    (
        """CREATE TABLE meter_peak (
            ap TEXT NOT NULL,
            month TEXT NOT NULL,
            peak_w INTEGER NOT NULL,
            peak_utc INTEGER,
            PRIMARY KEY (ap, month)
        ) WITHOUT ROWID""",
    ),
    # 5: the grid link marks an outbox entry when it hands it to the broker, so an opt-out can
    # say how many of the deleted entries had already been sent (edge.release.consent)
    ("ALTER TABLE outbox ADD COLUMN sent_utc INTEGER",),
    # 6: kind to the SD card. Keyed (ap, time), each quarter-hour's rows of six meters landed on
    # six leaf pages per table: ~20 WAL pages (~86 KiB) per commit. Keyed (time, ap), they all
    # append to the same right-most leaf; the per-point queries read a bounded time range or
    # stop at the first match (edge.store.registers). The checkpoint loses its rowid and index.
    (
        """CREATE TABLE boundary_by_time (
            boundary_utc INTEGER NOT NULL,
            ap TEXT NOT NULL,
            meter TEXT,
            series INTEGER NOT NULL,
            import_t1 INTEGER, import_t2 INTEGER, export_t1 INTEGER, export_t2 INTEGER,
            status TEXT NOT NULL CHECK (status IN ('measured', 'interpolated', 'missing')),
            PRIMARY KEY (boundary_utc, ap)
        ) WITHOUT ROWID""",
        """INSERT INTO boundary_by_time (boundary_utc, ap, meter, series, import_t1, import_t2,
            export_t1, export_t2, status)
            SELECT boundary_utc, ap, meter, series, import_t1, import_t2, export_t1, export_t2,
            status FROM boundary""",
        "DROP TABLE boundary",
        "ALTER TABLE boundary_by_time RENAME TO boundary",
        """CREATE TABLE interval_by_time (
            start_utc INTEGER NOT NULL,
            ap TEXT NOT NULL,
            status TEXT NOT NULL,
            flags TEXT NOT NULL,
            max_power_w INTEGER,
            PRIMARY KEY (start_utc, ap)
        ) WITHOUT ROWID""",
        """INSERT INTO interval_by_time (start_utc, ap, status, flags, max_power_w)
            SELECT start_utc, ap, status, flags, max_power_w FROM interval""",
        "DROP TABLE interval",
        "ALTER TABLE interval_by_time RENAME TO interval",
        """CREATE TABLE checkpoint_new (
            ap TEXT PRIMARY KEY,
            state TEXT NOT NULL
        ) WITHOUT ROWID""",
        "INSERT INTO checkpoint_new (ap, state) SELECT ap, state FROM checkpoint",
        "DROP TABLE checkpoint",
        "ALTER TABLE checkpoint_new RENAME TO checkpoint",
    ),
]
