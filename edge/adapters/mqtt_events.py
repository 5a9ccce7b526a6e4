"""The MQTT link's vocabulary: received commands, events for the link thread, a session.

paho's network thread only turns callbacks into these events on a queue; the link thread (which
owns the outbox's database connection) handles them. `session` numbers tell a callback of an
old connection from the current one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from paho.mqtt.client import Client

from edge.adapters.mqtt_topics import CommandKind
from edge.store.outbox import OutboxEntry


@dataclass(frozen=True, slots=True)
class Command:
    """A grid operator request as received: the signed COSE bytes, not yet checked."""

    kind: CommandKind
    topic: str
    payload: bytes


# events for the link thread; `session` tells callbacks of an old connection from the current
@dataclass(frozen=True, slots=True)
class Connack:
    session: int
    code: Any


@dataclass(frozen=True, slots=True)
class Gone:
    session: int
    reason: str


@dataclass(frozen=True, slots=True)
class Ack:
    session: int
    mid: int
    code: Any


@dataclass(frozen=True, slots=True)
class Suback:
    session: int
    codes: list[Any]


@dataclass(frozen=True, slots=True)
class Publish:  # a status or reply message from another thread
    topic: str
    payload: bytes
    retain: bool


class Wake:
    pass


class Stop:
    pass


class Drop:
    pass


Event = Connack | Gone | Ack | Suback | Publish | Wake | Stop | Drop


@dataclass(slots=True)
class Session:
    """What one connection knows; it dies with the connection."""

    number: int
    client: Client
    connected: bool = False
    answered: bool = False  # a CONNACK came (accepted or refused)
    lost: bool = False  # the loss is logged (a failed publish may see it before paho does)
    inflight: dict[int, OutboxEntry] = field(default_factory=dict)
    retry_at: dict[str, float] = field(default_factory=dict)
    status_mid: int | None = None

    def excluded(self, now: float) -> set[str]:
        """Points that may not publish now: one in flight, or waiting to retry."""
        busy = {entry.ap for entry in self.inflight.values()}
        return busy | {ap for ap, at in self.retry_at.items() if at > now}
