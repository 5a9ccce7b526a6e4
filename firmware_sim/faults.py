"""Fault specifications and the line faults they put on the byte stream.

Strategy: `--faults` is parsed once into per-telegram probabilities and timed events. Line faults
are drawn from their own seeded generator and act only on bytes after rendering, so the meter's
registers and the truth file never see them; timed meter events (power failure, replacement)
go into the meter model instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from firmware_sim.clock import local_time_on_or_after, parse_duration

LINE_FAULTS = ("drop", "crc", "truncate", "glue", "pad_ff", "noise")
TIMED = ("silence", "unplug", "power_failure", "replace")
_NOISE = bytes(b for b in range(256) if b not in b"/!")  # never fakes a telegram start or end


@dataclass(frozen=True, slots=True)
class Timed:
    """A timed event: kind, start (UTC epoch seconds) and length in seconds."""

    kind: str
    start: int
    seconds: int

    def covers(self, t: int) -> bool:
        return self.start <= t < self.start + self.seconds


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """Per-telegram probabilities of each line fault plus the timed events."""

    probability: tuple[tuple[str, float], ...] = ()
    timed: tuple[Timed, ...] = ()

    def of_kind(self, kind: str) -> tuple[Timed, ...]:
        return tuple(e for e in self.timed if e.kind == kind)


def parse_faults(text: str, start: int, tz: str) -> FaultPlan:
    """`crc:0.01,drop:0.05,silence:5m@12:00,power_failure:10m@13:00,replace@14:00`."""
    probs: list[tuple[str, float]] = []
    timed: list[Timed] = []
    for item in filter(None, (x.strip() for x in text.split(","))):
        kind, _, rest = item.partition(":")
        if "@" in kind:  # `replace@14:00`: no duration
            kind, _, when = kind.partition("@")
            rest = f"0s@{when}" + (":" + rest if rest else "")
        if kind in LINE_FAULTS:
            p = float(rest)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"fault {kind}: probability {p} not in [0, 1]")
            probs.append((kind, p))
        elif kind in TIMED:
            duration, at, when = rest.partition("@")
            if not at:
                raise ValueError(f"fault {kind} needs DURATION@HH:MM, got {item!r}")
            begin = local_time_on_or_after(start, when, tz)
            timed.append(Timed(kind, begin, parse_duration(duration)))
        else:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(LINE_FAULTS + TIMED)}")
    return FaultPlan(tuple(probs), tuple(timed))


class LineFaults:
    """Applies the probabilistic faults to telegrams, deterministically for a seed."""

    def __init__(self, plan: FaultPlan, seed: int, framed: bool = True) -> None:
        self._p = [(k, p) for k, p in plan.probability if p > 0]
        self._rng = np.random.default_rng([seed & 0xFFFFFFFF, 0xFA17])
        self._framed = framed  # False for DLMS frames: no CRLF to glue or digits to corrupt

    @property
    def active(self) -> bool:
        return bool(self._p)

    def apply(self, data: bytes) -> tuple[bytes | None, tuple[str, ...]]:
        """The bytes to send for one telegram (None when dropped) and the faults applied."""
        rng = self._rng
        hit = tuple(k for k, p in self._p if rng.random() < p)
        if "drop" in hit:
            return None, ("drop",)
        if "crc" in hit:
            data = self._corrupt(data)
        if "truncate" in hit:
            data = data[: int(rng.integers(1, max(2, len(data) - 8)))]
        elif "glue" in hit and self._framed and data.endswith(b"\r\n"):
            data = data[:-2]
        if "pad_ff" in hit:
            data += b"\xff" * int(rng.integers(1, 64))
        if "noise" in hit:
            picks = rng.integers(0, len(_NOISE), int(rng.integers(1, 32)))
            data += bytes(_NOISE[i] for i in picks.tolist())
        return data, hit

    def _corrupt(self, data: bytes) -> bytes:
        """Change one digit between '/' and '!' (or one ciphertext byte of a DLMS frame)."""
        buf = bytearray(data)
        if not self._framed:
            pos = 20 + int(self._rng.integers(0, len(buf) - 32))
            buf[pos] ^= 1 + int(self._rng.integers(0, 255))
            return bytes(buf)
        end = data.rfind(b"!")
        digits = [i for i in range(1, end) if 48 <= buf[i] <= 57]
        pos = digits[int(self._rng.integers(0, len(digits)))]
        buf[pos] = 48 + (buf[pos] - 48 + 1 + int(self._rng.integers(0, 9))) % 10
        return bytes(buf)
