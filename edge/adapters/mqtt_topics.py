"""The topic layout of SPEC §7, in one place for the gateway, the grid tools and the tests.

Strategy: pure string functions; every name that becomes a topic level is checked so that a
gateway id or EAN can never smuggle a `/`, `+` or `#` into a topic (which would publish or
subscribe somewhere else than intended).
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Literal, get_args

DEFAULT_PREFIX = "p1edge/v1"
CommandKind = Literal["readout", "consent", "resend"]
COMMAND_KINDS: tuple[CommandKind, ...] = get_args(CommandKind)
REPLY_SUFFIX = "reply"


def level(value: str, what: str) -> str:
    """`value` as one topic level; raises ValueError naming `what` if it cannot be one."""
    if not value or any(c in value for c in "/+#\0"):
        raise ValueError(f"{what} {value!r} cannot be an MQTT topic level (empty, '/', '+', '#')")
    return value


def check_prefix(prefix: str) -> str:
    """A prefix of one or more plain levels, e.g. ``p1edge/v1``."""
    for part in prefix.split("/"):
        level(part, "topic prefix level")
    return prefix


def status_topic(prefix: str, gw: str) -> str:
    """``{prefix}/{gw}/status``: retained JSON status, and the last will."""
    return f"{check_prefix(prefix)}/{level(gw, 'gateway id')}/status"


def command_topic(prefix: str, gw: str, kind: CommandKind) -> str:
    """``{prefix}/{gw}/cmd/{kind}``: where the grid operator sends signed requests."""
    if kind not in COMMAND_KINDS:
        raise ValueError(f"command kind {kind!r} is not one of {COMMAND_KINDS}")
    return f"{check_prefix(prefix)}/{level(gw, 'gateway id')}/cmd/{kind}"


def reply_topic(prefix: str, gw: str, kind: CommandKind) -> str:
    """``{prefix}/{gw}/cmd/{kind}/reply``: the gateway's JSON answer with the request id."""
    return f"{command_topic(prefix, gw, kind)}/{REPLY_SUFFIX}"


def day_topic(prefix: str, gw: str, ap: str, day: date | str) -> str:
    """``{prefix}/{gw}/ap/{ean}/day/{yyyy-mm-dd}``: one signed day block (QoS 1, not retained)."""
    text = day.isoformat() if isinstance(day, date) else day
    return f"{check_prefix(prefix)}/{level(gw, 'gateway id')}/ap/{level(ap, 'EAN')}/day/{text}"


def month_topic(prefix: str, gw: str, ap: str, month: str) -> str:
    """``{prefix}/{gw}/ap/{ean}/month/{yyyy-mm}``: one signed monthly block (regime monthly)."""
    return f"{check_prefix(prefix)}/{level(gw, 'gateway id')}/ap/{level(ap, 'EAN')}/month/{month}"


def day_filter(prefix: str, gw: str = "+") -> str:
    """Subscription filter for the day blocks of one gateway (default: every gateway)."""
    return f"{check_prefix(prefix)}/{gw}/ap/+/day/+"


def month_filter(prefix: str, gw: str = "+") -> str:
    """Subscription filter for the monthly blocks of one gateway (default: every gateway)."""
    return f"{check_prefix(prefix)}/{gw}/ap/+/month/+"


@lru_cache(maxsize=16)
def _checked_head(prefix: str) -> str:
    # a collector parses thousands of topics a second under one prefix: check it once
    return check_prefix(prefix) + "/"


def parse_day_topic(prefix: str, topic: str) -> tuple[str, str, str] | None:
    """(gateway, EAN, period text) of a day- or month-block topic under `prefix`, else None."""
    head = _checked_head(prefix)
    if not topic.startswith(head):
        return None
    parts = topic[len(head) :].split("/")
    if len(parts) != 5 or parts[1] != "ap" or parts[3] not in ("day", "month") or not all(parts):
        return None
    return parts[0], parts[2], parts[4]


def parse_command_topic(prefix: str, gw: str, topic: str) -> CommandKind | None:
    """The command kind if `topic` is one of the gateway's command topics, else None."""
    for kind in COMMAND_KINDS:
        if topic == command_topic(prefix, gw, kind):
            return kind
    return None
