"""Where the bytes go: a pseudo-terminal, a TCP server, a file or stdout; and the pace.

Strategy: the only I/O in the simulator. A port takes whole telegrams; the Pacer maps simulated
seconds to wall-clock seconds (×speed) or does not wait at all (`max`), in which case a pty's
tty buffer or the TCP socket provides back-pressure so nothing is dropped.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import sys
import termios
import time
import tty
from collections.abc import Callable
from typing import BinaryIO, Protocol


class Port(Protocol):
    def open(self) -> str | None:
        """Open the port; the address to announce (None for file/stdout)."""

    def write(self, data: bytes) -> None: ...

    def unplug(self) -> None: ...

    def replug(self) -> str | None:
        """Reopen after an unplug; the (possibly new) address to announce."""

    def close(self) -> None: ...


class FilePort:
    """The byte stream, back to back as on the wire, into a file (or stdout)."""

    def __init__(self, path: str | None) -> None:
        self._path = path
        self._fh: BinaryIO | None = None

    def open(self) -> str | None:
        self._fh = open(self._path, "wb") if self._path else sys.stdout.buffer  # noqa: SIM115
        return None

    def write(self, data: bytes) -> None:
        assert self._fh is not None
        self._fh.write(data)
        if self._path is None:
            self._fh.flush()

    def unplug(self) -> None:
        return None

    def replug(self) -> str | None:
        return None

    def close(self) -> None:
        if self._fh is not None and self._path:
            self._fh.close()
        elif self._fh is not None:
            self._fh.flush()


class PtyPort:
    """A pseudo-terminal in raw mode; the agent opens its slave path like /dev/ttyUSB0.

    The simulator keeps the slave open itself so that the line stays configured (raw, no CRLF
    translation) and writes never fail while no reader is attached. `link`, if given, is a
    symlink kept pointing at the current slave, so a replug appears "at the same path".
    Paced (`blocking=False`), a meter never waits for its reader: when the tty buffer is full
    the unread old bytes are flushed, as they would be lost on a real line. At `max` speed the
    full buffer is the back-pressure.
    """

    def __init__(self, link: str | None = None, blocking: bool = True) -> None:
        self._link = link
        self._blocking = blocking
        self._master = -1
        self._slave = -1

    def open(self) -> str:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, self._blocking)
        path = os.ttyname(self._slave)
        if self._link:
            tmp = self._link + ".tmp"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            os.symlink(path, tmp)
            os.replace(tmp, self._link)
        return path

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        flushed = False
        while view:
            try:
                n = os.write(self._master, view)
            except BlockingIOError:
                if flushed:
                    return  # nobody reads and the buffer stays full: the rest is lost
                termios.tcflush(self._slave, termios.TCIFLUSH)
                flushed = True
                continue
            view = view[n:]

    def unplug(self) -> None:
        self.close()

    def replug(self) -> str:
        return self.open()

    def close(self) -> None:
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1


class TcpPort:
    """One client at a time on 127.0.0.1 (like ser2net; pyserial `socket://host:port`).

    With `wait_for_client` (speed max) a write waits for a client; otherwise bytes written while
    nobody is connected are lost, as on a real line.
    """

    def __init__(self, port: int, wait_for_client: bool) -> None:
        self._port = port
        self._wait = wait_for_client
        self._server: socket.socket | None = None
        self._client: socket.socket | None = None

    def open(self) -> str:
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", self._port))
        srv.listen(1)
        self._server = srv
        return f"socket://127.0.0.1:{srv.getsockname()[1]}"

    def _accept(self) -> None:
        assert self._server is not None
        if not self._wait and not select.select([self._server], [], [], 0)[0]:
            return
        self._client, _ = self._server.accept()

    def write(self, data: bytes) -> None:
        if self._client is None:
            self._accept()
        if self._client is None:
            return
        try:
            self._client.sendall(data)
        except OSError:  # the client went away: wait for the next one
            self._drop()

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def unplug(self) -> None:
        self._drop()

    def replug(self) -> None:
        return None

    def close(self) -> None:
        self._drop()
        if self._server is not None:
            self._server.close()
            self._server = None


def make_port(text: str, max_speed: bool) -> Port:
    """`pty`, `pty:LINK`, `file:PATH`, `tcp:PORT`, `stdout`."""
    kind, _, arg = text.partition(":")
    if kind == "pty":
        return PtyPort(arg or None, blocking=max_speed)
    if kind == "file" and arg:
        return FilePort(arg)
    if kind == "tcp" and arg.isdigit():
        return TcpPort(int(arg), wait_for_client=max_speed)
    if kind == "stdout":
        return FilePort(None)
    raise ValueError(f"--port {text!r}: use pty, pty:LINK, file:PATH, tcp:PORT or stdout")


class Pacer:
    """Waits until simulated second `t` is due at `speed` × real time (None: never waits)."""

    def __init__(
        self,
        speed: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._speed = speed
        self._clock = clock
        self._sleep = sleep
        self._origin: tuple[int, float] | None = None

    def wait(self, t: int) -> None:
        if self._speed is None:
            return
        if self._origin is None:
            self._origin = (t, self._clock())
            return
        due = self._origin[1] + (t - self._origin[0]) / self._speed
        delay = due - self._clock()
        if delay > 0:
            self._sleep(delay)


def parse_speed(text: str) -> float | None:
    if text == "max":
        return None
    speed = float(text)
    if speed <= 0:
        raise ValueError("--speed must be positive or 'max'")
    return speed
