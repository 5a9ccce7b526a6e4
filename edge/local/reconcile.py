"""What the broker already holds for this gateway, and what Home Assistant must be told about it.

Strategy: on every connection the link reads the retained discovery configs (the broker is the
truth about what Home Assistant has seen: no list of our own to keep in step) and this module
decides, per topic, from the topic's form alone:

- a per-entity config of the earlier versions (`homeassistant/<platform>/p1edge_<gw>_<EAN>_<key>
  /config`) of a configured point is migrated as Home Assistant documents it: first
  `{"migrate_discovery": true}` on the old topic (Home Assistant unloads the entity but keeps
  its registry entry: id, name, area, history), then the device config with the same
  `unique_id`s, and only then the old topic cleared (an empty retained payload) — cleared at
  once it would delete the entities, and a device config first would duplicate them;
- a config (either form) of a point no longer configured is cleared (Home Assistant removes it);
- a device config of a configured point is remembered: should the next config of that device
  lack one of its components, that component is first announced as removed (only its platform,
  `p`, as Home Assistant's device discovery asks), then the config without it.

The EAN's form (18 digits) keeps another gateway whose id merely starts like ours out of it.
Nothing here does I/O: the link publishes what it returns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

from edge.local.discovery import DISCOVERY_PREFIX, object_id

MIGRATE: Final = b'{"migrate_discovery": true}'
Kind = Literal["legacy", "stale", "current"]


@dataclass(frozen=True, slots=True)
class Found:
    """A retained config of this gateway: what it is."""

    kind: Kind
    topic: str


class Reconciler:
    """Classifies this gateway's retained discovery configs and derives removals."""

    def __init__(self, gateway: str, aps: Iterable[str]) -> None:
        ours = re.escape(object_id(gateway))
        self._legacy = re.compile(
            rf"{DISCOVERY_PREFIX}/(?:sensor|binary_sensor)/{ours}_(\d{{18}})_[A-Za-z0-9_]+/config"
        )
        self._device = re.compile(
            rf"{DISCOVERY_PREFIX}/device/{ours}_(\d{{18}})(?:_(?:gas|water|heat))?/config"
        )
        self._keep = frozenset(aps)

    def classify(self, topic: str) -> Found | None:
        """What a retained config topic is to us; None if it is not this gateway's."""
        forms: tuple[tuple[re.Pattern[str], Kind], ...] = (
            (self._legacy, "legacy"),
            (self._device, "current"),
        )
        for pattern, kind in forms:
            found = pattern.fullmatch(topic)
            if found is not None:
                return Found(kind if found[1] in self._keep else "stale", topic)
        return None


def removal(previous: bytes, new: bytes) -> bytes | None:
    """The device config announcing the components of `previous` that `new` lacks as removed
    (`{"p": platform}` each), or None if none is lacking (or `previous` is unreadable)."""
    try:
        old, current = json.loads(previous), json.loads(new)
        old_components, components = old["cmps"], current["cmps"]
        gone = {
            cid: {"p": str(config["p"])}
            for cid, config in old_components.items()
            if cid not in components and isinstance(config, dict) and "p" in config
        }
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # not ours to fix: the new config replaces it whole
    if not gone:
        return None
    current["cmps"] = {**components, **gone}
    return json.dumps(current, sort_keys=True, ensure_ascii=False).encode()
