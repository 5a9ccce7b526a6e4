"""A real mosquitto on a free loopback port, for tests (and the release benchmark).

Use one broker per test module::

    from tests.support.mosquitto import mosquitto_fixture

    broker = mosquitto_fixture(users={"gw-1": "secret"}, acl=ACL, tls=True)

    def test_something(broker): ...

The configuration is generated in a temporary directory: a listener on 127.0.0.1, anonymous
access or a password file (hashed here, `$7$` PBKDF2-SHA512 as `mosquitto_passwd` writes it), an
optional ACL file and optional TLS with a generated CA and server certificate. `start()` returns
once the port accepts connections; `restart()` keeps the port. Without the mosquitto binary the
fixture skips with the reason and the fix.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from edge.adapters.mqtt_config import BrokerSettings
from tests.support.certs import CertFiles, TestCA

SKIP_REASON = (
    "mosquitto is not installed (the MQTT tests need a real broker): "
    "apt-get install mosquitto, or run ./scripts/test as root"
)


def mosquitto_binary() -> str | None:
    """The mosquitto executable, or None."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if os.access("/usr/sbin/mosquitto", os.X_OK) else None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def password_line(user: str, password: str) -> str:
    """A mosquitto 2 password file line: ``user:$7$101$salt$hash`` (PBKDF2-SHA512)."""
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 101)
    b64 = base64.b64encode
    return f"{user}:$7$101${b64(salt).decode()}${b64(digest).decode()}"


@dataclass
class Broker:
    """One mosquitto process and its generated files."""

    binary: str
    workdir: Path
    port: int
    users: Mapping[str, str] = field(default_factory=dict)
    ca: TestCA | None = None
    server: CertFiles | None = None
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = None

    @property
    def tls(self) -> bool:
        """True when the listener speaks TLS only."""
        return self.server is not None

    @property
    def url(self) -> str:
        """mqtt://127.0.0.1:PORT (mqtts:// with TLS)."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    @property
    def config(self) -> Path:
        return self.workdir / "mosquitto.conf"

    @property
    def log(self) -> Path:
        return self.workdir / "mosquitto.log"

    def log_text(self) -> str:
        """What mosquitto logged so far (for assertion messages)."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def password_file(self, user: str) -> Path:
        """A client-side file holding `user`'s clear-text password (as the gateway reads it)."""
        path = self.workdir / f"{user}.password"
        path.write_text(self.users[user] + "\n")
        path.chmod(0o600)
        return path

    def client_cert(self, name: str) -> CertFiles:
        """A client certificate from the broker's CA (TLS brokers only)."""
        assert self.ca is not None, "client certificates need a TLS broker"
        return self.ca.issue(f"client-{name}", name, server=False)

    def settings(self, user: str | None = None, **overrides: Any) -> BrokerSettings:
        """Client settings for this broker, as the gateway's `[grid]` section would give them."""
        options: dict[str, Any] = {"ca_file": self.ca.ca_file if self.ca else ""}
        if user is not None:
            options.update(username=user, password_file=self.password_file(user))
        options.update(overrides)
        settings = BrokerSettings.from_config(self.url, **options)
        # tests want quick retries and deadlines that a slow machine still meets
        return replace(settings, reconnect_min=0.2, reconnect_max=1.0)

    @property
    def running(self) -> bool:
        """True while the process runs."""
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 20.0) -> None:
        """Start mosquitto and wait until its port accepts connections."""
        assert self.process is None, "already started"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [self.binary, "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while not _accepts(self.host, self.port):
            if self.process.poll() is not None:
                self.process = None
                raise RuntimeError(f"mosquitto exited at start:\n{self.log_text()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mosquitto did not listen in {timeout} s:\n{self.log_text()}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Terminate mosquitto (kill it if it does not go) and reap the process."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def kill(self) -> None:
        """SIGKILL: the broker dies at once (also when paused), like a power cut."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def pause(self) -> None:
        """SIGSTOP: the broker stops reading and answering; its sockets stay open."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after `pause`."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        """Stop and start again on the same port (no persistence: sessions are gone)."""
        self.stop()
        self.start()


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _config_lines(broker: Broker, *, anonymous: bool, acl: Path | None) -> list[str]:
    lines = [
        "persistence false",
        f"log_dest file {broker.log}",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_type information",
        f"allow_anonymous {'true' if anonymous else 'false'}",
    ]
    if os.geteuid() == 0:
        lines.append("user root")  # else mosquitto drops to user `mosquitto`: no tmp access
    if broker.users:
        passwd = broker.workdir / "passwd"
        passwd.write_text("".join(password_line(u, p) + "\n" for u, p in broker.users.items()))
        lines.append(f"password_file {passwd}")
    if acl is not None:
        lines.append(f"acl_file {acl}")
    lines.append(f"listener {broker.port} {broker.host}")
    if broker.server is not None:
        lines += [
            f"cafile {broker.server.ca}",
            f"certfile {broker.server.cert}",
            f"keyfile {broker.server.key}",
        ]
    return lines


def make_broker(
    workdir: Path,
    *,
    users: Mapping[str, str] | None = None,
    acl: str | None = None,
    tls: bool = False,
    anonymous: bool | None = None,
    port: int | None = None,
) -> Broker:
    """Write the configuration for a broker (not started yet).

    `users` maps user names to clear-text passwords; `acl` is the text of a mosquitto ACL file;
    anonymous access is allowed by default only when there are no users.
    """
    binary = mosquitto_binary()
    if binary is None:
        raise RuntimeError(SKIP_REASON)
    workdir.mkdir(parents=True, exist_ok=True)
    broker = Broker(binary, workdir, port or free_port(), users=dict(users or {}))
    if tls:
        broker.ca = TestCA(workdir)
        broker.server = broker.ca.issue("server", "localhost", server=True)
    acl_path = None
    if acl is not None:
        acl_path = workdir / "acl"
        acl_path.write_text(acl)
    allow = not broker.users if anonymous is None else anonymous
    broker.config.write_text("\n".join(_config_lines(broker, anonymous=allow, acl=acl_path)) + "\n")
    return broker


@contextmanager
def running_broker(workdir: Path, **options: Any) -> Iterator[Broker]:
    """A started broker for the duration of the block (see `make_broker` for the options)."""
    broker = make_broker(workdir, **options)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def mosquitto_fixture(*, scope: str = "module", **options: Any) -> Callable[..., Any]:
    """A pytest fixture yielding a running `Broker`; skips when mosquitto is missing."""

    @pytest.fixture(scope=scope)  # type: ignore[call-overload]
    def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
        if mosquitto_binary() is None:
            pytest.skip(SKIP_REASON)
        with running_broker(tmp_path_factory.mktemp("mosquitto"), **options) as started:
            yield started

    return broker  # type: ignore[no-any-return]
