"""What every notebook does first: settings, data and weights ready; the Colab set-up cell."""

from __future__ import annotations

from .data.sources import ensure_imagenet_weights, ensure_prepared
from .datasets import DatasetSpec, get_spec
from .settings import Settings, load_settings

# The one place the repository's address lives: tests/test_notebooks.py checks the notebooks'
# badges and Colab set-up cells against these.
REPOSITORY = "segmentation-workshop/transfer-learning-segmentation"
COLAB_BADGE = (
    "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
    "(https://colab.research.google.com/github/{repository}/blob/main/notebooks/{notebook})"
)
SETUP_CELL = """# Setup: in Colab, install the workshop first; then settings, data and weights.
import sys

if "google.colab" in sys.modules:
    import os
    import subprocess

    url = "https://github.com/{repository}"
    url = os.environ.get("WORKSHOP_REPOSITORY", url)
    subprocess.run(
        f"test -d workshop || git clone -q --depth 1 {url} workshop && pip install -q -e workshop",
        shell=True,
        check=True,
    )
    sys.path.insert(0, "workshop")
from workshop_helpers import start

settings, spec = start({arguments})"""


def colab_badge(notebook: str) -> str:
    """The Open-in-Colab badge of a notebook file name (NN_name.ipynb)."""
    return COLAB_BADGE.format(repository=REPOSITORY, notebook=notebook)


def setup_cell(arguments: str = "") -> str:
    """The source of a notebook's set-up cell."""
    # replace, not format: the cell's own f-string keeps its braces and its line fits in 100
    return SETUP_CELL.replace("{repository}", REPOSITORY).replace("{arguments}", arguments)


def start(weights: bool = False, quiet: bool = False, **overrides) -> tuple[Settings, DatasetSpec]:
    """Settings (preset, WORKSHOP_* variables, overrides); dataset and ImageNet weights ready."""
    settings = load_settings(**overrides)
    spec = get_spec(settings.prepared_dataset)
    ensure_prepared(spec.name)
    if weights:
        # offline copies when a mirror is set; otherwise Keras downloads them
        ensure_imagenet_weights()
    if not quiet:
        print(settings.describe())  # one line; print(settings) lists every value
    return settings, spec
