# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,jupyter,slideshow,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -kernelspec,-jupytext.text_representation
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/segmentation-workshop/transfer-learning-segmentation/blob/main/notebooks/02_input_pipeline.ipynb)
#
# # 2. The input pipeline
#
# We train on a subset of **Pascal VOC 2012** with six classes: background, aeroplane, car, cat, dog
# and person (or, with `start(dataset="camvid")`, on the **CamVid** street scenes). This notebook
# shows the data and builds the core of the generator that feeds the network.
#
# The set-up cell below reads the settings (a preset, and anything you pass to `start(...)`, e.g.
# `start(dataset="camvid")`), and prepares the dataset the first time.

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
import matplotlib.pyplot as plt
import numpy as np

from workshop_helpers import (
    VOC_SUBSETS,
    SegmentationGenerator,
    default_data_dir,
    describe_voc_subset,
    is_partial,
    load_split,
    plot_pair,
    read_ids,
    show_legend,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Classes and colours
#
# Each class has a colour that stays distinguishable with the common colour-vision deficiencies.
# Void pixels, which no loss or score counts, are drawn black.

# %%
show_legend(spec)
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The dataset and its split
#
# For VOC the workshop keeps the 1,607 segmentation images that contain at least one of our five
# object classes and splits their sorted ids 80:20 into training and validation, as the original
# notebook did. `start(voc_subset="original")` keeps instead the original notebook's 991 images,
# where those classes cover at least 10 % of the image, so the objects are large enough to learn
# from (792 training, 199 validation). CamVid comes with its published split. Everything is resized
# to 256×256. When only part of the photos could be downloaded, each photo keeps its place in the
# full split.

# %%
if spec.name in VOC_SUBSETS.values():
    print(describe_voc_subset(settings.voc_subset))  # this run's subset, then the other one
train_images, train_masks = load_split(spec.name, "train")
val_images, val_masks = load_split(spec.name, "val")
total = len(train_images) + len(val_images)
print(
    f"{spec.name}: {total} images, {len(train_images)} train ({len(train_images) / total:.0%}), "
    f"{len(val_images)} validation ({len(val_images) / total:.0%})"
)
if is_partial(default_data_dir() / spec.name):
    subset = len(read_ids(default_data_dir() / spec.name / "ids.txt"))
    print(
        f"Only {total:,} of the subset's {subset:,} photos could be downloaded. Each kept its "
        "place in the 80:20 split of all of them, so the shares here differ from 80:20."
    )
trained_on = min(settings.max_train_images or len(train_images), len(train_images))
print(
    f"This notebook uses all {len(train_images)} training images; notebooks 4 and 5 train on "
    + (f"{trained_on} of them, evenly spaced" if trained_on < len(train_images) else "all of them")
    + ", as the recipe line at the top says."
)

# %% [markdown]
# Class frequencies matter: a class that covers 1 % of the pixels is easy to ignore for a network
# that minimises the average loss. A class with no pixel at all cannot be learned or scored.

# %%
counts = np.bincount(train_masks[train_masks >= 0].ravel(), minlength=spec.num_classes)
for name, share in zip(spec.class_names, counts / counts.sum()):
    print(f"{name:>12}: {share:6.1%} of labelled pixels")
print(f"{'void':>12}: {np.mean(train_masks < 0):6.1%} of all pixels")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Why masks are resized with nearest neighbour
#
# A mask holds class *indices*, not intensities. Bilinear interpolation between a pixel of class 1
# (aeroplane) and one of class 3 (cat) would invent a 2 (car) on the border. Nearest neighbour only
# ever copies existing labels. Void pixels (VOC's 255 border, CamVid's "unlabelled") become **-1**,
# so the loss and the metrics can skip them.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The generator's core
#
# MobileNetV2 was trained on pixel values scaled from [0, 255] to [-1, 1]; its pretrained weights
# expect the same.


# %% tags=["package:pipeline.py"]
def preprocess(images: np.ndarray) -> np.ndarray:
    """Scale uint8 RGB to float32 in [-1, 1], as MobileNetV2 was trained."""
    out = np.asarray(images, dtype=np.float32)
    out *= 1 / 127.5
    out -= 1.0
    return out


# %% [markdown]
# Each training batch takes a random 224×224 window of each 256×256 image and flips about half of
# them left-right, the image and its mask together, so the labels stay on their pixels. Validation
# uses the centre window, always the same. The masks are not preprocessed: they stay class indices,
# with void at -1.


# %% tags=["package:pipeline.py"]
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


# %% [markdown]
# One batch by hand: four random windows, the first two flipped.

# %%
rng = np.random.default_rng(0)
indices, size = np.arange(4), 224
tops, lefts = rng.integers(0, 256 - size + 1, 4), rng.integers(0, 256 - size + 1, 4)
flips = np.array([True, True, False, False])
flipped = (train_images[:4, :, ::-1], train_masks[:4, :, ::-1])
x, y = crop_batch(train_images[:4], train_masks[:4], indices, tops, lefts, flips, size, flipped)
print(f"x: shape {x.shape}, {x.dtype}, min {x.min():.2f}, max {x.max():.2f}")
print(f"y: shape {y.shape}, {y.dtype}, labels {np.unique(y).tolist()}")

# %% [markdown]
# `SegmentationGenerator` wraps this core into a `keras.utils.PyDataset`: it draws the windows and
# flips from a generator seeded per (seed, epoch, batch), reshuffles the images every epoch, and
# keeps the flipped copy once instead of per batch.

# %%
train_batches = SegmentationGenerator(train_images, train_masks, settings.batch_size, augment=True)
val_batches = SegmentationGenerator(val_images, val_masks, settings.batch_size, augment=False)
x, y = train_batches[0]
print(
    f"{len(train_batches)} training batches per epoch (all {len(train_images)} training images), "
    f"{len(val_batches)} validation batches"
)
print(f"x: shape {x.shape}, {x.dtype}, min {x.min():.2f}, mean {x.mean():.2f}, max {x.max():.2f}")
print(f"y: shape {y.shape}, {y.dtype}, min {y.min()}, max {y.max()}, void {np.mean(y < 0):.1%}")

# %%
plot_pair(x[0], y[0, ..., 0], spec, title="one training crop (preprocessed, shown back as colours)")
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercise
#
# How many batches per epoch would the training generator give with a batch size of 5? Work it out
# from the number of training images printed above, then check it below. And which label do void
# pixels carry in `y`?

# %%
from workshop_helpers.course import check_batches_per_epoch, check_void_label

batches_of_5 = SegmentationGenerator(train_images, train_masks, 5, augment=True)
answer = None  # your answer: training batches per epoch with a batch size of 5
check_batches_per_epoch(answer, batches_of_5)

# %%
answer = None  # your answer: the label of a void pixel in y
check_void_label(answer)

# %% [markdown] tags=["solution"]
# <details><summary>Solution (click to open)</summary>
#
# Each batch holds 5 crops and the last one the rest, so the count rounds up. Void is -1, a value
# no class uses, which the loss and the metrics skip.
#
# ```python
# check_batches_per_epoch(int(np.ceil(len(train_images) / 5)), batches_of_5)
# ```
# ```python
# check_void_label(-1)
# ```
# </details>

# %% [markdown]
# Next: **3. The architecture.**
