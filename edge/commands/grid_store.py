"""`edge-agent grid collect | export | registry`: the grid operator's store-side tools.

Registered into `edge-agent grid` by `edge.commands.grid`. Every tool takes `--store URL`
(`sqlite:///PATH`, a bare path, or `postgresql://…`); `--db FILE` is the older spelling of an
SQLite store and keeps working.
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from edge.adapters.mqtt_config import BrokerSettings
from edge.blocks.cose import raw_public_key
from edge.errors import ConfigError, KeyFileError, MqttError
from edge.grid.collector import Collector, startup_keys
from edge.grid.ingest import load_gateway_keys
from edge.grid.registry import RegistryError, parse_registry
from edge.grid.store import open_store, store_url
from edge.grid.subscriber import CollectSummary, SessionOptions, StoreFailure, collect

if TYPE_CHECKING:  # argparse's class is generic only to type checkers
    _SubParsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


def add_store_options(parser: argparse.ArgumentParser) -> None:
    """`--store URL` and its older form `--db FILE`."""
    parser.add_argument(
        "--store", metavar="URL", help="sqlite:///PATH, a file path, or postgresql://…"
    )
    parser.add_argument("--db", type=Path, metavar="FILE", help="an SQLite store file")


def register_collect(
    tools: _SubParsers, add_broker_options: Callable[[argparse.ArgumentParser], None]
) -> None:
    parser = tools.add_parser(
        "collect",
        help="receive, verify and store day blocks from every gateway",
        description="Subscribe to {prefix}/+/ap/+/day/+ (and month/+), verify each block "
        "(signature by the key bound to its gateway: DIR/<gw>.pub or the store's keys from "
        "`grid keys import`, contents, the topic, the "
        "chain link to stored neighbours), store it once per (gateway, ap, seq) and the "
        "rejected ones apart with their reason. A block is acknowledged to the broker only "
        "after its commit; the session persists (same --client-id) so a restarted collector "
        "gets what it had not acknowledged. Reconnects to the broker and to the store with "
        "backoff: while the store is away (restarting, unreachable, locked, disk full) nothing "
        "is acknowledged and the blocks wait. Prints one line per block and a summary (also "
        "on SIGTERM). Exit 0 when stopped, 1 if --timeout came before --until, 2 on unusable "
        "arguments, keys, broker or store at start (also a store schema newer than this "
        "program), 3 when the store failed in a way retrying cannot fix or the run ended "
        "while it was away (nothing uncommitted was acknowledged: the broker keeps it).",
    )
    parser.add_argument(
        "--pubkeys",
        type=Path,
        metavar="DIR",
        help="DIR/<gateway>.pub keys (with the keys imported into the store: grid keys)",
    )
    add_store_options(parser)
    parser.add_argument(
        "--share", metavar="GROUP", help="MQTT 5 shared subscription $share/GROUP/… (scale out)"
    )
    parser.add_argument(
        "--client-id",
        metavar="ID",
        help="session id, unique per collector (default p1edge-collect-<host>[-<group>])",
    )
    parser.add_argument(
        "--session-expiry",
        type=int,
        default=3600,
        metavar="S",
        help="the broker keeps the session (and unacknowledged blocks) S s after a loss (3600)",
    )
    parser.add_argument("--batch", type=int, default=500, metavar="N", help="blocks per commit")
    parser.add_argument("--until", type=int, metavar="N", help="exit after N blocks stored")
    parser.add_argument("--timeout", type=float, metavar="S", help="give up after S seconds")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print rejections and gaps only, no ok/dup"
    )
    add_broker_options(parser)
    parser.set_defaults(func=run_collect)


def _fail(tool: str, message: str) -> int:
    print(f"edge-agent grid {tool}: {message}", file=sys.stderr)
    return 2


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM/SIGINT end the run in order (commit, acknowledge, summary); main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    for sig in previous:
        signal.signal(sig, lambda _s, _f: stop.set())
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_collect(args: argparse.Namespace, settings: BrokerSettings) -> int:
    """Collect until --until blocks are stored, --timeout, or SIGTERM; print a summary."""
    try:
        url = store_url(args.store, args.db)
        # unusable key files: say so before the store is opened
        from_dir = None if args.pubkeys is None else load_gateway_keys(args.pubkeys)
        if args.batch < 1 or args.session_expiry < 0:
            raise ConfigError("--batch must be ≥ 1 and --session-expiry ≥ 0")
        default_id = f"p1edge-collect-{socket.gethostname()}" + (
            f"-{args.share}" if args.share else ""
        )
        options = SessionOptions(
            client_id=args.client_id or default_id,
            share=args.share,
            session_expiry=args.session_expiry,
            batch=args.batch,
        )
        store = open_store(url)
        try:
            now = int(time.time())
            keys = startup_keys(store, from_dir, str(args.pubkeys))
        except (ConfigError, KeyFileError):
            store.close()
            raise
        pinned = frozenset(from_dir.kids if from_dir else ())
        collector = Collector(store, keys, prefix=args.prefix, keys_since=now, pinned=pinned)
    except (ConfigError, KeyFileError) as exc:
        return _fail("collect", str(exc))
    deadline = None if args.timeout is None else time.time() + args.timeout
    stop = threading.Event()
    summary = CollectSummary()
    try:
        with _stop_on_signals(stop):
            collect(
                settings, collector, options, until=args.until, deadline=deadline, stop=stop,
                summary=summary,
                out=lambda line: print(line, flush=True),
                note=lambda line: print(line, file=sys.stderr, flush=True),
                quiet=args.quiet,
            )  # fmt: skip
    except MqttError as exc:
        return _fail("collect", str(exc))
    except StoreFailure as exc:  # unacknowledged blocks stay with the broker: start again
        print(f"edge-agent grid collect: {exc}; nothing uncommitted was acknowledged",
              file=sys.stderr)  # fmt: skip
        summary.stop_reason = "store failed"
    finally:
        try:
            gaps: int | str = len(collector.gaps())
            total: int | str = collector.count()
        except Exception as exc:  # the store may be what failed: the summary still prints
            gaps = total = f"unknown (store: {exc})"
        collector.close()
    print(
        f"collected: {summary.stored} stored, {summary.duplicates} duplicates, "
        f"{summary.rejected} rejected, {gaps} gaps",
        flush=True,
    )
    note = f"collect: {summary.reconnects} reconnects, {summary.unacked} unacknowledged at a "
    note += f"reconnect (the broker sends them again), {total} blocks in the store, "
    note += f"{summary.store_outages} store outages ({summary.store_outage_seconds:.1f} s)"
    if summary.left:
        note += f", {summary.left} received blocks not committed (left with the broker)"
    print(note, file=sys.stderr, flush=True)
    if summary.stop_reason == "store failed" or summary.left:
        return 3
    return 1 if args.until is not None and summary.stored < args.until else 0


def register_export(tools: _SubParsers) -> None:
    parser = tools.add_parser(
        "export",
        help="write the stored blocks as .cose files (for grid verify)",
        description="Write every stored block, exactly the received signed bytes, as "
        "OUT/<gateway>/<ap>/<seq>.cose, ready for `edge-agent grid verify`.",
    )
    add_store_options(parser)
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output directory")
    parser.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    """Export; exit 2 on an unusable store or output directory."""
    try:
        store = open_store(store_url(args.store, args.db))
    except ConfigError as exc:
        return _fail("export", str(exc))
    written = 0
    try:
        for gw, ap, seq, cose in store.blocks():
            if not _safe_name(gw) or not _safe_name(ap):
                print(f"skipped {gw!r}/{ap!r} seq {seq}: not usable as a file name",
                      file=sys.stderr)  # fmt: skip
                continue
            folder = args.out / gw / ap
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{seq:06d}.cose").write_bytes(cose)
            written += 1
    except OSError as exc:
        return _fail("export", f"cannot write to {args.out}: {exc.strerror or exc}")
    finally:
        store.close()
    print(f"exported: {written} blocks to {args.out}")
    return 0


def _safe_name(text: str) -> bool:
    # ids come from verified payloads, but a file name must not climb out of the directory
    return bool(text) and text not in (".", "..") and "/" not in text and "\0" not in text


def register_keys(tools: _SubParsers) -> None:
    parser = tools.add_parser(
        "keys",
        help="import the gateways' public keys into the store (shared by every collector)",
        description="The store's gateway keys: every collector of the store uses them besides "
        "its own --pubkeys DIR, and takes keys imported while it runs when a block's key is "
        "not known yet. One key per gateway, one gateway per key.",
    )
    add_store_options(parser)
    actions = parser.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    importer = actions.add_parser(
        "import",
        help="import DIR/<gateway>.pub into the store, in one transaction",
        description="Check every DIR/<gateway>.pub, then store them in one transaction. The "
        "same key again changes nothing; another key for a gateway the store holds is an "
        "error unless --replace; a key another gateway holds always is. Nothing is imported "
        "on an error.",
    )
    importer.add_argument("dir", type=Path, metavar="DIR", help="DIR/<gateway>.pub keys")
    importer.add_argument("--replace", action="store_true", help="replace gateways' keys")
    importer.set_defaults(func=run_keys_import)


def run_keys_import(args: argparse.Namespace) -> int:
    """Import a key directory; exit 2 on unusable keys, a conflict or an unusable store."""
    try:
        keys = load_gateway_keys(args.dir)
        store = open_store(store_url(args.store, args.db))
    except (ConfigError, KeyFileError) as exc:
        return _fail("keys import", str(exc))
    try:
        raw = {gw: raw_public_key(key) for gw, key in keys.keys.items()}
        count = store.import_gateway_keys(raw, now=int(time.time()), replace=args.replace)
    except KeyFileError as exc:
        return _fail("keys import", f"{exc}; nothing imported")
    finally:
        store.close()
    print(f"keys: {count} of {len(raw)} gateways' keys new or replaced in the store")
    return 0


def register_registry(tools: _SubParsers) -> None:
    parser = tools.add_parser(
        "registry",
        help="import the registry of allocation points into the store",
        description="The registry of allocation points with validity periods (CSV columns "
        "ap,connection,role,grid_area,supplier,brp,capacity_kva,valid_from,valid_to).",
    )
    add_store_options(parser)
    actions = parser.add_subparsers(dest="registry_command", metavar="ACTION", required=True)
    importer = actions.add_parser(
        "import",
        help="check a registry CSV and upsert its rows in one transaction",
        description="Check every row first (a bad row: an error with its line number, and "
        "nothing is imported), then, in one transaction, give each allocation point in the "
        "file exactly its rows from the file (--replace: the whole registry).",
    )
    importer.add_argument("file", type=Path, metavar="FILE.csv", help="the registry CSV")
    importer.add_argument(
        "--replace",
        action="store_true",
        help="the registry becomes exactly this file (default: the points in it are replaced)",
    )
    importer.set_defaults(func=run_registry_import)


def run_registry_import(args: argparse.Namespace) -> int:
    """Parse with grid-allocate's parser (edge.grid.registry), then store."""
    try:
        rows = parse_registry(args.file)
        store = open_store(store_url(args.store, args.db))
    except (ConfigError, RegistryError, OSError) as exc:
        return _fail("registry import", str(exc))
    try:
        count = store.import_registry(rows, replace=args.replace)
    finally:
        store.close()
    print(f"registry: {count} rows imported into {store.url}")
    return 0
