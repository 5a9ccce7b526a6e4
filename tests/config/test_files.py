"""Paths: relative to the config file, data_dir created and probed, key files via check_files."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.blocks.keys import generate_key, private_key_pem, save_private_key, save_public_key
from edge.config import ConfigError, FileSource, load_config, parse_config
from edge.errors import EdgeError
from tests.config.support import PAP, error_of, table
from tests.support.certs import TestCA

CONFIG = f"""
[gateway]
id = "GW-0042"
data_dir = "state"

[connection]
ean = "{PAP}"
phases = 1
fuse_a = 40

[[allocation_point]]
ean = "{PAP}"
role = "primary"
source = "file:captures/main.txt"

[signing]

[grid]
broker = "mqtts://grid.example"
ca_file = "keys/ca.pem"
operator_key = "/etc/p1edge/operator.pub"
password_file = "~/grid.password"
username = "GW-0042"
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "etc" / "config.toml"
    path.parent.mkdir()
    path.write_text(CONFIG)
    return path


def test_relative_paths_resolve_against_the_config_dir(config_file: Path) -> None:
    config = load_config(config_file)
    base = config_file.parent
    assert config.path == config_file
    assert config.gateway.data_dir == base / "state"
    assert config.gateway.data_dir.is_dir(), "data_dir is created"
    assert config.primary.source == FileSource(base / "captures" / "main.txt")
    assert config.signing.key == base / "keys" / "gateway.key"
    assert config.grid is not None
    assert config.grid.broker.port == 8883
    assert config.grid.ca_file == base / "keys" / "ca.pem"
    assert config.grid.operator_key == Path("/etc/p1edge/operator.pub")
    assert config.grid.password_file == Path.home() / "grid.password"


def test_load_config_from_relative_path(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(config_file.parent.parent)
    config = load_config(Path("etc") / "config.toml")
    assert config.gateway.data_dir == config_file.parent / "state"


def test_toml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[gateway]\nid = "GW-1\n')
    with pytest.raises(ConfigError, match=r"invalid TOML: .*line 2, column"):
        load_config(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the configuration file"):
        load_config(tmp_path / "nope.toml")


def test_data_dir_under_a_file_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file in the way")
    message = error_of(table(tmp_path / "blocker" / "data"), tmp_path)
    assert message.startswith("gateway.data_dir: cannot create ")


def test_data_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("")
    message = error_of(table(tmp_path / "data"), tmp_path)
    assert message.startswith("gateway.data_dir: ") and "not a directory" in message


def test_data_dir_not_touched_without_prepare(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("")
    config = parse_config(table(tmp_path / "blocker" / "d"), tmp_path, prepare_dirs=False)
    assert config.gateway.data_dir == tmp_path / "blocker" / "d"


def _with_keys(tmp_path: Path) -> dict[str, object]:
    data = table(tmp_path / "data")
    data["signing"] = {"key": "keys/gateway.key"}
    data["grid"] = {
        "broker": "mqtts://grid.example",
        "operator_key": "keys/operator.pub",
        "ca_file": "keys/ca.pem",
        "username": "gw",
        "password_file": "grid.password",
    }
    keys = tmp_path / "keys"
    keys.mkdir()
    save_private_key(generate_key(), keys / "gateway.key")  # mode 0600
    save_public_key(generate_key(), keys / "operator.pub")
    TestCA(keys).ca_file.rename(keys / "ca.pem")
    (tmp_path / "grid.password").write_text("secret")
    return data


def test_check_files_accepts_readable_files(tmp_path: Path) -> None:
    config = parse_config(_with_keys(tmp_path), tmp_path)
    config.check_files()
    assert set(config.key_files()) == {
        "signing.key",
        "grid.operator_key",
        "grid.ca_file",
        "grid.password_file",
    }


@pytest.mark.parametrize(
    ("key", "file"),
    [
        ("signing.key", "keys/gateway.key"),
        ("grid.operator_key", "keys/operator.pub"),
        ("grid.ca_file", "keys/ca.pem"),
        ("grid.password_file", "grid.password"),
    ],
)
def test_unreadable_key_file_names_the_key(tmp_path: Path, key: str, file: str) -> None:
    config = parse_config(_with_keys(tmp_path), tmp_path)
    (tmp_path / file).unlink()
    with pytest.raises(ConfigError) as info:
        config.check_files()
    assert str(info.value).startswith(f"{key}: cannot read {tmp_path / file}")


def test_key_file_that_is_a_directory(tmp_path: Path) -> None:
    config = parse_config(_with_keys(tmp_path), tmp_path)
    (tmp_path / "keys" / "gateway.key").unlink()
    (tmp_path / "keys" / "gateway.key").mkdir()
    with pytest.raises(ConfigError, match=r"^signing\.key: .* is a directory.*keygen"):
        config.check_files()


def test_config_error_is_an_edge_error() -> None:
    assert issubclass(ConfigError, EdgeError)


def test_group_readable_signing_key_is_refused_with_the_fix(tmp_path: Path) -> None:
    config = parse_config(_with_keys(tmp_path), tmp_path)
    key = tmp_path / "keys" / "gateway.key"
    key.chmod(0o644)
    with pytest.raises(ConfigError) as info:
        config.check_files()
    message = str(info.value)
    assert message.startswith(f"signing.key: {key} has mode 0644") and "\n" not in message
    assert f"chmod 600 {key}" in message


def test_private_key_as_operator_key_is_refused(tmp_path: Path) -> None:
    config = parse_config(_with_keys(tmp_path), tmp_path)
    (tmp_path / "keys" / "operator.pub").write_bytes(private_key_pem(generate_key()))
    with pytest.raises(ConfigError, match=r"^grid\.operator_key: .* is a private key"):
        config.check_files()


@pytest.mark.parametrize(
    ("key", "file", "says"),
    [
        ("signing.key", "keys/gateway.key", "not an unencrypted PEM private key"),
        ("grid.operator_key", "keys/operator.pub", "not a PEM public key"),
        ("grid.ca_file", "keys/ca.pem", "not a PEM certificate"),
        ("grid.password_file", "grid.password", "is empty"),
    ],
)
def test_every_key_file_is_loaded_as_its_type(
    tmp_path: Path, key: str, file: str, says: str
) -> None:
    config = parse_config(_with_keys(tmp_path), tmp_path)
    (tmp_path / file).write_text("" if key.endswith("password_file") else "PEM")
    with pytest.raises(ConfigError) as info:
        config.check_files()
    assert str(info.value).startswith(f"{key}: ") and says in str(info.value)


def test_public_key_given_as_signing_key_is_refused(tmp_path: Path) -> None:
    config = parse_config(_with_keys(tmp_path), tmp_path)
    (tmp_path / "keys" / "operator.pub").replace(tmp_path / "keys" / "gateway.key")
    (tmp_path / "keys" / "gateway.key").chmod(0o600)
    with pytest.raises(ConfigError, match=r"^signing\.key: .*not an unencrypted PEM private"):
        config.check_files()
