"""`python -m workshop_helpers workshop` and `test`: the make targets without make."""

import json
import shlex
import sys
from pathlib import Path

import pytest

from workshop_helpers.data import sources
from workshop_helpers.tools import workshop
from workshop_helpers.tools.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def launched(monkeypatch):
    """The set-up steps and the server launch, recorded instead of run."""
    calls = []
    monkeypatch.setattr(workshop, "prepare_all", lambda: calls.append(("prepare",)))
    monkeypatch.setattr(
        workshop, "_launch", lambda command, env: calls.append(("launch", command, env)) or 0
    )
    return calls


def _flag(command, name):
    (value,) = [item.split("=", 1)[1] for item in command if item.startswith(f"--{name}=")]
    return value


def test_workshop_prepares_then_serves_the_notebooks_as_make_did(launched, monkeypatch, capsys):
    monkeypatch.setenv("WORKSHOP_HEADLESS", "1")
    assert main(["workshop", "--port", "8123"]) == 0
    assert [call[0] for call in launched] == ["prepare", "launch"]
    command, env = launched[1][1], launched[1][2]
    assert command[:4] == [sys.executable, "-m", "jupyterlab", str(ROOT / "notebooks")]
    assert _flag(command, "ip") == "127.0.0.1" and _flag(command, "port") == "8123"
    assert _flag(command, "ServerApp.port_retries") == "0"
    token = _flag(command, "IdentityProvider.token")
    assert (
        len(token) == 32 and f"http://127.0.0.1:8123/lab?token={token}" in capsys.readouterr().out
    )
    assert json.loads(_flag(command, "ContentsManager.hide_globs")) == [
        "*.py",
        "__pycache__",
        "*.pyc",
        ".ipynb_checkpoints",
    ]
    assert "--no-browser" in command
    assert env["PATH"].split(workshop.os.pathsep)[0] == str(Path(sys.executable).parent)
    assert str(Path(sys.base_prefix, "share", "jupyter")) in env["JUPYTER_PATH"]


@pytest.mark.parametrize(
    "variables, system, browser",
    [
        ({"DISPLAY": ":0"}, "Linux", True),
        ({}, "Linux", False),  # no display: nothing to open a browser on
        ({}, "Windows", True),
        ({"CI": "true"}, "Darwin", False),
    ],
)
def test_a_browser_opens_only_where_there_is_a_screen(monkeypatch, variables, system, browser):
    for name in ("CI", "WORKSHOP_HEADLESS", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(workshop.platform, "system", lambda: system)
    assert ("--no-browser" not in workshop.jupyter_command(8888, "t")) is browser


def test_root_is_allowed_only_as_root(monkeypatch):
    monkeypatch.setattr(workshop.os, "geteuid", lambda: 0, raising=False)
    assert "--allow-root" in workshop.jupyter_command(8888, "t")
    monkeypatch.setattr(workshop.os, "geteuid", lambda: 1000, raising=False)
    assert "--allow-root" not in workshop.jupyter_command(8888, "t")


def test_a_bad_port_or_a_missing_notebooks_folder_is_one_line(launched, monkeypatch, capsys):
    assert main(["workshop", "--port", "70000"]) == 1
    assert capsys.readouterr().err == "error: --port must be between 1 and 65535, not 70000.\n"
    monkeypatch.setattr(workshop, "NOTEBOOKS", ROOT / "no-such-folder")
    assert main(["workshop"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: No notebooks/ folder") and error.count("\n") == 1
    assert launched == []


@pytest.mark.parametrize("mirror", [True, False])
def test_prepare_all_readies_weights_then_what_is_not_prepared(tmp_path, monkeypatch, mirror):
    calls = []
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("WORKSHOP_DATA_DIR", str(tmp_path / "data"))
    if mirror:
        monkeypatch.setenv("WORKSHOP_DATA_MIRROR", str(tmp_path / "mirror"))
    else:
        monkeypatch.delenv("WORKSHOP_DATA_MIRROR", raising=False)
    (tmp_path / "data" / "camvid").mkdir(parents=True)
    (tmp_path / "data" / "camvid" / ".complete").write_text("ok\n")  # prepared already
    monkeypatch.setattr(sources, "ensure_imagenet_weights", lambda m: calls.append(("weights", m)))
    monkeypatch.setattr(
        sources, "prepare", lambda name, data_dir, mirror, **options: calls.append((name, options))
    )
    workshop.prepare_all()
    expected_mirror = tmp_path / "mirror" if mirror else None
    # The course's mirror has part of VOC: prepared with allow_partial, as the Makefile does.
    voc_options = {"allow_partial": True} if mirror else {}
    assert calls == [("weights", expected_mirror), ("voc", voc_options)]


@pytest.fixture
def steps_run(monkeypatch):
    """Each command `test` runs, recorded with its environment; one with an argument in `failing`
    exits with that status."""
    runs = []
    failing = {}

    def call(command, cwd, env):
        runs.append((command, env))
        return next((failing[word] for word in command if word in failing), 0)

    monkeypatch.setattr(workshop.subprocess, "call", call)
    monkeypatch.setattr(workshop, "prepare_all", lambda: runs.append(("prepare", None)))
    monkeypatch.setattr(workshop.shutil, "rmtree", lambda *a, **k: None)
    return runs, failing


def _shown(runs):
    return [c if c == "prepare" else shlex.join(c[2:4]) for c, _ in runs]


def test_test_runs_the_steps_of_make_test_in_its_order(steps_run):
    runs, _ = steps_run
    assert main(["test"]) == 0
    assert _shown(runs) == [
        "ruff check",
        "ruff format",
        "prepare",  # after the lint, as make's `ready`
        "pytest -q",
        "workshop_helpers.course.lessons build/solved",
        "pytest -q",
        "pytest -q",
    ]
    nbval = runs[5]
    assert "--nbval-lax" in nbval[0] and nbval[1]["WORKSHOP_FAST"] == "1"
    assert nbval[1]["WORKSHOP_DATASET"] == "voc" and runs[6][0][-1] == "tests/browser"


def test_lint_alone_prepares_nothing_and_a_failure_is_one_line(steps_run, capsys):
    runs, failing = steps_run
    assert main(["test", "lint"]) == 0 and "prepare" not in _shown(runs)
    failing["--ignore=tests/browser"] = 2
    runs.clear()
    assert main(["test", "browser", "unit"]) == 1  # in make's order all the same
    assert capsys.readouterr().err == (
        "error: Unit tests failed (exit 2): python -m pytest -q tests --ignore=tests/browser\n"
    )
    assert _shown(runs) == ["prepare", "pytest -q"]  # the browser step never ran


def test_an_unknown_step_stops_before_any_work(steps_run, capsys):
    runs, _ = steps_run
    assert main(["test", "unit", "slides"]) == 1
    assert "Unknown test step 'slides'" in capsys.readouterr().err and runs == []


def _make_recipe(target):
    """The `$(PY) -m ...` commands of a Makefile target: (arguments, environment) each."""
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    recipe = text.split(f"\n{target}:", 1)[1].split("\n", 1)[1]
    notebooks = " ".join(
        sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("notebooks/*.py"))
    )
    commands = []
    for line in recipe.split("\n"):
        if not line.startswith("\t"):
            break
        for part in line.replace("$(SOLVED_DIR)", "build/solved").split("&&"):
            words = shlex.split(part.replace("$(NOTEBOOKS)", notebooks).lstrip("\t@ "))
            if "$(PY)" in words:
                at = words.index("$(PY)")
                env = dict(word.split("=", 1) for word in words[:at])
                commands.append((words[at + 1 :], env))
    return commands


@pytest.mark.parametrize(
    "step, target",
    [
        ("lint", "lint"),
        ("unit", "test-unit"),
        ("notebooks", "test-notebooks"),
        ("browser", "test-browser"),
    ],
)
def test_each_step_runs_what_its_make_target_runs(step, target):
    # When this fails, the Makefile changed: make workshop_helpers/tools/workshop.py follow it.
    ours = [(command[1:], env) for _, command, env in workshop.suite_commands(step)]
    assert ours == _make_recipe(target)
