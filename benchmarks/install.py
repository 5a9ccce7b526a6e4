"""The Pi's install, measured here: venv size, the agent's start-up time and resident memory.

Builds the wheel from this tree (`pip wheel --no-deps`), installs it without extras into a
fresh venv (as hw/raspberry-pi.md step 4 does), and prints the venv's size against an empty
venv. Then starts the installed `edge-agent run` on one pseudo-terminal meter with a grid link
to a local mosquitto (so paho and the signer are loaded, as on a Pi), times exec -> READY=1
(the sd_notify message systemd waits for, received on a real NOTIFY_SOCKET) and reads VmRSS
from /proc after 20 telegrams at 1/s. Run: `python benchmarks/install.py [--runs 3]`.
"""

from __future__ import annotations

import argparse
import os
import pty
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from firmware_sim.api import render  # noqa: E402
from tests.integration.helpers import PRIMARY, write_config  # noqa: E402
from tests.packaging.helpers import build_wheel, clean_env  # noqa: E402
from tests.support.mosquitto import mosquitto_binary, running_broker  # noqa: E402


def du_mb(path: Path) -> float:
    total = sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return total / 1e6


def make_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    return path / "bin"


def start_once(
    bin_dir: Path, config: Path, folder: Path, telegrams: list[bytes]
) -> tuple[float, float]:
    notify = folder / "notify.sock"
    notify.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(notify))
    listener.settimeout(120)
    env = clean_env() | {"NOTIFY_SOCKET": str(notify)}
    t0 = time.monotonic()
    agent = subprocess.Popen(
        [str(bin_dir / "edge-agent"), "run", "--config", str(config)],
        env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        while b"READY=1" not in listener.recv(4096):
            pass
        ready_s = time.monotonic() - t0
        for data in telegrams:
            os.write(MASTER, data)
            time.sleep(1)
        rss_kb = next(
            int(line.split()[1])
            for line in Path(f"/proc/{agent.pid}/status").read_text().splitlines()
            if line.startswith("VmRSS:")
        )
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(60)
        listener.close()
    return ready_s, rss_kb / 1024


MASTER = -1


def main() -> None:
    global MASTER
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        wheel = build_wheel(folder)
        bin_dir = make_venv(folder / "venv")
        subprocess.run([str(bin_dir / "pip"), "install", "-q", str(wheel)], check=True,
                       env=clean_env())  # fmt: skip
        empty = make_venv(folder / "empty").parent
        size, base = du_mb(folder / "venv"), du_mb(empty)
        print(f"venv /opt/p1edge (no extras): {size:.1f} MB; an empty venv {base:.1f} MB; "
              f"the agent and its dependencies {size - base:.1f} MB")  # fmt: skip
        if mosquitto_binary() is None:
            sys.exit("mosquitto is needed for the start-up figures (apt-get install mosquitto)")
        MASTER, slave = pty.openpty()
        with running_broker(folder / "broker") as broker:
            keys = folder / "keys"
            subprocess.run([str(bin_dir / "edge-agent"), "keygen", "--dir", str(keys)],
                           check=True, env=clean_env(), stdout=subprocess.DEVNULL)  # fmt: skip
            extra = (
                f'\n[signing]\nkey = "{keys / "gateway.key"}"\n\n[grid]\nbroker = "{broker.url}"\n'
            )
            config = write_config(
                folder, [(PRIMARY, "primary", os.ttyname(slave), "dsmr5")], clock="system",
                extra=extra,
            )  # fmt: skip
            telegrams = render("dsmr5", duration="20s", interval=1, seed=1).telegrams[:20]
            for run in range(args.runs):
                ready_s, rss_mb = start_once(bin_dir, config, folder, telegrams)
                print(f"run {run + 1}: exec -> READY=1 {ready_s:.2f} s; "
                      f"RSS after {len(telegrams)} telegrams {rss_mb:.1f} MB")  # fmt: skip
        os.close(MASTER)
        os.close(slave)
        shutil.rmtree(folder / "empty", ignore_errors=True)


if __name__ == "__main__":
    main()
