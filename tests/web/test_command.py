"""`edge-agent web` on its own: serves, stops on SIGTERM, refuses a readable password file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.integration.helpers import PRIMARY, edge, write_config
from tests.web.helpers import Client, Stored, wait_for


def test_web_command_serves_and_stops_on_sigterm(stored: Stored) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "edge", "web", "--config", str(stored.config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        client = Client(stored.port)

        def up() -> bool:
            try:
                return client.get("/login")[0] == 200
            except OSError:
                return False

        wait_for(up, 60, "edge-agent web to serve")
        assert client.login() == 303
        assert client.get("/api/now.json")[0] == 200
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert f"serving on http://127.0.0.1:{stored.port}/" in err


def test_web_command_refuses_a_password_file_others_can_read(stored: Stored) -> None:
    password = stored.folder / "web.password"
    os.chmod(password, 0o644)
    try:
        result = edge("web", "--config", str(stored.config), timeout=60)
    finally:
        os.chmod(password, 0o600)
    assert result.returncode == 2
    assert "web.password_file" in result.stderr and "chmod 600" in result.stderr
    assert "Traceback" not in result.stderr


def test_web_command_without_a_section(tmp_path: Path) -> None:
    config = write_config(tmp_path, [(PRIMARY, "primary", "file:x.cap", "dsmr5")])
    result = edge("web", "--config", str(config), timeout=60)
    assert result.returncode == 2 and "no [web] section" in result.stderr
