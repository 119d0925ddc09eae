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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/segmentation-workshop/transfer-learning-segmentation/blob/main/notebooks/02_input_pipeline.ipynb)
#
# # 2. The input pipeline
#
# We train on a subset of **Pascal VOC 2012** with six classes: background, aeroplane, car, cat, dog and person
# (or, with `WORKSHOP_DATASET=camvid`, on the **CamVid** street scenes). This notebook shows the data and the
# generator that feeds the network.

# %%
# Setup: in Colab, fetch and install the workshop's helpers; locally this does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run("git clone -q --depth 1 https://github.com/segmentation-workshop/transfer-learning-segmentation"
                   " workshop; pip install -q -e workshop", shell=True, check=True)
    sys.path.insert(0, "workshop")

# %% [markdown]
# ## Settings
#
# One cell holds what the notebooks run. Environment variables change it (`WORKSHOP_DATASET=camvid`,
# `WORKSHOP_FAST=1`, ...), see the README.

# %%
import matplotlib.pyplot as plt
import numpy as np

from workshop_helpers import SegmentationGenerator, get_spec, load_split
from workshop_helpers.download import ensure_prepared
from workshop_helpers.plotting import plot_pair, show_legend
from workshop_helpers.settings import load_settings

settings = load_settings()
print(settings.describe())

# %% [markdown]
# ## Classes and colours
#
# Each class has a colour that stays distinguishable with the common colour-vision deficiencies. Void pixels,
# which no loss or score counts, are drawn black.

# %%
spec = get_spec(settings.dataset)
show_legend(spec)
plt.show()

# %% [markdown]
# ## The dataset and its split
#
# `ensure_prepared` downloads and prepares the dataset the first time (the VOC tar is 2 GB). For VOC it keeps
# the 1,607 segmentation images that contain at least one of our five object classes, resizes everything to
# 256×256 and splits the sorted ids 80:20 into training and validation.

# %%
ensure_prepared(spec.name)
train_images, train_masks = load_split(spec.name, "train")
val_images, val_masks = load_split(spec.name, "val")
total = len(train_images) + len(val_images)
print(f"{spec.name}: {total} images, {len(train_images)} train ({len(train_images) / total:.0%}), "
      f"{len(val_images)} validation ({len(val_images) / total:.0%})")

# %% [markdown]
# Class frequencies matter: a class that covers 1 % of the pixels is easy to ignore for a network that minimises
# the average loss.

# %%
counts = np.bincount(train_masks[train_masks >= 0].ravel(), minlength=spec.num_classes)
for name, share in zip(spec.class_names, counts / counts.sum()):
    print(f"{name:>12}: {share:6.1%} of labelled pixels")
print(f"{'void':>12}: {np.mean(train_masks < 0):6.1%} of all pixels")

# %% [markdown]
# ## Why masks are resized with nearest neighbour
#
# A mask holds class *indices*, not intensities. Bilinear interpolation between a pixel of class 1 (aeroplane)
# and one of class 3 (cat) would invent a 2 (car) on the border. Nearest neighbour only ever copies existing
# labels. Void pixels (VOC's 255 border, CamVid's "unlabelled") become **-1**, so the loss and the metrics can
# skip them.

# %% [markdown]
# ## The generator
#
# `SegmentationGenerator` holds the prepared images in memory as uint8 and builds each batch with numpy. For
# training it takes a random 224×224 crop of the 256×256 image and flips half of the crops horizontally, the
# image and its mask together; validation uses the centre crop, always the same. It then applies MobileNetV2's
# preprocessing: pixel values from [0, 255] to [-1, 1].

# %%
train_batches = SegmentationGenerator(train_images, train_masks, batch_size=settings.batch_size, augment=True)
val_batches = SegmentationGenerator(val_images, val_masks, batch_size=settings.batch_size, augment=False)
x, y = train_batches[0]
print(f"{len(train_batches)} training batches per epoch, {len(val_batches)} validation batches")
print(f"x: shape {x.shape}, {x.dtype}, min {x.min():.2f}, mean {x.mean():.2f}, max {x.max():.2f}")
print(f"y: shape {y.shape}, {y.dtype}, min {y.min()}, max {y.max()}, void share {np.mean(y < 0):.1%}")

# %%
plot_pair(x[0], y[0, ..., 0], spec, title="one training crop (preprocessed values shown back as colours)")
plt.show()

# %% [markdown]
# Next: **3. The architecture.**
