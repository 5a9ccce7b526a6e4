"""`edge-agent grid …`: the grid operator's tools: verify, request, collect, export, registry.

Each tool is a sub-command of `grid`: add its registration function to `_TOOLS`. The tools that
talk to a broker share its options (`_add_broker_options`) and connect with `BlockingClient`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from edge.adapters.mqtt_blocking import BlockingClient
from edge.adapters.mqtt_config import PROTOCOLS, BrokerSettings
from edge.adapters.mqtt_topics import COMMAND_KINDS, DEFAULT_PREFIX
from edge.blocks.cose import keyring
from edge.blocks.keys import load_private_key, load_public_key
from edge.blocks.request import CONSENT_VALUES
from edge.commands import grid_allocate, grid_fleet, grid_store
from edge.errors import BlockError, ConfigError, KeyFileError, MqttError, RequestTimeoutError
from edge.grid.requester import ask, describe_reply, new_request, parse_seq_range
from edge.grid.verify import BlockReport, VerifyResult, verify_blocks

if TYPE_CHECKING:  # argparse's class is generic only to type checkers
    _SubParsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


def register(subparsers: _SubParsers) -> None:
    """Add the `grid` command and its tools."""
    parser = subparsers.add_parser(
        "grid",
        help="grid operator tools: verify, request and collect day blocks",
        description="Tools for the grid operator's side of the day-block exchange.",
    )
    tools = parser.add_subparsers(dest="grid_command", metavar="TOOL", required=True)
    for add_tool in _TOOLS:
        add_tool(tools)


def _register_verify(tools: _SubParsers) -> None:
    parser = tools.add_parser(
        "verify",
        help="verify stored day blocks and their chain",
        description="Verify COSE day blocks: signature, kid, contents, and per (gateway, "
        "allocation point) the chain (seq + 1, prev hash). Gaps are reported apart from "
        "failures. Exit 0 when every block verified, 1 on any failure, 2 on unusable input.",
    )
    parser.add_argument(
        "--pubkey",
        action="append",
        required=True,
        type=Path,
        metavar="PEM",
        help="gateway public key (SPKI PEM); repeat for several gateways",
    )
    parser.add_argument(
        "--in-order", action="store_true", help="blocks must come in seq order (as given)"
    )
    parser.add_argument(
        "--strict-encoding",
        action="store_true",
        help="re-encode each payload to prove it is deterministic CBOR (slower)",
    )
    parser.add_argument("--fail-on-gap", action="store_true", help="exit 1 if the chain has gaps")
    parser.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="a .cose file, or a directory of them"
    )
    parser.set_defaults(func=run_verify)


def _add_broker_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--broker", required=True, metavar="URL", help="mqtt://host:port or mqtts://…"
    )
    parser.add_argument("--prefix", default=DEFAULT_PREFIX, help=f"topic prefix ({DEFAULT_PREFIX})")
    parser.add_argument("--protocol", default="5", choices=PROTOCOLS, help="MQTT version (5)")
    parser.add_argument("--username", default="", help="broker user name")
    parser.add_argument("--password-file", default="", metavar="FILE", help="password (a file)")
    parser.add_argument("--ca-file", default="", metavar="PEM", help="CA to verify the broker")
    parser.add_argument("--client-cert", default="", metavar="PEM", help="TLS client certificate")
    parser.add_argument("--client-key", default="", metavar="PEM", help="its private key")


def _register_request(tools: _SubParsers) -> None:
    parser = tools.add_parser(
        "request",
        help="send a signed readout or consent request to a gateway and print its reply",
        description="Sign a readout (or consent) request with the grid operator's Ed25519 key, "
        "publish it on the gateway's command topic and wait for the reply with its request id. "
        "Exit 0 when answered (also when refused), 1 on timeout, 2 on unusable input.",
    )
    parser.add_argument("--key", required=True, type=Path, metavar="PEM", help="operator key")
    parser.add_argument("--gateway", required=True, metavar="GW", help="gateway id")
    parser.add_argument("--ap", required=True, metavar="EAN", help="allocation point")
    parser.add_argument("--type", default="readout", choices=COMMAND_KINDS, dest="kind")
    parser.add_argument("--consent", choices=sorted(CONSENT_VALUES), help="for --type consent")
    parser.add_argument("--day", metavar="YYYY-MM-DD", help="the day asked for (readout)")
    parser.add_argument(
        "--resend", metavar="FROM-TO", help="re-queue the signed blocks of seqs FROM..TO (resend)"
    )
    parser.add_argument("--timeout", type=float, default=30.0, metavar="S", help="wait (30 s)")
    _add_broker_options(parser)
    parser.set_defaults(func=run_request)


def _register_collect(tools: _SubParsers) -> None:
    grid_store.register_collect(tools, _add_broker_options)
    tools.choices["collect"].set_defaults(func=run_collect)


_TOOLS: tuple[Callable[[_SubParsers], None], ...] = (
    _register_verify,
    _register_request,
    _register_collect,
    grid_store.register_export,
    grid_store.register_registry,
    grid_store.register_keys,
    grid_fleet.register_fleet,
    grid_allocate.register_allocate,
)


def _cose_files(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.cose") if p.is_file())
        else:
            yield path


def run_verify(args: argparse.Namespace) -> int:
    """Verify the files; one line per block, then a summary."""
    try:
        ring = keyring(*(load_public_key(path) for path in args.pubkey))
    except KeyFileError as exc:
        print(f"edge-agent grid verify: {exc}", file=sys.stderr)
        return 2
    blocks: list[tuple[str, bytes]] = []
    unreadable: list[str] = []
    for path in _cose_files(args.files):
        try:
            blocks.append((str(path), path.read_bytes()))
        except OSError as exc:
            unreadable.append(f"FAIL  {path}: cannot read: {exc.strerror}")
    if not blocks and not unreadable:
        print("edge-agent grid verify: no .cose files found", file=sys.stderr)
        return 2
    result = verify_blocks(
        blocks, ring, in_order=args.in_order, strict_encoding=args.strict_encoding
    )
    out = sys.stdout
    for line in unreadable:
        print(line, file=out)
    for report in result.reports:
        print(_line(report), file=out)
    print(_summary(result, len(unreadable)), file=out)
    if unreadable or not result.ok:
        return 1
    return 1 if args.fail_on_gap and result.gaps else 0


def _line(report: BlockReport) -> str:
    verdict = "ok  " if report.ok else "FAIL"
    text = f"{verdict}  {report.source}"
    if report.seq is not None:  # the payload could be read: say which block it is
        text += f"  {report.gw}/{report.ap} seq={report.seq} day={report.day} n={report.n}"
    if report.kid is not None:
        text += f" kid={report.kid}"
    details = [*report.problems, *(f"note: {n}" for n in report.notes)]
    return f"{text}: {'; '.join(details)}" if details else text


def _summary(result: VerifyResult, unreadable: int) -> str:
    total = len(result.reports) + unreadable
    failed = result.failures + unreadable
    gaps = "; ".join(
        f"{g.gw}/{g.ap} seq {g.first}{'' if g.first == g.last else f'-{g.last}'} missing"
        for g in result.gaps
    )
    verdict = "FAILED" if failed else "OK"
    return (
        f"{verdict}: {total} blocks, {total - failed} verified, {failed} failed, "
        f"{len(result.gaps)} gap{'' if len(result.gaps) == 1 else 's'}"
        + (f" ({gaps})" if gaps else "")
    )


def _settings(args: argparse.Namespace) -> BrokerSettings:
    return BrokerSettings.from_config(
        args.broker,
        protocol=args.protocol,
        username=args.username,
        password_file=args.password_file,
        ca_file=args.ca_file,
        client_cert=args.client_cert,
        client_key=args.client_key,
        key_prefix="--",
    )


def _fail(tool: str, message: str) -> int:
    print(f"edge-agent grid {tool}: {message}", file=sys.stderr)
    return 2


def run_request(args: argparse.Namespace) -> int:
    """Send one signed request; the reply as JSON on stdout, one human line on stderr."""
    try:
        key = load_private_key(args.key)
        seqs = parse_seq_range(args.resend) if args.resend else None
        request = new_request(
            "resend" if seqs else args.kind,
            gateway=args.gateway,
            ap=args.ap,
            now=int(time.time()),
            consent=args.consent,
            day=args.day,
            seqs=seqs,
        )
        settings = _settings(args)
    except (ConfigError, BlockError) as exc:
        return _fail("request", str(exc))
    try:
        with BlockingClient(settings) as client:
            reply = ask(client, args.prefix, request, key, timeout=args.timeout)
    except RequestTimeoutError as exc:
        print(f"timeout: {exc}", file=sys.stderr)
        return 1
    except MqttError as exc:
        return _fail("request", str(exc))
    print(json.dumps(reply, sort_keys=True))  # stdout is JSON only: it pipes into jq
    print(describe_reply(reply), file=sys.stderr)
    return 0


def run_collect(args: argparse.Namespace) -> int:
    """`grid collect` (see `edge.commands.grid_store`), with the shared broker options."""
    try:
        settings = _settings(args)
    except ConfigError as exc:
        return _fail("collect", str(exc))
    return grid_store.run_collect(args, settings)
