# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,jupyter,slideshow,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -kernelspec,-jupytext.text_representation
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/segmentation-workshop/transfer-learning-segmentation/blob/main/notebooks/09_pitfalls.ipynb)
#
# # 9. Appendix: six pitfalls of segmentation, measured
#
# The same few mistakes turn up in every segmentation tutorial's bug tracker: masks resized like
# photos, a mean IoU that never moves, void pixels counted as background, a high accuracy that
# means nothing, rare classes that never appear, and a pretrained encoder that forgets what it
# knew. Each section below makes one mistake on purpose, prints what it does to a number, then
# does it right. Every number comes from this run.

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

settings, spec = start(weights=True)

# %% slideshow={"slide_type": "skip"}
import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from keras import ops

from workshop_helpers import (
    MaskedPixelAccuracy,
    SegmentationGenerator,
    batchnorm_layers,
    class_pixel_shares,
    freeze_encoder,
    get_trained_model,
    load_split,
    masked_loss,
    mean_iou_metric,
    median_frequency_weights,
    predict,
    scores_from_labels,
    scores_table,
)
from workshop_helpers.course import (
    as_stored,
    colour_labels,
    foreign_labels,
    mask_resizing_damage,
    resize_masks,
    stuck_mean_iou,
    truncate_to_labels,
    void_as_background,
)

summary = []  # one row per pitfall: what is measured, the wrong way's number, the right way's

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The models and the data
#
# Most pitfalls need a trained model: the pretrained model of notebook 5, loaded when it was
# trained with this run's settings and trained now otherwise. Its predictions on the validation
# split are computed once, in one pass per image (without notebook 5's flip averaging, to keep
# this notebook quick, so its scores differ a little from notebook 5's).

# %%
pretrained, _ = get_trained_model(settings, pretrained=True, reuse=True)
val_images, val_masks = load_split(spec.name, "val")
val_probabilities = predict(pretrained, val_images, tta=False)
val_labels = val_probabilities.argmax(-1)
print(f"{len(val_images)} validation images, predicted")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Masks resized like photos
#
# A photo is resized with bilinear interpolation: each new pixel is a weighted mean of its
# neighbours. Do that to a label mask and you get means of *labels*: between background (0) and
# cat (3) lies 1.5, which the integer cast turns into 1, an aeroplane; between background and
# void (stored as 255 in the mask files) lie values such as 127 that are no class at all.
#
# The wrong way: the validation masks resized bilinearly to the network's input size, as a photo
# would be, then cast to integer labels.

# %%
size = settings.crop_size
bilinear_values = resize_masks(val_masks, size, "bilinear")  # ops.image.resize, as for a photo
values = np.unique(bilinear_values[0])
print(
    f"the first mask, as stored, holds the values {np.unique(as_stored(val_masks[0])).tolist()}; "
    f"resized bilinearly, {len(values)} different ones, e.g. "
    + ", ".join(f"{value:.4g}" for value in values[:: max(1, len(values) // 8)])
)
damage = mask_resizing_damage(val_masks, size, spec.num_classes)
bilinear = damage["bilinear"]
print(
    f"bilinear to {size}×{size}: {bilinear['fractional']:.1%} of the pixels are fractional "
    "before the cast; after it,"
)
print(
    f"  {bilinear['changed']:.1%} carry another label than nearest neighbour gives them and "
    f"{bilinear['not_in_image']:.1%} a label that is not in their image "
    f"({bilinear['not_a_class']:.1%} one that is no class at all)"
)

# %% [markdown]
# The right way: nearest neighbour copies the label of the nearest source pixel, so it can only
# produce labels the mask already has.

# %%
nearest = damage["nearest"]
print(
    f"nearest neighbour to {size}×{size}: {nearest['fractional']:.1%} fractional, "
    f"{nearest['not_in_image']:.1%} with a label not in their image"
)
summary.append(
    (
        "1. bilinear-resized masks",
        "share of pixels with a label not in their image",
        bilinear["not_in_image"],
        nearest["not_in_image"],
    )
)

# %% [markdown]
# A zoomed crop of the validation image with the most invented labels, in the class colours of
# the other notebooks; void is black, values that are no class are white.

# %%
bilinear_labels = truncate_to_labels(bilinear_values)
nearest_labels = truncate_to_labels(resize_masks(val_masks, size, "nearest"))
invented = foreign_labels(val_masks, bilinear_labels)
worst = int(invented.sum(axis=(1, 2)).argmax())
rows, columns = np.nonzero(invented[worst])
half = 16  # a 32×32 window around the median invented pixel
top = int(np.clip(np.median(rows) - half, 0, size - 2 * half))
left = int(np.clip(np.median(columns) - half, 0, size - 2 * half))
window = np.s_[top : top + 2 * half, left : left + 2 * half]
photo = ops.convert_to_numpy(ops.image.resize(val_images[worst], (size, size))).astype(np.uint8)
panels = {
    "photo": photo[window],
    "nearest neighbour": colour_labels(nearest_labels[worst][window], spec.palette),
    "bilinear, then cast": colour_labels(bilinear_labels[worst][window], spec.palette),
}
fig, axes = plt.subplots(1, 3, figsize=(10, 3.6))
for ax, (title, panel) in zip(axes, panels.items()):
    ax.imshow(panel, interpolation="nearest")
    ax.set_title(title)
    ax.axis("off")
plt.tight_layout()
plt.show()
print(f"{invented[worst].mean():.1%} of this image's pixels got a label the image does not have")

# %% [markdown]
# **Rule: resize photos and probabilities with interpolation, label masks with nearest neighbour
# only.**

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. A mean IoU computed from probabilities
#
# Many tutorials one-hot encode their masks (for categorical cross-entropy) and hand
# `keras.metrics.MeanIoU` the softmax output. But `MeanIoU` expects class labels: it casts what it
# gets to integers, so every probability below 1 becomes 0, while the one-hot masks hold 0s and
# 1s. It then scores "0 or 1" instead of classes, and returns the same number whatever the model
# does. The wrong way, on the first 16 validation images (one-hot arrays are large), for the
# pretrained model's probabilities and for random ones:

# %%
few = slice(0, 16)
one_hot_masks = ops.one_hot(val_masks[few], spec.num_classes)  # void (-1) becomes a row of 0s
random_logits = np.random.default_rng(0).normal(size=val_probabilities[few].shape)
fed = {
    "pretrained": val_probabilities[few],
    "random": ops.convert_to_numpy(ops.softmax(random_logits)),
}
stuck = {}
for name, probabilities in fed.items():
    metric = keras.metrics.MeanIoU(num_classes=spec.num_classes)
    metric.update_state(one_hot_masks, probabilities)
    stuck[name] = float(metric.result())
print(
    "MeanIoU of one-hot masks and probabilities: "
    + ", ".join(f"{name} {value:.4f}" for name, value in stuck.items())
)
void_share = float(np.mean(val_masks[few] < 0))
print(
    f"the constant (1 − (1 − void share {void_share:.3f}) / {spec.num_classes}) / 2 = "
    f"{stuck_mean_iou(void_share, spec.num_classes):.4f} depends on the void share alone"
)

# %% [markdown]
# The right way: give the metric class labels (the arg-max of the probabilities) against the
# sparse masks, with void ignored. Keeping probabilities with `sparse_y_pred=False` works too;
# the workshop's `mean_iou_metric` does that during training.

# %%
metric = keras.metrics.MeanIoU(num_classes=spec.num_classes, ignore_class=-1)
metric.update_state(val_masks[few], val_labels[few])
labelled = float(metric.result())
print(
    f"MeanIoU of the arg-maxed labels: {labelled:.3f} (fed probabilities: "
    f"{stuck['pretrained']:.3f})"
)
summary.append(
    (
        "2. MeanIoU from probabilities",
        "pretrained model's Keras MeanIoU, 16 images",
        stuck["pretrained"],
        labelled,
    )
)

# %% [markdown]
# **Rule: a metric that does not move while the loss falls measures the wrong thing; feed
# `MeanIoU` labels, or tell it that the predictions are probabilities.**

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Void counted as background
#
# VOC marks the uncertain band around each object as void (255 in the files, -1 here): nobody
# knows which class those pixels belong to. A `255 → 0` mapping, or a one-hot encoding (void
# becomes a row of zeros) followed by an arg-max, silently makes them background. The same
# pretrained model, scored both ways:

# %%
ignored = scores_from_labels(val_labels, val_masks, spec.num_classes)
folded_masks = void_as_background(val_masks, spec.background_index)
folded = scores_from_labels(val_labels, folded_masks, spec.num_classes)
summary.append(
    ("3. void counted as background", "pretrained model's mIoU", folded["mIoU"], ignored["mIoU"])
)
print(f"void is {np.mean(val_masks < 0):.1%} of the validation pixels")
scores_table({"void ignored": ignored, "void as background": folded}, spec.class_names, change=True)

# %%
change = {
    name: folded["per_class_iou"][i] - ignored["per_class_iou"][i]
    for i, name in enumerate(spec.class_names)
    if ignored["per_class_iou"][i] is not None
}
background = spec.class_names[spec.background_index]
objects = {name: value for name, value in change.items() if name != background}
miou_change = folded["mIoU"] - ignored["mIoU"]
print(
    f"Folding void into background changes mIoU by {miou_change:+.3f}"
    + (" (a small effect in this run)" if abs(miou_change) < 0.02 else "")
    + f": {background} by {change[background]:+.3f}, the object classes by "
    f"{min(objects.values()):+.3f} to {max(objects.values()):+.3f}. Object pixels predicted "
    "on the void band now count as errors; background predicted there counts as right."
)

# %% [markdown]
# Empty cells (NaN) are classes with no pixel in the validation truth: not scored.

# %% [markdown]
# The numbers above are the smaller half of the damage: a model *trained* with void as background
# is also taught to draw background around every object.
#
# **Rule: keep void out of the loss and of the metric (`ignore_class=-1`); never map it to a
# class.**

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. High accuracy, low mIoU
#
# Pixel accuracy is the share of pixels labelled right. When most pixels are background, a model
# that answers "background" everywhere scores well. That baseline, next to the trained model:

# %%
predictions = {
    "all background": np.full(val_masks.shape, spec.background_index),
    "pretrained": val_labels,
}
scored = {
    name: scores_from_labels(labels, val_masks, spec.num_classes)
    for name, labels in predictions.items()
}
pd.DataFrame(
    {
        "pixel accuracy": [scores["pixel_accuracy"] for scores in scored.values()],
        "mIoU": [scores["mIoU"] for scores in scored.values()],
        f"share of pixels predicted {background}": [
            np.mean(labels[val_masks >= 0] == spec.background_index)
            for labels in predictions.values()
        ],
    },
    index=list(predictions),
).round(3)

# %%
baseline, model_scores = scored["all background"], scored["pretrained"]
# How close background everywhere comes to the trained model, by each measure:
reached = {key: baseline[key] / model_scores[key] for key in ("pixel_accuracy", "mIoU")}
print(
    f"Background everywhere reaches pixel accuracy {baseline['pixel_accuracy']:.3f}, "
    f"{reached['pixel_accuracy']:.0%} of the pretrained model's "
    f"{model_scores['pixel_accuracy']:.3f}; by mIoU it scores {baseline['mIoU']:.3f}, "
    f"{reached['mIoU']:.0%} of the model's {model_scores['mIoU']:.3f}."
)
summary.append(
    (
        "4. trusting pixel accuracy",
        "all background's score ÷ the pretrained model's",
        reached["pixel_accuracy"],
        reached["mIoU"],
    )
)

# %% [markdown]
# **Rule: report mIoU and per-class IoU next to the all-background baseline; pixel accuracy
# rewards the majority class.**

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Rare classes
#
# How this run's training pixels divide among the classes:

# %%
train_images, train_masks = load_split(spec.name, "train", limit=settings.max_train_images)
shares = class_pixel_shares(train_masks, spec.num_classes)
for name, share in zip(spec.class_names, shares):
    print(f"{name:>12}: {share:6.1%}")

# %% [markdown]
# With the plain masked loss every pixel counts the same, so the loss is mostly about
# background. A common remedy weights each pixel's loss by its class. **Median frequency
# balancing** (used by SegNet) gives class *c* the weight median share / share of *c*: rare
# classes weigh more, background less. With background at a small fraction of the weight of a
# rare class, a short training easily swings to the other extreme, so we soften the weights with
# a square root (`power=0.5`). The loss, as the package defines it:


# %% tags=["package:metrics.py"]
class WeightedMaskedLoss(keras.losses.Loss):
    """The masked loss with each pixel's cross-entropy weighted by the weight of its true class."""

    def __init__(self, class_weights, name="weighted_masked_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.class_weights = [float(weight) for weight in class_weights]

    def call(self, y_true, y_pred):
        labels = ops.cast(y_true, "int32")
        if len(labels.shape) == 4:
            labels = ops.squeeze(labels, axis=-1)
        known = ops.maximum(labels, 0)  # void gets class 0 here and weight 0 below
        weights = ops.take(ops.convert_to_tensor(self.class_weights, y_pred.dtype), known)
        weights = weights * ops.cast(labels >= 0, y_pred.dtype)
        per_pixel = ops.sparse_categorical_crossentropy(known, y_pred)
        # A weighted mean, as PyTorch's CrossEntropyLoss(weight=...): equal weights give
        # masked_loss, and a batch's loss does not grow with its share of rare pixels.
        return ops.sum(per_pixel * weights) / ops.maximum(ops.sum(weights), 1e-7)

    def get_config(self):
        return {**super().get_config(), "class_weights": self.class_weights}


# %% [markdown]
# Two short trainings, the same in every preset so that this notebook stays quick: each takes a
# copy of notebook 5's pretrained model (encoder frozen) and trains it for **one more epoch on 32
# training images**, once with the plain masked loss and once with the weighted one. Same start,
# same batches, same budget.

# %%
tiny_images, tiny_masks = load_split(spec.name, "train", limit=32)


def tiny_batches() -> SegmentationGenerator:
    """The 32 images' batches, new for each training: a generator reshuffles after each epoch."""
    return SegmentationGenerator(
        tiny_images,
        tiny_masks,
        settings.batch_size,
        augment=True,
        seed=settings.seed,
        crop_size=settings.crop_size,
    )


def copy_of(model: keras.Model, frozen_encoder: bool) -> keras.Model:
    """A separate copy of a model, with the same weights; its encoder frozen or trainable."""
    keras.utils.set_random_seed(settings.seed)  # fit shuffles the batches: the same order each time
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return freeze_encoder(copy, frozen=frozen_encoder)


half = slice(None, None, 2)  # every second validation image: the short runs are scored quickly


def on_validation(model: keras.Model) -> tuple[float, dict]:
    """Masked loss and scores on half the validation images, from one inference-mode pass."""
    probabilities = predict(model, val_images[half], tta=False)
    loss = float(masked_loss(val_masks[half], probabilities))
    return loss, scores_from_labels(probabilities.argmax(-1), val_masks[half], spec.num_classes)


weights = median_frequency_weights(shares, power=0.5)
print(
    f"{len(tiny_images)} images in {len(tiny_batches())} batches; class weights: "
    + ", ".join(f"{name} {weight:.2f}" for name, weight in zip(spec.class_names, weights))
)

# %%
plain = copy_of(pretrained, frozen_encoder=True)
plain.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss=masked_loss,
    metrics=[MaskedPixelAccuracy(), mean_iou_metric(spec.num_classes)],
)
plain_history = plain.fit(tiny_batches(), epochs=1, verbose=2).history

weighted = copy_of(pretrained, frozen_encoder=True)
weighted.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss=WeightedMaskedLoss(weights),
    metrics=[MaskedPixelAccuracy(), mean_iou_metric(spec.num_classes)],
)
weighted_history = weighted.fit(tiny_batches(), epochs=1, verbose=2).history

# %% [markdown]
# Both, scored on every second validation image. One epoch on a few dozen images is a small and
# noisy budget: which loss comes out ahead can change with the crops a run draws, so read what
# changed in this run, class by class:

# %%
plain_loss, plain_scores = on_validation(plain)
_, weighted_scores = on_validation(weighted)
summary.append(
    (
        "5. class imbalance",
        "mIoU after 1 more epoch, half the val images",
        plain_scores["mIoU"],
        weighted_scores["mIoU"],
    )
)
scores_table(
    {"plain loss": plain_scores, "weighted loss": weighted_scores}, spec.class_names, change=True
)

# %%
change = {
    name: weighted_scores["per_class_iou"][i] - plain_scores["per_class_iou"][i]
    for i, name in enumerate(spec.class_names)
    if plain_scores["per_class_iou"][i] is not None
}
gained = [name for name, value in change.items() if value > 0.01]
lost = [name for name, value in change.items() if value < -0.01]
miou_change = weighted_scores["mIoU"] - plain_scores["mIoU"]
as_background = {
    name: (scores["confusion"][:, spec.background_index].sum() / scores["confusion"].sum())
    for name, scores in (("plain", plain_scores), ("weighted", weighted_scores))
}
print(
    f"The plain loss predicts {background} on {as_background['plain']:.1%} of the labelled "
    f"validation pixels, the weighted one on {as_background['weighted']:.1%}."
)
print(
    f"Weighting changed mIoU by {miou_change:+.3f}"
    + (" (a small effect in this run)." if abs(miou_change) < 0.02 else ".")
    + (f" Gained over 0.01: {', '.join(gained)}." if gained else " No class gained over 0.01.")
    + (f" Lost over 0.01: {', '.join(lost)}." if lost else " No class lost over 0.01.")
)

# %% [markdown]
# **Rule: look at the class shares first; when rare classes matter, weight the loss (or add a
# Dice or focal term) and check per-class IoU, because what rare classes gain, background may
# lose.**

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Fine-tuning everything at a high learning rate
#
# The tempting next step after notebook 5: unfreeze the encoder and keep training at the
# decoder's learning rate. Two things go wrong at once. Adam moves every encoder weight by about
# the learning rate per step, so ImageNet's features drift; and trainable BatchNorm layers
# normalise each training batch with its own statistics, while inference uses moving averages
# that follow the changed weights only slowly. The wrong way: a copy of notebook 5's model with
# every layer trainable, Adam at 1e-3, one more epoch on the same 32 images.

# %%
print(f"BatchNorm momentum of the encoder: {batchnorm_layers(pretrained)[0].momentum}")
everything = copy_of(pretrained, frozen_encoder=False)
everything.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss=masked_loss,
    metrics=[MaskedPixelAccuracy(), mean_iou_metric(spec.num_classes)],
)
everything_history = everything.fit(tiny_batches(), epochs=1, verbose=2).history

# %% [markdown]
# The right way is the plain run of section 5: the same epoch at the same learning rate with the
# encoder still frozen. Only the decoder learns, on ImageNet's features, and the frozen BatchNorm
# layers run in inference mode with ImageNet's statistics. Validation, like any prediction, runs
# in inference mode (on every second validation image, as in section 5). Notebook 5's model did
# not train here, so its training loss is empty (NaN):

# %%
everything_loss, everything_scores = on_validation(everything)
before_loss = float(masked_loss(val_masks[half], val_probabilities[half]))
before = scores_from_labels(val_labels[half], val_masks[half], spec.num_classes)
summary.append(
    (
        "6. fine-tuning everything at 1e-3",
        "mIoU after 1 more epoch, half the val images",
        everything_scores["mIoU"],
        plain_scores["mIoU"],
    )
)
pd.DataFrame(
    {
        "training loss": [None, everything_history["loss"][-1], plain_history["loss"][-1]],
        "val loss": [before_loss, everything_loss, plain_loss],
        "val mIoU": [before["mIoU"], everything_scores["mIoU"], plain_scores["mIoU"]],
    },
    index=["notebook 5 model", "+1 epoch, everything trainable", "+1 epoch, encoder frozen"],
).astype(float).round(3)

# %%
drop = before["mIoU"] - everything_scores["mIoU"]
print(
    f"One epoch of fine-tuning everything at 1e-3 moved the validation loss from "
    f"{before_loss:.3f} to {everything_loss:.3f} and mIoU from "
    f"{before['mIoU']:.3f} to {everything_scores['mIoU']:.3f}"
    + (" (a small effect in this run)." if abs(drop) < 0.02 else ".")
)
print(f"With the encoder frozen, they went to {plain_loss:.3f} and {plain_scores['mIoU']:.3f}.")
predicted_background = {
    name: scores["confusion"][:, spec.background_index].sum() / scores["confusion"].sum()
    for name, scores in (("fine-tuned", everything_scores), ("frozen", plain_scores))
}
if before["mIoU"] - plain_scores["mIoU"] > 0.02:
    print(
        f"The frozen run's mIoU fell too, from {before['mIoU']:.3f}: one epoch on "
        f"{len(tiny_images)} images at this rate pulls the decoder towards those images."
    )
print(
    f"The fine-tuned model predicts {background} on {predicted_background['fine-tuned']:.1%} "
    f"of the labelled validation pixels, the frozen one on {predicted_background['frozen']:.1%}."
)
print(
    f"The training loss, computed with each batch's own statistics, read "
    f"{everything_history['loss'][-1]:.3f} fine-tuned and {plain_history['loss'][-1]:.3f} "
    "frozen."
)

# %% [markdown]
# To fine-tune the encoder as well, the Keras transfer-learning guide does it only after the
# decoder has learned, at a low learning rate, with the encoder's BatchNorm layers kept in
# inference mode: notebook 5's `fine_tune_epochs` setting.
#
# **Rule: train a new decoder on a frozen encoder first; fine-tune the encoder afterwards, at a
# low learning rate, with its BatchNorm layers in inference mode.**

# %% [markdown] slideshow={"slide_type": "slide"}
# ## All six, in numbers from this run
#
# Each row is one number measured twice: the wrong way, then the right way.

# %%
pd.DataFrame(summary, columns=["pitfall", "measured", "wrong way", "right way"]).set_index(
    "pitfall"
).round(3)
