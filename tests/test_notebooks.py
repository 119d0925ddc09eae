"""The notebooks' .py sources and .ipynb files stay paired, in sync and free of outputs."""

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SOURCES = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))


def test_numbered_notebooks_follow_each_other_each_with_its_pair():
    numbers = [int(p.stem[:2]) for p in SOURCES]
    assert numbers == list(range(1, len(SOURCES) + 1)) and len(SOURCES) >= 7  # 01-06, appendices
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == [p.stem for p in SOURCES]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_ipynb_is_committed_without_outputs(source):
    notebook = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, source.name


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_ipynb_names_its_kernel_so_jupyterlab_opens_it_without_asking(path):
    # jupytext.toml keeps the kernelspec out of the .py: only the .ipynb carries it.
    notebook = nbformat.read(path, as_version=4)
    assert notebook.metadata.get("kernelspec") == {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }, path.name


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_jupytext_sync_leaves_no_diff(source, tmp_path):
    for suffix in (".py", ".ipynb"):
        shutil.copy2(source.with_suffix(suffix), tmp_path / (source.stem + suffix))
    command = [sys.executable, "-m", "jupytext", "--sync", "-q", str(tmp_path / source.name)]
    subprocess.run(command, check=True)
    for suffix in (".py", ".ipynb"):
        synced = (tmp_path / (source.stem + suffix)).read_text()
        assert synced == source.with_suffix(suffix).read_text(), suffix


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_each_notebook_opens_with_a_colab_badge_and_a_guarded_setup(source):
    cells = nbformat.read(source.with_suffix(".ipynb"), as_version=4).cells
    assert "colab-badge.svg" in cells[0].source and source.stem in cells[0].source
    assert 'if "google.colab" in sys.modules:' in cells[1].source


def test_notebooks_show_the_code_the_package_runs():
    import jupytext

    from workshop_helpers.course.lessons import definitions, differences, taught_cells

    assert [message for source in SOURCES for message in differences(source)] == []
    shown = {}
    for source in SOURCES:
        notebook = jupytext.read(source)
        for index, module in taught_cells(notebook):
            shown.setdefault(module.name, set()).update(definitions(notebook.cells[index].source))
    # The lesson builds the network, the loss and the generator's core in front of the reader.
    network = {"build_encoder", "decoder_block", "build_model", "SKIP_LAYER_NAMES"}
    assert network <= shown["model.py"]
    assert "masked_loss" in shown["metrics.py"]
    assert {"preprocess", "crop_batch"} <= shown["pipeline.py"]


def test_a_change_on_either_side_is_found_and_refresh_restores_the_package_code(tmp_path):
    from workshop_helpers.course.lessons import differences, refresh

    copy = tmp_path / "03_architecture.py"
    original = (NOTEBOOKS / "03_architecture.py").read_text()
    copy.write_text(
        original.replace(
            'padding="same", activation="relu")(x)\n\n\n',
            'padding="same", activation="gelu")(x)\n\n\n',
            1,
        )
    )
    assert differences(copy) == ["03_architecture.py: decoder_block differs from model.py's"]
    assert refresh(copy) and differences(copy) == [] and copy.read_text() == original


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_badge_and_setup_cell_come_from_the_one_repository_address(source):
    from workshop_helpers.session import colab_badge

    cells = nbformat.read(source.with_suffix(".ipynb"), as_version=4).cells
    assert colab_badge(source.stem + ".ipynb") in cells[0].source
    setup = cells[1].source
    assert setup.startswith("# Setup: in Colab, install the workshop first")
    from workshop_helpers.session import setup_cell

    arguments = setup.rsplit("start(", 1)[1].rsplit(")", 1)[0]
    assert setup == setup_cell(arguments)


def test_readme_badge_uses_the_one_repository_address():
    from workshop_helpers.session import colab_badge

    readme = (NOTEBOOKS.parent / "README.md").read_text()
    assert colab_badge("01_intro.ipynb") in readme
