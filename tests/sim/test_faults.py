"""Each fault does what it says, and nothing else; the truth never sees line faults."""

from __future__ import annotations

import pytest
from dsmr_parser.exceptions import InvalidChecksumError

from firmware_sim.api import Rendered, render
from firmware_sim.clock import parse_start
from firmware_sim.faults import parse_faults
from tests.sim.conftest import peer

START = "2026-04-07T00:00:00+02:00"


def _run(faults: str = "") -> Rendered:
    return render("dsmr5", start=START, duration="5m", seed=11, gas=True, faults=faults)


@pytest.fixture(scope="module")
def clean() -> Rendered:
    return _run()


def _pairs(clean: Rendered, faulted: Rendered) -> list[tuple[bytes, bytes]]:
    by_time = dict(zip(clean.times, clean.telegrams, strict=True))
    assert faulted.truth == clean.truth  # line faults never touch the meter's truth
    return [(by_time[t], data) for t, data in zip(faulted.times, faulted.telegrams, strict=True)]


def test_crc_changes_one_digit_and_the_peer_rejects_it(clean: Rendered) -> None:
    for good, bad in _pairs(clean, _run("crc:1")):
        diff = [i for i in range(len(good)) if good[i] != bad[i]]
        assert len(bad) == len(good) and len(diff) == 1 and chr(bad[diff[0]]).isdigit()
        with pytest.raises(InvalidChecksumError):
            peer("dsmr5").parse(bad.decode())


def test_truncate_cuts_before_the_crc(clean: Rendered) -> None:
    for good, bad in _pairs(clean, _run("truncate:1")):
        assert good.startswith(bad) and b"!" not in bad and len(bad) >= 1


def test_glue_removes_the_line_end(clean: Rendered) -> None:
    out = _run("glue:1")
    for good, bad in _pairs(clean, out):
        assert bad == good[:-2]
    assert b"\r\n/" not in out.data and out.data.count(b"/ISk5") == len(clean.telegrams)


def test_pad_ff_appends_only_0xff(clean: Rendered) -> None:
    for good, bad in _pairs(clean, _run("pad_ff:1")):
        assert bad.startswith(good) and len(bad) > len(good) and set(bad[len(good) :]) == {0xFF}


def test_noise_appends_garbage_that_cannot_start_a_telegram(clean: Rendered) -> None:
    for good, bad in _pairs(clean, _run("noise:1")):
        tail = bad[len(good) :]
        assert bad.startswith(good) and tail and b"/" not in tail and b"!" not in tail


def test_drop_loses_whole_telegrams_only(clean: Rendered) -> None:
    out = _run("drop:0.5")
    assert 0.3 * len(clean.times) < len(out.times) < 0.7 * len(clean.times)
    for good, sent in _pairs(clean, out):
        assert good == sent


def test_mixed_faults_leave_unfaulted_telegrams_intact(clean: Rendered) -> None:
    out = _run("crc:0.1,truncate:0.1,glue:0.1,noise:0.1,pad_ff:0.1,drop:0.1")
    assert {f for hit in out.faults for f in hit} == {"crc", "truncate", "glue", "noise", "pad_ff"}
    for (good, sent), hit in zip(_pairs(clean, out), out.faults, strict=True):
        assert (good == sent) == (not hit)


def test_silence_and_unplug_leave_a_gap_and_unplug_is_reported(clean: Rendered) -> None:
    begin = parse_start("2026-04-07T00:01:00+02:00", "Europe/Amsterdam")
    for kind in ("silence", "unplug"):
        out = _run(f"{kind}:90s@00:01")
        assert [t for t in clean.times if not begin <= t < begin + 90] == out.times
        assert len(out.unplugs) == (kind == "unplug")
    assert _run("unplug:90s@00:01").unplugs[0].t == begin


def test_fault_spec_errors_name_the_fault() -> None:
    with pytest.raises(ValueError, match="unknown fault 'bogus'"):
        parse_faults("bogus:0.1", 0, "Europe/Amsterdam")
    with pytest.raises(ValueError, match="needs DURATION@HH:MM"):
        parse_faults("silence:5m", 0, "Europe/Amsterdam")
    with pytest.raises(ValueError, match="probability"):
        parse_faults("crc:2", 0, "Europe/Amsterdam")
