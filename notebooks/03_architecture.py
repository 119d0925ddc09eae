# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext,-jupytext.text_representation.jupytext_version,-jupytext.text_representation.format_version
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/segmentation-workshop/transfer-learning-segmentation/blob/main/notebooks/03_architecture.ipynb)
#
# # 3. The architecture: a MobileNetV2 encoder and a light U-Net decoder

# %%
# Setup: in Colab, fetch and install the workshop's helpers; locally this does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run("git clone -q --depth 1 https://github.com/segmentation-workshop/transfer-learning-segmentation"
                   " workshop; pip install -q -e workshop", shell=True, check=True)
    sys.path.insert(0, "workshop")

# %%
import numpy as np

from workshop_helpers import build_model, get_spec, masked_loss
from workshop_helpers.model import DECODER_FILTERS, skip_connection_summary
from workshop_helpers.settings import load_settings

settings = load_settings()
spec = get_spec(settings.dataset)

# %% [markdown]
# ## The encoder
#
# Keras ships MobileNetV2 as a classifier. With `include_top=False` we drop its classification head and keep
# the convolutional body: 224×224×3 in, 7×7×1280 out. Its weights come either from random initialisation
# (notebook 4) or from ImageNet training (`weights="imagenet"`, notebook 5).
#
# ## The decoder
#
# Four times: upsample ×2, concatenate the encoder's features of the same resolution (the skip connection) and
# apply a 3×3 ReLU convolution. A last upsampling returns to 224×224, a 1×1 convolution gives one score per class
# and a softmax turns the scores into probabilities.

# %%
model = build_model(spec.num_classes)
print(f"decoder filters: {DECODER_FILTERS}")
for name, shape in skip_connection_summary(model):
    print(f"{name:>24}: {shape}")
print(f"{'output':>24}: {model.output_shape}")

# %% [markdown]
# The skips come from the *projection* layers at the end of MobileNetV2's blocks: the last layer at each
# resolution before the next stride-2 block.

# %%
print(f"parameters: {model.count_params():,} for {spec.num_classes} classes")

# %% [markdown]
# With six classes this is **3,984,166** parameters: 2,257,984 in the encoder and 1,726,182 in the decoder.
# The first decoder convolution, on 1,280 + 96 channels, holds most of the decoder's. The layer-by-layer summary
# is long; uncomment the next line to see it.

# %%
# model.summary(line_length=110)

# %% [markdown]
# ## The masked loss
#
# The loss is the usual sparse categorical cross-entropy, `-log p(true class)`, averaged over the **valid**
# pixels only: void pixels (-1) have no true class, so they contribute nothing. A tiny worked example with one
# 1×3 "image" of three classes, whose last pixel is void:

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
print(f"after changing the void pixel's prediction: {float(masked_loss(labels, probabilities)):.4f}")

# %% [markdown]
# Next: **4. Training from scratch.**
