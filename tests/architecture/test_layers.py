"""The layer rules of docs/ARCHITECTURE.md hold against the imports of core/ and console/.

The table there is the source: each row names a part (a package or a module), its layer, and what
it may use ("layer 1", "layers 1–5", backticked parts). Every module must belong to a part, every
run-time import (TYPE_CHECKING blocks left out) must go to an allowed part, and no two modules may
import each other.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ARCHITECTURE.md"


def _load_import_graph() -> ModuleType:
    path = ROOT / "tools" / "import_graph.py"
    spec = importlib.util.spec_from_file_location("import_graph", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


import_graph = _load_import_graph()


@dataclass(frozen=True)
class Part:
    path: str  # `core/amm/` (a package) or `core/book.py` (a module)
    layer: int
    uses_layers: frozenset[int]
    uses_parts: frozenset[str]

    @property
    def module(self) -> str:
        return self.path.removesuffix("/").removesuffix(".py").replace("/", ".")

    def holds(self, module: str) -> bool:
        return module == self.module or module.startswith(self.module + ".")


def parse_parts(text: str) -> list[Part]:
    parts = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].isdigit():
            continue
        layer, part, _, may_use = cells
        layers: set[int] = set()
        for low, high in re.findall(r"layers (\d+)[–-](\d+)", may_use):
            layers.update(range(int(low), int(high) + 1))
        layers.update(int(n) for n in re.findall(r"layer (\d+)(?![–-])", may_use))
        named = frozenset(re.findall(r"`([^`]+)`", may_use))
        parts.append(Part(part.strip("`"), int(layer), frozenset(layers), named))
    return parts


def part_of(module: str, parts: list[Part]) -> Part | None:
    """The most specific part holding `module` (`console/cli_commands/` before `console/`)."""
    holding = [p for p in parts if p.holds(module)]
    return max(holding, key=lambda p: len(p.module)) if holding else None


def violations(graph: dict[str, set[str]], parts: list[Part]) -> list[str]:
    found = []
    for src, targets in sorted(graph.items()):
        if src in import_graph.TOP:  # core/__init__.py, console/__init__.py: docstrings only
            continue
        own = part_of(src, parts)
        if own is None:
            found.append(f"{src}: in no part of docs/ARCHITECTURE.md (add it to the table)")
            continue
        for dst in sorted(targets):
            other = part_of(dst, parts)
            if other is None or other == own:
                continue
            if other.layer not in own.uses_layers and other.path not in own.uses_parts:
                found.append(
                    f"{src} -> {dst}: {own.path} (layer {own.layer}) may not use "
                    f"{other.path} (layer {other.layer})"
                )
    return found


PARTS = parse_parts(DOC.read_text(encoding="utf-8"))


def test_table_parses() -> None:
    by_path = {p.path: p for p in PARTS}
    assert by_path["core/detect/"].uses_layers == {1}
    assert by_path["core/execute/"].uses_layers == {1, 2, 3, 4, 5}
    assert by_path["core/risk.py"].uses_parts == {"core/journal.py"}
    assert part_of("console.cli_commands.run", PARTS) == by_path["console/cli_commands/"]


def test_checker_reports_an_upward_import() -> None:
    graph = {"core.detect.spread": {"core.chain.rpc", "core.book"}, "core.book": set()}
    assert violations(graph, PARTS) == [
        "core.detect.spread -> core.chain.rpc: core/detect/ (layer 4) may not use "
        "core/chain/ (layer 2)"
    ]
    assert violations({"core.stray": set()}, PARTS) == [
        "core.stray: in no part of docs/ARCHITECTURE.md (add it to the table)"
    ]


def test_imports_follow_the_layers() -> None:
    graph = import_graph.module_graph()
    assert len(graph) > 100
    assert violations(graph, PARTS) == []


def test_no_import_circles() -> None:
    assert import_graph.circles(import_graph.module_graph()) == []
