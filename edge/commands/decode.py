"""`edge-agent decode`: check a capture's telegrams, print them as JSON or print its health."""

from __future__ import annotations

import argparse
import binascii
import json
import string
import sys
from pathlib import Path
from typing import Any

from edge.errors import DecryptionError
from edge.p1 import MBusDevice, P1Decoder, Rejected, Telegram

_HEX_TEXT = frozenset(string.hexdigits + string.whitespace)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "decode",
        help="decode P1 telegrams from capture files",
        description="Frame, check (CRC) and parse every telegram in the files. Bad telegrams "
        "are data: they are counted, not fatal.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--json", action="store_true", help="one JSON object per frame")
    mode.add_argument("--stats", action="store_true", help="one JSON line of counters")
    parser.add_argument("--key", type=_hex_key, help="decryption key (32 hex digits)")
    parser.add_argument("--auth-key", type=_hex_key, help="DLMS authentication key (32 hex)")
    parser.add_argument("files", nargs="+", metavar="FILE", help="capture file, or - for stdin")
    parser.set_defaults(func=run)


def _hex_key(text: str) -> bytes:
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise argparse.ArgumentTypeError("a key is 32 hex digits") from None
    if len(key) != 16:
        raise argparse.ArgumentTypeError(f"a key is 16 bytes (32 hex digits), got {len(key)}")
    return key


def run(args: argparse.Namespace) -> int:
    decoder = P1Decoder(key=args.key, auth_key=args.auth_key)
    out = sys.stdout
    status = 0
    for name in args.files:
        try:
            data = _read(name)
        except OSError as exc:
            print(f"edge-agent decode: cannot read {name}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        except DecryptionError as exc:
            print(f"edge-agent decode: {name}: {exc}", file=sys.stderr)
            return 2
        events = decoder.feed(data) + decoder.end_of_input()
        failed = [e for e in events if isinstance(e, Rejected) and e.reason == "decrypt"]
        if failed:  # counted and said, never the end of the file
            print(f"edge-agent decode: {name}: {_failures(failed)}", file=sys.stderr)
            if not any(isinstance(e, Telegram) for e in events):
                status = 2  # nothing decoded at all: a wrong or missing key, say so by the code
        if args.stats:
            continue
        for event in events:
            if isinstance(event, Telegram):
                _print(out, args.json, telegram_json(event))
            elif event.reason in ("crc", "missing-crc"):
                _print(out, args.json, _bad_json(event))
    if args.stats:
        print(json.dumps(decoder.stats.as_dict()), file=out)
    return status


def _failures(failed: list[Rejected]) -> str:
    count = len(failed)
    return f"decryption failed for {count} frame{'s' if count != 1 else ''}: {failed[0].detail}"


def _read(name: str) -> bytes:
    data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    # Some readers save encrypted frames as hex text: accept that too.
    if data and data.lstrip()[:2].upper() == b"DB" and set(data.decode("latin-1")) <= _HEX_TEXT:
        try:
            return binascii.unhexlify(b"".join(data.split()))
        except binascii.Error:
            raise DecryptionError("hex capture with an odd number of digits") from None
    return data


def _print(out: Any, as_json: bool, obj: dict[str, Any]) -> None:
    if as_json:
        print(json.dumps(obj, ensure_ascii=False), file=out)
        return
    stamp = obj["timestamp"] or "no time"
    print(f"{obj['crc']:>4}  {stamp}  /{obj['header']}  {len(obj['objects'])} objects", file=out)
    for obis, values in obj["objects"].items():
        items = values if isinstance(values, list) else [values]
        shown = " ".join(f"{v['value']}{' ' + v['unit'] if v['unit'] else ''}" for v in items)
        print(f"      {obis:<16} {shown}", file=out)


def telegram_json(telegram: Telegram) -> dict[str, Any]:
    """The `--json` object of a telegram (keys are an interface: keep them)."""
    objects: dict[str, Any] = {}
    for obis, values in telegram.objects.items():
        items = [{"value": v.text, "unit": v.unit} for v in values]
        objects[obis] = items[0] if len(items) == 1 else items
    return {
        "crc": telegram.crc,
        "header": telegram.header,
        "timestamp": _iso(telegram.timestamp),
        "objects": objects,
        "mbus": [_mbus_json(dev) for dev in telegram.mbus],
    }


def _mbus_json(dev: MBusDevice) -> dict[str, Any]:
    return {
        "channel": dev.channel,
        "type": dev.device_type,
        "id": dev.equipment_id,
        "timestamp": _iso(dev.timestamp),
        "value": dev.value.text if dev.value else None,
        "unit": dev.value.unit if dev.value else None,
    }


def _bad_json(event: Rejected) -> dict[str, Any]:
    return {
        "crc": "bad",
        "header": event.header or "",
        "timestamp": None,
        "objects": {},
        "mbus": [],
    }


def _iso(moment: Any) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None
