"""The pure core does no I/O: its modules import no serial, socket, thread, clock or file module.

Scans the source with `ast` (imports and attribute calls), so a violation fails without running
anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PURE_PACKAGES = ["edge/p1", "edge/registers", "edge/policy"]
FORBIDDEN_MODULES = {
    "serial", "socket", "threading", "asyncio", "subprocess", "multiprocessing", "time",
    "os", "io", "pathlib", "shutil", "sqlite3", "paho", "select", "selectors", "signal",
    "tempfile", "urllib", "http", "logging",
}  # fmt: skip
# Reading the clock or a file; `datetime.time(...)` (a constructor) is fine, `time.time()` is not.
FORBIDDEN_METHODS = {"now", "utcnow", "today", "monotonic", "perf_counter", "open", "read_text"}
FORBIDDEN_FUNCTIONS = {"open", "input", "print"}


def modules() -> list[Path]:
    found = [p for pkg in PURE_PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    assert any("p1" in str(p) for p in found)
    return found


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_module_does_no_io(path: Path) -> None:
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            names = []
        for name in names:
            assert name.split(".")[0] not in FORBIDDEN_MODULES, f"{path}: imports {name}"
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute):
                assert func.attr not in FORBIDDEN_METHODS, f"{path}:{node.lineno}: .{func.attr}()"
            elif isinstance(func, ast.Name):
                assert func.id not in FORBIDDEN_FUNCTIONS, f"{path}:{node.lineno}: {func.id}()"
