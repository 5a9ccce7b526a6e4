"""The grid store on both engines (a real SQLite file, a real PostgreSQL server)."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.adapters.mqtt_topics import day_topic
from edge.blocks.cose import keyring
from edge.errors import ConfigError
from edge.grid.ingest import examine
from edge.grid.registry import RegistryRow
from edge.grid.store import Candidate, Outcome, RejectedRow, Rejection, open_store, sqlite_path
from edge.grid.store.schema import VERSION
from tests.blocks.factory import AP, GW, make_chain

PREFIX = "p1edge/v1"


def _candidates(key: Ed25519PrivateKey, n: int) -> list[Candidate]:
    ring = keyring(key.public_key())
    found = []
    for seq, block in enumerate(make_chain(key, n), start=1):
        item = examine(day_topic(PREFIX, GW, AP, f"2026-03-{seq:02d}"), block, ring, prefix=PREFIX)
        assert isinstance(item, Candidate), item
        found.append(item)
    return found


def test_urls_and_bare_paths(tmp_path: Path) -> None:
    assert sqlite_path("sqlite:///rel/grid.sqlite") == Path("rel/grid.sqlite")
    assert sqlite_path("sqlite:////abs/grid.sqlite") == Path("/abs/grid.sqlite")
    assert sqlite_path(str(tmp_path / "g.sqlite")) == tmp_path / "g.sqlite"
    assert sqlite_path("postgresql://u@h/db") is None
    with pytest.raises(ConfigError, match="sqlite:///PATH"):
        sqlite_path("mysql://h/db")
    with pytest.raises(ConfigError, match="cannot open"):
        open_store(tmp_path / "missing-dir" / "g.sqlite")


def test_migrations_are_idempotent(store_url: str) -> None:
    for _ in range(2):
        with open_store(store_url) as store:
            versions = store.conn.execute("SELECT version FROM grid_schema ORDER BY version")
            assert versions == [(v,) for v in range(1, VERSION + 1)] and VERSION == 4


def test_an_existing_collector_file_is_migrated_with_its_blocks(
    tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    # the file `grid collect --db` wrote before version 2 (no grid_schema table at all)
    items = _candidates(key, 2)
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE block (gw TEXT NOT NULL, ap TEXT NOT NULL, seq INTEGER NOT NULL, "
        "day TEXT NOT NULL, kid TEXT NOT NULL, cose BLOB NOT NULL, sha256 BLOB NOT NULL, "
        "received_utc INTEGER NOT NULL, PRIMARY KEY (gw, ap, seq)) WITHOUT ROWID"
    )
    for c in items:
        conn.execute("INSERT INTO block VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
                     (c.gw, c.ap, c.seq, c.day, c.kid, c.cose, c.sha256))  # fmt: skip
    conn.commit()
    conn.close()
    with open_store(path) as store:
        assert store.conn.execute("SELECT seq, prev, kind FROM block ORDER BY seq") == [
            (1, None, "day"),
            (2, items[1].prev, "day"),
        ]
        # the back-filled link is checked like any other: a forged seq 3 cannot attach
        forged = dataclasses.replace(items[1], seq=3, prev=b"\0" * 32, day="2026-03-03")
        assert store.ingest([forged], now=0)[0].verdict == "rejected"


def test_ingest_settles_new_duplicate_conflict_and_broken_links(
    store_url: str, key: Ed25519PrivateKey
) -> None:
    items = _candidates(key, 5)
    other = _candidates(Ed25519PrivateKey.generate(), 5)  # same seqs and days, other bytes
    with open_store(store_url) as store:
        outcomes = store.ingest([items[0], items[1], items[1], items[3]], now=100)
        assert [o.verdict for o in outcomes] == ["stored", "stored", "duplicate", "stored"]
        assert outcomes[3].gap == (3, 3)
        assert [(g.first, g.last) for g in store.gaps()] == [(3, 3)]
        reused, broken, after = store.ingest([other[1], other[2], items[2]], now=101)
        assert reused.verdict == "rejected" and "reused" in reused.problems[0]
        assert broken.verdict == "rejected" and "prev does not match" in broken.problems[0]
        assert after.verdict == "stored" and after.gap is None
        assert store.gaps() == []
        assert store.chain(GW, AP) == [c.cose for c in items[:4]]
        assert store.count() == 4 and store.rejected_count() == 2
        assert store.rejected_for_days(["2026-03-02", "2026-03-03"]) == [
            RejectedRow(GW, AP, "2026-03-02", "; ".join(reused.problems)),
            RejectedRow(GW, AP, "2026-03-03", "; ".join(broken.problems)),
        ]


def test_a_block_in_the_same_batch_is_seen_by_the_next(
    store_url: str, key: Ed25519PrivateKey
) -> None:
    items = _candidates(key, 3)
    bad = dataclasses.replace(items[2], prev=b"\1" * 32, sha256=b"\2" * 32)
    with open_store(store_url) as store:
        outcomes = store.ingest([items[0], items[1], bad, items[2]], now=0)
    assert [o.verdict for o in outcomes] == ["stored", "stored", "rejected", "stored"]


def test_the_read_api_of_the_allocation_run(store_url: str, key: Ed25519PrivateKey) -> None:
    items = _candidates(key, 4)
    month = dataclasses.replace(items[3], seq=5, day="2026-03", kind="month", prev=items[3].sha256)
    junk = Rejection("t", "gw-x", AP, "2026-03-02", None, "garbage", 3, b"\0" * 32, b"abc")
    with open_store(store_url) as store:
        store.ingest([*items, month, junk], now=0)
        assert list(store.blocks_for_days(["2026-03-02", "2026-03-04", "2026-03"])) == [
            (GW, AP, 2, items[1].cose),
            (GW, AP, 4, items[3].cose),
        ]  # the month block is not a day's, whatever the days asked
        assert list(store.blocks_for_days([])) == []
        assert len(list(store.blocks())) == 5
        assert store.rejected_for_days(["2026-03-02"]) == [
            RejectedRow("gw-x", AP, "2026-03-02", "garbage")
        ]


def test_a_lost_insert_race_is_a_duplicate_or_a_conflict(
    store_url: str, key: Ed25519PrivateKey
) -> None:
    # two collectors looked the key up at once and both found nothing: the insert decides
    items = _candidates(key, 1)
    other = _candidates(Ed25519PrivateKey.generate(), 1)
    with open_store(store_url) as one, open_store(store_url) as two:
        assert one.ingest(items, now=0)[0].verdict == "stored"
        if two.engine == "sqlite":  # BEGIN IMMEDIATE: the lookup already saw it
            assert two.ingest(items, now=0)[0].verdict == "duplicate"
            return
        with two.conn.transaction(write=True):
            lost = two._insert(items, 0)
            assert lost == {(GW, AP, 1)}
            assert two._settle(items[0], Outcome("stored"), lost).verdict == "duplicate"
            assert two._settle(other[0], Outcome("stored"), lost).verdict == "rejected"
        assert one.count() == 1


def test_registry_rows_replace_per_point_or_whole_in_one_transaction(store_url: str) -> None:
    a = RegistryRow("871687120000000011", "c1", "primary", "GA1", "S1", "B1", Decimal("17.3"),
                    date(2026, 1, 1), None)  # fmt: skip
    b = dataclasses.replace(a, ap="871687120000000028", role="secondary")
    with open_store(store_url) as store:
        assert store.import_registry([a, b]) == 2
        assert store.registry_rows() == [a, b]
        # a supplier switch of point a: its rows become the new file's, b stays
        until = dataclasses.replace(a, valid_to=date(2026, 3, 15))
        switched = dataclasses.replace(a, supplier="S2", valid_from=date(2026, 3, 15))
        store.import_registry([until, switched])
        assert store.registry_rows() == [until, switched, b]
        store.import_registry([b], replace=True)
        assert store.registry_rows() == [b]
