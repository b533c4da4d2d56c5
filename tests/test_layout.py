"""The house stays readable: small modules, short functions, one package per stage."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mailintake"
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "versions" not in p.parts)
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _name(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_module_is_longer_than_a_reader_keeps_in_mind(path: Path) -> None:
    """Each module is at most 400 lines: one that grows past it is split along the flow."""
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_MODULE_LINES


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_function_is_longer_than_a_screen(path: Path) -> None:
    """Each function, with its docstring, is at most 60 lines."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.end_lineno is not None
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == []


def test_the_top_level_holds_packages_and_a_few_shared_modules() -> None:
    """The folder list is the architecture: stages are packages, and only the few
    modules every stage shares sit beside them."""
    top = {p.name for p in PACKAGE.glob("*.py")}
    assert top <= {"__init__.py", "__main__.py", "app.py", "collector.py", "errors.py", "logs.py",
                   "problems.py", "storage.py"}
    stages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert stages == {"cli", "config", "intake", "mailbox", "office", "reading", "replies",
                      "rules", "service", "store", "web"}
