"""The pure core imports no I/O library and no adapter/runtime package (STYLE.md habit 1).

Walks every module under ``engine/core/`` with ``ast`` (no import side effects), so a
violation is caught even in code paths no test executes, including imports inside
functions and ``TYPE_CHECKING`` blocks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "engine" / "core"

FORBIDDEN = (
    "asyncio",
    "aiohttp",
    "asyncpg",
    "uvloop",
    "aiolimiter",
    "structlog",
    "engine.db",
    "engine.wa",
    "engine.run",
    "engine.webhooks",
    "engine.sandbox",
)


def _imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against engine.core
                base = "engine.core" if node.level == 1 else "engine"
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            # `from engine import db` imports engine.db
            found.extend((node.lineno, f"{module}.{alias.name}") for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and getattr(node.func, "id", getattr(node.func, "attr", ""))
            in ("__import__", "import_module")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def _is_forbidden(module: str) -> bool:
    return any(module == bad or module.startswith(bad + ".") for bad in FORBIDDEN)


def _core_files() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def test_core_package_exists() -> None:
    assert (CORE / "__init__.py").is_file()
    assert len(_core_files()) > 1


@pytest.mark.parametrize("path", _core_files(), ids=lambda p: p.name)
def test_core_module_imports_nothing_impure(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = [
        f"{path.name}:{line}: {mod}" for line, mod in _imported_modules(tree) if _is_forbidden(mod)
    ]
    assert not bad, "engine/core must stay pure; forbidden imports:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import asyncio", True),
        ("import asyncpg.pool", True),
        ("from aiohttp import web", True),
        ("from engine.db.store import Store", True),
        ("from engine import db", True),
        ("from ..wa import client", True),
        ("import importlib\nimportlib.import_module('structlog')", True),
        ("def f():\n    import uvloop", True),
        ("from engine.core.codes import Action", False),
        ("import asyncio_extras_not_asyncio_but_prefix", False),
        ("from engine.errors import EngineError", False),
        ("import zoneinfo, orjson", False),
    ],
)
def test_checker_catches_what_it_should(source: str, expected: bool) -> None:
    mods = [m for _, m in _imported_modules(ast.parse(source))]
    assert any(_is_forbidden(m) for m in mods) is expected
