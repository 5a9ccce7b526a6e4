"""35 simulated days of a Fluvius meter through `edge-agent run`: our monthly peaks equal the
meter's own 1-0:1.6.0 / 0-0:98.1.0, and the pictures come out at their documented size. The
same capture replayed from 03-20 only: a month we saw in part counts with the meter's figure."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from edge.registers.capacity import PEAK_TOLERANCE_W
from firmware_sim.api import render_to_file
from tests.integration.helpers import edge
from tests.local.helpers import AP, write_be_config

# Feb 27 .. Apr 3: a partial February (98.1.0), all of March with the spring-forward day
# (98.1.0 after its end), and the start of April (1-0:1.6.0)
START = "2026-02-27T00:00:00+01:00"


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fluvius-capture") / "meter.cap"
    render_to_file(
        path, "fluvius", start=START, duration="35d", seed=5,
        profile="household-pv", interval=60, gas=True,
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, capture: Path) -> Path:
    directory = tmp_path_factory.mktemp("fluvius")
    (directory / "meter.cap").symlink_to(capture)
    config = write_be_config(directory, "file:meter.cap")
    result = edge("run", "--config", str(config), "--until-eof")
    assert result.returncode == 0, result.stderr
    return config


def test_our_monthly_peaks_equal_the_meters_own_for_every_month(recorded: Path) -> None:
    result = edge("peaks", "--config", str(recorded), "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["month"] for row in rows] == ["2026-02", "2026-03", "2026-04"]
    for row in rows:
        assert set(row) == {"ap", "month", "peak_w", "peak_start_utc", "meter_peak_w",
                            "rolling_12m_w", "counted_w", "source"}  # fmt: skip
        assert row["ap"] == AP
        assert row["peak_w"] is not None and row["meter_peak_w"] is not None, row
        assert abs(row["peak_w"] - row["meter_peak_w"]) <= PEAK_TOLERANCE_W, row
        assert row["peak_start_utc"].startswith(row["month"][:4])
    february, march, april = rows
    assert march["source"] == "ours" and march["counted_w"] == march["peak_w"]  # seen whole
    # February and April were seen in part (the meter started with us, so the figures agree)
    assert february["source"] == april["source"] == "meter"
    assert february["rolling_12m_w"] == max(2500, february["meter_peak_w"])
    expected = (max(2500, february["meter_peak_w"]) + max(2500, march["peak_w"]) + 1) // 2
    assert march["rolling_12m_w"] == expected


def meters_own_peaks(capture: Path) -> dict[str, int]:
    """Truth from the capture itself: the last telegram's 0-0:98.1.0 history, by month."""
    from zoneinfo import ZoneInfo

    from edge.p1 import decode
    from edge.registers.capacity import history_month

    data = capture.read_bytes()
    (last,) = decode(data[data.rindex(b"/") :])
    out = {}
    for entry in last.month_peaks or ():
        reset = int(entry.month_start.timestamp()) if entry.month_start else None
        month = history_month(reset, None, ZoneInfo("Europe/Brussels"))
        if month is not None and entry.value_w is not None:
            out[month] = entry.value_w
    return out


def test_a_month_seen_in_part_counts_with_the_meters_figure(tmp_path: Path, capture: Path) -> None:
    """Issue 11 item 8: replayed from 03-20 only, March's figure is the meter's own (it saw the
    whole month), not our partial peak, and the 12-month mean uses it; no MISMATCH for it."""
    data = capture.read_bytes()
    cut = data.rindex(b"/", 0, data.index(b"0-0:1.0.0(260320000000W)"))
    (tmp_path / "from-0320.cap").write_bytes(data[cut:])
    config = write_be_config(tmp_path, "file:from-0320.cap")
    result = edge("replay", "--config", str(config), "--ap", AP, str(tmp_path / "from-0320.cap"))
    assert result.returncode == 0, result.stderr
    truth = meters_own_peaks(capture)
    result = edge("peaks", "--config", str(config), "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = {row["month"]: row for row in json.loads(result.stdout)}
    march = rows["2026-03"]
    assert march["peak_w"] < truth["2026-03"] - PEAK_TOLERANCE_W  # ours missed the peak
    assert (march["counted_w"], march["source"]) == (truth["2026-03"], "meter")
    assert march["meter_peak_w"] == truth["2026-03"]
    february = rows["2026-02"]
    assert (february["peak_w"], february["source"]) == (None, "meter")
    expected = (max(2500, truth["2026-02"]) + max(2500, truth["2026-03"]) + 1) // 2
    assert march["rolling_12m_w"] == expected
    table = edge("peaks", "--config", str(config), "--month", "2026-03")
    assert table.returncode == 0, table.stderr
    (line,) = [ln for ln in table.stdout.splitlines() if "2026-03" in ln]
    assert line.split()[5:7] == [str(truth["2026-03"]), "meter"]  # counted W, source
    assert "MISMATCH" not in table.stdout


def test_table_format_shows_band_coverage_and_no_mismatch(recorded: Path) -> None:
    result = edge("peaks", "--config", str(recorded), "--month", "2026-03")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "capacity band X5" in lines[0]  # 25 A at 3x400 V: 17.3 kVA
    assert "2026-03" in lines[2] and "2972/2972" in lines[2]  # every quarter of March known
    assert "MISMATCH" not in result.stdout
    bad = edge("peaks", "--config", str(recorded), "--month", "2026-13")
    assert bad.returncode == 2 and "2026-13" in bad.stderr


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_plot_day_and_month_write_pngs_of_the_documented_size(
    recorded: Path, tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib")
    day = tmp_path / "day.png"
    result = edge("plot", "--config", str(recorded), "--day", "2026-03-29", "--out", str(day))
    assert result.returncode == 0, result.stderr
    assert png_size(day) == (1200, 300 * 1 + 100)
    month = tmp_path / "month.png"
    result = edge("plot", "--config", str(recorded), "--month", "2026-03", "--out", str(month))
    assert result.returncode == 0, result.stderr
    assert png_size(month) == (1200, 400)
