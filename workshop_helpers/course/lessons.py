"""The notebooks show the package's code and hide their solutions: find, compare, refresh, solve.

A code cell tagged `package:<module>.py` shows definitions of that module; each must equal the
module's own source (`make sync` refreshes them, with each notebook's badge and set-up cell).
A markdown cell tagged `solution` holds an exercise's solution as a ```python block inside
<details>, so Run All never runs it; `solved` turns those blocks into code cells that fail on a
wrong answer, and the notebook tests run that copy.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from ..paths import REPOSITORY_ROOT
from ..session import colab_badge, setup_cell

PACKAGE_TAG = "package:"
SOLUTION_TAG = "solution"
# Cells that train an extra model: a student may run them, the notebook tests skip them.
EXTRA_TAG, SKIP_TAG = "extra-training", "nbval-skip"
BADGE = re.compile(
    r"\[!\[Open In Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]"
    r"\([^)]*\)"
)
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


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


def cell_tags(cell) -> list[str]:
    """The tags of a notebook cell."""
    return list(cell.get("metadata", {}).get("tags", []))


def taught_cells(notebook) -> list[tuple[int, Path]]:
    """(cell index, module path) of each cell of a notebook that shows package code."""
    cells = []
    for index, cell in enumerate(notebook.cells):
        for tag in cell_tags(cell):
            if cell.cell_type == "code" and tag.startswith(PACKAGE_TAG):
                cells.append(
                    (index, REPOSITORY_ROOT / "workshop_helpers" / tag[len(PACKAGE_TAG) :])
                )
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


def solution_code(cell) -> str:
    """The Python code of a solution cell: its ```python blocks, joined."""
    blocks = PYTHON_BLOCK.findall(cell.source)
    if not blocks:
        raise ValueError(f"A solution cell without a ```python block: {cell.source[:60]!r}")
    return "\n".join(block.rstrip() + "\n" for block in blocks)


def checked(code: str) -> str:
    """Solution code whose top-level expressions must not be a wrong or missing answer."""
    tree = ast.parse(code)
    for index, node in enumerate(tree.body):
        if isinstance(node, ast.Expr):
            call = ast.Call(ast.Name("_expect_right", ast.Load()), [node.value], [])
            tree.body[index] = ast.Expr(ast.copy_location(call, node.value))
    ast.fix_missing_locations(tree)
    header = "from workshop_helpers.course.lessons import expect_right as _expect_right\n"
    return header + ast.unparse(tree)


def expect_right(value):
    """Pass a value through; a check that is not right (wrong, or no answer) raises."""
    from .exercises import Verdict

    if isinstance(value, Verdict) and value.correct is not True:
        raise AssertionError(f"A solution does not pass its check: {value.message}")
    return value


def solved(path: str | Path):
    """The notebook with each solution followed by its code, checked; extra trainings skipped."""
    import jupytext
    import nbformat

    notebook = jupytext.read(path)
    cells = []
    for cell in notebook.cells:
        if EXTRA_TAG in cell_tags(cell):
            cell.metadata["tags"] = [*cell_tags(cell), SKIP_TAG]
        cells.append(cell)
        if cell.cell_type == "markdown" and SOLUTION_TAG in cell_tags(cell):
            cells.append(nbformat.v4.new_code_cell(checked(solution_code(cell))))
    notebook.cells = cells
    return notebook


def write_solved(sources, folder: str | Path) -> list[Path]:
    """Write the solved copy of each notebook source into folder as .ipynb; their paths."""
    import nbformat

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sources:
        target = folder / (Path(source).stem + ".ipynb")
        nbformat.write(solved(source), target)
        written.append(target)
    return written


if __name__ == "__main__":
    import sys

    write_solved(sys.argv[2:], sys.argv[1])
