"""`firmware-sim` and `python -m firmware_sim`: the simulator needs the `sim` extra (numpy).

The agent's own install (the Pi) leaves numpy out; without it the simulator says in one line
what to install instead of a traceback.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence

MISSING = "firmware-sim: needs numpy, the 'sim' extra: pip install 'p1edge[sim]' (source: '.[sim]')"


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args == ["--version"]:  # what is installed is worth knowing without the extra too
        from firmware_sim import __version__

        print(f"firmware-sim {__version__}")
        return 0
    if importlib.util.find_spec("numpy") is None:
        print(MISSING, file=sys.stderr)
        return 2
    from firmware_sim.cli import main as cli_main

    return cli_main(argv)
