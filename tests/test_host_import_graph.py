"""The host packages' import graph, read from the source alone like edge's (tests/edge/test_import_graph.py):
no cycle among the modules of train/, export/, deploy/, tools/ and benchmarks/, function-local imports
included. (The task registry imports its entries by a name held in data, train/tasks.py::TASK_MODULES: an
entry may import the registry, the registry never imports an entry by a fixed name.)"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.edge.test_import_graph import _cycles, _imported_names

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("train", "export", "deploy", "tools", "benchmarks")


def _graph() -> dict[str, set[str]]:
    mods = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            mods[".".join(parts[:-1] if is_package else parts)] = (path, is_package)

    def resolve(name: str) -> str | None:
        parts = name.split(".")
        while parts and ".".join(parts) not in mods:
            parts.pop()
        return ".".join(parts) or None

    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, (path, is_package) in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for imported, _ in _imported_names(tree, name if is_package else name.rpartition(".")[0]):
            target = resolve(imported)
            if target is not None and target != name:
                graph[name].add(target)
    return graph


def test_host_packages_have_no_import_cycle():
    graph = _graph()
    assert "train.cli" in graph and "export.report" in graph  # the walk found the packages
    cycles = _cycles(graph)
    described = ["; ".join(f"{m} -> {', '.join(sorted(graph[m] & set(c)))}" for m in c) for c in cycles]
    assert not cycles, "import cycles:\n" + "\n".join(described)
