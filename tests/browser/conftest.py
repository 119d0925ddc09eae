import os
import shutil

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember a failure, so the browser fixture keeps its screenshots for CI to show."""
    outcome = yield
    if outcome.get_result().failed:
        item.session.browser_test_failed = True


# Fixtures import notebook6 when used: its module-level skips then skip tests, not this file.
@pytest.fixture(scope="session")
def screenshots(request):
    """browser-screenshots/, emptied; removed after the last test unless one failed."""
    from .notebook6 import SCREENSHOTS, clear_screenshots

    clear_screenshots()
    yield SCREENSHOTS
    failed = getattr(request.session, "browser_test_failed", False)
    if not failed and os.environ.get("WORKSHOP_KEEP_SCREENSHOTS") != "1":
        shutil.rmtree(SCREENSHOTS, ignore_errors=True)


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory):
    """The untrained checkpoint notebook 6 loads, saved once for all the browser tests."""
    from .notebook6 import Checkpoint

    saving = Checkpoint(tmp_path_factory.mktemp("checkpoints"))
    yield saving
    saving.stop()


@pytest.fixture(scope="session")
def camvid_data(tmp_path_factory):
    """A data folder with CamVid's first validation images only (the viewer shows those)."""
    from .notebook6 import small_camvid

    return small_camvid(tmp_path_factory.mktemp("data"))
