"""End to end in a real headless Chromium: the page of a running agent fed a simulated capture.

Three simulated days of two meters (household with PV, EV charger): the first two are replayed
into the store, the third is played live over pseudo-terminals by `firmware-sim replay` while
`edge-agent run` (with `[web]` and a real grid broker) reads them and serves the page. The
browser (Debian's chromium, driven by Playwright; never `playwright install`) logs in, sees the
live values move, compares a past day's bars and its CSV with `edge-agent export`, fails to opt
out without the password and succeeds with it, and finds the grid operator's refused readout in
the log table. Screenshots of the views are written to `screenshots/` in the test's directory
(and to `$P1EDGE_WEB_SCREENSHOTS` when set); a failure names the folder.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from edge.adapters.mqtt_blocking import BlockingClient
from edge.blocks.keys import load_private_key
from edge.grid.requester import ask, new_request
from firmware_sim.api import render
from tests.integration.helpers import PRIMARY, SECONDARY_EV, edge
from tests.support.mosquitto import Broker, mosquitto_fixture
from tests.web.helpers import PASSWORD, START, Client, stored_gateway, wait_for

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
DAY3 = 1772578800  # 2026-03-04T00:00:00+01:00: the live day
PAST_DAY = "2026-03-02"  # its 10:00 and 14:00 silences: interpolated and missing bars
broker = mosquitto_fixture()


def _split_capture(folder: Path, name: str, **options: Any) -> tuple[Path, Path]:
    """One 3-day simulated capture, cut at the third day's local midnight."""
    out = render("dsmr5", start=START, duration="72h", interval=10, **options)
    history, live = folder / f"{name}-history.cap", folder / f"{name}-live.cap"
    cut = next(i for i, t in enumerate(out.times) if t >= DAY3)
    history.write_bytes(b"".join(out.telegrams[:cut]))
    live.write_bytes(b"".join(out.telegrams[cut:]))
    return history, live


@pytest.fixture
def running(tmp_path: Path, broker: Broker) -> Iterator[dict[str, Any]]:
    keys = tmp_path / "keys"
    assert edge("keygen", "--dir", str(keys)).returncode == 0
    assert edge("keygen", "--dir", str(keys), "--name", "operator").returncode == 0
    grid = (
        f'\n[signing]\nkey = "{keys / "gateway.key"}"\n\n[grid]\nbroker = "{broker.url}"\n'
        f'operator_key = "{keys / "operator.pub"}"\n'
    )
    links = (str(tmp_path / "p1-main"), str(tmp_path / "p1-ev"))
    gw = stored_gateway(tmp_path, sources=links, extra=grid, replay=False)
    players = []
    for ean, name, profile, seed, link in (
        (PRIMARY, "main", "household-pv", 3, links[0]),
        (SECONDARY_EV, "ev", "ev-charger", 4, links[1]),
    ):
        history, live = _split_capture(
            tmp_path,
            name,
            seed=seed,
            profile=profile,
            meter_id=f"METER{ean[-2:]}",
            faults="silence:40m@10:00,silence:2h@14:00" if name == "main" else "",
        )
        result = edge("replay", "--config", str(gw.config), "--ap", ean, str(history))
        assert result.returncode == 0, result.stderr
        players.append((live, link))
    agent_log = (tmp_path / "agent.log").open("w")
    agent = subprocess.Popen(
        [sys.executable, "-m", "edge", "run", "--config", str(gw.config)],
        stdout=subprocess.DEVNULL, stderr=agent_log,
    )  # fmt: skip
    sims = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "firmware_sim",
                "replay",
                str(live),
                "--speed",
                "120",
                "--port",
                f"pty:{link}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for live, link in players
    ]
    try:
        yield {"gw": gw, "keys": keys, "broker": broker, "folder": tmp_path}
    finally:
        for process in (*sims, agent):
            process.send_signal(signal.SIGTERM)
        for process in (*sims, agent):
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        agent_log.close()


class Shots:
    """Screenshots of the views, kept in the test's folder (and copied where asked)."""

    def __init__(self, page: Any, folder: Path) -> None:
        self.page = page
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def take(self, name: str) -> None:
        self.page.screenshot(path=str(self.folder / f"{name}.png"), full_page=True)

    def copy_out(self) -> None:
        target = os.environ.get("P1EDGE_WEB_SCREENSHOTS")
        if target:
            shutil.copytree(self.folder, target, dirs_exist_ok=True)


def _of_the_live_day(shown: str) -> bool:
    """A meter time (UTC, as the page shows it) of the live day: played now, not replayed."""
    try:
        return datetime.fromisoformat(shown).timestamp() >= DAY3
    except ValueError:  # "-" or "" before the first telegram
        return False


def _live_text(page: Any) -> str:
    return str(page.text_content(f'[data-live="{PRIMARY}:time"]') or "")


def _export_day(config: Path) -> str:
    result = edge(
        "export", "--config", str(config), "--ap", PRIMARY, "--from", PAST_DAY, "--to", PAST_DAY,
        "--intervals",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_page_in_a_real_browser(running: dict[str, Any]) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed: apt-get install chromium (scripts/test)")
    gw, folder = running["gw"], running["folder"]
    base = f"http://127.0.0.1:{gw.port}"
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tempfile.mkdtemp(prefix="p1edge-chromium-", dir=folder),
            executable_path=CHROMIUM, args=ARGS, headless=True, accept_downloads=True,
            viewport={"width": 412, "height": 915},  # a phone's screen
        )  # fmt: skip
        page = context.new_page()
        shots = Shots(page, folder / "screenshots")
        try:
            _walk(page, base, gw, running, shots, folder)
        except BaseException:
            for name, path in (("now", "/"), ("day", f"/day?day={PAST_DAY}"),
                               ("month", "/month"), ("privacy", "/privacy")):  # fmt: skip
                try:
                    page.goto(base + path)
                    shots.take(f"failure-{name}")
                except Exception:  # the page may be what failed: keep the first error
                    pass
            shots.copy_out()
            log = (folder / "agent.log").read_text(errors="replace")[-3000:]
            print(f"screenshots in {shots.folder}\nagent log:\n{log}")
            raise
        finally:
            context.close()
        shots.copy_out()


def _walk(
    page: Any, base: str, gw: Any, running: dict[str, Any], shots: Shots, folder: Path
) -> None:
    # The agent starts and serves the page once its ports are up; poll until it answers.
    def answers() -> bool:
        try:
            return bool(page.goto(base + "/login", timeout=5000).ok)
        except sync_api.Error:
            return False

    wait_for(answers, 120, "the page to answer")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Log in')")
    page.wait_for_url(base + "/")
    # live values move: the meter time shown changes, power is a number, the meter is reading
    wait_for(lambda: _of_the_live_day(_live_text(page)), 120, "a live telegram")
    first = _live_text(page)
    wait_for(lambda: _live_text(page) not in ("", first), 120, "the live values to move")
    state = page.text_content(f'[data-live="{PRIMARY}:state"]')
    assert state == "reading"
    assert page.text_content(f'[data-live="{PRIMARY}:power_import_w"]').endswith(" W")
    shots.take("now")

    # a past day: every bar as `edge-agent export` has it, and the CSV download is its output
    page.goto(f"{base}/day?ap={PRIMARY}&day={PAST_DAY}")
    bars = page.eval_on_selector_all(
        "#daychart g.bar",
        "els => els.map(e => [e.dataset.start, e.dataset.status, e.dataset.importWh,"
        " e.dataset.exportWh])",
    )
    exported = _export_day(gw.config)
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert len(bars) == 96 and len(rows) == 96
    by_start = {b[0]: b for b in bars}
    statuses = set()
    for row in rows:
        _start, status, imported, exported_wh = by_start[row["start_utc"]]
        assert (status, imported, exported_wh) == (
            row["status"],
            row["import_wh"],
            row["export_wh"],
        )
        statuses.add(status)
    assert {"measured", "interpolated", "missing"} <= statuses  # the silences show as such
    assert page.locator("#daychart g.st-interpolated rect.in").count() > 0
    assert page.locator("#daychart g.st-missing rect.gap").count() > 0
    with page.expect_download() as download:
        page.click("text=Quarter-hours (CSV)")
    downloaded = Path(download.value.path()).read_text()
    assert downloaded == exported
    shots.take("day")

    page.goto(f"{base}/month?ap={PRIMARY}&month=2026-03")
    assert page.text_content("#peak").endswith(" W")
    shots.take("month")

    # opting out: refused without the password, done with it, logged "by customer (web)"
    page.goto(base + "/privacy")
    card = page.locator(f'section.card[data-ap="{PRIMARY}"]')
    card.locator("button:has-text('Opt out')").click()
    assert "Wrong password" in page.text_content("#message")
    assert page.locator(f'section.card[data-ap="{PRIMARY}"] .consent').text_content() == "opted-in"
    card = page.locator(f'section.card[data-ap="{PRIMARY}"]')
    card.locator("input[name=password]").fill(PASSWORD)
    card.locator("button:has-text('Opt out')").click()
    page.wait_for_url(base + "/privacy")
    card = page.locator(f'section.card[data-ap="{PRIMARY}"]')
    assert card.locator(".consent").text_content() == "opted-out"
    assert "set by customer (web)" in card.text_content()

    # the grid operator asks anyway: refused, and the refusal is in the customer's log table
    broker: Broker = running["broker"]
    client = BlockingClient(broker.settings(), client_id="operator")
    client.connect()
    try:
        # issued on the operator's own clock: a gateway in meter time judges it by its age
        request = new_request("readout", gateway="GW-TEST", ap=PRIMARY, now=int(time.time()))
        operator = load_private_key(running["keys"] / "operator.key")
        reply = ask(client, "p1edge/v1", request, operator, timeout=60)
    finally:
        client.close()
    assert (reply["status"], reply["reason"]) == ("refused", "opted-out")
    page.reload()
    rows_text = page.eval_on_selector_all(
        "#log tr", "els => els.map(e => Array.from(e.cells).map(c => c.textContent))"
    )
    refusals = [r for r in rows_text if r[1] == "refusal" and r[2] == PRIMARY]
    assert refusals and "opted-out" in refusals[0][5]
    assert "grid operator at mqtt://127.0.0.1" in refusals[0][4]
    consents = [r for r in rows_text if r[1] == "consent" and "customer (web)" in r[5]]
    assert consents
    with page.expect_download() as download:
        page.click("text=Log (CSV)")
    log_csv = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert list(log_csv[0]) == ["at", "kind", "ap", "detail", "to"]
    assert any(r["kind"] == "refusal" and "opted-out" in r["detail"] for r in log_csv)
    shots.take("privacy")


def test_run_serves_the_page_beside_the_agent(running: dict[str, Any]) -> None:
    """Without a browser: `run` starts the page, its live values move, status.json says so."""
    gw = running["gw"]
    client = Client(gw.port)

    def logged_in() -> bool:
        try:
            return client.login() == 303
        except OSError:
            return False

    wait_for(logged_in, 120, "the page of the running agent")

    def live_time() -> str:
        now = json.loads(client.get("/api/now.json")[1])
        point = next(p for p in now["points"] if p["ap"] == PRIMARY)
        return str(point["time"] or "")

    wait_for(lambda: _of_the_live_day(live_time()), 120, "a live telegram")
    first = live_time()
    wait_for(lambda: live_time() != first, 120, "the live values to move")
    status_file = gw.folder / "data" / "status.json"
    wait_for(lambda: "web" in json.loads(status_file.read_text()), 60, "the page in status.json")
    status = json.loads(status_file.read_text())
    assert status["web"]["serving"] is True and status["web"]["listen"].endswith(str(gw.port))
    assert PRIMARY in status["live"]
