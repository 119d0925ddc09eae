"""Checkable exercises of notebooks 2-5: each check_... says right or wrong, with a hint.

Hints never give the answer. Answers that depend on the run (dataset, settings, trained models)
come from the objects passed in, never from constants.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np

from ..datasets import VOID
from ..metrics import masked_loss
from ..model import encoder_layers

FILL_IN = "Fill in `answer` above (replace None with your answer), then run this cell again."
# Notebook 3's light decoder: one transposed convolution per block, half the original's filters.
LIGHT_DECODER_FILTERS = (64, 32, 16, 16)
LIGHT_DECODER_TO_DO = (
    "Your turn: `light_decoder_block` still upsamples with UpSampling2D. Replace that line with "
    "the transposed convolution described above, then run this cell again."
)


@dataclass(frozen=True)
class Verdict:
    """The outcome of a check: correct is True, False, or None when there is no answer yet."""

    correct: bool | None
    message: str

    def __bool__(self) -> bool:
        return bool(self.correct)

    def __repr__(self) -> str:
        return self.message


def _right(text: str = "") -> Verdict:
    return Verdict(True, f"Right! {text}".strip())


def _wrong(hint: str) -> Verdict:
    return Verdict(False, f"Not yet. Hint: {hint}")


def _unanswered(answer) -> bool:
    return answer is None or answer is Ellipsis or (isinstance(answer, str) and not answer.strip())


def _as_number(answer) -> float | None:
    """A number from an int, float or text such as '1,585,280' or '12 %'; None if it is not one."""
    if isinstance(answer, bool):
        return None
    if isinstance(answer, (int, float, np.integer, np.floating)):
        return float(answer)
    if isinstance(answer, str):
        text = answer.strip().replace(",", "").replace("_", "").replace(" ", "")
        try:
            return float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            return None
    return None


def _check_number(answer, expected: float, hint: str, tolerance: float = 0.0) -> Verdict:
    """Compare a numeric answer; a wrong one gets the hint and whether it is too high or too low."""
    if _unanswered(answer):
        return Verdict(None, FILL_IN)
    value = _as_number(answer)
    if value is None:
        return _wrong(f"answer with a number, not {answer!r}. {hint}")
    if math.isclose(value, expected, rel_tol=0, abs_tol=tolerance + 1e-9):
        return _right()
    return _wrong(f"{hint} (your answer is too {'high' if value > expected else 'low'}.)")


# Notebook 2: the input pipeline.


def check_batches_per_epoch(answer, batches) -> Verdict:
    """How many batches the training generator gives per epoch."""
    return _check_number(
        answer,
        len(batches),
        "each batch holds `batch_size` crops and the last one may be "
        "smaller, so count the training images and divide, rounding up.",
    )


def check_void_label(answer) -> Verdict:
    """Which label value marks void pixels in the masks the generator returns."""
    return _check_number(
        answer,
        VOID,
        "void must be a value no class uses, and the loss only counts labels "
        ">= 0; look at the smallest value of `y` in the generator cell.",
    )


# Notebook 3: the architecture and the masked loss.


def _decoder_convolutions(model: keras.Model) -> list[keras.layers.Conv2D]:
    encoder = {id(layer) for layer in encoder_layers(model)}
    return [
        layer
        for layer in model.layers
        if id(layer) not in encoder and isinstance(layer, keras.layers.Conv2D)
    ]


def check_first_decoder_conv_parameters(answer, model: keras.Model) -> Verdict:
    """Parameters of the decoder's first 3x3 convolution, worked out by hand."""
    first = _decoder_convolutions(model)[0]
    expected = first.count_params()
    if _as_number(answer) == expected - first.filters:
        return _wrong("almost: every filter also has a bias.")
    return _check_number(
        answer,
        expected,
        "a 3x3 convolution from C input channels to F filters has "
        "3*3*C*F weights plus F biases; C counts the upsampled encoder "
        "output and the deepest skip connection together.",
    )


def check_light_decoder(light: keras.Model, model: keras.Model) -> Verdict:
    """The lighter decoder: a 3x3 stride-2 ReLU transposed convolution in each block.

    Right, it says how many parameters the light model and its decoder have, and what fraction
    of the original decoder's (`model`'s) that is.
    """
    encoder = encoder_layers(light)
    decoder = [layer for layer in light.layers if id(layer) not in {id(e) for e in encoder}]
    transposed = [layer for layer in decoder if isinstance(layer, keras.layers.Conv2DTranspose)]
    if not transposed:
        return Verdict(None, LIGHT_DECODER_TO_DO)
    found = [
        (layer.filters, tuple(layer.kernel_size), tuple(layer.strides)) for layer in transposed
    ]
    if found != [(filters, (3, 3), (2, 2)) for filters in LIGHT_DECODER_FILTERS]:
        return _wrong(
            "each of the four blocks needs one Conv2DTranspose with that block's `filters`, a "
            "kernel of 3 and strides=2, which doubles the resolution as UpSampling2D did."
        )
    if any(getattr(layer.activation, "__name__", "") != "relu" for layer in transposed):
        return _wrong('give the transposed convolution activation="relu", as the decoder has.')
    encoder_parameters = sum(layer.count_params() for layer in encoder)
    light_decoder = light.count_params() - encoder_parameters
    original = model.count_params() - encoder_parameters
    return _right(
        f"The light model has {light.count_params():,} parameters, {light_decoder:,} of them in "
        f"its decoder: {light_decoder / original:.0%} of the original decoder's {original:,}."
    )


def check_masked_loss(answer, labels, probabilities) -> Verdict:
    """The masked loss of a small example, worked out by hand (3 decimals are enough)."""
    expected = float(
        keras.ops.convert_to_numpy(
            masked_loss(np.asarray(labels), np.asarray(probabilities, "float32"))
        )
    )
    valid = np.asarray(labels).ravel() >= 0
    # The common slip: averaging over every pixel, void ones included.
    if (
        valid.any()
        and _as_number(answer) is not None
        and math.isclose(_as_number(answer), expected * valid.sum() / valid.size, abs_tol=1e-3)
    ):
        return _wrong("void pixels are left out of the average too, not only out of the sum.")
    return _check_number(
        answer,
        expected,
        "average -log(probability of the true class) over the labelled "
        "pixels only; void (-1) pixels count neither in the sum nor in the "
        "number of pixels.",
        tolerance=1e-3,
    )


# Notebook 4: training from scratch.


def check_trainable_with_frozen_encoder(answer, model: keras.Model) -> Verdict:
    """How many parameters still train when the encoder of `model` is frozen."""
    encoder = {id(layer) for layer in encoder_layers(model)}
    # The decoder's weights, whether or not the model is frozen right now.
    expected = sum(
        int(np.prod(weight.shape))
        for layer in model.layers
        if id(layer) not in encoder
        for weight in layer.weights
    )
    if _as_number(answer) == model.count_params():
        return _wrong(
            "that is every parameter; with a frozen encoder, only the layers after it train."
        )
    return _check_number(
        answer,
        expected,
        "only the decoder trains: take the model's parameters and "
        "subtract the encoder's (notebook 3 printed both).",
    )


# Notebook 5: the comparison, answered from the run's own numbers.


def check_miou_gain(answer, scratch_scores: dict, pretrained_scores: dict) -> Verdict:
    """The pretrained model's validation mIoU minus the scratch model's."""
    expected = pretrained_scores["mIoU"] - scratch_scores["mIoU"]
    value = _as_number(answer)
    if (
        value is not None
        and abs(value) > 1 >= abs(expected)
        and math.isclose(value / 100, expected, abs_tol=0.005)
    ):
        return _wrong(
            "you answered in percentage points; give the difference of the two mIoU values "
            "(between -1 and 1)."
        )
    return _check_number(
        answer,
        expected,
        "subtract the scratch model's mIoU from the ImageNet encoder's, "
        "both from the table of this run.",
        tolerance=0.005,
    )


def check_most_improved_class(
    answer, scratch_scores: dict, pretrained_scores: dict, class_names
) -> Verdict:
    """Which class gains the most IoU from the pretrained encoder (a class name or its index)."""
    if _unanswered(answer):
        return Verdict(None, FILL_IN)
    names = [str(name).lower() for name in class_names]
    gains = {
        index: pretrained - scratch
        for index, (scratch, pretrained) in enumerate(
            zip(scratch_scores["per_class_iou"], pretrained_scores["per_class_iou"])
        )
        if scratch is not None and pretrained is not None
    }
    if isinstance(answer, (int, np.integer)) and not isinstance(answer, bool):
        chosen = int(answer)
    elif isinstance(answer, str) and answer.strip().lower() in names:
        chosen = names.index(answer.strip().lower())
    else:
        return _wrong(f"answer with one of the class names: {', '.join(map(str, class_names))}.")
    best = max(gains.values())
    if chosen in gains and math.isclose(gains[chosen], best, abs_tol=1e-9):
        return _right(
            f"{class_names[chosen]} gains the most from what the encoder learned on ImageNet."
        )
    strongest = max(
        (index for index in gains), key=lambda index: pretrained_scores["per_class_iou"][index]
    )
    if chosen == strongest:
        return _wrong(
            "that is the class the pretrained model segments best, not the one that gained most; "
            "subtract the scratch IoU from the pretrained IoU in each row."
        )
    return _wrong(
        "for each class row, subtract the scratch model's IoU from the ImageNet encoder's and take "
        "the largest difference."
    )
