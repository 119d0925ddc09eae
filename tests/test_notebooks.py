"""The notebooks' .py sources and .ipynb files stay paired, in sync and free of outputs."""

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SOURCES = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))


def test_six_numbered_notebooks_each_with_its_pair():
    assert len(SOURCES) == 6
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == [p.stem for p in SOURCES]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_ipynb_is_committed_without_outputs(source):
    notebook = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, source.name


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_jupytext_sync_leaves_no_diff(source, tmp_path):
    for suffix in (".py", ".ipynb"):
        shutil.copy2(source.with_suffix(suffix), tmp_path / (source.stem + suffix))
    subprocess.run([sys.executable, "-m", "jupytext", "--sync", "-q", str(tmp_path / source.name)], check=True)
    for suffix in (".py", ".ipynb"):
        assert (tmp_path / (source.stem + suffix)).read_text() == source.with_suffix(suffix).read_text(), suffix


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_each_notebook_opens_with_a_colab_badge_and_a_guarded_setup(source):
    cells = nbformat.read(source.with_suffix(".ipynb"), as_version=4).cells
    assert "colab-badge.svg" in cells[0].source and source.stem in cells[0].source
    assert 'if "google.colab" in sys.modules:' in cells[1].source
