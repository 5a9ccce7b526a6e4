"""One agent per data directory: an advisory `flock` on `<data_dir>/agent.lock`.

Two agents on one configuration would knock each other off both brokers (same client id) and
write one database from two engines. The lock is held for the life of the process and
released by the kernel when it ends, however it ends (no stale lock after a power cut). The
file holds the holder's pid, only to name it in the message.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Final

from edge.errors import StoreError

LOCK_NAME: Final = "agent.lock"


class DataDirLock:
    """The data directory's lock, held until `release()` (or the process ends)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_NAME
        try:
            self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot create the lock file {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder()
            os.close(self._fd)
            self._fd = None
            who = f" (pid {holder})" if holder else ""
            raise StoreError(
                f"another agent{who} is already running on {data_dir}; stop it first "
                f"(systemctl stop p1edge) or give this one its own gateway.data_dir"
            ) from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"{os.getpid()}\n".encode())

    def _holder(self) -> str:
        try:
            return os.pread(self._fd or -1, 32, 0).decode(errors="replace").strip()
        except OSError:
            return ""

    def release(self) -> None:
        """Give the lock up (the process may then open the directory again)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
