"""edge/policy is a pure core: standard library only, no I/O modules, no reading the clock."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import edge.policy

PACKAGE = Path(edge.policy.__file__).parent
IO_MODULES = {
    "asyncio", "io", "logging", "multiprocessing", "os", "pathlib", "random", "select",
    "selectors", "shutil", "socket", "sqlite3", "ssl", "subprocess", "sys", "tempfile",
    "threading", "time", "urllib",
}  # fmt: skip
ALLOWED_PROJECT = ("edge.errors", "edge.policy")
CLOCK_CALLS = {"now", "today", "utcnow", "time", "monotonic"}


def imported_modules(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_imports_are_stdlib_or_allowed_and_never_io() -> None:
    sources = sorted(PACKAGE.glob("*.py"))
    assert len(sources) >= 5
    for source in sources:
        for module in imported_modules(ast.parse(source.read_text())):
            top = module.split(".")[0]
            if module.startswith(ALLOWED_PROJECT) or module == "__future__":
                continue
            assert top in sys.stdlib_module_names, f"{source.name} imports {module}"
            assert top not in IO_MODULES, f"{source.name} imports I/O module {module}"


def test_no_clock_reads() -> None:
    for source in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                assert node.func.attr not in CLOCK_CALLS, (
                    f"{source.name}:{node.lineno} reads the clock"
                )
