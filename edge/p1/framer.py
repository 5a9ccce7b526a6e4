"""Sans-I/O framer: bytes in, complete frames and error events out.

Strategy: the buffer is scanned from a remembered position so that byte-by-byte input costs no
rescanning. Outside a frame we look for the next `/` (a plaintext telegram) or a plausible DLMS
general-global-cipher header (0xDB, encrypted meters); everything before it is skipped and
counted. A 0xDB begins a DLMS frame only where the source can send them (`encrypted`: an
encrypted dialect or a key; never for a plaintext dialect; for "auto" only until the stream has
shown a plaintext telegram) and its header is plausible; otherwise it is garbage and the framer
resyncs to the next `/` at once, so stray bytes cannot hold back 16 KiB of telegrams. A plaintext
frame ends at `!`, up to four hex CRC digits and the first byte after them
(CR, LF, or the `/` of a glued telegram). A `/` followed by three letters inside a frame means the
frame was truncated and a new telegram started: the old part is reported, the new one kept. The
buffer never holds more than `max_frame` bytes of one frame; a longer one is garbage. At the end
of the input (`end_of_input`: a capture's end, not a lost line) a frame ending in `!` and at most
four CRC digits is complete: no more CRC digits can come.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

MAX_FRAME: Final = 16 * 1024

_HEX = frozenset(b"0123456789ABCDEFabcdef")
_DLMS_TAG = 0xDB
_DLMS_SYSTITLE_LEN = 8
_DLMS_MIN_PAYLOAD = 1 + 4 + 12  # security control, invocation counter, GCM tag
_DLMS_SECURITY_CONTROLS = frozenset((0x10, 0x20, 0x30))


@dataclass(frozen=True, slots=True)
class PlainFrame:
    """A telegram from `/` through `!`, and the CRC text after it (`""` when none was sent)."""

    body: bytes
    crc_text: bytes


@dataclass(frozen=True, slots=True)
class EncryptedFrame:
    """A complete DLMS general-global-cipher frame (still encrypted)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class FrameDiscarded:
    """Bytes that could not be framed: garbage, a truncated or an oversized frame."""

    reason: str
    size: int


FrameEvent = PlainFrame | EncryptedFrame | FrameDiscarded
Encrypted = bool | Literal["auto"]


class Framer:
    """Feed bytes with `feed`; it returns the frames and discards completed by them."""

    __slots__ = (
        "_buf",
        "_encrypted",
        "_final",
        "_in_frame",
        "_line_end",
        "_max_frame",
        "_plain_seen",
        "_scan",
    )

    def __init__(self, max_frame: int = MAX_FRAME, encrypted: Encrypted = "auto") -> None:
        self._buf = bytearray()
        self._encrypted = encrypted
        self._plain_seen = False  # "auto": a plaintext telegram came, so 0xDB is no frame start
        self._final = False  # inside end_of_input: no more bytes will come
        self._scan = 0  # where to continue looking inside the current frame
        self._in_frame = False
        self._line_end = False  # a frame just ended: its CR LF may still arrive (not garbage)
        self._max_frame = max_frame

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[FrameEvent]:
        """Add bytes from the line; return every event they complete."""
        self._buf += data
        events: list[FrameEvent] = []
        while self._step(events):
            pass
        return events

    def end_of_input(self) -> list[FrameEvent]:
        """The input ended (a capture's last byte): complete what can be, then `flush`."""
        events: list[FrameEvent] = []
        self._final = True
        try:
            while self._in_frame and self._step(events):
                pass
        finally:
            self._final = False
        events += self.flush()
        self._plain_seen = False  # the next input may be another capture
        return events

    def flush(self) -> list[FrameEvent]:
        """The stream broke (a lost line): whatever is buffered is a truncated frame or garbage."""
        events: list[FrameEvent] = []
        if self._buf:
            reason = "truncated" if self._in_frame else "garbage"
            events.append(FrameDiscarded(reason, len(self._buf)))
        self._buf.clear()
        self._scan = 0
        self._in_frame = False
        self._line_end = False
        return events

    # -- states ----------------------------------------------------------------------------

    def _step(self, events: list[FrameEvent]) -> bool:
        if not self._in_frame:
            return self._find_start(events)
        if self._buf[0] == _DLMS_TAG:
            return self._take_encrypted(events)
        return self._take_plain(events)

    def _find_start(self, events: list[FrameEvent]) -> bool:
        buf = self._buf
        while self._line_end and buf and buf[0] in (0x0D, 0x0A):
            self._line_end = buf[0] == 0x0D  # after LF the telegram's line end is complete
            del buf[:1]
        if buf:
            self._line_end = False
        start = 0
        dlms_possible = self._encrypted is True or (
            self._encrypted == "auto" and not self._plain_seen
        )
        while True:
            slash = buf.find(b"/", start)
            if not dlms_possible:
                pos = slash
                break
            dlms = buf.find(b"\xdb", start, slash if slash >= 0 else len(buf))
            if dlms >= 0 and not self._dlms_rejected(dlms):
                pos = dlms
                break
            if dlms >= 0:  # a 0xDB that is no DLMS header: garbage, look further
                start = dlms + 1
                continue
            pos = slash
            break
        if pos < 0:
            # a header may be completed by the next read
            keep = 1 if dlms_possible and buf and buf[-1] == _DLMS_TAG else 0
            if len(buf) > keep:
                events.append(FrameDiscarded("garbage", len(buf) - keep))
                del buf[: len(buf) - keep]
            return False
        if pos:
            events.append(FrameDiscarded("garbage", pos))
            del buf[:pos]
        self._in_frame = True
        self._scan = 1
        return True

    def _dlms_rejected(self, pos: int) -> bool:
        """True when the bytes at `pos` cannot start a DLMS frame (judged on what is there)."""
        head = self._buf[pos : pos + 14]
        if len(head) > 1 and head[1] != _DLMS_SYSTITLE_LEN:
            return True
        if len(head) > 10 and head[10] not in (0x81, 0x82) and head[10] >= 0x80:
            return True
        total = _dlms_total_length(bytes(head))
        if total is not None and not (_DLMS_MIN_PAYLOAD <= total <= self._max_frame):
            return True
        sc_at = _dlms_header_length(bytes(head))
        return (
            sc_at is not None and len(head) > sc_at and head[sc_at] not in _DLMS_SECURITY_CONTROLS
        )

    def _take_encrypted(self, events: list[FrameEvent]) -> bool:
        if self._dlms_rejected(0):
            events.append(FrameDiscarded("garbage", 1))
            del self._buf[:1]
            self._in_frame = False
            return True
        header = _dlms_header_length(bytes(self._buf[:14]))
        total = _dlms_total_length(bytes(self._buf[:14]))
        if header is None or total is None:
            return False
        size = header + total
        if len(self._buf) < size:
            return False
        events.append(EncryptedFrame(bytes(self._buf[:size])))
        del self._buf[:size]
        self._in_frame = False
        return True

    def _take_plain(self, events: list[FrameEvent]) -> bool:
        buf = self._buf
        bang = buf.find(b"!", self._scan)
        restart = self._find_restart(bang)
        if restart >= 0:
            events.append(
                FrameDiscarded("truncated" if restart <= self._max_frame else "oversized", restart)
            )
            del buf[:restart]
            self._scan = 1
            return True
        if bang < 0 or bang >= self._max_frame:
            if len(buf) > self._max_frame:
                return self._discard_oversized(events)
            self._scan = max(1, len(buf) - 3)  # a restart pattern may straddle reads
            return False
        end = bang + 1
        limit = min(len(buf), end + 4)
        while end < limit and buf[end] in _HEX:
            end += 1
        if end == len(buf) and end - bang - 1 < 4 and not self._final:
            self._scan = bang  # the CRC may still be arriving
            return False
        crc_end = end
        if buf[end : end + 2] == b"\r\n":  # the line end belongs to the telegram, not garbage
            end += 2
        else:
            self._line_end = True  # it may come with the next read
        events.append(PlainFrame(bytes(buf[: bang + 1]), bytes(buf[bang + 1 : crc_end])))
        del buf[:end]
        self._in_frame = False
        self._plain_seen = True
        return True

    def _find_restart(self, bang: int) -> int:
        """Position of a new telegram header inside the current frame, or -1."""
        buf = self._buf
        stop = bang if bang >= 0 else len(buf)
        pos = buf.find(b"/", self._scan, stop)
        while pos >= 0:
            if pos + 3 < len(buf) and bytes(buf[pos + 1 : pos + 4]).isalpha():
                return pos
            if pos + 3 >= len(buf) and bang < 0:
                return -1  # not enough bytes yet to judge
            pos = buf.find(b"/", pos + 1, stop)
        return -1

    def _discard_oversized(self, events: list[FrameEvent]) -> bool:
        nxt = self._buf.find(b"/", 1)
        size = nxt if nxt > 0 else len(self._buf)
        events.append(FrameDiscarded("oversized", size))
        del self._buf[:size]
        self._in_frame = False
        self._scan = 0
        return bool(self._buf)


def _dlms_header_length(head: bytes) -> int | None:
    """Bytes before the security control byte: tag, systitle length+title, length field."""
    if len(head) < 11:
        return None
    marker = head[10]
    if marker < 0x80:
        return 11
    return 11 + (marker & 0x7F)


def _dlms_total_length(head: bytes) -> int | None:
    """Length of everything after the length field (security control .. tag), if known."""
    header = _dlms_header_length(head)
    if header is None or len(head) < header:
        return None
    marker = head[10]
    if marker < 0x80:
        return marker
    return int.from_bytes(head[11:header], "big")
