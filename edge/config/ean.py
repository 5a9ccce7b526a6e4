"""EAN codes of Dutch and Belgian connections: 18-digit GS1 GSRN with a mod-10 check digit."""

from __future__ import annotations

from edge.config.table import fail

EAN_LENGTH = 18


def gs1_check_digit(body: str) -> int:
    """The GS1 mod-10 check digit for `body` (all digits but the last).

    Weights alternate 3, 1, 3, … starting from the rightmost digit of the body.
    """
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def with_check_digit(body: str) -> str:
    """`body` (17 digits) with its check digit appended: a valid EAN, for examples and tests."""
    return body + str(gs1_check_digit(body))


def validate_ean(value: object, key: str, check: bool) -> str:
    """`value` as an 18-digit EAN; with `check`, its GS1 check digit must be right too.

    The way out (`connection.check_ean = false`) exists for test rigs and made-up EANs.
    """
    if not isinstance(value, str):
        fail(key, f"expected the EAN as a string of 18 digits in quotes, got {value!r}")
    if len(value) != EAN_LENGTH or not value.isascii() or not value.isdigit():
        fail(key, f"{value!r} is not an EAN: expected exactly 18 digits (found {len(value)} chars)")
    expected = gs1_check_digit(value[:-1])
    if check and int(value[-1]) != expected:
        fail(
            key,
            f"{value} fails the GS1 mod-10 check digit (last digit should be {expected}); "
            "fix a typo, or set check_ean = false in [connection] for made-up EANs",
        )
    return value
