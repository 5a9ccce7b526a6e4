"""`edge-agent keygen`: create an Ed25519 key pair for signing day blocks (or operator requests).

Writes DIR/NAME.key (PKCS#8 PEM, mode 0600) and DIR/NAME.pub (SubjectPublicKeyInfo PEM, for the
grid operator). An existing key is never overwritten: losing a gateway key breaks its chain.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from edge.blocks.keys import generate_key, key_id, save_private_key, save_public_key
from edge.errors import KeyFileError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `keygen` sub-command."""
    parser = subparsers.add_parser(
        "keygen",
        help="create an Ed25519 signing key pair",
        description="Write DIR/NAME.key (private, PKCS#8 PEM, mode 0600) and DIR/NAME.pub "
        "(public, SubjectPublicKeyInfo PEM). Refuses to overwrite existing files.",
    )
    parser.add_argument("--dir", required=True, type=Path, help="directory for the key files")
    parser.add_argument(
        "--name", default="gateway", help="file name stem (default: gateway; e.g. operator)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Create the key pair; exit 2 with one line on stderr if that is not possible."""
    if not _NAME.match(args.name):
        return _fail(f"--name {args.name!r}: use letters, digits, '.', '_' or '-'")
    directory: Path = args.dir
    private_path, public_path = directory / f"{args.name}.key", directory / f"{args.name}.pub"
    for path in (private_path, public_path):
        if path.exists() or path.is_symlink():
            return _fail(f"{path} already exists; refusing to overwrite")
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        return _fail(f"cannot create directory {directory}: {exc.strerror}")
    key = generate_key()
    try:
        save_private_key(key, private_path)
        save_public_key(key, public_path)
    except KeyFileError as exc:
        return _fail(str(exc))
    print(f"wrote {private_path} (private, mode 0600) and {public_path}; kid {key_id(key).hex()}")
    return 0


def _fail(message: str) -> int:
    print(f"edge-agent keygen: {message}", file=sys.stderr)
    return 2
