"""The validated configuration as frozen values, and the file checks done before start-up."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from edge.config.capacity import ConnectionConfig
from edge.config.files import check_file
from edge.config.mqtt import GridConfig, LocalConfig
from edge.config.points import AllocationPoint, Role
from edge.config.web import WebConfig
from edge.policy import PolicyConfig, UnknownAllocationPointError


class Clock(StrEnum):
    """Whose clock is "now": the gateway's (live) or the meter's (replays and demos)."""

    SYSTEM = "system"
    METER = "meter"


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """`[gateway]`: identity, local time zone, where data lives, which clock is "now"."""

    id: str
    timezone: str
    data_dir: Path
    clock: Clock = Clock.SYSTEM


@dataclass(frozen=True, slots=True)
class SigningConfig:
    """`[signing]`: the gateway's Ed25519 private key (PKCS#8 PEM), an absolute path."""

    key: Path


@dataclass(frozen=True, slots=True)
class Config:
    """The whole validated configuration. `points` has the primary first.

    `grid` None means no grid connection; `local` None means no local broker. `path` is the file
    it was loaded from (None when built from a table).
    """

    gateway: GatewayConfig
    connection: ConnectionConfig
    points: tuple[AllocationPoint, ...]
    signing: SigningConfig
    policy: PolicyConfig
    grid: GridConfig | None = None
    local: LocalConfig | None = None
    web: WebConfig | None = None
    path: Path | None = None

    @property
    def primary(self) -> AllocationPoint:
        """The primary allocation point (validation guarantees exactly one, first)."""
        return self.points[0]

    @property
    def secondaries(self) -> tuple[AllocationPoint, ...]:
        """The secondary allocation points, in file order."""
        return tuple(p for p in self.points if p.role is Role.SECONDARY)

    def point(self, ean: str) -> AllocationPoint:
        """The point with this EAN; `UnknownAllocationPointError` (a LookupError) if none."""
        for point in self.points:
            if point.ean == ean:
                return point
        known = ", ".join(p.ean for p in self.points)
        raise UnknownAllocationPointError(f"{ean} is not an allocation point here ({known})")

    def key_files(self) -> dict[str, Path]:
        """Every credential or key file that is set, by its configuration key."""
        files = {"signing.key": self.signing.key}
        sections = {"grid": self.grid, "local": self.local, "web": self.web}
        for section, value in sections.items():
            if value is None:
                continue
            for name in ("password_file", "ca_file", "client_cert", "client_key", "operator_key",
                         "cert_file", "key_file"):  # fmt: skip
                path = getattr(value, name, None)
                if isinstance(path, Path):
                    files[f"{section}.{name}"] = path
        return files

    def check_files(self) -> None:
        """Raise `ConfigError` naming the key unless every key, certificate and password file
        is readable and holds what its key expects (see `edge.config.files`).

        Kept out of loading so that `keygen` and `check-config` work before the keys exist; the
        agent calls it at start-up (SPEC §8: an unreadable key file is a configuration error).
        """
        for key, path in self.key_files().items():
            check_file(key, path)
