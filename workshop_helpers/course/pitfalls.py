"""The mistakes of notebook 9, reproduced: what each wrong way does to masks and scores."""

from __future__ import annotations

import numpy as np
from keras import ops

from ..datasets import VOID_ON_DISK, labels_to_disk
from ..plotting import VOID_COLOUR

NOT_A_CLASS_COLOUR = (255, 255, 255)


def as_stored(masks: np.ndarray) -> np.ndarray:
    """-1-void masks as their PNG files hold them: uint8, void 255."""
    return labels_to_disk(masks)


def resize_masks(masks: np.ndarray, size: int, interpolation: str) -> np.ndarray:
    """-1-void masks resized as their PNG values (void 255) would be; bilinear gives floats."""
    stored = as_stored(masks).astype("float32")[..., None]
    resized = ops.image.resize(stored, (size, size), interpolation=interpolation, antialias=False)
    return ops.convert_to_numpy(resized)[..., 0]


def truncate_to_labels(resized: np.ndarray) -> np.ndarray:
    """Resized mask values cast to uint8 labels the way tf.cast and astype do: truncating."""
    # Forgive float error (2.9999998 from interpolating 3s on JAX), not interpolation.
    return np.clip(np.floor(np.asarray(resized) + 1e-4), 0, 255).astype(np.uint8)


def foreign_labels(masks: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per pixel, whether its uint8 label (void 255) is none of the labels of its image's mask."""
    original = as_stored(masks)
    present = np.zeros((len(original), 256), dtype=bool)
    for index, mask in enumerate(original):
        present[index, np.unique(mask)] = True
    return ~present[np.arange(len(labels))[:, None, None], labels]


def mask_resizing_damage(masks: np.ndarray, size: int, num_classes: int) -> dict:
    """Per interpolation, the shares of pixels fractional, changed, foreign and of no class.

    fractional: not a whole number before the cast; changed: a label other than nearest
    neighbour's after it; not_in_image: a label that is none of the image's own (void counts as
    one); not_a_class: neither a class nor void (127 between background 0 and void 255).
    """
    labels = {method: resize_masks(masks, size, method) for method in ("nearest", "bilinear")}
    reference = truncate_to_labels(labels["nearest"])
    damage = {}
    for method, resized in labels.items():
        cast = truncate_to_labels(resized)
        damage[method] = {
            "fractional": float(np.mean(np.abs(resized - np.round(resized)) > 1e-4)),
            "changed": float(np.mean(cast != reference)),
            "not_in_image": float(np.mean(foreign_labels(masks, cast))),
            "not_a_class": float(np.mean((cast >= num_classes) & (cast != VOID_ON_DISK))),
        }
    return damage


def colour_labels(labels: np.ndarray, palette) -> np.ndarray:
    """RGB of uint8 labels (void 255): class colours, void black, values of no class white."""
    table = np.tile(np.array(NOT_A_CLASS_COLOUR, dtype=np.uint8), (256, 1))
    table[: len(palette)] = np.asarray(palette, dtype=np.uint8)
    table[VOID_ON_DISK] = VOID_COLOUR
    return table[labels]


def void_as_background(masks: np.ndarray, background_index: int = 0) -> np.ndarray:
    """The masks with void (-1) folded into background, as one-hot encoding or a 255→0 map does."""
    return np.where(np.asarray(masks) < 0, background_index, masks).astype(np.asarray(masks).dtype)


def stuck_mean_iou(void_share: float, num_classes: int) -> float:
    """What keras.metrics.MeanIoU reports for one-hot masks and softmax fed as labels.

    The cast turns every probability below 1 into 0, and the one-hot values are 0 or 1: the
    matrix is 2x2 whatever the model does, so the result depends only on the void share.
    """
    return (1 - (1 - void_share) / num_classes) / 2
