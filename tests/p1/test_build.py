"""The hot path's fast constructors build the very objects the dataclasses build."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from edge.p1 import build
from edge.p1.model import Registers, Telegram
from edge.p1.values import DEFAULT_TZ


def test_fast_registers_equal_the_dataclass_and_stay_frozen() -> None:
    fast = build.registers(1, 2, 3, 4, None, 9)
    assert type(fast) is Registers
    assert fast == Registers(1, 2, 3, 4, None, 9)
    assert (fast.import_sum, fast.export_sum) == (3, 9)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.import_t1 = 5  # type: ignore[misc]


def test_fast_telegram_equals_the_dataclass_field_by_field() -> None:
    regs = build.registers(10, 20, 0, 0, None, None)
    stamp = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    args = ("ISk5\\2MT382-1000", "ok", stamp, "E0001", regs, 250, 0, 2, "/ISk5\r\n!", DEFAULT_TZ)
    fast = build.telegram(*args)  # type: ignore[arg-type]
    names = [f.name for f in dataclasses.fields(Telegram)]
    assert type(fast) is Telegram
    assert fast == Telegram(**dict(zip(names, args, strict=True)))
    assert [getattr(fast, n) for n in names] == list(args)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.tariff = 1  # type: ignore[misc]


def test_a_field_list_out_of_step_with_the_model_fails_loudly() -> None:
    with pytest.raises(RuntimeError, match="fields are"):
        build._setters(Registers, ("import_t1",))
