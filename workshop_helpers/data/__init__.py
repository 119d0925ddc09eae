"""Where the data comes from: downloads, the offline mirror, preparation of VOC, CamVid and your
own folders. It depends on `datasets` (specs and loading) and `paths` only."""

from .folders import prepare_folder, write_source_folder
from .sources import ensure_imagenet_weights, ensure_prepared, prepare

__all__ = [
    "ensure_imagenet_weights",
    "ensure_prepared",
    "prepare",
    "prepare_folder",
    "write_source_folder",
]
