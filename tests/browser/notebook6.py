"""What the browser tests of notebook 6 share: its server's environment, Chromium, the checks."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "06_demos.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "browser-screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # A synthetic camera that needs no permission prompt, for the Colab loop's script.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
NOTEBOOK_SECONDS = 240  # running every cell of notebook 6 on 2 busy CPU cores
STEP_MS = 30_000
PICTURE = ".segmentation-viewer .viewer-picture"
CLASSES_LABEL = "classes (click to hide or show)"
# Window widths the viewer's layout must hold at; at 1300 px JupyterLab's file browser leaves the
# viewer a little less than its natural width, at 1000 px far less.
WIDTHS = (1400, 1300, 1000)
VALIDATION_IMAGES = 3  # the viewer shows the first three; evaluating all 101 takes half the run

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[dev]'")
if not CHROMIUM.exists():
    pytest.skip(
        "Debian's Chromium is missing: apt-get install -y chromium", allow_module_level=True
    )
if not (ROOT / "data" / "camvid" / "val.txt").exists():
    pytest.skip(
        "CamVid is not prepared: python -m workshop_helpers prepare camvid", allow_module_level=True
    )

# Saves the checkpoint notebook 6 loads with WORKSHOP_MODELS=checkpoint, from random weights.
_CHECKPOINT_SCRIPT = """
import sys
from workshop_helpers import CAMVID, build_model
from workshop_helpers.settings import load_settings

settings = load_settings(environ={}, preset="fast", dataset="camvid")
model = build_model(CAMVID.num_classes, pretrained=False)
model.save(settings.checkpoint("pretrained", sys.argv[1]))
"""


class Checkpoint:
    """An untrained checkpoint saved by a subprocess, while a server and Chromium start."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.log = directory / "checkpoint.log"
        directory.mkdir(parents=True, exist_ok=True)
        with self.log.open("w") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _CHECKPOINT_SCRIPT, str(directory)],
                cwd=ROOT,
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def wait(self) -> Path:
        """The folder of the checkpoint, once saved."""
        if self.process.wait(timeout=NOTEBOOK_SECONDS):
            pytest.fail(f"the untrained checkpoint was not saved:\n{self.log.read_text()[-3000:]}")
        return self.directory

    def stop(self) -> None:
        """End the subprocess if it still runs."""
        stop_process(self.process)


def small_camvid(directory: Path) -> Path:
    """A data folder whose CamVid is the prepared one with a short validation split."""
    source, target = ROOT / "data" / "camvid", directory / "camvid"
    target.mkdir(parents=True)
    for entry in source.iterdir():
        if entry.name != "val.txt":
            (target / entry.name).symlink_to(entry)
    ids = (source / "val.txt").read_text().split()[:VALIDATION_IMAGES]
    (target / "val.txt").write_text("\n".join(ids) + "\n")
    return directory


def notebook_environment(work: Path, checkpoints: Path, data: Path) -> dict[str, str]:
    """The environment of a server (and its kernel) that runs notebook 6 as the tests need it."""
    environment = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # inline figures
    environment.update(
        WORKSHOP_PRESET="fast",
        WORKSHOP_DATASET="camvid",
        WORKSHOP_MODELS="checkpoint",
        WORKSHOP_CHECKPOINTS=str(checkpoints),
        WORKSHOP_DATA_DIR=str(data),
        WORKSHOP_HEADLESS="1",
        JUPYTER_RUNTIME_DIR=str(work / "runtime"),
        JUPYTER_PLATFORM_DIRS="1",
    )
    environment.pop("WORKSHOP_FAST", None)
    # A venv that reuses the system's packages must also see their Jupyter data (Voilà's templates,
    # the widgets' JupyterLab extension).
    shared = [os.path.join(prefix, "share", "jupyter") for prefix in (sys.prefix, sys.base_prefix)]
    environment["JUPYTER_PATH"] = os.pathsep.join(
        [p for p in [environment.get("JUPYTER_PATH"), *shared] if p]
    )
    return environment


def write_clip(path: Path, frames: int = 60) -> Path:
    """An MJPG clip of a bright square moving across a dark frame: the live loop's camera."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for k in range(frames):
        frame = np.full((240, 320, 3), 40, np.uint8)
        frame[80:160, 4 * k % 240 : 4 * k % 240 + 80] = (60, 200, 240)
        writer.write(frame)
    writer.release()
    return path


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(command: list[str], environment: dict[str, str], log: Path) -> subprocess.Popen:
    """A server started from the repository, its output in log."""
    with log.open("w") as output:
        return subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT
        )


def wait_for_server(
    name: str, url: str, server: subprocess.Popen, log: Path, seconds: float = 60
) -> None:
    """Return once url answers; fail with the server's log if it exits or stays silent."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"{name} exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            time.sleep(0.3)
    pytest.fail(
        f"{name} did not answer at {url} within {seconds:.0f} s:\n{log.read_text()[-3000:]}"
    )


def stop_process(process: subprocess.Popen) -> None:
    """Terminate a process, then kill it if it lingers."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def clear_screenshots() -> None:
    """An empty screenshot folder."""
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir()


def launch_chromium(playwright):
    """Debian's Chromium, headless."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def shot(page, selector: str, name: str) -> None:
    """A screenshot of one widget (Voilà scrolls inside the page, so full-page shots miss it)."""
    page.locator(selector).screenshot(path=SCREENSHOTS / f"{name}.png")


def src(page, selector: str) -> str:
    """The src of an image."""
    return page.locator(selector).get_attribute("src")


def wait_for_new_src(page, selector: str, old: str, timeout: float = STEP_MS) -> str:
    """The src of an image once it differs from old."""
    page.wait_for_function(
        "([selector, old]) => document.querySelector(selector).src !== old",
        arg=[selector, old],
        timeout=timeout,
    )
    return src(page, selector)


def set_width(page, width: int) -> None:
    """Resize the window and wait until the page has laid itself out again."""
    page.set_viewport_size({"width": width, "height": page.viewport_size["height"]})
    page.evaluate(
        "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"
    )
    page.wait_for_function(f"document.querySelector('{PICTURE}').complete")


# Boxes from getBoundingClientRect; 1 px of slack for subpixel layout.
_LAYOUT_PROBLEMS_JS = """(label) => {
  const viewer = document.querySelector('.segmentation-viewer');
  const box = (element) => element.getBoundingClientRect();
  const overlap = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 &&
      a.top < b.bottom - 1 && b.top < a.bottom - 1;
  const picture = viewer.querySelector('.viewer-picture');
  const parts = {'dropdown': '.viewer-picker', 'opacity slider': '.viewer-opacity',
                 'URL box': '.viewer-url', 'class label': '.viewer-classes',
                 'legend': '.viewer-legend', 'picture': '.viewer-picture'};
  const problems = [];
  for (const [name, selector] of Object.entries(parts)) {
    const part = viewer.querySelector(selector), own = box(part);
    if (part !== picture && overlap(own, box(picture))) {
      problems.push(`the picture overlaps the ${name}`);
    }
    // A box shrunk below its content clips it, and scrolls it when a child takes focus.
    for (let up = part.parentElement; up !== viewer.parentElement; up = up.parentElement) {
      const around = box(up);
      if (up.scrollLeft || up.scrollTop) {
        problems.push(`the ${name} is scrolled ${up.scrollLeft} px inside its box`);
      }
      if (getComputedStyle(up).overflowX !== 'visible' &&
          (own.left < around.left - 1 || own.right > around.right + 1)) {
        problems.push(`the ${name} (${own.left}-${own.right} px) is clipped by its box ` +
                      `(${around.left}-${around.right} px)`);
      }
    }
  }
  if (viewer.scrollWidth > viewer.clientWidth + 1) {
    problems.push(`the viewer needs ${viewer.scrollWidth} px and has ${viewer.clientWidth} px`);
  }
  const text = viewer.querySelector('.viewer-classes');
  if (text.innerText.trim() !== label) problems.push(`the class label reads ${text.innerText}`);
  if (text.scrollWidth > text.clientWidth + 1) {
    problems.push(`the class label is cut short: ${text.scrollWidth} px of text in ` +
                  `${text.clientWidth} px`);
  }
  const shown = box(picture);
  const ratio = (shown.width / shown.height) / (picture.naturalWidth / picture.naturalHeight);
  if (Math.abs(ratio - 1) > 0.02) {
    problems.push(`the picture is squeezed to ${shown.width}x${shown.height} px from ` +
                  `${picture.naturalWidth}x${picture.naturalHeight}`);
  }
  return problems;
}"""


def assert_layout_holds(page) -> None:
    """Fail, naming each problem, if the viewer's parts overlap, are clipped or are squeezed."""
    problems = page.evaluate(_LAYOUT_PROBLEMS_JS, CLASSES_LABEL)
    assert not problems, "the viewer's layout breaks:\n" + "\n".join(problems)
