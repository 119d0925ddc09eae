"""Notebook 6 in a real browser: Voilà serves it on 127.0.0.1, Playwright drives Debian's Chromium.

Screenshots of every step go to browser-screenshots/ (git-ignored) and stay there when a test fails
(or with WORKSHOP_KEEP_SCREENSHOTS=1). The model is an untrained network saved as the notebook's
checkpoint: these tests check the widgets, not the model.
"""

import re
import sys
import time

import pytest

from .notebook6 import (
    NOTEBOOK,
    NOTEBOOK_SECONDS,
    PICTURE,
    SCREENSHOTS,
    STEP_MS,
    WIDTHS,
    assert_layout_holds,
    free_port,
    launch_chromium,
    notebook_environment,
    playwright_api,
    set_width,
    shot,
    src,
    start_server,
    stop_process,
    wait_for_new_src,
    wait_for_server,
    write_clip,
)

pytest.importorskip("voila", reason="pip install -e '.[dev]'")


@pytest.fixture(scope="module")
def page(tmp_path_factory, screenshots, checkpoint, camvid_data):
    """Notebook 6 rendered by Voilà in Chromium, every cell run."""
    began = time.monotonic()
    work = tmp_path_factory.mktemp("browser")
    environment = notebook_environment(work, checkpoint.directory, camvid_data)
    environment["WORKSHOP_CAMERA"] = str(write_clip(work / "camera.avi"))
    port = free_port()
    log = work / "voila.log"
    server = start_server(
        [
            sys.executable,
            "-m",
            "voila",
            str(NOTEBOOK),
            "--no-browser",
            f"--port={port}",
            "--Voila.ip=127.0.0.1",
            "--show_tracebacks=True",
            f"--VoilaExecutor.timeout={NOTEBOOK_SECONDS}",
        ],
        environment,
        log,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_for_server("Voilà", url, server, log)
        checkpoint.wait()  # saved while Voilà starts; the notebook only runs once a page asks
        with playwright_api.sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            tab.goto(url, timeout=NOTEBOOK_SECONDS * 1000, wait_until="commit")
            try:
                tab.wait_for_selector(
                    ".segmentation-viewer .viewer-picture[src]", timeout=NOTEBOOK_SECONDS * 1000
                )
            except playwright_api.Error:
                tab.screenshot(path=SCREENSHOTS / "00-not-rendered.png", full_page=True)
                raise AssertionError(
                    f"the viewer never rendered; Voilà's log:\n{log.read_text()[-3000:]}"
                ) from None
            tab.screenshot(path=SCREENSHOTS / "01-rendered.png", full_page=True)
            print(f"\nnotebook 6 rendered {time.monotonic() - began:.0f} s after the test began")
            yield tab
            browser.close()
    finally:
        stop_process(server)


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
    old = src(page, PICTURE)
    page.select_option(".viewer-picker select", label="webcam")  # a frame of the 320×240 clip
    wait_for_new_src(page, PICTURE, old)
    page.wait_for_function(f"document.querySelector('{PICTURE}').naturalWidth > 0")
    box = page.locator(PICTURE).bounding_box()
    assert box["width"] == pytest.approx(448, abs=2)
    assert box["height"] == pytest.approx(448 * 240 / 320, abs=3)
    shot(page, ".segmentation-viewer", "02-picked-webcam")


def test_the_opacity_slider_changes_the_picture(page):
    old = src(page, PICTURE)
    handle = page.locator(".viewer-opacity .noUi-handle")
    handle.focus()
    for _ in range(4):
        handle.press("ArrowRight")
    wait_for_new_src(page, PICTURE, old)
    assert page.inner_text(".viewer-opacity .widget-readout") == "0.70"
    shot(page, ".segmentation-viewer", "03-opacity")


def test_a_plain_click_hides_one_class(page):
    toggles = page.locator(".segmentation-viewer .widget-toggle-button")
    for k in range(toggles.count()):  # the first class that covers pixels changes the picture
        old = src(page, PICTURE)
        toggles.nth(k).click()
        try:
            wait_for_new_src(page, PICTURE, old, timeout=4000)
        except playwright_api.Error:
            continue
        classes = [toggles.nth(j).get_attribute("class") for j in range(toggles.count())]
        assert "mod-active" not in classes[k]
        assert sum("mod-active" in c for c in classes) == toggles.count() - k - 1
        shot(page, ".segmentation-viewer", "04-class-hidden")
        return
    pytest.fail("no class toggle changed the picture")


def test_a_bad_url_shows_one_line_under_the_picture(page):
    before = page.locator(PICTURE).bounding_box()
    page.fill(".viewer-url input", "ftp://example.org/cat.jpg")
    page.press(".viewer-url input", "Enter")
    page.wait_for_function(
        "document.querySelector('.viewer-message').innerText.length > 0", timeout=STEP_MS
    )
    message = page.inner_text(".viewer-message").strip()
    assert message.startswith("Could not use this image: Only http and https")
    assert "\n" not in message
    assert page.locator(PICTURE).bounding_box() == before  # the layout did not move
    shot(page, ".segmentation-viewer", "05-bad-url")
    page.select_option(".viewer-picker select", label="validation 0")
    page.wait_for_function(
        "document.querySelector('.viewer-message').innerText.trim() === ''", timeout=STEP_MS
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_the_picture_leaves_the_controls_clear(page, width):
    try:
        set_width(page, width)
        shot(page, ".segmentation-viewer", f"07-layout-{width}")
        assert_layout_holds(page)
    finally:
        set_width(page, 1400)


def test_the_live_loop_plays_the_video_file_and_shows_its_frame_rate(page):
    live = page.locator(".live-segmentation")
    live.locator("button", has_text="Start").click()
    page.wait_for_function(
        "/[0-9]+\\.[0-9] FPS/.test(document.querySelector('.live-fps').innerText)", timeout=STEP_MS
    )
    first = src(page, ".live-picture")
    wait_for_new_src(page, ".live-picture", first)  # frames keep coming
    shot(page, ".live-segmentation", "06-live")
    live.locator("button", has_text="Stop").click()
    page.wait_for_function(
        "document.querySelector('.live-fps').innerText.startsWith('stopped')", timeout=STEP_MS
    )
    assert re.search(r"stopped \([0-9.]+ FPS\)", page.inner_text(".live-fps"))


def test_the_colab_live_script_streams_camera_frames_and_stops(page):
    from workshop_helpers.demos.viewer import _COLAB_LIVE_JS

    tab = page.context.browser.new_page()
    # 127.0.0.1 is a secure context (getUserMedia needs one); Colab's kernel is stubbed: it echoes.
    url = "http://127.0.0.1:9/colab"
    tab.route(
        url,
        lambda route: route.fulfill(body="<html><body></body></html>", content_type="text/html"),
    )
    tab.add_init_script("""window.google = {colab: {
        kernel: {invokeFunction: async (name, args) => {
            window.calls = (window.calls || 0) + 1;
            return {data: {'application/json': {image: args[0]}}};
        }},
        output: {setIframeHeight: () => {}}}};""")
    tab.set_default_timeout(STEP_MS)
    tab.goto(url)
    tab.evaluate("(script) => { eval(script + '\\nworkshopLive(160);'); }", _COLAB_LIVE_JS)
    tab.wait_for_function(
        "window.calls > 3 && document.querySelector('img').src.startsWith('data:image/jpeg')",
        timeout=STEP_MS,
    )
    assert re.search(r"[0-9.]+ FPS", tab.inner_text("span"))
    tab.click("button")
    tab.wait_for_function(
        "document.querySelector('span').innerText.startsWith('stopped')", timeout=STEP_MS
    )
    tab.close()
