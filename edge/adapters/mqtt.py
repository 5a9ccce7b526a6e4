"""The gateway's link to the grid operator's broker: outbox pump, status, commands, replies.

Strategy: one link thread owns everything that matters — the outbox's SQLite connection, every
publish, the reconnect loop — so nothing needs a lock except the `hold()` gate. paho's network
thread only turns callbacks into events on a queue; the link thread handles them in batches
(one SQLite transaction per batch: acks are deleted together, not one fsync each).

paho keeps its session in memory and would re-send its in-flight copies after a reconnect, even
of entries we deleted meanwhile (an opt-out). So every connection gets a fresh paho client with
`reconnect_on_failure=False`, and after a reconnect the outbox — the truth — is read again:
delivery is at least once, in order per allocation point (a point's next entry is published only
after its previous one got a PUBACK), and an entry leaves the outbox only with a success reason
code. A failure code (MQTT 5, e.g. 0x87 Not authorized) keeps the entry, counts the attempt,
shows it in the status alarms and the log, and blocks only that point until `retry_after`.

MQTT 3.1.1 has no reason code in PUBACK: mosquitto acknowledges a publish its ACL denies and
drops it, so with protocol "3.1.1" a refused publish looks delivered. Use MQTT 5 where the
broker speaks it (the default); with 3.1.1 the link's state in the status says so.

Supervision: the link thread's body runs under `edge.supervisor.supervise`. A failure that is
not the broker's (the database locked by another process for longer than the busy timeout, a
full disk) raises the `grid link` alarm, is told to the broker on the retained status while
the connection still stands, and the body starts again after a backoff; one that lasts too
long marks the process fatal (the agent exits non-zero). The connection state (connected /
backoff with the last error / refused) goes to the agent's `Health` for the status model.

The retained status is published when its content changes and otherwise as a slow heartbeat
(`status_heartbeat`, minutes): a status every few seconds wears the broker and says nothing.

Threads, for the agent: `on_command` is called on paho's network thread (hand the payload to
your own queue, do not block); every other public method may be called from any thread.
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from paho.mqtt.client import MQTT_ERR_SUCCESS, Client, MQTTMessage, error_string

from edge import __version__
from edge.adapters.mqtt_blocking import close_client, disconnect_reason
from edge.adapters.mqtt_config import BrokerSettings, new_client, tls_context
from edge.adapters.mqtt_events import (
    Ack,
    Command,
    Connack,
    Drop,
    Event,
    Gone,
    Publish,
    Session,
    Stop,
    Suback,
    Wake,
)
from edge.adapters.mqtt_status import (
    LinkStatus,
    PublishFailure,
    offline_json,
    reason_text,
    status_json,
)
from edge.adapters.mqtt_topics import (
    COMMAND_KINDS,
    DEFAULT_PREFIX,
    CommandKind,
    command_topic,
    parse_command_topic,
    reply_topic,
    status_topic,
)
from edge.errors import MqttError
from edge.store.db import connect, transaction
from edge.store.outbox import DEFAULT_CAPACITY, Outbox
from edge.supervisor import Health, supervise

__all__ = ["Command", "GridLink"]  # Command lives in mqtt_events; callers import it here

log = logging.getLogger("edge.mqtt")
LINK_ALARM = "grid link"


class GridLink:
    """The gateway's MQTT connection to the grid operator (see the module docstring)."""

    def __init__(
        self,
        settings: BrokerSettings,
        *,
        gateway_id: str,
        db_path: str | Path,
        prefix: str = DEFAULT_PREFIX,
        on_command: Callable[[Command], None] | None = None,
        capacity: int = DEFAULT_CAPACITY,
        retry_after: float = 60.0,
        poll_interval: float = 30.0,
        status_heartbeat: float = 300.0,
        give_up_s: float = 600.0,
        version: str = __version__,
        health: Health | None = None,
    ) -> None:
        self.settings = settings
        self.gateway_id = gateway_id
        self.prefix = prefix
        self._db_path = db_path
        self._on_command = on_command
        self._retry_after = retry_after
        self._poll = poll_interval
        self._heartbeat = status_heartbeat
        self._give_up_s = give_up_s
        self._version = version
        self.health = health or Health()
        self._stop_flag = threading.Event()
        self._last_status: bytes | None = None
        self._status_wanted = False  # a status publish asked for in the current batch
        self._status_due = 0.0
        self._status_topic = status_topic(prefix, gateway_id)  # also validates the names
        self._context: ssl.SSLContext | None = tls_context(settings) if settings.tls else None
        self._events: queue.Queue[Event] = queue.Queue()
        self._gate = threading.RLock()
        self._cond = threading.Condition()
        self._status = LinkStatus(capacity=capacity)
        self._fields: Mapping[str, Any] = {}
        self._generation = 0
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._sessions = 0
        self._delivered = 0  # link thread only

    # the agent's side (any thread) ----------------------------------------------------------

    def start(self) -> None:
        """Start the link thread; it connects, and reconnects with backoff, until `stop`."""
        if self._thread is not None:
            raise MqttError("the grid link is already started")
        self._thread = threading.Thread(target=self._run, name="mqtt-link", daemon=True)
        # an alarm raised or cleared anywhere in the agent changes the retained status
        self.health.listeners.append(self._health_changed)
        self._report_state()
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Say goodbye (retained offline status), disconnect and end the link thread."""
        if self._thread is None:
            return
        self._stop_flag.set()
        self._events.put(Stop())
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise MqttError(f"the grid link did not stop within {timeout} s")
        self._thread = None

    def wake(self) -> None:
        """Tell the link that new outbox entries were committed (it also polls, slowly)."""
        with self._cond:
            self._generation += 1
        self._events.put(Wake())

    def publish_status(self, fields: Mapping[str, Any]) -> None:
        """Set the agent's status fields (e.g. `points`, `last_telegram`, `alarms`) and publish
        the retained status; the link adds online, version, outbox depth and its alarms."""
        with self._cond:
            self._fields = dict(fields)
        self._events.put(Publish(self._status_topic, b"", retain=True))

    def publish_reply(self, kind: CommandKind, reply: bytes) -> None:
        """Publish a JSON reply (with the request id) on ``…/cmd/{kind}/reply``, QoS 1."""
        self._events.put(Publish(reply_topic(self.prefix, self.gateway_id, kind), reply, False))

    def drop_connection(self) -> None:
        """Cut the connection without a DISCONNECT, as a crash or a pulled cable would (the
        broker then publishes the last will); the link reconnects as usual. For tests and
        for a watchdog that distrusts a silent connection."""
        self._events.put(Drop())

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Keep the link from publishing outbox entries while the block runs.

        Wrap the transaction that deletes a point's entries (opt-out) in it: an entry the link
        read before the delete can then not leave after it.
        """
        with self._gate:
            yield

    def snapshot(self) -> LinkStatus:
        """The current status (a frozen copy)."""
        with self._cond:
            return self._status

    def wait(self, ready: Callable[[LinkStatus], bool], timeout: float) -> LinkStatus:
        """Wait until `ready(status)` holds for a status that has seen every `wake()` so far;
        returns the last status either way (check it)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            wanted = self._generation
            while not (self._status.generation >= wanted and ready(self._status)):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return self._status

    def wait_settled(self, timeout: float) -> LinkStatus:
        """Wait until the outbox is empty or everything left in it was refused."""
        return self.wait(lambda s: s.settled, timeout)

    # the link thread ------------------------------------------------------------------------

    def _set_status(self, **changes: Any) -> None:
        with self._cond:
            self._status = replace(self._status, **changes)
            self._cond.notify_all()
        self._report_state()

    def _report_state(self) -> None:
        """The connection as the status model shows it (edge.status: `links.grid`)."""
        st = self._status
        error = st.link_error or st.connect_error
        if st.connected and not st.link_error:
            state = "connected"
        elif st.connect_error and st.connect_error.startswith("connection refused"):
            state = "refused"
        elif error:
            state = "backoff"
        else:
            state = "connecting"
        fields: dict[str, Any] = {
            "broker": self.settings.url,
            "protocol": self.settings.protocol,
            "state": state,
            "last_error": error,
            "outbox_depth": st.depth,
        }
        if self.settings.protocol != "5":
            fields["note"] = "MQTT 3.1.1: a broker's refusal of a block cannot be detected"
        self.health.set_state("grid", fields)

    def _health_changed(self) -> None:
        self._events.put(Publish(self._status_topic, b"", retain=True))

    def _run(self) -> None:
        supervise(
            LINK_ALARM,
            self._run_once,
            self.health,
            self._stop_flag,
            backoff_min=self.settings.reconnect_min,
            backoff_max=self.settings.reconnect_max,
            give_up_s=self._give_up_s,
        )

    def _run_once(self) -> None:
        """Connect, serve and reconnect until stopped; raises on a failure of our own."""
        try:
            self._serve_outbox()
        except Exception as exc:
            self._set_status(connected=False, link_error=f"{type(exc).__name__}: {exc}")
            raise

    def _serve_outbox(self) -> None:
        conn = connect(self._db_path)
        # This connection only deletes acknowledged entries and counts attempts. Losing such a
        # commit at a power cut re-sends a block (harmless: at least once, the collector
        # de-duplicates), so it need not wait for an fsync per batch like the agent's commits.
        conn.execute("PRAGMA synchronous = NORMAL")
        try:
            outbox = Outbox(conn, capacity=self._status.capacity)
            self._refresh(outbox, None)
            delay = self.settings.reconnect_min
            while not self._stopping:
                was_connected = self._session(outbox)
                if self._stopping:
                    break
                delay = self.settings.reconnect_min if was_connected else delay
                log.debug("mqtt: reconnecting to %s in %.1f s", self.settings.url, delay)
                self._idle(outbox, delay)
                delay = min(delay * 2, self.settings.reconnect_max)
        finally:
            conn.close()

    def _idle(self, outbox: Outbox, seconds: float) -> None:
        """Wait out the backoff; keep the status fresh, stop at once when asked."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self._events.get(timeout=left)
            except queue.Empty:
                break
            if isinstance(event, Stop):
                self._stopping = True
                return
            if isinstance(event, Wake):
                self._refresh(outbox, None)

    def _new_session(self) -> Session:
        self._sessions += 1
        number = self._sessions
        will = offline_json(gateway=self.gateway_id, version=self._version, reason="lost")
        client = new_client(
            self.settings,
            f"p1edge-{self.gateway_id}",
            will=(self._status_topic, will),
            context=self._context,
        )
        put = self._events.put
        client.on_connect = lambda _c, _u, _f, code, _p: put(Connack(number, code))
        reason = disconnect_reason(client)
        client.on_disconnect = lambda _c, _u, _f, code, _p: put(Gone(number, reason(code)))
        client.on_publish = lambda _c, _u, mid, code, _p: put(Ack(number, mid, code))
        client.on_subscribe = lambda _c, _u, _m, codes, _p: put(Suback(number, codes))
        client.on_message = self._on_message
        return Session(number, client)

    def _session(self, outbox: Outbox) -> bool:
        """One connection from connect to loss (or stop); True if it got a CONNACK."""
        session = self._new_session()
        try:
            session.client.connect(self.settings.host, self.settings.port, self.settings.keepalive)
        except (OSError, ValueError) as exc:
            self._connect_failed(session, f"cannot connect: {exc}")
            return False
        session.client.loop_start()
        try:
            self._serve(session, outbox)
        except MqttError as exc:
            self._lost(session, exc)
        except Exception as exc:
            # our own trouble (the database): tell the broker before the connection goes
            self._set_status(link_error=f"{type(exc).__name__}: {exc}")
            try:
                self._publish_status_now(session, wait=True)
            except MqttError as lost:  # the broker is gone too: the alarm waits for the next
                log.debug("mqtt: cannot publish the alarm: %s", lost)
            raise
        finally:
            self._set_status(connected=False)
            close_client(session.client)
        return session.connected

    def _lost(self, session: Session, reason: object) -> None:
        """One line per lost connection, whoever notices first: paho, or a publish that found
        the client no longer connected."""
        if session.connected and not session.lost:
            session.lost = True
            log.warning("mqtt: connection to %s lost: %s", self.settings.url, reason)
        elif not session.connected:
            log.warning("mqtt: %s", reason)

    def _connect_failed(self, session: Session, error: str) -> None:
        close_client(session.client)
        # one log line per state change: the details of a failure vary between attempts (a TLS
        # alert, or the EOF after it), its kind ("cannot connect") does not
        before = (self._status.connect_error or "").split(":", 1)[0]
        if error.split(":", 1)[0] != before:
            log.warning("mqtt: %s: %s", self.settings.url, error)
        self._set_status(connected=False, connect_error=error)

    def _serve(self, session: Session, outbox: Outbox) -> None:
        """Handle events until the connection is gone or the link stops."""
        connack_deadline = time.monotonic() + self.settings.connect_timeout
        while True:
            timeout = self._timeout(session, connack_deadline)
            try:
                batch = [self._events.get(timeout=timeout)]
            except queue.Empty:
                batch = []
            if not batch and not session.connected and time.monotonic() >= connack_deadline:
                raise MqttError(f"no CONNACK from {self.settings.url} in time")
            while True:  # everything already waiting is handled in one transaction
                try:
                    batch.append(self._events.get_nowait())
                except queue.Empty:
                    break
            if not self._handle(session, outbox, batch):
                return
            self._pump(session, outbox)
            self._refresh(outbox, session)  # once per batch: SQLite counts are not free
            if self._status_wanted:
                self._status_wanted = False
                self._publish_status_now(session)
            if self._status.link_error is not None:  # the database works again
                self._set_status(link_error=None)
                self.health.clear(LINK_ALARM)
                self._publish_status(session, outbox)
            elif session.connected and time.monotonic() >= self._status_due:
                self._publish_status(session, outbox)  # the heartbeat

    def _timeout(self, session: Session, connack_deadline: float) -> float:
        now = time.monotonic()
        if not session.connected:
            return max(0.0, connack_deadline - now)
        heartbeat = self._status_due - now
        waits = [self._poll, heartbeat, *(at - now for at in session.retry_at.values() if at > now)]
        return max(0.0, min(waits))

    def _handle(self, session: Session, outbox: Outbox, batch: list[Event]) -> bool:
        """Handle a batch of events; False when the session is over."""
        alive = True
        with transaction(outbox.conn):
            for event in batch:
                try:
                    alive = self._handle_one(session, outbox, event) and alive
                except MqttError as exc:  # the acks of this batch still count: commit them
                    self._lost(session, exc)
                    alive = False
        return alive

    def _handle_one(self, session: Session, outbox: Outbox, event: Event) -> bool:
        if isinstance(event, Stop):
            self._stopping = True
            self._goodbye(session)
            return False
        if isinstance(event, Drop):
            sock = session.client.socket()
            if isinstance(sock, socket.socket):
                sock.shutdown(socket.SHUT_RDWR)  # paho notices and reports the loss
            return True
        if isinstance(event, Wake | Publish):
            if isinstance(event, Publish) and session.connected:
                self._publish_extra(session, outbox, event)
            return True
        if event.session != session.number:
            return True  # a late callback of an earlier connection
        if isinstance(event, Connack):
            session.answered = True
            return self._on_connack(session, outbox, event.code)
        if isinstance(event, Gone):
            if session.connected:
                self._lost(session, event.reason)
            elif not session.answered:  # closed before a CONNACK: TLS (our certificate refused)
                self._connect_failed(session, f"closed before CONNACK: {event.reason}")
            return False
        if isinstance(event, Suback):
            self._on_suback(event.codes)
        else:
            self._on_ack(session, outbox, event.mid, event.code)
        return True

    def _on_connack(self, session: Session, outbox: Outbox, code: Any) -> bool:
        if code.is_failure:
            error = f"connection refused: {reason_text(code)}"
            if error != self._status.connect_error:
                log.warning("mqtt: %s: %s", self.settings.url, error)
            self._set_status(connect_error=error)
            return False
        session.connected = True
        log.info("mqtt: connected to %s (MQTT %s)", self.settings.url, self.settings.protocol)
        self._set_status(connected=True, connect_error=None)
        topics = [(command_topic(self.prefix, self.gateway_id, k), 1) for k in COMMAND_KINDS]
        rc, _mid = session.client.subscribe(topics)
        _check(rc, "subscribe to the command topics")
        self._last_status = None  # a new connection: say it, whatever was said before
        self._publish_status(session, outbox)
        return True

    def _on_suback(self, codes: list[Any]) -> None:
        refused = [reason_text(code) for code in codes if code.is_failure]
        error = f"command topics: {', '.join(refused)}" if refused else None
        if error:
            log.error("mqtt: subscription refused: %s", error)
        self._set_status(subscribe_error=error)

    def _on_ack(self, session: Session, outbox: Outbox, mid: int, code: Any) -> None:
        entry = session.inflight.pop(mid, None)
        if entry is None:
            if code.is_failure:  # a status or reply message
                log.error("mqtt: a status/reply publish was refused: %s", reason_text(code))
            return
        if code.is_failure:
            error = reason_text(code)
            outbox.fail(entry.id, error)
            session.retry_at[entry.ap] = time.monotonic() + self._retry_after
            log.error(
                "mqtt: publish to %s refused: %s; entry %d stays in the outbox",
                entry.topic,
                error,
                entry.id,
            )
            return
        session.retry_at.pop(entry.ap, None)
        if outbox.ack(entry.id):
            self._delivered += 1
            log.info("mqtt: delivered %s (acknowledged by the broker)", entry.topic)

    def _pump(self, session: Session, outbox: Outbox) -> None:
        """Publish the next entry of every point that has nothing in flight."""
        if not session.connected:
            return
        with self._gate:
            for entry in outbox.heads(exclude=session.excluded(time.monotonic())):
                if not outbox.mark_sent(entry.id, int(time.time())):
                    continue  # deleted by an opt-out since heads(): it must not leave
                info = session.client.publish(entry.topic, entry.payload, qos=entry.qos)
                _check(info.rc, f"publish {entry.topic}")
                session.inflight[info.mid] = entry

    def _publish_extra(self, session: Session, outbox: Outbox, event: Publish) -> None:
        if event.topic == self._status_topic:
            # after the batch's transaction: a status read inside it would count the batch's
            # uncommitted deletes, and a waiter could see "delivered" before the commit
            self._status_wanted = True
        else:
            info = session.client.publish(event.topic, event.payload, qos=1)
            _check(info.rc, f"publish {event.topic}")

    def _publish_status(self, session: Session, outbox: Outbox) -> None:
        self._refresh(outbox, None)
        self._publish_status_now(session)

    def _publish_status_now(self, session: Session, *, wait: bool = False) -> None:
        """The retained status, if it changed or the heartbeat is due (no database reads)."""
        if not session.connected:
            return
        with self._cond:
            fields = dict(self._fields)
        fields["alarms"] = [
            *fields.get("alarms", ()),
            *(a.to_json() for a in self.health.alarms() if a.key != LINK_ALARM),
        ]
        payload = status_json(
            self._status, gateway=self.gateway_id, version=self._version, fields=fields, online=True
        )
        # the last telegram's time moves every second: it alone is no change (the heartbeat
        # carries it), anything else is
        stable = _without_telegram_times(payload)
        now = time.monotonic()
        if stable == self._last_status and now < self._status_due:
            return
        info = session.client.publish(self._status_topic, payload, qos=1, retain=True)
        _check(info.rc, "publish the status")
        session.status_mid = info.mid
        self._last_status = stable
        self._status_due = now + self._heartbeat
        if wait:
            info.wait_for_publish(timeout=min(5.0, self.settings.connect_timeout))

    def _goodbye(self, session: Session) -> None:
        """A clean stop sends no will: publish the offline status ourselves, then disconnect."""
        if not session.connected:
            return
        payload = offline_json(gateway=self.gateway_id, version=self._version, reason="stopped")
        info = session.client.publish(self._status_topic, payload, qos=1, retain=True)
        if info.rc == MQTT_ERR_SUCCESS:
            info.wait_for_publish(timeout=min(5.0, self.settings.connect_timeout))
        session.client.disconnect()

    def _refresh(self, outbox: Outbox, session: Session | None) -> None:
        """Recompute depth and alarms; republish the status when an alarm changed."""
        with self._cond:
            generation = self._generation
        before = self._status
        failures = tuple(
            PublishFailure(e.id, e.ap, e.topic, e.last_error or "", e.attempts)
            for e in outbox.failing()
        )
        depth = outbox.depth()
        heads = outbox.heads()
        stuck = bool(heads) and all(h.last_error for h in heads)
        if session is not None and session.inflight:
            stuck = False
        self._set_status(
            depth=depth,
            full=depth >= before.capacity,
            failures=failures,
            stuck=stuck,
            generation=generation,
            delivered=self._delivered,
        )
        changed = (before.failures, before.full, before.depth == 0) != (
            failures,
            depth >= before.capacity,
            depth == 0,
        )
        if changed and session is not None and session.connected:
            self._publish_status(session, outbox)

    def _on_message(self, _client: Client, _userdata: Any, message: MQTTMessage) -> None:
        # paho's network thread: hand over and return; a failing handler must not kill paho
        kind = parse_command_topic(self.prefix, self.gateway_id, message.topic)
        if kind is None or self._on_command is None:
            return
        try:
            self._on_command(Command(kind, message.topic, bytes(message.payload)))
        except Exception:
            log.exception("mqtt: the command handler failed on %s", message.topic)


def _without_telegram_times(payload: bytes) -> bytes:
    body = json.loads(payload)
    for point in (body.get("points") or {}).values():
        if isinstance(point, dict):
            point.pop("last_telegram_utc", None)
    return json.dumps(body, sort_keys=True).encode()


def _check(rc: int, what: str) -> None:
    """paho return codes become our own error (the session then ends and reconnects)."""
    if rc != MQTT_ERR_SUCCESS:
        raise MqttError(f"{what}: {error_string(rc)}")
