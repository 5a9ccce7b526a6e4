"""The configuration path: --config, else $P1EDGE_CONFIG, else /etc/p1edge/agent.toml."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.helpers import PRIMARY, write_config


def _edge(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "P1EDGE_CONFIG"}
    return subprocess.run(
        [sys.executable, "-m", "edge", *args],
        capture_output=True, text=True, timeout=120, check=False, env={**base, **env},
    )  # fmt: skip


def test_p1edge_config_is_used_without_config(tmp_path: Path) -> None:
    config = write_config(tmp_path, [(PRIMARY, "primary", "file:x.cap", "dsmr5")])
    result = _edge("check-config", env={"P1EDGE_CONFIG": str(config)})
    assert result.returncode == 0 and f"configuration OK: {config}" in result.stdout


def test_config_flag_wins_over_the_environment(tmp_path: Path) -> None:
    config = write_config(tmp_path, [(PRIMARY, "primary", "file:x.cap", "dsmr5")])
    result = _edge(
        "check-config", "--config", str(config), env={"P1EDGE_CONFIG": str(tmp_path / "no")}
    )
    assert result.returncode == 0, result.stderr


def test_the_default_is_etc_p1edge_agent_toml() -> None:
    if Path("/etc/p1edge/agent.toml").exists():
        pytest.skip("this machine has /etc/p1edge/agent.toml: cannot show the default missing")
    result = _edge("status", env={})
    assert result.returncode == 2
    assert result.stderr.startswith("edge-agent: /etc/p1edge/agent.toml: cannot read")
