"""Decimal text to exact integers: the hot-path shortcut never disagrees with the full rule."""

from __future__ import annotations


def test_fast_register_conversion_equals_the_general_one() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    from edge.p1.values import base_of, to_base_units

    text = st.text(alphabet="0123456789.-+_ a²", max_size=12)
    unit = st.sampled_from(["kWh", "kW", "m3", "Wh", "W", "GJ", "A", ""])

    @given(text, unit)
    def same(value: str, u: str) -> None:
        assert base_of(f"{value}*{u}" if u else value) == (to_base_units(value, u) if u else None)

    same()
