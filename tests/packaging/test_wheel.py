"""The wheel as an installer gets it: built from the tree, into a fresh venv, no extras.

This is the Pi's install (hw/raspberry-pi.md step 4) on this machine: the agent's commands
work, numpy (the simulator's) is not there, and `firmware-sim` says which extra it needs.
About 15 s with a warm pip cache; it stays in the default suite so a dependency or packaging
change that breaks the install is caught by `./scripts/test`.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.packaging.helpers import ROOT, build_wheel, clean_env, pip

EXAMPLE = ROOT / "hw" / "config.example.toml"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def venv(wheel: Path) -> Path:
    venv = wheel.parent.parent / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip("install", "-q", str(wheel), python=str(venv / "bin" / "python"))
    return venv


def run(venv: Path, program: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / program), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(),
        cwd=venv,  # not the source tree: only the installed code is importable
        check=False,
    )


def test_edge_agent_help_and_check_config_run_from_the_wheel(venv: Path) -> None:
    helped = run(venv, "edge-agent", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "check-config" in helped.stdout and "status" in helped.stdout
    checked = run(venv, "edge-agent", "check-config", "--config", str(EXAMPLE))
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("configuration OK")
    where = run(venv, "python", "-c", "import edge; print(edge.__file__)")
    assert str(venv) in where.stdout, "the test must run the installed code"


def test_numpy_is_not_installed_and_the_simulator_says_which_extra(venv: Path) -> None:
    probe = run(venv, "python", "-c", "import numpy")
    assert probe.returncode != 0 and "No module named 'numpy'" in probe.stderr
    sim = run(venv, "firmware-sim", "run", "--duration", "1m")
    assert sim.returncode == 2
    assert sim.stderr.count("\n") == 1 and "p1edge[sim]" in sim.stderr, sim.stderr
    module = run(venv, "python", "-m", "firmware_sim", "--help")
    assert module.returncode == 2 and "p1edge[sim]" in module.stderr


def test_the_agents_runtime_is_only_what_it_needs(venv: Path) -> None:
    listed = pip("list", "--format=freeze", python=str(venv / "bin" / "python"))
    installed = {line.split("==")[0].lower() for line in listed.splitlines() if "==" in line}
    heavy = {"numpy", "matplotlib", "amqtt", "pynacl", "psycopg", "pycose", "dsmr-parser"}
    assert not installed & heavy, installed & heavy
    assert {"cryptography", "paho-mqtt", "cbor2", "pyserial", "construct"} <= installed
    pip("check", python=str(venv / "bin" / "python"))


def test_the_wheel_declares_numpy_only_in_extras(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = archive.read(name).decode()
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    runtime = [line for line in requires if "extra ==" not in line]
    assert runtime and not [line for line in runtime if "numpy" in line], runtime
    assert any("numpy" in line and 'extra == "sim"' in line for line in requires), requires


def test_grid_allocates_defaults_match_the_core_it_imports_late() -> None:
    pytest.importorskip("numpy")
    from edge.commands import grid_allocate
    from edge.grid import allocation

    assert (grid_allocate.DEFAULT_K, grid_allocate.DEFAULT_TZ) == (
        allocation.DEFAULT_K,
        allocation.DEFAULT_TZ,
    )


def test_grid_fleets_defaults_match_the_generator_it_imports_late() -> None:
    pytest.importorskip("numpy")
    from edge.commands import grid_fleet
    from edge.grid import fleet

    assert (grid_fleet.FIRST_DAY, grid_fleet.TZ) == (fleet.FIRST_DAY, fleet.TZ)
