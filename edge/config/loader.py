"""TOML file → `Config`: sections in dependency order, every mistake a `ConfigError`.

Strategy: parse everything that is pure first (so a typo is reported before any side effect),
then prepare `data_dir`, the one thing loading touches on disk: it is created if missing and
probed for writing, because an agent that cannot write its registers must not start.
"""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
import zoneinfo
from collections.abc import Mapping
from pathlib import Path

from edge.config.capacity import parse_connection
from edge.config.model import Clock, Config, GatewayConfig, SigningConfig
from edge.config.mqtt import parse_grid, parse_local
from edge.config.points import AllocationPoint, parse_points
from edge.config.table import REQUIRED, Section, as_table, fail, resolve, suggestion
from edge.config.web import parse_web
from edge.errors import ConfigError
from edge.policy import PointConfig, PolicyConfig, config_from_table

SECTIONS = (
    "gateway", "connection", "allocation_point", "signing", "grid", "policy", "local", "web",
)  # fmt: skip
GATEWAY_KEYS = ("id", "timezone", "data_dir", "clock")
POLICY_KEYS = ("regime", "push_window", "max_backfill_days")
DEFAULT_TIMEZONE = "Europe/Amsterdam"
DEFAULT_SIGNING_KEY = "keys/gateway.key"
# The id appears in MQTT topics and file names: no '/', wildcards or spaces.
# fullmatch, not match with `$`: `$` also matches before a trailing newline ("GW-1\n").
_GATEWAY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def load_config(path: str | Path, *, prepare_dirs: bool = True) -> Config:
    """Read and validate a TOML configuration file; relative paths are relative to its folder.

    `prepare_dirs=False` skips creating and probing `gateway.data_dir` (for checking a config
    meant for another machine).
    """
    file = Path(path).expanduser().absolute()
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise ConfigError(f"{file}: cannot read the configuration file ({reason})") from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # The message carries "(at line L, column C)".
        raise ConfigError(f"{file}: invalid TOML: {exc}") from None
    return parse_config(table, file.parent, path=file, prepare_dirs=prepare_dirs)


def parse_config(
    table: Mapping[str, object],
    base_dir: Path,
    *,
    path: Path | None = None,
    prepare_dirs: bool = True,
) -> Config:
    """Validate a parsed TOML table; `base_dir` resolves relative paths (the config's folder).

    Unless `prepare_dirs` is False, `gateway.data_dir` is created if missing and probed for writing.
    """
    base_dir = Path(base_dir).absolute()
    Section("", table, SECTIONS)  # unknown sections first: a typo explains later "missing" errors
    gateway = _gateway(_required(table, "gateway"), base_dir)
    connection = parse_connection(_required(table, "connection"))
    points = parse_points(
        table.get("allocation_point"), base_dir, connection.check_ean, connection.ean
    )
    grid_table = _table(table, "grid")
    grid = parse_grid(grid_table, base_dir) if grid_table is not None else None
    local_table = _table(table, "local")
    local = parse_local(local_table, base_dir, grid) if local_table is not None else None
    config = Config(
        gateway=gateway,
        connection=connection,
        points=points,
        signing=_signing(_table(table, "signing") or {}, base_dir),
        policy=_policy(_table(table, "policy") or {}, gateway, points),
        grid=grid,
        local=local,
        web=None if (web := _table(table, "web")) is None else parse_web(web, base_dir),
        path=path,
    )
    if prepare_dirs:
        prepare_data_dir(gateway.data_dir)
    return config


def _table(table: Mapping[str, object], name: str) -> Mapping[str, object] | None:
    return as_table(table[name], name) if name in table else None


def _required(table: Mapping[str, object], name: str) -> Mapping[str, object]:
    if name not in table:
        fail(name, f"missing section; add [{name}]")
    return as_table(table[name], name)


def _gateway(table: Mapping[str, object], base_dir: Path) -> GatewayConfig:
    section = Section("gateway", table, GATEWAY_KEYS)
    gateway_id = section.string("id", REQUIRED, '"GW-0001"')
    if not _GATEWAY_ID.fullmatch(gateway_id):
        fail("gateway.id", f"{gateway_id!r}: use 1-64 letters, digits, '.', '_' or '-' (no '/')")
    clock_text = section.string("clock", "system")
    if clock_text not in {c.value for c in Clock}:
        fail("gateway.clock", f'{clock_text!r}: use "system" (live) or "meter" (replays, demos)')
    data_dir = section.string("data_dir", REQUIRED, '"/var/lib/p1edge"')
    if not data_dir:
        fail("gateway.data_dir", 'may not be empty; e.g. data_dir = "/var/lib/p1edge"')
    return GatewayConfig(
        id=gateway_id,
        timezone=_timezone(section.string("timezone", DEFAULT_TIMEZONE)),
        data_dir=resolve(data_dir, base_dir),
        clock=Clock(clock_text),
    )


def _timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        close = suggestion(name, zoneinfo.available_timezones())
        hint = close if close.startswith("did") else 'e.g. "Europe/Amsterdam" or "Europe/Brussels"'
        fail("gateway.timezone", f"{name!r} is not a time zone; {hint}")
    return name


def _signing(table: Mapping[str, object], base_dir: Path) -> SigningConfig:
    section = Section("signing", table, ("key",))
    key = section.path("key", base_dir, DEFAULT_SIGNING_KEY)
    if key is None:
        fail("signing.key", f'may not be empty; e.g. key = "{DEFAULT_SIGNING_KEY}"')
    return SigningConfig(key=key)


def _policy(
    table: Mapping[str, object], gateway: GatewayConfig, points: tuple[AllocationPoint, ...]
) -> PolicyConfig:
    Section("policy", table, POLICY_KEYS)  # our typo message ("did you mean"), before edge.policy's
    return config_from_table(
        table,
        gateway_id=gateway.id,
        tz=gateway.timezone,
        points=tuple(PointConfig(p.ean, p.regime) for p in points),
    )


def prepare_data_dir(path: Path) -> None:
    """Create `gateway.data_dir` if missing and prove it writable, or raise `ConfigError`."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        fail("gateway.data_dir", f"{path} exists and is not a directory; choose another path")
    except OSError as exc:
        fail("gateway.data_dir", f"cannot create {path} ({exc.strerror or exc}); {_DIR_FIX}")
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        fail("gateway.data_dir", f"cannot write in {path} ({exc.strerror or exc}); {_DIR_FIX}")


def probe_data_dir(path: Path) -> str:
    """Check, creating nothing, that the agent could use `gateway.data_dir`; a note for the
    summary ("exists" or "will be created"), or `ConfigError`."""
    if path.exists():
        if not path.is_dir():
            fail("gateway.data_dir", f"{path} exists and is not a directory; choose another path")
        if not os.access(path, os.W_OK | os.X_OK):
            fail("gateway.data_dir", f"cannot write in {path} (permission denied); {_DIR_FIX}")
        return "exists"
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        fail("gateway.data_dir", f"cannot create {path} (no write access to {parent}); {_DIR_FIX}")
    return "will be created by the agent"


_DIR_FIX = "create it for the agent's user or choose a writable path"
