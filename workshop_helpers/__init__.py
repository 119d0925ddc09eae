"""Reusable code of the segmentation transfer-learning workshop; the notebooks tell the story."""

from .quiet import import_keras_quietly

# Before any module imports Keras: TensorFlow's C++ start-up lines would otherwise reach every
# notebook cell.
import_keras_quietly()

from .datasets import (CAMVID, DATASETS, VOC, DataNotFoundError, DatasetSpec, get_spec, load_split,
                       prepare_camvid, prepare_voc, voc_subset_ids)
from .inference import predict, predict_labels, sliding_window_predict
from .metrics import MaskedPixelAccuracy, evaluate, masked_loss, mean_iou_metric
from .model import build_model, freeze_encoder, reestimate_batchnorm
from .pipeline import SegmentationGenerator, preprocess
from .settings import Settings, load_settings
from .training import compile_model, get_trained_model, load_checkpoint, load_trained, train

__all__ = [
    "CAMVID", "DATASETS", "VOC", "DataNotFoundError", "DatasetSpec", "MaskedPixelAccuracy",
    "SegmentationGenerator", "Settings", "build_model", "compile_model", "evaluate",
    "freeze_encoder", "get_spec", "get_trained_model", "load_checkpoint", "load_settings",
    "load_split", "load_trained", "masked_loss", "mean_iou_metric",
    "predict", "predict_labels", "prepare_camvid", "prepare_voc", "preprocess",
    "reestimate_batchnorm", "sliding_window_predict", "train", "voc_subset_ids",
]
