"""Reusable code of the segmentation transfer-learning workshop; the notebooks tell the story."""

from .quiet import import_keras_quietly

# Before any module imports Keras: TensorFlow's C++ start-up lines would otherwise reach every notebook cell.
import_keras_quietly()

from .datasets import (CAMVID, DATASETS, VOC, DataNotFoundError, DatasetSpec, get_spec, load_split,
                       prepare_camvid, prepare_voc, voc_subset_ids)
from .inference import predict, predict_labels, sliding_window_predict
from .metrics import MaskedPixelAccuracy, evaluate, masked_loss, mean_iou_metric, per_class_iou_metrics
from .model import build_model, freeze_encoder, reestimate_batchnorm
from .pipeline import SegmentationGenerator, preprocess
from .settings import Settings, load_settings
from .training import compile_model, get_trained_model, load_checkpoint, load_trained, train

__all__ = [
    "CAMVID", "DATASETS", "VOC", "DataNotFoundError", "DatasetSpec", "MaskedPixelAccuracy", "SegmentationGenerator",
    "build_model", "compile_model", "freeze_encoder", "load_trained", "evaluate", "get_spec", "load_checkpoint", "get_trained_model", "load_split",
    "masked_loss", "mean_iou_metric", "per_class_iou_metrics", "predict", "predict_labels", "preprocess", "prepare_camvid", "prepare_voc",
    "reestimate_batchnorm", "sliding_window_predict", "train", "voc_subset_ids", "Settings",
    "load_settings",
]
