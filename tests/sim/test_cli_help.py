"""`firmware-sim --version`, and every option's help says what it does and its default."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tomllib

import pytest

from firmware_sim import __version__
from firmware_sim.cli import SCENARIO_FORMAT, _Formatter, _parser
from firmware_sim.scenario import parse_scenario


def subparsers() -> dict[str, argparse.ArgumentParser]:
    for action in _parser()._actions:  # argparse has no public list of sub-parsers
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no sub-commands")


def test_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "firmware_sim", "--version"], capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip() == f"firmware-sim {__version__}"


@pytest.mark.parametrize("command", ["run", "scenario", "replay"])
def test_every_option_has_a_description_and_its_default(command: str) -> None:
    parser = subparsers()[command]
    formatter = _Formatter("firmware-sim")
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        text = formatter._get_help_string(action)
        assert len(text) > 10, f"{command} {action.dest}: no description"
        if action.option_strings:
            assert "(default" in text, f"{command} {action.option_strings[0]}: no default"
            if action.default not in (None, False, ""):
                shown = text % {"default": action.default}
                assert str(action.default) in shown, f"{action.dest}: shows another default"


def test_scenario_help_shows_a_format_that_parses() -> None:
    help_text = subparsers()["scenario"].format_help()
    assert "[primary]" in help_text and "[[secondary]]" in help_text
    example = SCENARIO_FORMAT.split("\n\n", 1)[1]
    assert tomllib.loads(example)["primary"]["dialect"] == "dsmr5"
    scenario = parse_scenario(example)
    assert len(scenario.meters) == 2
