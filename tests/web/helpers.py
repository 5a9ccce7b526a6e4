"""A gateway with a `[web]` section and stored days, and a small HTTP client for the page."""

from __future__ import annotations

import http.client
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from firmware_sim.api import render_to_file
from tests.integration.helpers import PRIMARY, SECONDARY_EV, edge, write_config

PASSWORD = "correct horse battery"
START = "2026-03-02T00:00:00+01:00"  # a plain March week (no DST day), Amsterdam
OTHER_EAN = "871687120000000099"  # never configured


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_password(folder: Path, text: str = PASSWORD, mode: int = 0o600) -> Path:
    path = folder / "web.password"
    path.write_text(text + "\n")
    os.chmod(path, mode)
    return path


def web_section(port: int, password_file: Path, read: str = "password", extra: str = "") -> str:
    return (
        f'\n[web]\nlisten = "127.0.0.1:{port}"\nread = "{read}"\n'
        f'password_file = "{password_file}"\n{extra}'
    )


@dataclass
class Stored:
    """A configuration and a store filled by replaying simulated captures."""

    folder: Path
    config: Path
    port: int


def stored_gateway(
    folder: Path,
    *,
    days: int = 2,
    start: str = START,
    read: str = "password",
    sources: tuple[str, str] | None = None,
    extra: str = "",
    replay: bool = True,
) -> Stored:
    """Primary (household with PV) and an EV charger, `days` days replayed into the store."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    main_src, ev_src = sources or ("file:main.cap", "file:ev.cap")
    config = write_config(
        folder,
        [
            (PRIMARY, "primary", main_src, "dsmr5"),
            (SECONDARY_EV, "secondary", ev_src, "dsmr5"),
        ],
        extra=web_section(port, write_password(folder), read) + extra,
    )
    if replay:
        for ean, name, profile, seed in (
            (PRIMARY, "main", "household-pv", 3),
            (SECONDARY_EV, "ev", "ev-charger", 4),
        ):
            capture = folder / f"{name}-history.cap"
            render_to_file(
                capture, "dsmr5", start=start, duration=f"{days * 24}h", seed=seed,
                profile=profile, interval=10, meter_id=f"METER{ean[-2:]}",
                faults="drop:0.02,silence:40m@10:00" if name == "main" else "",
            )  # fmt: skip
            result = edge("replay", "--config", str(config), "--ap", ean, str(capture))
            assert result.returncode == 0, result.stderr
    return Stored(folder, config, port)


@dataclass
class Client:
    """HTTP/1.0 requests to the page on 127.0.0.1, keeping its session cookie."""

    port: int
    cookie: str | None = None
    host: str = "127.0.0.1"
    last_headers: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        sent = {"Host": f"{self.host}:{self.port}", **(headers or {})}
        if self.cookie:
            sent["Cookie"] = self.cookie
        if body is not None:
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        self.last_headers = {k.lower(): v for k, v in response.getheaders()}
        cookie = self.last_headers.get("set-cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        return response.status, data

    def get(self, path: str) -> tuple[int, bytes]:
        return self.request("GET", path)

    def post(self, path: str, form: dict[str, str]) -> tuple[int, bytes]:
        from urllib.parse import urlencode

        return self.request("POST", path, urlencode(form).encode())

    def csrf(self, path: str = "/login") -> str:
        status, body = self.get(path)
        assert status == 200, (status, body[:300])
        marker = b'name="csrf" value="'
        start = body.index(marker) + len(marker)
        return body[start : body.index(b'"', start)].decode()

    def login(self, password: str = PASSWORD) -> int:
        token = self.csrf()
        status, _ = self.post("/login", {"csrf": token, "password": password, "next": "/"})
        return status


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    """Poll until true or the deadline (a loaded machine may be slow; never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
