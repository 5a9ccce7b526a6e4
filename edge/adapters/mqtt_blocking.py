"""A small blocking MQTT client for tools and tests (grid request/collect, subscribers).

Strategy: paho's network thread (`loop_start`) runs the callbacks; they only record results
under one condition variable, and the caller's thread waits on it with a deadline. So every
public method is a plain blocking call that either succeeds or raises our own `MqttError`
(paho's return and reason codes never leak out as numbers). Received messages queue up in
`messages`. One connection per instance: paho never reconnects it.
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from paho.mqtt.client import MQTT_ERR_SUCCESS, MQTT_LOG_ERR, Client, MQTTMessage, error_string

from edge.adapters.mqtt_config import BrokerSettings, new_client
from edge.adapters.mqtt_status import reason_text
from edge.errors import MqttError, PublishRefusedError


@dataclass(frozen=True, slots=True)
class Message:
    """A received message."""

    topic: str
    payload: bytes
    qos: int
    retain: bool


def disconnect_reason(client: Client) -> Callable[[Any], str]:
    """A function giving a disconnect's reason with paho's last socket error, if any.

    paho tells a socket's failure (an SSL alert: the broker refused our certificate, during or
    after the handshake) only to its log, and `on_disconnect` then gets a bare "Unspecified
    error"; the journal line must say the TLS failure, so this keeps paho's last error line.
    """
    last: list[str] = []

    def on_log(_c: Client, _u: Any, level: int, text: str) -> None:
        if level == MQTT_LOG_ERR:
            last[:] = [text]

    client.on_log = on_log
    return lambda code: f"{reason_text(code)}: {last[0]}" if last else reason_text(code)


def close_client(client: Client) -> None:
    """Stop paho's thread and close all its sockets (not only at garbage collection)."""
    client.disconnect()  # returns NO_CONN when already gone; that is fine
    client.loop_stop()
    # paho closes its wake-up socket pair only in __del__; close it now so that no file
    # descriptor outlives the connection (and no ResourceWarning reaches the tests)
    reset: Callable[[], None] | None = getattr(client, "_reset_sockets", None)
    if reset is not None:
        reset()


class BlockingClient:
    """Connect, subscribe, publish and wait for acknowledgements; a context manager."""

    def __init__(
        self,
        settings: BrokerSettings,
        *,
        client_id: str = "",
        will: tuple[str, bytes] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.settings = settings
        self.timeout = timeout
        self.messages: queue.Queue[Message] = queue.Queue()
        self._client = new_client(settings, client_id, will=will)
        self._cond = threading.Condition()
        self._connack: Any = None
        self._gone: str | None = None
        self._acks: dict[int, Any] = {}
        self._subacks: dict[int, list[Any]] = {}
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    # paho's network thread ------------------------------------------------------------------

    def _note(self, update: Callable[[], None]) -> None:
        with self._cond:
            update()
            self._cond.notify_all()

    def _on_connect(self, _c: Client, _u: Any, _f: Any, code: Any, _p: Any) -> None:
        self._note(lambda: setattr(self, "_connack", code))

    def _on_disconnect(self, _c: Client, _u: Any, _f: Any, code: Any, _p: Any) -> None:
        self._note(lambda: setattr(self, "_gone", reason_text(code)))

    def _on_publish(self, _c: Client, _u: Any, mid: int, code: Any, _p: Any) -> None:
        self._note(lambda: self._acks.__setitem__(mid, code))

    def _on_subscribe(self, _c: Client, _u: Any, mid: int, codes: list[Any], _p: Any) -> None:
        self._note(lambda: self._subacks.__setitem__(mid, codes))

    def _on_message(self, _c: Client, _u: Any, message: MQTTMessage) -> None:
        self.messages.put(
            Message(message.topic, bytes(message.payload), message.qos, message.retain)
        )

    # the caller's thread --------------------------------------------------------------------

    def _wait(self, ready: Callable[[], bool], what: str, timeout: float | None) -> None:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        with self._cond:
            while not ready():
                if self._gone is not None:
                    raise MqttError(
                        f"{what}: connection to {self.settings.url} lost ({self._gone})"
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    raise MqttError(f"{what}: no answer from {self.settings.url} in time")
                self._cond.wait(left)

    def connect(self, timeout: float | None = None) -> None:
        """Connect and wait for a successful CONNACK (once: `with` already connects)."""
        if self._connack is not None and not self._connack.is_failure and self._gone is None:
            # already connected (`with` connects): a second connect() would race paho's
            # network thread for the socket and leak one
            return
        try:
            self._client.connect(self.settings.host, self.settings.port, self.settings.keepalive)
        except (OSError, ValueError) as exc:
            close_client(self._client)
            raise MqttError(f"cannot connect to {self.settings.url}: {exc}") from None
        self._client.loop_start()
        try:
            self._wait(lambda: self._connack is not None, "connect", timeout)
        except MqttError:
            self.close()
            raise
        if self._connack.is_failure:
            self.close()
            raise MqttError(f"{self.settings.url} refused the connection: "
                            f"{reason_text(self._connack)}")  # fmt: skip

    def subscribe(self, *filters: str, qos: int = 1, timeout: float | None = None) -> None:
        """Subscribe to topic filters and wait for the SUBACK; a refused filter raises."""
        rc, mid = self._client.subscribe([(f, qos) for f in filters])
        if rc != MQTT_ERR_SUCCESS or mid is None:
            raise MqttError(f"subscribe {filters}: {error_string(rc)}")
        self._wait(lambda: mid in self._subacks, f"subscribe {filters}", timeout)
        with self._cond:
            codes = self._subacks.pop(mid)
        refused = [f"{f}: {reason_text(c)}" for f, c in zip(filters, codes, strict=False)
                   if c.is_failure]  # fmt: skip
        if refused:
            raise MqttError(f"subscription refused: {'; '.join(refused)}")

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        timeout: float | None = None,
    ) -> None:
        """Publish and (QoS > 0) wait for the acknowledgement; a failure code raises
        `PublishRefusedError` (MQTT 5 only: a 3.1.1 broker acknowledges even what it drops)."""
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != MQTT_ERR_SUCCESS:
            raise MqttError(f"publish {topic}: {error_string(info.rc)}")
        self._wait(lambda: info.mid in self._acks, f"publish {topic}", timeout)
        with self._cond:
            code = self._acks.pop(info.mid)
        if code.is_failure:
            raise PublishRefusedError(f"publish {topic} refused: {reason_text(code)}")

    def receive(self, timeout: float | None = None) -> Message | None:
        """The next received message, or None after `timeout` seconds."""
        try:
            return self.messages.get(timeout=self.timeout if timeout is None else timeout)
        except queue.Empty:
            return None

    def abort(self) -> None:
        """Drop the connection without a DISCONNECT, like a crash: the broker sends the will."""
        sock = self._client.socket()
        if isinstance(sock, socket.socket):
            sock.shutdown(socket.SHUT_RDWR)
        self._wait(lambda: self._gone is not None, "abort", None)
        self.close()

    def close(self) -> None:
        """Disconnect cleanly (no will) and release threads and sockets."""
        close_client(self._client)

    def __enter__(self) -> BlockingClient:
        self.connect()
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.close()
