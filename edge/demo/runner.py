"""The demo's choreography: broker, collector, agent and simulator, then the report.

Strategy: every actor is the real program in its own process, as on a real installation —
`firmware-sim scenario` on pseudo-terminals, `edge-agent run` reading them in meter time,
`edge-agent grid collect` verifying what arrives — so the demo proves the same paths the tests
do. This module only starts them, watches the agent's status file for progress, plays the
customer (an opt-out) and the grid operator (a second readout), and prints what happened.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Final
from zoneinfo import ZoneInfo

from edge.adapters.mqtt_blocking import BlockingClient
from edge.adapters.mqtt_config import BrokerSettings
from edge.blocks.keys import generate_key, load_private_key, save_private_key, save_public_key
from edge.config import load_config
from edge.config.ean import with_check_digit
from edge.demo.broker import DemoBroker, start_broker
from edge.demo.grid_side import allocate_days
from edge.demo.report import render_report
from edge.grid.requester import ask, new_request
from edge.progress import ProgressBar
from edge.status import read_latest

TZ: Final = "Europe/Amsterdam"
FIRST_DAY: Final = date(2026, 3, 28)  # the day before the spring DST change
GW: Final = "GW-DEMO"
SECONDS_PER_DAY: Final = 8.0  # wall-clock pace of one simulated day
POINTS: Final = (
    # (ean, role, meter id, profile, label)
    (with_check_digit("87168712000000001"), "primary", "DEMO-MAIN-0001", "household", "house"),
    (with_check_digit("87168712000000002"), "secondary", "DEMO-EVCH-0002", "ev-charger", "EV"),
    (with_check_digit("87168712000000003"), "secondary", "DEMO-PVPV-0003", "pv-only", "PV"),
)
OPT_OUT: Final = POINTS[2][0]  # the PV owner opts out once its first day has gone out


@dataclass
class Demo:
    days: int
    folder: Path
    out: IO[str] = field(default=sys.stdout)
    processes: list[subprocess.Popen[str]] = field(default_factory=list)
    collected: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    # -- set-up -------------------------------------------------------------------------------

    def write_files(self, broker: DemoBroker) -> tuple[Path, Path]:
        keys = self.folder / "keys"
        (self.folder / "pubkeys").mkdir(parents=True)
        keys.mkdir(parents=True, mode=0o700)
        gateway, operator = generate_key(), generate_key()
        save_private_key(gateway, keys / "gateway.key")
        save_public_key(gateway, self.folder / "pubkeys" / f"{GW}.pub")  # bound by name
        save_private_key(operator, keys / "operator.key")
        save_public_key(operator, keys / "operator.pub")
        scenario = self.folder / "scenario.toml"
        scenario.write_text(self._scenario())
        config = self.folder / "agent.toml"
        config.write_text(self._config(broker))
        return scenario, config

    def _scenario(self) -> str:
        start = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=ZoneInfo(TZ))
        lines = [
            f'start = "{start.isoformat()}"',
            f'duration = "{self.minutes()}m"',
            "seed = 7",
            f'timezone = "{TZ}"',
        ]
        for ean, role, meter, profile, _ in POINTS:
            header = "[primary]" if role == "primary" else "[[secondary]]"
            faults = "crc:0.002,drop:0.002,noise:0.002,glue:0.001" if role == "primary" else ""
            lines += [
                "",
                header,
                f'meter_id = "{meter}"',
                'dialect = "dsmr5"',
                f'profile = "{profile}"',
                f'port = "pty:{self.folder / ean}"',
                "interval = 60",  # a telegram a minute keeps the ptys unhurried at this pace
                f'faults = "{faults}"',
            ]
        return "\n".join(lines) + "\n"

    def minutes(self) -> int:
        """The simulated span: N local days and 6 hours into the next (past the push window)."""
        tz = ZoneInfo(TZ)
        start = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=tz)
        last = FIRST_DAY + timedelta(days=self.days)
        end = datetime(last.year, last.month, last.day, 6, tzinfo=tz)
        return int((end - start).total_seconds()) // 60

    def _config(self, broker: DemoBroker) -> str:
        lines = [
            "[gateway]",
            f'id = "{GW}"',
            f'timezone = "{TZ}"',
            f'data_dir = "{self.folder / "data"}"',
            'clock = "meter"',
            "",
            "[connection]",
            f'ean = "{POINTS[0][0]}"',
            "phases = 3",
            "voltage = 400",
            "fuse_a = 25",
            "",
            "[signing]",
            f'key = "{self.folder / "keys" / "gateway.key"}"',
            "",
            "[grid]",
            f'broker = "{broker.url}"',
            f'protocol = "{broker.protocol}"',
            f'operator_key = "{self.folder / "keys" / "operator.pub"}"',
        ]
        for ean, role, _, _, label in POINTS:
            lines += [
                "",
                "[[allocation_point]]",
                f'ean = "{ean}"',
                f'role = "{role}"',
                f'name = "{label}"',
                f'source = "{self.folder / ean}"',
                'dialect = "dsmr5"',
            ]
        return "\n".join(lines) + "\n"

    # -- running ------------------------------------------------------------------------------

    def spawn(self, *args: str, log: str) -> subprocess.Popen[str]:
        handle = (self.folder / log).open("w")
        runtime = self.folder / "run"  # as systemd's RuntimeDirectory: status.json every 5 s
        runtime.mkdir(exist_ok=True)
        process = subprocess.Popen(
            [sys.executable, "-m", *args], stdout=subprocess.PIPE, stderr=handle, text=True,
            env={**os.environ, "RUNTIME_DIRECTORY": str(runtime)},
        )  # fmt: skip
        self.processes.append(process)
        return process

    def follow_collector(self, collector: subprocess.Popen[str]) -> None:
        assert collector.stdout is not None
        for line in collector.stdout:
            self.collected.append(line.rstrip("\n"))

    def stored(self, ap: str | None = None) -> int:
        return sum(
            line.startswith("ok ") and (ap is None or f"/{ap} " in line) for line in self.collected
        )

    def expected_blocks(self) -> int:
        return 2 * self.days + 1  # house and EV every day; PV only its first day

    def meter_progress(self) -> float:
        status = read_latest(self.folder / "data", GW) or {}
        now = status.get("now_utc")
        if not now:
            return 0.0
        moment = datetime.fromisoformat(now.replace("Z", "+00:00"))
        start = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=ZoneInfo(TZ))
        return (moment - start).total_seconds() / 60 / self.minutes()

    def opt_out(self, config: Path) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "edge", "consent", "--config", str(config), "--ap", OPT_OUT,
             "opt-out"],
            capture_output=True, text=True, check=False, timeout=60,
        )  # fmt: skip
        self.events.append(f"customer: {result.stdout.strip() or result.stderr.strip()}")

    def second_readout(self, broker: DemoBroker) -> None:
        operator = load_private_key(self.folder / "keys" / "operator.key")
        settings = BrokerSettings.from_config(broker.url, protocol=broker.protocol)
        request = new_request("readout", gateway=GW, ap=POINTS[0][0], now=int(time.time()))
        with BlockingClient(settings, client_id="demo-operator") as client:
            reply = ask(client, "p1edge/v1", request, operator, timeout=30)
        answer = reply.get("reason") or reply.get("status")
        self.events.append(f"grid operator: a second readout of {POINTS[0][0]} today -> {answer}")

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


NEEDS_SIM: Final = (
    "the demo runs the meter simulator, which needs numpy, the 'sim' extra: "
    "pip install 'p1edge[sim]' (source: '.[sim]')"
)


def run_demo(days: int, folder: Path, out: IO[str], broker_choice: str = "auto") -> int:
    """Run the demo in `folder` (the caller cleans it up); returns the exit code."""
    if importlib.util.find_spec("numpy") is None:  # else the simulator dies and the demo waits
        raise RuntimeError(NEEDS_SIM)
    demo = Demo(days, folder, out)
    with ExitStack() as stack:
        broker = start_broker(folder, broker_choice)
        stack.callback(broker.stop)
        stack.callback(demo.stop_all)
        scenario, config = demo.write_files(broker)
        load_config(config)  # fail early and clearly if the demo wrote nonsense
        print(f"demo: broker {broker.kind} at {broker.url} (MQTT {broker.protocol}); "
              f"{days} simulated days from {FIRST_DAY} (spring DST on the 29th)",
              file=out)  # fmt: skip
        collector = demo.spawn(
            "edge", "grid", "collect", "--broker", broker.url, "--protocol", broker.protocol,
            "--pubkeys", str(folder / "pubkeys"), "--store", str(folder / "collected.sqlite"),
            log="collector.log",
        )  # fmt: skip
        threading.Thread(target=demo.follow_collector, args=(collector,), daemon=True).start()
        demo.spawn("edge", "run", "--config", str(config), log="agent.log")
        speed = str(int(86_400 / SECONDS_PER_DAY))
        sim = demo.spawn("firmware_sim", "scenario", str(scenario), "--speed", speed,
                         "--truth", str(folder / "truth.csv"), log="simulator.log")  # fmt: skip
        _watch(demo, sim, config)
        deadline = time.monotonic() + 60
        while demo.stored() < demo.expected_blocks() and time.monotonic() < deadline:
            time.sleep(0.2)
        demo.second_readout(broker)
        demo.stop_all()
        ok, text = render_report(demo, config, folder / "collected.sqlite")
        allocated, table = allocate_days(folder, folder / "collected.sqlite", POINTS, FIRST_DAY,
                                         days)  # fmt: skip
        text = _before_verdict(text, table)
        if not allocated:
            ok, text = False, text.replace("demo: OK", "demo: FAILED (the allocation run)")
        print(text, file=out)
        return 0 if ok else 1
    return 1  # pragma: no cover - ExitStack does not swallow exceptions


def _before_verdict(text: str, table: list[str]) -> str:
    head, _, verdict = text.rpartition("\n")
    return "\n".join([head, *table, "", verdict])


def _watch(demo: Demo, sim: subprocess.Popen[str], config: Path) -> None:
    bar = ProgressBar(1000, label="simulated time")
    interactive = demo.out.isatty() or sys.stderr.isatty()
    opted_out = False
    reported_day = -1
    while sim.poll() is None:
        share = min(demo.meter_progress(), 1.0)
        if interactive:
            bar.update(int(share * 1000))
        elif int(share * demo.days) > reported_day:
            reported_day = int(share * demo.days)
            print(f"demo: simulated day {reported_day + 1} of {demo.days}", file=demo.out)
        if not opted_out and demo.stored(OPT_OUT) >= 1:
            demo.opt_out(config)
            opted_out = True
        time.sleep(0.2)
    if interactive:
        bar.close()
    if not opted_out:
        demo.opt_out(config)
    if sim.returncode not in (0, None):
        demo.events.append(f"simulator exited with code {sim.returncode} (see simulator.log)")
