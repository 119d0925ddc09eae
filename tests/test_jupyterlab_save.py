"""Running and saving a notebook in JupyterLab leaves its paired .py (the source) unchanged."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_a_jupyterlab_run_leaves_the_py_unchanged(source, tmp_path):
    shutil.copy2(ROOT / "jupytext.toml", tmp_path / "jupytext.toml")
    py, ipynb = tmp_path / source.name, tmp_path / (source.stem + ".ipynb")
    shutil.copy2(source, py)
    notebook = jupytext.read(source)
    # Jupytext's contents manager gives JupyterLab the cells as the .py has them; JupyterLab adds
    # what a session writes: its kernel's display name, language details, outputs and
    # per-cell execution records.
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    notebook.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
    for number, cell in enumerate(notebook.cells, 1):
        cell.metadata["execution"] = {"iopub.status.idle": "2026-11-23T10:00:00Z"}
        if cell.cell_type == "code":
            cell.execution_count = number
            cell.outputs = [nbformat.v4.new_output("stream", text="output\n")]
    ipynb.write_text(json.dumps(notebook, indent=1))  # key order as the browser keeps it
    subprocess.run([sys.executable, "-m", "jupytext", "--sync", "-q", str(ipynb)], check=True)
    assert py.read_text() == source.read_text()
