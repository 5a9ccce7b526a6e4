"""`edge-agent plot`: names, gaps, partial days, formats by suffix, and no empty pictures."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_sim.api import render_to_file
from tests.integration.helpers import edge
from tests.local.helpers import write_be_config


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("matplotlib")
    folder = tmp_path_factory.mktemp("plot")
    # two days with a two-hour silence at noon on the first: missing quarters, a partial day
    render_to_file(folder / "meter.cap", "dsmr5", start="2026-03-10T00:00:00+01:00",
                   duration="2d", seed=4, profile="household-pv", interval=10,
                   faults="silence:2h@12:00")  # fmt: skip
    config = write_be_config(folder, "file:meter.cap", dialect="dsmr5",
                             extra='name = "House"\n')  # fmt: skip
    result = edge("run", "--config", str(config), "--until-eof")
    assert result.returncode == 0, result.stderr
    return config


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<?xml"),
                                           (".pdf", b"%PDF")])  # fmt: skip
def test_the_suffix_decides_the_format(recorded: Path, tmp_path: Path, suffix: str,
                                       magic: bytes) -> None:  # fmt: skip
    out = tmp_path / f"day{suffix}"
    result = edge("plot", "--config", str(recorded), "--day", "2026-03-10", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().startswith(magic)


def test_an_unknown_suffix_is_refused(recorded: Path, tmp_path: Path) -> None:
    out = tmp_path / "day.jpeg"
    result = edge("plot", "--config", str(recorded), "--day", "2026-03-10", "--out", str(out))
    assert result.returncode == 2 and ".png, .svg, .pdf" in result.stderr
    assert not out.exists()


def test_an_empty_range_is_an_error_not_an_empty_chart(recorded: Path, tmp_path: Path) -> None:
    for when in (["--day", "2026-05-01"], ["--month", "2025-01"]):
        out = tmp_path / "empty.png"
        result = edge("plot", "--config", str(recorded), *when, "--out", str(out))
        assert result.returncode == 2 and "no data" in result.stderr, result.stderr
        assert not out.exists()


def test_titles_name_the_point_and_gaps_and_partial_days_are_marked(
    recorded: Path, tmp_path: Path
) -> None:
    day, month = tmp_path / "day.svg", tmp_path / "month.svg"
    for when, out in ((["--day", "2026-03-10"], day), (["--month", "2026-03"], month)):
        result = edge("plot", "--config", str(recorded), *when, "--out", str(out))
        assert result.returncode == 0, result.stderr
    day_text, month_text = day.read_text(), month.read_text()
    for text in (day_text, month_text):
        assert "House (" in text  # the panel's title: its configured name and EAN
    assert "no data" in day_text  # the silence: grey bands with a legend entry
    assert "partial day" in month_text and "no data" in month_text
    assert "Sun 15 Mar" in month_text  # the month's axis in dates


def test_a_point_that_feeds_in_shows_no_import_peak(tmp_path: Path) -> None:
    # a PV installation's meter imports a few watts of standby at night: a "month peak 4 W"
    # line and a 0-4 W axis said nothing a person wants to know
    pytest.importorskip("matplotlib")
    render_to_file(tmp_path / "pv.cap", "dsmr5", start="2026-06-10T00:00:00+02:00",
                   duration="1d", seed=4, profile="pv-only", interval=10)  # fmt: skip
    config = write_be_config(tmp_path, "file:pv.cap", dialect="dsmr5", extra='name = "PV"\n')
    assert edge("run", "--config", str(config), "--until-eof").returncode == 0
    for when in (["--day", "2026-06-10"], ["--month", "2026-06"]):
        out = tmp_path / "pv.svg"
        result = edge("plot", "--config", str(config), *when, "--out", str(out))
        assert result.returncode == 0, result.stderr
        text = out.read_text()
        assert "PV (" in text and "export" in text
        assert "month peak" not in text and "highest quarter" not in text, when


def test_a_consuming_point_keeps_its_month_peak_line(recorded: Path, tmp_path: Path) -> None:
    out = tmp_path / "day.svg"
    result = edge("plot", "--config", str(recorded), "--day", "2026-03-10", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "month peak" in out.read_text()
