"""Every command of hw/raspberry-pi.md works as written from where the guide says to stand
(the source tree's root): each file it installs or copies exists at that path, or was built
by an earlier command; the wheel the rollback names was saved when it was installed."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "hw" / "raspberry-pi.md"
VALUED = {"-m", "-o", "-g", "--mode", "--owner", "--group"}  # options of install(1) with a value


def commands(text: str) -> list[list[str]]:
    """The shell commands of the guide's ```sh blocks, continuations joined, in order."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("#", 1)[0].strip()
            for part in re.split(r"&&|;", line):
                words = shlex.split(part)
                if words and words[0] == "sudo":
                    words = words[1:]
                if words:
                    found.append(words)
    return found


def sources(words: list[str]) -> list[str]:
    """The files an `install` or `cp` reads (every operand but the target)."""
    if words[0] not in ("install", "cp") or "-d" in words:
        return []
    operands, skip = [], False
    for word in words[1:]:
        if skip:
            skip = False
        elif word in VALUED:
            skip = True
        elif not word.startswith("-"):
            operands.append(word)
    return operands[:-1]


def test_every_file_the_guide_installs_exists_where_it_stands_or_was_built() -> None:
    built: set[str] = set()
    checked = 0
    for words in commands(GUIDE.read_text()):
        if words[:1] == ["/opt/p1edge/bin/pip"] and words[1:2] == ["wheel"]:
            built.add("dist")
        for source in sources(words):
            if source.startswith(("/", "~")):
                continue  # a system path, or what the installer brought (named in the text)
            top = source.split("/", 1)[0]
            assert (ROOT / source).exists() or top in built, f"{' '.join(words)}: no {source}"
            checked += 1
    assert checked >= 6, "the rules, the configuration, the unit, the drop-in, the wheels"


def test_the_rollback_wheel_is_saved_at_the_first_install() -> None:
    text = GUIDE.read_text()
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    wheel = f"p1edge-{version}-py3-none-any.whl"
    install, updating = text.split("## Updating", 1)
    saved = [w for w in commands(install) if w[0] == "cp" and f"dist/{wheel}" in w]
    assert saved and saved[0][-1].startswith("/opt/p1edge-wheels"), "step 4 keeps its wheel"
    assert f"/opt/p1edge-wheels/{wheel}" in updating
    steps = commands(updating)
    build = next(i for i, w in enumerate(steps) if w[:2] == ["/opt/p1edge/bin/pip", "wheel"])
    copy = next(i for i, w in enumerate(steps) if w[0] == "cp" and "/opt/p1edge-wheels/" in w)
    assert build < copy, "the new wheel is copied after it is built"
