"""The registry parser: exact columns, checked rows, errors with line numbers, all or nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from edge.config.ean import with_check_digit
from edge.grid.registry import (
    COLUMNS,
    Registry,
    RegistryError,
    parse_registry,
    parse_registry_text,
    registry_csv,
    valid_row,
)

HEADER = ",".join(COLUMNS)
PAP = with_check_digit("87168712000000001")
SAP = with_check_digit("87168712000000002")


def _csv(*rows: str) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


GOOD = _csv(
    f"{PAP},{PAP},primary,GA-NORTH,SUP-A,BRP-1,17.3,2026-01-01,2026-03-15",
    f"{PAP},{PAP},primary,GA-NORTH,SUP-B,BRP-1,17.3,2026-03-15,",
    f"{SAP},{PAP},secondary,GA-NORTH,SUP-C,BRP-2,5.7,2026-01-01,",
)


def test_parses_rows_with_types_and_a_supplier_switch_at_local_midnight(tmp_path: Path) -> None:
    path = tmp_path / "registry.csv"
    path.write_text(GOOD)
    rows = parse_registry(path)
    assert [r.supplier for r in rows] == ["SUP-A", "SUP-B", "SUP-C"]
    assert rows[0].capacity_kva == Decimal("17.3") and rows[0].valid_to == date(2026, 3, 15)
    assert rows[1].valid_to is None
    registry = Registry(rows)
    found = registry.valid_on(PAP, date(2026, 3, 14))
    assert found is not None and found.supplier == "SUP-A"
    found = registry.valid_on(PAP, date(2026, 3, 15))  # valid_to is exclusive
    assert found is not None and found.supplier == "SUP-B"
    assert registry.valid_on(PAP, date(2025, 12, 31)) is None
    assert valid_row(rows, SAP, date(2030, 1, 1)) == rows[2]
    assert [r.ap for r in registry.rows_on(date(2026, 3, 15))] == [PAP, SAP]


def test_round_trips_through_its_own_csv() -> None:
    rows = parse_registry_text(GOOD)
    assert parse_registry_text(registry_csv(rows)) == rows


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (f"{PAP},{PAP},primary,GA,S,B,17.3,2026-01-01", "8 fields, expected 9"),
        (f"8716871200000000,{PAP},primary,GA,S,B,17.3,2026-01-01,", "not an EAN of 18 digits"),
        (f"871687120000000019,{PAP},primary,GA,S,B,17.3,2026-01-01,", "check digit"),
        (f"{PAP},{PAP},main,GA,S,B,17.3,2026-01-01,", "role 'main'"),
        (f"{PAP},{PAP},primary,GA,*,B,17.3,2026-01-01,", "supplier '*'"),
        (f"{PAP},{PAP},primary,,S,B,17.3,2026-01-01,", "grid_area ''"),
        (f"{PAP},{PAP},primary,GA,S,B,-1,2026-01-01,", "capacity_kva '-1'"),
        (f"{PAP},{PAP},primary,GA,S,B,big,2026-01-01,", "capacity_kva 'big'"),
        (f"{PAP},{PAP},primary,GA,S,B,17.3,2026-1-1,", "valid_from '2026-1-1'"),
        (f"{PAP},{PAP},primary,GA,S,B,17.3,2026-01-05,2026-01-05", "not after valid_from"),
    ],
)
def test_a_bad_row_names_its_line_and_nothing_is_returned(row: str, message: str) -> None:
    text = _csv(f"{SAP},{PAP},secondary,GA,S,B,5.7,2026-01-01,", row)
    with pytest.raises(RegistryError, match=message) as caught:
        parse_registry_text(text, name="reg.csv")
    assert str(caught.value).startswith("reg.csv:3: ")


def test_overlapping_periods_of_one_point_are_refused_with_the_later_line() -> None:
    text = _csv(
        f"{PAP},{PAP},primary,GA,S,B,17.3,2026-01-01,2026-03-01",
        f"{SAP},{PAP},secondary,GA,S,B,5.7,2026-01-01,",
        f"{PAP},{PAP},primary,GA,T,B,17.3,2026-02-01,",
    )
    with pytest.raises(RegistryError, match=r"^registry:4: .* overlaps its period of line 2"):
        parse_registry_text(text)


def test_a_connection_has_one_primary_and_at_most_five_secondaries() -> None:
    other = with_check_digit("87168712000000009")
    two_primaries = _csv(
        f"{PAP},{PAP},primary,GA,S,B,17.3,2026-01-01,",
        f"{other},{PAP},primary,GA,S,B,1,2026-02-01,",
    )
    with pytest.raises(RegistryError, match=r"registry:3: .* 2 primary points"):
        parse_registry_text(two_primaries)
    secondaries = [
        f"{with_check_digit(f'8716871200000010{i}')},{PAP},secondary,GA,S,B,1,2026-01-01,"
        for i in range(6)
    ]
    with pytest.raises(RegistryError, match="6 secondary points"):
        parse_registry_text(_csv(f"{PAP},{PAP},primary,GA,S,B,17.3,2026-01-01,", *secondaries))
    assert len(parse_registry_text(_csv(*secondaries[:5]))) == 5


def test_header_must_be_exact_and_csv_well_formed() -> None:
    with pytest.raises(RegistryError, match="registry:1: the header must be exactly"):
        parse_registry_text("ap,connection,role\n")
    with pytest.raises(RegistryError, match="registry:1: the header"):
        parse_registry_text("")
    with pytest.raises(RegistryError, match="not valid CSV"):
        parse_registry_text(_csv(f'"{PAP},{PAP},primary'))


def test_an_unreadable_file_is_a_registry_error(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="cannot read"):
        parse_registry(tmp_path / "absent.csv")
    (tmp_path / "latin1.csv").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(RegistryError, match="not UTF-8"):
        parse_registry(tmp_path / "latin1.csv")


def test_the_store_gives_back_the_parsed_rows(tmp_path: Path) -> None:
    from edge.grid.store import open_store

    rows = parse_registry_text(GOOD)
    with open_store(f"sqlite:///{tmp_path / 'grid.sqlite'}") as store:
        store.import_registry(rows)
        assert store.registry_rows() == sorted(rows, key=lambda r: (r.ap, r.valid_from))
