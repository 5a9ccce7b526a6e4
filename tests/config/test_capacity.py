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


@pytest.mark.parametrize(
    ("phases", "voltage", "fuse", "va", "band"),
    [
        (1, 230, 35, 8100, Band.X3),  # NL 1 × 35 A: 230 · 35 = 8 050 VA, half up
        (3, 400, 16, 11100, Band.X4),  # √3 · 400 · 16 = 11 085.1
        (3, 400, 35, 24200, Band.X6),  # √3 · 400 · 35 = 24 248.7
        (3, 230, 16, 6400, Band.X3),  # BE 3 × 230 V: √3 · 230 · 16 = 6 373.4
        (3, 230, 35, 13900, Band.X4),  # √3 · 230 · 35 = 13 942.9
    ],
)
def test_standard_fuses_outside_the_table_are_computed_exactly(
    tmp_path: Path, phases: int, voltage: int, fuse: int, va: int, band: Band
) -> None:
    data = table(tmp_path / "data")
    data["connection"].update(phases=phases, voltage=voltage, fuse_a=fuse)
    conn = parse_config(data, tmp_path).connection
    assert (conn.capacity_va, conn.band, conn.capacity_source) == (va, band, "computed")
    assert conn.quarter_capacity_wh == va // 4
    assert conn.capacity_basis == ("computed as U·I" if phases == 1 else "computed as √3·U·I")


def test_every_standard_dutch_and_belgian_size_is_accepted(tmp_path: Path) -> None:
    sizes = {(1, 230): [16, 20, 25, 32, 35, 40, 50, 63]}
    sizes[(3, 400)] = sizes[(3, 230)] = [16, 20, 25, 32, 35, 40, 50, 63, 80, 100]
    for (phases, voltage), fuses in sizes.items():
        for fuse in fuses:
            data = table(tmp_path / "data")
            data["connection"].update(phases=phases, voltage=voltage, fuse_a=fuse)
            conn = parse_config(data, tmp_path).connection
            in_table = fuse in FUSE_TABLE[(phases, voltage)]
            assert conn.capacity_source == ("table" if in_table else "computed")
            if in_table:  # the seed's cells are kept as written, never recomputed
                assert conn.capacity_va == FUSE_TABLE[(phases, voltage)][fuse]


def test_computed_rule_agrees_with_the_table_where_both_exist() -> None:
    """The formula reproduces the seed table to its 0.1 kVA (the one cell the seed rounds the
    other way, 1 × 25 A = 5 750 VA written 5.7, differs by that last digit)."""
    from edge.config.capacity import computed_va

    for (phases, volts), row in FUSE_TABLE.items():
        for fuse, va in row.items():
            assert abs(computed_va(phases, volts, fuse) - va) <= 100, (phases, volts, fuse)


def test_check_config_says_which_capacity_it_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from edge.cli import main

    example = Path(__file__).resolve().parents[2] / "hw" / "config.example.toml"
    assert main(["check-config", "--config", str(example), "--no-dirs"]) == 0
    assert "17.3 kVA (from the fuse table), band X5" in capsys.readouterr().out
    single = tmp_path / "config.toml"
    text = example.read_text().replace("phases = 3", "phases = 1")
    single.write_text(text.replace("voltage = 400", "voltage = 230").replace("= 25\n", "= 35\n"))
    assert main(["check-config", "--config", str(single), "--no-dirs"]) == 0
    assert "1 phase 230 V 35 A = 8.1 kVA (computed as U·I), band X3" in capsys.readouterr().out
