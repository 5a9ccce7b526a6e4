"""The command line loads only the invoked command's module, and every command is reachable."""

from __future__ import annotations

import argparse

from edge.cli import build_parser


def _commands(parser: argparse.ArgumentParser) -> set[str]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(action.choices)


def test_every_command_is_found_through_its_home_module() -> None:
    every = _commands(build_parser())
    assert {"run", "replay", "export", "status", "consent", "log", "demo", "decode", "keygen",
            "grid", "check-config", "peaks", "plot"} <= every  # fmt: skip
    for command in every:
        assert command in _commands(build_parser(command)), command


def test_unknown_word_falls_back_to_every_command() -> None:
    assert _commands(build_parser("no-such-command")) == _commands(build_parser())
