"""The agent's dependencies install from wheels on the Pi: aarch64, and 32-bit armv7l.

`pip download --only-binary=:all: --platform …` resolves what a Pi would install, from the
package index this machine uses (PyPI), without installing anything. pip evaluates environment
markers for *this* machine, so the markers of pyproject.toml (and of each wheel's own
requirements) are evaluated here for the target, and pip gets the result without markers.

- aarch64 (64-bit Raspberry Pi OS, manylinux wheels): the whole tree, transitively.
- armv7l (32-bit Raspberry Pi OS Bookworm, glibc 2.36): every direct dependency has a wheel on
  PyPI; of the transitive ones only those hw/raspberry-pi.md names as coming from piwheels
  (which Raspberry Pi OS configures in /etc/pip.conf) may lack one.
Skipped, saying so, only where the registry cannot be reached.
"""

from __future__ import annotations

import tomllib
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.packaging.helpers import ROOT, pip

PYTHON = "3.11"
ENV_COMMON = {
    "python_version": PYTHON,
    "python_full_version": "3.11.2",  # Debian 12's
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "extra": "",
}
AARCH64 = ["manylinux2014_aarch64"]
# Bookworm armhf has glibc 2.36: every manylinux tag up to it, and plain linux_armv7l
ARMV7L = ["linux_armv7l", "manylinux2014_armv7l"] + [
    f"manylinux_2_{minor}_armv7l" for minor in range(17, 37)
]
PIWHEELS_ONLY = {"cffi"}  # cryptography's; hw/raspberry-pi.md says where it comes from


def runtime_requirements(machine: str) -> list[str]:
    """pyproject's dependencies that apply on `machine`, without their markers."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return applying([Requirement(text) for text in project["dependencies"]], machine)


def applying(requirements: list[Requirement], machine: str) -> list[str]:
    env = ENV_COMMON | {"platform_machine": machine}
    out = []
    for req in requirements:
        if req.marker is None or req.marker.evaluate(env):
            out.append(f"{req.name}{req.specifier}")
    return out


def download(folder: Path, platforms: list[str], requirements: list[str], *, deps: bool) -> str:
    args = ["download", "--only-binary=:all:", "--python-version", PYTHON, "-d", str(folder)]
    for platform in platforms:
        args += ["--platform", platform]
    return pip(*args, *([] if deps else ["--no-deps"]), *requirements)


def wheel_requirements(wheel: Path) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        text = archive.read(name).decode()
    prefix = "Requires-Dist:"
    return [Requirement(line[len(prefix) :].strip()) for line in text.splitlines()
            if line.startswith(prefix)]  # fmt: skip


def test_the_markers_leave_out_what_has_no_armv7l_wheel() -> None:
    arm = runtime_requirements("armv7l")
    assert not [r for r in arm if r.startswith("crcmod")], arm
    assert "cbor2<6,>=5.6" in arm or "cbor2>=5.6,<6" in arm, arm
    assert not [r for r in runtime_requirements("aarch64") if "numpy" in r]


def test_aarch64_installs_from_pypi_wheels_alone(tmp_path: Path) -> None:
    requirements = runtime_requirements("aarch64")
    download(tmp_path, AARCH64, requirements, deps=True)
    got = {canonicalize_name(w.name.split("-")[0]) for w in tmp_path.glob("*.whl")}
    assert {canonicalize_name(Requirement(r).name) for r in requirements} <= got, got
    assert not list(tmp_path.glob("*.tar.gz")), "an sdist would compile on the Pi"


def test_armv7l_direct_dependencies_have_wheels_and_only_documented_ones_need_piwheels(
    tmp_path: Path,
) -> None:
    direct = runtime_requirements("armv7l")
    download(tmp_path / "direct", ARMV7L, direct, deps=False)
    seen = {canonicalize_name(Requirement(r).name) for r in direct}
    missing: set[str] = set()
    wheels = list((tmp_path / "direct").glob("*.whl"))
    level = 0
    while wheels and level < 4:  # cryptography -> cffi -> pycparser: a shallow tree
        level += 1
        needed = []
        for wheel in wheels:
            for req in applying(wheel_requirements(wheel), "armv7l"):
                name = canonicalize_name(Requirement(req).name)
                if name not in seen:
                    seen.add(name)
                    needed.append(req)
        wheels = []
        for req in needed:  # one by one: which of them has no armv7l wheel on PyPI
            folder = tmp_path / f"t{level}-{canonicalize_name(Requirement(req).name)}"
            try:
                download(folder, ARMV7L, [req], deps=False)
            except AssertionError as exc:
                if "No matching distribution" not in str(exc):
                    raise
                missing.add(canonicalize_name(Requirement(req).name))
                continue
            wheels += list(folder.glob("*.whl"))
    assert missing <= PIWHEELS_ONLY, f"no armv7l wheel on PyPI, not documented: {missing}"
    guide = (ROOT / "hw" / "raspberry-pi.md").read_text()
    for name in missing:
        assert name in guide and "piwheels" in guide, f"hw/raspberry-pi.md must explain {name}"
