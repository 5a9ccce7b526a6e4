"""The registry of allocation points: who is where, with which supplier and BRP, and when.

Strategy: the registry is the grid operator's master data (SPEC §11), so it is checked whole
before anything uses it: every row on its own (18-digit GS1 EANs, role, a positive capacity,
ISO local days, `valid_to` exclusive and after `valid_from`), then across rows (one allocation
point has no overlapping periods; a connection has at most one primary and at most 5
secondaries at any time, SPEC §1). The first problem raises `RegistryError` naming the CSV line,
and nothing is returned, so an import is all or nothing. Validity is by local day: a supplier or
BRP switch takes effect at local midnight, so one row holds for a whole day.
"""

from __future__ import annotations

import csv
import io
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from pathlib import Path
from typing import TextIO

from edge.config.ean import EAN_LENGTH, gs1_check_digit
from edge.errors import EdgeError

COLUMNS = (
    "ap", "connection", "role", "grid_area", "supplier", "brp", "capacity_kva", "valid_from",
    "valid_to",
)  # fmt: skip
ROLES = ("primary", "secondary")
MAX_SECONDARIES = 5  # SPEC §1: at most 5 extra allocation points per connection
MERGED = "*"  # what the published form writes for a merged supplier or BRP: never a real name
MAX_NAME = 64


class RegistryError(EdgeError, ValueError):
    """A registry that cannot be used; the message names the line and the fix."""


@dataclass(frozen=True, slots=True)
class RegistryRow:
    """One allocation point's assignment over local days `valid_from` ≤ day < `valid_to`.

    `valid_to` None: open-ended.
    """

    ap: str
    connection: str
    role: str
    grid_area: str
    supplier: str
    brp: str
    capacity_kva: Decimal
    valid_from: date
    valid_to: date | None

    def valid_on(self, day: date) -> bool:
        """True when this row holds on local `day`."""
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)


def parse_registry(source: str | os.PathLike[str] | TextIO) -> list[RegistryRow]:
    """Parse and check a registry CSV (a path or an open text file); `RegistryError` if bad."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise RegistryError(f"{path}: cannot read: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise RegistryError(f"{path}: not UTF-8 text ({exc.reason})") from exc
        return parse_registry_text(text, name=str(path))
    return parse_registry_text(source.read(), name=getattr(source, "name", "registry"))


def parse_registry_text(text: str, *, name: str = "registry") -> list[RegistryRow]:
    """Parse and check registry CSV text; rows in file order."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != COLUMNS:
            raise RegistryError(f"{name}:1: the header must be exactly {','.join(COLUMNS)}")
        numbered: list[tuple[int, RegistryRow]] = []
        for cells in reader:
            line = reader.line_num
            if not cells or cells == [""]:
                continue  # a blank line (e.g. at the end) carries nothing
            numbered.append((line, _row(cells, f"{name}:{line}")))
    except csv.Error as exc:
        raise RegistryError(f"{name}:{reader.line_num}: not valid CSV: {exc}") from exc
    _check_periods(numbered, name)
    _check_connections(numbered, name)
    return [row for _, row in numbered]


def _row(cells: list[str], where: str) -> RegistryRow:
    if len(cells) != len(COLUMNS):
        raise RegistryError(f"{where}: {len(cells)} fields, expected {len(COLUMNS)}")
    values = dict(zip(COLUMNS, (c.strip() for c in cells), strict=True))
    role = values["role"]
    if role not in ROLES:
        raise RegistryError(f"{where}: role {role!r} is not primary or secondary")
    valid_from = _day(values["valid_from"], "valid_from", where)
    valid_to = _day(values["valid_to"], "valid_to", where) if values["valid_to"] else None
    if valid_to is not None and valid_to <= valid_from:
        raise RegistryError(f"{where}: valid_to {valid_to} is not after valid_from {valid_from}")
    return RegistryRow(
        ap=_ean(values["ap"], "ap", where),
        connection=_ean(values["connection"], "connection", where),
        role=role,
        grid_area=_name(values["grid_area"], "grid_area", where),
        supplier=_name(values["supplier"], "supplier", where),
        brp=_name(values["brp"], "brp", where),
        capacity_kva=_capacity(values["capacity_kva"], where),
        valid_from=valid_from,
        valid_to=valid_to,
    )


def _ean(value: str, column: str, where: str) -> str:
    if len(value) != EAN_LENGTH or not value.isascii() or not value.isdigit():
        raise RegistryError(f"{where}: {column} {value!r} is not an EAN of 18 digits (as text)")
    if int(value[-1]) != gs1_check_digit(value[:-1]):
        raise RegistryError(f"{where}: {column} {value} fails the GS1 mod-10 check digit")
    return value


def _name(value: str, column: str, where: str) -> str:
    if not value or value == MERGED or len(value) > MAX_NAME or not value.isprintable():
        raise RegistryError(
            f"{where}: {column} {value!r} must be printable text of 1-{MAX_NAME} characters, "
            f"not {MERGED!r} (the published form's merged cell)"
        )
    return value


def _capacity(value: str, where: str) -> Decimal:
    try:
        kva = Decimal(value)
    except InvalidOperation:
        kva = Decimal("NaN")
    if not kva.is_finite() or not Decimal(0) < kva <= Decimal(10_000):
        raise RegistryError(f"{where}: capacity_kva {value!r} is not a number of kVA > 0")
    return kva


def _day(value: str, column: str, where: str) -> date:
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise RegistryError(f"{where}: {column} {value!r} is not a local day YYYY-MM-DD") from None


def _overlap(a: RegistryRow, b: RegistryRow) -> bool:
    # half-open periods [from, to): b starts before a ends and a starts before b ends
    return (a.valid_to is None or b.valid_from < a.valid_to) and (
        b.valid_to is None or a.valid_from < b.valid_to
    )


def _check_periods(numbered: Sequence[tuple[int, RegistryRow]], name: str) -> None:
    """One allocation point holds one assignment per day: periods of an ap never overlap."""
    by_ap: dict[str, list[tuple[int, RegistryRow]]] = defaultdict(list)
    for line, row in numbered:
        by_ap[row.ap].append((line, row))
    for rows in by_ap.values():
        rows.sort(key=lambda item: item[1].valid_from)
        for (line_a, a), (line_b, b) in pairwise(rows):
            if _overlap(a, b):
                first, second = sorted((line_a, line_b))
                raise RegistryError(
                    f"{name}:{second}: ap {b.ap} from {b.valid_from} overlaps its period of "
                    f"line {first}; end the earlier row (valid_to) where the next begins"
                )


def _check_connections(numbered: Sequence[tuple[int, RegistryRow]], name: str) -> None:
    """Per connection and day: at most one primary and at most MAX_SECONDARIES secondaries."""
    by_connection: dict[tuple[str, str], list[tuple[int, RegistryRow]]] = defaultdict(list)
    for line, row in numbered:
        by_connection[(row.connection, row.role)].append((line, row))
    for (connection, role), rows in by_connection.items():
        limit = 1 if role == "primary" else MAX_SECONDARIES
        if len(rows) <= limit:
            continue
        for _, row in rows:  # the start of each period is where a count can peak
            active = [other for other in rows if other[1].valid_on(row.valid_from)]
            if len(active) > limit:
                worst = max(o[0] for o in active)
                raise RegistryError(
                    f"{name}:{worst}: connection {connection} has {len(active)} {role} points "
                    f"on {row.valid_from}; at most {limit}"
                )


class Registry:
    """The rows indexed for lookups: which row holds for an allocation point on a local day."""

    def __init__(self, rows: Iterable[RegistryRow]) -> None:
        self.rows = tuple(sorted(rows, key=lambda r: (r.ap, r.valid_from)))
        self._by_ap: dict[str, list[RegistryRow]] = defaultdict(list)
        for row in self.rows:
            self._by_ap[row.ap].append(row)

    def valid_on(self, ap: str, day: date) -> RegistryRow | None:
        """The row of `ap` valid on local `day`, or None (not registered that day)."""
        for row in self._by_ap.get(ap, ()):
            if row.valid_on(day):
                return row
        return None

    def rows_on(self, day: date) -> list[RegistryRow]:
        """Every row valid on local `day`, by ap."""
        return [row for row in self.rows if row.valid_on(day)]


def valid_row(rows: Iterable[RegistryRow], ap: str, day: date) -> RegistryRow | None:
    """The row of `ap` valid on local `day` among `rows` (see `Registry` for many lookups)."""
    return next((r for r in rows if r.ap == ap and r.valid_on(day)), None)


def registry_csv(rows: Iterable[RegistryRow]) -> str:
    """The rows as registry CSV text (the header, then one line per row; LF line ends)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow(
            (r.ap, r.connection, r.role, r.grid_area, r.supplier, r.brp, str(r.capacity_kva),
             r.valid_from.isoformat(), r.valid_to.isoformat() if r.valid_to else "")
        )  # fmt: skip
    return out.getvalue()
