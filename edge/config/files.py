"""Checking the files a configuration names: each one loaded as what its key says it is.

Readable is not enough: a private key given as `grid.operator_key`, a certificate given as
`signing.key` or an empty password file would pass an "open and read a byte" test and fail much
later, on the grid operator's side. So every file is parsed with its expected type here, and
the signing key must be private to its owner (SPEC §6: mode 0600) — a group- or
world-readable key is refused with the command that fixes it.
"""

from __future__ import annotations

import stat
from pathlib import Path

from edge.config.table import fail

_KEYGEN_HINT = "; create it with `edge-agent keygen --dir DIR`"


def check_file(key: str, path: Path) -> None:
    """Raise `ConfigError` naming `key` unless `path` holds what `key` expects."""
    data = _read(key, path)
    kind = key.rsplit(".", 1)[-1]
    if key == "signing.key":
        _private_mode(key, path)
        _ed25519_private(key, path, data)
    elif kind == "operator_key":
        _ed25519_public(key, path, data)
    elif kind in ("ca_file", "client_cert"):
        _certificates(key, path, data)
    elif kind == "client_key":
        _any_private(key, path, data)
    elif kind == "password_file" and not data.strip():
        fail(key, f"{path} is empty; write the broker password into it")


def _read(key: str, path: Path) -> bytes:
    hint = _KEYGEN_HINT if key == "signing.key" else ""
    try:
        return path.read_bytes()
    except IsADirectoryError:
        fail(key, f"{path} is a directory, not a file{hint}")
    except OSError as exc:
        fail(key, f"cannot read {path} ({exc.strerror or exc}); fix the path or permissions{hint}")


def _private_mode(key: str, path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        fail(
            key,
            f"{path} has mode {mode:04o}: the signing key must be readable by its owner only; "
            f"run `chmod 600 {path}`",
        )


def _ed25519_private(key: str, path: Path, data: bytes) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        loaded = load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        fail(key, f"{path} is not an unencrypted PEM private key{_KEYGEN_HINT}")
    if not isinstance(loaded, Ed25519PrivateKey):
        fail(key, f"{path} holds a {type(loaded).__name__}, not an Ed25519 private key")


def _ed25519_public(key: str, path: Path, data: bytes) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    if b"PRIVATE KEY" in data:
        fail(key, f"{path} is a private key: give the grid operator's public key (PEM)")
    try:
        loaded = load_pem_public_key(data)
    except (ValueError, TypeError):
        fail(key, f"{path} is not a PEM public key; ask the grid operator for theirs")
    if not isinstance(loaded, Ed25519PublicKey):
        fail(key, f"{path} holds a {type(loaded).__name__}, not an Ed25519 public key")


def _certificates(key: str, path: Path, data: bytes) -> None:
    from cryptography.x509 import load_pem_x509_certificates

    try:
        load_pem_x509_certificates(data)
    except ValueError:
        fail(key, f"{path} is not a PEM certificate file")


def _any_private(key: str, path: Path, data: bytes) -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        fail(key, f"{path} is not an unencrypted PEM private key")
