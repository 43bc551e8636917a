"""The import graph of edge/, read from the source alone (no module is imported): no cycles, and nothing
that the device does not have.

edge/ runs on a board with numpy, OpenCV and a TFLite runtime only, so it imports no TensorFlow / Keras
and nothing of ours outside edge/ (train, export, deploy, tools). Every import counts, a function-local
one too, and so does ``importlib.import_module("edge.x")`` / ``__import__("edge.x")`` with a constant
name (the lazy openers of the source and sink registries): a cycle through a deferred import is still a
cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

EDGE = Path(__file__).resolve().parents[2] / "edge"
FORBIDDEN = ("tensorflow", "tf_keras", "keras", "train", "export", "deploy", "tools")


def _modules() -> dict[str, tuple[Path, bool]]:
    mods = {}
    for path in sorted(EDGE.rglob("*.py")):
        parts = list(path.relative_to(EDGE.parent).with_suffix("").parts)
        package = parts[-1] == "__init__"
        if package:
            parts = parts[:-1]
        mods[".".join(parts)] = (path, package)
    return mods


def _imported_names(tree: ast.AST, package: str, lazy: bool = True) -> list[tuple[str, int]]:
    """(dotted name, line) of everything the module imports; ``from a import b`` gives a and a.b; ``lazy``:
    the constant names given to ``__import__`` / ``import_module`` too."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((module, node.lineno))
            found += [(f"{module}.{alias.name}", node.lineno) for alias in node.names]
        elif (lazy and isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Name) and node.func.id == "__import__")
                   or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module"))):
            found.append((node.args[0].value, node.lineno))
    return found


def _graph(lazy: bool = True):
    mods = _modules()

    def resolve(name: str) -> str | None:  # the longest prefix that is one of our modules
        parts = name.split(".")
        while parts:
            if ".".join(parts) in mods:
                return ".".join(parts)
            parts.pop()
        return None

    graph: dict[str, set[str]] = {m: set() for m in mods}
    outside: list[str] = []
    for name, (path, package) in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for imported, line in _imported_names(tree, name if package else name.rpartition(".")[0], lazy):
            top = imported.split(".")[0]
            if top in FORBIDDEN:
                outside.append(f"{path.relative_to(EDGE.parent)}:{line} imports {imported}")
            target = resolve(imported)
            if target is not None and target != name:
                graph[name].add(target)
    return graph, outside


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_edge_has_no_import_cycle():
    graph, _ = _graph()
    cycles = _cycles(graph)
    described = ["; ".join(f"{m} -> {', '.join(sorted(graph[m] & set(c)))}" for m in c) for c in cycles]
    assert not cycles, "import cycles in edge/:\n" + "\n".join(described)


def test_edge_imports_nothing_the_device_lacks():
    _, outside = _graph()
    assert not outside, "edge/ must not import TensorFlow/Keras or train/export/deploy/tools:\n" + "\n".join(outside)


def test_the_graph_sees_every_kind_of_import(tmp_path):
    """The reader finds plain, relative, function-local and lazy string imports (else the tests above prove
    nothing)."""
    tree = ast.parse("import os\nfrom . import a\nfrom ..b import c\ndef f():\n    from .d import e\n"
                     "    __import__('edge.g')\n    importlib.import_module('tensorflow.lite')\n")
    names = {name for name, _ in _imported_names(tree, "edge.sinks")}
    assert {"os", "edge.sinks", "edge.sinks.a", "edge.b", "edge.b.c", "edge.sinks.d", "edge.sinks.d.e", "edge.g",
            "tensorflow.lite"} <= names
    assert _cycles({"x": {"y"}, "y": {"z"}, "z": {"x"}, "w": {"x"}}) == [["x", "y", "z"]]
    assert _cycles({"x": {"y"}, "y": set()}) == []
