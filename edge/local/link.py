"""The connection to the customer's own broker: live values out, never in the agent's way.

Strategy: a supervisor thread owns the connection: it makes a fresh paho client per attempt
(`new_client`, as the grid link does), connects, lets paho's own thread (`loop_start`) run it,
and after a loss waits with backoff and starts again. The agent's main thread only calls
`publish_live`, which hands a QoS 0 message to paho's queue and returns at once; while the
broker is away, or more than `max_pending` messages wait for the socket, live values are
dropped — they are live, not records, and the next one follows in seconds.

What must survive a reconnect — the availability "online", each meter's availability and the
Home Assistant discovery configs — is kept in `retained` and published (retained, QoS 1) on every
connection and when Home Assistant announces it came back online (`homeassistant/status`). The
last will marks the gateway offline if it dies; a clean stop publishes "offline" itself.

Before announcing, the link reads what the broker holds (`reconcile.py` decides what to do with
it): it subscribes to the discovery configs and to a topic of its own, then publishes a marker
there; the broker delivers the retained configs of a subscription before any later message, so
once the marker is back every retained config has been seen. Older per-entity configs are then
migrated (Home Assistant is given `settle_s` to unload them before the device configs that take
their `unique_id`s over arrive), and the subscription to every device's configs is dropped.

The supervisor thread's body runs under `edge.supervisor.supervise` (an unexpected error is an
alarm and the body starts again after a backoff), and the connection state goes to the agent's
`Health` as `links.local` of the status model.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Final

from paho.mqtt.client import MQTT_ERR_SUCCESS, Client, MQTTMessage

from edge.adapters.mqtt_blocking import close_client, disconnect_reason
from edge.adapters.mqtt_config import BrokerSettings, new_client
from edge.adapters.mqtt_status import reason_text
from edge.local.reconcile import MIGRATE, Reconciler, removal
from edge.supervisor import Health, supervise

LOG: Final = logging.getLogger("edge.local")
HA_STATUS: Final = "homeassistant/status"
HA_CONFIGS: Final = "homeassistant/+/+/config"  # the device and the per-entity form
ONLINE: Final = b"online"
OFFLINE: Final = b"offline"


class LocalLink:
    """A resilient, non-blocking publisher to the local broker."""

    def __init__(
        self,
        settings: BrokerSettings,
        *,
        client_id: str,
        availability_topic: str,
        max_pending: int = 200,
        health: Health | None = None,
        reconciler: Reconciler | None = None,
        settle_s: float = 2.0,
        sync_timeout_s: float = 10.0,
    ) -> None:
        self.settings = settings
        self.client_id = client_id
        self.availability_topic = availability_topic
        self.sync_topic = f"{availability_topic.rsplit('/', 1)[0]}/sync"
        self.max_pending = max_pending
        # what to make of the retained discovery configs the broker holds (None: look at none)
        self.reconciler = reconciler
        self.settle_s = settle_s
        self.sync_timeout_s = sync_timeout_s  # a marker that never returns (an ACL): go on
        self.retained: dict[str, bytes] = {}  # re-published on every connection
        self.migrated: list[str] = []  # per-entity configs migrated and cleared (all connections)
        self.published = 0
        self.dropped = 0
        self.attempts = 0  # connection attempts made (for tests and the status)
        self.last_error: str | None = None
        self._lock = threading.Lock()
        self._client: Client | None = None  # set while connected
        self._queued = 0  # QoS 0 messages handed to paho on this connection
        self._written = 0  # ... and written to the socket (paho's on_publish)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        # per connection: its number, whether retained messages may go out yet, the legacy
        # configs being migrated, and what the broker holds on our device topics
        self._generation = 0
        self._ready = False
        self._settling = False  # the marker is back: no more retained configs to look at
        self._legacy: list[str] = []
        self._broker_has: dict[str, bytes] = {}
        self.health = health or Health()
        self._thread = threading.Thread(target=self._main, name="local-mqtt", daemon=True)

    @property
    def connected(self) -> bool:
        """True while a connection is up."""
        return self._client is not None

    def start(self) -> None:
        """Start connecting in the background (returns at once)."""
        self._report("connecting")
        self._thread.start()

    def _report(self, state: str) -> None:
        self.health.set_state(
            "local", {"broker": self.settings.url, "state": state, "last_error": self.last_error}
        )

    def publish_live(self, topic: str, payload: bytes) -> bool:
        """Queue a live value (QoS 0, not retained); False if it was dropped."""
        with self._lock:
            client = self._client
            backlog = self._queued - self._written
            if client is None or backlog >= self.max_pending:
                self.dropped += 1
                return False
            self._queued += 1
        # outside our lock: paho takes its own locks, and its thread takes ours in callbacks
        info = client.publish(topic, payload, qos=0, retain=False)
        if info.rc != MQTT_ERR_SUCCESS:
            with self._lock:
                self._queued -= 1
                self.dropped += 1
            return False
        self.published += 1
        return True

    def set_retained(self, topic: str, payload: bytes) -> None:
        """Keep `payload` retained on `topic`: published now if connected, and on every
        connection."""
        with self._lock:
            if self.retained.get(topic) == payload:
                return
            self.retained[topic] = payload
            client = self._client if self._ready else None
        if client is not None:
            self._publish_config(client, topic, payload)

    def _publish_config(self, client: Client, topic: str, payload: bytes) -> None:
        """A retained message; a device config first names the components it drops."""
        with self._lock:
            previous = self._broker_has.get(topic)
            self._broker_has[topic] = payload
        if previous is not None and previous != payload:
            dropped = removal(previous, payload)
            if dropped is not None:
                LOG.info("local broker: %s drops components of its previous config", topic)
                self._publish(client, topic, dropped, retain=True)  # replaced right below
        self._publish(client, topic, payload, retain=True)

    def _publish(self, client: Client, topic: str, payload: bytes, *, retain: bool) -> None:
        """A retained QoS 1 message, counted like live ones (paho reports every write)."""
        with self._lock:
            self._queued += 1
        client.publish(topic, payload, qos=1, retain=retain)

    def stop(self, timeout: float = 5.0) -> None:
        """Publish "offline", disconnect cleanly and end the supervisor thread."""
        self._stopping.set()
        with self._lock:
            client = self._client
        if client is not None:
            info = client.publish(self.availability_topic, OFFLINE, qos=1, retain=True)
            if info.rc == MQTT_ERR_SUCCESS:
                info.wait_for_publish(timeout)
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # -- the supervisor thread --------------------------------------------------------------

    def _main(self) -> None:
        supervise(
            "local link",
            self._supervise,
            self.health,
            self._stopping,
            backoff_min=self.settings.reconnect_min,
            backoff_max=self.settings.reconnect_max,
        )

    def _supervise(self) -> None:
        delay = self.settings.reconnect_min
        while True:
            # cleared before the check: a stop() after this line always ends the wait below
            self._wake.clear()
            if self._stopping.is_set():
                break
            client = self._connect()
            if client is not None:
                self._wake.wait()  # until the connection is lost or we stop
                with self._lock:
                    self._client = None
                close_client(client)
                delay = self.settings.reconnect_min
            if self._stopping.wait(delay):
                break
            delay = min(delay * 2, self.settings.reconnect_max)

    def _connect(self) -> Client | None:
        self.attempts += 1
        client = new_client(self.settings, self.client_id, will=(self.availability_topic, OFFLINE))
        client.on_connect = self._on_connect
        reason = disconnect_reason(client)  # with paho's socket error (a TLS alert)
        client.on_disconnect = lambda c, _u, _f, code, _p: self._on_disconnect(c, reason(code))
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        try:
            client.connect(self.settings.host, self.settings.port, self.settings.keepalive)
        except (OSError, ValueError) as exc:
            self._note_error(f"cannot connect to {self.settings.url}: {exc}")
            close_client(client)
            return None
        client.loop_start()
        return client

    def _note_error(self, text: str) -> None:
        # one log line per state change, not per retry; a failure's detail varies between
        # attempts (a TLS alert, or the EOF after it), its kind before the ':' does not
        if text.split(":", 1)[0] != (self.last_error or "").split(":", 1)[0]:
            LOG.warning("local broker: %s", text)
        self.last_error = text
        self._report("refused" if "refused" in text else "backoff")

    # -- paho's network thread ----------------------------------------------------------------

    def _on_connect(self, client: Client, _u: Any, _f: Any, code: Any, _p: Any) -> None:
        if code.is_failure:
            self._note_error(f"{self.settings.url} refused the connection: {reason_text(code)}")
            self._wake.set()
            return
        LOG.info("local broker %s connected", self.settings.url)
        self.last_error = None
        self._report("connected")
        client.subscribe(HA_STATUS, qos=0)
        with self._lock:
            self._queued = self._written = 0
            self._client = client
            self._generation += 1
            generation = self._generation
            self._ready = self.reconciler is None
            self._settling = False
            self._legacy = []
            self._broker_has = {}
        self._publish(client, self.availability_topic, ONLINE, retain=True)
        if self.reconciler is None:
            self._announce(client)
            return
        # the broker sends its retained configs, then our marker: see the module's docstring
        client.subscribe([(HA_CONFIGS, 0), (self.sync_topic, 1)])
        self._publish(client, self.sync_topic, self._marker(generation), retain=False)
        self._later(self.sync_timeout_s, self._synced, client, generation, True)

    def _marker(self, generation: int) -> bytes:
        return f"{self.client_id} {generation}".encode()

    def _later(self, delay: float, action: Callable[..., None], *args: object) -> None:
        timer = threading.Timer(delay, action, args)
        timer.daemon = True
        timer.start()

    def _announce(self, client: Client) -> None:
        """Publish every retained message (the discovery configs, meter availabilities)."""
        with self._lock:
            retained = list(self.retained.items())
        for topic, payload in retained:
            self._publish_config(client, topic, payload)

    def _synced(self, client: Client, generation: int, timed_out: bool = False) -> None:
        """Every retained config has been seen (or the marker is overdue): announce."""
        with self._lock:
            current = generation == self._generation and self._client is client
            if not current or self._ready or self._settling:
                return  # an old connection's timer, or the marker came first
            self._settling = True
            legacy = list(self._legacy)
        if timed_out:
            LOG.warning("local broker: no answer on %s; announcing anyway", self.sync_topic)
        client.unsubscribe(HA_CONFIGS)  # every other device's configs need not flow to us
        if legacy:
            self._later(self.settle_s, self._migrated, client, generation, legacy)
        else:
            self._migrated(client, generation, [])

    def _migrated(self, client: Client, generation: int, legacy: list[str]) -> None:
        """Home Assistant unloaded the old entities: announce, then clear the old configs."""
        with self._lock:
            if generation != self._generation or self._client is not client:
                return
            self._ready = True
        self._announce(client)
        for topic in legacy:
            self._publish(client, topic, b"", retain=True)  # empty: deleted
        if legacy:
            LOG.info("local broker: %d per-entity configs migrated to devices", len(legacy))
            self.migrated += legacy

    def _on_disconnect(self, client: Client, reason: str) -> None:
        with self._lock:
            was_up = self._client is client
        if was_up and not self._stopping.is_set():
            self._note_error(f"connection to {self.settings.url} lost: {reason}")
        elif not self._stopping.is_set() and "refused" not in (self.last_error or ""):
            # closed before a CONNACK: TLS (our certificate refused); a refusal said it already
            self._note_error(f"{self.settings.url} closed the connection: {reason}")
        self._wake.set()

    def _on_publish(self, _c: Client, _u: Any, _mid: int, _code: Any, _p: Any) -> None:
        with self._lock:
            self._written += 1

    def _on_message(self, client: Client, _u: Any, message: MQTTMessage) -> None:
        topic, payload = message.topic, message.payload
        if topic == self.sync_topic:
            with self._lock:
                generation = self._generation
            if payload == self._marker(generation):
                self._synced(client, generation)
        elif topic == HA_STATUS:
            if payload == ONLINE and self._ready:  # Home Assistant restarted: announce again
                self._publish(client, self.availability_topic, ONLINE, retain=True)
                self._announce(client)
        elif message.retain and payload and self.reconciler is not None:
            self._found(client, topic, bytes(payload))

    def _found(self, client: Client, topic: str, payload: bytes) -> None:
        """A retained config the broker holds, before we announce (see `reconcile.py`)."""
        found = self.reconciler.classify(topic) if self.reconciler is not None else None
        if found is None or self._ready or self._settling:
            return
        if found.kind == "stale":
            LOG.info("local broker: clearing %s (its point is no longer configured)", topic)
            self._publish(client, topic, b"", retain=True)  # empty: deleted
        elif found.kind == "legacy":
            with self._lock:
                self._legacy.append(topic)
            self._publish(client, topic, MIGRATE, retain=False)  # unload, keep the entity
        else:
            with self._lock:
                self._broker_has[topic] = payload
