"""The outbox and block archive on a real SQLite file (no broker)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.adapters.mqtt_blocking import BlockingClient
from edge.errors import OutboxFullError, StoreError
from edge.policy import PointConfig, PolicyConfig
from edge.release.consent import change_consent
from edge.store.db import connect
from edge.store.outbox import Outbox, archive_block, archived_blocks, last_block
from tests.mqtt.helpers import TIMEOUT, enqueue, outbox_db, read_until, running_link
from tests.support.mosquitto import running_broker


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    conn = connect(tmp_path)
    yield Outbox(conn, capacity=5)  # type: ignore[misc]
    conn.close()


def test_heads_give_each_points_oldest_entry_in_queue_order(outbox: Outbox) -> None:
    for ap, n in [("a", 1), ("b", 1), ("a", 2), ("c", 1), ("b", 2)]:
        outbox.enqueue(ap, f"t/{ap}/{n}", f"{ap}{n}".encode(), now=100)
    assert [e.topic for e in outbox.heads()] == ["t/a/1", "t/b/1", "t/c/1"]
    assert [e.topic for e in outbox.heads(exclude={"b"})] == ["t/a/1", "t/c/1"]
    first = outbox.heads()[0]
    assert outbox.ack(first.id) and not outbox.ack(first.id)
    assert [e.topic for e in outbox.heads()] == ["t/b/1", "t/a/2", "t/c/1"]  # by id
    assert outbox.depth() == 4


def test_a_refused_entry_stays_in_place_with_its_error(outbox: Outbox) -> None:
    first = outbox.enqueue("a", "t/a/1", b"1", now=100)
    outbox.enqueue("a", "t/a/2", b"2", now=100)
    outbox.fail(first, "Not authorized (0x87)")
    outbox.fail(first, "Not authorized (0x87)")
    head = outbox.heads()[0]
    assert (head.id, head.attempts, head.last_error) == (first, 2, "Not authorized (0x87)")
    assert [e.id for e in outbox.failing()] == [first]
    outbox.clear_error(first)
    assert outbox.failing() == []


def test_opt_out_deletes_only_that_points_entries(outbox: Outbox) -> None:
    for ap in ["a", "b", "a"]:
        outbox.enqueue(ap, f"t/{ap}", b"x", now=100)
    assert outbox.delete_for_ap("a") == 2
    assert [e.ap for e in outbox.entries()] == ["b"]


def test_a_full_outbox_refuses_instead_of_dropping(outbox: Outbox) -> None:
    ids = [outbox.enqueue("a", f"t/{n}", b"x", now=100) for n in range(5)]
    assert outbox.is_full()
    with pytest.raises(OutboxFullError, match="outbox full"):
        outbox.enqueue("a", "t/6", b"x", now=100)
    assert [e.id for e in outbox.entries()] == ids  # nothing old was dropped either
    outbox.ack(ids[0])
    assert not outbox.is_full()


def test_enqueue_belongs_to_the_callers_transaction(outbox: Outbox) -> None:
    outbox.conn.execute("BEGIN IMMEDIATE")
    outbox.enqueue("a", "t/a", b"x", now=datetime(2026, 3, 2, tzinfo=UTC))
    outbox.conn.execute("ROLLBACK")
    assert outbox.depth() == 0


def test_ids_are_never_reused(outbox: Outbox) -> None:
    first = outbox.enqueue("a", "t/1", b"x", now=100)
    outbox.ack(first)
    assert outbox.enqueue("a", "t/2", b"x", now=100) > first


def test_naive_times_are_refused(outbox: Outbox) -> None:
    with pytest.raises(StoreError, match="naive"):
        outbox.enqueue("a", "t", b"x", now=datetime(2026, 3, 2))


def test_block_archive_keeps_the_signed_bytes_and_never_reuses_a_seq(tmp_path: Path) -> None:
    conn = connect(tmp_path)
    try:
        archive_block(conn, ap="a", seq=1, period="2026-03-01", cose=b"\xd2one", now=100)
        block = archive_block(conn, ap="a", seq=2, period="2026-03-02", cose=b"\xd2two", now=101)
        with pytest.raises(StoreError, match="never reused"):
            archive_block(conn, ap="a", seq=2, period="2026-03-02", cose=b"\xd2other", now=102)
        assert [b.cose for b in archived_blocks(conn, "a")] == [b"\xd2one", b"\xd2two"]
        assert last_block(conn, "a") == block
        assert last_block(conn, "b") is None
    finally:
        conn.close()


def test_an_opt_out_counts_the_block_already_on_its_way(tmp_path: Path) -> None:
    """Issue 11 item 10: a block the link has published (no PUBACK yet) is not "deleted": the
    opt-out says "N deleted, M already sent", and indeed it arrives after the broker resumes."""
    ap = "871687120000000011"
    policy = PolicyConfig(gateway_id="gw-1", tz="Europe/Amsterdam", points=(PointConfig(ap),))
    db = tmp_path / "gw.sqlite"
    with running_broker(tmp_path / "broker") as broker, outbox_db(db) as (conn, box):  # noqa: SIM117
        with BlockingClient(broker.settings(), client_id="grid") as grid:  # the grid's side
            grid.subscribe("p1edge/v1/gw-1/ap/#")
            with running_link(broker.settings(), db, "gw-1") as link:
                assert link.wait(lambda s: s.connected, TIMEOUT).connected
                broker.pause()  # the broker takes the bytes but answers nothing: no PUBACK
                topics = [f"p1edge/v1/gw-1/ap/{ap}/day/2026-06-0{d}" for d in (1, 2, 3)]
                enqueue(conn, box, [(ap, t, t.encode()) for t in topics])
                link.wake()  # as the release does after its commit (else: the 30 s poll)
                deadline = time.monotonic() + TIMEOUT
                while conn.execute("SELECT COUNT(sent_utc) FROM outbox").fetchone()[0] == 0:
                    assert time.monotonic() < deadline, "the link never published the head"
                    time.sleep(0.05)
                now = datetime(2026, 6, 4, 12, tzinfo=UTC)
                result = change_consent(conn, policy, ap, "opt-out", by="customer", now=now)
                assert result.deleted is not None
                assert (result.deleted.deleted, result.deleted.already_sent) == (2, 1)
                assert "2 undelivered blocks deleted, 1 already sent" in result.message
                broker.resume()
                arrived = read_until(grid, lambda m: m.topic == topics[0])
                assert [m.topic for m in arrived] == [topics[0]]  # the one said to be sent
            assert box.depth() == 0
