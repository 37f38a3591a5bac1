"""ivrimeet imports no private module of a library whose version range is open."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "ivrimeet"
# typer vendors click as ``typer._click`` and may move it in any release.
PRIVATE = ("typer._click",)


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_module_imports_a_private_library_module() -> None:
    offenders = sorted(
        f"{path.relative_to(SRC)}: {module}"
        for path in SRC.rglob("*.py")
        for module in _imported_modules(path)
        if module.startswith(PRIVATE)
    )
    assert offenders == []
