"""Logging for `edge-agent`: a terminal format, the journal's format, and no retry spam.

Strategy: one handler on the root logger, on stderr. Under systemd (`JOURNAL_STREAM` names the
device and inode of our stderr, sd-daemon(3)) journald adds the time itself and reads a `<N>`
syslog priority at the start of each line, so `journalctl -p warning` filters by level; on a
terminal each line carries its own time and level name. A reconnecting source repeats the same
lines at every attempt of its capped backoff: its logger marks them as a retry loop's, and
`RepeatFilter` shows such a loop once (a new reason at once), then hourly with the count of what
it held back. Every other line is sent at once, so each change of state is in the journal:
connected, lost, an alarm raised or cleared.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from typing import Final, TextIO

TERMINAL_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JOURNAL_FORMAT: Final = "%(name)s: %(message)s"
# syslog priorities (sd-daemon(3) SD_ERR ... SD_DEBUG) of the logging levels
PRIORITY: Final = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3}
REPEAT_AFTER_S: Final = 3600.0
RETRYING: Final = "retrying"  # the `extra=` key that marks a retry loop's line
DURATION: Final = re.compile(r"\b\d+(?:\.\d+)? ?(?:ms|s|min)\b")  # `retry in 2 s` grows


def under_journal(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """True if `stream` is the journal stream systemd connected us to."""
    expected = environ.get("JOURNAL_STREAM", "")
    device, _, inode = expected.partition(":")
    try:
        found = os.fstat(stream.fileno())
        return (found.st_dev, found.st_ino) == (int(device), int(inode))
    except (OSError, ValueError, AttributeError):  # no fd (a test's StringIO), or garbage
        return False


def priority(levelno: int) -> int:
    """The syslog priority of a logging level (CRITICAL: 2, custom levels round down)."""
    if levelno >= logging.CRITICAL:
        return 2
    return next((PRIORITY[lv] for lv in sorted(PRIORITY, reverse=True) if levelno >= lv), 7)


class JournalFormatter(logging.Formatter):
    """`<N>logger: message`, the priority on every line (journald splits at newlines)."""

    def __init__(self) -> None:
        super().__init__(JOURNAL_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


class RepeatFilter(logging.Filter):
    """Hold back the repeated attempts of a retry loop; never a change of state.

    A retry loop's lines carry `extra={"retrying": True}` (a source's `connecting`/`backoff`).
    Their subject is the logger and the text before the first ':' (a source's name). Such a line
    is held when the same line, compared without its durations (`retry in 1 s`, `2 s`, ... up
    to the cap), was sent for its subject since the loop began and less than an hour ago: the
    loop shows once, a new reason at once, and hourly with the count. Any other line (connected,
    a broker's loss, an alarm) is always sent; it ends its subject's loop and says how many
    lines that loop held back.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.clock = clock
        # subject -> its current loop: line without durations -> (last sent, held since)
        self.loops: dict[tuple[str, str], dict[str, tuple[float, int]]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO or record.exc_info:
            return True  # debug detail and tracebacks are never held back
        text = record.getMessage()
        subject = (record.name, text.split(":", 1)[0])
        if not getattr(record, RETRYING, False):
            held = sum(count for _at, count in self.loops.pop(subject, {}).values())
            if held:
                _annotate(record, f"{text} (after {held} retry lines held back)")
            return True
        loop = self.loops.get(subject)
        if loop is None:
            if len(self.loops) > 1024:  # bounded memory however many subjects come and go
                self.loops.clear()
            loop = self.loops[subject] = {}
        form = DURATION.sub("#", text)
        now = self.clock()
        sent_at, held = loop.get(form, (-REPEAT_AFTER_S, 0))
        if form in loop and now - sent_at < REPEAT_AFTER_S:
            loop[form] = (sent_at, held + 1)
            return False
        if len(loop) > 64:  # a loop whose every line differs is not held, but stays bounded
            loop.clear()
        loop[form] = (now, 0)
        if held:
            _annotate(record, f"{text} (and {held} times more in the last hour)")
        return True


def _annotate(record: logging.LogRecord, text: str) -> None:
    record.msg, record.args = text, None


def configure(
    verbosity: int = 0,
    *,
    stream: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> logging.Handler:
    """Set up the root logger: -1 quiet (warnings), 0 info, 1 debug. Replaces earlier setup."""
    out = sys.stderr if stream is None else stream
    handler = logging.StreamHandler(out)
    journal = under_journal(out, os.environ if environ is None else environ)
    handler.setFormatter(JournalFormatter() if journal else logging.Formatter(TERMINAL_FORMAT))
    handler.addFilter(RepeatFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel({-1: logging.WARNING, 0: logging.INFO}.get(verbosity, logging.DEBUG))
    return handler
