"""A cheaper MQTT 5 properties object for each PUBLISH that paho decodes (the collector's hot path).

Strategy: paho builds a `Properties` object for every MQTT 5 PUBLISH it receives, and its
constructor builds three lookup tables (40-odd entries) each time, then `unpack` clears every
property by name before reading any: about 40 % of paho's network thread per received day
block, measured under the collector. `PublishProperties` is paho's class with those tables
built once (shared by every instance; paho only reads them) and a fast path for the common
packet that carries no properties (its property length is the single byte 0). Everything else
— reading properties, the checks on setting them, `json()`, `str()` — is paho's own code.
`install()` points paho's PUBLISH decoder (`paho.mqtt._packet`) at it, only when that module
is the one it was written against; otherwise it leaves paho alone (slower, still correct).
"""

from __future__ import annotations

from typing import Any

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

_TABLES = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]


class PublishProperties(Properties):  # type: ignore[misc]
    """paho's `Properties` with its tables built once per class, not per packet."""

    names = _TABLES.names
    types = _TABLES.types
    properties = _TABLES.properties

    def __init__(self, packetType: int) -> None:  # paho names it so
        object.__setattr__(self, "packetType", packetType)

    def clear(self) -> None:
        for name in [n for n in vars(self) if n != "packetType"]:
            delattr(self, name)

    def unpack(self, buffer: Any) -> tuple[PublishProperties, int]:
        if buffer[:1] == b"\x00":  # property length 0: nothing to read
            self.clear()
            return self, 1
        result: tuple[PublishProperties, int] = super().unpack(buffer)  # type: ignore[no-untyped-call]
        return result


def install() -> bool:
    """Make paho's PUBLISH decoder use `PublishProperties`; False when paho is not the
    version this was made for (then nothing is changed)."""
    try:
        from paho.mqtt import _packet
    except ImportError:
        return False
    current = getattr(_packet, "Properties", None)  # paho imports it there for its decoders
    if current is PublishProperties:
        return True
    if current is not Properties or not hasattr(_packet, "decode_publish"):
        return False
    _packet.Properties = PublishProperties  # type: ignore[attr-defined]
    return True
