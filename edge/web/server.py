"""The HTTP shell around `WebApp`: the standard library's threading server, bounded.

Strategy: `http.server.ThreadingHTTPServer` (no dependency; a Pi serves a household), one
thread per connection with a socket timeout, so a slow client holds only its own thread. What
comes in is bounded before it is read: a request target longer than `MAX_TARGET` is a 414, a
body longer than `MAX_BODY` a 413 (and the connection is closed without reading it), a POST
without a length a 411. TLS is optional (`web.cert_file`/`key_file`); the handshake runs in the
connection's own thread, not in the accepting one. Nothing the server logs or sends carries a
stack trace to the browser; request lines are logged at debug level only.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from edge.config.table import fail
from edge.config.web import WebConfig
from edge.supervisor import Health, supervise
from edge.web.app import Request, Response, WebApp

LOG: Final = logging.getLogger("edge.web")
WEB_ALARM: Final = "web"
POLL_S: Final = 1.0  # how soon serve_forever sees stop(); longer polls wake the Pi less often
MAX_TARGET: Final = 2048
MAX_BODY: Final = 16 * 1024
SOCKET_TIMEOUT_S: Final = 15.0


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "p1edge"
    sys_version = ""
    timeout = SOCKET_TIMEOUT_S

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        if len(self.path) > MAX_TARGET:
            self._refuse(414, "Request-URI Too Long")
            return
        body = b""
        if method == "POST":
            length_text = self.headers.get("Content-Length")
            if length_text is None:
                self._refuse(411, "Length Required")
                return
            if not length_text.strip().isdigit():
                self._refuse(400, "Bad Content-Length")
                return
            length = int(length_text)
            if length > MAX_BODY:
                self._refuse(413, "Payload Too Large")
                return
            body = self.rfile.read(length)
        request = Request(
            method=method,
            target=self.path,
            client=self.client_address[0],
            host=self.headers.get("Host"),
            cookie=self.headers.get("Cookie"),
            body=body,
        )
        self._send(self.server.app.handle(request))

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    def _refuse(self, status: int, reason: str) -> None:
        self.close_connection = True  # the rest of what the client sends is not read
        body = f"{status} {reason}\n".encode()
        self.send_response(status, reason)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug("web %s: " + format, self.client_address[0], *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 32

    def __init__(self, address: tuple[str, int], app: WebApp, tls: ssl.SSLContext | None) -> None:
        self.app = app
        self.tls = tls
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(SOCKET_TIMEOUT_S)
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        try:  # the TLS socket takes over the connection: it is the one to close
            wrapped = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            LOG.debug("web: TLS handshake with %s failed: %s", client_address[0], exc)
            return
        try:
            super().finish_request(wrapped, client_address)
        finally:
            wrapped.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that vanished mid-answer is normal life; a bug is logged, never sent
        LOG.debug("web: connection from %s ended with an error", client_address[0], exc_info=True)


def tls_context(web: WebConfig) -> ssl.SSLContext | None:
    """The server's TLS context from `web.cert_file`/`key_file`, or None without TLS."""
    if web.cert_file is None or web.key_file is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(web.cert_file, web.key_file)
    except (OSError, ssl.SSLError) as exc:
        fail("web.cert_file", f"cannot load {web.cert_file} with {web.key_file} ({exc})")
    return context


class WebServer:
    """The page listening on `web.listen`, served by a thread of its own."""

    def __init__(self, app: WebApp, web: WebConfig, *, port: int | None = None) -> None:
        try:
            self.httpd = _Server(
                (web.host, web.port if port is None else port), app, tls_context(web)
            )
        except OSError as exc:
            fail("web.listen", f"cannot listen on {web.listen} ({exc.strerror or exc})")
        self.app = app
        self.thread: threading.Thread | None = None
        self.last_error: str | None = None
        self._stopping = threading.Event()

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def serve_forever(self, health: Health | None = None) -> None:
        """Serve until `stop()`. Under the agent (`health`), a failure is an alarm and the
        server is restarted with backoff (the supervisor); alone, it is logged and kept."""
        if health is None:
            try:
                self._serve()
            except Exception:
                LOG.exception("web: the page stopped")
            return
        supervise(WEB_ALARM, self._serve, health, self._stopping, backoff_max=30.0)

    def _serve(self) -> None:
        try:
            self.httpd.serve_forever(poll_interval=POLL_S)
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            raise

    def start(self, health: Health | None = None) -> None:
        self.thread = threading.Thread(
            target=self.serve_forever, args=(health,), name="web", daemon=True
        )
        self.thread.start()

    @property
    def serving(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def stop(self) -> None:
        self._stopping.set()
        if self.serving:  # shutdown() waits for serve_forever: only while it runs
            self.httpd.shutdown()
        self.httpd.server_close()
        if self.thread is not None:
            self.thread.join(timeout=5)
