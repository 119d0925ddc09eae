"""Run notebooks as Colab runs them: its packages, a stand-in google.colab, the set-up cell's clone.

`make test-colab` runs this with the Python of .venv-colab (requirements/colab.txt):

    python tests/colab/run_notebooks.py WORK NOTEBOOK.ipynb...

WORK/repo becomes a git snapshot of this working tree. Each notebook then runs in a kernel of this
Python that imported the stand-in google.colab (tests/colab/google) before its first cell, in a
fresh WORK/content-NN (a new runtime's /content), so its set-up cell clones WORK/repo and
pip-installs it. Afterwards: no version that pip freeze listed before has changed, the package came
from the clone, and notebook 6's webcam photo and live loop went through the stand-in. Executed
copies are kept in WORK/executed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[2]
STAND_IN = Path(__file__).resolve().parent
CELL_TIMEOUT = 3600  # seconds: notebooks 4 and 5 train in one cell
SKIP_TAG = "nbval-skip"  # extra trainings, skipped by the notebook tests too

# Run last in every notebook: the set-up cell's clone is what the notebook imported.
FROM_THE_CLONE = """
import os, sys
import workshop_helpers
assert "google.colab" in sys.modules
where = os.path.realpath(workshop_helpers.__file__)
assert where.startswith(os.path.realpath("workshop") + os.sep), where
"""
# And in notebook 6: the webcam photo came from eval_js, the live loop registered its callback and
# the callback answers a frame with an overlay.
THROUGH_THE_STAND_IN = """
from google.colab import output
assert any(script.startswith("takePhoto(") for script in output.evaluated), output.evaluated
assert list(photos) == ["webcam (Colab)"], list(photos)
reply = output.callbacks["workshop.segment_frame"](output.photo_data_url())
assert reply.data["image"].startswith("data:image/jpeg;base64,"), str(reply.data)[:80]
print("webcam photo and live loop went through google.colab.output")
"""


def snapshot(repo: Path) -> str:
    """A one-commit git repository of the working tree's files (tracked and not ignored)."""
    shutil.rmtree(repo, ignore_errors=True)
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, set(listed.split("\0"))):
        source = ROOT / name
        if source.is_file():  # a tracked file may be deleted in the working tree
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    git = ["git", "-C", str(repo), "-c", "user.name=test", "-c", "user.email=test@localhost"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "--no-gpg-sign", "-m", "working tree"], check=True)
    return f"file://{repo}"  # file:// so that --depth 1 applies


def kernel(work: Path) -> str:
    """A kernel spec for this Python whose IPython imports google.colab first, as Colab's does."""
    spec = work / "jupyter" / "kernels" / "colab"
    spec.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Colab stand-in"}))
    startup = work / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-google-colab.py").write_text("import google.colab\n")
    return spec.name


def environment(work: Path, repository: str) -> None:
    """The kernel's environment (it inherits ours): the stand-in, the clone, Colab's PATH."""
    bin_dir = str(Path(sys.executable).parent)
    os.environ.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(STAND_IN), os.environ.get("PYTHONPATH")])),
        IPYTHONDIR=str(work / "ipython"),
        JUPYTER_PATH=str(work / "jupyter"),
        PATH=os.pathsep.join([bin_dir, os.environ.get("PATH", "")]),  # the set-up cell's pip
        VIRTUAL_ENV=str(Path(sys.executable).parents[1]),
        WORKSHOP_REPOSITORY=repository,
        WORKSHOP_CHECKPOINTS=str(work / "checkpoints"),  # notebook 6 reuses notebook 5's model
    )
    os.environ.setdefault("WORKSHOP_FAST", "1")
    os.environ.setdefault("WORKSHOP_DATASET", "voc")
    # Colab has a browser: the demos take their Colab branches, not the headless fallbacks.
    for name in ("CI", "WORKSHOP_HEADLESS", "MPLBACKEND"):
        os.environ.pop(name, None)


def frozen() -> dict[str, str]:
    """name -> version (or URL) of what pip freeze lists in this environment, ours left out."""
    lines = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    found = {}
    for line in lines:
        if line.startswith(("#", "-e ")):  # the editable workshop, which the set-up cell adds
            continue
        name, _, version = line.partition(" @ ") if " @ " in line else line.partition("==")
        found[name.strip().lower().replace("_", "-")] = version.strip()
    return found


def run(path: Path, work: Path, kernel_name: str) -> tuple[bool, float, str]:
    """Execute a notebook in a fresh content folder: (passed, seconds, what its set-up printed)."""
    notebook = nbformat.read(path, as_version=4)
    notebook.cells = [c for c in notebook.cells if SKIP_TAG not in c.metadata.get("tags", [])]
    notebook.cells.append(nbformat.v4.new_code_cell(FROM_THE_CLONE))
    if path.stem.startswith("06_"):
        notebook.cells.append(nbformat.v4.new_code_cell(THROUGH_THE_STAND_IN))
    content = work / f"content-{path.stem[:2]}"
    shutil.rmtree(content, ignore_errors=True)
    content.mkdir(parents=True)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(content)}},
    )
    start, passed = time.perf_counter(), True
    try:
        client.execute()
    except CellExecutionError as err:
        passed = False
        print(str(err)[-3000:])
    seconds = time.perf_counter() - start
    (work / "executed").mkdir(exist_ok=True)
    nbformat.write(notebook, work / "executed" / path.name)
    setup = next(c for c in notebook.cells if c.source.startswith("# Setup: in Colab"))
    printed = "".join(o.get("text", "") for o in setup.get("outputs", []))
    return passed, seconds, printed


def main(work: str, *notebooks: str) -> int:
    work = Path(work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    environment(work, snapshot(work / "repo"))
    kernel_name = kernel(work)
    before, failed, total = frozen(), [], time.perf_counter()
    print(f"Python {sys.version.split()[0]}, {len(before)} packages as Colab ships them")
    for name in notebooks:
        passed, seconds, printed = run(Path(name), work, kernel_name)
        print(f"{'passed' if passed else 'FAILED'} {Path(name).name} in {seconds:.0f} s")
        # A warning of pip's (a changed version, a restart) would show here.
        for line in printed.splitlines():
            print(f"    set-up cell: {line}")
        if not passed or "restart" in printed.lower():
            failed.append(Path(name).name)
    after = frozen()
    after.pop("workshop-helpers", None)
    changed = {n: (v, after.get(n)) for n, v in before.items() if after.get(n) != v}
    added = sorted(set(after) - set(before))
    for name, (was, now) in sorted(changed.items()):
        print(f"CHANGED by the set-up cell: {name} {was} -> {now or 'removed'}")
    print(f"Added by the set-up cell (new, nothing Colab ships): {', '.join(added) or 'nothing'}")
    print(
        f"{len(notebooks) - len(failed)} of {len(notebooks)} notebooks passed; Colab's packages "
        f"{'changed' if changed else 'unchanged'}; {time.perf_counter() - total:.0f} s"
    )
    return 1 if failed or changed else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
