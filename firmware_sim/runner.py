"""Drive items to a port at the pace asked for; the glue between the pure stream and I/O."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable

from firmware_sim.ports import Pacer, Port
from firmware_sim.simulate import TruthRow
from firmware_sim.stream import Item, Telegram, Truth, Unplug

Announce = Callable[[str], None]


def announcer(prefix: str = "port") -> Announce:
    """Prints `port: ADDRESS` (or `port <meter>: ADDRESS`) on stdout, flushed at once."""
    lock = threading.Lock()

    def say(address: str) -> None:
        with lock:
            sys.stdout.write(f"{prefix}: {address}\n")
            sys.stdout.flush()

    return say


def pump(
    items: Iterable[Item],
    port: Port,
    pacer: Pacer,
    announce: Announce,
    on_truth: Callable[[tuple[TruthRow, ...]], None] | None = None,
) -> int:
    """Write every telegram to an opened port; returns the number of telegrams written."""
    written = 0
    for item in items:
        if isinstance(item, Telegram):
            pacer.wait(item.t)
            port.write(item.data)
            written += 1
        elif isinstance(item, Truth):
            if on_truth is not None:
                on_truth(item.rows)
        elif isinstance(item, Unplug):
            pacer.wait(item.t)
            port.unplug()
            pacer.wait(item.t + item.seconds)
            address = port.replug()
            if address:
                announce(address)
    return written
