"""Captures from the simulator through `edge-agent run --until-eof` and `replay`, against truth."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import random
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firmware_sim.api import Rendered, render, render_to_file
from firmware_sim.crc import crc16_arc
from tests.integration.helpers import (
    PRIMARY,
    SECONDARY_EV,
    edge,
    export_rows,
    meter_ascii,
    row_registers,
    truth_by_boundary,
    write_config,
)

FAULTS = "crc:0.02,drop:0.02,glue:0.01,noise:0.02,truncate:0.01"


def capture(
    path: Path, faults: str = "", **options: object
) -> dict[tuple[str, str], tuple[int, ...]]:
    opts: dict[str, object] = {
        "start": "2026-03-28T00:00:00+01:00",
        "duration": "49h",
        "seed": 11,
        "profile": "household-pv",
        "interval": 10,
    }
    opts.update(options)
    rendered = render_to_file(path, "dsmr5", faults=faults, **opts)
    return truth_by_boundary(rendered.truth_csv())  # type: ignore[return-value]


def test_faulty_capture_measured_boundaries_equal_truth_and_corruption_never_counts(
    tmp_path: Path,
) -> None:
    truth = capture(tmp_path / "main.cap", FAULTS)
    config = write_config(tmp_path, [(PRIMARY, "primary", "file:main.cap", "dsmr5")])
    result = edge("run", "--config", str(config), "--until-eof")
    assert result.returncode == 0, result.stderr
    rows = export_rows(config, PRIMARY, "2026-03-28", "2026-03-29")
    assert len(rows) == 96 + 92 + 1  # both days (the DST day has 92 intervals) + the last midnight
    statuses = {row["status"] for row in rows}
    assert statuses <= {"measured", "interpolated"} and "interpolated" in statuses
    for row in rows:
        expected = truth[(meter_ascii(row["meter"]), row["boundary_utc"])]
        got = row_registers(row)
        if row["status"] == "measured":
            assert got == expected, row  # a corrupt telegram never reaches a register
        else:
            # interpolated from telegrams 10-20 s apart: within what flows in that time
            assert all(abs(g - e) <= 100 for g, e in zip(got, expected, strict=True)), row
    status = edge("status", "--config", str(config), "--json")
    assert '"crc_errors"' in status.stdout


def test_replay_command_feeds_the_same_pipeline(tmp_path: Path) -> None:
    capture(tmp_path / "day1.cap", duration="1d")
    capture(tmp_path / "rest.cap", start="2026-03-29T00:00:00+01:00", duration="25h")
    config = write_config(tmp_path, [(PRIMARY, "primary", "/dev/null-not-used", "dsmr5")])
    result = edge(
        "replay", "--config", str(config), "--ap", PRIMARY, str(tmp_path / "day1.cap"),
        str(tmp_path / "rest.cap"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = export_rows(config, PRIMARY, "2026-03-28", "2026-03-29")
    assert len(rows) == 189 and all(r["status"] == "measured" for r in rows)


def test_kill_9_at_random_moments_gives_the_same_export(tmp_path: Path) -> None:
    (tmp_path / "whole").mkdir()
    (tmp_path / "killed").mkdir()
    for sub in ("whole", "killed"):
        capture(tmp_path / sub / "main.cap", "crc:0.01,drop:0.01", duration="3d")
    whole = write_config(tmp_path / "whole", [(PRIMARY, "primary", "file:main.cap", "dsmr5")])
    killed = write_config(tmp_path / "killed", [(PRIMARY, "primary", "file:main.cap", "dsmr5")])
    assert edge("run", "--config", str(whole), "--until-eof").returncode == 0
    rng = random.Random(20)
    kills = 0
    while kills < 20:
        proc = subprocess.Popen(
            [sys.executable, "-m", "edge", "run", "--config", str(killed), "--until-eof"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.3, 1.5))  # a random moment to pull the plug, not a wait
        if proc.poll() is not None:
            continue  # finished before the kill: try another moment
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
    assert edge("run", "--config", str(killed), "--until-eof").returncode == 0
    days = ("2026-03-28", "2026-03-30")
    for extra in ((), ("--intervals",)):
        assert export_rows(killed, PRIMARY, *days, *extra) == export_rows(
            whole, PRIMARY, *days, *extra
        )


@pytest.mark.parametrize("dialect", ["dsmr4", "fluvius"])
def test_other_dialects_at_their_interval(tmp_path: Path, dialect: str) -> None:
    rendered = render_to_file(
        tmp_path / "m.cap", dialect, start="2026-10-25T00:00:00+02:00", duration="26h",
        seed=3, profile="household", faults="drop:0.05",
    )  # fmt: skip
    truth = truth_by_boundary(rendered.truth_csv())
    config = write_config(tmp_path, [(PRIMARY, "primary", "file:m.cap", dialect)])
    assert edge("run", "--config", str(config), "--until-eof").returncode == 0
    rows = export_rows(config, PRIMARY, "2026-10-25", "2026-10-25")
    assert len(rows) == 101  # the fall-back day has 100 intervals
    for row in rows:
        expected = truth[(meter_ascii(row["meter"]), row["boundary_utc"])]
        if row["status"] == "interpolated":
            low_high = [sorted((g, e)) for g, e in zip(row_registers(row), expected, strict=True)]
            assert all(hi - lo <= 200 for lo, hi in low_high), row
        else:
            assert row["status"] == "measured"
            # measured within the meter's interval: at most one interval of energy late
            assert all(0 <= g - e <= 100 for g, e in zip(row_registers(row), expected, strict=True))


def test_status_table_shows_sources_and_points(tmp_path: Path) -> None:
    capture(tmp_path / "main.cap", "crc:0.05", duration="2h")
    config = write_config(tmp_path, [(PRIMARY, "primary", "file:main.cap", "dsmr5")])
    assert edge("run", "--config", str(config), "--until-eof").returncode == 0
    result = edge("status", "--config", str(config))
    assert result.returncode == 3, "status exits 3 when the agent is not running"
    table = result.stdout.splitlines()
    assert "NOT RUNNING" in table[0]
    (at,) = [i for i, line in enumerate(table) if line.startswith(f"source {PRIMARY}")]
    assert " stopped " in table[at] and "dialect dsmr5" in table[at]
    assert f"port file:{tmp_path / 'main.cap'}" in table[at], "the full path of the capture"
    crc_errors = int(table[at + 1].split(" CRC errors")[0].rsplit(" ", 1)[-1])
    assert crc_errors > 0
    (point,) = [line for line in table if line.startswith(PRIMARY) and "primary" in line]
    fields = point.split()
    assert fields[1] == "primary" and fields[3:6] == ["quarter-hour", "no", "-"]


@pytest.mark.parametrize(
    ("dialect", "fixture"),
    [
        ("hungary", "v5_eon_hu.txt"),
        ("ireland", "iskra_ie.txt"),
        ("easymeter", "esy5q3da1004_v304.txt"),
    ],
)
def test_every_configured_dialect_runs_the_agent(
    tmp_path: Path, dialect: str, fixture: str
) -> None:
    capture = Path(__file__).resolve().parent.parent / "data" / fixture
    config = write_config(tmp_path, [(PRIMARY, "primary", f"file:{capture}", dialect)])
    result = edge("run", "--config", str(config), "--until-eof")
    assert result.returncode == 0, result.stderr
    status = edge("status", "--config", str(config), "--json")
    assert '"telegrams": 1' in status.stdout


# -- meter time judged, not trusted (SPEC §4; issue 10 item 2) ----------------------------------


def forge(telegram: bytes, stamp: str) -> bytes:
    """The telegram with another `0-0:1.0.0` time and a valid CRC (what a forger would send)."""
    body = telegram[: telegram.index(b"!") + 1]
    head, rest = body.split(b"0-0:1.0.0(", 1)
    body = head + b"0-0:1.0.0(" + stamp.encode() + rest[rest.index(b")") :]
    return body + b"%04X\r\n" % crc16_arc(body)


def spliced(path: Path, rendered: Rendered, forged: dict[int, list[bytes]]) -> None:
    """Write the capture with forged telegrams inserted after the given telegram indexes."""
    parts: list[bytes] = []
    for index, telegram in enumerate(rendered.telegrams):
        parts.append(telegram)
        parts += forged.get(index, [])
    path.write_bytes(b"".join(parts))


def replay_rows(tmp_path: Path, first: str, last: str) -> tuple[list[dict[str, str]], dict]:
    config = write_config(tmp_path, [(PRIMARY, "primary", "/dev/null-not-used", "dsmr5")])
    result = edge("replay", "--config", str(config), "--ap", PRIMARY, str(tmp_path / "m.cap"))
    assert result.returncode == 0, result.stderr
    status = json.loads(edge("status", "--config", str(config), "--json").stdout)
    return export_rows(config, PRIMARY, first, last), status


@pytest.mark.parametrize("stamp", ["991231235959W", "700101000001W", "701231235959W"])
def test_a_far_future_telegram_is_rejected_and_later_boundaries_equal_truth(
    tmp_path: Path, stamp: str
) -> None:
    rendered = render("dsmr5", start="2026-06-01T00:00:00+02:00", duration="24h1m", seed=3,
                      profile="household-pv", interval=10)  # fmt: skip
    truth = truth_by_boundary(rendered.truth_csv())
    middle = len(rendered.telegrams) // 2
    spliced(tmp_path / "m.cap", rendered, {middle: [forge(rendered.telegrams[middle], stamp)]})
    started = time.monotonic()
    rows, status = replay_rows(tmp_path, "2026-06-01", "2026-06-01")
    assert time.monotonic() - started < 120  # no stall settling millions of boundaries
    assert len(rows) == 97
    for row in rows:
        assert row["status"] == "measured", row
        assert row_registers(row) == truth[(meter_ascii(row["meter"]), row["boundary_utc"])]
    point = status["points"][PRIMARY]
    assert point["pending_boundary_utc"] == "2026-06-01T22:15:00Z"  # not in 2099 or 2070
    if stamp != "700101000001W":  # the 1970 placeholder is no time at all (the parser's None)
        assert point["rejected_time"] == 1


def test_an_s_w_swap_is_rejected_and_the_next_hour_is_measured(tmp_path: Path) -> None:
    rendered = render("dsmr5", start="2026-06-01T11:00:00+02:00", duration="3h1m", seed=4,
                      profile="household-pv", interval=10)  # fmt: skip
    truth = truth_by_boundary(rendered.truth_csv())
    # 11:06:40 summer time with the winter letter: an hour ahead of the meter's real time
    at = next(i for i, t in enumerate(rendered.telegrams) if b"(260601110640S)" in t)
    spliced(tmp_path / "m.cap", rendered, {at: [forge(rendered.telegrams[at], "260601110640W")]})
    rows, status = replay_rows(tmp_path, "2026-06-01", "2026-06-01")
    measured = [r for r in rows if r["status"] == "measured"]
    assert [r["boundary_utc"] for r in measured][:2] == [
        "2026-06-01T09:00:00Z",
        "2026-06-01T09:15:00Z",
    ]
    assert len(measured) == 13  # 09:00 … 12:00Z, every boundary
    for row in measured:
        assert row_registers(row) == truth[(meter_ascii(row["meter"]), row["boundary_utc"])]
    assert status["points"][PRIMARY]["rejected_time"] == 1


def test_a_real_clock_reset_is_accepted_after_a_run_of_consistent_telegrams(
    tmp_path: Path,
) -> None:
    # the meter ran two days behind until its clock was set right: its new time is believed
    # after a run of consistent telegrams, and nothing of that run is lost
    before = render("dsmr5", start="2026-05-30T10:00:00+02:00", duration="1h", seed=5,
                    profile="household-pv", interval=10)  # fmt: skip
    after = render("dsmr5", start="2026-06-01T11:00:00+02:00", duration="1h1m", seed=5,
                   profile="household-pv", interval=10)  # fmt: skip
    (tmp_path / "m.cap").write_bytes(before.data + after.data)
    truth = truth_by_boundary(after.truth_csv())
    rows, status = replay_rows(tmp_path, "2026-06-01", "2026-06-01")
    measured = {r["boundary_utc"]: r for r in rows if r["status"] == "measured"}
    expected = [
        f"2026-06-01T{h:02d}:{m:02d}:00Z" for h, m in ((9, 0), (9, 15), (9, 30), (9, 45), (10, 0))
    ]
    assert sorted(measured) == expected
    for utc, row in measured.items():
        assert row_registers(row) == truth[(meter_ascii(row["meter"]), utc)]
    assert status["points"][PRIMARY]["rejected_time"] == 0


def test_a_clock_reset_backwards_is_accepted_after_a_run(tmp_path: Path) -> None:
    # an hour ahead (a wrong letter the meter kept) until the clock was put back: after the run
    # the real time line goes on, never locked out for the hour it "lost"
    ahead = render("dsmr5", start="2026-06-01T11:00:00+01:00", duration="30m", seed=6,
                   profile="household-pv", interval=10)  # fmt: skip
    real = render("dsmr5", start="2026-06-01T11:31:00+02:00", duration="1h30m", seed=6,
                  profile="household-pv", interval=10)  # fmt: skip
    (tmp_path / "m.cap").write_bytes(ahead.data + real.data)
    truth = truth_by_boundary(real.truth_csv())
    rows, status = replay_rows(tmp_path, "2026-06-01", "2026-06-01")
    by_utc = {r["boundary_utc"]: r for r in rows}
    # 10:00-10:30Z were stored from the old time line first (a stored boundary is never
    # rewritten); before and after it the real time line is measured and equals the truth
    for utc in ("2026-06-01T09:45:00Z", "2026-06-01T10:45:00Z", "2026-06-01T11:00:00Z"):
        row = by_utc[utc]
        assert row["status"] == "measured", row
        assert row_registers(row) == truth[(meter_ascii(row["meter"]), utc)]
    assert status["points"][PRIMARY]["rejected_time"] == 0


# -- timeless captures (issue 11 item 4) ------------------------------------------------------


def test_a_timeless_capture_fails_loudly_or_is_placed_from_its_pacing(tmp_path: Path) -> None:
    rendered = render_to_file(tmp_path / "m.cap", "dsmr22", start="2026-03-28T00:00:00+01:00",
                              duration="6h", seed=7, profile="household")  # fmt: skip
    truth = truth_by_boundary(rendered.truth_csv())
    config = write_config(tmp_path, [(PRIMARY, "primary", "/dev/null-not-used", "dsmr22")])
    silent = edge("replay", "--config", str(config), "--ap", PRIMARY, str(tmp_path / "m.cap"))
    assert silent.returncode != 0
    assert f"{len(rendered.times)} telegrams carry no time" in silent.stderr
    assert "--start" in silent.stderr
    placed = edge("replay", "--config", str(config), "--ap", PRIMARY, str(tmp_path / "m.cap"),
                  "--start", "2026-03-28T00:00:00+01:00")  # fmt: skip
    assert placed.returncode == 0, placed.stderr
    rows = export_rows(config, PRIMARY, "2026-03-28", "2026-03-28")
    measured = [r for r in rows if r["status"] == "measured"]
    assert len(measured) == 6 * 4  # 00:00 … 05:45 local; 06:00 waits for a later telegram
    for row in measured:
        assert row_registers(row) == truth[(meter_ascii(row["meter"]), row["boundary_utc"])]
    bad = edge("replay", "--config", str(config), "--ap", PRIMARY, str(tmp_path / "m.cap"),
               "--start", "2026-03-28T00:00:00")  # fmt: skip
    assert bad.returncode == 2 and "UTC offset" in bad.stderr


def test_captures_under_the_gateway_clock_are_judged_in_meter_time(tmp_path: Path) -> None:
    # issue 11 item 18: `clock = "system"` with `file:` sources; the wall clock (months after
    # the capture) must not settle the capture's boundaries, nor any after it, as missing
    main = capture(tmp_path / "main.cap", interval=1)
    ev_rendered = render_to_file(tmp_path / "ev.cap", "dsmr5", start="2026-03-28T00:00:00+01:00",
                                 duration="49h", seed=2, profile="ev-charger")  # fmt: skip
    ev = truth_by_boundary(ev_rendered.truth_csv())
    config = write_config(
        tmp_path,
        [(PRIMARY, "primary", "file:main.cap", "dsmr5"),
         (SECONDARY_EV, "secondary", "file:ev.cap", "dsmr5")],
        clock="system",
    )  # fmt: skip
    result = edge("run", "--config", str(config), "--until-eof")
    assert result.returncode == 0, result.stderr
    for ap, truth in ((PRIMARY, main), (SECONDARY_EV, ev)):
        rows = export_rows(config, ap, "2026-03-28", "2026-03-29")
        assert len(rows) == 189
        for row in rows:
            assert row["status"] == "measured", row
            assert row_registers(row) == truth[(meter_ascii(row["meter"]), row["boundary_utc"])]
        # the capture runs to 2026-03-30T00:00Z: after it, no boundary settled against the wall
        after = export_rows(config, ap, "2026-03-30", "2026-04-30")
        assert after and all(r["status"] == "measured" for r in after)
        assert max(r["boundary_utc"] for r in after) <= "2026-03-30T00:00:00Z"


def test_export_of_a_long_range_shows_progress_on_a_terminal_only(tmp_path: Path) -> None:
    # issue 14: long exports show progress where a person watches (a real pseudo-terminal)
    truth = capture(tmp_path / "main.cap", interval=10)
    config = write_config(tmp_path, [(PRIMARY, "primary", "file:main.cap", "dsmr5")])
    assert edge("run", "--config", str(config), "--until-eof").returncode == 0
    args = [sys.executable, "-m", "edge", "export", "--config", str(config), "--ap", PRIMARY,
            "--from", "2026-03-20", "--to", "2026-04-05"]  # fmt: skip
    leader, follower = pty.openpty()
    try:
        shown = subprocess.run(args, stdout=subprocess.PIPE, stderr=follower, timeout=120,
                               check=False)  # fmt: skip
        os.close(follower)
        follower = -1
        seen = b""
        while select.select([leader], [], [], 0.5)[0]:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if follower >= 0:
            os.close(follower)
        os.close(leader)
    assert shown.returncode == 0
    assert b"export [" in seen and b"17 of 17 days" in seen
    piped = edge(*args[3:])
    assert piped.returncode == 0 and "export [" not in piped.stderr
    assert piped.stdout.encode() == shown.stdout  # the same rows, progress or not
    rows = list(csv.DictReader(io.StringIO(piped.stdout)))
    assert len(rows) == 189 + 7  # two days, each midnight once, and 22:15-23:45Z of the 30th
    for row in rows:
        assert row_registers(row) == truth[(meter_ascii(row["meter"]), row["boundary_utc"])]


def test_the_first_boundary_is_measured_by_a_telegram_within_the_meters_interval(
    tmp_path: Path,
) -> None:
    # issue 11 item 3: `firmware-sim run --dialect dsmr4 --start 2026-03-28T00:00:03+01:00`
    rendered = render("dsmr4", start="2026-03-28T00:00:03+01:00", duration="1h", seed=12,
                      profile="household")  # fmt: skip
    (tmp_path / "m.cap").write_bytes(rendered.data)
    config = write_config(tmp_path, [(PRIMARY, "primary", "/dev/null-not-used", "dsmr4")])
    result = edge("replay", "--config", str(config), "--ap", PRIMARY, str(tmp_path / "m.cap"))
    assert result.returncode == 0, result.stderr
    first = export_rows(config, PRIMARY, "2026-03-28", "2026-03-28")[0]
    assert (first["boundary_utc"], first["status"]) == ("2026-03-27T23:00:00Z", "measured")
    # the simulator's truth begins at 23:15; at 23:00 the reading is the +3 s telegram's own
    text = rendered.telegrams[0].decode("ascii")
    own = tuple(
        int(re.search(rf"1-0:{obis}\((\d+)\.(\d+)\*kWh\)", text).expand(r"\1\2"))  # type: ignore[union-attr]
        for obis in ("1.8.1", "1.8.2", "2.8.1", "2.8.2")
    )
    assert row_registers(first) == own
