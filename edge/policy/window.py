"""The daily push moment of a gateway inside the push window.

Strategy: the moment is a pure function of the gateway id and the local date — SHA-256 of the id
gives a stable offset into the window — so it survives restarts without being stored, and a
million gateways spread evenly over the window instead of publishing at the same second.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time

from edge.policy.config import PolicyConfig, PushWindow
from edge.policy.periods import local_date, require_aware, wall_instant
from edge.policy.state import PolicyState


def push_offset(gateway_id: str, window: PushWindow) -> int:
    """Seconds after the window start at which `gateway_id` pushes; always inside the window."""
    digest = hashlib.sha256(gateway_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % window.seconds


def _wall(minute_of_day: int, extra_seconds: int = 0) -> time:
    total = minute_of_day * 60 + extra_seconds
    return time(total // 3600, total // 60 % 60, total % 60)


def push_moment(config: PolicyConfig, day: date) -> datetime:
    """The UTC instant of the push on local `day`.

    The offset is applied to the wall clock, so the moment is the same local time every day; on
    spring-forward a moment in the skipped hour lands just after it (see `wall_instant`).
    """
    offset = push_offset(config.gateway_id, config.push_window)
    return wall_instant(day, _wall(config.push_window.start_minute, offset), config.zone)


def window_end(config: PolicyConfig, day: date) -> datetime:
    """The UTC instant at which the push window of local `day` closes."""
    end = config.push_window.end_minute
    if end == 24 * 60:
        return wall_instant(date.fromordinal(day.toordinal() + 1), time(0), config.zone)
    return wall_instant(day, _wall(end), config.zone)


def push_instant(config: PolicyConfig, now: datetime, previous: datetime | None) -> datetime | None:
    """The instant to ask `push` about today's push, or None while it cannot be due.

    `previous` is when the caller last looked. If today's push moment fell between the two
    looks, the answer is that moment: the gateway was running then (in meter time, replays and
    demos jump minutes between looks). Otherwise `now`, if it lies in the window after the
    moment. A moment missed while the gateway was down stays missed (see `push_due`).
    """
    now = require_aware(now, "now")
    today = local_date(now, config.zone)
    moment = push_moment(config, today)
    if now < moment:
        return None
    if previous is not None and previous < moment:
        return moment
    return now if now < window_end(config, today) else None


def push_due(state: PolicyState, now: datetime, config: PolicyConfig) -> bool:
    """True if the gateway should push now: today's moment has come, the window is still open
    and no push happened today. A missed window is not made up late; the next day's push
    covers the missed days (backfill), which keeps the load spread over the window.
    """
    now = require_aware(now, "now")
    today = local_date(now, config.zone)
    if state.last_push_day is not None and state.last_push_day >= today:
        return False
    return push_moment(config, today) <= now < window_end(config, today)
