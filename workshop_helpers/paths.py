"""Where the workshop keeps things: the repository, prepared data and trained checkpoints."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR_VARIABLE = "WORKSHOP_DATA_DIR"
CHECKPOINTS_VARIABLE = "WORKSHOP_CHECKPOINTS"


def default_data_dir() -> Path:
    """Folder of prepared datasets: $WORKSHOP_DATA_DIR, else the repository's data/."""
    env = os.environ.get(DATA_DIR_VARIABLE)
    return Path(env) if env else REPOSITORY_ROOT / "data"


def default_checkpoint_dir() -> Path:
    """Folder of checkpoints: $WORKSHOP_CHECKPOINTS, else the repository's checkpoints/."""
    env = os.environ.get(CHECKPOINTS_VARIABLE)
    return Path(env) if env else REPOSITORY_ROOT / "checkpoints"


def display_path(path: str | Path) -> str:
    """A path relative to the repository (or the working folder) when it lies inside it."""
    path = Path(path).resolve()
    for root in (REPOSITORY_ROOT, Path.cwd()):
        if path.is_relative_to(root):
            return str(path.relative_to(root))
    return str(path)


@contextmanager
def data_dir_as_default(data_dir: str | Path | None):
    """Within the block, data_dir is the data folder (as WORKSHOP_DATA_DIR), if one is given."""
    if data_dir is None:
        yield
        return
    saved = os.environ.get(DATA_DIR_VARIABLE)
    os.environ[DATA_DIR_VARIABLE] = str(data_dir)
    try:
        yield
    finally:
        if saved is None:
            del os.environ[DATA_DIR_VARIABLE]
        else:
            os.environ[DATA_DIR_VARIABLE] = saved
