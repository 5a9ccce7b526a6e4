"""`file:PATH` sources: a capture read as fast as possible through the same decoder and batches.

Strategy: big reads (1 MiB) keep the per-chunk overhead negligible next to decoding, and one
batch per chunk keeps the consumer's wake-ups to a few dozen for a whole day of telegrams. The
queue's bound is the back-pressure: the reader waits for the agent instead of holding the capture
in memory. The last batch carries `eof=True` and `eof_event` is set, for `run --until-eof`.
"""

from __future__ import annotations

import queue
from datetime import tzinfo
from typing import BinaryIO, Final

from edge.adapters.source_base import LOG, SourceBatch, SourceWorker
from edge.adapters.source_clock import SYSTEM_CLOCK, Clock
from edge.adapters.source_lines import preset_for
from edge.errors import ConfigError
from edge.p1 import P1Decoder
from edge.p1.values import DEFAULT_TZ

FILE_PREFIX: Final = "file:"
CHUNK: Final = 4 << 20


class FileSource(SourceWorker):
    """Reads a `file:PATH` capture once, as fast as the consumer takes the batches."""

    restartable = False  # read once: a failure part-way cannot be resumed

    def __init__(
        self,
        name: str,
        url: str,
        sink: queue.Queue[SourceBatch],
        *,
        dialect: str = "auto",
        key: bytes | None = None,
        auth_key: bytes | None = None,
        local_tz: tzinfo = DEFAULT_TZ,
        clock: Clock = SYSTEM_CLOCK,
        chunk_size: int = CHUNK,
    ) -> None:
        if not url.startswith(FILE_PREFIX) or len(url) == len(FILE_PREFIX):
            raise ConfigError(f"source = {url!r}: a capture is written file:PATH")
        preset = preset_for(dialect)
        decoder = P1Decoder(
            key=key,
            auth_key=auth_key,
            local_tz=local_tz,
            require_crc=preset.require_crc,
            dialect=dialect,
        )
        super().__init__(name, url, sink, decoder, clock)
        self.path = url[len(FILE_PREFIX) :]
        self._chunk = chunk_size
        self.bytes_read = 0  # for progress bars; written by the reader thread only
        self._file: BinaryIO | None = None
        self._set_line("file")

    def start(self) -> None:
        """Open the capture (a missing file is a ConfigError here) and start reading it."""
        try:
            self._file = open(self.path, "rb")  # noqa: SIM115 - closed by the reader thread
        except OSError as exc:
            raise ConfigError(f"source = {self.url!r}: cannot read the capture: {exc}") from exc
        super().start()

    def _run(self) -> None:
        assert self._file is not None
        self._set_state("connected", self.path)
        try:
            with self._file as fh:
                ended = self._read_all(fh)
        except OSError as exc:  # e.g. the disk went away: nothing more will come
            self._record_error(f"{type(exc).__name__}: {exc}")
            LOG.warning("%s: reading %s failed: %s", self.name, self.path, exc)
            ended = True
        if ended:
            self._ingest(b"", flush=True, eof=True)
            self.eof_event.set()  # after the last batch is queued: drain, then stop
            self._set_state("stopped", "end of file")

    def _read_all(self, fh: BinaryIO) -> bool:
        """Read and deliver every chunk; False when stopped before the end."""
        while not self._stop.is_set():
            data = fh.read(self._chunk)
            if not data:
                return True
            self.bytes_read += len(data)
            self._ingest(data)
        return False
