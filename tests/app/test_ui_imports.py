"""The app's views import one way: the frame imports the views, the views their panes,
and nothing imports back (navigation is handed to a view, not imported by it)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import trace_app.ui

UI = Path(trace_app.ui.__file__).parent
PACKAGE = "trace_app.ui"


def modules() -> dict[str, ast.Module]:
    return {f"{PACKAGE}.{p.stem}": ast.parse(p.read_text(), str(p)) for p in UI.glob("*.py")}


def imported(node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The modules an import statement names (``from pkg import module`` names the module)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    yield base
    yield from (f"{base}.{alias.name}" for alias in node.names)


def imports(tree: ast.Module) -> Iterator[tuple[str, bool]]:
    """(module, inside a function) for every import anywhere in ``tree``."""

    def walk(node: ast.AST, in_function: bool) -> Iterator[tuple[str, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                yield from ((name, in_function) for name in imported(child))
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            yield from walk(child, inner)

    return walk(tree, False)


def graph(trees: dict[str, ast.Module]) -> dict[str, set[str]]:
    """Module -> the ``trace_app.ui`` modules it imports, at any level (TYPE_CHECKING too)."""
    return {
        name: {target for target, _ in imports(tree) if target in trees and target != name}
        for name, tree in trees.items()
    }


def test_the_ui_modules_import_each_other_without_a_cycle() -> None:
    edges = graph(modules())
    assert f"{PACKAGE}.views" in edges[f"{PACKAGE}.shell"]  # the graph is read
    try:
        TopologicalSorter(edges).prepare()
    except CycleError as exc:
        raise AssertionError(f"an import cycle in {PACKAGE}: {' -> '.join(exc.args[1])}") from exc
    assert [m for m, targets in edges.items() if f"{PACKAGE}.shell" in targets] == []


def test_no_ui_module_imports_app_code_inside_a_function() -> None:
    found = [
        f"{name} imports {target}"
        for name, tree in modules().items()
        for target, in_function in imports(tree)
        if in_function and target.startswith("trace_app")
    ]
    assert found == []
