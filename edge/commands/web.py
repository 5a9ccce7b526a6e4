"""`edge-agent web`: the customer's page on its own (`edge-agent run` serves it itself)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from edge.commands.common import add_config_argument, config_or_exit, fail
from edge.errors import ConfigError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "web",
        help="serve the customer's own page ([web] in the config)",
        description="Now, day, month and privacy views of the agent's store (read-only beside "
        "the running agent); consent changes need the password. `edge-agent run` starts the "
        "page itself when [web] is configured: use this command when the agent is not running.",
    )
    add_config_argument(parser)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    config = config_or_exit(args.config)
    if config.web is None:
        fail(f'{args.config}: no [web] section; add e.g. [web] listen = "0.0.0.0:8080"')
    from edge.web import open_web

    try:
        server = open_web(config)
    except ConfigError as exc:
        fail(f"{args.config}: {exc}")
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()
    scheme = "https" if config.web.tls else "http"
    print(f"serving on {scheme}://{config.web.listen}/", file=sys.stderr, flush=True)
    while not stop.wait(0.5):
        if not server.serving:
            break
    server.stop()
    return 0 if stop.is_set() else 1
