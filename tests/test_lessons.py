"""Lessons show the package's training code, keep solutions out of Run All, speak to students."""

import ast
import re
from pathlib import Path

import jupytext
import numpy as np
import pytest

from workshop_helpers.checkpoints import load_history
from workshop_helpers.course.lessons import SOLUTION_TAG, cell_tags, checked, expect_right, solved
from workshop_helpers.data.preparation import prepare_camvid
from workshop_helpers.settings import load_settings
from workshop_helpers.training import train

from .test_datasets import fake_camvid

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
LESSONS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))
# What students must not read: test and CI machinery, environment variables, file-system details.
MACHINERY = re.compile(
    r"\bCI\b|nbval|test keeps|mirror|WORKSHOP_|RESULTS\.md|assert |/checkpoints/"
    r"|\bthe seed\b|offline"
)


def _student_text(notebook):
    """Markdown, and the string constants of code cells, except the Colab set-up cell."""
    for cell in notebook.cells[2:]:
        if cell.cell_type == "markdown":
            yield cell.source
        elif cell.cell_type == "code":
            tree = ast.parse(cell.source)
            yield from (
                node.value
                for node in ast.walk(tree)
                if isinstance(node, ast.Constant) and isinstance(node.value, str)
            )


@pytest.mark.parametrize("source", LESSONS, ids=lambda p: p.stem)
def test_the_lessons_speak_to_students_only(source):
    found = [
        match.group(0)
        for text in _student_text(jupytext.read(source))
        for match in MACHINERY.finditer(text)
    ]
    assert found == []


@pytest.mark.parametrize("source", sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py")), ids=lambda p: p.stem)
def test_run_all_runs_no_solution_and_every_exercise_waits_for_an_answer(source):
    notebook = jupytext.read(source)
    for cell in notebook.cells:
        if SOLUTION_TAG in cell_tags(cell):
            assert cell.cell_type == "markdown" and "<details>" in cell.source
        if cell.cell_type == "code" and re.search(r"^check_\w+\(answer", cell.source, re.M):
            assert re.search(r"^answer = None", cell.source, re.M)


def test_the_solved_copy_runs_each_solution_after_its_exercise():
    notebook = solved(NOTEBOOKS / "02_input_pipeline.py")
    sources = [cell.source for cell in notebook.cells]
    solution = next(i for i, cell in enumerate(notebook.cells) if SOLUTION_TAG in cell_tags(cell))
    assert notebook.cells[solution + 1].cell_type == "code"
    assert "_expect_right(check_void_label(-1))" in sources[solution + 1]
    five = solved(NOTEBOOKS / "05_training_pretrained.py")
    extra = [cell for cell in five.cells if "extra-training" in cell_tags(cell)]
    assert extra and all("nbval-skip" in cell_tags(cell) for cell in extra)


def test_a_wrong_or_missing_solution_fails_and_a_right_one_passes():
    namespace = {}
    exec(
        checked("from workshop_helpers.course import check_void_label\ncheck_void_label(-1)\n"),
        namespace,
    )
    for wrong in ("check_void_label(255)", "check_void_label(None)"):
        code = checked(f"from workshop_helpers.course import check_void_label\n{wrong}\n")
        with pytest.raises(AssertionError, match="does not pass its check"):
            exec(code, {})
    assert expect_right(3) == 3  # values that are not checks pass through, to be displayed


def _training_cells(source):
    return [cell.source for cell in jupytext.read(source).cells if "training" in cell_tags(cell)]


@pytest.mark.parametrize(
    "notebook, pretrained",
    [("04_training_from_scratch.py", False), ("05_training_pretrained.py", True)],
)
def test_the_training_cells_train_what_the_package_trains(
    notebook, pretrained, tmp_path, monkeypatch, eager_steps
):
    prepare_camvid(fake_camvid(tmp_path / "CamVid", (("train", 4), ("val", 2))), tmp_path)
    monkeypatch.setenv("WORKSHOP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("WORKSHOP_CHECKPOINTS", str(tmp_path / "checkpoints"))
    # The pretrained lesson also fine-tunes for its last epoch: both of its fits are compared.
    settings = load_settings(
        {},
        preset="fast",
        dataset="camvid",
        epochs=1 + int(pretrained),
        crop_size=32,
        max_train_images=4,
        cosine_decay=True,
        fine_tune_epochs=int(pretrained),
    )
    cells = _training_cells(NOTEBOOKS / notebook)
    assert any("model.compile(" in cell for cell in cells)
    assert any("model.fit(" in cell for cell in cells)
    namespace = {"settings": settings, "spec": __import__("workshop_helpers").get_spec("camvid")}
    exec(_imports(NOTEBOOKS / notebook), namespace)
    namespace["PredictionPreview"] = lambda *args: __import__("keras").callbacks.Callback()
    for cell in cells:
        exec(cell, namespace)
    kind = "pretrained" if pretrained else "scratch"
    lesson_history = load_history(settings.checkpoint(kind).with_suffix(".history.json"))[0]
    _, package_history = train(settings, pretrained, verbose=0)
    assert set(lesson_history) == set(package_history)
    assert len(lesson_history["loss"]) == settings.epochs
    for key, values in package_history.items():
        np.testing.assert_allclose(lesson_history[key], values, rtol=1e-4, err_msg=key)


def _imports(source):
    """The import statements of a notebook's code cells."""
    lines = []
    for cell in jupytext.read(source).cells[2:]:
        if cell.cell_type == "code":
            lines += [
                ast.get_source_segment(cell.source, node)
                for node in ast.parse(cell.source).body
                if isinstance(node, (ast.Import, ast.ImportFrom))
            ]
    return "\n".join(lines)
