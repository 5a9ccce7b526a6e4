"""`edge-agent keygen`, run as the user runs it: `python -m edge keygen`."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from edge.blocks.keys import key_id, load_private_key, load_public_key


def keygen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge", "keygen", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_writes_a_key_pair(tmp_path: Path) -> None:
    result = keygen("--dir", str(tmp_path / "keys"))
    assert result.returncode == 0, result.stderr
    private, public = tmp_path / "keys" / "gateway.key", tmp_path / "keys" / "gateway.pub"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) & 0o077 == 0
    kid = key_id(load_private_key(private))
    assert key_id(load_public_key(public)) == kid
    assert kid.hex() in result.stdout


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    assert keygen("--dir", str(tmp_path)).returncode == 0
    before = (tmp_path / "gateway.key").read_bytes()
    result = keygen("--dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1  # one line, no traceback
    assert "already exists" in result.stderr and "gateway.key" in result.stderr
    assert (tmp_path / "gateway.key").read_bytes() == before


def test_refuses_when_only_the_public_key_exists(tmp_path: Path) -> None:
    (tmp_path / "gateway.pub").write_text("keep me")
    result = keygen("--dir", str(tmp_path))
    assert result.returncode == 2
    assert "gateway.pub" in result.stderr
    assert not (tmp_path / "gateway.key").exists()


def test_named_key_for_the_operator(tmp_path: Path) -> None:
    assert keygen("--dir", str(tmp_path), "--name", "operator").returncode == 0
    assert stat.S_IMODE((tmp_path / "operator.key").stat().st_mode) == 0o600
    assert (tmp_path / "operator.pub").exists()
    assert keygen("--dir", str(tmp_path)).returncode == 0  # gateway pair next to it


def test_bad_name_is_refused(tmp_path: Path) -> None:
    result = keygen("--dir", str(tmp_path), "--name", "../escape")
    assert result.returncode == 2
    assert "--name" in result.stderr
    assert list(tmp_path.iterdir()) == []
