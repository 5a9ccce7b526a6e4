"""Decimal text to exact integers: the hot-path shortcut never disagrees with the full rule."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from edge.errors import ParseError
from edge.p1.values import ENERGY, POWER, Dimension, energy_of, measure, power_of


def _outcome(fn: Callable[[], int]) -> int | str:
    try:
        return fn()
    except ParseError:
        return "bad"


@pytest.mark.parametrize(("fast", "dim"), [(energy_of, ENERGY), (power_of, POWER)])
def test_fast_register_conversion_equals_the_general_one(
    fast: Callable[[str], int], dim: Dimension
) -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    text = st.text(alphabet="0123456789.-+_ a²", max_size=14)
    unit = st.sampled_from(["kWh", "kW", "m3", "Wh", "W", "GJ", "A", "MWh", ""])

    @given(text, unit)
    def same(value: str, u: str) -> None:
        raw = f"{value}*{u}" if u else value
        assert _outcome(lambda: fast(raw)) == _outcome(lambda: measure(value, u or None, dim))

    same()
