"""Monthly blocks (regime "monthly"): encoding, envelope, verification, chain with day blocks."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.blocks.chain import block_hash
from edge.blocks.cose import keyring, sign
from edge.blocks.month import (
    MONTH_CONTENT_TYPE,
    MonthReadings,
    SeriesSpan,
    encode_month_payload,
    month_span,
)
from edge.errors import BlockError
from edge.grid.verify import verify_blocks
from edge.policy.config import default_regime

KEY = Ed25519PrivateKey.generate()


def readings(month: str = "2026-03", end_t1: int | None = 5_000) -> MonthReadings:
    return MonthReadings(
        gw="GW-1", ap="871687120000000001", role="primary", meter="M1", month=month,
        tz="Europe/Amsterdam",
        readings={"import_t1": (1_000, end_t1), "import_t2": (0, 10), "export_t1": (None, 3),
                  "export_t2": (0, 0)},
        status=("interpolated", "measured"),
    )  # fmt: skip


def block(month: str, seq: int, prev: bytes | None, end_t1: int | None = 5_000) -> bytes:
    payload = encode_month_payload(
        readings(month, end_t1), seq=seq, prev=prev, created=datetime(2026, 6, 1, tzinfo=UTC),
        time_sync="ntp",
    )  # fmt: skip
    return sign(payload, KEY, MONTH_CONTENT_TYPE)


def test_local_month_span_over_dst() -> None:
    start, end = month_span("2026-03", "Europe/Amsterdam")
    assert (start.isoformat(), end.isoformat()) == (
        "2026-02-28T23:00:00+00:00",
        "2026-03-31T22:00:00+00:00",
    )
    with pytest.raises(BlockError):
        month_span("2026-13", "Europe/Amsterdam")


def test_payload_is_deterministic_with_exact_keys() -> None:
    first = block("2026-03", 1, None)
    assert first == block("2026-03", 1, None)
    body = cbor2.loads(cbor2.loads(first).value[2])
    assert set(body) == {
        "v", "gw", "ap", "role", "meter", "month", "tz", "start", "end", "obis", "readings",
        "status", "seq", "prev", "created", "time_sync", "series",
    }  # fmt: skip
    assert body["readings"]["export_t1"] == [None, 3]
    assert body["series"] == []  # none stated: read as one series


def test_verifier_accepts_a_month_chain_and_flags_a_decrease() -> None:
    march = block("2026-03", 1, None)
    april = block("2026-04", 2, block_hash(march))
    result = verify_blocks([("m", march), ("a", april)], keyring(KEY.public_key()))
    assert result.ok and not result.gaps
    bad = block("2026-05", 3, block_hash(april), end_t1=10)  # t1 falls from 1000 to 10
    result = verify_blocks([("m", march), ("a", april), ("b", bad)], keyring(KEY.public_key()))
    assert not result.ok
    assert any("decreases" in p for r in result.reports for p in r.problems)


def test_created_before_the_month_ended_is_refused() -> None:
    with pytest.raises(BlockError):
        encode_month_payload(
            readings(), seq=1, prev=None, created=datetime(2026, 3, 15, tzinfo=UTC),
            time_sync="ntp",
        )  # fmt: skip


def test_belgian_meters_default_to_the_monthly_regime() -> None:
    assert default_regime("Europe/Brussels") == "monthly"
    assert default_regime("Europe/Amsterdam") == "quarter-hour"


# -- a meter change inside the month (issue 11 item 15, R5) -----------------------------------

AP = "871687120000000001"
AMSTERDAM = "Europe/Amsterdam"


def _april_with_a_meter_change(tmp_path: Path) -> tuple[sqlite3.Connection, dict[str, int]]:
    """The engine fed a reading on every 5 minutes of April 2026: meter OLD until 04-12 10:00
    local, then NEW starting near zero. The truth: what each meter counted in April."""
    from edge.registers import MeterEngine
    from edge.store.db import connect
    from edge.store.registers import commit_closed

    conn = connect(tmp_path)
    engine = MeterEngine(AP, interval_s=10)
    start, end = month_span("2026-04", AMSTERDAM)
    change = int(datetime(2026, 4, 12, 8, 0, 3, tzinfo=UTC).timestamp())
    t, regs = int(start.timestamp()), [1_000_000, 2_000_000, 50, 0]
    truth = {"old": 0, "new": 0}
    closed = []
    while t <= int(end.timestamp()) + 900:
        meter = "OLD" if t < change else "NEW"
        if t == change:
            regs = [3, 4, 0, 0]  # the new meter, nearly fresh
        elif t > int(start.timestamp()):
            regs[0 if (t // 3600) % 24 >= 7 else 1] += 25
            if t <= int(end.timestamp()):
                truth[meter.lower()] += 25
        closed += engine.feed(t, (regs[0], regs[1], regs[2], regs[3]), meter=meter)
        t = t + 3 if t == change - 3 else (change if t < change < t + 300 else t + 300)
    commit_closed(conn, closed, {})
    return conn, truth


def test_a_month_with_a_meter_change_carries_each_series_apart_and_verifies(
    tmp_path: Path,
) -> None:
    from edge.release.build import month_readings

    conn, truth = _april_with_a_meter_change(tmp_path)
    content = month_readings(conn, gw="GW-1", ap=AP, role="primary", month="2026-04", tz=AMSTERDAM)
    old, new = content.series
    assert (old.meter, new.meter) == ("OLD", "NEW")
    assert old.first == month_span("2026-04", AMSTERDAM)[0]
    assert new.last == month_span("2026-04", AMSTERDAM)[1] and old.last < new.first

    # the month's energy is the sum of the series' deltas, exactly the meters' truth
    def delta(span: SeriesSpan) -> int:
        return sum(span.readings[r][1] - span.readings[r][0] for r in ("import_t1", "import_t2"))

    # the two quarter-hours around the change have no delta (R5): what the meters counted
    # there is the only difference to the truth, and it is within those two quarters
    assert 0 <= truth["old"] + truth["new"] - delta(old) - delta(new) <= 2 * 3 * 25
    assert delta(old) <= truth["old"] and delta(new) <= truth["new"]
    payload = encode_month_payload(
        content, seq=1, prev=None, created=datetime(2026, 5, 2, tzinfo=UTC), time_sync="meter"
    )
    assert payload == encode_month_payload(
        content, seq=1, prev=None, created=datetime(2026, 5, 2, tzinfo=UTC), time_sync="meter"
    )
    body = cbor2.loads(payload)
    assert [s["meter"] for s in body["series"]] == ["OLD", "NEW"]
    assert body["readings"]["import_t1"][0] > body["readings"]["import_t1"][1]  # edges: 2 meters
    result = verify_blocks([("april", sign(payload, KEY, MONTH_CONTENT_TYPE))],
                           keyring(KEY.public_key()))  # fmt: skip
    assert result.ok, [r.problems for r in result.reports]


def test_a_delta_across_a_meter_change_without_series_still_fails() -> None:
    """The defect's block (start of the old meter, end of the new, no series) is refused."""
    forged = cbor2.loads(block("2026-03", 1, None))
    body = cbor2.loads(forged.value[2])
    body["readings"]["import_t1"] = [900_000, 12]
    del body["series"]
    payload = cbor2.dumps(body, canonical=True)
    result = verify_blocks([("m", sign(payload, KEY, MONTH_CONTENT_TYPE))],
                           keyring(KEY.public_key()))  # fmt: skip
    assert not result.ok
    assert any("decreases over the month" in p for r in result.reports for p in r.problems)


def _with_series(series: list[dict[str, object]], readings: dict[str, list[int | None]]) -> bytes:
    body = cbor2.loads(cbor2.loads(block("2026-03", 1, None)).value[2])
    body["series"], body["readings"] = series, readings
    return sign(cbor2.dumps(body, canonical=True), KEY, MONTH_CONTENT_TYPE)


def _span(meter: str, start: str, end: str, first: int, last: int) -> dict[str, object]:
    return {"meter": meter, "from": start, "to": end, "status": ["measured", "measured"],
            "readings": {"import_t1": [first, last], "import_t2": [0, 0],
                         "export_t1": [0, 0], "export_t2": [0, 0]}}  # fmt: skip


@pytest.mark.parametrize(
    ("series", "phrase"),
    [
        ([_span("A", "2026-02-28T23:00:00Z", "2026-03-10T00:00:00Z", 900, 800),
          _span("B", "2026-03-10T00:15:00Z", "2026-03-31T22:00:00Z", 5, 12)], "decreases within"),
        ([_span("A", "2026-02-28T23:00:00Z", "2026-03-10T00:00:00Z", 900, 950),
          _span("B", "2026-03-09T00:15:00Z", "2026-03-31T22:00:00Z", 5, 12)], "overlap"),
        ([_span("A", "2026-02-28T23:00:00Z", "2026-03-10T00:00:00Z", 901, 950),
          _span("B", "2026-03-10T00:15:00Z", "2026-03-31T22:00:00Z", 5, 12)], "month's start"),
        ([_span("A", "2026-02-28T23:00:00Z", "2026-03-10T00:00:00Z", 900, 950),
          _span("B", "2026-03-10T00:15:00Z", "2026-04-30T22:00:00Z", 5, 12)], "outside"),
        ([{"meter": "A"}], "entries of meter"),
    ],
)  # fmt: skip
def test_the_verifier_checks_the_series(series: list[dict[str, object]], phrase: str) -> None:
    readings = {"import_t1": [900, 12], "import_t2": [0, 0], "export_t1": [0, 0],
                "export_t2": [0, 0]}  # fmt: skip
    result = verify_blocks([("m", _with_series(series, readings))], keyring(KEY.public_key()))
    assert not result.ok
    assert any(phrase in p for r in result.reports for p in r.problems), result.reports
