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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/segmentation-workshop/transfer-learning-segmentation/blob/main/notebooks/04_training_from_scratch.ipynb)
#
# # 4. Training from scratch
#
# First the baseline: the network of notebook 3 with **random** encoder weights, trained on our small dataset.

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
# The full setting is the seed's recipe: Adam with learning rate 1e-4, batch 4, 20 epochs. `WORKSHOP_FAST=1`
# trains 2 epochs on 96 images (CI, rehearsal).

# %%
import keras
import matplotlib.pyplot as plt
import numpy as np

from workshop_helpers import (SegmentationGenerator, build_model, evaluate, freeze_encoder, get_spec, load_split,
                              load_trained, predict, reestimate_batchnorm, train)
from workshop_helpers.download import ensure_prepared
from workshop_helpers.model import batchnorm_layers
from workshop_helpers.plotting import plot_histories, plot_predictions, plot_segmentation
from workshop_helpers.settings import load_settings

settings = load_settings()
spec = get_spec(settings.dataset)
ensure_prepared(spec.name)
print(settings.describe())

# %% [markdown]
# ## Train
#
# On a laptop CPU the full setting takes hours; on a Colab GPU a few minutes. Short on time in front of an
# audience? Train beforehand with `python -m workshop_helpers train --scratch` and set
# `USE_FALLBACK = True` (or `WORKSHOP_USE_CHECKPOINTS=1`): the next cell then loads that checkpoint instead.

# %%
USE_FALLBACK = settings.use_checkpoints
checkpoint = settings.checkpoint("scratch")

# %%
if USE_FALLBACK:
    model, history = load_trained(checkpoint)
else:
    model, history = train(checkpoint=checkpoint, **settings.train_kwargs(pretrained=False))

# %% [markdown]
# ## Loss curves

# %%
plot_histories({"scratch": history}, keys=("loss", "val_loss", "mean_iou", "val_mean_iou"))
plt.show()

# %% [markdown]
# ## What does it predict?
#
# Fixed validation images: the photo, the ground truth and the prediction as overlays.

# %%
val_images, val_masks = load_split(spec.name, "val")
shown = np.linspace(0, len(val_images) - 1, 4).round().astype(int)
scratch_probabilities = predict(model, val_images[shown])
plot_predictions(val_images[shown], val_masks[shown], {"from scratch": scratch_probabilities}, spec)
plt.show()

# %% [markdown]
# The per-class probability maps, each titled with its mean over the image:

# %%
plot_segmentation(val_images[shown[0]], scratch_probabilities[0], spec.class_names, spec.palette,
                  spec.background_index)
plt.show()

# %% [markdown]
# ## mIoU over the whole validation split
#
# For each class, IoU = |prediction ∩ truth| / |prediction ∪ truth| over all validation pixels; mIoU is their
# mean. Void pixels are ignored.

# %%
scores = evaluate(model, val_images, val_masks, spec.num_classes)
print(f"validation mIoU {scores['mIoU']:.3f}, pixel accuracy {scores['pixel_accuracy']:.3f}")
for name, iou in zip(spec.class_names, scores["per_class_iou"]):
    print(f"{name:>12}: {iou if iou is None else round(iou, 3)}")

# %% [markdown]
# ## Why it fails
#
# Two reasons.
#
# 1. **Too little data.** A few hundred images cannot teach 2.3 million encoder weights what edges, textures and
#    object parts look like; ImageNet's 1.3 million images did that for the pretrained encoder.
# 2. **BatchNorm statistics lag behind.** MobileNetV2 normalises each layer with statistics of the current batch
#    while training, but at inference it uses *moving averages* updated with momentum 0.999: each step moves
#    them only 0.1 % of the way. After a few hundred steps they are still close to their initial values (mean 0,
#    variance 1), far from the real statistics of a network whose weights changed. So inference-mode
#    predictions can collapse even when the training loss falls.
#
# We measure the second: the first BatchNorm layer's moving variance against the variance of the features it
# actually receives.

# %%
train_x = np.concatenate([SegmentationGenerator(*load_split(spec.name, "train", limit=64), 8, augment=False)[i][0]
                          for i in range(8)])
first_bn = batchnorm_layers(model)[0]
features = keras.Model(model.input, model.get_layer("Conv1").output).predict(train_x[:16], verbose=0)
print(f"moving variance (mean over channels): {np.mean(keras.ops.convert_to_numpy(first_bn.moving_variance)):.3f}")
print(f"actual variance of its inputs:         {features.var(axis=(0, 1, 2)).mean():.3f}")

# %% [markdown]
# Now we re-estimate every BatchNorm layer's statistics from 64 training images (a copy of the model, no
# weight changes) and score the validation split again.

# %%
recalibrated = keras.models.clone_model(model)
recalibrated.set_weights(model.get_weights())
reestimate_batchnorm(recalibrated, np.split(train_x, 8))
recalibrated_scores = evaluate(recalibrated, val_images, val_masks, spec.num_classes)
print(f"validation mIoU with the moving statistics: {scores['mIoU']:.3f}")
print(f"validation mIoU with re-estimated statistics: {recalibrated_scores['mIoU']:.3f}")

# %% [markdown]
# The gap between the two numbers is the part of the failure that the lagging statistics explain: the network
# had learned something, but inference mode normalised its features with the wrong numbers. What remains is the
# lack of features that a few hundred images cannot teach. Notebook 5 attacks that part: the encoder starts from
# ImageNet weights, whose BatchNorm statistics already match their features.

# %% [markdown]
# ## Exercise
#
# Freezing the encoder (training only the decoder) is a common way to save time. How many parameters would still
# train? Why does freezing make no sense for a *random* encoder? Try it with `freeze_encoder`.

# %% tags=["solution"] jupyter={"source_hidden": true}
# Solution: only the decoder trains (1,726,182 parameters with six classes); a frozen random encoder would feed
# the decoder random features forever, so the decoder alone would have to work from noise-like inputs.
frozen = freeze_encoder(build_model(spec.num_classes))
print(f"trainable with a frozen encoder: {sum(int(np.prod(w.shape)) for w in frozen.trainable_weights):,}")

# %% [markdown]
# Next: **5. Training with the pretrained encoder.**
