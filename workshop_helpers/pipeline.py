"""The input pipeline: MobileNetV2 preprocessing and the batch generator."""

from __future__ import annotations

import math

import keras
import numpy as np

CROP_SIZE = 224


def preprocess(images: np.ndarray) -> np.ndarray:
    """Scale uint8 RGB to float32 in [-1, 1], as MobileNetV2 was trained."""
    out = np.asarray(images, dtype=np.float32)
    out *= 1 / 127.5
    out -= 1.0
    return out


def crop_batch(images, masks, indices, tops, lefts, flips, size: int, flipped=None):
    """Preprocessed size x size crops of images[indices] and their int32 masks (void stays -1).

    Flipped crops come from `flipped`, a left-right flipped copy of (images, masks): copying
    rows of a flipped array is ~10x faster than copying a window read backwards.
    """
    x = np.empty((len(indices), size, size, 3), dtype=np.uint8)
    y = np.empty((len(indices), size, size, 1), dtype=np.int32)
    for k, (i, top, left, flip) in enumerate(zip(indices, tops, lefts, flips)):
        source_images, source_masks = flipped if flip else (images, masks)
        window = np.s_[top : top + size, left : left + size]
        x[k] = source_images[i][window]
        y[k, ..., 0] = source_masks[i][window]  # the same window: labels stay aligned
    return preprocess(x), y


class SegmentationGenerator(keras.utils.PyDataset):
    """Batches of (preprocessed crops, int32 masks with -1 void) from in-memory uint8 arrays."""

    def __init__(
        self,
        images: np.ndarray,
        masks: np.ndarray,
        batch_size: int,
        augment: bool,
        seed: int = 0,
        crop_size: int = CROP_SIZE,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if len(images) != len(masks) or len(images) == 0:
            raise ValueError(
                f"Need as many masks as images (got {len(images)} and {len(masks)}), at least one."
            )
        height, width = images.shape[1:3]
        if masks.shape[1:3] != (height, width) or min(height, width) < crop_size:
            raise ValueError(
                f"Images {images.shape} and masks {masks.shape} must match and be >= {crop_size}."
            )
        self.images, self.masks = images, masks
        if augment:
            # A mirrored copy makes flipped crops plain row copies: copying with a negative stride
            # is ~10x slower.
            self.mirrored_images = np.ascontiguousarray(images[:, :, ::-1])
            self.mirrored_masks = np.ascontiguousarray(masks[:, :, ::-1])
        self.batch_size, self.augment, self.seed, self.crop_size = (
            batch_size,
            augment,
            seed,
            crop_size,
        )
        self.epoch = 0
        self._order = self._shuffled_order()

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    def _shuffled_order(self) -> np.ndarray:
        if not self.augment:
            return np.arange(len(self.images))
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.images))

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._order = self._shuffled_order()

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        batch = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        n, size = len(batch), self.crop_size
        spare_y, spare_x = self.images.shape[1] - size, self.images.shape[2] - size
        if self.augment:
            # One generator per (seed, epoch, batch): any batch order, and workers, give the same
            # batches.
            rng = np.random.default_rng([self.seed, self.epoch, index])
            top, left = rng.integers(0, spare_y + 1, n), rng.integers(0, spare_x + 1, n)
            flip = rng.random(n) < 0.5
        else:
            top, left = np.full(n, spare_y // 2), np.full(n, spare_x // 2)
            flip = np.zeros(n, dtype=bool)
        mirrored = (self.mirrored_images, self.mirrored_masks) if self.augment else None
        return crop_batch(self.images, self.masks, batch, top, left, flip, size, mirrored)
