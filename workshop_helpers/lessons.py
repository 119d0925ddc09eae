"""The notebooks show the package's code: find those cells, compare them, refresh them.

A code cell whose first line is `# The code of workshop_helpers/<module>.py.` shows definitions of
that module; each must equal the module's own source. `make sync` refreshes them (and each
notebook's badge and set-up cell) from the package; tests/test_notebooks.py fails when they differ.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from .session import colab_badge, setup_cell

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
MARKER = "# The code of workshop_helpers/"
BADGE = re.compile(r"\[!\[Open In Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]"
                   r"\([^)]*\)")


def definitions(text: str) -> dict[str, str]:
    """Top-level functions, classes and assignments of Python source: name -> source text."""
    found = {}
    for node in ast.parse(text).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names = [node.name]
        elif isinstance(node, ast.Assign):
            names = [target.id for target in node.targets if isinstance(target, ast.Name)]
        else:
            names = []
        for name in names:
            found[name] = ast.get_source_segment(text, node)
    return found


def taught_cells(notebook) -> list[tuple[int, Path]]:
    """(cell index, module path) of each cell of a jupytext notebook that shows package code."""
    cells = []
    for index, cell in enumerate(notebook.cells):
        first = cell.source.splitlines()[0] if cell.source else ""
        if cell.cell_type == "code" and first.startswith(MARKER):
            cells.append((index, PACKAGE_ROOT / first.removeprefix("# The code of ").rstrip(".")))
    return cells


def differences(path: str | Path) -> list[str]:
    """What a notebook's taught cells show differently from the package (empty when identical)."""
    import jupytext

    notebook, found = jupytext.read(path), []
    for index, module in taught_cells(notebook):
        package = definitions(module.read_text())
        for name, code in definitions(notebook.cells[index].source).items():
            if name not in package:
                found.append(f"{Path(path).name}: {name} is not in {module.name}")
            elif code != package[name]:
                found.append(f"{Path(path).name}: {name} differs from {module.name}'s")
    return found


def refresh(path: str | Path) -> bool:
    """Rewrite a notebook's taught cells, badge and set-up cell from the package (True: changed)."""
    import jupytext

    path = Path(path)
    notebook = jupytext.read(path)
    before = jupytext.writes(notebook, fmt="py:percent")
    for index, module in taught_cells(notebook):
        package, cell = definitions(module.read_text()), notebook.cells[index]
        for name, code in definitions(cell.source).items():
            if name in package:
                cell.source = cell.source.replace(code, package[name])
    first = notebook.cells[0]
    first.source = BADGE.sub(colab_badge(path.stem + ".ipynb"), first.source)
    setup = notebook.cells[1]
    if setup.source.startswith("# Setup: in Colab"):
        arguments = setup.source.rsplit("start(", 1)[1].rsplit(")", 1)[0]
        setup.source = setup_cell(arguments)
    after = jupytext.writes(notebook, fmt="py:percent")
    if after != before:
        jupytext.write(notebook, path, fmt="py:percent")
    return after != before
