"""Frame + CRC + parse throughput: edge.p1 against dsmr_parser (PyPI) on the same telegrams.

Both parse the same mixed set of real fixture telegrams (each with the dsmr_parser
specification that fits it, CRC checking on where the telegram has a CRC). Target (SPEC §10):
edge.p1 at least 25x dsmr_parser's throughput. Run: `python benchmarks/parse.py`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from pathlib import Path

from dsmr_parser import telegram_specifications as specs
from dsmr_parser.parsers import TelegramParser

from edge.p1 import P1Decoder, Telegram

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
FIXTURES = {
    "v2_2.txt": specs.V2_2,
    "v3.txt": specs.V3,
    "v4_2.txt": specs.V4,
    "v5.txt": specs.V5,
    "v5_two_mbus.txt": specs.V5,
    "fluvius_v171.txt": specs.BELGIUM_FLUVIUS,
    "fluvius_v171_alt.txt": specs.BELGIUM_FLUVIUS,
    "iskra_ie.txt": specs.ISKRA_IE,
    "v5_eon_hu.txt": specs.EON_HUNGARY,
    "x_luxembourg_smarty_plain.txt": specs.LUXEMBOURG_SMARTY,
    # the plaintext inside the encrypted frame: the Sagemcom objects, no cipher layer
    "sagemcom_t210_d_r.txt": {**specs.SAGEMCOM_T210_D_R, "general_global_cipher": False},
    "esy5q3db1024_v304.txt": specs.Q3D,
}


def _best_rate(run: Callable[[], int], seconds: float = 1.5) -> float:
    """Telegrams per second of the fastest of several rounds (least disturbed by the OS)."""
    best = 0.0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        count = run()
        best = max(best, count / (time.perf_counter() - start))
    return best


def main() -> None:
    raw = {name: (DATA / name).read_bytes() for name in FIXTURES}
    stream = b"".join(raw.values()) * 20
    parsers = [
        (TelegramParser(spec, apply_checksum_validation=b"!\r" not in data), data.decode("latin-1"))
        for (name, spec), data in zip(FIXTURES.items(), raw.values(), strict=True)
    ]

    def run_edge() -> int:
        decoder = P1Decoder()
        events = decoder.feed(stream) + decoder.flush()
        telegrams = [event for event in events if isinstance(event, Telegram)]
        assert len(telegrams) == 20 * len(FIXTURES), len(telegrams)
        return len(telegrams)

    def run_peer() -> int:
        for _ in range(2):
            for parser, text in parsers:
                parser.parse(text)
        return 2 * len(parsers)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = _best_rate(run_edge)
        peer = _best_rate(run_peer)
    ratio = ours / peer
    print(f"edge.p1:     {ours:10.0f} telegrams/s  ({1e6 / ours:6.1f} us/telegram)")
    print(f"dsmr_parser: {peer:10.0f} telegrams/s  ({1e6 / peer:6.1f} us/telegram)")
    verdict = "PASS" if ratio >= 25 else "MISS"
    print(f"ratio: {ratio:.1f}x dsmr_parser (target >= 25x): {verdict}")


if __name__ == "__main__":
    main()
