"""Reading a P1 line with one wake-up per burst of bytes, and a stop that cuts any wait short.

Strategy: pyserial's POSIX `read(n)` loops on select() until it has `n` bytes or its timeout
has passed, so with a 1 s timeout every telegram cost two wake-ups (its bytes, then the
timeout) and reached the agent up to a second late. On a Pi the CPU of an idle-looking agent is
mostly such wake-ups. For a port with a file descriptor (a device path, a pty, `socket://`) we
wait ourselves: ONE select over the port and a `Waker` pipe, then one read of whatever is
there. The wait ends when bytes arrive, at the caller's deadline (the silence threshold: no
periodic wake while a meter talks) or at once when the source is stopped. Ports without a
descriptor of their own (`rfc2217://`, `loop://`) are read through pyserial with its timeout,
which then bounds how late stop and silence are noticed, as before.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
from typing import Final

import serial
from serial import serialposix
from serial.urlhandler import protocol_socket

READ_MAX: Final = 64 * 1024  # per read: at full speed a chunk carries ~80 DSMR 5 telegrams
FALLBACK_TIMEOUT_S: Final = 1.0  # ports read through pyserial: the longest a read blocks


class Waker:
    """A self-pipe: `wake()` from any thread ends the reader thread's current `LineReader.read`.

    One wake is remembered until `clear()`, so a stop that lands between two reads still ends
    the next wait at once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)
        self._closed = False

    def fileno(self) -> int:
        return self._read_fd

    def wake(self) -> None:
        with self._lock:
            if self._closed:
                return
            # a full pipe already holds a wake: nothing is lost by dropping this one
            with contextlib.suppress(BlockingIOError):
                os.write(self._write_fd, b"w")

    def clear(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._read_fd, 512):
                pass

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            os.close(self._read_fd)
            os.close(self._write_fd)


class LineReader:
    """Reads an open pyserial port: `read(timeout)` returns the bytes that have arrived.

    It returns b"" when the timeout passed or the waker was woken; a lost line (a pty or USB
    device that went away, a closed socket) raises `serial.SerialException` or `OSError`.
    """

    __slots__ = ("_fd", "_port", "_waker")

    def __init__(self, port: serial.SerialBase, waker: Waker) -> None:
        self._port = port
        self._waker = waker
        self._fd = _descriptor(port)  # None: pyserial reads, with the port's timeout

    @property
    def waits_for_stop(self) -> bool:
        """True when a stop ends the wait at once (False: within `FALLBACK_TIMEOUT_S`)."""
        return self._fd is not None

    def pending(self) -> bool:
        """True when more bytes can be read at once (a backlog; always True without a
        descriptor, whose pyserial read waits by itself)."""
        if self._fd is None:
            return True
        ready, _, _ = select.select([self._fd], [], [], 0)
        return bool(ready)

    def read(self, timeout: float | None) -> bytes:
        """Wait up to `timeout` seconds (None: until bytes or a wake) and read what is there."""
        if self._fd is None:
            return bytes(self._port.read(READ_MAX))
        waker = self._waker.fileno()
        ready, _, _ = select.select([self._fd, waker], [], [], timeout)
        if self._fd not in ready:
            return b""
        try:
            data = os.read(self._fd, READ_MAX)
        except (BlockingIOError, InterruptedError):  # a spurious readiness: nothing to take
            return b""
        except OSError as exc:  # EIO: the pty's other end or the USB device went away
            raise serial.SerialException(f"read failed: {exc}") from exc
        if not data:
            # A vanished device (or a closed socket) stays "readable" and reads nothing.
            raise serial.SerialException("the port reports data but reads none (disconnected)")
        return data


def _descriptor(port: serial.SerialBase) -> int | None:
    """The port's own file descriptor, where reading it directly is what pyserial would do."""
    if isinstance(port, serialposix.Serial) and not isinstance(port, serialposix.VTIMESerial):
        return int(port.fileno())
    if isinstance(port, protocol_socket.Serial):
        return int(port.fileno())
    return None
