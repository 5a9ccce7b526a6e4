"""What the gateway's MQTT link knows about itself, and the retained status message it sends.

Strategy: the link thread keeps one frozen `LinkStatus` and replaces it after every batch of
events, so other threads read a consistent snapshot without locks. The status JSON is a pure
function of that snapshot and the agent's own fields (points, last telegram), so the message on
`{prefix}/{gw}/status` can be tested without a broker.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edge.status import grid_point


@dataclass(frozen=True, slots=True)
class PublishFailure:
    """An outbox entry whose last publish the broker refused (it stays queued)."""

    id: int
    ap: str
    topic: str
    error: str
    attempts: int

    def to_json(self) -> dict[str, Any]:
        """The failure as a status alarm."""
        return {
            "alarm": "publish-refused",
            "ap": self.ap,
            "topic": self.topic,
            "error": self.error,
            "attempts": self.attempts,
        }


@dataclass(frozen=True, slots=True)
class LinkStatus:
    """A snapshot of the link: connection, outbox depth and alarms.

    `stuck` is True when entries wait but every waiting point's next entry was refused: nothing
    more will leave until the broker's mind (or ACL) changes. `generation` counts `wake()` calls
    the snapshot has seen, so a waiter knows the snapshot includes its own entries.
    """

    capacity: int
    connected: bool = False
    depth: int = 0
    full: bool = False
    stuck: bool = False
    failures: tuple[PublishFailure, ...] = ()
    connect_error: str | None = None
    subscribe_error: str | None = None
    link_error: str | None = None  # the link's own failure (its database), being retried
    delivered: int = 0
    generation: int = 0

    @property
    def settled(self) -> bool:
        """Nothing more to do for now: the outbox is empty, or everything left was refused."""
        return self.depth == 0 or self.stuck

    def alarms(self) -> list[dict[str, Any]]:
        """The link's alarms for the status message."""
        alarms: list[dict[str, Any]] = []
        if self.full:
            alarms.append({"alarm": "outbox-full", "depth": self.depth, "capacity": self.capacity})
        alarms += [failure.to_json() for failure in self.failures]
        if self.subscribe_error:
            alarms.append({"alarm": "subscribe-refused", "error": self.subscribe_error})
        if self.link_error:
            alarms.append({"alarm": "grid-link-failed", "error": self.link_error})
        return alarms


def status_json(
    status: LinkStatus, *, gateway: str, version: str, fields: Mapping[str, Any], online: bool
) -> bytes:
    """The retained status message: the agent's `fields` plus online, version, outbox, alarms.

    Alarms the agent passes in `fields["alarms"]` come first, the link's own after them. Of an
    opted-out point only its opt-out leaves (SPEC §5; `edge.status.grid_point`).
    """
    body: dict[str, Any] = dict(fields)
    if isinstance(body.get("points"), Mapping):
        body["points"] = {ean: grid_point(p) for ean, p in body["points"].items()}
    body.update(
        online=online,
        gateway=gateway,
        version=version,
        outbox={"depth": status.depth, "capacity": status.capacity, "full": status.full},
        alarms=[*fields.get("alarms", ()), *status.alarms()],
    )
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def offline_json(*, gateway: str, version: str, reason: str) -> bytes:
    """The status while the gateway is away: the last will, or the goodbye on a clean stop."""
    body = {"online": False, "gateway": gateway, "version": version, "reason": reason}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def reason_text(code: Any) -> str:
    """A paho reason code as text with its number, e.g. ``Not authorized (0x87)``."""
    value = getattr(code, "value", code)
    name = code.getName() if hasattr(code, "getName") else str(code)
    return f"{name} (0x{value:02x})" if isinstance(value, int) else str(name)
