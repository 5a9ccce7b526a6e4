"""Monthly blocks (regime "monthly"): encoding, envelope, verification, chain with day blocks."""

from __future__ import annotations

from datetime import UTC, datetime

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.blocks.chain import block_hash
from edge.blocks.cose import keyring, sign
from edge.blocks.month import (
    MONTH_CONTENT_TYPE,
    MonthReadings,
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
        "status", "seq", "prev", "created", "time_sync",
    }  # fmt: skip
    assert body["readings"]["export_t1"] == [None, 3]


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
