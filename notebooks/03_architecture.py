# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,jupyter,slideshow,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -kernelspec,-jupytext.text_representation
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/segmentation-workshop/transfer-learning-segmentation/blob/main/notebooks/03_architecture.ipynb)
#
# # 3. The architecture: a MobileNetV2 encoder and a light U-Net decoder
#
# In this notebook you build the network yourself, cell by cell: the encoder that ImageNet trained
# to classify, the four skip connections, the decoder that turns its features back into a
# full-resolution map of class probabilities, and the loss that ignores void pixels. Change any of
# these cells and re-run the notebook to try another design.

# %% slideshow={"slide_type": "skip"}
# Setup: in Colab, install the workshop first; then settings, data and weights.
import sys

if "google.colab" in sys.modules:
    import os
    import subprocess

    url = "https://github.com/segmentation-workshop/transfer-learning-segmentation"
    url = os.environ.get("WORKSHOP_REPOSITORY", url)
    subprocess.run(
        f"test -d workshop || git clone -q --depth 1 {url} workshop && pip install -q -e workshop",
        shell=True,
        check=True,
    )
    sys.path.insert(0, "workshop")
from workshop_helpers import start

settings, spec = start()

# %% slideshow={"slide_type": "skip"}
import keras
import numpy as np
from keras import layers

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The encoder
#
# Keras ships MobileNetV2 as an ImageNet classifier. With `include_top=False` we drop its
# classification head and keep the convolutional body: 224×224×3 in, 7×7×1,280 out. Its weights come
# either from random initialisation (notebook 4) or from ImageNet training (`weights="imagenet"`,
# notebook 5).
#
# The skip connections tap the encoder where the decoder will need detail: the *projection* layer at
# the end of the last block at each resolution, before the next block halves it.
#
# The cells that define the network are the code the workshop's package runs (its `model.py` and
# `metrics.py`), word for word. Notebooks 4 and 5 import it from there.

# %% tags=["package:model.py"]
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


# %%
encoder = build_encoder()
for name in SKIP_LAYER_NAMES:
    print(f"{name:>24}: {encoder.get_layer(name).output.shape}")
print(f"{'encoder output':>24}: {encoder.output.shape}")
print(f"encoder parameters: {encoder.count_params():,}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The decoder
#
# Four decoder blocks climb back up: upsample ×2, concatenate the encoder's features of the same
# resolution (the skip connection), and apply a 3×3 ReLU convolution. A last upsampling returns to
# the input's resolution, a 1×1 convolution gives one score per class and pixel, and a softmax turns
# the scores into probabilities.


# %% tags=["package:model.py"]
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


# %%
model = build_model(spec.num_classes)
encoder_parameters = build_encoder().count_params()
print(f"output: {model.output_shape} (one probability per class and pixel)")
print(
    f"parameters: {model.count_params():,} for {spec.num_classes} classes: "
    f"{encoder_parameters:,} in the encoder, "
    f"{model.count_params() - encoder_parameters:,} in the decoder"
)

# %% [markdown]
# Most of the decoder's parameters sit in its first convolution, which sees the encoder's 1,280
# channels plus the 96 of the deepest skip. The layer-by-layer summary is long; uncomment the next
# line to see it.

# %%
# model.summary(line_length=100)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The masked loss
#
# The loss is the usual sparse categorical cross-entropy, `-log p(true class)`, averaged over the
# **valid** pixels only: void pixels (-1) have no true class, so they contribute nothing.

# %% tags=["package:metrics.py"]
from keras import ops


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


# %% [markdown]
# A tiny worked example with one 1×3 "image" of three classes, whose last pixel is void:

# %%
labels = np.array([[[[0], [2], [-1]]]], dtype="int32")  # shape [1, 1, 3, 1]
probabilities = np.array([[[[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.9, 0.05, 0.05]]]], dtype="float32")
by_hand = -(np.log(0.7) + np.log(0.6)) / 2
print(f"by hand: -(log 0.7 + log 0.6) / 2 = {by_hand:.4f}")
print(f"masked_loss:                     {float(masked_loss(labels, probabilities)):.4f}")

# %% [markdown]
# Whatever the network predicts on the void pixel, the loss stays the same:

# %%
probabilities[0, 0, 2] = [0.0, 0.0, 1.0]
after = float(masked_loss(labels, probabilities))
print(f"after changing the void pixel's prediction: {after:.4f}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercise: a lighter decoder
#
# The decoder's first block dominates its parameter count. Build a variant with **transposed
# convolutions** (`layers.Conv2DTranspose(filters, 3, strides=2, padding="same",
# activation="relu")`) instead of upsampling + convolution in each decoder block, and half the
# filters (`(64, 32, 16, 16)`). How many parameters does it have, and what fraction of the original
# decoder's is that? Edit `light_decoder_block` in the cell below and run it: the check says
# whether your blocks are right and, once they are, gives both numbers.


# %%
from workshop_helpers.course import check_light_decoder


def light_decoder_block(x, skip, filters):
    """Your version: a transposed convolution that upsamples, then the skip connection."""
    x = layers.UpSampling2D()(x)  # replace with a Conv2DTranspose
    return layers.Concatenate()([x, skip])


def build_light_model(num_classes, filters=(64, 32, 16, 16)):
    """The network of this notebook with `light_decoder_block` in place of `decoder_block`."""
    encoder = build_encoder()
    skips = [encoder.get_layer(name).output for name in reversed(SKIP_LAYER_NAMES)]
    x = encoder.output
    for block_filters, skip in zip(filters, skips):
        x = light_decoder_block(x, skip, block_filters)
    x = layers.UpSampling2D()(x)
    x = layers.Conv2D(num_classes, 1)(x)
    return keras.Model(encoder.input, layers.Softmax()(x))


light = build_light_model(spec.num_classes)
check_light_decoder(light, model)

# %% [markdown] tags=["solution"]
# <details><summary>Solution (click to open)</summary>
#
# Each block upsamples with a learned 3×3 transposed convolution, then concatenates the skip.
# Paste this into the cell above, replacing your `light_decoder_block`, and run it again.
#
# ```python
# def light_decoder_block(x, skip, filters):
#     """A transposed convolution that upsamples, then the skip connection."""
#     x = layers.Conv2DTranspose(filters, 3, strides=2, padding="same", activation="relu")(x)
#     return layers.Concatenate()([x, skip])
#
#
# light = build_light_model(spec.num_classes)
# check_light_decoder(light, model)
# ```
# </details>

# %% [markdown]
# Two more, to work out by hand before you check them. How many parameters does the decoder's
# first 3×3 convolution have? It sees the upsampled encoder output concatenated with the deepest
# skip connection (their shapes are printed above) and has 128 filters. And what is the masked loss
# of the 2×2 example below, whose top-right pixel is void?

# %%
from workshop_helpers.course import check_first_decoder_conv_parameters, check_masked_loss

answer = None  # your answer: parameters of the decoder's first convolution
check_first_decoder_conv_parameters(answer, model)

# %%
example_labels = np.array([[[[1], [-1]], [[0], [0]]]], dtype="int32")  # shape [1, 2, 2, 1]
example_probabilities = np.array(
    [[[[0.2, 0.5, 0.3], [0.1, 0.1, 0.8]], [[0.8, 0.1, 0.1], [0.4, 0.4, 0.2]]]], dtype="float32"
)
answer = None  # your answer: the masked loss, 3 decimals are enough
check_masked_loss(answer, example_labels, example_probabilities)

# %% [markdown] tags=["solution"]
# <details><summary>Solution (click to open)</summary>
#
# 3×3 kernels over 1,280 + 96 channels for 128 filters, plus 128 biases; the loss averages
# -log p(true class) over the three labelled pixels only.
#
# ```python
# check_first_decoder_conv_parameters(3 * 3 * (1280 + 96) * 128 + 128, model)
# ```
# ```python
# by_hand = -(np.log(0.5) + np.log(0.8) + np.log(0.4)) / 3
# check_masked_loss(by_hand, example_labels, example_probabilities)
# ```
# </details>

# %% [markdown]
# Next: **4. Training from scratch.**
