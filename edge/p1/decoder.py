"""The P1 pipeline for one source: framer -> decryption -> CRC -> parser, with counters.

Every frame ends as exactly one event: a `Telegram`, or a `Rejected` with its reason. A frame
whose CRC does not match is rejected and never parsed. Once a source has sent a CRC, a later
frame without one can be rejected too (`require_crc="auto"`, for live sources: a DSMR 4/5 meter
always sends it, so its absence means damage).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import tzinfo
from typing import Final, Literal

from edge.errors import P1Error
from edge.p1.framer import Encrypted, EncryptedFrame, FrameDiscarded, Framer, PlainFrame
from edge.p1.model import Telegram
from edge.p1.parser import check_crc, parse_telegram
from edge.p1.values import DEFAULT_TZ

# Dialects whose meters send DLMS general-global-cipher frames; every other named dialect is
# plaintext, so a 0xDB byte there is line noise, never the start of a frame.
DLMS_DIALECTS: Final = frozenset({"smarty", "sagemcom"})

RejectReason = Literal["crc", "missing-crc", "parse", "decrypt", "truncated", "oversized"]


@dataclass(frozen=True, slots=True)
class Rejected:
    """A frame that did not become a telegram."""

    reason: RejectReason
    size: int
    header: str | None = None
    detail: str = ""


@dataclass(slots=True)
class DecodeStats:
    """Counters of one source (the `--stats` line of `edge-agent decode`)."""

    telegrams: int = 0
    crc_ok: int = 0
    crc_bad: int = 0
    crc_none: int = 0
    errors: int = 0
    skipped_bytes: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


Event = Telegram | Rejected


class P1Decoder:
    """Feed raw bytes from a P1 line; get telegrams and rejections, and keep counters."""

    def __init__(
        self,
        *,
        key: bytes | None = None,
        auth_key: bytes | None = None,
        local_tz: tzinfo = DEFAULT_TZ,
        require_crc: bool | Literal["auto"] = False,
        dialect: str = "auto",
    ) -> None:
        self._framer = Framer(encrypted=encrypted_frames(dialect, key))
        self._key = key
        self._auth_key = auth_key
        self._local_tz = local_tz
        self._require_crc = require_crc is True
        self._sticky_crc = require_crc == "auto"
        self.stats = DecodeStats()

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a frame (0 between whole telegrams)."""
        return self._framer.buffered

    def feed(self, data: bytes) -> list[Event]:
        """Decode what `data` completes."""
        return self._handle(self._framer.feed(data))

    def flush(self) -> list[Event]:
        """The stream broke (a lost line): report a trailing partial frame."""
        return self._handle(self._framer.flush())

    def end_of_input(self) -> list[Event]:
        """The input ended (a capture, a file): a telegram ending in `!` is complete."""
        return self._handle(self._framer.end_of_input())

    def _handle(self, frames: list[PlainFrame | EncryptedFrame | FrameDiscarded]) -> list[Event]:
        events: list[Event] = []
        for frame in frames:
            if isinstance(frame, PlainFrame):
                events.append(self._plain(frame.body, frame.crc_text))
            elif isinstance(frame, EncryptedFrame):
                events.extend(self._encrypted(frame.data))
            elif frame.reason == "garbage":
                self.stats.skipped_bytes += frame.size
            else:
                self.stats.skipped_bytes += frame.size
                self.stats.errors += 1
                events.append(Rejected(frame.reason, frame.size))  # type: ignore[arg-type]
        return events

    def _plain(self, body: bytes, crc_text: bytes) -> Event:
        stats = self.stats
        status = check_crc(body, crc_text)
        if status is None:
            stats.crc_bad += 1
            return Rejected("crc", len(body), _header(body))
        if status == "none" and self._require_crc:
            stats.crc_bad += 1
            return Rejected("missing-crc", len(body), _header(body))
        try:
            telegram = parse_telegram(body, status, self._local_tz)
        except P1Error as exc:
            stats.errors += 1
            return Rejected("parse", len(body), _header(body), str(exc))
        if status == "ok":
            stats.crc_ok += 1
            self._require_crc = self._require_crc or self._sticky_crc
        else:
            stats.crc_none += 1
        stats.telegrams += 1
        return telegram

    def _encrypted(self, data: bytes) -> list[Event]:
        if self._key is None:
            self.stats.errors += 1
            return [Rejected("decrypt", len(data), None, "encrypted frame and no key configured")]
        # Imported on first use: construct and the AES code cost a plain meter ~10 MB of RAM.
        from edge.p1 import dlms

        try:
            plaintext = dlms.decrypt(data, self._key, self._auth_key)
        except P1Error as exc:
            self.stats.errors += 1
            return [Rejected("decrypt", len(data), None, str(exc))]
        inner = Framer(encrypted=False)
        frames = inner.feed(plaintext) + inner.end_of_input()
        plain = [frame for frame in frames if isinstance(frame, PlainFrame)]
        if len(plain) != 1:
            # A wrong key without authentication gives noise: no telegram inside.
            self.stats.errors += 1
            return [Rejected("decrypt", len(data), None, "no telegram inside: wrong key?")]
        return [self._plain(plain[0].body, plain[0].crc_text)]


def encrypted_frames(dialect: str, key: bytes | None) -> Encrypted:
    """Whether a source can send DLMS frames: yes with a key or an encrypted dialect, never for
    a named plaintext dialect, "auto" (judged by the header and the stream) otherwise."""
    if key is not None or dialect in DLMS_DIALECTS:
        return True
    return "auto" if dialect == "auto" else False


def _header(body: bytes) -> str:
    line = body.split(b"\n", 1)[0].rstrip(b"\r")
    return line[1:].decode("latin-1")


def decode(
    data: bytes,
    *,
    key: bytes | None = None,
    auth_key: bytes | None = None,
    local_tz: tzinfo = DEFAULT_TZ,
) -> list[Telegram]:
    """Frame, check and parse every telegram in `data`, skipping bad frames."""
    decoder = P1Decoder(key=key, auth_key=auth_key, local_tz=local_tz)
    events = decoder.feed(data) + decoder.end_of_input()
    return [event for event in events if isinstance(event, Telegram)]
