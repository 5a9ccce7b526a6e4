"""The customer's own page on the gateway (issue 12): now, day, month, privacy.

Strategy: a read-only view of the agent's store and status beside the running agent, served
from the standard library's HTTP server; the one thing it writes is a consent change, through
the same steps as `edge-agent consent`. Nothing here touches the grid link. `start_web` runs it
inside `edge-agent run` (a thread the agent starts and stops); `open_web` builds it for
`edge-agent web` on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from edge import status as status_file
from edge.config import Config
from edge.config.web import load_web_password
from edge.web.app import WebApp
from edge.web.live import LiveTracker, attach_live
from edge.web.server import WebServer

if TYPE_CHECKING:
    from edge.agent import Agent

__all__ = ["LiveTracker", "WebApp", "WebServer", "open_web", "start_web"]


def open_web(
    config: Config,
    status: Callable[[], dict[str, Any]] | None = None,
    *,
    port: int | None = None,
    clock: Callable[[], float] | None = None,
) -> WebServer:
    """The page of `config` bound to `web.listen` (or `port`), not yet serving.

    Raises `ConfigError` naming the key for a bad password file, certificate or address.
    """
    web = config.web
    if web is None:
        raise ValueError("the page needs a [web] section")
    password = load_web_password(web)
    data_dir = config.gateway.data_dir

    def from_file() -> dict[str, Any]:
        return status_file.read(data_dir) or {}

    extra = {} if clock is None else {"clock": clock}
    app = WebApp(config, password, status or from_file, **extra)
    return WebServer(app, web, port=port)


def start_web(agent: Agent) -> WebServer:
    """Serve the page from a thread beside the agent; its live values come from the agent."""
    tracker = attach_live(agent)
    data_dir = agent.config.gateway.data_dir

    def current() -> dict[str, Any]:
        # status.json is rewritten every few seconds; the live values are fresher in memory
        return {**(status_file.read(data_dir) or {}), "live": tracker.snapshot()}

    server = open_web(agent.config, current)
    web = agent.config.web
    assert web is not None
    agent.status_parts["web"] = lambda: {
        "listen": web.listen,
        "serving": server.serving,
        "last_error": server.last_error,
    }
    server.start(agent.health)  # supervised: a failure is an alarm, then a restart
    return server
