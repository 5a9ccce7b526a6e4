"""The page's request logic: who may see what, the routes, forms, downloads.

Strategy: a request is plain data (`Request`) and so is the answer (`Response`); the HTTP
server around it (`edge.web.server`) only moves bytes and enforces size limits. Reading is open
without a password only to LAN addresses and only with `web.read = "lan"`; every form carries
the session's CSRF token; a consent change needs the password every time, whatever the
session. Allocation points come from the configuration: a query naming another EAN is a 404,
never a query of the store. Errors inside a view are logged here and answered with a plain
500 page — no stack trace reaches the browser.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import socket
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

from edge.blocks.cose import key_id
from edge.blocks.keys import load_public_key
from edge.config import Config
from edge.errors import EdgeError, StoreError
from edge.registers.capacity import month_of, parse_month
from edge.store import connect
from edge.web import data, pages
from edge.web.consent import change_consent
from edge.web.security import (
    LoginLimiter,
    Session,
    Sessions,
    host_allowed,
    is_lan,
    password_matches,
    token_matches,
)
from edge.web.static import CSS, JS

LOG: Final = logging.getLogger("edge.web")
T = TypeVar("T")
COOKIE: Final = "p1edge_session"
MAX_FIELDS: Final = 20
SECURITY_HEADERS: Final = (
    ("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; "
     "img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
     "base-uri 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cache-Control", "no-store"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Request:
    """One request as the server read it (the body already bounded)."""

    method: str
    target: str
    client: str
    host: str | None = None
    cookie: str | None = None
    body: bytes = b""


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)


class BadRequest(Exception):
    """The request is malformed (400) or names what does not exist here (404)."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status


@dataclass(slots=True)
class _Ctx:
    request: Request
    session: Session
    query: dict[str, str]
    form: dict[str, str]
    path: str


class WebApp:
    """The page of one gateway; `status` gives the agent's current status snapshot."""

    def __init__(
        self,
        config: Config,
        password: bytes,
        status: Callable[[], dict[str, Any]],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        web = config.web
        assert web is not None, "the page needs a [web] section"
        self.config = config
        self.web = web
        self.password = password
        self.status = status
        self.clock = clock
        self.tz = ZoneInfo(config.gateway.timezone)
        self.sessions = Sessions()
        self.limiter = LoginLimiter()
        self.peaks: dict[tuple[str, str, int | None], Any] = {}
        self.points = {p.ean for p in config.points}
        self.recipient = _recipient(config)
        self.own_names = frozenset({socket.gethostname().lower(), socket.getfqdn().lower()})
        self.routes: dict[tuple[str, str], Callable[[_Ctx], Response]] = {
            ("GET", "/"): self.now_page,
            ("GET", "/day"): self.day_page,
            ("GET", "/month"): self.month_page,
            ("GET", "/privacy"): self.privacy_page,
            ("GET", "/api/now.json"): self.now_json,
            ("GET", "/api/day.json"): self.day_json,
            ("GET", "/api/month.json"): self.month_json,
            ("GET", "/api/privacy.json"): self.privacy_json,
            ("GET", "/download/day.csv"): self.day_csv,
            ("GET", "/download/log.csv"): self.log_csv,
            ("GET", "/login"): self.login_page,
            ("POST", "/login"): self.login,
            ("POST", "/logout"): self.logout,
            ("POST", "/consent"): self.consent,
        }
        self.open_routes = {"/login", "/static/app.css", "/static/app.js"}

    # -- entry ----------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one request; never raises."""
        try:
            response = self._handle(request)
        except BadRequest as exc:
            titles = {404: "Not here", 503: "Not ready"}
            response = self._page(exc.status, titles.get(exc.status, "Bad request"), str(exc))
        except Exception:  # a bug must not show its stack trace to the browser
            LOG.exception("web: %s %s failed", request.method, request.target[:200])
            response = self._page(500, "Something went wrong", "The error is in the gateway's log.")
        response.headers.extend(SECURITY_HEADERS)
        return response

    def _handle(self, request: Request) -> Response:
        if not host_allowed(request.host, self.own_names):
            return self._page(421, "Wrong host name", "Open the page by the gateway's address.")
        parts = urlsplit(request.target)
        if parts.path == "/static/app.css":
            return Response(200, CSS.encode(), "text/css; charset=utf-8")
        if parts.path == "/static/app.js":
            return Response(200, JS.encode(), "text/javascript; charset=utf-8")
        route = self.routes.get((request.method, parts.path))
        if route is None:
            if any(path == parts.path for _method, path in self.routes):
                return self._page(405, "Not allowed", "This address takes another method.")
            raise BadRequest(404, "There is no such page on this gateway.")
        now = self.clock()
        session = self.sessions.get(_cookie(request.cookie), now)
        fresh = session is None
        if session is None:
            session = self.sessions.new(now)
        ctx = _Ctx(request, session, _fields(parts.query), {}, parts.path)
        if request.method == "POST":
            ctx.form = _fields(request.body.decode("utf-8", "replace"))
            if not token_matches(ctx.form.get("csrf"), session.csrf):
                response = self._page(
                    403, "Refused", "The form was stale or not from this page; reload it."
                )
                return self._with_cookie(response, ctx.session, fresh)
        if (
            parts.path not in self.open_routes
            and request.method == "GET"
            and not self.may_read(ctx)
        ):
            response = self._need_login(ctx)
        else:
            response = route(ctx)
        return self._with_cookie(response, ctx.session, fresh)

    def may_read(self, ctx: _Ctx) -> bool:
        """Logged in, or `read = "lan"` and the client is on the LAN."""
        if ctx.session.authenticated:
            return True
        return self.web.read == "lan" and is_lan(ctx.request.client)

    def _need_login(self, ctx: _Ctx) -> Response:
        if ctx.path.startswith(("/api/", "/download/")):
            return Response(401, b'{"error": "log in first"}', "application/json")
        return _redirect("/login?" + urlencode({"next": ctx.request.target}))

    def _with_cookie(self, response: Response, session: Session, fresh: bool) -> Response:
        if fresh or (response.headers and any(k == "X-New-Session" for k, _ in response.headers)):
            response.headers = [(k, v) for k, v in response.headers if k != "X-New-Session"]
            secure = "; Secure" if self.web.tls else ""
            response.headers.append(
                (
                    "Set-Cookie",
                    f"{COOKIE}={session.token}; Path=/; HttpOnly; SameSite=Strict{secure}",
                )
            )
        return response

    # -- views ----------------------------------------------------------------------------------

    def _view(self) -> data.View:
        try:
            conn = connect(self.config.gateway.data_dir, readonly=True)
        except StoreError:
            raise BadRequest(503, "No data yet: the agent has not written its database.") from None
        status = self.status()
        return data.View(
            self.config, self.tz, conn, status if isinstance(status, dict) else {}, self.clock(),
            self.peaks,
        )  # fmt: skip

    def _with_view(self, build: Callable[[data.View], T]) -> T:
        view = self._view()
        try:
            return build(view)
        finally:
            view.conn.close()

    def _ap(self, ctx: _Ctx) -> str:
        ap = ctx.query.get("ap") or self.config.primary.ean
        if ap not in self.points:
            raise BadRequest(404, "That allocation point is not configured on this gateway.")
        return ap

    def _day(self, ctx: _Ctx, view: data.View) -> date:
        text = ctx.query.get("day")
        if not text:
            return view.today()
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise BadRequest(400, "The day is not a date (YYYY-MM-DD).") from None

    def _month(self, ctx: _Ctx, view: data.View) -> str:
        text = ctx.query.get("month") or month_of(view.now, self.tz)
        try:
            parse_month(text)
        except ValueError:
            raise BadRequest(400, "The month is not YYYY-MM.") from None
        return text

    def now_page(self, ctx: _Ctx) -> Response:
        return self._html(ctx, "Now", "/", pages.now_page(self._with_view(data.now_view)))

    def now_json(self, ctx: _Ctx) -> Response:
        return _json(self._with_view(data.now_view))

    def _day_data(self, ctx: _Ctx) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        ap = self._ap(ctx)
        return self._with_view(lambda v: (data.day_view(v, ap, self._day(ctx, v)), v.point_names()))

    def day_page(self, ctx: _Ctx) -> Response:
        found, names = self._day_data(ctx)
        return self._html(ctx, f"Day {found['day']}", "/day", pages.day_page(found, names))

    def day_json(self, ctx: _Ctx) -> Response:
        return _json(self._day_data(ctx)[0])

    def _month_data(self, ctx: _Ctx) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        ap = self._ap(ctx)
        return self._with_view(
            lambda v: (data.month_view(v, ap, self._month(ctx, v)), v.point_names())
        )

    def month_page(self, ctx: _Ctx) -> Response:
        found, names = self._month_data(ctx)
        return self._html(ctx, f"Month {found['month']}", "/month", pages.month_page(found, names))

    def month_json(self, ctx: _Ctx) -> Response:
        return _json(self._month_data(ctx)[0])

    def privacy_page(self, ctx: _Ctx, message: str = "", status: int = 200) -> Response:
        found = self._with_view(lambda v: data.privacy_view(v, self.recipient))
        response = self._html(
            ctx, "Privacy", "/privacy", pages.privacy_page(found, ctx.session.csrf, message)
        )
        response.status = status
        return response

    def privacy_json(self, ctx: _Ctx) -> Response:
        return _json(self._with_view(lambda v: data.privacy_view(v, self.recipient)))

    def day_csv(self, ctx: _Ctx) -> Response:
        ap = self._ap(ctx)
        intervals = ctx.query.get("rows", "intervals") != "boundaries"
        day, (rows, columns) = self._with_view(
            lambda v: (d := self._day(ctx, v), data.export_rows(v, ap, d, intervals))
        )
        name = f"{ap}_{day.isoformat()}_{'intervals' if intervals else 'boundaries'}.csv"
        return _csv(rows, columns, name)

    def log_csv(self, ctx: _Ctx) -> Response:
        entries = self._with_view(data.log_entries)
        return _csv([e.to_json() for e in entries], data.LOG_COLUMNS, "consumer_log.csv")

    # -- login and consent ----------------------------------------------------------------------

    def login_page(self, ctx: _Ctx, message: str = "", status: int = 200) -> Response:
        target = _safe_next(ctx.query.get("next") or ctx.form.get("next"))
        response = self._html(
            ctx, "Log in", "", pages.login_page(ctx.session.csrf, target, message)
        )
        response.status = status
        return response

    def _password_ok(self, ctx: _Ctx) -> Response | None:
        """None when the password is right; else the refusal (wrong, or wait)."""
        client, now = ctx.request.client, self.clock()
        wait = self.limiter.wait_s(client, now)
        if wait > 0:
            response = self._page(
                429, "Too many wrong passwords", f"Wait {wait:.0f} s and try again."
            )
            response.headers.append(("Retry-After", str(max(1, round(wait)))))
            return response
        if password_matches(ctx.form.get("password", "").encode(), self.password):
            self.limiter.succeeded(client)
            return None
        self.limiter.failed(client, now)
        LOG.warning("web: wrong password from %s", client)
        return Response(403)

    def login(self, ctx: _Ctx) -> Response:
        refused = self._password_ok(ctx)
        if refused is not None:
            if refused.status == 429:
                return refused
            return self.login_page(ctx, "Wrong password.", 403)
        ctx.session = self.sessions.login(ctx.session, self.clock())
        response = _redirect(_safe_next(ctx.form.get("next")))
        response.headers.append(("X-New-Session", "1"))
        return response

    def logout(self, ctx: _Ctx) -> Response:
        self.sessions.logout(ctx.session)
        ctx.session = self.sessions.new(self.clock())
        response = _redirect("/login")
        response.headers.append(("X-New-Session", "1"))
        return response

    def consent(self, ctx: _Ctx) -> Response:
        if not self.may_read(ctx):
            return self._need_login(ctx)
        ap, action = ctx.form.get("ap", ""), ctx.form.get("action", "")
        if ap not in self.points:
            raise BadRequest(404, "That allocation point is not configured on this gateway.")
        if action not in ("opt-out", "opt-in"):
            raise BadRequest(400, "The action is opt-out or opt-in.")
        refused = self._password_ok(ctx)
        if refused is not None:
            if refused.status == 429:
                return refused
            return self.privacy_page(ctx, "Wrong password: consent not changed.", 403)
        try:
            result = change_consent(self.config, ap, opted_out=action == "opt-out")
        except (EdgeError, sqlite3.Error) as exc:
            LOG.error("web: consent change of %s failed: %s", ap, exc)
            return self.privacy_page(ctx, "The gateway could not change consent; try again.", 503)
        if result.refused is not None:
            LOG.info("web: consent change of %s refused: %s", ap, result.refused.reason)
            return self.privacy_page(ctx, f"Consent not changed: {result.refused.reason}.", 409)
        LOG.info("web: %s %s", ap, result.message)
        return _redirect("/privacy")

    # -- helpers --------------------------------------------------------------------------------

    def _html(self, ctx: _Ctx, title: str, active: str, body: str) -> Response:
        text = pages.layout(
            title, active, body, csrf=ctx.session.csrf, logged_in=ctx.session.authenticated
        )
        return Response(200, text.encode())

    def _page(self, status: int, title: str, text: str) -> Response:
        return Response(status, pages.layout(title, "", pages.message_page(title, text)).encode())


def _recipient(config: Config) -> str:
    """ "grid operator at <broker>, key id <kid>" for the log table's "to whom"."""
    grid = config.grid
    if grid is None:
        return "grid operator (no grid connection configured)"
    text = f"grid operator at {grid.broker}"
    if grid.operator_key is not None:
        try:
            text += f", key id {key_id(load_public_key(grid.operator_key)).hex()}"
        except (OSError, ValueError, EdgeError):
            text += ", key id unknown (grid.operator_key unreadable)"
    return text


def _cookie(header: str | None) -> str | None:
    if not header:
        return None
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return None


def _fields(text: str) -> dict[str, str]:
    try:
        parsed = parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise BadRequest(400, "Too many fields.") from None
    return {k: v[0] for k, v in parsed.items()}


def _safe_next(target: str | None) -> str:
    """Only a path on this gateway (never `//evil` or `https://…`)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _redirect(target: str) -> Response:
    return Response(303, b"", "text/plain", [("Location", target)])


def _json(value: object) -> Response:
    return Response(200, json.dumps(value, separators=(",", ":")).encode(), "application/json")


def _csv(rows: list[dict[str, Any]], columns: tuple[str, ...], name: str) -> Response:
    """Exactly what `edge-agent export` writes (flags joined by spaces, "\\n" line ends)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        if isinstance(row.get("flags"), list):
            row = {**row, "flags": " ".join(row["flags"])}
        writer.writerow(row)
    disposition = ("Content-Disposition", f'attachment; filename="{name}"')
    return Response(200, out.getvalue().encode(), "text/csv; charset=utf-8", [disposition])
