"""`[grid]` and `[local]`: the two MQTT connections, kept apart on purpose.

Strategy: the broker URL is parsed once into scheme/host/port so the adapter never parses text;
TLS settings are only accepted with `mqtts://` (a CA file on a plain connection would silently
do nothing). The local broker may not be the grid operator's broker: SPEC §2 keeps the customer's
live data away from the grid operator.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from edge.config.table import Section, fail

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
PROTOCOLS = ("5", "3.1.1")


@dataclass(frozen=True, slots=True)
class BrokerUrl:
    """`mqtt://host:port` (plain) or `mqtts://host:port` (TLS); ports default to 1883/8883."""

    scheme: str
    host: str
    port: int

    @property
    def tls(self) -> bool:
        """True for mqtts://."""
        return self.scheme == "mqtts"

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def parse_broker(text: str, key: str) -> BrokerUrl:
    """Parse a broker URL; anything but mqtt(s)://host[:port] is an error naming `key`."""
    example = "use mqtt://host:1883 or mqtts://host:8883"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        fail(key, f"{text!r} is not a broker URL ({exc}); {example}")
    if parts.scheme not in DEFAULT_PORTS:
        fail(key, f"{text!r}: scheme {parts.scheme or 'missing'!r} is not supported; {example}")
    if not parts.hostname:
        fail(key, f"{text!r} has no host; {example}")
    if parts.username is not None or parts.password is not None:
        fail(key, f"{text!r}: no credentials in the URL; use username and password_file")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        fail(key, f"{text!r}: a broker URL has no path or query; {example}")
    if port == 0:
        fail(key, f"{text!r}: port 0; {example}")
    return BrokerUrl(parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme])


_PREFIX = re.compile(r"[^\s\x00-\x1f\x7f+#/]+(?:/[^\s\x00-\x1f\x7f+#/]+)*")


def parse_prefix(text: str, key: str) -> str:
    """A topic prefix: levels without wildcards, no leading/trailing or double '/'."""
    if not text:
        fail(key, "may not be empty; e.g. p1edge/v1")
    if re.search(r"[+#\x00]", text):
        fail(key, f"{text!r} contains an MQTT wildcard (+ or #); a prefix is a plain topic")
    if text.startswith("/") or text.endswith("/") or "//" in text:
        fail(key, f"{text!r}: no leading, trailing or double '/'; e.g. p1edge/v1")
    if text.startswith("$"):
        fail(key, f"{text!r}: topics starting with $ are reserved by the broker")
    # fullmatch: `$` in a pattern would also match before a trailing newline
    if not _PREFIX.fullmatch(text):
        fail(key, f"{text!r}: no spaces or control characters in a topic; e.g. p1edge/v1")
    return text


@dataclass(frozen=True, slots=True)
class GridConfig:
    """`[grid]`: the grid operator's broker. Paths are absolute; None means not set."""

    broker: BrokerUrl
    prefix: str = "p1edge/v1"
    protocol: str = "5"
    username: str | None = None
    password_file: Path | None = None
    ca_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    operator_key: Path | None = None
    keepalive: int = 60


GRID_KEYS = (
    "broker", "prefix", "protocol", "username", "password_file", "ca_file", "client_cert",
    "client_key", "operator_key", "keepalive",
)  # fmt: skip


def parse_grid(table: Mapping[str, object], base_dir: Path) -> GridConfig:
    """Validate `[grid]`; errors name `grid.<key>`."""
    section = Section("grid", table, GRID_KEYS)
    broker = parse_broker(section.string("broker", example='"mqtts://broker:8883"'), "grid.broker")
    grid = GridConfig(
        broker=broker,
        prefix=parse_prefix(section.string("prefix", "p1edge/v1"), "grid.prefix"),
        protocol=_protocol(section),
        username=section.optional_string("username"),
        password_file=section.path("password_file", base_dir),
        ca_file=section.path("ca_file", base_dir),
        client_cert=section.path("client_cert", base_dir),
        client_key=section.path("client_key", base_dir),
        operator_key=section.path("operator_key", base_dir),
        keepalive=section.integer("keepalive", 60, 5, 65535),
    )
    _check_tls(grid)
    _check_login("grid", grid.username, grid.password_file)
    return grid


def _protocol(section: Section) -> str:
    value = section.raw("protocol", "5")
    # `protocol = 5` (a TOML integer) means the same as "5"; 3.1.1 cannot be written unquoted.
    text = "5" if value == 5 and not isinstance(value, bool) else value
    if text not in PROTOCOLS:
        fail(section.key("protocol"), f'{value!r}: use "5" (MQTT 5) or "3.1.1" for old brokers')
    return str(text)


def _check_tls(grid: GridConfig) -> None:
    tls_files = {
        "ca_file": grid.ca_file,
        "client_cert": grid.client_cert,
        "client_key": grid.client_key,
    }
    for name, path in tls_files.items():
        if path is not None and not grid.broker.tls:
            fail(f"grid.{name}", "set, but grid.broker is mqtt:// (no TLS); use mqtts://")
    if grid.client_key is not None and grid.client_cert is None:
        fail("grid.client_key", "set without grid.client_cert; set both (or only client_cert)")


def _check_login(section: str, username: str | None, password_file: Path | None) -> None:
    if password_file is not None and username is None:
        fail(f"{section}.password_file", f"set, but {section}.username is empty; set both")


@dataclass(frozen=True, slots=True)
class LocalConfig:
    """`[local]`: the customer's own broker for live values, peaks and Home Assistant."""

    broker: BrokerUrl
    prefix: str = "p1edge/local"
    live_interval_s: int = 10
    homeassistant_discovery: bool = True
    username: str | None = None
    password_file: Path | None = None
    peak_warning_margin: float = 0.1


LOCAL_KEYS = (
    "broker", "prefix", "live_interval_s", "homeassistant_discovery", "username",
    "password_file", "peak_warning_margin",
)  # fmt: skip


def parse_local(
    table: Mapping[str, object], base_dir: Path, grid: GridConfig | None
) -> LocalConfig:
    """Validate `[local]`; errors name `local.<key>`."""
    section = Section("local", table, LOCAL_KEYS)
    broker = parse_broker(
        section.string("broker", example='"mqtt://127.0.0.1:1883"'), "local.broker"
    )
    if grid is not None and (broker.host.lower(), broker.port) == (
        grid.broker.host.lower(),
        grid.broker.port,
    ):
        fail(
            "local.broker",
            f"{broker} is the grid operator's broker (grid.broker); live data stays home: "
            "use the customer's own broker",
        )
    local = LocalConfig(
        broker=broker,
        prefix=parse_prefix(section.string("prefix", "p1edge/local"), "local.prefix"),
        live_interval_s=section.integer("live_interval_s", 10, 1, 3600),
        homeassistant_discovery=section.boolean("homeassistant_discovery", True),
        username=section.optional_string("username"),
        password_file=section.path("password_file", base_dir),
        peak_warning_margin=section.fraction("peak_warning_margin", 0.1),
    )
    _check_login("local", local.username, local.password_file)
    return local
