"""core/ never imports textual: checked statically (every import in every module) and at
run time (importing the engine leaves textual out of sys.modules)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "core"
UI_PACKAGES = ("textual", "console")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def offending(names: set[str]) -> list[str]:
    return sorted(n for n in names if n.split(".")[0] in UI_PACKAGES)


def test_checker_catches_ui_imports(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom textual.app import App\ndef f():\n    import console.app\n")
    assert offending(imported_modules(bad)) == ["console.app", "textual.app"]


def test_core_sources_never_import_textual_or_console() -> None:
    files = sorted(CORE.rglob("*.py"))
    assert len(files) > 5
    problems = {
        str(p.relative_to(CORE)): bad for p in files if (bad := offending(imported_modules(p)))
    }
    assert problems == {}


def test_importing_the_engine_loads_no_textual() -> None:
    code = (
        "import sys, core.engine.engine\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'console'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=CORE.parent,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == ""
