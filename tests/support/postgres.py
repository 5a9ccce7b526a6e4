"""A real PostgreSQL server in a temporary directory, for tests and the grid benchmark.

    from tests.support.postgres import postgres_fixture

    postgres = postgres_fixture()

    def test_something(postgres): url = postgres.new_database()

`initdb` makes a cluster in a fresh directory under /tmp; the server listens on a free loopback
port and on a unix socket in that directory, trusts local connections (it is reachable only
from this machine, and only for the test's lifetime) and is stopped (fast shutdown) at the end.
PostgreSQL refuses to run as root: as root, the cluster belongs to `nobody` and the binaries run
through `setpriv`. Without Debian's binaries the fixture skips, saying how to install them.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.mosquitto import free_port

SKIP_REASON = (
    "PostgreSQL is not installed (the grid store tests need a real server): "
    "apt-get install postgresql, or run ./scripts/test as root"
)
RUN_AS = "nobody"


def postgres_bindir() -> Path | None:
    """The directory of Debian's (or the PATH's) initdb and postgres, newest version first."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    found = shutil.which("initdb")
    if found:  # Debian puts only wrappers on the PATH; the real binaries are beside postgres
        candidates.append(Path(found).resolve().parent)
    for candidate in candidates:
        if all((candidate / name).is_file() for name in ("initdb", "postgres", "pg_isready")):
            return candidate
    return None


def _as_owner(argv: Sequence[str]) -> list[str]:
    if os.geteuid() != 0:
        return list(argv)
    import pwd

    user = pwd.getpwnam(RUN_AS)
    return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups",
            *argv]  # fmt: skip


@dataclass
class Postgres:
    """One PostgreSQL server process and its cluster directory."""

    bindir: Path
    workdir: Path
    port: int
    host: str = "127.0.0.1"
    settings: Sequence[str] = ()
    process: subprocess.Popen[bytes] | None = None
    databases: list[str] = field(default_factory=list)

    @property
    def data(self) -> Path:
        return self.workdir / "data"

    @property
    def log(self) -> Path:
        return self.workdir / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        """A libpq URI for `database` on this server (user postgres, trusted)."""
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def initdb(self) -> None:
        self.workdir.chmod(0o755)
        if os.geteuid() == 0:
            import pwd

            user = pwd.getpwnam(RUN_AS)
            os.chown(self.workdir, user.pw_uid, user.pw_gid)
        subprocess.run(
            _as_owner([str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
                       "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"]),
            check=True, capture_output=True, cwd=self.workdir,
        )  # fmt: skip

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until it accepts connections."""
        assert self.process is None, "already started"
        options = [
            "-c",
            f"listen_addresses={self.host}",
            "-c",
            f"unix_socket_directories={self.workdir}",
        ]
        for setting in self.settings:
            options += ["-c", setting]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                _as_owner([str(self.bindir / "postgres"), "-D", str(self.data), "-p",
                           str(self.port), *options]),
                stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not self._ready():
            if self.process.poll() is not None:
                self.process = None
                raise RuntimeError(f"postgres exited at start:\n{self.log_text()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"postgres not ready in {timeout} s:\n{self.log_text()}")
            time.sleep(0.1)

    def _ready(self) -> bool:
        done = subprocess.run(
            [str(self.bindir / "pg_isready"), "-q", "-h", self.host, "-p", str(self.port)],
            check=False, capture_output=True,
        )  # fmt: skip
        return done.returncode == 0

    def sql(self, statement: str, database: str = "postgres") -> None:
        """Run one statement as the superuser (autocommit: CREATE DATABASE works)."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            conn.execute(statement)  # type: ignore[call-overload]

    def new_database(self) -> str:
        """A fresh empty database; returns its URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        self.sql(f"CREATE DATABASE {name}")
        self.databases.append(name)
        return self.url(name)

    def stop(self) -> None:
        """Fast shutdown (SIGINT), SIGKILL if it does not go."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def running_postgres(settings: Sequence[str] = ()) -> Iterator[Postgres]:
    """A started server for the block's duration; its directory is removed afterwards."""
    bindir = postgres_bindir()
    if bindir is None:
        raise RuntimeError(SKIP_REASON)
    # not pytest's tmp_path: its parents are private to root, and the server runs as nobody
    workdir = Path(tempfile.mkdtemp(prefix="p1edge-pg-"))
    server = Postgres(bindir, workdir, free_port(), settings=settings)
    try:
        server.initdb()
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def postgres_fixture(*, scope: str = "module", **options: Any) -> Callable[..., Any]:
    """A pytest fixture yielding a running `Postgres`; skips when the binaries are missing."""

    @pytest.fixture(scope=scope)  # type: ignore[call-overload]
    def postgres() -> Iterator[Postgres]:
        if postgres_bindir() is None:
            pytest.skip(SKIP_REASON)
        try:
            import psycopg  # noqa: F401
        except ImportError:
            pytest.skip("psycopg 3 is not installed: pip install -e '.[test]'")
        with running_postgres(**options) as server:
            yield server

    return postgres  # type: ignore[no-any-return]
