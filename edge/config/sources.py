"""Where a meter's telegrams come from: a serial port, a capture file or another meter's M-Bus.

Strategy: the text of `source` is turned into one of three frozen values here, so the agent
dispatches on a type instead of re-parsing strings; pyserial itself is not imported (opening the
port is the adapter's job), only its URL forms are checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from edge.config.table import fail, resolve


@dataclass(frozen=True, slots=True)
class SerialSource:
    """A pyserial URL or device path, e.g. `/dev/p1-main` or `socket://10.0.0.5:2000`."""

    url: str


@dataclass(frozen=True, slots=True)
class FileSource:
    """A capture file, read as fast as possible (`file:PATH`); the path is absolute."""

    path: Path


@dataclass(frozen=True, slots=True)
class MBusSource:
    """An M-Bus electricity meter (channel 1–4) in another point's telegrams (`mbus:EAN:N`)."""

    ean: str
    channel: int


Source = SerialSource | FileSource | MBusSource


# pyserial's URL handlers (serial_for_url); host:port is required for the network ones.
_NETWORK_SCHEMES = ("socket", "rfc2217")
_OTHER_SCHEMES = ("loop", "spy", "hwgrep", "alt", "cp2110")
_HOST_PORT = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[^:/?#\s]+):(?P<port>\d{1,5})(?:[/?].*)?$")


def parse_source(text: str, key: str, base_dir: Path) -> Source:
    """`file:PATH`, `mbus:EAN:CHANNEL`, a pyserial URL or an absolute device path."""
    if text.startswith("file:"):
        path = text[len("file:") :]
        if not path:
            fail(key, "file: needs a path, e.g. file:captures/main.txt")
        return FileSource(resolve(path, base_dir))
    if text.startswith("mbus:"):
        return _mbus(text, key)
    if "://" in text:
        return _serial_url(text, key)
    if Path(text).is_absolute() or re.fullmatch(r"COM\d+", text):
        return SerialSource(text)
    fail(
        key,
        f"{text!r} is not a source; use a device path (/dev/ttyUSB0), a pyserial URL "
        "(socket://host:port, rfc2217://host:port, loop://), file:PATH or mbus:EAN:CHANNEL",
    )


def _mbus(text: str, key: str) -> MBusSource:
    parts = text.split(":")
    if len(parts) != 3 or not parts[2].isdigit():
        fail(key, f"{text!r}: expected mbus:<EAN of the point whose meter sends it>:<channel 1-4>")
    channel = int(parts[2])
    if not 1 <= channel <= 4:
        fail(key, f"{text!r}: M-Bus channel {channel} does not exist; use 1-4")
    return MBusSource(parts[1], channel)


def _serial_url(text: str, key: str) -> SerialSource:
    scheme, _, rest = text.partition("://")
    if scheme in _NETWORK_SCHEMES:
        match = _HOST_PORT.match(rest)
        if match is None or not 1 <= int(match["port"]) <= 65535:
            fail(key, f"{text!r}: expected {scheme}://host:port with a port 1-65535")
        return SerialSource(text)
    if scheme in _OTHER_SCHEMES:
        return SerialSource(text)
    schemes = ", ".join(f"{s}://" for s in (*_NETWORK_SCHEMES, *_OTHER_SCHEMES))
    fail(key, f"{text!r}: unknown URL scheme {scheme!r}; pyserial knows {schemes}")
