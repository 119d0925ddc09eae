"""`python -m workshop_helpers workshop` and `test`: what `make workshop` and `make test` do, in the
environment that runs them (a machine without make: Windows, a conda environment, Colab's terminal).

`make workshop` runs `workshop` after setting up .venv; `make test`'s steps are the Makefile's.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from ..datasets import DONE_MARKER
from ..paths import REPOSITORY_ROOT, default_data_dir

NOTEBOOKS = REPOSITORY_ROOT / "notebooks"
# Students see one file per lesson, the .ipynb: the paired .py sources (and caches) stay hidden.
HIDDEN = ["*.py", "__pycache__", "*.pyc", ".ipynb_checkpoints"]
SOLVED_DIR = REPOSITORY_ROOT / "build" / "solved"
# The notebooks run as CI runs them: fast preset, VOC, no camera, no figure windows.
NOTEBOOK_ENVIRONMENT = {
    "WORKSHOP_FAST": "1",
    "WORKSHOP_DATASET": "voc",
    "WORKSHOP_HEADLESS": "1",
    "MPLBACKEND": "Agg",
}
TEST_STEPS = ("lint", "unit", "notebooks", "browser")  # in the order of `make test`


def headless() -> bool:
    """Whether no browser can be opened: CI, WORKSHOP_HEADLESS, or Linux without a display."""
    if os.environ.get("CI") or os.environ.get("WORKSHOP_HEADLESS"):
        return True
    display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    return platform.system() == "Linux" and not display


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def environment() -> dict[str, str]:
    """This environment's programs first on PATH, and Jupyter's data of the Python it reuses.

    A venv made with --system-site-packages reuses its base Python's packages; Jupyter must then
    also find their data (widget extensions, Voila templates) under that Python's prefix.
    """
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    paths = [p for p in env.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    for prefix in (sys.prefix, sys.base_prefix):
        share = str(Path(prefix, "share", "jupyter"))
        if share not in paths:
            paths.append(share)
    env["JUPYTER_PATH"] = os.pathsep.join(paths)
    return env


def jupyter_command(port: int, token: str, notebooks: Path = NOTEBOOKS) -> list[str]:
    """The JupyterLab command line of the workshop: 127.0.0.1 only, a token, the student view."""
    return [
        sys.executable,
        "-m",
        "jupyterlab",
        str(notebooks),
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",  # the printed URL must be the one it listens on
        f"--IdentityProvider.token={token}",
        *(["--no-browser"] if headless() else []),
        *(["--allow-root"] if is_root() else []),
        f"--ContentsManager.hide_globs={json.dumps(HIDDEN)}",
    ]


def prepare_all(mirror: str | Path | None = None) -> None:
    """What `make` prepares: the ImageNet weights in the Keras cache, CamVid and VOC."""
    from ..data import sources
    from ..data.download import keras_cache_dir

    mirror = sources.resolve_mirror(mirror)
    origin = f"from {mirror}" if mirror else "downloading"
    if not (keras_cache_dir() / sources.MOBILENET_WEIGHTS).exists():
        print(f"==> ImageNet weights into the Keras cache ({origin})", flush=True)
    sources.ensure_imagenet_weights(mirror)
    data_dir = default_data_dir()
    for dataset in ("camvid", "voc"):
        if (data_dir / dataset / DONE_MARKER).exists():
            continue
        # The course's mirror has 857 of VOC's 1,607 photos: prepare those, keeping the split.
        options = {"allow_partial": True} if dataset == "voc" and mirror else {}
        partial = " (allow partial)" if options else ""
        print(f"==> Preparing {dataset} ({origin}) into {data_dir / dataset}{partial}", flush=True)
        sources.prepare(dataset, data_dir, mirror=mirror, **options)


def _launch(command: list[str], env: dict[str, str]) -> int:
    """Run the server in place of this process where the OS can (a signal then reaches it)."""
    sys.stdout.flush()
    if os.name == "posix":
        os.execve(command[0], command, env)
    try:
        return subprocess.call(command, env=env)
    except KeyboardInterrupt:
        return 0


def run_workshop(port: int = 8888) -> int:
    """Prepare weights and data, then serve the notebooks in JupyterLab; its exit status."""
    if not NOTEBOOKS.is_dir():
        raise FileNotFoundError(
            f"No notebooks/ folder next to the package ({NOTEBOOKS.parent}): run this from a "
            "clone of the workshop repository, installed with `pip install -e .`."
        )
    prepare_all()
    token = secrets.token_hex(16)
    print("==> Starting Jupyter Lab (Ctrl-C stops it). Open this URL in your browser:")
    print(f"    http://127.0.0.1:{port}/lab?token={token}", flush=True)
    return _launch(jupyter_command(port, token), environment())


def suite_commands(step: str) -> list[tuple[str, list[str], dict[str, str]]]:
    """(what, command, extra environment) of each command of one step of `make test`."""
    python = [sys.executable, "-m"]
    solved = SOLVED_DIR.relative_to(REPOSITORY_ROOT).as_posix()
    if step == "lint":
        return [
            ("Lint (ruff check)", [*python, "ruff", "check"], {}),
            ("Lint (ruff format --check)", [*python, "ruff", "format", "--check"], {}),
        ]
    if step == "unit":
        return [("Unit tests", [*python, "pytest", "-q", "tests", "--ignore=tests/browser"], {})]
    if step == "notebooks":
        sources = sorted(p.relative_to(REPOSITORY_ROOT).as_posix() for p in NOTEBOOKS.glob("*.py"))
        return [
            (
                "Solved copies of the notebooks",
                [*python, "workshop_helpers.course.lessons", solved, *sources],
                {},
            ),
            (
                "Every notebook in fast mode on VOC, solutions included (nbval)",
                [*python, "pytest", "-q", "--nbval-lax", "-p", "no:cacheprovider", solved + "/"],
                NOTEBOOK_ENVIRONMENT,
            ),
        ]
    if step == "browser":
        return [
            (
                "Notebook 6 in Chromium (Voila + Playwright)",
                [*python, "pytest", "-q", "-p", "no:cacheprovider", "tests/browser"],
                {},
            )
        ]
    raise ValueError(f"Unknown test step {step!r}: choose from {', '.join(TEST_STEPS)}.")


def run_tests(steps=TEST_STEPS) -> None:
    """Run steps of `make test` in its order, preparing weights and data after the lint as make
    does; the first that fails stops with one line."""
    plan = [(step, suite_commands(step)) for step in steps]  # a wrong name stops before any work
    plan.sort(key=lambda planned: TEST_STEPS.index(planned[0]))
    env = environment()
    prepared = False
    for step, commands in plan:
        if step != "lint" and not prepared:
            prepare_all()
            prepared = True
        if step == "notebooks":
            shutil.rmtree(SOLVED_DIR, ignore_errors=True)  # no copy of a renamed notebook stays
        for what, command, extra in commands:
            print(f"==> {what}", flush=True)
            status = subprocess.call(command, cwd=REPOSITORY_ROOT, env={**env, **extra})
            if status:
                shown = shlex.join(["python", *command[1:]])
                raise RuntimeError(f"{what} failed (exit {status}): {shown}")
