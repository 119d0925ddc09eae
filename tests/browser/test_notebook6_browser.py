"""Notebook 6 in a real browser: Voilà serves it on 127.0.0.1, Playwright drives Debian's Chromium.

Screenshots of every step go to browser-screenshots/ (git-ignored) and stay there when a test fails
(or with WORKSHOP_KEEP_SCREENSHOTS=1). The model is an untrained network saved as the notebook's
checkpoint: these tests check the widgets, not the model.
"""

import os
import re
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
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 # A synthetic camera that needs no permission prompt, for the Colab loop's script.
                 "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
NOTEBOOK_SECONDS = 240  # running every cell of notebook 6 on 2 busy CPU cores
STEP_MS = 30_000

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[dev]'")
pytest.importorskip("voila", reason="pip install -e '.[dev]'")
if not CHROMIUM.exists():
    pytest.skip("Debian's Chromium is missing: apt-get install -y chromium",
                allow_module_level=True)
if not (ROOT / "data" / "camvid" / "val.txt").exists():
    pytest.skip("CamVid is not prepared: python -m workshop_helpers prepare camvid",
                allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _write_clip(path: Path, frames: int = 60) -> Path:
    """An MJPG clip of a bright square moving across a dark frame: the live loop's camera."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for k in range(frames):
        frame = np.full((240, 320, 3), 40, np.uint8)
        frame[80:160, 4 * k % 240:4 * k % 240 + 80] = (60, 200, 240)
        writer.write(frame)
    writer.release()
    return path


def _untrained_checkpoint(directory: Path) -> None:
    """The checkpoint notebook 6 loads with WORKSHOP_MODELS=checkpoint, from random weights."""
    from workshop_helpers import CAMVID, build_model
    from workshop_helpers.settings import load_settings

    settings = load_settings(environ={}, preset="fast", dataset="camvid")
    build_model(CAMVID.num_classes, pretrained=False).save(settings.checkpoint("pretrained",
                                                                             directory))


def _wait_for_server(url: str, server: subprocess.Popen, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"Voilà exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"Voilà did not answer at {url} within {seconds:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def page(request, tmp_path_factory):
    """Notebook 6 rendered by Voilà in Chromium, every cell run."""
    began = time.monotonic()
    work = tmp_path_factory.mktemp("browser")
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir()
    environment = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # inline figures
    environment.update(WORKSHOP_PRESET="fast", WORKSHOP_DATASET="camvid",
                       WORKSHOP_MODELS="checkpoint", WORKSHOP_CHECKPOINTS=str(work),
                       WORKSHOP_HEADLESS="1",
                       WORKSHOP_CAMERA=str(_write_clip(work / "camera.avi")),
                       JUPYTER_RUNTIME_DIR=str(work / "runtime"), JUPYTER_PLATFORM_DIRS="1")
    environment.pop("WORKSHOP_FAST", None)
    # A venv that reuses the system's packages must also see their Jupyter data (Voilà's templates).
    shared = [os.path.join(prefix, "share", "jupyter") for prefix in (sys.prefix, sys.base_prefix)]
    environment["JUPYTER_PATH"] = os.pathsep.join(
        [p for p in [environment.get("JUPYTER_PATH"), *shared] if p])
    port = _free_port()
    log = work / "voila.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "voila", str(NOTEBOOK), "--no-browser", f"--port={port}",
             "--Voila.ip=127.0.0.1", "--show_tracebacks=True",
             f"--VoilaExecutor.timeout={NOTEBOOK_SECONDS}"],
            cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT)
    try:
        _untrained_checkpoint(work)  # while Voilà starts; the notebook only runs once a page asks
        url = f"http://127.0.0.1:{port}/"
        _wait_for_server(url, server, log)
        with playwright_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            tab.goto(url, timeout=NOTEBOOK_SECONDS * 1000, wait_until="commit")
            try:
                tab.wait_for_selector(".segmentation-viewer .viewer-picture[src]",
                                      timeout=NOTEBOOK_SECONDS * 1000)
            except playwright_api.Error:
                tab.screenshot(path=SCREENSHOTS / "00-not-rendered.png", full_page=True)
                raise AssertionError(f"the viewer never rendered; Voilà's log:\n"
                                     f"{log.read_text()[-3000:]}") from None
            tab.screenshot(path=SCREENSHOTS / "01-rendered.png", full_page=True)
            print(f"\nnotebook 6 rendered {time.monotonic() - began:.0f} s after the test began")
            yield tab
            browser.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        failed = getattr(request.session, "browser_test_failed", False)
        if not failed and os.environ.get("WORKSHOP_KEEP_SCREENSHOTS") != "1":
            shutil.rmtree(SCREENSHOTS, ignore_errors=True)


def _shot(page, selector: str, name: str) -> None:
    """A screenshot of one widget (Voilà scrolls inside the page, so full-page shots miss it)."""
    page.locator(selector).screenshot(path=SCREENSHOTS / f"{name}.png")


def _src(page, selector: str) -> str:
    return page.locator(selector).get_attribute("src")


def _wait_for_new_src(page, selector: str, old: str, timeout: float = STEP_MS) -> str:
    page.wait_for_function("([selector, old]) => document.querySelector(selector).src !== old",
                           arg=[selector, old], timeout=timeout)
    return _src(page, selector)


PICTURE = ".segmentation-viewer .viewer-picture"


def test_the_viewer_renders_as_widgets_not_text(page):
    body = page.inner_text("body")
    assert "HBox(children=" not in body and "VBox(children=" not in body
    assert page.locator(".segmentation-viewer .viewer-picker select").count() == 1
    toggles = page.locator(".segmentation-viewer .widget-toggle-button")
    assert toggles.count() == 11  # CamVid's classes
    # Every class starts shown, and looks pressed.
    assert all("mod-active" in toggles.nth(k).get_attribute("class") for k in range(11))
    assert "mean p" in page.inner_text(".viewer-legend")
    assert "Traceback" not in body


def test_picking_another_image_changes_the_picture_and_keeps_its_shape(page):
    old = _src(page, PICTURE)
    page.select_option(".viewer-picker select", label="webcam")  # a frame of the 320×240 clip
    _wait_for_new_src(page, PICTURE, old)
    page.wait_for_function(f"document.querySelector('{PICTURE}').naturalWidth > 0")
    box = page.locator(PICTURE).bounding_box()
    assert box["width"] == pytest.approx(448, abs=2)
    assert box["height"] == pytest.approx(448 * 240 / 320, abs=3)
    _shot(page, ".segmentation-viewer", "02-picked-webcam")


def test_the_opacity_slider_changes_the_picture(page):
    old = _src(page, PICTURE)
    handle = page.locator(".viewer-opacity .noUi-handle")
    handle.focus()
    for _ in range(4):
        handle.press("ArrowRight")
    _wait_for_new_src(page, PICTURE, old)
    assert page.inner_text(".viewer-opacity .widget-readout") == "0.70"
    _shot(page, ".segmentation-viewer", "03-opacity")


def test_a_plain_click_hides_one_class(page):
    toggles = page.locator(".segmentation-viewer .widget-toggle-button")
    for k in range(toggles.count()):  # the first class that covers pixels changes the picture
        old = _src(page, PICTURE)
        toggles.nth(k).click()
        try:
            _wait_for_new_src(page, PICTURE, old, timeout=4000)
        except playwright_api.Error:
            continue
        classes = [toggles.nth(j).get_attribute("class") for j in range(toggles.count())]
        assert "mod-active" not in classes[k]
        assert sum("mod-active" in c for c in classes) == toggles.count() - k - 1
        _shot(page, ".segmentation-viewer", "04-class-hidden")
        return
    pytest.fail("no class toggle changed the picture")


def test_a_bad_url_shows_one_line_under_the_picture(page):
    before = page.locator(PICTURE).bounding_box()
    page.fill(".viewer-url input", "ftp://example.org/cat.jpg")
    page.press(".viewer-url input", "Enter")
    page.wait_for_function("document.querySelector('.viewer-message').innerText.length > 0",
                           timeout=STEP_MS)
    message = page.inner_text(".viewer-message").strip()
    assert message.startswith("Could not use this image: Only http and https")
    assert "\n" not in message
    assert page.locator(PICTURE).bounding_box() == before  # the layout did not move
    _shot(page, ".segmentation-viewer", "05-bad-url")
    page.select_option(".viewer-picker select", label="validation 0")
    page.wait_for_function("document.querySelector('.viewer-message').innerText.trim() === ''",
                           timeout=STEP_MS)


def test_the_live_loop_plays_the_video_file_and_shows_its_frame_rate(page):
    live = page.locator(".live-segmentation")
    live.locator("button", has_text="Start").click()
    page.wait_for_function(
        "/[0-9]+\\.[0-9] FPS/.test(document.querySelector('.live-fps').innerText)", timeout=STEP_MS)
    first = _src(page, ".live-picture")
    _wait_for_new_src(page, ".live-picture", first)  # frames keep coming
    _shot(page, ".live-segmentation", "06-live")
    live.locator("button", has_text="Stop").click()
    page.wait_for_function("document.querySelector('.live-fps').innerText.startsWith('stopped')",
                           timeout=STEP_MS)
    assert re.search(r"stopped \([0-9.]+ FPS\)", page.inner_text(".live-fps"))


def test_the_colab_live_script_streams_camera_frames_and_stops(page):
    from workshop_helpers.viewer import _COLAB_LIVE_JS

    tab = page.context.browser.new_page()
    # 127.0.0.1 is a secure context (getUserMedia needs one); Colab's kernel is stubbed: it echoes.
    url = "http://127.0.0.1:9/colab"
    tab.route(url, lambda route: route.fulfill(body="<html><body></body></html>",
                                               content_type="text/html"))
    tab.add_init_script("""window.google = {colab: {
        kernel: {invokeFunction: async (name, args) => {
            window.calls = (window.calls || 0) + 1;
            return {data: {'application/json': {image: args[0]}}};
        }},
        output: {setIframeHeight: () => {}}}};""")
    tab.set_default_timeout(STEP_MS)
    tab.goto(url)
    tab.evaluate("(script) => { eval(script + '\\nworkshopLive(160);'); }", _COLAB_LIVE_JS)
    tab.wait_for_function("window.calls > 3 && document.querySelector('img').src.startsWith("
                          "'data:image/jpeg')", timeout=STEP_MS)
    assert re.search(r"[0-9.]+ FPS", tab.inner_text("span"))
    tab.click("button")
    tab.wait_for_function("document.querySelector('span').innerText.startsWith('stopped')",
                          timeout=STEP_MS)
    tab.close()
