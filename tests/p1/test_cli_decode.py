"""`edge-agent decode` as a user runs it: a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import DATA

KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "edge", "decode", *args],
        input=stdin,
        capture_output=True,
        check=False,
        timeout=60,
    )


def test_json_has_exactly_the_interface_keys() -> None:
    result = run("--json", str(DATA / "fluvius_v171.txt"))
    assert result.returncode == 0
    (obj,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert set(obj) == {"crc", "header", "timestamp", "objects", "mbus"}
    assert obj["crc"] == "ok" and obj["timestamp"] == "2020-05-12T11:54:09Z"
    assert obj["objects"]["1-0:1.8.2"] == {"value": "000015.758", "unit": "kWh"}
    assert obj["objects"]["1-0:1.6.0"] == [
        {"value": "200509134558S", "unit": None},
        {"value": "02.589", "unit": "kW"},
    ]
    assert obj["mbus"][1] == {
        "channel": 2,
        "type": 7,
        "id": "3853414731323334353637383930",
        "timestamp": "2020-05-12T11:45:58Z",
        "value": "00872.234",
        "unit": "m3",
    }


def test_bad_crc_frame_printed_as_bad_with_empty_objects(tmp_path: Path) -> None:
    data = (DATA / "v5.txt").read_bytes().replace(b"4.426", b"4.427")
    capture = tmp_path / "bad.txt"
    capture.write_bytes(b"junk" + data + (DATA / "v4_2.txt").read_bytes())
    result = run("--json", str(capture))
    assert result.returncode == 0
    objs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["crc"] for o in objs] == ["bad", "ok"]
    assert objs[0]["objects"] == {} and objs[0]["header"] == "ISk5\\2MT382-1000"


def test_stats_from_stdin_many_files() -> None:
    stream = b"".join(p.read_bytes() for p in sorted(DATA.glob("*.txt")))
    result = run("--stats", "-", stdin=b"\xff\xff" + stream)
    assert result.returncode == 0
    stats = json.loads(result.stdout)
    assert set(stats) == {"telegrams", "crc_ok", "crc_bad", "crc_none", "errors", "skipped_bytes"}
    assert stats["telegrams"] == 15 and stats["crc_ok"] == 11 and stats["crc_none"] == 4
    assert stats["crc_bad"] == 0 and stats["skipped_bytes"] >= 2


def test_encrypted_raw_and_hex_captures() -> None:
    files = [str(DATA / "encrypted" / "sagemcom_t210_d_r_gcm.bin")]
    files.append(str(DATA / "encrypted" / "luxembourg_smarty_msn_gcm.hex"))
    result = run("--json", "--key", KEY, *files)
    assert result.returncode == 0, result.stderr
    objs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["objects"]["1-0:1.8.0"]["value"] for o in objs] == ["006545766", "000273.764"]


def test_exit_2_with_one_line_for_unreadable_file_bad_key_failed_decryption() -> None:
    missing = run("/nonexistent/capture.txt")
    assert missing.returncode == 2 and len(missing.stderr.splitlines()) == 1
    bad_key = run("--key", "xyz", str(DATA / "v5.txt"))
    assert bad_key.returncode == 2 and b"32 hex digits" in bad_key.stderr
    wrong = run("--key", "BB" * 16, str(DATA / "encrypted" / "sagemcom_t210_d_r_gcm.bin"))
    assert wrong.returncode == 2 and b"decryption failed" in wrong.stderr
    assert len(wrong.stderr.splitlines()) == 1


def test_console_script_and_module_agree() -> None:
    script = Path(sys.executable).with_name("edge-agent")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "edge"]
    result = subprocess.run(
        [*command, "decode", "--stats", str(DATA / "v5.txt")],
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert json.loads(result.stdout)["crc_ok"] == 1
