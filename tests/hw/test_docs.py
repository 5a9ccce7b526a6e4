"""The installer documents in hw/ stay true to the CLI, the unit and each other."""

from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path

import pytest

from edge.cli import build_parser

HW = Path(__file__).resolve().parents[2] / "hw"
DOCS = [HW / "wiring.md", HW / "raspberry-pi.md"]
# `edge-agent SUB --opt ...` in a shell line, also wrapped with a trailing backslash
COMMAND = re.compile(r"edge-agent ([a-z][a-z-]*)((?:\\\n|[^\n`])*)")


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    for action in parser._actions:  # argparse offers no public way to list sub-parsers
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("edge-agent has no sub-commands")


def anchor(title: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_edge_agent_command_in_the_docs_exists_with_its_options(doc: Path) -> None:
    known = subcommands()
    found = 0
    for name, rest in COMMAND.findall(doc.read_text()):
        assert name in known, f"{doc.name}: edge-agent {name} is no command"
        options = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", rest))
        offered = {o for a in known[name]._actions for o in a.option_strings}
        assert options <= offered, f"{doc.name}: edge-agent {name} {options - offered}"
        found += 1
    assert found >= (3 if doc.name == "raspberry-pi.md" else 0)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_links_between_the_documents_resolve(doc: Path) -> None:
    for target, fragment in re.findall(r"\]\(([\w.-]+\.\w+)(?:#([\w-]+))?\)", doc.read_text()):
        path = HW / target
        assert path.exists(), f"{doc.name} links to missing {target}"
        if fragment:
            headings = re.findall(r"^#+ (.+)$", path.read_text(), flags=re.M)
            assert fragment in {anchor(h) for h in headings}, f"{target}#{fragment}"


def test_the_walkthrough_uses_the_units_paths() -> None:
    unit = (HW / "edge-agent.service").read_text()
    guide = (HW / "raspberry-pi.md").read_text()
    exec_start = re.search(r"^ExecStart=(\S+) run --config (\S+)$", unit, flags=re.M)
    assert exec_start is not None
    binary, config = exec_start.groups()
    assert f"{binary} check-config" in guide and config in guide
    for step in (
        "enable_uart=1",
        "dtoverlay=disable-bt",
        "do_serial_cons 1",
        "do_serial_hw 0",
        "console=serial0,115200",
        "usermod -aG dialout p1edge",
        "systemctl enable --now edge-agent",
        "journalctl -u edge-agent",
    ):
        assert step in guide, step


def test_wiring_cites_the_standard_for_every_electrical_limit() -> None:
    text = (HW / "wiring.md").read_text()
    for fact, section in (
        ("250 mA", "§5.3"),
        ("4.0–5.5 V", "§5.7.1"),
        ("5 mA", "§5.7.2"),
        ("100 mA", "v4.2.2 §4.2"),
        ("RJ11", "v3.0 §4.6"),
    ):
        assert fact in text and section in text, (fact, section)


def test_the_install_builds_our_wheel_into_the_venv_and_never_installs_by_name() -> None:
    guide = (HW / "raspberry-pi.md").read_text()
    # an unregistered name on PyPI is open to squatting: only our own wheel is installed
    assert not re.search(r"pip install (--upgrade )?p1edge\b", guide)
    version = tomllib.loads((HW.parent / "pyproject.toml").read_text())["project"]["version"]
    wheel = f"dist/p1edge-{version}-py3-none-any.whl"
    assert "sudo python3 -m venv /opt/p1edge" in guide
    assert "/opt/p1edge/bin/pip wheel --no-deps -w dist ." in guide
    assert f"sudo /opt/p1edge/bin/pip install {wheel}" in guide
    updating = guide[guide.index("## Updating") :]
    assert "/opt/p1edge/bin/pip install --upgrade dist/p1edge-" in updating
    assert "--force-reinstall" in updating and "systemctl restart edge-agent" in updating
    # 32-bit Raspberry Pi OS: where cryptography's cffi comes from
    assert "piwheels" in guide and "cffi" in guide and "/etc/pip.conf" in guide


def test_the_boot_waits_for_ntp_but_not_forever() -> None:
    guide = (HW / "raspberry-pi.md").read_text()
    unit = (HW / "edge-agent.service").read_text()
    dropin = (HW / "time-wait-sync.conf").read_text()
    settings = dict(re.findall(r"^(\w+)=(.*)$", unit, flags=re.M))
    assert "time-sync.target" in settings["After"].split()
    assert "systemd-time-wait-sync.service" in settings["Wants"].split()
    assert "sudo systemctl enable systemd-time-wait-sync.service" in guide
    target = "/etc/systemd/system/systemd-time-wait-sync.service.d/p1edge.conf"
    assert re.search(
        r"install -D -m 0644 hw/time-wait-sync\.conf \\\n\s+" + re.escape(target), guide
    )
    timeout = re.search(r"^\[Service\]\nTimeoutStartSec=(\d+)min$", dropin, flags=re.M)
    assert timeout is not None and 1 <= int(timeout[1]) <= 15, "a bounded wait, in minutes"
