"""Belgian e-MUCS demand registers from the simulated quarter-hours.

Strategy: quarter averages come from the exact import energy of each quarter (integer Ws // s);
the month peak and the 13-month history are a tiny state machine stepped once per quarter end,
and every telegram picks the snapshot that was current at its instant (numpy searchsorted).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from firmware_sim.clock import I64, QUARTER, local_date_fields, offset_at

HISTORY_MAX = 13
Entry = tuple[int, int, int]  # (reset instant, peak instant, peak W), all UTC / W


@dataclass(frozen=True, slots=True)
class PeakState:
    """Demand state carried between segments."""

    month: int  # local year * 12 + month - 1 of the current billing month
    q_start: int  # start instant of the running quarter
    q_imp_ws: int  # total import Ws at q_start
    peak_w: int
    peak_t: int
    history: tuple[Entry, ...] = ()


@dataclass(frozen=True, slots=True)
class Demand:
    """Per-telegram demand values and the history snapshots they index."""

    avg_w: I64
    peak_w: I64
    peak_t: I64
    hist_idx: I64
    histories: tuple[tuple[Entry, ...], ...]
    end: PeakState


def _month_of(t: int, tz: str) -> int:
    local = np.array([t + offset_at(t, tz)], dtype=np.int64)
    year, month, _, _ = local_date_fields(local)
    return int(year[0]) * 12 + int(month[0]) - 1


def initial(t0: int, imp_ws: int, tz: str) -> PeakState:
    """A fresh meter at `t0`: empty month peak (stamped at t0), no history."""
    return PeakState(_month_of(t0, tz), t0, imp_ws, 0, t0)


def _close_quarter(st: PeakState, qe: int, imp_at_qe: int, tz: str) -> PeakState:
    elapsed = qe - st.q_start
    avg = (imp_at_qe - st.q_imp_ws) // elapsed if elapsed > 0 else 0
    if avg > st.peak_w:
        st = replace(st, peak_w=avg, peak_t=qe)
    month = _month_of(qe, tz)
    if month != st.month:
        entry = (qe, st.peak_t, st.peak_w)
        st = replace(
            st,
            month=month,
            peak_w=0,
            peak_t=qe,
            history=((entry, *st.history))[:HISTORY_MAX],
        )
    return replace(st, q_start=qe, q_imp_ws=imp_at_qe)


def demand(st: PeakState, t0: int, imp_ws: I64, tel_t: I64, tz: str) -> Demand:
    """Step the state through one segment (imp_ws at instants t0..t0+n) for telegrams at tel_t."""
    n = len(imp_ws) - 1
    first = t0 - t0 % QUARTER + QUARTER
    ends = np.arange(first, t0 + n + 1, QUARTER, dtype=np.int64)
    snaps = [st]
    for qe in ends.tolist():
        st = _close_quarter(st, qe, int(imp_ws[qe - t0]), tz)
        snaps.append(st)
    j = np.searchsorted(ends, tel_t, side="right")
    q_start = np.array([s.q_start for s in snaps], dtype=np.int64)[j]
    q_imp = np.array([s.q_imp_ws for s in snaps], dtype=np.int64)[j]
    elapsed = tel_t - q_start
    now_imp = imp_ws[tel_t - t0]
    avg = np.where(elapsed > 0, (now_imp - q_imp) // np.maximum(elapsed, 1), 0)
    histories: list[tuple[Entry, ...]] = []
    hist_of_snap = []
    for s in snaps:
        if not histories or histories[-1] is not s.history:
            histories.append(s.history)
        hist_of_snap.append(len(histories) - 1)
    return Demand(
        avg_w=avg.astype(np.int64),
        peak_w=np.array([s.peak_w for s in snaps], dtype=np.int64)[j],
        peak_t=np.array([s.peak_t for s in snaps], dtype=np.int64)[j],
        hist_idx=np.array(hist_of_snap, dtype=np.int64)[j],
        histories=tuple(histories),
        end=st,
    )
