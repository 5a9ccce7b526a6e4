"""Helpers for agent integration tests: configs, running the CLI, reading exports and truth."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

PRIMARY = "871687120000000001"
SECONDARY_EV = "871687120000000002"
SECONDARY_PV = "871687120000000003"


def write_config(
    directory: Path,
    points: list[tuple[str, str, str, str]],
    *,
    clock: str = "meter",
    extra: str = "",
) -> Path:
    """points: (ean, role, source, dialect). Returns the config path."""
    lines = [
        "[gateway]",
        'id = "GW-TEST"',
        'timezone = "Europe/Amsterdam"',
        f'data_dir = "{directory / "data"}"',
        f'clock = "{clock}"',
        "",
        "[connection]",
        f'ean = "{PRIMARY}"',
        "phases = 3",
        "voltage = 400",
        "fuse_a = 25",
        "check_ean = false",
        "",
    ]
    for ean, role, source, dialect in points:
        lines += [
            "[[allocation_point]]",
            f'ean = "{ean}"',
            f'role = "{role}"',
            f'source = "{source}"',
            f'dialect = "{dialect}"',
            "",
        ]
    path = directory / "agent.toml"
    path.write_text("\n".join(lines) + extra)
    return path


def start_agent(config: Path) -> subprocess.Popen[str]:
    """`edge run --config <config>` as a subprocess (its stderr piped, for the test's message)."""
    return subprocess.Popen(
        [sys.executable, "-m", "edge", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def edge(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def export_rows(config: Path, ap: str, first: str, last: str, *more: str) -> list[dict[str, str]]:
    result = edge(
        "export", "--config", str(config), "--ap", ap, "--from", first, "--to", last, *more
    )
    assert result.returncode == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout)))


def truth_by_boundary(truth_csv: str) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    """(meter id as ASCII, boundary_utc) -> registers."""
    out = {}
    for row in csv.DictReader(io.StringIO(truth_csv)):
        regs = (
            int(row["import_t1_wh"]),
            int(row["import_t2_wh"]),
            int(row["export_t1_wh"]),
            int(row["export_t2_wh"]),
        )
        out[(row["meter"], row["boundary_utc"])] = regs
    return out


def row_registers(row: dict[str, str]) -> tuple[int, int, int, int]:
    return (
        int(row["import_t1_wh"]),
        int(row["import_t2_wh"]),
        int(row["export_t1_wh"]),
        int(row["export_t2_wh"]),
    )


def meter_ascii(hex_id: str) -> str:
    return bytes.fromhex(hex_id).decode("ascii")
