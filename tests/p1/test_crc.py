from __future__ import annotations

import random

from edge.p1.crc import USING_COMPILED_CRC, crc16_arc, crc16_arc_pure


def test_check_value_of_crc16_arc() -> None:
    assert crc16_arc_pure(b"123456789") == 0xBB3D  # the catalogue check value of CRC-16/ARC
    assert crc16_arc(b"123456789") == 0xBB3D


def test_compiled_and_pure_agree_on_random_data() -> None:
    assert USING_COMPILED_CRC  # the wheel is installed in the test environment
    rng = random.Random(1)
    for size in [*range(40), 1000, 4096, 16384]:
        data = bytes(rng.randrange(256) for _ in range(size))
        assert crc16_arc(data) == crc16_arc_pure(data)
