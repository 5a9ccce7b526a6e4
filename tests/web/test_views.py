"""The views' figures are the commands' figures: export, peaks, consent, log (over real HTTP)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC
from pathlib import Path
from zoneinfo import ZoneInfo

from edge.config import load_config
from edge.p1 import Telegram, decode
from edge.store import connect
from edge.web.live import LiveTracker
from firmware_sim.api import render
from tests.integration.helpers import PRIMARY, SECONDARY_EV, edge
from tests.web.conftest import FakeClock, serving
from tests.web.helpers import Client, Stored

DAY = "2026-03-02"


def _logged_in(port: int) -> Client:
    client = Client(port)
    assert client.login() == 303
    return client


def _export(config: Path, ap: str, *more: str) -> str:
    result = edge("export", "--config", str(config), "--ap", ap, "--from", DAY, "--to", DAY, *more)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_day_csv_downloads_are_the_export_commands_output(stored: Stored) -> None:
    with serving(stored.config, FakeClock()) as server:
        client = _logged_in(server.port)
        for ap in (PRIMARY, SECONDARY_EV):
            status, body = client.get(f"/download/day.csv?ap={ap}&day={DAY}")
            assert status == 200 and body.decode() == _export(stored.config, ap, "--intervals")
            assert client.last_headers["content-disposition"].startswith("attachment;")
            status, body = client.get(f"/download/day.csv?ap={ap}&day={DAY}&rows=boundaries")
            assert status == 200 and body.decode() == _export(stored.config, ap)


def test_day_json_has_every_quarter_and_the_export_volumes(stored: Stored) -> None:
    with serving(stored.config, FakeClock()) as server:
        client = _logged_in(server.port)
        status, body = client.get(f"/api/day.json?ap={PRIMARY}&day={DAY}")
        day = json.loads(body)
        assert status == 200 and len(day["quarters"]) == 96
        rows = {
            r["start_utc"]: r
            for r in csv.DictReader(io.StringIO(_export(stored.config, PRIMARY, "--intervals")))
        }
        for quarter in day["quarters"]:
            row = rows[quarter["start_utc"]]
            assert quarter["status"] == row["status"]
            assert (
                str(quarter["import_wh"] if quarter["import_wh"] is not None else "")
                == row["import_wh"]
            )
        # the capture's 10:00 silence is interpolated there, not measured, and says so
        assert day["counts"]["interpolated"] > 0
        assert sum(day["counts"].values()) == 96
        # kWh per tariff: the registers' differences over the day's known quarter-hours
        boundaries = list(csv.DictReader(io.StringIO(_export(stored.config, PRIMARY))))
        first, last = boundaries[0], boundaries[-1]
        for name in ("import_t1", "import_t2", "export_t1", "export_t2"):
            assert day["tariff_wh"][name] <= int(last[f"{name}_wh"]) - int(first[f"{name}_wh"])
        status, page = client.get(f"/day?ap={PRIMARY}&day={DAY}")
        assert status == 200 and len(page) < 100_000
        assert page.count(b'<g class="bar') == 96


def test_month_view_shows_the_peaks_commands_figures(stored: Stored) -> None:
    peaks = edge("peaks", "--config", str(stored.config), "--month", "2026-03", "--format", "json")
    assert peaks.returncode == 0, peaks.stderr
    expected = {row["ap"]: row for row in json.loads(peaks.stdout)}
    with serving(stored.config, FakeClock()) as server:
        client = _logged_in(server.port)
        for ap in (PRIMARY, SECONDARY_EV):
            month = json.loads(client.get(f"/api/month.json?ap={ap}&month=2026-03")[1])
            assert month["peak_w"] == expected[ap]["peak_w"]
            assert month["peak_start_utc"] == expected[ap]["peak_start_utc"]
            assert month["rolling_12m_w"] == expected[ap]["rolling_12m_w"]
            assert len(month["days"]) == 31
            assert month["days"][1]["day"] == DAY and month["days"][1]["import_wh"] > 0
            assert month["days"][-1] == {
                "day": "2026-03-31",
                "import_wh": None,
                "export_wh": None,
                "peak_w": None,
            }
            status, page = client.get(f"/month?ap={ap}&month=2026-03")
            assert status == 200 and str(expected[ap]["peak_w"]).encode() in page


def test_belgian_gateway_shows_the_capacity_figure_and_band(stored: Stored, tmp_path: Path) -> None:
    text = stored.config.read_text().replace("Europe/Amsterdam", "Europe/Brussels")
    config = tmp_path / "agent.toml"
    config.write_text(text)
    with serving(config, FakeClock()) as server:
        client = _logged_in(server.port)
        status, page = client.get(f"/month?ap={PRIMARY}&month=2026-03")
        assert status == 200 and b'id="band">X5<' in page and b'id="rolling">' in page


def test_now_view_reports_states_and_the_months_peak(stored: Stored) -> None:
    with serving(stored.config, FakeClock()) as server:
        client = _logged_in(server.port)
        now = json.loads(client.get("/api/now.json")[1])
        assert now["running"] is False  # the replay agent ended
        assert {p["state"] for p in now["points"]} == {"agent stopped"}
        assert [p["ap"] for p in now["points"]] == [PRIMARY, SECONDARY_EV]
        assert all(isinstance(p["month_peak_w"], int) for p in now["points"])


def test_live_tracker_follows_the_newest_telegram_of_each_batch(stored: Stored) -> None:
    config = load_config(stored.config)
    out = render("dsmr5", start="2026-03-04T00:00:00+01:00", duration="20m", interval=10, seed=3,
                 profile="household-pv", meter_id="METER01")  # fmt: skip
    telegrams = decode(out.data)
    conn = connect(config.gateway.data_dir, readonly=True)
    try:
        tracker = LiveTracker(config, conn, ZoneInfo(config.gateway.timezone))
    finally:
        conn.close()
    assert tracker.snapshot() == {}
    tracker.on_telegrams(PRIMARY, telegrams[:10])
    tracker.on_telegrams("not-a-point", telegrams)
    first = tracker.snapshot()
    assert list(first) == [PRIMARY]
    assert first[PRIMARY]["time"] == _iso(telegrams[9])
    assert first[PRIMARY]["power_import_w"] == telegrams[9].power_import_w
    assert isinstance(first[PRIMARY]["month_peak_w"], int)  # seeded from the stored month
    for i in range(10, len(telegrams)):
        tracker.on_telegrams(PRIMARY, [telegrams[i]])
    last = tracker.snapshot()[PRIMARY]
    assert (
        last["time"] == _iso(telegrams[-1]) and last["quarter_start_utc"] == "2026-03-03T23:15:00Z"
    )
    assert isinstance(last["quarter_average_w"], int) and last["peak_warning"] in (True, False)


def _iso(telegram: Telegram) -> str:
    assert telegram.timestamp is not None
    return telegram.timestamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
