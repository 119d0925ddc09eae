"""The segmentation network: a MobileNetV2 encoder and a light U-Net decoder."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from .pipeline import preprocess

# Encoder outputs the decoder reuses, from fine (1/2) to coarse (1/16): the last layer at each
# resolution.
SKIP_LAYER_NAMES = (
    "expanded_conv_project",
    "block_2_project",
    "block_5_project",
    "block_12_project",
)
DECODER_FILTERS = (128, 64, 32, 32)


def build_encoder(input_size: int = 224, pretrained: bool = False) -> keras.Model:
    """MobileNetV2 (alpha 1.0) without its classification head; ImageNet weights if pretrained."""
    if input_size % 32:
        raise ValueError(
            f"input_size must be divisible by 32 (the encoder halves it 5 times), not {input_size}."
        )
    encoder = keras.applications.MobileNetV2(
        input_shape=(input_size, input_size, 3),
        alpha=1.0,
        include_top=False,
        weights="imagenet" if pretrained and input_size == 224 else None,
    )
    if pretrained and input_size != 224:
        # Keras names a weights file per input size; the convolutions are the same, so we load the
        # 224 ones.
        encoder.set_weights(
            keras.applications.MobileNetV2(
                input_shape=(224, 224, 3), alpha=1.0, include_top=False, weights="imagenet"
            ).get_weights()
        )
    return encoder


def decoder_block(x, skip, filters: int):
    """Upsample x2, concatenate the encoder's features of that resolution, 3x3 ReLU convolution."""
    x = layers.UpSampling2D(name=f"up_{filters}_{skip.shape[1]}")(x)
    x = layers.Concatenate()([x, skip])
    return layers.Conv2D(filters, 3, padding="same", activation="relu")(x)


def build_model(num_classes: int, pretrained: bool = False, input_size: int = 224) -> keras.Model:
    """MobileNetV2 encoder + U-Net decoder with skip connections; softmax over classes."""
    encoder = build_encoder(input_size, pretrained)
    skips = [encoder.get_layer(name).output for name in reversed(SKIP_LAYER_NAMES)]
    x = encoder.output  # 1/32 of the input, 1,280 channels
    for filters, skip in zip(DECODER_FILTERS, skips):
        x = decoder_block(x, skip, filters)
    x = layers.UpSampling2D(name="up_full")(x)  # back to the input's resolution
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = layers.Conv2D(num_classes, 1, name="prediction")(x)  # one score per class and pixel
    outputs = layers.Softmax(name="probabilities")(x)
    return keras.Model(encoder.input, outputs, name="mobilenetv2_unet")


def encoder_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The MobileNetV2 layers of a model: input up to out_relu, or up to the last block's layer
    for a network that stops earlier (notebook 10's student)."""
    names = [layer.name for layer in model.layers]
    last = max(i for i, name in enumerate(names) if name == "out_relu" or name.startswith("block_"))
    return model.layers[: last + 1]


def freeze_encoder(model: keras.Model, frozen: bool = True) -> keras.Model:
    """Freeze (or unfreeze) the encoder; frozen BatchNorm layers keep their statistics."""
    for layer in encoder_layers(model):
        layer.trainable = not frozen
    return model


def at_input_size(model: keras.Model, size: int) -> keras.Model:
    """The same network (shared weights) taking size x size inputs."""
    if model.input_shape[1:3] in ((size, size), (None, None)):
        return model
    inputs = keras.Input((size, size, model.input_shape[-1]))
    return keras.Model(inputs, model.call(inputs), name=f"{model.name}_{size}")


def batchnorm_layers(model: keras.Model) -> list[keras.layers.BatchNormalization]:
    """All BatchNormalization layers of a model."""
    return [
        layer for layer in model._flatten_layers() if isinstance(layer, layers.BatchNormalization)
    ]


def reestimate_batchnorm(model: keras.Model, batches) -> keras.Model:
    """Replace BatchNorm moving statistics (in place) by their average over `batches` of inputs."""
    bns = batchnorm_layers(model)
    saved = [(bn.momentum, bn.trainable) for bn in bns]
    try:
        for count, x in enumerate(batches):
            # momentum k/(k+1) turns the exponential moving average into a running mean of the batch
            # statistics.
            for bn in bns:
                bn.momentum, bn.trainable = count / (count + 1), True
            model(x, training=True)
    finally:
        for bn, (momentum, trainable) in zip(bns, saved):
            bn.momentum, bn.trainable = momentum, trainable
    return model


def with_reestimated_batchnorm(
    model: keras.Model, images: np.ndarray, batch_size: int = 8
) -> keras.Model:
    """A copy of the model with BatchNorm statistics re-estimated on uint8 images (centre crops)."""
    size = model.input_shape[1] or images.shape[1]
    top, left = (images.shape[1] - size) // 2, (images.shape[2] - size) // 2
    crops = preprocess(images[:, top : top + size, left : left + size])
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return reestimate_batchnorm(
        copy, [crops[i : i + batch_size] for i in range(0, len(crops), batch_size)]
    )
