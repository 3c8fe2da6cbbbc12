"""Import circles among the harness's own modules (``poc_harness`` and ``adapters``), read statically.

Each module's imports are parsed with ``ast`` and sorted by when they run:

- *runtime*: executed when the module is imported (module level, class bodies, ``try``/``if`` blocks);
- *typing*: under ``if TYPE_CHECKING:`` (seen by a type checker only);
- *deferred*: inside a function (run on call): never part of a circle here.

A circle is a strongly connected group of modules (or one module importing itself). ``runtime`` circles
are real import circles; ``typing`` circles need a ``TYPE_CHECKING`` import to close and are listed apart.
Importing ``a.b.c`` also initialises ``a`` and ``a.b``: those packages count as imported too, unless they
contain the importer (then being initialised anyway) and the import does not name them.

Run ``python -m tests.import_graph`` to list the circles.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("poc_harness", "adapters")


class When(StrEnum):
    RUNTIME = "runtime"
    TYPING = "typing"
    DEFERRED = "deferred"


@dataclass
class ImportGraph:
    """Which modules each module imports, per ``When``."""

    modules: dict[str, Path]
    edges: dict[When, dict[str, set[str]]] = field(default_factory=dict)

    def imports(self, module: str, *whens: When) -> set[str]:
        return set().union(*(self.edges.get(when, {}).get(module, set()) for when in whens))

    def circles(self, *whens: When) -> list[list[str]]:
        """Each circle over the edges of ``whens``: one closed path through it (first module repeated
        last), starting at its alphabetically first module; sorted."""
        graph = {module: self.imports(module, *whens) for module in self.modules}
        found = []
        for group in _strongly_connected(graph):
            start = min(group)
            if len(group) > 1 or start in graph[start]:
                found.append(_closed_path(graph, group, start))
        return sorted(found)


def module_files(root: Path = ROOT, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """Module name -> file of every module of ``packages`` (a package is its ``__init__``)."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def build(root: Path = ROOT, packages: Iterable[str] = PACKAGES) -> ImportGraph:
    """The import graph of ``packages`` under ``root`` (imports of other modules are left out)."""
    modules = module_files(root, packages)
    graph = ImportGraph(modules)
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for when, dotted in _imports(ast.parse(path.read_text(), str(path)), name, is_package):
            target = _known_prefix(dotted, modules)
            if target is None:
                continue
            packages = _packages(target, modules)
            # the importer's own packages are being initialised already: only a named one counts
            found = {target} | {package for package in packages if not name.startswith(f"{package}.")}
            graph.edges.setdefault(when, {}).setdefault(name, set()).update(found - {name})
    return graph


def _imports(tree: ast.Module, module: str, is_package: bool) -> Iterator[tuple[When, str]]:
    """(when, dotted name) of every import; ``from a import b`` yields ``a.b`` (resolved later)."""
    here = module if is_package else module.rpartition(".")[0]

    def visit(nodes: list[ast.stmt], when: When) -> Iterator[tuple[When, str]]:
        for node in nodes:
            if isinstance(node, ast.Import):
                yield from ((when, alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(node, here)
                yield from ((when, f"{base}.{alias.name}") for alias in node.names)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield from visit(node.body, When.DEFERRED)
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                yield from visit(node.body, When.TYPING if when is When.RUNTIME else when)
                yield from visit(node.orelse, when)
            else:
                for name in ("body", "orelse", "finalbody", "handlers", "cases"):
                    children = getattr(node, name, None)
                    if isinstance(children, list):
                        yield from visit([child for child in children if isinstance(child, ast.stmt)], when)
                        for child in children:  # except handlers and match cases hold statements
                            if isinstance(child, ast.ExceptHandler | ast.match_case):
                                yield from visit(child.body, when)

    yield from visit(tree.body, When.RUNTIME)


def _absolute(node: ast.ImportFrom, here: str) -> str:
    if not node.level:
        return node.module or ""
    parts = here.split(".")
    base = parts[: len(parts) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _known_prefix(dotted: str, modules: dict[str, Path]) -> str | None:
    """The module of ours that importing ``dotted`` names: its longest known prefix (``from a import b``
    names ``a`` when ``b`` is not a module)."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        name = ".".join(parts[:end])
        if name in modules:
            return name
    return None


def _packages(module: str, modules: dict[str, Path]) -> list[str]:
    """The packages importing ``module`` initialises first."""
    parts = module.split(".")
    return [".".join(parts[:n]) for n in range(1, len(parts)) if ".".join(parts[:n]) in modules]


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components (iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
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
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                groups.append(group)
    return groups


def _closed_path(graph: dict[str, set[str]], group: set[str], start: str) -> list[str]:
    """A shortest path from ``start`` back to itself inside ``group`` (breadth first)."""
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & group):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if child not in came_from:
                    came_from[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f"{start} is in no circle")  # not reached: ``group`` is strongly connected


def describe(circle: list[str]) -> str:
    return " -> ".join(circle)


def main() -> int:
    graph = build()
    runtime = graph.circles(When.RUNTIME)
    typing_only = [c for c in graph.circles(When.RUNTIME, When.TYPING) if c not in runtime]
    sections = (("import circles", runtime), ("closed only by TYPE_CHECKING imports", typing_only))
    for label, circles in sections:
        print(f"{label}: {len(circles)}")
        for circle in circles:
            print(f"  {describe(circle)}")
    return 1 if runtime or typing_only else 0


if __name__ == "__main__":
    sys.exit(main())
