"""`edge-agent grid …`: the grid operator's tools (verify now; request and collect join later).

Each tool is a sub-command of `grid`: add its registration function to `_TOOLS`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from edge.blocks.cose import keyring
from edge.blocks.keys import load_public_key
from edge.errors import KeyFileError
from edge.grid.verify import BlockReport, VerifyResult, verify_blocks

if TYPE_CHECKING:  # argparse's class is generic only to type checkers
    _SubParsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


def register(subparsers: _SubParsers) -> None:
    """Add the `grid` command and its tools."""
    parser = subparsers.add_parser(
        "grid",
        help="grid operator tools: verify day blocks",
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


_TOOLS: tuple[Callable[[_SubParsers], None], ...] = (_register_verify,)


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
    where = f"{report.gw}/{report.ap} seq={report.seq} day={report.day} n={report.n}"
    text = f"{verdict}  {report.source}  {where} kid={report.kid}"
    details = [*report.problems, *(f"note: {n}" for n in report.notes)]
    return f"{text}: {'; '.join(details)}" if details else text


def _summary(result: VerifyResult, unreadable: int) -> str:
    total = len(result.reports) + unreadable
    failed = result.failures + unreadable
    gaps = "; ".join(f"{g.gw}/{g.ap} seq {g.first}-{g.last} missing" for g in result.gaps)
    verdict = "FAILED" if failed else "OK"
    return (
        f"{verdict}: {total} blocks, {total - failed} verified, {failed} failed, "
        f"{len(result.gaps)} gap{'' if len(result.gaps) == 1 else 's'}"
        + (f" ({gaps})" if gaps else "")
    )
