"""The page's security rules: password, sessions, CSRF tokens, login rate limit, who is the LAN.

Strategy: small state machines with time as an argument (the server passes its clock), so the
rules are tested without waiting. Sessions are random tokens kept in memory only (a restart
logs everyone out), bounded in number: a flood of anonymous visitors evicts anonymous
sessions, never a logged-in one while an anonymous one is left. Every session carries its own
CSRF token; a login replaces the session token (no session fixation). Wrong passwords are
counted per client address and in total: after `FREE_FAILURES` the client waits, doubling each
time up to `MAX_WAIT_S`, and while it waits no password is even compared.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from typing import Final

SESSION_IDLE_S: Final = 12 * 3600
MAX_SESSIONS: Final = 256
FREE_FAILURES: Final = 5  # wrong passwords per client before it is slowed
GLOBAL_FREE_FAILURES: Final = 50  # all clients together (many addresses on one LAN)
FIRST_WAIT_S: Final = 2.0
MAX_WAIT_S: Final = 300.0
FAILURE_MEMORY_S: Final = 3600.0  # a client's count is forgotten after an hour of quiet


def password_matches(given: bytes, expected: bytes) -> bool:
    """Constant time: both sides hashed first, so not even the length leaks."""
    return hmac.compare_digest(hashlib.sha256(given).digest(), hashlib.sha256(expected).digest())


def token_matches(given: str | None, expected: str) -> bool:
    """A CSRF token compared in constant time (None or a non-ASCII value never matches)."""
    if given is None or not given.isascii():
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


@dataclass(slots=True)
class Session:
    """One browser: its CSRF token, whether it gave the password, when it was last seen."""

    token: str
    csrf: str
    authenticated: bool
    seen: float


class Sessions:
    """The sessions of the running page (memory only)."""

    def __init__(self, *, limit: int = MAX_SESSIONS, idle_s: float = SESSION_IDLE_S) -> None:
        self.limit = limit
        self.idle_s = idle_s
        self._by_token: dict[str, Session] = {}

    def get(self, token: str | None, now: float) -> Session | None:
        """The live session of a cookie value, or None (unknown, expired)."""
        if not token:
            return None
        session = self._by_token.get(token)
        if session is None:
            return None
        if now - session.seen > self.idle_s:
            del self._by_token[token]
            return None
        session.seen = now
        return session

    def new(self, now: float, *, authenticated: bool = False) -> Session:
        """A fresh session with its own token and CSRF token."""
        self._make_room(now)
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), authenticated, now)
        self._by_token[session.token] = session
        return session

    def login(self, old: Session | None, now: float) -> Session:
        """The password was right: a new authenticated session replaces `old`."""
        if old is not None:
            self._by_token.pop(old.token, None)
        return self.new(now, authenticated=True)

    def logout(self, session: Session) -> None:
        self._by_token.pop(session.token, None)

    def __len__(self) -> int:
        return len(self._by_token)

    def _make_room(self, now: float) -> None:
        for token, session in list(self._by_token.items()):
            if now - session.seen > self.idle_s:
                del self._by_token[token]
        while len(self._by_token) >= self.limit:
            anonymous = [s for s in self._by_token.values() if not s.authenticated]
            pool = anonymous or list(self._by_token.values())
            oldest = min(pool, key=lambda s: s.seen)
            del self._by_token[oldest.token]


@dataclass(slots=True)
class _Failures:
    count: int = 0
    last: float = 0.0
    blocked_until: float = 0.0


class LoginLimiter:
    """Counts wrong passwords per client and in total; says how long a client must wait."""

    def __init__(self) -> None:
        self._clients: dict[str, _Failures] = {}
        self._all = _Failures()

    def wait_s(self, client: str, now: float) -> float:
        """Seconds until `client` may try a password again (0: now)."""
        own = self._clients.get(client)
        waits = [f.blocked_until - now for f in (own, self._all) if f is not None]
        return max(0.0, *waits)

    def failed(self, client: str, now: float) -> None:
        """A wrong password from `client`."""
        self._forget_old(now)
        own = self._clients.setdefault(client, _Failures())
        for failures, free in ((own, FREE_FAILURES), (self._all, GLOBAL_FREE_FAILURES)):
            failures.count += 1
            failures.last = now
            if failures.count > free:
                wait = min(MAX_WAIT_S, FIRST_WAIT_S * 2 ** (failures.count - free - 1))
                failures.blocked_until = now + wait

    def succeeded(self, client: str) -> None:
        """The right password: this client's count starts again."""
        self._clients.pop(client, None)

    def _forget_old(self, now: float) -> None:
        for client, failures in list(self._clients.items()):
            if now - failures.last > FAILURE_MEMORY_S and now >= failures.blocked_until:
                del self._clients[client]
        if now - self._all.last > FAILURE_MEMORY_S and now >= self._all.blocked_until:
            self._all = _Failures()


def is_lan(address: str) -> bool:
    """True for the household's own network: private, loopback and link-local addresses."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_private or ip.is_loopback or ip.is_link_local


def host_allowed(host_header: str | None, own_names: frozenset[str]) -> bool:
    """The Host header names this gateway: an IP address, `localhost`, a `.local`/`.lan`/
    `.home.arpa` name or the machine's own name. Anything else is refused, so a web page on
    the internet cannot rebind its DNS name to the gateway and read it through a browser."""
    if not host_header:
        return False
    host = host_header.strip().lower()
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    host = host.rstrip(".")
    if host in own_names or host == "localhost":
        return True
    return host.endswith((".local", ".lan", ".home.arpa", ".localhost"))
