import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("WORKSHOP_HEADLESS", "1")

ASSETS = Path(__file__).resolve().parents[2] / "shared" / "assets"
MIRROR = Path(os.environ.get("WORKSHOP_DATA_MIRROR", ASSETS))
needs_mirror = pytest.mark.skipif(
    not (MIRROR / "camvid").is_dir(),
    reason=f"offline asset mirror not found at {MIRROR} (set WORKSHOP_DATA_MIRROR)")


@pytest.fixture(scope="session")
def mirror():
    return MIRROR


@pytest.fixture(scope="session")
def scratch_model():
    from workshop_helpers import build_model

    return build_model(6)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
