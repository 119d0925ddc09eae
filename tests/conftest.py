import os
from pathlib import Path

import numpy as np
import pytest

from tests.eager import eagerly

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("WORKSHOP_HEADLESS", "1")

ASSETS = Path(__file__).resolve().parents[2] / "shared" / "assets"
MIRROR = Path(os.environ.get("WORKSHOP_DATA_MIRROR", ASSETS))
needs_mirror = pytest.mark.skipif(
    not (MIRROR / "camvid").is_dir(),
    reason=f"offline asset mirror not found at {MIRROR} (set WORKSHOP_DATA_MIRROR)",
)


@pytest.fixture(scope="session")
def mirror():
    return MIRROR


@pytest.fixture(scope="session")
def scratch_model():
    from workshop_helpers import build_model

    return build_model(6)


@pytest.fixture(autouse=True)
def no_gpu(monkeypatch):
    """Every test sees a machine without a GPU, as CI is: the preset it picks does not depend on
    where the tests run. Tests of the GPU choice patch it back."""
    monkeypatch.setattr("workshop_helpers.settings.gpu_available", lambda: False)


@pytest.fixture
def eager_steps():
    with eagerly():
        yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)
