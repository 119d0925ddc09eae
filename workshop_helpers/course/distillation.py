"""Transfer learning through distillation (notebook 10): the pretrained network of notebook 5
teaches a network a fraction of its cost, with or without the labels."""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np
from keras import layers, ops

from ..comparison import scores_table
from ..metrics import masked_loss
from ..model import build_encoder, freeze_encoder
from ..pipeline import SegmentationGenerator
from ..training import keep_batchnorm_statistics, learning_rate_for

TEMPERATURE = 2.0
# A decoder a hundred times smaller than the teacher's takes larger steps: in the fast preset a
# labels-only student reached 0.18 mIoU at 1e-3, 0.30 at 3e-3 and 0.33 at 1e-2.
STUDENT_LEARNING_RATE = 1e-2
# The encoder's outputs the student keeps: 1/16, 1/8 and 1/4 of what it sees (the last layer of
# each block); the four blocks at 1/32 and their 1,280 channels go.
STUDENT_OUTPUTS = ("block_12_add", "block_5_add", "block_2_add")
STUDENT_FILTERS = (96, 64)


def build_student(num_classes: int, pretrained: bool = True, input_size: int = 224) -> keras.Model:
    """Half the resolution, MobileNetV2 up to 1/16, a thin decoder; its scores upsampled 8x."""
    inputs = keras.Input((input_size, input_size, 3))
    half = layers.AveragePooling2D(2, name="half_resolution")(inputs)  # 4x fewer pixels
    mobilenet = keras.applications.MobileNetV2(input_tensor=half, include_top=False, weights=None)
    if pretrained:  # the same convolutions at any size: ImageNet's 224² weights fit
        mobilenet.set_weights(build_encoder(224, pretrained=True).get_weights())
    x, *skips = [mobilenet.get_layer(name).output for name in STUDENT_OUTPUTS]
    x = layers.Conv2D(128, 1, activation="relu")(x)  # 1/32 of the photo, 96 channels
    for skip, filters in zip(skips, STUDENT_FILTERS):
        x = layers.UpSampling2D()(x)
        x = layers.Concatenate()([x, skip])
        x = layers.SeparableConv2D(filters, 3, padding="same", activation="relu")(x)
    x = layers.Conv2D(num_classes, 1)(x)  # class scores at 1/8 of the photo
    x = layers.UpSampling2D(8, interpolation="bilinear", name="prediction")(x)
    outputs = layers.Softmax(name="probabilities")(x)
    return keras.Model(inputs, outputs, name="student")


def distillation_loss(labels, teacher_logits, student_logits, temperature=TEMPERATURE, alpha=0.5):
    """alpha x the masked loss on the labels + (1 - alpha) x T² x KL(teacher || student) at
    temperature T, per pixel; void pixels (label -1) count in neither term."""
    labels = ops.cast(labels, "int32")
    valid = ops.cast(labels >= 0, "float32")
    label_term = masked_loss(labels, ops.softmax(student_logits, axis=-1))
    teacher = ops.softmax(teacher_logits / temperature, axis=-1)  # softened, per pixel
    log_teacher = ops.log_softmax(teacher_logits / temperature, axis=-1)
    log_student = ops.log_softmax(student_logits / temperature, axis=-1)
    per_pixel = ops.sum(teacher * (log_teacher - log_student), axis=-1)
    # T² keeps the teacher term's gradients the same size whatever the temperature (Hinton et al.).
    teacher_term = temperature**2 * ops.sum(per_pixel * valid) / ops.maximum(ops.sum(valid), 1.0)
    return alpha * label_term + (1 - alpha) * teacher_term


@keras.saving.register_keras_serializable(package="workshop_helpers")
class DistillationLoss(keras.losses.Loss):
    """distillation_loss for fit(): y_true holds the labels, then the teacher's scores."""

    def __init__(self, alpha=0.5, temperature=TEMPERATURE, name="distillation_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.alpha, self.temperature = alpha, temperature

    def call(self, y_true, y_pred):
        return distillation_loss(
            y_true[..., 0], y_true[..., 1:], y_pred, self.temperature, self.alpha
        )

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "temperature": self.temperature}


def logits_of(model: keras.Model) -> keras.Model:
    """The same network (shared weights) answering with its class scores before the softmax."""
    return keras.Model(
        model.input, model.get_layer("prediction").output, name=f"{model.name}_logits"
    )


class TeacherTargets(keras.utils.PyDataset):
    """A training generator's batches whose targets also carry the teacher's class scores.

    labels=False gives every pixel class 0 (never void), so each pixel is the teacher's to label,
    as on photos nobody annotated. teacher=None (the labels-only student) asks no teacher.
    """

    def __init__(self, batches, teacher: keras.Model | None, num_classes: int, labels=True):
        super().__init__()
        self.batches, self.num_classes, self.labels = batches, num_classes, labels
        self.teacher = None if teacher is None else logits_of(teacher)

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int):
        x, y = self.batches[index]
        y = np.asarray(y, np.float32).reshape(x.shape[:3])
        if not self.labels:
            y = np.zeros_like(y)
        if self.teacher is None:
            scores = np.zeros((*x.shape[:3], self.num_classes), np.float32)
        else:
            scores = np.asarray(self.teacher.predict_on_batch(x), np.float32)
        return x, np.concatenate([y[..., None], scores], axis=-1)

    def on_epoch_end(self) -> None:
        self.batches.on_epoch_end()


def train_student(settings, num_classes: int, teacher, images, masks, alpha, labels=True):
    """A student trained on the training photos' crops: alpha weighs the labels, 1 - alpha the
    teacher; labels=False trains it on the teacher's answers alone."""
    keras.utils.set_random_seed(settings.seed)
    batches = SegmentationGenerator(
        images,
        masks,
        settings.batch_size,
        augment=True,
        seed=settings.seed,
        crop_size=settings.crop_size,
    )
    targets = TeacherTargets(batches, teacher if alpha < 1 else None, num_classes, labels)
    student = build_student(num_classes, pretrained=True, input_size=settings.crop_size)
    if settings.freeze_pretrained_encoder:
        freeze_encoder(student)  # ImageNet's features, as the teacher's decoder had them
    else:
        keep_batchnorm_statistics(student)  # the Keras guide's fine-tuning
    scores = logits_of(student)  # the same weights, answering before the softmax
    learning_rate = learning_rate_for(
        replace(settings, learning_rate=STUDENT_LEARNING_RATE), len(targets)
    )
    scores.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=DistillationLoss(alpha))
    scores.fit(targets, epochs=settings.epochs)
    return student


def layer_flops(layer) -> float:
    """Floating-point operations of one convolution layer's forward pass at its built size
    (2 x its multiply-adds); 0 for any other layer."""
    if not isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D, layers.SeparableConv2D)):
        return 0.0
    height, width, channels_out = layer.output.shape[1:]
    channels_in = layer.input.shape[-1]
    kernel = int(np.prod(layer.kernel_size))
    if isinstance(layer, layers.SeparableConv2D):
        per_pixel = kernel * channels_in + channels_in * channels_out
    elif isinstance(layer, layers.DepthwiseConv2D):
        per_pixel = kernel * channels_in
    else:
        per_pixel = kernel * channels_in * channels_out
    return 2.0 * height * width * per_pixel


def count_flops(model: keras.Model, input_size: int = 224) -> float:
    """Floating-point operations of one forward pass at input_size²: 2 x the multiply-adds of its
    convolutions (they scale with the pixels: the network is fully convolutional)."""
    total = sum(layer_flops(layer) for layer in model._flatten_layers(include_self=False))
    return total * (input_size / model.input_shape[1]) ** 2


def ms_per_image(model: keras.Model, photos: np.ndarray, repeats: int = 3) -> float:
    """Milliseconds per photo to label a batch of photos (predict_labels at 256², no flip), after
    one warm-up call."""
    from ..inference import predict_labels

    predict_labels(model, photos, tta=False)
    start = time.perf_counter()
    for _ in range(repeats):
        predict_labels(model, photos, tta=False)
    return 1000 * (time.perf_counter() - start) / repeats / len(photos)


def live_fps(model: keras.Model, spec, frames: int = 10) -> float:
    """Frames per second of notebook 6's live loop on generated frames."""
    from ..demos.camera import SyntheticCamera
    from ..demos.viewer import LiveSegmentation

    live = LiveSegmentation(model, spec, capture=SyntheticCamera(frames + 2))
    live.run(max_frames=2)  # compiles at the live size
    return live.run(max_frames=frames)


def onnx_megabytes(model: keras.Model, input_size: int = 256) -> float | None:
    """Size of the model exported to ONNX as notebook 7 does; None without the export packages.

    At a fixed input size: a bilinear upsampling needs one.
    """
    from ..demos.export import export_model, missing_packages

    if missing_packages("onnx"):
        return None
    with tempfile.TemporaryDirectory() as folder:
        path = export_model(model, Path(folder) / f"{model.name}.onnx", input_size=input_size)
        return path.stat().st_size / 1e6


def costs(model: keras.Model, spec, photos: np.ndarray) -> dict:
    """Parameters (millions), GFLOP at 224², ms per photo (a batch), live-loop FPS, ONNX size."""
    return {
        "parameters (millions)": model.count_params() / 1e6,
        "GFLOP per 224² image": count_flops(model) / 1e9,
        "ms per photo": ms_per_image(model, photos),
        "live loop FPS": live_fps(model, spec),
        "ONNX MB": onnx_megabytes(model),
    }


def results_table(scores: dict, costs_by_model: dict, class_names):
    """IoU per class, mIoU and pixel accuracy, then the costs, one column per model."""
    import pandas as pd

    table = scores_table(scores, class_names)
    extra = pd.DataFrame(costs_by_model).astype(float).round(2)
    return pd.concat([table, extra[list(table.columns)]])
