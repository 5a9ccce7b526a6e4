"""The connection to the customer's own broker: live values out, never in the agent's way.

Strategy: a supervisor thread owns the connection: it makes a fresh paho client per attempt
(`new_client`, as the grid link does), connects, lets paho's own thread (`loop_start`) run it,
and after a loss waits with backoff and starts again. The agent's main thread only calls
`publish_live`, which hands a QoS 0 message to paho's queue and returns at once; while the
broker is away, or more than `max_pending` messages wait for the socket, live values are
dropped — they are live, not records, and the next one follows in seconds.

What must survive a reconnect — the availability "online" and the Home Assistant discovery
configs — is kept in `retained` and published (retained, QoS 1) on every connection and when
Home Assistant announces it came back online (`homeassistant/status`). The last will marks the
gateway offline if it dies; a clean stop publishes "offline" itself.

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
from edge.supervisor import Health, supervise

LOG: Final = logging.getLogger("edge.local")
HA_STATUS: Final = "homeassistant/status"
HA_CONFIGS: Final = "homeassistant/+/+/config"
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
        stale: Callable[[str], bool] | None = None,
    ) -> None:
        self.settings = settings
        self.client_id = client_id
        self.availability_topic = availability_topic
        self.max_pending = max_pending
        # a retained discovery config it names (a point no longer configured) is cleared
        self.stale = stale
        self.retained: dict[str, bytes] = {}  # re-published on every connection
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
            client = self._client
        if client is not None:
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
        if self.stale is not None:  # the broker sends its retained configs: clear the dead
            client.subscribe(HA_CONFIGS, qos=0)
        with self._lock:
            self._queued = self._written = 0
            self._client = client
        self._publish_retained(client)

    def _publish_retained(self, client: Client) -> None:
        self._publish(client, self.availability_topic, ONLINE, retain=True)
        with self._lock:
            retained = list(self.retained.items())
        for topic, payload in retained:
            self._publish(client, topic, payload, retain=True)

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
        if message.retain and message.payload and self.stale and self.stale(message.topic):
            LOG.info("local broker: clearing %s (its point is no longer configured)", message.topic)
            self._publish(client, message.topic, b"", retain=True)  # empty: deleted
        elif message.topic == HA_STATUS and message.payload == ONLINE:
            self._publish_retained(client)  # Home Assistant restarted: announce again
