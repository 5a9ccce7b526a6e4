"""hw/edge-agent.service: `systemd-analyze verify`, its hardening, and the agent under W^X.

`systemd-analyze verify` also checks that ExecStart's binary exists; /opt/p1edge is not
installed on a test machine, so the test verifies a copy of the unit whose ExecStart points at
the `edge-agent` (or Python) of this environment. Nothing else in the copy differs.
"""

from __future__ import annotations

import mmap
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edge.adapters.mqtt_blocking import BlockingClient
from edge.config import load_config
from tests.release.helpers import make_gateway
from tests.support.mosquitto import SKIP_REASON, mosquitto_binary, running_broker

HW = Path(__file__).resolve().parents[2] / "hw"
UNIT = HW / "edge-agent.service"
EXEC = "/opt/p1edge/bin/edge-agent"
ANALYZE = shutil.which("systemd-analyze")
NO_ANALYZE = "systemd-analyze is not installed (Debian: apt-get install systemd)"


def directives(text: str) -> list[tuple[str, str, str]]:
    """(section, key, value) of every setting of a unit file, in order (keys may repeat)."""
    out, section = [], ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.append((section, key.strip(), value.strip()))
    return out


def values(key: str) -> list[str]:
    return [value for _, k, value in directives(UNIT.read_text()) if k == key]


def runnable_copy(folder: Path) -> Path:
    """The unit with ExecStart's program replaced by one that exists here."""
    program = shutil.which("edge-agent") or sys.executable
    text = UNIT.read_text()
    assert text.count(EXEC) == 1
    copy = folder / "edge-agent.service"  # verify wants the real unit name
    copy.write_text(text.replace(EXEC, os.path.realpath(program)))
    return copy


def test_the_unit_declares_what_the_installation_relies_on() -> None:
    single = {key: value for _, key, value in directives(UNIT.read_text())}
    assert single["ExecStart"] == f"{EXEC} run --config /etc/p1edge/agent.toml"
    expected = {
        "Type": "notify", "NotifyAccess": "main", "WatchdogSec": "60",
        "Restart": "on-failure", "RestartSec": "5",
        "User": "p1edge", "Group": "p1edge", "SupplementaryGroups": "dialout",
        "StateDirectory": "p1edge", "ConfigurationDirectory": "p1edge",
        "RuntimeDirectory": "p1edge",
        "ProtectSystem": "strict", "ProtectHome": "yes", "NoNewPrivileges": "yes",
        "PrivateTmp": "yes", "DevicePolicy": "closed", "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
        "MemoryDenyWriteExecute": "yes", "SystemCallArchitectures": "native",
    }  # fmt: skip
    assert {key: single.get(key) for key in expected} == expected
    assert {"char-ttyUSB rw", "char-ttyAMA rw"} <= set(values("DeviceAllow"))


def test_the_example_config_fits_the_unit() -> None:
    # the StateDirectory is the example's data_dir; the udev names are its sources
    config = load_config(HW / "config.example.toml", prepare_dirs=False)
    assert config.gateway.data_dir == Path("/var/lib") / values("StateDirectory")[0]
    rules = (HW / "99-p1.rules").read_text()
    for point in config.points:
        device = str(getattr(point.source, "url", ""))
        if device.startswith("/dev/p1-"):
            assert f'SYMLINK+="{device.removeprefix("/dev/")}"' in rules


@pytest.mark.skipif(ANALYZE is None, reason=NO_ANALYZE)
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    assert ANALYZE is not None
    unit = runnable_copy(tmp_path)
    result = subprocess.run(
        [ANALYZE, "verify", "--man=no", str(unit)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    # verify exits 0 on unknown keys and merely warns: any line about our unit is a failure
    ours = [line for line in result.stderr.splitlines() if "edge-agent" in line]
    assert result.returncode == 0 and not ours, result.stderr


@pytest.mark.skipif(ANALYZE is None, reason=NO_ANALYZE)
def test_the_unit_is_rated_ok_by_systemd_analyze_security(tmp_path: Path) -> None:
    assert ANALYZE is not None
    unit = runnable_copy(tmp_path)
    result = subprocess.run(
        [ANALYZE, "security", "--offline=true", str(unit)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if "--offline" in result.stderr:  # systemd < 250 cannot rate a unit file offline
        pytest.skip(f"this systemd-analyze has no --offline: {result.stderr.strip()}")
    found = re.search(r"Overall exposure level for edge-agent\.service: ([0-9.]+) (\w+)",
                      result.stdout)  # fmt: skip
    assert found, result.stdout + result.stderr
    assert float(found[1]) <= 2.5 and found[2] == "OK", found[0]


# -- MemoryDenyWriteExecute=yes: does the agent survive W^X? ------------------------------------

PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
# The child enables the kernel's memory-deny-write-execute (Linux >= 6.3; what systemd >= 253
# uses for MemoryDenyWriteExecute=, older ones a seccomp filter with the same effect), proves
# it holds, then runs the agent's CLI in the same process.
UNDER_MDWE = """
import ctypes, mmap, sys
libc = ctypes.CDLL(None, use_errno=True)
assert libc.prctl(65, 1, 0, 0, 0) == 0, "PR_SET_MDWE"
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
except PermissionError:
    pass
else:
    sys.exit("W+X memory is still allowed")
from edge.cli import main
sys.exit(main(sys.argv[1:]))
"""


def mdwe_available() -> bool:
    """True if this kernel can enforce W^X per process (probed in a child, never here)."""
    probe = (
        "import ctypes; libc = ctypes.CDLL(None, use_errno=True); "
        f"raise SystemExit(libc.prctl({PR_SET_MDWE}, {PR_MDWE_REFUSE_EXEC_GAIN}, 0, 0, 0))"
    )
    return subprocess.run([sys.executable, "-c", probe], check=False).returncode == 0


def test_a_wx_probe_is_meaningful() -> None:
    # without MDWE this process may map W+X memory: the child's check is not vacuous
    with mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC) as m:
        assert len(m) == 4096


def test_the_agent_signs_and_publishes_over_tls_under_w_xor_x(tmp_path: Path) -> None:
    if not mdwe_available():
        pytest.skip("this kernel has no PR_SET_MDWE (Linux >= 6.3 needed)")
    if mosquitto_binary() is None:
        pytest.skip(SKIP_REASON)
    with running_broker(tmp_path / "broker", tls=True) as broker:
        assert broker.ca is not None
        gateway = make_gateway(tmp_path / "gw", broker.url)
        text = gateway.config.read_text()
        gateway.config.write_text(text + f'ca_file = "{broker.ca.ca_file}"\n')
        gateway.feed("2026-03-02T00:00:00+01:00", "31h")  # past the 01:00-05:00 push
        with BlockingClient(broker.settings()) as watcher:
            watcher.subscribe("p1edge/v1/+/ap/+/day/+")
            result = subprocess.run(
                [sys.executable, "-c", UNDER_MDWE, "run", "--config", str(gateway.config),
                 "--until-eof"],
                capture_output=True, text=True, timeout=300, check=False,
            )  # fmt: skip
            assert result.returncode == 0, result.stderr
            message = watcher.receive(timeout=30)
    assert message is not None and message.topic.endswith("/day/2026-03-02")
    assert message.payload[:1] in (b"\xd2", b"\x84")  # COSE_Sign1: tag 18 or bare array
