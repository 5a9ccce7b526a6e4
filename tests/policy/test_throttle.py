"""Refusals of unverified requests: counted, at most two log rows per kind per hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from edge.policy import RefusalThrottle, refuse_unverified

T0 = datetime(2026, 6, 5, 10, 7, tzinfo=UTC)


def test_a_flood_gives_one_row_then_one_summary_per_hour() -> None:
    throttle, rows = RefusalThrottle(), []
    for i in range(10_000):
        now = T0 + timedelta(seconds=i * 0.5)  # 10 000 forgeries in 83 minutes
        throttle, first, summaries = throttle.note("readout bad-signature", now)
        rows += summaries
        if first:
            rows.append(refuse_unverified(now, "readout", "x", "forged").log[0])
    throttle, rows_after = throttle.flush(T0 + timedelta(hours=3))
    rows += rows_after
    # 10:07–11:00 and 11:00–11:30: two hours, each one own row and one summary
    assert len(rows) == 4
    counts = [int(r.detail.split()[0]) for r in rows if "more" in r.detail]
    assert sum(counts) + 2 == 10_000
    assert throttle.hours == ()


def test_kinds_are_counted_apart() -> None:
    throttle = RefusalThrottle()
    throttle, first_a, _ = throttle.note("readout bad-signature", T0)
    throttle, first_b, _ = throttle.note("consent unreadable", T0)
    throttle, again_a, _ = throttle.note("readout bad-signature", T0)
    assert (first_a, first_b, again_a) == (True, True, False)
    assert throttle.count("readout bad-signature") == 2


def test_unverified_refusal_echoes_only_the_claimed_id() -> None:
    out = refuse_unverified(T0, "readout", "abc", "unknown kid")
    assert out.reply is not None
    assert out.reply.to_json() == {
        "request_id": "abc", "type": "readout", "ap": "", "status": "refused",
        "reason": "bad-signature",
    }  # fmt: skip
    assert refuse_unverified(T0, "readout", None, "not CBOR").reply is None
