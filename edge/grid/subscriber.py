"""The collector's MQTT side: a persistent session, manual acknowledgement, reconnect.

Strategy: a block is acknowledged (PUBACK) only after the batch holding it is committed, so a
collector that dies between receipt and commit loses nothing: its session persists on the
broker (MQTT 5 clean start off + a session expiry; 3.1.1: clean session off) and the broker
sends the unacknowledged blocks again when it reconnects with the same client id. paho's
network thread only queues messages; the caller's thread checks, stores, then acknowledges
them through the connection they came on (after a reconnect, the old packet ids mean nothing:
those blocks come again and are duplicates). A lost connection is retried with capped
exponential backoff forever, subscribing again each time (a restarted broker without
persistence has forgotten the session). With a share group the filters are
`$share/GROUP/...`: the broker hands each block to one collector of the group. Committing
and acknowledging, and waiting out a store that is away, are `edge.grid.commit`'s.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from paho.mqtt.client import MQTT_ERR_SUCCESS, Client, MQTTMessage, MQTTv5, MQTTv311
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.adapters.mqtt_blocking import close_client
from edge.adapters.mqtt_config import BrokerSettings, tls_context
from edge.adapters.mqtt_status import reason_text
from edge.adapters.mqtt_topics import day_filter, month_filter
from edge.errors import ConfigError, MqttError
from edge.grid.collector import Collector
from edge.grid.commit import CollectSummary, Committer, Job, StoreFailure
from edge.grid.paho_speed import install as _install_paho_speed

_install_paho_speed()  # cheaper MQTT 5 properties for each received block (see the module)

__all__ = ["CollectSummary", "SessionOptions", "StoreFailure", "collect", "subscription_filters"]


@dataclass(frozen=True, slots=True)
class SessionOptions:
    """How the collector holds its session; `batch` blocks per commit at most."""

    client_id: str
    share: str | None = None
    session_expiry: int = 3600
    batch: int = 500
    linger: float = 0.05  # how long a started batch waits for more messages
    receive_maximum: int = 2000  # unacknowledged blocks the broker may send ahead
    store_retry_min: float = 0.5  # a failing store is tried again after this, doubling …
    store_retry_max: float = 30.0  # … up to this


def subscription_filters(prefix: str, share: str | None) -> list[str]:
    """The day and month filters, as `$share/GROUP/...` with a share group."""
    filters = [day_filter(prefix), month_filter(prefix)]
    if share is None:
        return filters
    if not share or any(c in share for c in "/+#") or share != share.strip():
        raise ConfigError(f"--share {share!r}: a share group is a non-empty name without / + #")
    return [f"$share/{share}/{f}" for f in filters]


class _Received(NamedTuple):
    # a NamedTuple: thousands a second are made on paho's thread, cheaper than a dataclass
    link: _Link
    mid: int
    qos: int
    topic: str
    payload: bytes


class _Link:
    """One connection (one paho client); its callbacks run on paho's network thread."""

    def __init__(
        self, settings: BrokerSettings, options: SessionOptions, inbox: queue.SimpleQueue[_Received]
    ) -> None:
        self.settings = settings
        self.options = options
        self.inbox = inbox
        self.v5 = settings.protocol == "5"
        self.client = Client(
            CallbackAPIVersion.VERSION2,
            client_id=options.client_id,
            protocol=MQTTv5 if self.v5 else MQTTv311,
            clean_session=None if self.v5 else False,
            reconnect_on_failure=False,  # reconnecting is ours: a new link each time
            manual_ack=True,
        )
        self.client.connect_timeout = settings.connect_timeout
        if settings.tls:
            self.client.tls_set_context(tls_context(settings))
        if settings.username is not None:
            self.client.username_pw_set(settings.username, settings.password)
        self.cond = threading.Condition()
        self.connack: Any = None
        self.session_present = False
        self.suback: list[Any] | None = None
        self.lost: str | None = None
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def _on_connect(self, _c: Client, _u: Any, flags: Any, code: Any, _p: Any) -> None:
        with self.cond:
            self.connack, self.session_present = code, bool(flags.session_present)
            self.cond.notify_all()

    def _on_disconnect(self, _c: Client, _u: Any, _f: Any, code: Any, _p: Any) -> None:
        with self.cond:
            self.lost = reason_text(code)
            self.cond.notify_all()

    def _on_subscribe(self, _c: Client, _u: Any, _mid: int, codes: list[Any], _p: Any) -> None:
        with self.cond:
            self.suback = codes
            self.cond.notify_all()

    def _on_message(self, _c: Client, _u: Any, message: MQTTMessage) -> None:
        self.inbox.put(
            _Received(self, message.mid, message.qos, message.topic, bytes(message.payload))
        )

    def _wait(self, ready: Callable[[], bool], what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not ready():
                if self.lost is not None:
                    raise MqttError(f"{what}: connection to {self.settings.url} lost ({self.lost})")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise MqttError(f"{what}: no answer from {self.settings.url} in time")
                self.cond.wait(left)

    def open(self, filters: list[str], timeout: float) -> None:
        """Connect (resuming the session), subscribe, and wait for both acknowledgements."""
        properties = None
        if self.v5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = self.options.session_expiry
            properties.ReceiveMaximum = self.options.receive_maximum
        try:
            self.client.connect(
                self.settings.host, self.settings.port, self.settings.keepalive,
                clean_start=False if self.v5 else 3, properties=properties,
            )  # fmt: skip
        except (OSError, ValueError) as exc:
            self.close()
            raise MqttError(f"cannot connect to {self.settings.url}: {exc}") from None
        self.client.loop_start()
        try:
            self._wait(lambda: self.connack is not None, "connect", timeout)
            if self.connack.is_failure:
                raise MqttError(
                    f"{self.settings.url} refused the connection: {reason_text(self.connack)}"
                )
            rc, _mid = self.client.subscribe([(f, 1) for f in filters])
            if rc != MQTT_ERR_SUCCESS:
                raise MqttError(f"subscribe: {reason_text(rc)}")
            self._wait(lambda: self.suback is not None, "subscribe", timeout)
        except MqttError:
            self.close()
            raise
        refused = [f"{f}: {reason_text(c)}" for f, c in zip(filters, self.suback or [],
                   strict=False) if c.is_failure]  # fmt: skip
        if refused:
            self.close()
            raise MqttError(f"subscription refused: {'; '.join(refused)}")

    def ack(self, messages: Sequence[_Received]) -> int:
        """PUBACK messages that came on this connection; returns how many could not be (it is
        gone: the broker sends them again)."""
        with self.cond:
            if self.lost is not None:
                return sum(1 for m in messages if m.qos > 0)
        ack, failed = self.client.ack, 0
        for m in messages:
            if m.qos > 0 and ack(m.mid, m.qos) != MQTT_ERR_SUCCESS:
                failed += 1
        return failed

    def close(self) -> None:
        close_client(self.client)


def collect(
    settings: BrokerSettings,
    collector: Collector,
    options: SessionOptions,
    *,
    until: int | None = None,
    deadline: float | None = None,
    stop: threading.Event | None = None,
    out: Callable[[str], None] = print,
    note: Callable[[str], None] = print,
    quiet: bool = False,
    clock: Callable[[], float] = time.time,
    summary: CollectSummary | None = None,
) -> CollectSummary:
    """Receive, check, store and acknowledge until `until` blocks are stored, `clock()` passes
    `deadline`, or `stop` is set. The first connection failing raises `MqttError` (a wrong
    URL or credentials should say so at once); later losses are retried with backoff, and so
    is a store that fails in a way that may pass (`edge.grid.commit`); `StoreFailure` when it
    cannot pass. `summary` (filled in as it goes) is also there when this raises."""
    stop = stop or threading.Event()
    filters = subscription_filters(collector.prefix, options.share)
    inbox: queue.SimpleQueue[_Received] = queue.SimpleQueue()
    summary = CollectSummary() if summary is None else summary
    committer: Committer[_Received] = Committer(
        collector, summary, ack=_ack, out=out, note=note, quiet=quiet, stop=stop, clock=clock,
        retry_min=options.store_retry_min, retry_max=options.store_retry_max,
    )  # fmt: skip
    link: _Link | None = None
    backoff = settings.reconnect_min
    pending: Job[_Received] | None = None  # checked, waiting for the committer to take it
    try:
        while not stop.is_set():
            if deadline is not None and clock() >= deadline:
                summary.stop_reason = "timeout"
                break
            if link is None or link.lost is not None:
                link = _reconnect(settings, options, inbox, filters, link, summary, note)
                if link is None:
                    stop.wait(backoff)
                    backoff = min(backoff * 2, settings.reconnect_max)
                    continue
                backoff = settings.reconnect_min
            if pending is None:
                pending = _prepare(committer, _next_batch(inbox, options))
            if pending is not None:
                if not committer.offer(pending, timeout=0.5):
                    continue  # the store is slow or away: look after the broker meanwhile
                pending = None
            if until is not None and summary.stored >= until:
                summary.stop_reason = "until"
                break
        else:
            summary.stop_reason = "stopped"
        # leaving: what is checked (and when stopped, what has arrived) is committed and
        # acknowledged if the store is there; a store that is away is not waited for
        committer.closing.set()
        while pending is not None or (summary.stop_reason == "stopped" and not inbox.empty()):
            job = pending or _prepare(committer, _next_batch(inbox, options, wait=0))
            while job is not None and not committer.offer(job, timeout=0.5):
                pass
            pending = None
        committer.finish()
    finally:
        if pending is not None:
            summary.left += len(pending.messages)
        committer.finish(raise_error=False)
        if link is not None:
            link.close()
    return summary


def _prepare(committer: Committer[_Received], batch: list[_Received]) -> Job[_Received] | None:
    return committer.prepare(batch, [(m.topic, m.payload) for m in batch])


def _ack(messages: Sequence[_Received]) -> int:
    """PUBACK committed messages on the connection each came by; returns how many could not
    be (their connection is gone: the broker sends them again, duplicates then)."""
    by_link: dict[_Link, list[_Received]] = {}
    for m in messages:
        by_link.setdefault(m.link, []).append(m)
    return sum(link.ack(batch) for link, batch in by_link.items())


def _reconnect(
    settings: BrokerSettings,
    options: SessionOptions,
    inbox: queue.SimpleQueue[_Received],
    filters: list[str],
    old: _Link | None,
    summary: CollectSummary,
    note: Callable[[str], None],
) -> _Link | None:
    if old is not None:
        old.close()
        summary.reconnects += 1
        note(f"collect: connection to {settings.url} lost ({old.lost}); reconnecting")
    link = _Link(settings, options, inbox)
    try:
        link.open(filters, settings.connect_timeout)
    except MqttError as exc:
        if old is None and summary.reconnects == 0:
            raise
        note(f"collect: {exc}; retrying")
        return None
    resumed = "session resumed" if link.session_present else "new session"
    note(f"collect: subscribed to {', '.join(filters)} on {settings.url} as "
         f"{options.client_id} ({resumed})")  # fmt: skip
    return link


def _next_batch(
    inbox: queue.SimpleQueue[_Received], options: SessionOptions, wait: float = 0.5
) -> list[_Received]:
    try:
        batch = [inbox.get(timeout=wait) if wait > 0 else inbox.get_nowait()]
    except queue.Empty:
        return []
    end = time.monotonic() + options.linger
    while len(batch) < options.batch:
        try:
            batch.append(inbox.get_nowait())
        except queue.Empty:
            left = end - time.monotonic()
            if left <= 0:
                break
            try:
                batch.append(inbox.get(timeout=left))
            except queue.Empty:
                break
    return batch
