"""Notebook 6 in JupyterLab 4 as a student runs it (Run All Cells), then the viewer's layout.

JupyterLab serves a copy of the notebook with autosave off, so nothing it saves reaches notebooks/;
Playwright drives Debian's Chromium at two window widths, the file browser open beside the notebook.
Screenshots go to browser-screenshots/lab-*.png and stay there when a test fails.
"""

import os
import secrets
import shutil
import sys
import time

import pytest

from .notebook6 import (
    CLASSES_LABEL,
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
)

pytest.importorskip("jupyterlab", reason="pip install -e '.[dev]'")

VIEWER = ".segmentation-viewer"
# User settings of this run only: no news or update prompt over the page, and no autosave.
SETTINGS = {
    "apputils-extension/notification": '{"fetchNews": "false", "checkForUpdates": false}',
    "docmanager-extension/plugin": '{"autosave": false}',
}


def _user_settings(directory):
    """A user-settings folder holding SETTINGS."""
    for name, value in SETTINGS.items():
        path = directory / "@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value)
    return directory


def _failure(tab, log, name: str, what: str) -> AssertionError:
    """An error naming what went wrong, with the screenshot and the end of the server's log."""
    tab.screenshot(path=SCREENSHOTS / f"lab-00-{name}.png")
    errors = tab.locator(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'],"
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']"
    )
    shown = "\n".join(errors.all_inner_texts())[-3000:]
    return AssertionError(
        f"{what}; the notebook's errors:\n{shown}\nJupyterLab's log:\n{log.read_text()[-2000:]}"
    )


@pytest.fixture(scope="module")
def lab(tmp_path_factory, screenshots, checkpoint, camvid_data):
    """Notebook 6 open in JupyterLab in Chromium, every cell run from the Run menu."""
    began = time.monotonic()
    work = tmp_path_factory.mktemp("lab")
    notebooks = work / "notebooks"
    notebooks.mkdir()
    for paired in (NOTEBOOK, NOTEBOOK.with_suffix(".py")):  # jupytext reads the .py's text
        shutil.copy(paired, notebooks)
    environment = notebook_environment(work, checkpoint.directory, camvid_data)
    port, token = free_port(), secrets.token_hex(16)
    log = work / "jupyterlab.log"
    # The flags of `make workshop`, with this run's own settings and workspaces.
    server = start_server(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            str(notebooks),
            "--ip=127.0.0.1",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            "--no-browser",
            *(["--allow-root"] if os.geteuid() == 0 else []),
            f"--LabApp.user_settings_dir={_user_settings(work / 'settings')}",
            f"--LabApp.workspaces_dir={work / 'workspaces'}",
        ],
        environment,
        log,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_server("JupyterLab", f"{base}/api/status?token={token}", server, log)
        with playwright_api.sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            tab.set_default_timeout(STEP_MS)
            tab.goto(f"{base}/lab/tree/{NOTEBOOK.name}?token={token}")
            try:
                tab.wait_for_function(
                    "/Idle/.test(document.querySelector('#jp-main-statusbar')?.innerText)",
                    timeout=NOTEBOOK_SECONDS * 1000,
                )
            except playwright_api.Error:
                raise _failure(tab, log, "no-kernel", "the kernel never became idle") from None
            checkpoint.wait()
            tab.click("#jp-MainMenu .lm-MenuBar-itemLabel:text-is('Run')")
            tab.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
            try:
                tab.wait_for_function(
                    f"document.querySelector('{PICTURE}[src]')?.complete",
                    timeout=NOTEBOOK_SECONDS * 1000,
                )
            except playwright_api.Error:
                raise _failure(tab, log, "not-rendered", "the viewer never rendered") from None
            tab.locator(VIEWER).scroll_into_view_if_needed()
            tab.screenshot(path=SCREENSHOTS / "lab-01-rendered.png")
            print(
                f"\nnotebook 6 ran in JupyterLab {time.monotonic() - began:.0f} s after the "
                "test began"
            )
            yield tab
            browser.close()
    finally:
        stop_process(server)


def test_run_all_runs_every_cell_without_an_error(lab):
    lab.wait_for_function("/Idle/.test(document.querySelector('#jp-main-statusbar').innerText)")
    # textContent: the cells scrolled out of sight have no innerText (content-visibility)
    prompts = lab.locator(".jp-CodeCell .jp-InputPrompt").evaluate_all(
        "prompts => prompts.map((prompt) => prompt.textContent)"
    )
    assert prompts and all(p.strip() not in ("[ ]:", "[*]:", "") for p in prompts), prompts
    assert lab.locator("[data-mime-type='application/vnd.jupyter.error']").count() == 0


@pytest.mark.parametrize("width", WIDTHS)
def test_the_picture_leaves_the_controls_clear(lab, width):
    set_width(lab, width)
    lab.locator(VIEWER).scroll_into_view_if_needed()
    lab.screenshot(path=SCREENSHOTS / f"lab-02-window-{width}.png")
    shot(lab, VIEWER, f"lab-02-viewer-{width}")
    assert_layout_holds(lab)


def test_the_class_label_is_intact_after_an_opacity_edit(lab):
    set_width(lab, min(WIDTHS))
    old = src(lab, PICTURE)
    handle = lab.locator(".viewer-opacity .noUi-handle")
    handle.click()
    for _ in range(4):
        handle.press("ArrowRight")
    wait_for_new_src(lab, PICTURE, old)
    assert lab.inner_text(".viewer-opacity .widget-readout") == "0.70"
    assert lab.inner_text(".viewer-classes").strip() == CLASSES_LABEL
    for width in sorted(WIDTHS):
        set_width(lab, width)
        shot(lab, VIEWER, f"lab-03-opacity-{width}")
        assert_layout_holds(lab)
