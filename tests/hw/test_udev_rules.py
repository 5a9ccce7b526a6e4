"""hw/99-p1.rules parses as udev rules and gives the names the configuration uses."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

HW = Path(__file__).resolve().parents[2] / "hw"
RULES = HW / "99-p1.rules"
# KEY, KEY{attr}; an operator; a double-quoted value (udev(7) "Rules files")
TOKEN = re.compile(r'\s*([A-Z_]+(?:\{[^}]+\})?)\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*(?:,|$)')
MATCH_KEYS = {"SUBSYSTEM", "KERNEL", "KERNELS", "ATTRS", "ENV"}
ASSIGN_KEYS = {"SYMLINK", "GROUP", "MODE", "OWNER"}


def parse(line: str) -> list[tuple[str, str, str]]:
    """The (key, operator, value) tokens of one rule; AssertionError if it is not one."""
    tokens, position = [], 0
    while position < len(line):
        found = TOKEN.match(line, position)
        assert found, f"cannot parse at column {position}: {line[position:]!r}"
        tokens.append((found[1], found[2], found[3]))
        position = found.end()
    return tokens


def rules(*, commented: bool = False) -> list[list[tuple[str, str, str]]]:
    """Every rule; with `commented`, also the '#KEY==...' alternatives meant to be enabled."""
    out = []
    for raw in RULES.read_text().splitlines():
        line = raw.strip()
        if commented and re.match(r"#[A-Z]+[={]", line):
            line = line[1:]
        if line and not line.startswith("#"):
            out.append(parse(line))
    return out


def test_every_rule_parses_with_known_keys_and_operators() -> None:
    parsed = rules(commented=True)
    assert len(parsed) == 4  # three USB cables + the Pi UART alternative
    for rule in parsed:
        for key, op, _value in rule:
            name = key.split("{")[0]
            if op in ("==", "!="):
                assert name in MATCH_KEYS, key
            else:
                assert name in ASSIGN_KEYS and op in ("=", "+="), key


def test_each_name_is_bound_to_one_cable_with_group_access() -> None:
    names = {}
    for rule in rules(commented=True):
        fields = {(key, op): value for key, op, value in rule}
        assert fields[("GROUP", "=")] == "dialout" and fields[("MODE", "=")] == "0660"
        if ("ATTRS{serial}", "==") in fields:
            assert fields[("ATTRS{idVendor}", "==")] == "0403"
            assert fields[("ATTRS{idProduct}", "==")] == "6001"
            assert fields[("ATTRS{serial}", "==")].startswith("REPLACE-ME")  # visibly a placeholder
        else:
            assert fields[("KERNEL", "==")] == "ttyAMA0"
        names.setdefault(fields[("SYMLINK", "+=")], []).append(fields)
    assert set(names) == {"p1-main", "p1-ev", "p1-pv"}
    assert len(names["p1-main"]) == 2  # USB cable or, alternatively, the Pi's UART


def test_the_rules_explain_how_to_find_the_serial_number() -> None:
    assert "udevadm info -a -n /dev/ttyUSB0 | grep" in RULES.read_text()


def test_udevadm_verify_accepts_the_rules() -> None:
    udevadm = shutil.which("udevadm")
    if udevadm is None:
        pytest.skip("udevadm is not installed (Debian: apt-get install udev)")
    help_text = subprocess.run(
        [udevadm, "--help"], capture_output=True, text=True, check=False
    ).stdout
    if "verify" not in help_text:
        pytest.skip("this udevadm has no 'verify' (systemd >= 254 needed)")
    result = subprocess.run(
        [udevadm, "verify", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
