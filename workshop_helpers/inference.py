"""Fast fully-convolutional prediction, and the original notebook's sliding windows as reference."""

from __future__ import annotations

import cv2
import keras
import numpy as np

from .model import at_input_size
from .pipeline import CROP_SIZE, preprocess

PREDICT_SIZE = 256
# Compiled functions live on the model they belong to, so they go when it goes.
_CACHE_ATTRIBUTE = "_workshop_compiled_forward"


class _InferenceForward:
    """`model(x, training=False)`, counting how often it is traced (compiled).

    An object per model rather than one shared lambda: TensorFlow keeps its retracing statistics
    per Python function, and would otherwise add up the single trace of every model a notebook
    builds into a retracing warning.
    """

    def __init__(self, model: keras.Model):
        self.model = model
        self.traces = 0

    def __call__(self, x):
        self.traces += 1  # compiled functions run this Python code only while tracing
        return self.model(x, training=False)


def _compile(model: keras.Model, size: int) -> tuple[_InferenceForward, object]:
    """The forward pass of `model` at size x size and its compiled function, for any batch size."""
    forward_pass = _InferenceForward(model)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        # One signature with an open batch dimension: the last, smaller batch and flip TTA's
        # doubled one reuse the same trace.
        signature = [tf.TensorSpec((None, size, size, model.input_shape[-1]), tf.float32)]
        return forward_pass, tf.function(forward_pass, input_signature=signature)
    if backend == "jax":
        import jax

        def stateless(trainable, frozen, x):
            forward_pass.traces += 1
            return model.stateless_call(trainable, frozen, x, training=False)[0]

        jitted = jax.jit(stateless)
        # Variables are read at each call, so later training is seen without recompiling.
        return forward_pass, lambda x: jitted(
            [v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables],
            x,
        )
    return forward_pass, forward_pass


def _compiled(model: keras.Model) -> dict:
    """{input size: (forward pass, compiled function)} of a model, created on first use."""
    functions = getattr(model, _CACHE_ATTRIBUTE, None)
    if functions is None:
        functions = {}
        # object.__setattr__ keeps Keras from tracking (and trying to save) the cache.
        object.__setattr__(model, _CACHE_ATTRIBUTE, functions)
    return functions


def forward(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """Softmax probabilities of a preprocessed batch through a cached compiled function."""
    size = x.shape[1]
    functions = _compiled(model)
    if size not in functions:
        functions[size] = _compile(at_input_size(model, size), size)
    return keras.ops.convert_to_numpy(functions[size][1](np.asarray(x, np.float32)))


def trace_count(model: keras.Model) -> dict:
    """{input size: how many times its prediction function was traced}; 1 each is the goal."""
    return {size: forward_pass.traces for size, (forward_pass, _) in _compiled(model).items()}


def as_uint8_batch(images) -> tuple[np.ndarray, bool]:
    """Images (one HxWx3 or a batch; uint8 or float in [0, 1]) as uint8 batch, and if one."""
    array = np.asarray(images)
    single = array.ndim == 3
    if single:
        array = array[None]
    if array.ndim != 4 or array.shape[-1] != 3:
        raise ValueError(f"Expected RGB images [H,W,3] or [N,H,W,3], got shape {array.shape}.")
    if array.dtype != np.uint8:
        if array.size and (array.min() < 0 or array.max() > 1):
            raise ValueError("Float images must lie in [0, 1]; pass uint8 for 0..255 values.")
        array = np.round(array * 255).astype(np.uint8)
    return array, single


def _resize_batch(
    batch: np.ndarray, height: int, width: int, interpolation=cv2.INTER_LINEAR
) -> np.ndarray:
    if batch.shape[1:3] == (height, width):
        return batch
    return np.stack(
        [cv2.resize(item, (width, height), interpolation=interpolation) for item in batch]
    )


def _flip_tta(model: keras.Model, x: np.ndarray, tta: bool) -> np.ndarray:
    if not tta:
        return forward(model, x)
    both = forward(model, np.concatenate([x, x[:, :, ::-1]]))
    return (both[: len(x)] + both[len(x) :, :, ::-1]) / 2


def _predict_batches(model: keras.Model, images, size: int, tta: bool, batch_size: int, finish):
    """Run `finish(probabilities at size x size, height, width)` over batches of images."""
    if size % 32:
        raise ValueError(f"size must be divisible by 32, not {size}.")
    batch, single = as_uint8_batch(images)
    height, width = batch.shape[1:3]
    outputs = [
        finish(
            _flip_tta(
                model, preprocess(_resize_batch(batch[start : start + batch_size], size, size)), tta
            ),
            height,
            width,
        )
        for start in range(0, len(batch), batch_size)
    ]
    result = np.concatenate(outputs)
    return result[0] if single else result


def predict(
    model: keras.Model, images, size: int = PREDICT_SIZE, tta: bool = True, batch_size: int = 8
) -> np.ndarray:
    """Class probabilities at the input's resolution from one convolutional call (flip TTA)."""
    # Probabilities are smooth, so bilinear resizing back is right here (unlike for label masks).
    return _predict_batches(
        model,
        images,
        size,
        tta,
        batch_size,
        lambda probabilities, height, width: _resize_batch(probabilities, height, width),
    )


def predict_labels(
    model: keras.Model, images, size: int = PREDICT_SIZE, tta: bool = True, batch_size: int = 8
) -> np.ndarray:
    """Most likely class per pixel at the input's resolution; cheaper than predict() when large."""

    def finish(probabilities, height, width):
        labels = probabilities.argmax(-1).astype(np.uint8)
        # Labels are resized with nearest neighbour: interpolating class indices would invent
        # classes.
        return _resize_batch(labels[..., None], height, width, cv2.INTER_NEAREST).reshape(
            len(labels), height, width
        )

    return _predict_batches(model, images, size, tta, batch_size, finish)


def window_offsets(size: int = PREDICT_SIZE, window: int = CROP_SIZE, step: int = 3) -> list[int]:
    """Top-left offsets of the original notebook's sliding windows along one axis."""
    last = size - window
    if last < 0:
        raise ValueError(f"window {window} is larger than the image size {size}.")
    # The original clipped the last offset to the edge (np.minimum), so every pixel is covered.
    return sorted({min(offset, last) for offset in range(0, last + step, step)})


def sliding_window_predict(
    model: keras.Model,
    images,
    window: int = CROP_SIZE,
    step: int = 3,
    size: int = PREDICT_SIZE,
    tta: bool = True,
    batch_size: int = 32,
) -> np.ndarray:
    """The original notebook's method: flip-TTA predictions of 224 windows over 256, averaged."""
    batch, single = as_uint8_batch(images)
    height, width = batch.shape[1:3]
    offsets = [
        (top, left)
        for top in window_offsets(size, window, step)
        for left in window_offsets(size, window, step)
    ]
    results = []
    for image in _resize_batch(batch, size, size):
        x = preprocess(image)
        total, count = None, np.zeros((size, size, 1), np.float32)
        for start in range(0, len(offsets), batch_size):
            chunk = offsets[start : start + batch_size]
            crops = np.stack([x[t : t + window, l : l + window] for t, l in chunk])
            probabilities = _flip_tta(model, crops, tta)
            if total is None:
                total = np.zeros((size, size, probabilities.shape[-1]), np.float32)
            for (t, l), p in zip(chunk, probabilities):
                total[t : t + window, l : l + window] += p
                count[t : t + window, l : l + window] += 1
        results.append(total / count)
    result = _resize_batch(np.stack(results), height, width)
    return result[0] if single else result
