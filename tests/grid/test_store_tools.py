"""`grid export` (stored blocks back as .cose files that `grid verify` accepts) and hostile
input to the collector: counted, stored rejections, never an exception."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.adapters.mqtt_topics import day_topic
from edge.blocks.keys import save_public_key
from edge.cli import main
from edge.config.ean import gs1_check_digit
from edge.errors import KeyFileError
from edge.grid.collector import Collector
from edge.grid.ingest import MAX_BLOCK_BYTES, load_gateway_keys
from edge.grid.store import open_store
from tests.blocks.factory import AP, GW, make_chain

PREFIX = "p1edge/v1"


def _topic(seq: int) -> str:
    return day_topic(PREFIX, GW, AP, f"2026-03-{seq:02d}")


def _keys(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    keys = tmp_path / "keys"
    keys.mkdir(exist_ok=True)
    save_public_key(key, keys / f"{GW}.pub")
    return keys


def test_export_writes_what_grid_verify_accepts(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = Ed25519PrivateKey.generate()
    keys = _keys(tmp_path, key)
    blocks = make_chain(key, 4)
    collector = Collector(open_store(store_url), load_gateway_keys(keys), prefix=PREFIX)
    try:
        results = collector.handle_batch([(_topic(s), blocks[s - 1]) for s in (1, 2, 4)], now=0)
        assert [r.verdict for r in results] == ["stored"] * 3
    finally:
        collector.close()
    out = tmp_path / "export"
    assert main(["grid", "export", "--store", store_url, "--out", str(out)]) == 0
    assert "exported: 3 blocks" in capsys.readouterr().out
    files = sorted(out.rglob("*.cose"))
    assert [f.read_bytes() for f in files] == [blocks[0], blocks[1], blocks[3]]
    code = main(["grid", "verify", "--pubkey", str(keys / f"{GW}.pub"), "--fail-on-gap", str(out)])
    text = capsys.readouterr().out
    assert code == 1 and "3 verified, 0 failed, 1 gap" in text  # seq 3 never arrived


def test_export_with_the_older_db_option_and_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "grid.sqlite"
    open_store(db).close()
    assert main(["grid", "export", "--db", str(db), "--out", str(tmp_path / "o")]) == 0
    assert "exported: 0 blocks" in capsys.readouterr().out
    assert main(["grid", "export", "--db", str(db), "--store", str(db), "--out", "x"]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["grid", "export", "--store", "mysql://h/db", "--out", "x"]) == 2


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (_topic(1), b"", "not CBOR"),
        (_topic(1), b"\xff\x00garbage", "not CBOR"),
        (_topic(1), cbor2.dumps({"not": "a block"}), "not a tagged COSE_Sign1"),
        (
            _topic(1),
            cbor2.dumps(cbor2.CBORTag(18, [cbor2.dumps({1: -8}), {}, b"x", b"\0" * 64])),
            "protected header",
        ),
        (_topic(1), b"\0" * (MAX_BLOCK_BYTES + 1), "larger than a block"),
        ("p1edge/v1/gw/ap/x/week/1", b"x", "not a day- or month-block topic"),
        ("elsewhere/x", b"x", "not a day- or month-block topic"),
    ],
)
def test_hostile_messages_are_stored_rejections(
    tmp_path: Path, topic: str, payload: bytes, reason: str
) -> None:
    key = Ed25519PrivateKey.generate()
    collector = Collector(tmp_path / "g.sqlite", load_gateway_keys(_keys(tmp_path, key)))
    try:
        result = collector.handle(topic, payload, now=0)
        assert result.verdict == "rejected" and reason in "; ".join(result.problems)
        assert collector.store.rejected_count() == 1 and collector.count() == 0
        # and the collector goes on: a genuine block after it is stored
        assert collector.handle(_topic(1), make_chain(key, 1)[0], now=0).verdict == "stored"
    finally:
        collector.close()


def test_gateway_keys_are_bound_by_file_name(tmp_path: Path) -> None:
    empty = tmp_path / "none"
    empty.mkdir()
    with pytest.raises(KeyFileError, match=r"no <gateway>\.pub"):
        load_gateway_keys(empty)
    key = Ed25519PrivateKey.generate()
    keys = _keys(tmp_path, key)
    save_public_key(key, keys / "gw-other.pub")
    with pytest.raises(KeyFileError, match="several gateways"):
        load_gateway_keys(keys)


def _ean(body: str) -> str:
    return body + str(gs1_check_digit(body))


HEADER = "ap,connection,role,grid_area,supplier,brp,capacity_kva,valid_from,valid_to\n"


def test_registry_import_all_or_nothing(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main_ap, pv = _ean("87168712000000001"), _ean("87168712000000002")
    c1 = _ean("87168712000000009")
    good = tmp_path / "registry.csv"
    good.write_text(HEADER + f"{main_ap},{c1},primary,GA1,S1,B1,17.3,2026-01-01,\n"
                    f"{pv},{c1},secondary,GA1,S2,B1,5,2026-01-01,2026-04-01\n")  # fmt: skip
    command = ["grid", "registry", "--store", store_url, "import"]
    assert main([*command, str(good)]) == 0
    assert "2 rows imported" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + f"{main_ap},{c1},primary,GA1,S9,B1,17.3,2026-01-01,\n"
                   f"12345,{c1},secondary,GA1,S2,B1,5,2026-01-01,\n")  # fmt: skip
    assert main([*command, str(bad)]) == 2
    assert "bad.csv:3" in capsys.readouterr().err
    with open_store(store_url) as store:
        rows = store.registry_rows()
    assert [(r.ap, r.supplier, r.capacity_kva, r.valid_to) for r in rows] == [
        (main_ap, "S1", Decimal("17.3"), None),
        (pv, "S2", Decimal("5"), date(2026, 4, 1)),
    ]  # nothing of the bad file
