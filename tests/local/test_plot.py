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
