"""A progress bar for long work (replay, backfill, demo) — only when stderr is a terminal."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO


class ProgressBar:
    """`[#####.....]  52%  31.2 MB of 60.0 MB  12 s`, redrawn in place at most 10 times/s."""

    def __init__(
        self, total: int, *, label: str = "", stream: TextIO | None = None, unit: str = "MB"
    ) -> None:
        self.total = max(total, 1)
        self.label = label
        self.stream = stream or sys.stderr
        self.unit = unit  # "MB": `done` counts bytes; any other unit is counted as it is
        self._started = time.monotonic()
        self._drawn = 0.0

    @classmethod
    def for_files(cls, paths: list[str], stream: TextIO | None = None) -> ProgressBar | None:
        """A bar over the files' total size, or None when not writing to a terminal."""
        out = stream or sys.stderr
        if not out.isatty():
            return None
        return cls(sum(Path(p).stat().st_size for p in paths), label="replay", stream=out)

    def update(self, done: int) -> None:
        now = time.monotonic()
        if now - self._drawn < 0.1 and done < self.total:
            return
        self._drawn = now
        share = min(done / self.total, 1.0)
        filled = int(share * 30)
        self.stream.write(
            f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {share:4.0%}"
            f"  {self._amount(done)} of {self._amount(self.total)} {self.unit}"
            f"  {now - self._started:.0f} s"
        )
        self.stream.flush()

    def _amount(self, count: int) -> str:
        return f"{count / 1e6:.1f}" if self.unit == "MB" else str(count)

    def close(self) -> None:
        self.update(self.total)
        self.stream.write("\n")
        self.stream.flush()
