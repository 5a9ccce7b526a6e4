"""A minimal valid configuration table for tests to break one key at a time."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from edge.config import Config, ConfigError, parse_config, with_check_digit

PAP = with_check_digit("87168712000000000")
EV = with_check_digit("87168712000000001")
PV = with_check_digit("87168712000000002")


def secondary_ean(n: int) -> str:
    """A valid EAN for the n-th extra secondary point."""
    return with_check_digit(f"871687120000001{n:02d}")


def table(data_dir: Path) -> dict[str, Any]:
    """One primary and two secondaries (one via M-Bus), a grid and a local broker."""
    return copy.deepcopy(
        {
            "gateway": {"id": "GW-0001", "data_dir": str(data_dir)},
            "connection": {"ean": PAP, "phases": 3, "voltage": 400, "fuse_a": 25},
            "allocation_point": [
                {"ean": PAP, "role": "primary", "source": "/dev/p1-main"},
                {"ean": EV, "role": "secondary", "source": "socket://127.0.0.1:2000"},
                {"ean": PV, "role": "secondary", "source": f"mbus:{PAP}:2"},
            ],
            "grid": {"broker": "mqtt://127.0.0.1:1883"},
            "local": {"broker": "mqtt://192.168.1.10"},
        }
    )


def parse(data: dict[str, Any], base_dir: Path) -> Config:
    return parse_config(data, base_dir)


def error_of(data: dict[str, Any], base_dir: Path) -> str:
    """The message of the ConfigError that `data` raises (fails the test if none)."""
    with pytest.raises(ConfigError) as info:
        parse_config(data, base_dir)
    message = str(info.value)
    assert "\n" not in message, "errors are one line"
    return message
