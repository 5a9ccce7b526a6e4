"""Logging for `edge-agent`: a terminal format, the journal's format, and no retry spam.

Strategy: one handler on the root logger, on stderr. Under systemd (`JOURNAL_STREAM` names the
device and inode of our stderr, sd-daemon(3)) journald adds the time itself and reads a `<N>`
syslog priority at the start of each line, so `journalctl -p warning` filters by level; on a
terminal each line carries its own time and level name. A reconnecting source or broker repeats
the same lines at every attempt of its capped backoff: `RepeatFilter` shows such a loop once,
then hourly with the count of what it held back, and every line outside the loop at once.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Final, TextIO

TERMINAL_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JOURNAL_FORMAT: Final = "%(name)s: %(message)s"
# syslog priorities (sd-daemon(3) SD_ERR ... SD_DEBUG) of the logging levels
PRIORITY: Final = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3}
REPEAT_AFTER_S: Final = 3600.0
CYCLE: Final = 4  # a retry loop of up to 4 lines per subject (connecting, backoff, ...)


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
    """Hold back a line that repeats a short cycle of its subject's last lines.

    The subject is the logger and the text before the first ':' (a source's name, "mqtt"). A
    line that is among the subject's last `CYCLE` lines (sent or held) and was sent less than an
    hour ago is held: a retry loop shows once, and hourly with the count; any line outside the
    loop (connected, another error) is sent, and after it the loop's lines are new again.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.clock = clock
        self.last: dict[tuple[str, str], deque[str]] = {}
        self.sent: dict[tuple[str, str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO or record.exc_info:
            return True  # debug detail and tracebacks are never held back
        text = record.getMessage()
        subject = (record.name, text.split(":", 1)[0])
        recent = self.last.setdefault(subject, deque(maxlen=CYCLE))
        key = (*subject, text)
        now = self.clock()
        sent_at, held = self.sent.get(key, (-REPEAT_AFTER_S, 0))
        looping = text in recent
        recent.append(text)
        if looping and now - sent_at < REPEAT_AFTER_S:
            self.sent[key] = (sent_at, held + 1)
            return False
        if len(self.sent) > 4096:  # bounded memory however many distinct lines pass
            self.sent.clear()
        self.sent[key] = (now, 0)
        if looping and held:
            record.msg, record.args = f"{text} (and {held} times more in the last hour)", None
        return True


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
