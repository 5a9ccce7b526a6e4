"""`file:` sources: a capture rendered by the simulator's CLI, read whole, in batches, to eof."""

from __future__ import annotations

import math
import queue
import subprocess
from pathlib import Path

import pytest

from edge.adapters.sources import FileSource, SourceBatch, make_source
from edge.errors import ConfigError
from edge.p1 import P1Decoder, Telegram
from tests.adapters.conftest import SIM, START, collect, telegrams


def _capture(tmp_path: Path, *args: str) -> Path:
    out = tmp_path / "capture.p1"
    subprocess.run([*SIM, "--start", START, *args, "--port", f"file:{out}"], check=True)
    return out


def _until_eof(batches: list[SourceBatch]) -> bool:
    return bool(batches) and batches[-1].eof


def test_every_telegram_of_a_capture_arrives_in_few_batches_then_eof(tmp_path: Path) -> None:
    cap = _capture(tmp_path, "--dialect", "dsmr5", "--duration", "2h")
    sink: queue.Queue[SourceBatch] = queue.Queue(maxsize=4)
    src = make_source("main", f"file:{cap}", sink, dialect="dsmr5")
    assert isinstance(src, FileSource)
    src.start()
    batches = collect(sink, _until_eof)
    got = telegrams(batches)
    assert len(got) == 7200
    stamps = [t.timestamp for t in got if t.timestamp is not None]
    assert len(stamps) == 7200 and stamps == sorted(set(stamps))
    # One batch per 1 MiB chunk plus the eof batch, never one per telegram.
    assert len(batches) <= math.ceil(cap.stat().st_size / (1 << 20)) + 1
    assert all(b.source == "main" for b in batches)
    assert src.eof and src.eof_event.is_set()
    assert src.stop() is True
    status = src.status()
    assert (status.state, status.telegrams, status.eof, status.line) == (
        "stopped",
        7200,
        True,
        "file",
    )
    assert status.last_meter_time == got[-1].timestamp


def test_counters_equal_a_direct_decode_of_the_same_bytes(tmp_path: Path) -> None:
    faults = "crc:0.05,noise:0.05,pad_ff:0.05,truncate:0.02,glue:0.05"
    cap = _capture(tmp_path, "--dialect", "dsmr5", "--duration", "30m", "--faults", faults)
    sink: queue.Queue[SourceBatch] = queue.Queue()
    src = FileSource("main", f"file:{cap}", sink, dialect="dsmr5", chunk_size=4096)
    src.start()
    batches = collect(sink, _until_eof)
    assert src.stop()
    # Fed in the same chunks: the core's skipped-byte count depends on where chunks split.
    data, direct = cap.read_bytes(), P1Decoder(require_crc=True)
    expected = [e for i in range(0, len(data), 4096) for e in direct.feed(data[i : i + 4096])]
    expected += direct.flush()
    assert [e for b in batches for e in b.events] == expected
    status = src.status()
    assert status.crc_errors == direct.stats.crc_bad > 0
    assert status.skipped_bytes == direct.stats.skipped_bytes > 0
    assert status.errors == direct.stats.errors > 0
    assert status.telegrams == sum(isinstance(e, Telegram) for e in expected)


def test_a_missing_capture_is_a_config_error_at_start(tmp_path: Path) -> None:
    src = FileSource("main", f"file:{tmp_path / 'nope.p1'}", queue.Queue())
    with pytest.raises(ConfigError, match=r"nope\.p1"):
        src.start()
    with pytest.raises(ConfigError, match="file:PATH"):
        FileSource("main", "file:", queue.Queue())


def test_stop_joins_while_the_consumer_is_not_reading(tmp_path: Path) -> None:
    cap = _capture(tmp_path, "--dialect", "dsmr5", "--duration", "30m")
    sink: queue.Queue[SourceBatch] = queue.Queue(maxsize=1)
    src = FileSource("main", f"file:{cap}", sink, chunk_size=1024)
    src.start()
    sink.get(timeout=20)  # the reader is running and now blocked on the full queue
    assert src.stop(timeout=5) is True
    assert src.status().state == "stopped" and not src.eof
