"""The import graph of reconciler/: no cycle between modules or between packages, support/ is a
leaf, and every lazy import says why it is lazy. Read from the source (ast), no process."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "reconciler"


def _module(path: Path) -> str:
    parts = ["reconciler", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path) -> set[str]:
    """Every reconciler module ``name`` imports, anywhere in the file (lazy ones included)."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        found.update(t for t in targets if t in MODULES and t != name)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _group(name: str) -> str:
    """The package a module belongs to (``reconciler.x`` for top-level modules)."""
    parts = name.split(".")
    return ".".join(parts[:2])


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_every_module_imports() -> None:
    for name in MODULES:
        importlib.import_module(name)


def test_no_import_cycle_between_modules() -> None:
    # A package's __init__ re-exporting its submodules is not a cycle of ideas: leave the
    # edge from a submodule to its own package's face out.
    graph = {
        name: {t for t in targets if not name.startswith(t + ".")}
        for name, targets in GRAPH.items()
    }
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_no_import_cycle_between_packages() -> None:
    groups: dict[str, set[str]] = {}
    for name, targets in GRAPH.items():
        groups.setdefault(_group(name), set()).update(
            _group(t) for t in targets if _group(t) != _group(name)
        )
    assert _cycle(groups) is None, " -> ".join(_cycle(groups) or [])


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith("reconciler.support")))
def test_support_is_a_leaf(name: str) -> None:
    upward = {
        t
        for t in GRAPH[name]
        if not t.startswith("reconciler.support") and t != "reconciler.errors"
    }
    assert not upward, f"{name} imports {sorted(upward)}"


def test_every_lazy_import_says_why() -> None:
    unexplained = [
        f"{path.relative_to(PACKAGE.parent)}:{number}"
        for path in MODULES.values()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if "noqa: PLC0415" in line and not re.search(r"PLC0415 - \S", line)
    ]
    assert not unexplained
