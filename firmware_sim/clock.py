"""Time for the simulator: parsing, legal local time and meter timestamps, vectorised.

Strategy: simulated time is integer UTC epoch seconds. The legal offset comes from the zone
database once per quarter-hour (European transitions fall on whole hours, so every second of a
quarter shares its offset); all per-second work is numpy integer arithmetic on those offsets.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

I64 = NDArray[np.int64]
QUARTER = 900
DAY = 86_400
LONG_FAILURE = 180  # DSMR: power failures of 3 minutes or more go into the log

_DURATION = re.compile(r"(\d+)([dhms])")
_UNIT = {"d": DAY, "h": 3600, "m": 60, "s": 1}


@lru_cache(maxsize=16)
def zone(name: str) -> ZoneInfo:
    """The cached zone database entry for `name`."""
    return ZoneInfo(name)


def parse_duration(text: str) -> int:
    """`2d`, `36h`, `90m`, `45s` or combinations such as `1d12h` to seconds."""
    text = text.strip().lower()
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"bad duration {text!r}: use e.g. 2d, 36h, 90m, 45s")
    return sum(int(n) * _UNIT[u] for n, u in parts)


def end_after(start: int, duration: str, tz: str) -> int:
    """`start` plus a duration; days are local calendar days (a DST day has 23 or 25 hours)."""
    seconds = parse_duration(duration)
    days = sum(int(n) for n, u in _DURATION.findall(duration.strip().lower()) if u == "d")
    rest = seconds - days * DAY
    local = datetime.fromtimestamp(start, zone(tz))
    moved = (local.replace(tzinfo=None) + timedelta(days=days)).replace(tzinfo=zone(tz))
    return int(moved.timestamp()) + rest


def parse_start(text: str, tz: str) -> int:
    """ISO-8601 start to epoch seconds; a naive time is legal local time in `tz`."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone(tz))
    return int(dt.timestamp())


def offset_at(t: int, tz: str) -> int:
    """UTC offset in seconds of legal time in `tz` at epoch second `t`."""
    off = datetime.fromtimestamp(t, zone(tz)).utcoffset()
    return int(off.total_seconds()) if off is not None else 0


def offsets(t0: int, n: int, tz: str) -> I64:
    """Per-second UTC offsets for seconds t0 .. t0+n-1."""
    q0 = t0 - t0 % QUARTER
    nq = (t0 + n - q0 + QUARTER - 1) // QUARTER
    per_q = np.array([offset_at(q0 + i * QUARTER, tz) for i in range(nq)], dtype=np.int64)
    idx = (np.arange(t0, t0 + n, dtype=np.int64) - q0) // QUARTER
    out: I64 = per_q[idx]
    return out


def local_date_fields(local: I64) -> tuple[I64, I64, I64, I64]:
    """(year, month, day, weekday Mon=0) of local epoch-like seconds."""
    days = local // DAY
    d64 = days.astype("datetime64[D]")
    months = d64.astype("datetime64[M]")
    year = months.astype(np.int64) // 12 + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (d64 - months.astype("datetime64[D]")).astype(np.int64) + 1
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
    return year, month, day, weekday


def stamp_digits(local: I64) -> I64:
    """YYMMDDhhmmss as one integer per second, for `%012d` rendering."""
    year, month, day, _ = local_date_fields(local)
    sod = local % DAY
    hms = (sod // 3600) * 10_000 + (sod // 60 % 60) * 100 + sod % 60
    out: I64 = ((year % 100) * 10_000 + month * 100 + day) * 1_000_000 + hms
    return out


def dst_letter(offset: int) -> str:
    """`S` for summer time (UTC+2), `W` for winter time, as DSMR meters write them."""
    return "S" if offset >= 7200 else "W"


def stamp(t: int, tz: str, letter: bool = True) -> str:
    """One DSMR timestamp `YYMMDDhhmmssX` of epoch second `t` (used off the hot path)."""
    off = offset_at(t, tz)
    text = (datetime.fromtimestamp(t, UTC) + timedelta(seconds=off)).strftime("%y%m%d%H%M%S")
    return text + dst_letter(off) if letter else text


def iso_utc(t: int) -> str:
    """ISO-8601 UTC with `Z`, as the truth file writes boundaries."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_time_on_or_after(t0: int, hhmm: str, tz: str) -> int:
    """First epoch second at or after `t0` whose legal local time is `HH:MM` (or an ISO time)."""
    if "T" in hhmm or "-" in hhmm:
        return parse_start(hhmm, tz)
    hour, minute = (int(x) for x in hhmm.split(":"))
    local = datetime.fromtimestamp(t0, zone(tz))
    for days in range(3):
        cand = (local + timedelta(days=days)).replace(hour=hour, minute=minute, second=0)
        ts = int(cand.timestamp())
        if ts >= t0:
            return ts
    raise ValueError(f"no local time {hhmm} after start")
