"""`edge-agent grid verify`: lines, summary and exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.blocks.keys import save_public_key
from edge.cli import main
from tests.blocks.factory import AP, GW, make_chain


@pytest.fixture
def store(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    """A directory of 5 chained blocks as the collector would store them, and the key."""
    save_public_key(key, tmp_path / "gateway.pub")
    blocks = tmp_path / "blocks"
    blocks.mkdir()
    for seq, block in enumerate(make_chain(key, 5), start=1):
        (blocks / f"{seq:05d}.cose").write_bytes(block)
    return tmp_path


def grid_verify(store: Path, *args: str) -> int:
    return main(["grid", "verify", "--pubkey", str(store / "gateway.pub"), *args])


def test_all_good(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert grid_verify(store, str(store / "blocks")) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6
    assert all(line.startswith("ok") for line in lines[:5])
    assert "seq=3 day=2026-03-03 n=96" in lines[2]
    assert lines[-1] == "OK: 5 blocks, 5 verified, 0 failed, 0 gaps"


def test_single_files(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted(str(p) for p in (store / "blocks").iterdir())
    assert grid_verify(store, *files[:2]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("OK: 2 blocks")


def test_tampered_block_fails(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = store / "blocks" / "00003.cose"
    data = bytearray(path.read_bytes())
    data[300] ^= 0x04
    path.write_bytes(bytes(data))
    assert grid_verify(store, str(store / "blocks")) == 1
    out = capsys.readouterr().out
    assert "FAIL  " + str(path) in out
    assert "signature does not verify" in out
    assert out.splitlines()[-1].startswith("FAILED: 5 blocks, 4 verified, 1 failed, 1 gap")


def test_gap_exit_code(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (store / "blocks" / "00004.cose").unlink()
    assert grid_verify(store, str(store / "blocks")) == 0
    assert "seq 4 missing" in capsys.readouterr().out
    assert grid_verify(store, "--fail-on-gap", str(store / "blocks")) == 1


def test_wrong_key_fails(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save_public_key(Ed25519PrivateKey.generate(), tmp_path / "other.pub")
    code = main(["grid", "verify", "--pubkey", str(tmp_path / "other.pub"), str(store / "blocks")])
    assert code == 1
    assert "unknown kid" in capsys.readouterr().out


def test_unusable_input(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grid", "verify", "--pubkey", str(tmp_path / "nope.pub"), str(store)]) == 2
    assert "nope.pub" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert grid_verify(store, str(empty)) == 2
    assert grid_verify(store, str(tmp_path / "missing.cose")) == 1
    assert "cannot read" in capsys.readouterr().out


def test_as_a_process(store: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "edge", "grid", "verify", "--pubkey", str(store / "gateway.pub"),
         str(store / "blocks")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "OK: 5 blocks, 5 verified, 0 failed, 0 gaps"


def test_a_monthly_block_continues_the_chain(
    store: Path, key: Ed25519PrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime

    from edge.blocks.chain import block_hash
    from edge.blocks.cose import sign
    from edge.blocks.month import MONTH_CONTENT_TYPE, MonthReadings, encode_month_payload

    last = (store / "blocks" / "00005.cose").read_bytes()
    month = MonthReadings(
        gw=GW, ap=AP, role="primary", meter="M", month="2026-04",
        tz="Europe/Amsterdam", status=("measured", "measured"),
        readings={r: (1, 2) for r in ("import_t1", "import_t2", "export_t1", "export_t2")},
    )  # fmt: skip
    payload = encode_month_payload(
        month, seq=6, prev=block_hash(last), created=datetime(2026, 5, 2, tzinfo=UTC),
        time_sync="ntp",
    )  # fmt: skip
    (store / "blocks" / "00006.cose").write_bytes(sign(payload, key, MONTH_CONTENT_TYPE))
    assert grid_verify(store, str(store / "blocks")) == 0, capsys.readouterr().out
    lines = capsys.readouterr().out.splitlines()
    assert "seq=6 day=2026-04" in lines[5]
    assert lines[-1] == "OK: 6 blocks, 6 verified, 0 failed, 0 gaps"
