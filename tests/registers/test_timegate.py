"""The meter-time gate and the bounded gap (SPEC §4 "Meter time is judged, not trusted")."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from edge.registers import MISSING, MeterEngine
from edge.registers.engine import GAP_KEEP_S
from edge.registers.timegate import CONFIRM_RUN, MAX_JUMP_S, TimeGate

AMS = ZoneInfo("Europe/Amsterdam")
JUNE = 1_780_304_400  # 2026-06-01T09:00:00Z (summer: UTC+2, letter S)
SUMMER, WINTER = 7200, 3600
Y2099 = 4_102_444_799  # 2099-12-31T22:59:59Z


def admit(
    gate: TimeGate[int], t: int, received: int | None = None, offset: int = SUMMER
) -> list[int]:
    if gate.fast(t, received):
        return [t]
    return [t for t, _ in gate.judge(t, t, received=received, offset_s=offset, tz=AMS).items]


def test_small_steps_take_the_fast_path_and_jumps_do_not() -> None:
    gate: TimeGate[int] = TimeGate(accepted=JUNE)
    assert gate.fast(JUNE + 1, None) and gate.fast(JUNE + 11, JUNE + 12)
    assert not gate.fast(JUNE + 11 + 3601, None)  # an hour: judged
    assert not gate.fast(JUNE + 5, None)  # backwards: judged


def test_a_far_future_telegram_is_rejected_and_the_real_time_goes_on() -> None:
    gate: TimeGate[int] = TimeGate(accepted=JUNE)
    assert admit(gate, Y2099) == []
    judged = gate.judge(JUNE + 1, JUNE + 1, received=None, offset_s=SUMMER, tz=AMS)
    assert [t for t, _ in judged.items] == [JUNE + 1] and judged.rejected == 1
    assert gate.accepted == JUNE + 1


def test_a_letter_contradicting_the_zone_is_held_until_a_run_proves_it() -> None:
    gate: TimeGate[int] = TimeGate(accepted=JUNE)
    swapped = JUNE + 3600 + 1  # 11:00:01W read in summer: an hour ahead
    assert admit(gate, swapped, offset=WINTER) == []
    assert admit(gate, JUNE + 2) == [JUNE + 2]  # the real time line: the swap is rejected
    # a meter that keeps the winter letter all summer: believed after a run, then adopted
    released: list[int] = []
    for k in range(CONFIRM_RUN):
        released += admit(gate, swapped + 10 * k, offset=WINTER)
    assert released == [swapped + 10 * k for k in range(CONFIRM_RUN)]
    assert gate.adopted_offset == WINTER
    assert admit(gate, swapped + 7200, offset=WINTER) == [swapped + 7200]  # after a gap too


def test_a_backwards_reset_is_released_as_a_run_with_reset() -> None:
    gate: TimeGate[int] = TimeGate(accepted=JUNE)
    results = [gate.judge(t, t, received=None, offset_s=SUMMER, tz=AMS) for t in
               range(JUNE - 86_400, JUNE - 86_400 + 10 * CONFIRM_RUN, 10)]  # fmt: skip
    assert all(not r.items for r in results[:-1])
    assert results[-1].reset and len(results[-1].items) == CONFIRM_RUN


def test_an_inconsistent_run_is_never_confirmed() -> None:
    gate: TimeGate[int] = TimeGate(accepted=JUNE)
    for _ in range(3 * CONFIRM_RUN):
        assert admit(gate, Y2099) == []  # a frozen clock never moves on: no run
    assert gate.accepted == JUNE


def test_a_trusted_gateway_clock_outranks_any_run() -> None:
    gate: TimeGate[int] = TimeGate()
    for k in range(3 * CONFIRM_RUN):
        assert admit(gate, Y2099 + k, received=JUNE + k) == []
    assert admit(gate, JUNE + 40, received=JUNE + 40) == [JUNE + 40]  # vouched for: at once


def test_the_first_time_waits_for_a_run_or_the_end_of_the_source() -> None:
    gate: TimeGate[int] = TimeGate()
    assert admit(gate, JUNE) == [] and admit(gate, JUNE + 1) == []
    assert [t for t, _ in gate.end().items] == [JUNE, JUNE + 1]
    assert admit(gate, JUNE + 2) == [JUNE + 2]


def test_a_jump_of_less_than_a_day_is_a_silence_and_more_needs_a_run() -> None:
    gate: TimeGate[int] = TimeGate(accepted=JUNE)
    assert admit(gate, JUNE + MAX_JUMP_S) == [JUNE + MAX_JUMP_S]
    assert admit(gate, JUNE + 3 * MAX_JUMP_S) == []


def test_a_long_silence_is_one_bounded_gap() -> None:
    engine = MeterEngine("ap", interval_s=1)
    engine.feed(JUNE, (1000, 0, 0, 0))
    closed = engine.feed(Y2099, (2000, 0, 0, 0))
    assert len(closed) <= GAP_KEEP_S // 900 + 3  # not 2.5 million
    assert all(c.boundary.status == MISSING for c in closed)
    assert closed[0].boundary.utc == JUNE + 900  # the gap's first boundary is explicit
    silent = MeterEngine("ap", interval_s=1)
    silent.feed(JUNE, (1000, 0, 0, 0))
    assert len(silent.advance(Y2099)) <= GAP_KEEP_S // 900 + 2
    assert silent.pending is not None and Y2099 - silent.pending <= 3600 + 900


def test_a_rolled_back_engine_gives_the_same_closures_again() -> None:
    readings = [(JUNE + 7 * k, (1000 + k, 500, 20 + k // 3, 0)) for k in range(600)]
    engine = MeterEngine("ap", interval_s=10)
    for t, regs in readings[:200]:
        engine.feed(t, regs)
    committed = engine.checkpoint()
    first = [c for t, regs in readings[200:] for c in engine.feed(t, regs)]
    engine.restore(committed)  # the commit of `first` failed: back to what is stored
    again = [c for t, regs in readings[200:] for c in engine.feed(t, regs)]
    assert again == first and first
    rebuilt = MeterEngine("ap", interval_s=10)
    rebuilt.restore(committed)
    assert [c for t, regs in readings[200:] for c in rebuilt.feed(t, regs)] == first
