"""Print the import arrows between arbdesk's packages, and any import circle between modules.

Reads the sources with `ast` (nothing is imported or run). Imports under `if TYPE_CHECKING:` are
left out, since they never run. `python tools/import_graph.py` prints one line per arrow between
core packages (``core.execute -> core.chain (4)``: four modules of execute import chain), then the
circles between modules. `--modules` prints arrows between modules instead of packages.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOP = ("core", "console")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The arbdesk modules `path` imports at run time (TYPE_CHECKING blocks left out)."""
    tree = ast.parse(path.read_text(), str(path))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and _type_checking(node.test):
                visit(node.orelse)
                continue
            for child in ast.walk(node):
                if isinstance(child, ast.Import):
                    for alias in child.names:
                        found.add(alias.name)
                elif isinstance(child, ast.ImportFrom):
                    base = child.module or ""
                    if child.level:
                        anchor = package.split(".")
                        anchor = anchor[: len(anchor) - child.level + 1]
                        base = ".".join([*anchor, base] if base else anchor)
                    found.add(base)
                    for alias in child.names:
                        found.add(f"{base}.{alias.name}")

    visit(tree.body)
    return {_resolve(name, modules) for name in found if name.split(".")[0] in TOP} - {"", here}


def _resolve(name: str, modules: set[str]) -> str:
    """The longest known module that `name` names (``core.book.OrderBook`` -> ``core.book``)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name


def module_graph() -> dict[str, set[str]]:
    files = [p for top in TOP for p in sorted((ROOT / top).rglob("*.py"))]
    modules = {module_name(p) for p in files}
    return {module_name(p): imports_of(p, modules) for p in files}


def package_of(module: str) -> str:
    """`core.execute.legs` -> `core.execute`; a top-level module of core is its own package."""
    parts = module.split(".")
    return ".".join(parts[:2])


def package_arrows(graph: dict[str, set[str]]) -> dict[tuple[str, str], int]:
    arrows: dict[tuple[str, str], int] = defaultdict(int)
    for src, targets in graph.items():
        for pkg in {package_of(t) for t in targets} - {package_of(src)}:
            arrows[(package_of(src), pkg)] += 1
    return dict(arrows)


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of two or more modules (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    sys.setrecursionlimit(10_000)

    def strongconnect(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return sorted(found)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", action="store_true", help="arrows between modules")
    args = parser.parse_args()
    graph = module_graph()
    if args.modules:
        for src in sorted(graph):
            for dst in sorted(graph[src]):
                print(f"{src} -> {dst}")
    else:
        for (src, dst), n in sorted(package_arrows(graph).items()):
            print(f"{src} -> {dst} ({n})")
    groups = circles(graph)
    print(f"\n{len(groups)} import circle(s)")
    for group in groups:
        print("  " + " <-> ".join(group))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
