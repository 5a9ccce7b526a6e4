"""`[[allocation_point]]`: one primary and up to five secondary meters, and where each is read.

Strategy: each point is validated on its own first (EAN, role, source, dialect, keys, regime),
then the list as a whole (exactly one primary, at most five secondaries, unique EANs, M-Bus
references that point at a real, directly read meter). Errors name `allocation_point[N].key`,
N counting the `[[allocation_point]]` blocks from 1 in file order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from edge.config.ean import validate_ean
from edge.config.sources import FileSource, MBusSource, SerialSource, Source, parse_source
from edge.config.table import Section, describe, fail, suggestion
from edge.policy import Regime, parse_regime

# The source types are re-exported: callers (the agent) import them from here too.
__all__ = [
    "MAX_SECONDARIES",
    "AllocationPoint",
    "Dialect",
    "FileSource",
    "MBusSource",
    "Role",
    "SerialSource",
    "Source",
    "parse_points",
    "parse_source",
]

E = TypeVar("E", bound=StrEnum)

MAX_SECONDARIES = 5  # SPEC §1: at most five extra allocation points per connection


class Role(StrEnum):
    """PAP (the connection's main meter) or SAP (a meter behind it with its own contract)."""

    PRIMARY = "primary"
    SECONDARY = "secondary"


class Dialect(StrEnum):
    """The P1 dialect a source speaks (SPEC §3); AUTO detects it from the telegrams."""

    AUTO = "auto"
    DSMR22 = "dsmr22"
    DSMR3 = "dsmr3"
    DSMR4 = "dsmr4"
    DSMR5 = "dsmr5"
    FLUVIUS = "fluvius"
    SMARTY = "smarty"
    SAGEMCOM = "sagemcom"
    SWEDEN = "sweden"
    HUNGARY = "hungary"
    IRELAND = "ireland"
    EASYMETER = "easymeter"


# DLMS-encrypted dialects: they cannot be read without the meter's key.
ENCRYPTED_DIALECTS = frozenset({Dialect.SMARTY, Dialect.SAGEMCOM})


@dataclass(frozen=True, slots=True)
class AllocationPoint:
    """One `[[allocation_point]]`: a meter and the allocation point it measures.

    `key`/`auth_key` are the 16-byte DLMS keys; `regime` None means `[policy] regime`.
    """

    ean: str
    role: Role
    source: Source
    dialect: Dialect = Dialect.AUTO
    # Secrets stay out of repr(): configs end up in logs and tracebacks.
    key: bytes | None = field(default=None, repr=False)
    auth_key: bytes | None = field(default=None, repr=False)
    regime: Regime | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        """The human label, or the EAN when no name is set."""
        return self.name or self.ean


POINT_KEYS = ("ean", "role", "source", "dialect", "key", "auth_key", "regime", "name")

_HEX_KEY = re.compile(r"[0-9A-Fa-f]{32}")  # fullmatch: `$` passes a trailing newline


def parse_points(
    value: object, base_dir: Path, check_ean: bool, connection_ean: str
) -> tuple[AllocationPoint, ...]:
    """All `[[allocation_point]]` blocks, validated one by one and as a whole; primary first."""
    if isinstance(value, Mapping):
        fail("allocation_point", "write each point as [[allocation_point]] (double brackets)")
    if not isinstance(value, list) or not value:
        fail("allocation_point", 'missing: add one [[allocation_point]] with role = "primary"')
    points = [
        _parse_point(item, f"allocation_point[{n}]", base_dir, check_ean)
        for n, item in enumerate(value, start=1)
    ]
    _check_roles(points)
    _check_eans(points, connection_ean)
    _check_mbus(points)
    return tuple(sorted(points, key=lambda p: p.role is not Role.PRIMARY))


def _parse_point(item: object, name: str, base_dir: Path, check_ean: bool) -> AllocationPoint:
    if not isinstance(item, Mapping):
        fail(name, f"expected a table [[allocation_point]], got {describe(item)}")
    section = Section(name, item, POINT_KEYS)
    ean = validate_ean(
        section.raw("ean", example='"871687120000000004"'), section.key("ean"), check_ean
    )
    role_text = section.string("role", example='"primary" or "secondary"')
    role = _choice(Role, role_text, section.key("role"))
    source = parse_source(
        section.string("source", example='"/dev/p1-main"'), section.key("source"), base_dir
    )
    dialect = _choice(Dialect, section.string("dialect", "auto"), section.key("dialect"))
    key = _hex_key(section, "key")
    auth_key = _hex_key(section, "auth_key")
    _check_keys(section, source, dialect, key, auth_key)
    regime = (
        parse_regime(section.raw("regime"), section.key("regime"))
        if section.has("regime")
        else None
    )
    return AllocationPoint(
        ean=ean,
        role=role,
        source=source,
        dialect=dialect,
        key=key,
        auth_key=auth_key,
        regime=regime,
        name=section.optional_string("name"),
    )


def _choice(kind: type[E], text: str, key: str) -> E:
    for member in kind:
        if member.value == text:
            return member
    allowed = ", ".join(m.value for m in kind)
    close = suggestion(text, [m.value for m in kind])
    hint = f" ({close})" if close.startswith("did") else ""
    fail(key, f"unknown value {text!r}{hint}; use one of {allowed}")


def _hex_key(section: Section, name: str) -> bytes | None:
    text = section.optional_string(name)
    if text is None:
        return None
    if not _HEX_KEY.fullmatch(text):
        fail(section.key(name), "expected 32 hex digits (a 16-byte AES key from the supplier)")
    return bytes.fromhex(text)


def _check_keys(
    section: Section, source: Source, dialect: Dialect, key: bytes | None, auth: bytes | None
) -> None:
    if isinstance(source, MBusSource):
        for name in ("dialect", "key", "auth_key"):
            if section.has(name) and section.table[name] not in ("", "auto"):
                fail(
                    section.key(name),
                    f"an mbus: point is read from {source.ean}'s telegrams, which set the "
                    "dialect and keys; remove this key",
                )
        return
    if dialect in ENCRYPTED_DIALECTS and key is None:
        fail(section.key("key"), f"required for dialect {dialect.value!r}: the meter's 32-hex key")
    plain = dialect not in ENCRYPTED_DIALECTS and dialect is not Dialect.AUTO
    if plain and (key is not None or auth is not None):
        name = "key" if key is not None else "auth_key"
        fail(
            section.key(name),
            f"dialect {dialect.value!r} is not encrypted; remove the key or use smarty/sagemcom",
        )


def _check_roles(points: Sequence[AllocationPoint]) -> None:
    primaries = [n for n, p in enumerate(points, 1) if p.role is Role.PRIMARY]
    secondaries = [n for n, p in enumerate(points, 1) if p.role is Role.SECONDARY]
    if not primaries:
        fail("allocation_point", 'no point has role = "primary"; exactly one must (the main meter)')
    if len(primaries) > 1:
        fail(
            f"allocation_point[{primaries[1]}].role",
            f"a second primary point (the first is allocation_point[{primaries[0]}]); "
            'exactly one point is primary, make the others "secondary"',
        )
    if len(secondaries) > MAX_SECONDARIES:
        fail(
            f"allocation_point[{secondaries[MAX_SECONDARIES]}].role",
            f"at most five secondary allocation points (found {len(secondaries)}); "
            "remove one (SPEC: at most 5 extra allocation points per connection)",
        )


def _check_eans(points: Sequence[AllocationPoint], connection_ean: str) -> None:
    seen: dict[str, int] = {}
    for n, point in enumerate(points, 1):
        key = f"allocation_point[{n}].ean"
        if point.ean in seen:
            fail(
                key,
                f"duplicate EAN {point.ean} (also allocation_point[{seen[point.ean]}]); "
                "every allocation point has its own EAN",
            )
        seen[point.ean] = n
        if point.role is Role.SECONDARY and point.ean == connection_ean:
            fail(key, f"{point.ean} is the connection's EAN, which belongs to the primary point")


def _check_mbus(points: Sequence[AllocationPoint]) -> None:
    by_ean = {p.ean: p for p in points}
    channels: dict[tuple[str, int], int] = {}
    for n, point in enumerate(points, 1):
        source = point.source
        if not isinstance(source, MBusSource):
            continue
        key = f"allocation_point[{n}].source"
        host = by_ean.get(source.ean)
        if host is None:
            fail(
                key,
                f"no allocation point has EAN {source.ean}; name the point whose meter "
                f"sends M-Bus channel {source.channel}",
            )
        if host is point:
            fail(key, "a point cannot read its own M-Bus channel; name the meter that sends it")
        if isinstance(host.source, MBusSource):
            fail(key, f"point {source.ean} is itself an mbus: point; name a directly read meter")
        where = (source.ean, source.channel)
        if where in channels:
            fail(key, f"channel {source.channel} is already allocation_point[{channels[where]}]")
        channels[where] = n
