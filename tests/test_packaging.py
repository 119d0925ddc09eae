import re
import shutil
import subprocess
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]


def _project():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _names(requirements):
    return {
        re.split(r"[<>=!~ \[]", r.strip(), maxsplit=1)[0].lower(): r.replace(" ", "")
        for r in requirements
    }


def test_requirements_have_lower_bounds_only():
    project = _project()["project"]
    for requirement in project["dependencies"] + project["optional-dependencies"]["dev"]:
        upper = "<" in requirement.replace("<=", "")
        assert ">=" in requirement and "==" not in requirement and not upper, requirement


def test_the_linter_checks_lines_of_100_and_pyflakes():
    ruff = _project()["tool"]["ruff"]
    assert ruff["line-length"] == 100 and set(ruff["lint"]["select"]) == {"E501", "F", "I"}
    assert "ruff" in _names(_project()["project"]["optional-dependencies"]["dev"])


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_test_sets_up_then_lints_before_testing(tmp_path):
    venv = tmp_path / "venv"
    dry = subprocess.run(
        ["make", "-n", "test", f"VENV={venv}", f"WORKSHOP_DATA_DIR={tmp_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    steps = [
        "-m venv --system-site-packages",
        "pip install",
        "ruff check",
        "prepare weights",
        "prepare camvid",
        "prepare voc",
        "pytest -q tests",
        "--nbval-lax",
    ]
    # (the weights step is left out when the Keras cache already has them)
    found = [step for step in steps if step in dry]
    assert set(steps) - set(found) <= {"prepare weights"}
    assert [dry.index(step) for step in found] == sorted(dry.index(step) for step in found)


@pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(), reason="not a git checkout"
)
def test_split_lists_are_tracked_and_the_environment_is_not():
    paths = ["data/camvid/test.txt", "data/voc/train.txt", ".venv/bin/python", "data/voc/.complete"]
    ignored = subprocess.run(
        ["git", "check-ignore", *paths], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    assert ignored == [".venv/bin/python", "data/voc/.complete"]
