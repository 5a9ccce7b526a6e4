"""`[web]`: the customer's own page on the gateway (off unless the section is there).

Strategy: the listen address is parsed once into host and port, so the server never parses
text; reading is open to the household's LAN only when asked for (`read = "lan"`), otherwise
every page needs the password. Changing consent always needs the password, so a password file
is required either way. TLS takes both a certificate and its key, or neither. The password
file's content and mode (0600) are checked when the page starts (`load_web_password`), like a
key file: `check-config` works on a machine where the file does not exist yet.
"""

from __future__ import annotations

import ipaddress
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from edge.config.table import Section, fail

READ_MODES: Final = ("password", "lan")
WEB_KEYS: Final = ("listen", "read", "password_file", "cert_file", "key_file")
DEFAULT_LISTEN: Final = "0.0.0.0:8080"
MAX_PASSWORD_BYTES: Final = 1024


@dataclass(frozen=True, slots=True)
class WebConfig:
    """`[web]`: where the page listens, who may read it, the password file, optional TLS."""

    host: str
    port: int
    read: str = "password"
    password_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    @property
    def tls(self) -> bool:
        """True when the page is served over HTTPS."""
        return self.cert_file is not None

    @property
    def listen(self) -> str:
        """`host:port` as written in the file (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_listen(text: str, key: str = "web.listen") -> tuple[str, int]:
    """`host:port` (an IP address, `[v6]:port`, or a host name) -> (host, port)."""
    example = 'e.g. listen = "0.0.0.0:8080" (all interfaces) or "192.168.1.10:8080"'
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        fail(key, f"{text!r} is not host:port; {example}")
    port = int(port_text)
    if not 1 <= port <= 65535:
        fail(key, f"{text!r}: port {port} is out of range 1..65535")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            fail(key, f"{text!r}: {host!r} in brackets is not an IPv6 address; {example}")
    elif ":" in host:
        fail(key, f'{text!r}: write an IPv6 address in brackets, e.g. "[::]:8080"')
    elif not all(part.isalnum() or part == "" for part in host.replace("-", ".").split(".")):
        fail(key, f"{text!r}: {host!r} is not an address or host name; {example}")
    return host, port


def parse_web(table: Mapping[str, object], base_dir: Path) -> WebConfig:
    """Validate `[web]`; errors name `web.<key>`."""
    section = Section("web", table, WEB_KEYS)
    host, port = parse_listen(section.string("listen", DEFAULT_LISTEN))
    read = section.string("read", "password")
    if read not in READ_MODES:
        fail("web.read", f'{read!r}: use "password" (default) or "lan" (reading open on the LAN)')
    password_file = section.path("password_file", base_dir)
    if password_file is None:
        fail(
            "web.password_file",
            "missing (required: changing consent always needs the password); "
            'e.g. password_file = "/etc/p1edge/web.password" (mode 0600)',
        )
    web = WebConfig(
        host=host,
        port=port,
        read=read,
        password_file=password_file,
        cert_file=section.path("cert_file", base_dir),
        key_file=section.path("key_file", base_dir),
    )
    if (web.cert_file is None) != (web.key_file is None):
        missing = "web.key_file" if web.key_file is None else "web.cert_file"
        present = "web.cert_file" if web.key_file is None else "web.key_file"
        fail(missing, f"{present} is set without it; TLS needs both (or neither)")
    return web


def load_web_password(web: WebConfig) -> bytes:
    """The page's password from `web.password_file`, checked: a regular file, mode 0600 (no
    access for group or others), not empty, one line. Raises `SettingError` naming the key."""
    key = "web.password_file"
    path = web.password_file
    if path is None:
        fail(key, "missing; set a password file (mode 0600)")
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            fail(key, f"{path} is not a regular file")
        if info.st_mode & 0o077:
            fail(
                key,
                f"{path} has mode {stat.S_IMODE(info.st_mode):04o}: others could read the "
                f"password; chmod 600 {path}",
            )
        with path.open("rb") as handle:
            data = handle.read(MAX_PASSWORD_BYTES + 1)
    except OSError as exc:
        fail(key, f"cannot read {path} ({exc.strerror or exc}); fix the path or permissions")
    if len(data) > MAX_PASSWORD_BYTES:
        fail(key, f"{path} is longer than {MAX_PASSWORD_BYTES} bytes; one line holds the password")
    password = data.rstrip(b"\r\n")
    if not password.strip():
        fail(key, f"{path} is empty; write the password on its first line")
    if b"\n" in password:
        fail(key, f"{path} has more than one line; write only the password")
    return password
