"""The page's rules as state machines with time as an argument: sessions, login limit, LAN."""

from __future__ import annotations

import pytest

from edge.web.security import (
    FIRST_WAIT_S,
    FREE_FAILURES,
    GLOBAL_FREE_FAILURES,
    MAX_WAIT_S,
    LoginLimiter,
    Sessions,
    host_allowed,
    is_lan,
    password_matches,
    token_matches,
)


def test_password_and_token_comparisons() -> None:
    assert password_matches(b"secret", b"secret")
    assert not password_matches(b"secre", b"secret")
    assert not password_matches(b"", b"secret")
    assert token_matches("abc", "abc")
    assert not token_matches(None, "abc") and not token_matches("abd", "abc")
    assert not token_matches("ä", "abc")  # non-ASCII never matches (and never raises)


def test_wait_doubles_after_the_free_failures_and_is_capped() -> None:
    limiter, now = LoginLimiter(), 1000.0
    waits = []
    for _ in range(FREE_FAILURES + 12):
        assert limiter.wait_s("10.0.0.2", now) == 0.0
        limiter.failed("10.0.0.2", now)
        waits.append(limiter.wait_s("10.0.0.2", now))
        now += waits[-1]  # try again exactly when allowed
    assert waits[:FREE_FAILURES] == [0.0] * FREE_FAILURES
    doubling = [FIRST_WAIT_S, 2 * FIRST_WAIT_S, 4 * FIRST_WAIT_S]
    assert waits[FREE_FAILURES : FREE_FAILURES + 3] == doubling
    assert max(waits) == MAX_WAIT_S
    assert limiter.wait_s("10.0.0.3", now - 1) == 0.0  # another client is not slowed by this one
    limiter.succeeded("10.0.0.2")
    assert limiter.wait_s("10.0.0.2", now) == 0.0


def test_many_addresses_are_slowed_together() -> None:
    limiter = LoginLimiter()
    for i in range(GLOBAL_FREE_FAILURES + 1):
        limiter.failed(f"10.0.{i // 250}.{i % 250}", 50.0)
    assert limiter.wait_s("10.9.9.9", 50.0) == FIRST_WAIT_S


def test_sessions_expire_rotate_and_stay_bounded() -> None:
    sessions = Sessions(limit=4, idle_s=100)
    logged_in = sessions.login(sessions.new(0.0), 0.0)
    anonymous = [sessions.new(float(t)) for t in range(1, 10)]
    assert len(sessions) == 4
    assert sessions.get(logged_in.token, 10.0) is logged_in  # a flood evicts the anonymous
    assert sessions.get(anonymous[0].token, 10.0) is None
    assert sessions.get(logged_in.token, 111.0) is None  # idle too long
    assert sessions.get(None, 0.0) is None and sessions.get("forged", 0.0) is None
    a, b = sessions.new(200.0), sessions.new(200.0)
    assert a.token != b.token and a.csrf != b.csrf and a.token != a.csrf


@pytest.mark.parametrize(
    ("address", "lan"),
    [
        ("192.168.1.20", True), ("10.1.2.3", True), ("172.16.0.9", True), ("127.0.0.1", True),
        ("fe80::1%eth0", True), ("fd00::5", True), ("::1", True), ("::ffff:192.168.1.2", True),
        ("8.8.8.8", False), ("2a00:1450::1", False), ("::ffff:8.8.8.8", False), ("junk", False),
    ],
)  # fmt: skip
def test_lan_addresses(address: str, lan: bool) -> None:
    assert is_lan(address) is lan


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("192.168.1.20:8080", True), ("[fe80::1]:8080", True), ("localhost:8080", True),
        ("p1gateway.local", True), ("pi.home.arpa:80", True), ("mypi", True),
        ("evil.example.com", False), ("evil.example.com:8080", False), ("", False), (None, False),
    ],
)  # fmt: skip
def test_host_names(host: str | None, allowed: bool) -> None:
    assert host_allowed(host, frozenset({"mypi"})) is allowed
