"""The page's security model over real HTTP against a real store (issue 12's security list)."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from pathlib import Path

from edge.web.security import FREE_FAILURES
from tests.integration.helpers import PRIMARY, SECONDARY_EV, edge, write_config
from tests.support.certs import TestCA
from tests.web.conftest import FakeClock, serving
from tests.web.helpers import OTHER_EAN, PASSWORD, Client, Stored, web_section, write_password


def _consent(config: Path, ap: str) -> str:
    result = edge("consent", "--config", str(config), "--ap", ap, "show")
    assert result.returncode == 0, result.stderr
    return str(json.loads(result.stdout)["consent"])


def _log(config: Path) -> list[dict[str, str]]:
    result = edge("log", "--config", str(config), "--json")
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_reading_needs_the_password_by_default(stored: Stored) -> None:
    with serving(stored.config, FakeClock()) as server:
        client = Client(server.port)
        for path in ("/", "/day", "/month", "/privacy"):
            status, _ = client.get(path)
            assert status == 303 and client.last_headers["location"].startswith("/login")
        for path in ("/api/now.json", "/download/day.csv", "/download/log.csv"):
            assert client.get(path)[0] == 401
        assert client.login("wrong") == 403
        assert client.get("/")[0] == 303
        assert client.login() == 303
        status, body = client.get("/")
        assert status == 200 and b"871687120000000001" in body


def test_session_cookie_flags_and_a_new_token_at_login(stored: Stored) -> None:
    with serving(stored.config, FakeClock()) as server:
        client = Client(server.port)
        client.get("/login")
        cookie = client.last_headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
        before = client.cookie
        assert client.login() == 303
        assert client.cookie != before  # no session fixation
        stale = Client(server.port, cookie=before)
        assert stale.get("/")[0] == 303  # the old token does not carry the login


def test_lan_reading_is_open_but_consent_still_needs_the_password(
    stored: Stored, tmp_path: Path
) -> None:
    config = _second_config(stored, tmp_path, read="lan")
    with serving(config, FakeClock()) as server:
        client = Client(server.port)
        assert client.get("/")[0] == 200  # 127.0.0.1 is the LAN
        assert client.get("/api/now.json")[0] == 200
        token = client.csrf("/privacy")
        form = {"csrf": token, "ap": PRIMARY, "action": "opt-out"}
        status, body = client.post("/consent", form)
        assert status == 403 and b"Wrong password" in body
        status, _ = client.post("/consent", {**form, "password": "not it"})
        assert status == 403
        assert _consent(config, PRIMARY) == "opted-in"
        status, _ = client.post("/consent", {**form, "csrf": "forged", "password": PASSWORD})
        assert status == 403
        assert _consent(config, PRIMARY) == "opted-in"
        status, _ = client.post("/consent", {**form, "password": PASSWORD})
        assert status == 303
        assert _consent(config, PRIMARY) == "opted-out"
        change, deletion = _log(config)[-2:]  # the change, then what the opt-out deleted
        assert change["kind"] == "consent" and change["detail"] == "opted out by customer (web)"
        assert deletion["detail"] == "opt-out: 0 undelivered blocks deleted, 0 already sent"
        status, body = client.get("/privacy")
        assert b"set by customer (web)" in body and b"opted out by customer (web)" in body
        status, _ = client.post("/consent", {**form, "action": "opt-in", "password": PASSWORD})
        assert status == 303 and _consent(config, PRIMARY) == "opted-in"
        assert _log(config)[-1]["detail"] == "opted in by customer (web)"


def test_a_form_from_another_session_is_refused(stored: Stored, tmp_path: Path) -> None:
    config = _second_config(stored, tmp_path, read="lan")
    with serving(config, FakeClock()) as server:
        victim, attacker = Client(server.port), Client(server.port)
        token = victim.csrf("/privacy")
        attacker.csrf("/privacy")
        form = {"csrf": token, "ap": PRIMARY, "action": "opt-out", "password": PASSWORD}
        assert attacker.post("/consent", form)[0] == 403  # a token is its own session's only
        assert _consent(config, PRIMARY) == "opted-in"


def test_twenty_wrong_passwords_are_slowed(stored: Stored) -> None:
    clock = FakeClock()
    with serving(stored.config, clock) as server:
        client = Client(server.port)
        answers = []
        for _ in range(20):
            token = client.csrf()
            answers.append(client.post("/login", {"csrf": token, "password": "guess"})[0])
        assert answers[:FREE_FAILURES] == [403] * FREE_FAILURES
        assert set(answers[FREE_FAILURES + 1 :]) == {429}  # while it waits, nothing is compared
        assert int(client.last_headers["retry-after"]) >= 1
        assert client.login() == 429  # even the right password waits
        clock.t += 3600
        assert client.login() == 303


def test_huge_body_and_huge_path_are_refused(stored: Stored) -> None:
    with serving(stored.config, FakeClock()) as server:
        client = Client(server.port)
        assert client.get("/day?ap=" + "1" * 5000)[0] == 414
        status, _ = client.request(
            "POST", "/login", b"x" * 10, headers={"Content-Length": str(50 * 1024 * 1024)}
        )
        assert status == 413
        # a request line beyond the standard library's own limit, raw
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(b"GET /" + b"a" * 70000 + b" HTTP/1.0\r\n\r\n")
            assert b" 414 " in sock.recv(200)
        assert client.get("/login")[0] == 200  # still serving


def test_the_page_never_shows_a_point_that_is_not_configured(
    stored: Stored, tmp_path: Path
) -> None:
    # The store holds the EV charger's data; this configuration knows only the primary.
    config = write_config(
        tmp_path,
        [(PRIMARY, "primary", "file:main.cap", "dsmr5")],
        extra=web_section(8080, write_password(tmp_path)),
    )
    text = config.read_text().replace(f'"{tmp_path / "data"}"', f'"{stored.folder / "data"}"')
    config.write_text(text)
    ev = edge("consent", "--config", str(stored.config), "--ap", SECONDARY_EV, "opt-out")
    assert ev.returncode == 0, ev.stderr
    with serving(config, FakeClock()) as server:
        client = Client(server.port)
        assert client.login() == 303
        for ap in (SECONDARY_EV, OTHER_EAN):
            for path in ("/day", "/month", "/api/day.json", "/download/day.csv"):
                assert client.get(f"{path}?ap={ap}")[0] == 404
        seen = b"".join(
            client.get(path)[1]
            for path in (
                "/", "/day", "/month", "/privacy", "/api/now.json", "/api/privacy.json",
                "/download/log.csv", "/download/day.csv?day=2026-03-02",
            )
        )  # fmt: skip
        assert PRIMARY.encode() in seen and SECONDARY_EV.encode() not in seen
    edge("consent", "--config", str(stored.config), "--ap", SECONDARY_EV, "opt-in")


def test_no_stack_trace_reaches_the_browser(stored: Stored, tmp_path: Path) -> None:
    config = _second_config(stored, tmp_path, read="lan")
    with serving(config, FakeClock()) as server:

        def broken() -> dict[str, object]:
            raise RuntimeError("secret detail of a bug")

        working, server.app.status = server.app.status, broken
        client = Client(server.port)
        status, body = client.get("/api/now.json")
        assert status == 500
        assert b"Traceback" not in body and b"secret detail" not in body
        server.app.status = working
        assert client.get("/day?day=not-a-day")[0] == 400
        assert client.get("/month?month=2026-13")[0] == 400
        assert client.get("/nothing")[0] == 404
        assert client.request("DELETE", "/")[0] == 501


def test_wrong_host_name_is_refused(stored: Stored) -> None:
    with serving(stored.config, FakeClock()) as server:
        client = Client(server.port, host="attacker.example")
        assert client.get("/login")[0] == 421  # DNS rebinding: a foreign name is not us
        assert Client(server.port, host="gateway.local").get("/login")[0] == 200


def test_tls_and_secure_cookie(stored: Stored, tmp_path: Path) -> None:
    files = TestCA(tmp_path).issue("server", "localhost", server=True)
    extra = f'cert_file = "{files.cert}"\nkey_file = "{files.key}"\n'
    config = _second_config(stored, tmp_path, extra=extra)
    with serving(config, FakeClock()) as server:
        context = ssl.create_default_context(cafile=str(files.ca))
        conn = http.client.HTTPSConnection("localhost", server.port, context=context, timeout=30)
        conn.request("GET", "/login")
        response = conn.getresponse()
        assert response.status == 200
        cookie = response.getheader("Set-Cookie") or ""
        assert "Secure" in cookie and "HttpOnly" in cookie
        conn.close()
        plain = Client(server.port)
        try:
            status = plain.get("/login")[0]
        except (ConnectionError, http.client.HTTPException):
            status = 0
        assert status != 200  # no plain HTTP on a TLS port


def _second_config(
    stored: Stored, folder: Path, *, read: str = "password", extra: str = ""
) -> Path:
    """The stored gateway's configuration with another [web] section."""
    text = stored.config.read_text()
    text = text[: text.index("\n[web]")] + web_section(8080, write_password(folder), read, extra)
    path = folder / "agent.toml"
    path.write_text(text)
    return path


def test_a_damaged_status_file_does_not_break_the_page(stored: Stored) -> None:
    with serving(stored.config, FakeClock()) as server:
        client = Client(server.port)
        assert client.login() == 303
        damaged: list[object] = [
            {"now_utc": 5, "written_utc": "garbage", "running": True, "sources": "x", "live": [1]},
            {"running": True, "written_utc": "2027-01-15T10:00:00Z", "sources": [7, {"name": 1}],
             "live": {PRIMARY: "x"}},
            [],
        ]  # fmt: skip
        for status in damaged:
            server.app.status = lambda status=status: status  # type: ignore[misc]
            for path in ("/", "/api/now.json", "/day", "/month", "/privacy"):
                assert client.get(path)[0] == 200, (status, path)
