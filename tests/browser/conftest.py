import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember a failure, so the browser fixture keeps its screenshots for CI to show."""
    outcome = yield
    if outcome.get_result().failed:
        item.session.browser_test_failed = True
