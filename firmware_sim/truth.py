"""The ground-truth CSV: the meter's registers at every local quarter-hour boundary."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import TextIO

from firmware_sim.clock import iso_utc
from firmware_sim.simulate import TruthRow

COLUMNS = ("meter", "boundary_utc", "import_t1_wh", "import_t2_wh", "export_t1_wh", "export_t2_wh")


def row_fields(row: TruthRow) -> list[str]:
    return [
        row.meter,
        iso_utc(row.boundary),
        str(row.import_t1_wh),
        str(row.import_t2_wh),
        str(row.export_t1_wh),
        str(row.export_t2_wh),
    ]


class TruthWriter:
    """Writes rows as they come, so a long paced run leaves a usable file at any moment."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._csv = csv.writer(stream, lineterminator="\n")
        self._csv.writerow(COLUMNS)

    def write(self, rows: Iterable[TruthRow]) -> None:
        self._csv.writerows(row_fields(r) for r in rows)
        self._stream.flush()


def truth_csv(rows: Iterable[TruthRow]) -> str:
    """The whole truth file as text."""
    buf = io.StringIO()
    TruthWriter(buf).write(rows)
    return buf.getvalue()
