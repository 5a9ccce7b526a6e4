"""The simulated loads stay within what their equipment can draw."""

from __future__ import annotations

import numpy as np

from firmware_sim.profiles import CHARGER_W, Span, generate


def _day() -> Span:
    utc = np.arange(1_780_264_800, 1_780_264_800 + 86_400, dtype=np.int64)  # a local day
    return Span(utc, (utc - utc[0]) / 3600.0, 2, 152)


def test_an_ev_charger_never_draws_more_than_its_charger_even_when_sessions_overlap() -> None:
    span = _day()
    peaks = [
        int(generate("ev-charger", seed, 0, span).cons.sum(axis=0).max()) for seed in range(300)
    ]
    assert max(peaks) <= CHARGER_W + 3  # the charger's 11 kW and its 3 W standby
    # the cap is met (sessions happen and charge at full power), not a profile that never charges
    assert sum(p >= CHARGER_W for p in peaks) > 100
