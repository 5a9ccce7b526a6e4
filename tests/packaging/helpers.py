"""pip in a subprocess; skipped (saying why) only where the package registry is unreachable."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# what pip prints when it cannot reach an index (DNS, refused, proxy, timeout, TLS)
UNREACHABLE = re.compile(
    r"NewConnectionError|Name or service not known|Temporary failure in name resolution|"
    r"Network is unreachable|Connection refused|ConnectTimeoutError|ReadTimeoutError|"
    r"ProxyError|SSLError|Max retries exceeded"
)


def clean_env() -> dict[str, str]:
    """The environment without this tree on the path (the installed code must stand alone)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def pip(*args: str, python: str = sys.executable, timeout: float = 600) -> str:
    """Run `python -m pip ARGS`; skip if the registry cannot be reached, else fail on error."""
    done = subprocess.run(
        [python, "-m", "pip", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=clean_env(),
        check=False,
    )
    output = done.stdout + done.stderr
    if done.returncode != 0:
        found = UNREACHABLE.search(output)
        if found:
            pytest.skip(f"the package registry cannot be reached ({found.group(0)}): pip {args[0]}")
        raise AssertionError(f"pip {' '.join(args)} failed ({done.returncode}):\n{output[-4000:]}")
    return output


def source_copy(folder: Path) -> Path:
    """What the wheel is built from, copied (a build writes build/ and *.egg-info beside it)."""
    src = folder / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for package in ("edge", "firmware_sim"):
        shutil.copytree(ROOT / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    return src


def build_wheel(folder: Path) -> Path:
    """Build the project's wheel into `folder`/dist, as an installer does (`pip wheel .`)."""
    src = source_copy(folder)
    pip("wheel", "--no-deps", "-q", "-w", str(folder / "dist"), str(src))
    (wheel,) = (folder / "dist").glob("p1edge-*.whl")
    return wheel
