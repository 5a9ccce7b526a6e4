"""Reading one TOML table with typed getters whose errors name the full key.

Strategy: every section is read through a `Section` that knows its allowed keys, so a typo is
caught before any value is used (with a difflib suggestion), and every type or range error comes
out as one line `section.key: problem; fix`. Nothing here knows what the keys mean.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import NoReturn

from edge.errors import ConfigError

# Default meaning "the key is required" (None is a legitimate default).
REQUIRED = object()


class SettingError(ConfigError, ValueError):
    """A configuration value is wrong; `key` names it (e.g. `connection.fuse_a`)."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


def fail(key: str, problem: str) -> NoReturn:
    """Raise a `SettingError` for `key`."""
    raise SettingError(key, problem)


def suggestion(word: str, known: Iterable[str]) -> str:
    """'; did you mean X?' for a close match among `known`, else the list of known names."""
    names = sorted(known)
    close = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]}?"
    return f"known: {', '.join(names)}" if names else "nothing is allowed here"


def describe(value: object) -> str:
    """A value and its TOML type for error messages: `'x' (string)`, `5 (integer)`."""
    kinds = {bool: "boolean", int: "integer", float: "float", str: "string"}
    kind = kinds.get(type(value), "table" if isinstance(value, Mapping) else type(value).__name__)
    if isinstance(value, list):
        kind = "array"
    return f"{value!r} ({kind})"


def as_table(value: object, key: str) -> Mapping[str, object]:
    """`value` as a TOML table, or an error telling how to write `[key]`."""
    if not isinstance(value, Mapping):
        fail(key, f"expected a table [{key}], got {describe(value)}")
    return value


class Section:
    """One TOML table, read key by key; unknown keys are rejected when it is created."""

    def __init__(self, name: str, table: Mapping[str, object], known: Iterable[str]) -> None:
        self.name = name
        self.table = table
        known = tuple(known)
        for key in table:
            if key not in known:
                what = "key" if name else "section"
                fail(self.key(key), f"unknown {what}; {suggestion(key, known)}")

    def key(self, key: str) -> str:
        """The full name of `key`, e.g. `gateway.timezone`."""
        return f"{self.name}.{key}" if self.name else key

    def has(self, key: str) -> bool:
        """True if the key is present in the file."""
        return key in self.table

    def raw(self, key: str, default: object = REQUIRED, example: str = "") -> object:
        """The value, or `default`; a missing required key is an error with an example."""
        if key in self.table:
            return self.table[key]
        if default is REQUIRED:
            hint = f"; add e.g. {key} = {example}" if example else ""
            fail(self.key(key), f"missing (required){hint}")
        return default

    def string(self, key: str, default: object = REQUIRED, example: str = "") -> str:
        """A string value (required unless `default` is given)."""
        value = self.raw(key, default, example)
        if not isinstance(value, str):
            fail(self.key(key), f"expected a string, got {describe(value)}")
        return value

    def optional_string(self, key: str) -> str | None:
        """A string value; absent or "" means None (the examples write `username = ""`)."""
        value = self.string(key, "")
        return value or None

    def integer(self, key: str, default: object, low: int, high: int) -> int:
        """An integer in low..high (booleans are not integers here)."""
        value = self.raw(key, default)
        if not isinstance(value, int) or isinstance(value, bool):
            fail(self.key(key), f"expected an integer, got {describe(value)}")
        if not low <= value <= high:
            fail(self.key(key), f"{value} is out of range; use {low}..{high}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        """true or false."""
        value = self.raw(key, default)
        if not isinstance(value, bool):
            fail(self.key(key), f"expected true or false, got {describe(value)}")
        return value

    def fraction(self, key: str, default: float) -> float:
        """A number in 0..1 (an integer 0 or 1 is accepted too)."""
        value = self.raw(key, default)
        if not isinstance(value, int | float) or isinstance(value, bool):
            fail(self.key(key), f"expected a number like 0.1, got {describe(value)}")
        if not 0.0 <= value <= 1.0:
            fail(self.key(key), f"{value} is not a fraction; use 0..1 (0.1 means 10 %)")
        return float(value)

    def path(self, key: str, base_dir: Path, default: str | None = None) -> Path | None:
        """A file path; relative paths are resolved against `base_dir` (the config's folder)."""
        text = self.string(key, default if default is not None else "")
        if not text:
            return None
        return resolve(text, base_dir)


def resolve(text: str, base_dir: Path) -> Path:
    """`text` as a path, `~` expanded, relative to `base_dir` unless absolute."""
    path = Path(text).expanduser()
    return path if path.is_absolute() else base_dir / path
