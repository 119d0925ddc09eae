"""The masked loss (plain and class-weighted), class shares and the void-aware metrics."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops
from tqdm.auto import tqdm

from .inference import predict_labels


@keras.saving.register_keras_serializable(package="workshop_helpers")
def masked_loss(y_true, y_pred):
    """Sparse categorical cross-entropy averaged over the non-void pixels (labels >= 0)."""
    labels = ops.cast(y_true, "int32")
    if len(labels.shape) == 4:
        labels = ops.squeeze(labels, axis=-1)  # [batch, height, width, 1] -> [batch, height, width]
    valid = ops.cast(labels >= 0, y_pred.dtype)  # 1 for a labelled pixel, 0 for void (-1)
    # Void pixels get class 0 so the cross-entropy is defined; `valid` then zeroes their loss.
    per_pixel = ops.sparse_categorical_crossentropy(ops.maximum(labels, 0), y_pred)
    # Divide by the number of valid pixels, not all pixels: the original notebook's all-pixel
    # mean made the loss shrink with a batch's share of void pixels.
    return ops.sum(per_pixel * valid) / ops.maximum(ops.sum(valid), 1.0)


@keras.saving.register_keras_serializable(package="workshop_helpers")
class MaskedPixelAccuracy(keras.metrics.Metric):
    """Share of non-void pixels whose argmax class is right."""

    def __init__(self, name="pixel_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        predicted = ops.reshape(ops.argmax(y_pred, axis=-1), (-1,))
        valid = ops.cast(labels >= 0, "float32")
        hits = ops.cast(ops.equal(labels, ops.cast(predicted, "int32")), "float32") * valid
        self.correct.assign_add(ops.sum(hits))
        self.total.assign_add(ops.sum(valid))

    def result(self):
        return self.correct / ops.maximum(self.total, 1.0)

    def reset_state(self):
        self.correct.assign(0.0)
        self.total.assign(0.0)


def mean_iou_metric(num_classes: int, sparse_y_pred: bool = False) -> keras.metrics.MeanIoU:
    """Keras' MeanIoU over probabilities (or labels when sparse_y_pred), ignoring void (-1)."""
    return keras.metrics.MeanIoU(
        num_classes=num_classes, ignore_class=-1, sparse_y_pred=sparse_y_pred, name="mean_iou"
    )


def scores_from_confusion(confusion: np.ndarray) -> dict:
    """mIoU, per-class IoU (None when absent from the truth), pixel accuracy, confusion matrix.

    Rows are true classes, columns predicted ones. A class with no pixel in the truth (VOC's
    aeroplane in the partial subset) has no IoU to speak of: it is left out of the mean, and
    `skipped` names it.
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    hits = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - hits
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(confusion.sum(1) > 0, hits / union, np.nan)
    return {
        "mIoU": float(np.nanmean(iou)) if np.isfinite(iou).any() else 0.0,
        "per_class_iou": [None if np.isnan(v) else float(v) for v in iou],
        "pixel_accuracy": float(hits.sum() / max(confusion.sum(), 1.0)),
        "confusion": confusion,
        "skipped": [int(i) for i in np.flatnonzero(confusion.sum(1) == 0)],
    }


def scores_from_labels(labels: np.ndarray, masks: np.ndarray, num_classes: int) -> dict:
    """mIoU, per-class IoU and pixel accuracy of predicted labels against -1-void masks."""
    metric = mean_iou_metric(num_classes, sparse_y_pred=True)
    metric.update_state(masks, labels)
    return scores_from_confusion(ops.convert_to_numpy(metric.total_cm))


def evaluate(
    model: keras.Model,
    images: np.ndarray,
    masks: np.ndarray,
    num_classes: int,
    batch_size: int = 8,
    tta: bool = True,
    progress: bool = False,
) -> dict:
    """mIoU, per-class IoU and pixel accuracy of a model over uint8 images and -1-void masks."""
    labels = np.concatenate(
        [
            predict_labels(
                model, images[start : start + batch_size], tta=tta, batch_size=batch_size
            )
            for start in tqdm(
                range(0, len(images), batch_size), desc="evaluating", disable=not progress
            )
        ]
    )
    return scores_from_labels(labels, masks, num_classes)


def per_image_weighted_iou(labels: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Per image, the IoU of each class in the truth, weighted by its share of valid pixels."""
    scores = []
    for predicted, truth in zip(labels, masks):
        valid = truth >= 0
        classes, counts = np.unique(truth[valid], return_counts=True)
        ious = [
            np.sum((predicted == c) & (truth == c))
            / np.sum(((predicted == c) & valid) | (truth == c))
            for c in classes
        ]
        scores.append(float(np.dot(ious, counts) / counts.sum()) if len(classes) else np.nan)
    return np.array(scores)


def class_pixel_shares(masks: np.ndarray, num_classes: int) -> np.ndarray:
    """Share of the non-void pixels of `masks` that belong to each class."""
    labels = np.asarray(masks)
    counts = np.bincount(labels[labels >= 0].ravel(), minlength=num_classes)[:num_classes]
    return counts / max(counts.sum(), 1)


def median_frequency_weights(shares, power: float = 1.0) -> np.ndarray:
    """Class weights (median share / share) ** power (SegNet's balancing at 1); 0 when absent."""
    shares = np.asarray(shares, dtype=np.float64)
    present = shares > 0
    weights = np.zeros_like(shares)
    weights[present] = (np.median(shares[present]) / shares[present]) ** power
    return weights


@keras.saving.register_keras_serializable(package="workshop_helpers")
class WeightedMaskedLoss(keras.losses.Loss):
    """The masked loss with each pixel's cross-entropy weighted by the weight of its true class."""

    def __init__(self, class_weights, name="weighted_masked_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.class_weights = [float(weight) for weight in class_weights]

    def call(self, y_true, y_pred):
        labels = ops.cast(y_true, "int32")
        if len(labels.shape) == 4:
            labels = ops.squeeze(labels, axis=-1)
        known = ops.maximum(labels, 0)  # void gets class 0 here and weight 0 below
        weights = ops.take(ops.convert_to_tensor(self.class_weights, y_pred.dtype), known)
        weights = weights * ops.cast(labels >= 0, y_pred.dtype)
        per_pixel = ops.sparse_categorical_crossentropy(known, y_pred)
        # A weighted mean, as PyTorch's CrossEntropyLoss(weight=...): equal weights give
        # masked_loss, and a batch's loss does not grow with its share of rare pixels.
        return ops.sum(per_pixel * weights) / ops.maximum(ops.sum(weights), 1e-7)

    def get_config(self):
        return {**super().get_config(), "class_weights": self.class_weights}
