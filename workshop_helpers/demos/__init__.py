"""Demos and deployment of a trained model: photos, the webcam, the viewer, export (notebooks 6
and 7)."""

from .camera import headless, in_colab, open_camera, webcam_images
from .export import TOLERANCE, export_model, missing_packages, require
from .images import load_image, sample_images
from .viewer import (
    LiveSegmentation,
    SegmentationViewer,
    colab_live_segmentation,
    segment_and_plot,
    show_url,
)

__all__ = [
    "LiveSegmentation",
    "SegmentationViewer",
    "TOLERANCE",
    "colab_live_segmentation",
    "export_model",
    "headless",
    "in_colab",
    "load_image",
    "missing_packages",
    "open_camera",
    "require",
    "sample_images",
    "segment_and_plot",
    "show_url",
    "webcam_images",
]
