"""Broker settings (URL, protocol, TLS, credentials) and building a configured paho client.

Strategy: everything that can be wrong in the `[grid]` settings is found here, once, at start-up,
with a `ConfigError` that names the key (`grid.broker`, `grid.password_file`, ...). What comes out
is a frozen `BrokerSettings`; `new_client` turns it into a fresh paho client. A client is made
per connection attempt (see `edge.adapters.mqtt`), so this is the only place that knows how.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from paho.mqtt.client import Client, MQTTv5, MQTTv311
from paho.mqtt.enums import CallbackAPIVersion

from edge.config.mqtt import parse_broker
from edge.errors import ConfigError

Protocol = Literal["5", "3.1.1"]
PROTOCOLS: tuple[Protocol, ...] = ("5", "3.1.1")


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """How to reach and authenticate to one broker.

    `password` is the content of the password file (never the path: read once at start-up).
    Reconnects wait `reconnect_min` seconds, doubling up to `reconnect_max`.
    """

    host: str
    port: int
    tls: bool = False
    protocol: Protocol = "5"
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    keepalive: int = 60
    connect_timeout: float = 10.0
    reconnect_min: float = 1.0
    reconnect_max: float = 30.0

    @property
    def url(self) -> str:
        """The broker URL, e.g. ``mqtts://broker.example:8883`` (never with credentials)."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    @classmethod
    def from_config(
        cls,
        broker: str,
        *,
        protocol: str = "5",
        username: str = "",
        password_file: str | Path = "",
        ca_file: str | Path = "",
        client_cert: str | Path = "",
        client_key: str | Path = "",
        keepalive: int = 60,
        key_prefix: str = "grid.",
    ) -> BrokerSettings:
        """Settings from the `[grid]` keys (empty string = not set); errors name the key.

        `key_prefix` is put before key names in errors: ``grid.`` for the configuration file,
        ``--`` for command-line options (then spelled with dashes, e.g. ``--password-file``).
        """

        def name_of(name: str) -> str:
            return f"--{name.replace('_', '-')}" if key_prefix == "--" else key_prefix + name

        host, port, tls = parse_broker_url(broker, key=name_of("broker"))
        if protocol not in PROTOCOLS:
            raise ConfigError(f"{name_of('protocol')}: {protocol!r} is not one of {PROTOCOLS}")
        if not 5 <= keepalive <= 65535:
            raise ConfigError(f"{name_of('keepalive')}: {keepalive} is not 5..65535 seconds")
        cert, key = _optional_file(client_cert), _optional_file(client_key)
        if (cert is None) != (key is None):
            raise ConfigError(
                f"{name_of('client_cert')} and {name_of('client_key')}: set both or neither"
            )
        password = read_password(password_file, name_of("password_file"))
        if password is not None and not username:
            raise ConfigError(f"{name_of('username')}: a password file needs a user name")
        return cls(
            host=host,
            port=port,
            tls=tls,
            protocol=protocol,  # type: ignore[arg-type]  # checked against PROTOCOLS above
            username=username or None,
            password=password,
            ca_file=_optional_file(ca_file),
            client_cert=cert,
            client_key=key,
            keepalive=keepalive,
        )


def _optional_file(value: str | Path) -> Path | None:
    return Path(value) if str(value) else None


def parse_broker_url(url: str, *, key: str = "grid.broker") -> tuple[str, int, bool]:
    """(host, port, tls) of ``mqtt://host[:port]`` or ``mqtts://host[:port]``.

    The configuration's parser is the one definition of a broker URL; command-line tools and
    the links share it, so a URL that validates in a config file works everywhere.
    """
    broker = parse_broker(url, key)
    return broker.host, broker.port, broker.tls


def read_password(path: str | Path, key: str = "grid.password_file") -> str | None:
    """The password in a file (one line; the trailing newline is not part of it), or None."""
    if not str(path):
        return None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{key}: cannot read {path}: {exc}") from None
    password = text.rstrip("\r\n")
    if not password or "\n" in password:
        raise ConfigError(f"{key}: {path} must hold the password on one line")
    return password


class _ClosingSSLSocket(ssl.SSLSocket):
    """An SSL socket that closes itself when its handshake fails.

    paho wraps and handshakes in one step and drops the socket on a failed handshake (a wrong
    CA, a broker that is not TLS) without closing it: a file descriptor leaked per attempt.
    """

    def do_handshake(self, block: bool = False) -> None:
        try:
            super().do_handshake(block)
        except BaseException:
            self.close()
            raise


def tls_context(settings: BrokerSettings) -> ssl.SSLContext:
    """A client TLS context: verify the server against the CA file (else the system CAs)."""
    try:
        context = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH, cafile=str(settings.ca_file) if settings.ca_file else None
        )
        context.sslsocket_class = _ClosingSSLSocket
        if settings.client_cert is not None:
            context.load_cert_chain(str(settings.client_cert), str(settings.client_key))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"grid TLS files (ca_file, client_cert, client_key): {exc}") from None
    return context


def new_client(
    settings: BrokerSettings,
    client_id: str = "",
    *,
    will: tuple[str, bytes] | None = None,
    context: ssl.SSLContext | None = None,
) -> Client:
    """A fresh paho client (callback API 2) for one connection; paho never reconnects it.

    `will` is (topic, payload), sent retained at QoS 1 if the connection dies uncleanly.
    """
    v5 = settings.protocol == "5"
    client = Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=MQTTv5 if v5 else MQTTv311,
        clean_session=None if v5 else True,
        reconnect_on_failure=False,  # our outbox is the truth: each connection starts afresh
    )
    client.connect_timeout = settings.connect_timeout
    if settings.tls:
        client.tls_set_context(context or tls_context(settings))
    if settings.username is not None:
        client.username_pw_set(settings.username, settings.password)
    if will is not None:
        client.will_set(will[0], will[1], qos=1, retain=True)
    return client
