"""`[web]`: every mistake names its key; the password file is checked like a key file."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import SettingError, load_config
from edge.config.web import load_web_password
from tests.integration.helpers import PRIMARY, write_config
from tests.web.helpers import PASSWORD, write_password


def _config(tmp_path: Path, web: str) -> Path:
    return write_config(tmp_path, [(PRIMARY, "primary", "file:x.cap", "dsmr5")], extra=web)


def test_no_section_means_no_page(tmp_path: Path) -> None:
    assert load_config(_config(tmp_path, "")).web is None


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    write_password(tmp_path)
    web = load_config(_config(tmp_path, '\n[web]\npassword_file = "web.password"\n')).web
    assert web is not None
    assert (web.host, web.port, web.read, web.tls) == ("0.0.0.0", 8080, "password", False)
    assert web.password_file == tmp_path / "web.password"
    assert load_web_password(web) == PASSWORD.encode()


@pytest.mark.parametrize(
    ("section", "key", "words"),
    [
        ('listen = "8080"\npassword_file = "p"', "web.listen", "host:port"),
        ('listen = "0.0.0.0:99999"\npassword_file = "p"', "web.listen", "out of range"),
        ('listen = "::1:8080"\npassword_file = "p"', "web.listen", "brackets"),
        ('listen = "a b:80"\npassword_file = "p"', "web.listen", "not an address"),
        ('read = "everyone"\npassword_file = "p"', "web.read", '"lan"'),
        ('read = "lan"', "web.password_file", "always needs the password"),
        ('password_file = "p"\ncert_file = "c.pem"', "web.key_file", "TLS needs both"),
        ('password_file = "p"\nkey_file = "k.pem"', "web.cert_file", "TLS needs both"),
        ('password_file = "p"\npasword = "x"', "web.pasword", "did you mean password_file"),
        ("listen = 8080", "web.listen", "expected a string"),
    ],
)
def test_mistakes_name_the_key(tmp_path: Path, section: str, key: str, words: str) -> None:
    with pytest.raises(SettingError) as caught:
        load_config(_config(tmp_path, f"\n[web]\n{section}\n"))
    assert caught.value.key == key
    assert words in str(caught.value)


def test_ipv6_listen(tmp_path: Path) -> None:
    web = load_config(_config(tmp_path, '\n[web]\nlisten = "[::]:8443"\npassword_file = "p"\n')).web
    assert web is not None and (web.host, web.port, web.listen) == ("::", 8443, "[::]:8443")


@pytest.mark.parametrize(
    ("content", "mode", "words"),
    [
        (PASSWORD, 0o644, "mode 0644"),
        (PASSWORD, 0o640, "mode 0640"),
        ("", 0o600, "is empty"),
        ("one\ntwo", 0o600, "more than one line"),
        ("x" * 2000, 0o600, "longer than"),
    ],
)
def test_password_file_is_checked(tmp_path: Path, content: str, mode: int, words: str) -> None:
    write_password(tmp_path, content, mode)
    web = load_config(_config(tmp_path, '\n[web]\npassword_file = "web.password"\n')).web
    assert web is not None
    with pytest.raises(SettingError) as caught:
        load_web_password(web)
    assert caught.value.key == "web.password_file" and words in str(caught.value)


def test_missing_password_file_names_the_key(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, '\n[web]\npassword_file = "nowhere"\n'))
    assert config.web is not None
    with pytest.raises(SettingError, match=r"web\.password_file: cannot read"):
        load_web_password(config.web)
    # the agent's start-up check of key files knows it too
    assert config.key_files()["web.password_file"] == tmp_path / "nowhere"
