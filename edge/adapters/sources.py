"""P1 sources for the edge agent: serial ports and capture files, delivering decoded batches.

Consumer interface
------------------
The agent makes ONE `queue.Queue[SourceBatch]` (bounded, e.g. `maxsize=64`: the bound is the
back-pressure for `file:` sources) and one source per allocation point with `make_source`, then
`start()`s them. Each source's thread puts a `SourceBatch(source, events, received_monotonic,
eof)` per read chunk, never one per telegram: `events` are the `Telegram`s and `Rejected` frames
of that chunk, in line order, and `source` is the name the agent gave (e.g. the EAN). Batches of
one source arrive in order; batches of different sources interleave. A `file:` source's last
batch has `eof=True` and then `source.eof` is True (`run --until-eof`: stop when every file
source is at eof and the queue is drained). Serial sources never end: they reconnect with
backoff on their own while the others go on. `status()` gives a frozen `SourceStatus` for
`edge-agent status`; `stop()` ends the thread within a bounded time (returns False if not).

    sink: queue.Queue[SourceBatch] = queue.Queue(maxsize=64)
    src = make_source("871687120000000001", "/dev/p1-main", sink, dialect="dsmr5")
    src.start()
    batch = sink.get()          # for event in batch.events: ...
    src.stop()

Logging: logger "edge.source", one line per state change (connecting, connected, backoff,
stopped), never per telegram.
"""

from __future__ import annotations

import queue
from datetime import tzinfo

from edge.adapters.file_source import FILE_PREFIX, FileSource
from edge.adapters.serial_source import SerialSource
from edge.adapters.source_base import SourceBatch, SourceState, SourceStatus, SourceWorker
from edge.adapters.source_clock import SYSTEM_CLOCK, Clock, SystemClock
from edge.adapters.source_lines import PRESETS, DialectPreset, LineSettings, preset_for
from edge.errors import ConfigError
from edge.p1.values import DEFAULT_TZ

Source = SerialSource | FileSource

__all__ = [
    "PRESETS",
    "SYSTEM_CLOCK",
    "Clock",
    "DialectPreset",
    "FileSource",
    "LineSettings",
    "SerialSource",
    "Source",
    "SourceBatch",
    "SourceState",
    "SourceStatus",
    "SourceWorker",
    "SystemClock",
    "make_source",
    "preset_for",
]


def make_source(
    name: str,
    url: str,
    sink: queue.Queue[SourceBatch],
    *,
    dialect: str = "auto",
    key: bytes | None = None,
    auth_key: bytes | None = None,
    local_tz: tzinfo = DEFAULT_TZ,
    clock: Clock = SYSTEM_CLOCK,
    interval_s: float | None = None,
) -> Source:
    """A `FileSource` for `file:PATH`, a `SerialSource` for any pyserial URL (not started).

    `interval_s` overrides the dialect's telegram interval (silence = 3 intervals; serial only).
    Raises ConfigError for an unknown dialect, a URL pyserial does not know, or an `mbus:`
    source (a slave meter is read from its master's telegrams, not from a line).
    """
    if url.startswith("mbus:"):
        raise ConfigError(f"source = {url!r} is an M-Bus channel of another point, not a line")
    if url.startswith(FILE_PREFIX):
        return FileSource(
            name, url, sink, dialect=dialect, key=key, auth_key=auth_key, local_tz=local_tz,
            clock=clock,
        )  # fmt: skip
    return SerialSource(
        name, url, sink, dialect=dialect, key=key, auth_key=auth_key, local_tz=local_tz,
        clock=clock, interval_s=interval_s,
    )  # fmt: skip
