"""hw/config.example.toml validates (issue 6) and `check-config` reports it."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.cli import main
from edge.config import Band, Dialect, Role, SerialSource, load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "hw" / "config.example.toml"


def test_example_config_validates() -> None:
    config = load_config(EXAMPLE, prepare_dirs=False)
    assert config.gateway.data_dir == Path("/var/lib/p1edge")
    assert config.connection.capacity_va == 17300
    assert config.connection.band is Band.X5
    assert config.primary.source == SerialSource("/dev/p1-main")
    assert config.primary.dialect is Dialect.DSMR5
    assert [p.role for p in config.points] == [Role.PRIMARY, Role.SECONDARY, Role.SECONDARY]
    assert {p.name for p in config.secondaries} == {"EV charger", "PV installation"}
    assert config.grid is not None and config.grid.broker.tls
    assert config.local is not None and config.local.homeassistant_discovery
    assert config.signing.key == EXAMPLE.parent / "keys" / "gateway.key"


def test_example_documents_every_key() -> None:
    """Every key the example sets has a comment somewhere above it in its section."""
    lines = EXAMPLE.read_text().splitlines()
    keys = [line.split("=")[0].strip() for line in lines if "=" in line and line[:1].isalpha()]
    assert len(keys) >= 30
    commented = sum(1 for line in lines if line.startswith("#"))
    assert commented >= len(set(keys))


def test_check_config_prints_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "--config", str(EXAMPLE), "--no-dirs"]) == 0
    out = capsys.readouterr().out
    assert "17.3 kVA (from the fuse table)" in out and "band X5" in out
    assert "871687120000000011" in out and "/dev/p1-ev" in out


def test_check_config_reports_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "config.toml"
    bad.write_text(EXAMPLE.read_text().replace("fuse_a = 25", "fuse_a = 36"))
    assert main(["check-config", "--config", str(bad), "--no-dirs"]) == 2
    err = capsys.readouterr().err
    assert "connection.fuse_a: 36 A is no standard fuse size for 3 phases at 400 V" in err


def test_check_config_files_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "--config", str(EXAMPLE), "--no-dirs", "--files"]) == 2
    assert "signing.key: cannot read" in capsys.readouterr().err
