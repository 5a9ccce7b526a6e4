"""A throw-away MQTT broker for the demo: mosquitto when installed, else an embedded amqtt.

mosquitto speaks MQTT 5 (the agent's default). amqtt (the optional `broker` extra) speaks MQTT
3.1.1 only, so the demo then configures the agent for 3.1.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class DemoBroker:
    """A running broker: where it listens, which protocol, how to stop it."""

    url: str
    protocol: str
    kind: str
    _stop: Any = field(repr=False, default=None)

    def stop(self) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_broker(workdir: Path, choice: str = "auto") -> DemoBroker:
    """Start mosquitto (or amqtt); raises RuntimeError with the fix when neither is available.

    `choice`: "auto" (mosquitto when installed), "mosquitto" or "embedded".
    """
    binary = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if os.access("/usr/sbin/mosquitto", os.X_OK) else None
    )
    if binary is not None and choice != "embedded":
        return _mosquitto(binary, workdir)
    if choice == "mosquitto":
        raise RuntimeError("mosquitto is not installed: apt-get install mosquitto")
    try:
        return _amqtt()
    except ImportError:
        raise RuntimeError(
            "the demo needs an MQTT broker: install mosquitto (apt-get install mosquitto) "
            "or the embedded one (pip install 'p1edge[broker]')"
        ) from None


def _mosquitto(binary: str, workdir: Path) -> DemoBroker:
    port = free_port()
    conf = workdir / "mosquitto.conf"
    lines = ["persistence false", "allow_anonymous true", f"listener {port} 127.0.0.1"]
    if os.geteuid() == 0:
        lines.append("user root")  # else mosquitto switches to its own user: no access here
    conf.write_text("\n".join(lines) + "\n")
    log = (workdir / "mosquitto.log").open("wb")
    process = subprocess.Popen([binary, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    _wait_for_port(port, process)

    def stop() -> None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()

    return DemoBroker(f"mqtt://127.0.0.1:{port}", "5", "mosquitto", stop)


def _amqtt() -> DemoBroker:
    from amqtt.broker import Broker  # type: ignore[import-not-found]

    # amqtt logs its own shutdown as a traceback; the demo's user needs none of it
    logging.getLogger("amqtt").setLevel(logging.CRITICAL)
    logging.getLogger("transitions").setLevel(logging.CRITICAL)
    port = free_port()
    loop = asyncio.new_event_loop()
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "auth": {"allow-anonymous": True, "plugins": ["auth_anonymous"]},
        "topic-check": {"enabled": False},
    }
    broker = Broker(config, loop=loop)
    thread = threading.Thread(target=loop.run_forever, name="amqtt", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(broker.start(), loop).result(20)
    _wait_for_port(port, None)

    def stop() -> None:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(broker.shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)

    return DemoBroker(f"mqtt://127.0.0.1:{port}", "3.1.1", "amqtt (embedded)", stop)


def _wait_for_port(port: int, process: subprocess.Popen[bytes] | None) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the broker exited with code {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"the broker did not listen on port {port} within 20 s")
