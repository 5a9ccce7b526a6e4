"""Key files: modes, formats, refusal to overwrite, errors that name the path."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from edge.blocks.keys import (
    generate_key,
    key_id,
    load_private_key,
    load_public_key,
    private_key_pem,
    public_key_pem,
    raw_public_key,
    save_private_key,
    save_public_key,
)
from edge.errors import ConfigError, KeyFileError


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    key = generate_key()
    save_private_key(key, tmp_path / "gw.key")
    save_public_key(key, tmp_path / "gw.pub")
    loaded = load_private_key(tmp_path / "gw.key")
    public = load_public_key(tmp_path / "gw.pub")
    assert raw_public_key(loaded) == raw_public_key(key) == raw_public_key(public)
    assert key_id(public) == key_id(key)
    assert len(raw_public_key(key)) == 32 and len(key_id(key)) == 8
    assert (tmp_path / "gw.key").read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert (tmp_path / "gw.pub").read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert private_key_pem(key) == (tmp_path / "gw.key").read_bytes()
    assert public_key_pem(key) == (tmp_path / "gw.pub").read_bytes()


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_private_key_mode_is_0600_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        save_private_key(generate_key(), tmp_path / "gw.key")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "gw.key").stat().st_mode) == 0o600


def test_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "gw.key"
    path.write_bytes(b"precious")
    with pytest.raises(KeyFileError, match=re.escape(str(path))):
        save_private_key(generate_key(), path)
    with pytest.raises(KeyFileError, match="already exists"):
        save_public_key(generate_key(), path)
    assert path.read_bytes() == b"precious"


def test_key_file_error_is_a_config_error() -> None:
    assert issubclass(KeyFileError, ConfigError)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match=r"cannot read key file .*nope\.key"):
        load_private_key(tmp_path / "nope.key")
    with pytest.raises(KeyFileError, match=r"nope\.pub"):
        load_public_key(tmp_path / "nope.pub")


def test_directory_in_the_way(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot create"):
        save_private_key(generate_key(), tmp_path / "missing" / "gw.key")


def test_garbage_and_wrong_kinds_are_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("hello")
    with pytest.raises(KeyFileError, match=r"garbage\.pem"):
        load_private_key(garbage)
    with pytest.raises(KeyFileError, match=r"garbage\.pem"):
        load_public_key(garbage)

    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_private = tmp_path / "ec.key"
    ec_private.write_bytes(ec_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    ec_public = tmp_path / "ec.pub"
    ec_public.write_bytes(
        ec_key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(KeyFileError, match=r"ec\.key holds a .*not an Ed25519 private key"):
        load_private_key(ec_private)
    with pytest.raises(KeyFileError, match=r"ec\.pub holds a .*not an Ed25519 public key"):
        load_public_key(ec_public)

    # the public half where the private key is expected, and vice versa
    public = tmp_path / "gw.pub"
    save_public_key(generate_key(), public)
    with pytest.raises(KeyFileError, match=r"gw\.pub"):
        load_private_key(public)
    private = tmp_path / "gw.key"
    save_private_key(Ed25519PrivateKey.generate(), private)
    with pytest.raises(KeyFileError, match=r"gw\.key"):
        load_public_key(private)
