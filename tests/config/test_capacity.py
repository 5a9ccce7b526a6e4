"""Capacity from SPEC §1's table: exact VA, band, quarter-hour energy and the R2 limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import FUSE_TABLE, Band, band_of, parse_config
from tests.config.support import table


@pytest.mark.parametrize(
    ("phases", "voltage", "fuse", "va", "band", "quarter_wh", "r2_wh"),
    [
        (1, 230, 16, 3700, Band.X2, 925, 1110),
        (1, 230, 40, 9200, Band.X3, 2300, 2760),
        (1, 230, 63, 14500, Band.X4, 3625, 4350),
        (3, 230, 25, 10000, Band.X3, 2500, 3000),
        (3, 230, 50, 19900, Band.X5, 4975, 5970),
        (3, 400, 25, 17300, Band.X5, 4325, 5190),
        (3, 400, 40, 27700, Band.X6, 6925, 8310),
        (3, 400, 100, 69200, Band.X7, 17300, 20760),
    ],
)
def test_table_cells(
    tmp_path: Path,
    phases: int,
    voltage: int,
    fuse: int,
    va: int,
    band: Band,
    quarter_wh: int,
    r2_wh: int,
) -> None:
    data = table(tmp_path / "data")
    data["connection"].update(phases=phases, voltage=voltage, fuse_a=fuse)
    conn = parse_config(data, tmp_path).connection
    assert (conn.capacity_va, conn.band) == (va, band)
    assert conn.quarter_capacity_wh == va // 4 == quarter_wh
    assert conn.r2_limit_wh == r2_wh
    assert conn.volume_exceeds(r2_wh) and not conn.volume_exceeds(r2_wh - 1)


def test_voltage_defaults_by_phases(tmp_path: Path) -> None:
    data = table(tmp_path / "data")
    data["connection"] = {"ean": data["connection"]["ean"], "phases": 1, "fuse_a": 16}
    assert parse_config(data, tmp_path).connection.voltage == 230
    data["connection"].update(phases=3, fuse_a=25)
    assert parse_config(data, tmp_path).connection.voltage == 400


def test_capacity_kva_text(tmp_path: Path) -> None:
    conn = parse_config(table(tmp_path / "data"), tmp_path).connection
    assert conn.capacity_kva == "17.3"


@pytest.mark.parametrize(
    ("va", "band"),
    [(3000, Band.X1), (3001, Band.X2), (6000, Band.X2), (10000, Band.X3), (15000, Band.X4),
     (21000, Band.X5), (28000, Band.X6), (28001, Band.X7)],
)  # fmt: skip
def test_band_edges(va: int, band: Band) -> None:
    assert band_of(va) is band


def test_table_matches_formula() -> None:
    """Each cell is U·I (1 phase) or √3·U·I (3 phases) rounded to 0.1 kVA, as in SPEC §1."""
    for (phases, volts), row in FUSE_TABLE.items():
        for fuse, va in row.items():
            exact = volts * fuse * (3**0.5 if phases == 3 else 1)
            assert abs(va - exact) <= 100, (phases, volts, fuse)
