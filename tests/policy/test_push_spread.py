"""Push moments: after yesterday settles, spread evenly, also on DST days (issue 11, 12–13).

The property test covers 100 000 gateway ids and every local day of 2026–2027. The moments of
all ids on all days are computed from `push_span` (the real function, per day) and the ids'
hashes with numpy; on every day a rotating sample of ids is checked against the real
`push_moment`, so the vectorised figures are the function's own.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, date, datetime, timedelta

import numpy as np

from edge.policy import PolicyState, push, push_moment, push_span, window_end
from edge.policy.periods import local_midnight
from tests.policy.support import AMS, PAP, config, local

SETTLE = timedelta(hours=1, seconds=60)  # the gateway clock's: the 1 h horizon + 60 s
IDS = 100_000
Z_99 = 2.3263  # one-sided 1 % point of the standard normal


def test_gw_188_pushes_once_yesterday_has_settled() -> None:
    """Reproduces 0.46 % of ids pushing one day late: GW-188's moment was 01:00:40."""
    cfg = config(gateway_id="GW-188", settle=SETTLE)
    day = date(2026, 6, 5)
    moment = push_moment(cfg, day)
    assert moment >= local_midnight(day, AMS) + SETTLE
    out = push(PolicyState(), moment, cfg, {PAP: date(2026, 6, 1)})
    assert [str(p) for p in out.releases[0].periods][-1] == "2026-06-04"  # yesterday, on time


def chi2_critical(k: int) -> float:
    """Upper 1 % point of χ² with k degrees of freedom (Wilson–Hilferty)."""
    return k * (1 - 2 / (9 * k) + Z_99 * math.sqrt(2 / (9 * k))) ** 3


def test_spring_forward_day_does_not_double_the_hour_after_the_gap() -> None:
    """Reproduces 9 950 of 20 000 gateways in UTC hour 01 on 2026-03-29."""
    day = date(2026, 3, 29)
    hours = [
        push_moment(config(gateway_id=f"GW-{i}", settle=SETTLE), day).hour for i in range(20_000)
    ]
    first, end = push_span(config(settle=SETTLE), day)
    for hour in set(hours):
        start = max(first, datetime(2026, 3, 29, hour, tzinfo=UTC))
        stop = min(end, datetime(2026, 3, 29, hour, tzinfo=UTC) + timedelta(hours=1))
        share = (stop - start) / (end - first)
        assert hours.count(hour) <= 20_000 * share * 1.1, (hour, hours.count(hour), share)


def test_every_moment_of_2026_2027_after_settle_uniform_and_no_hour_overloaded() -> None:
    digests = np.array(
        [
            int.from_bytes(hashlib.sha256(f"GW-{i}".encode()).digest()[:8], "big")
            for i in range(IDS)
        ],
        dtype=np.uint64,
    )
    day, last = date(2026, 1, 1), date(2027, 12, 31)
    dst_days = 0
    while day <= last:
        cfg = config(settle=SETTLE)
        first, end = push_span(cfg, day)
        assert end == window_end(cfg, day)
        span = int((end - first).total_seconds())
        offsets = digests % np.uint64(span)  # seconds after `first`, as `push_moment` computes
        # the sample: the real function for 20 ids a day (a different 20 each day)
        for i in range(day.toordinal() % 5000, IDS, 5000):
            moment = push_moment(config(gateway_id=f"GW-{i}", settle=SETTLE), day)
            assert moment == first + timedelta(seconds=int(offsets[i])), (day, i)
        # every moment after yesterday settles, and inside the window
        assert first >= local_midnight(day, AMS) + SETTLE and int(offsets.max()) < span
        if local(day.year, day.month, day.day, 12).utcoffset() != (
            local(day.year, day.month, day.day, 0).utcoffset()
        ):
            dst_days += 1
        _check_uniform(offsets, span, first, day)
        day += timedelta(days=1)
    assert dst_days == 4  # both springs and both autumns were among them


def _check_uniform(offsets: np.ndarray, span: int, first: datetime, day: date) -> None:
    minutes = span // 60  # whole minutes of the span (a partial last minute is left out)
    counts = np.bincount(
        (offsets[offsets < minutes * 60] // 60).astype(np.int64), minlength=minutes
    )
    expected = counts.sum() / minutes
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < chi2_critical(minutes - 1), (day, chi2)
    # per UTC hour: at most its share of the span plus 10 %
    hour_of = (np.int64(first.timestamp()) + offsets.astype(np.int64)) // 3600
    for hour, count in zip(*np.unique(hour_of, return_counts=True), strict=True):
        start = max(int(first.timestamp()), int(hour) * 3600)
        stop = min(int(first.timestamp()) + span, (int(hour) + 1) * 3600)
        assert count <= IDS * (stop - start) / span * 1.1, (day, int(hour), int(count))
