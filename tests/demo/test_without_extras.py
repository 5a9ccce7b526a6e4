"""Without the `sim` extra (numpy) the demo and the simulator say at once what to install;
`firmware-sim --version` needs no extra. numpy is hidden as in the Pi's venv, in this process
and every one it starts (a sitecustomize puts None in sys.modules: `import numpy` fails,
`find_spec` finds nothing); tests/packaging/test_wheel.py checks the real wheel in a venv."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from firmware_sim import __version__


def without_numpy(tmp_path: Path, code: str) -> tuple[subprocess.CompletedProcess[str], float]:
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['numpy'] = None\n")
    path = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", "import sys; " + code],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": path},
    )  # fmt: skip
    return done, time.monotonic() - started


def test_the_demo_without_the_sim_extra_says_which_extra_at_once(tmp_path: Path) -> None:
    done, took = without_numpy(tmp_path, "from edge.cli import main; sys.exit(main(['demo']))")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "p1edge[sim]" in done.stderr, done.stderr
    assert took < 25, f"{took:.1f} s: it must not wait for a reply that cannot come"


def test_firmware_sim_version_needs_no_extra(tmp_path: Path) -> None:
    code = "from firmware_sim.entry import main; sys.exit(main(['--version']))"
    done, _took = without_numpy(tmp_path, code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"firmware-sim {__version__}"
