"""The release shell: carries out the readout policy's decisions against store, signer and link.

Strategy: the pure policy decides (push, pull, consent); this module performs each `Outcome` in
ONE database transaction — blocks signed and archived, outbox entries queued or deleted, policy
state and consumer log written — and only then wakes the MQTT link and publishes the reply. The
policy state is re-read inside that transaction, so `edge-agent consent` from another process is
never overwritten. Everything runs on the agent's main thread; the link's network thread only
queues incoming commands.

Time: with the gateway clock, "now" is the clock and a day is complete one horizon (1 h) after
midnight, when every boundary of it has settled. With meter time, "now" is the slowest meter's
newest reading: every boundary before it has settled by that meter's own telegrams.
"""

from __future__ import annotations

import json
import logging
import queue
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edge.adapters.mqtt import Command, GridLink
from edge.adapters.mqtt_topics import day_topic, month_topic
from edge.blocks.cose import DAY_CONTENT_TYPE, keyring, sign
from edge.blocks.month import MONTH_CONTENT_TYPE, encode_month_payload, month_span
from edge.blocks.payload import encode_payload
from edge.blocks.request import OpenedRequest, open_request
from edge.blocks.request import Request as SignedRequest
from edge.config.model import Clock
from edge.errors import OutboxFullError
from edge.policy import (
    Outcome,
    PolicyConfig,
    RefusalThrottle,
    Release,
    Reply,
    Request,
    handle_request,
    local_date,
    point_status,
    push,
    push_instant,
    refusal_hour,
    refuse_unverified,
    window_end,
)
from edge.registers import local_day
from edge.registers.engine import HORIZON_S
from edge.release.build import day_readings, month_readings
from edge.release.consent import delete_undelivered
from edge.store.db import transaction
from edge.store.outbox import Outbox, archive_block, archived_range, last_block
from edge.store.policy import append_log, load_state, logged_since, save_state
from edge.store.registers import first_boundary

if TYPE_CHECKING:
    from edge.agent import Agent

LOG: Final = logging.getLogger("edge.release")
SYNC_MARKER: Final = Path("/run/systemd/timesync/synchronized")
STATUS_EVERY_S: Final = 5.0
COMMAND_QUEUE: Final = 256  # requests waiting for the main thread (each at most 4 kB)
MQTT311_ALARM: Final = "mqtt-3.1.1-refusals-undetectable"


class ReleaseService:
    """Push and pull releases, consent and the grid status of one agent."""

    def __init__(
        self,
        agent: Agent,
        *,
        signing_key: Ed25519PrivateKey,
        operator_keys: list[Ed25519PublicKey],
        link: GridLink | None,
    ) -> None:
        self.agent = agent
        self.config = agent.config
        self.conn = agent.conn
        self.tz = ZoneInfo(self.config.gateway.timezone)
        self.meter_clock = self.config.gateway.clock is Clock.METER
        settle = timedelta(0) if self.meter_clock else timedelta(seconds=HORIZON_S + 60)
        self.policy: PolicyConfig = replace(self.config.policy, settle=settle)
        self.signing_key = signing_key
        self.operator_keys = keyring(*operator_keys)
        self.link = link
        self.outbox = Outbox(self.conn)
        self.commands: queue.Queue[Command] = queue.Queue(maxsize=COMMAND_QUEUE)
        self.dropped_commands = 0
        self.alarms: list[str] = []
        self._settled_day: date | None = None
        self._last_look: datetime | None = None
        self._status_due = 0.0
        self._throttle = RefusalThrottle()

    # -- hooks ----------------------------------------------------------------------------------

    def on_command(self, command: Command) -> None:
        """Called on the link's network thread: only queue (bounded: a flood while requests
        cannot be answered yet — meter time before the first reading — must not eat memory)."""
        try:
            self.commands.put_nowait(command)
        except queue.Full:
            self.dropped_commands += 1
            if self.dropped_commands & (self.dropped_commands - 1) == 0:  # 1st, 2nd, 4th …
                LOG.warning(
                    "%d requests dropped: %d wait already (no meter time yet to judge them)",
                    self.dropped_commands,
                    COMMAND_QUEUE,
                )

    def tick(self, _now: int) -> None:
        """Answer queued requests, push when due, refresh the status. Cheap when idle: it may
        run for every batch of telegrams (meter time can pass the push moment quickly)."""
        now = self.policy_now()
        if now is None or not self.agent.clock_trusted:  # no decisions on a wrong clock
            return
        while True:
            try:
                command = self.commands.get_nowait()
            except queue.Empty:
                break
            self.handle_command(command, now)
        instant = self._push_instant(now)
        if instant is not None:
            state = load_state(self.conn)
            outcome = push(state, instant, self.policy, self.first_data())
            if outcome.releases or outcome.state != state:
                self.perform(outcome)
        if time.monotonic() >= self._status_due:
            self.publish_status()
            self._status_due = time.monotonic() + STATUS_EVERY_S

    def _push_instant(self, now: datetime) -> datetime | None:
        """The policy's `push_instant`, looked at once per local day at most (no state reads)."""
        previous, self._last_look = self._last_look, now
        today = local_date(now, self.tz)
        if self._settled_day == today:
            return None
        instant = push_instant(self.policy, now, previous)
        if instant is not None or now >= window_end(self.policy, today):
            self._settled_day = today  # one answer per day: pushed, or the window has passed
        return instant

    def policy_now(self) -> datetime | None:
        """The instant up to which every point's registers are final (see the module text).

        In meter time it is the earliest boundary not yet settled by *any* point's engine (its
        `pending`, restored from the checkpoint after a restart) minus one second: a point that
        has not delivered since a restart still holds the others back. None while some point
        has never had a reading — unless every capture has been read to its end, when the
        final settling has made its days missing by SPEC's rule.
        """
        if not self.meter_clock:
            return datetime.now(UTC)
        pending = [engine.pending for engine in self.agent.ingestor.engines.values()]
        known = [p for p in pending if p is not None]
        if not known:
            return None
        ended = self.agent.stopped or (self.agent.until_eof and self.agent.all_read())
        if len(known) < len(pending) and not ended:
            return None
        return datetime.fromtimestamp(min(known) - 1, UTC)

    def first_data(self) -> dict[str, date]:
        days = {}
        for point in self.config.points:
            first = first_boundary(self.conn, point.ean)
            if first is not None:
                days[point.ean] = local_day(first, self.tz)
        return days

    # -- commands -------------------------------------------------------------------------------

    def handle_command(self, command: Command, now: datetime) -> None:
        """Answer one request: checked in order (size, shape, signature, fields, then times)."""
        opened = open_request(command.payload, self.operator_keys)
        request = opened.request
        if request is None:
            self._refuse_unverified(command, opened, now)
            return
        # The operator signs with real time. In meter time (replays, demos) the request's window
        # is moved by the distance between the two clocks, so it is judged as it was received.
        shift = datetime.now(UTC) - now if self.meter_clock else timedelta(0)
        policy_request = to_policy_request(request, shift)
        try:
            with transaction(self.conn):
                state = load_state(self.conn)
                outcome = handle_request(state, now, self.policy, policy_request, self.first_data())
                outcome = self._perform_in_transaction(outcome, now)
        except OutboxFullError as exc:  # rolled back whole: the operator may ask again
            self._alarm("outbox-full")
            LOG.error("%s request %s postponed: %s", request.type, request.id, exc)
            return
        if outcome.reply is not None:  # who asked what, and the answer (refusals with reason)
            LOG.info("%s", _request_line(outcome.reply))
        self._answer(command, outcome)

    def _refuse_unverified(self, command: Command, opened: OpenedRequest, now: datetime) -> None:
        """A message whose signature failed, or signed but unreadable, or too big: refused."""
        problem = (opened.problem or "unreadable")[:300]
        if opened.signature_valid:  # the operator's key signed it: always logged
            outcome = refuse_unverified(now, command.kind, None, problem, tag="signed-unreadable")
            with transaction(self.conn):
                append_log(self.conn, outcome.log)
            LOG.warning("signed %s request refused: %s", command.kind, problem)
            return
        tag = "bad-signature" if opened.kid is not None else "unreadable"
        outcome = refuse_unverified(now, command.kind, opened.claimed_id, problem, tag=tag)
        key = f"{command.kind} {tag}"
        self._throttle, first, summaries = self._throttle.note(key, now)
        # a restart must not reopen the hour's row: the log itself says whether it has one
        own = first and not logged_since(self.conn, key, refusal_hour(now))
        rows = [*summaries, *(outcome.log if own else ())]
        if rows:
            with transaction(self.conn):
                append_log(self.conn, rows)
        if first:
            LOG.warning("unverified %s request refused (%s): %s", command.kind, tag, problem)
        self._answer(command, outcome)

    def _answer(self, command: Command, outcome: Outcome) -> None:
        if self.link is not None:
            self.link.wake()
            if outcome.reply is not None:
                reply = json.dumps(outcome.reply.to_json()).encode()
                self.link.publish_reply(command.kind, reply)

    # -- performing outcomes --------------------------------------------------------------------

    def perform(self, outcome: Outcome) -> None:
        """Carry out an outcome atomically; a full outbox rolls the whole release back."""
        now = self.policy_now() or datetime.now(UTC)
        try:
            with transaction(self.conn):
                self._perform_in_transaction(outcome, now)
        except OutboxFullError as exc:  # rolled back whole: nothing is marked released
            self._alarm("outbox-full")
            LOG.error("release postponed: %s", exc)
            return
        if "outbox-full" in self.alarms:
            self.alarms.remove("outbox-full")
            LOG.info("alarm cleared: outbox-full")
        if self.link is not None:
            self.link.wake()

    def _perform_in_transaction(self, outcome: Outcome, now: datetime) -> Outcome:
        """Carry out `outcome` in the caller's transaction; returns it with the facts only the
        store knows filled in (how many blocks a resend re-queued, what an opt-out deleted)."""
        for release in outcome.releases:
            self._release(release, now)
        log = list(outcome.log)
        for ap in outcome.delete_outbox:
            deleted = delete_undelivered(self.conn, self.outbox, ap)
            log.append(deleted.entry(now))
            LOG.info("%s opted out: %s", ap, deleted)
        if outcome.resend is not None:
            outcome = self._resend(outcome, now)
            log = list(outcome.log)
        save_state(self.conn, outcome.state)
        append_log(self.conn, log)
        return outcome

    def _resend(self, outcome: Outcome, now: datetime) -> Outcome:
        """Re-queue archived blocks as they are (same bytes: never re-signed, not a release)."""
        resend = outcome.resend
        assert resend is not None and outcome.reply is not None
        blocks = archived_range(self.conn, resend.ap, resend.first, resend.last)
        prefix, gw = self._prefix(), self.config.gateway.id
        for block in blocks:  # a period is "YYYY-MM-DD" (day) or "YYYY-MM" (month)
            topic = (day_topic if len(block.period) == 10 else month_topic)(
                prefix, gw, resend.ap, block.period
            )
            self.outbox.enqueue(resend.ap, topic, block.cose, now=now)
        detail = f"{outcome.log[0].detail}: {len(blocks)} signed blocks re-queued"
        LOG.info("%s %s", resend.ap, detail)
        log = (replace(outcome.log[0], detail=detail),)
        return replace(outcome, log=log, reply=replace(outcome.reply, blocks=len(blocks)))

    def _release(self, release: Release, now: datetime) -> None:
        point = self.config.point(release.ap)
        for period in release.periods:
            previous = last_block(self.conn, release.ap)  # one chain per point, any regime
            seq, prev = (previous.seq + 1, previous.sha256) if previous else (1, None)
            build = self._day_block if period.is_day else self._month_block
            cose, topic = build(release.ap, str(point.role), period.first, seq, prev, now)
            archive_block(self.conn, ap=release.ap, seq=seq, period=str(period), cose=cose, now=now)
            self.outbox.enqueue(release.ap, topic, cose, now=now)
        LOG.info("%s: released %s", release.ap, ", ".join(str(p) for p in release.periods))

    def _day_block(
        self, ap: str, role: str, day: date, seq: int, prev: bytes | None, now: datetime
    ) -> tuple[bytes, str]:
        gateway = self.config.gateway
        readings = day_readings(
            self.conn, gw=gateway.id, ap=ap, role=role, day=day, tz=gateway.timezone,
            points=[(p.ean, str(p.role)) for p in self.config.points],
        )  # fmt: skip
        day_end = readings.start + timedelta(seconds=900 * readings.n)
        payload = encode_payload(
            readings, seq=seq, prev=prev, created=max(now, day_end), time_sync=self._time_sync()
        )
        topic = day_topic(self._prefix(), gateway.id, ap, day)
        return sign(payload, self.signing_key, DAY_CONTENT_TYPE), topic

    def _month_block(
        self, ap: str, role: str, first: date, seq: int, prev: bytes | None, now: datetime
    ) -> tuple[bytes, str]:
        gateway = self.config.gateway
        month = first.strftime("%Y-%m")
        readings = month_readings(
            self.conn, gw=gateway.id, ap=ap, role=role, month=month, tz=gateway.timezone
        )
        end = month_span(month, gateway.timezone)[1]
        payload = encode_month_payload(
            readings, seq=seq, prev=prev, created=max(now, end), time_sync=self._time_sync()
        )
        topic = month_topic(self._prefix(), gateway.id, ap, month)
        return sign(payload, self.signing_key, MONTH_CONTENT_TYPE), topic

    def _prefix(self) -> str:
        return self.config.grid.prefix if self.config.grid else "p1edge/v1"

    def _time_sync(self) -> str:
        if self.meter_clock:
            return "meter"
        return "ntp" if SYNC_MARKER.exists() else "none"

    # -- consent and status ---------------------------------------------------------------------

    def status_fields(self) -> dict[str, Any]:
        state = load_state(self.conn)
        points = point_status(state, self.policy)
        depth = {ap: len(self.outbox.entries(ap)) for ap in points}
        refused: dict[str, list[str]] = {}  # e.g. 0x87 Not authorized: the entry waits
        for failure in self.link.snapshot().failures if self.link is not None else ():
            refused.setdefault(failure.ap, []).append(f"publish-refused ({failure.error})")
        for ap, fields in points.items():
            fields["outbox_depth"] = depth[ap]  # type: ignore[assignment]
            fields["alarms"] = [*self.alarms, *refused.get(ap, [])]  # type: ignore[assignment]
            fields["last_telegram_utc"] = _iso(self.agent.ingestor.counters[ap].last_meter_time)
        return {"points": points}

    def publish_status(self) -> None:
        """Publish the retained status now (also after consent changes)."""
        if self.link is not None:
            self.link.publish_status(self.status_fields())

    def _alarm(self, name: str) -> None:
        if name not in self.alarms:
            self.alarms.append(name)
            LOG.warning("alarm raised: %s", name)


def _iso(epoch: int | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_policy_request(request: SignedRequest, shift: timedelta) -> Request:
    """The policy's view of a verified request, its times moved back by `shift` (meter time).

    `open_request` has range-checked iat/exp (within [0, 2**32)), so the conversions cannot
    fail for any shift within ±60 years; the fuzz test feeds it every request it lets through.
    """
    seqs = (request.from_seq, request.to_seq) if request.type == "resend" else None
    return Request(
        type=request.type,  # type: ignore[arg-type]
        gw=request.gw,
        ap=request.ap,
        request_id=request.id,
        issued_at=datetime.fromtimestamp(request.iat, UTC) - shift,
        expires_at=datetime.fromtimestamp(request.exp, UTC) - shift,
        signature_valid=True,
        consent=request.consent,  # type: ignore[arg-type]
        day=date.fromisoformat(request.day) if request.day else None,
        seqs=seqs,  # type: ignore[arg-type]
    )


def _request_line(reply: Reply) -> str:
    """One journal line for an answered grid operator request (by the operator's key)."""
    reason = f": {reply.reason}" if reply.reason else ""
    periods = f" ({', '.join(str(p) for p in reply.periods)})" if reply.periods else ""
    consent = "" if reply.opted_out is None else f", opted out: {reply.opted_out}"
    return (
        f"{reply.ap}: grid operator {reply.type} request {reply.request_id} "
        f"{reply.status}{reason}{periods}{consent}"
    )
