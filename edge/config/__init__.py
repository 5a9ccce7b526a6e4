"""Configuration: TOML → frozen, validated dataclasses (SPEC §8).

`load_config(path)` reads a file; `parse_config(table, base_dir)` validates an already parsed
table. Every mistake raises `ConfigError` (usually its child `SettingError`, whose `key` names the
setting) with one line: `section.key: problem; fix`. Allocation points are numbered from 1 in
file order in messages: `allocation_point[2].ean`.
"""

from edge.config.capacity import FUSE_TABLE, Band, ConnectionConfig, band_of, capacity_va
from edge.config.ean import gs1_check_digit, validate_ean, with_check_digit
from edge.config.loader import load_config, parse_config, prepare_data_dir
from edge.config.model import Clock, Config, GatewayConfig, SigningConfig
from edge.config.mqtt import BrokerUrl, GridConfig, LocalConfig, parse_broker, parse_prefix
from edge.config.points import AllocationPoint, Dialect, Role
from edge.config.sources import FileSource, MBusSource, SerialSource, Source, parse_source
from edge.config.table import SettingError
from edge.errors import ConfigError

__all__ = [
    "FUSE_TABLE",
    "AllocationPoint",
    "Band",
    "BrokerUrl",
    "Clock",
    "Config",
    "ConfigError",
    "ConnectionConfig",
    "Dialect",
    "FileSource",
    "GatewayConfig",
    "GridConfig",
    "LocalConfig",
    "MBusSource",
    "Role",
    "SerialSource",
    "SettingError",
    "SigningConfig",
    "Source",
    "band_of",
    "capacity_va",
    "gs1_check_digit",
    "load_config",
    "parse_broker",
    "parse_config",
    "parse_prefix",
    "parse_source",
    "prepare_data_dir",
    "validate_ean",
    "with_check_digit",
]
