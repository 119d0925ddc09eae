# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,jupyter,slideshow,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -kernelspec,-jupytext.text_representation
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/segmentation-workshop/transfer-learning-segmentation/blob/main/notebooks/05_training_pretrained.ipynb)
#
# # 5. Training with the pretrained encoder
#
# Same network, same data, same number of epochs. One change: the encoder starts from the weights
# MobileNetV2 learned while classifying ImageNet (`weights="imagenet"`), and in the short presets it
# stays frozen (see below). You train it as in notebook 4, then compare both models on the whole
# validation split.

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
from matplotlib.ticker import MaxNLocator

from workshop_helpers import (
    MaskedPixelAccuracy,
    PredictionPreview,
    SegmentationGenerator,
    build_model,
    compare,
    configure_batchnorm,
    estimate_fit_time,
    evaluate_models,
    freeze_encoder,
    get_trained_model,
    keep_batchnorm_statistics,
    learning_rate_for,
    load_split,
    load_trained_beforehand,
    masked_loss,
    mean_iou_metric,
    per_image_weighted_iou,
    plot_confusion_matrix,
    plot_histories,
    plot_iou_bars,
    plot_predictions,
    predict,
    save_checkpoint,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The same batches

# %% tags=["training"]
train_images, train_masks = load_split(spec.name, "train", limit=settings.max_train_images)
val_images, val_masks = load_split(spec.name, "val")
train_batches = SegmentationGenerator(
    train_images,
    train_masks,
    settings.batch_size,
    augment=True,
    seed=settings.seed,
    crop_size=settings.crop_size,
)
val_batches = SegmentationGenerator(
    val_images, val_masks, settings.batch_size, augment=False, crop_size=settings.crop_size
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Reusing ImageNet's features without breaking them
#
# The pretrained encoder's BatchNorm layers hold ImageNet's statistics, which match its features.
# The Keras transfer-learning guide first trains the new part (here the decoder) on a **frozen**
# encoder, whose BatchNorm layers then run in inference mode, and only later fine-tunes everything
# at a low learning rate, with the BatchNorm layers still in inference mode. The short presets
# (`fast`, `cpu`) do the first step on VOC: in a few minutes of CPU, fine-tuning the whole encoder
# either replaced ImageNet's statistics with the noisy ones of small batches or, with them kept,
# drifted the features of cats and dogs away. On CamVid's street scenes the `cpu` preset fine-tunes
# everything from the first step, the statistics kept and the rate warmed up over one epoch. The
# `full` preset fine-tunes everything, as the original notebook did.

# %% tags=["training"]
keras.utils.set_random_seed(settings.seed)
model = build_model(spec.num_classes, pretrained=True, input_size=settings.crop_size)
if settings.freeze_pretrained_encoder:
    freeze_encoder(model)  # only the decoder trains, on ImageNet's features
configure_batchnorm(model, settings, pretrained=True)  # changes nothing unless you set it to
trainable = sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)
print(f"{model.count_params():,} parameters, {trainable:,} of them training")

# %% [markdown]
# Compile and fit as in notebook 4, with the expected time first. With `fine_tune_epochs` set
# (e.g. `start(fine_tune_epochs=2)`), the last epochs are the guide's second step: the whole
# network trains at the low rate `fine_tune_learning_rate`, and `keep_batchnorm_statistics` keeps
# the encoder's BatchNorm layers in inference mode. No preset does it: on the CPU budget it gained
# nothing.

# %% tags=["training"]
learning_rate = learning_rate_for(settings, len(train_batches))  # a number, or a schedule
model.compile(
    optimizer=keras.optimizers.Adam(learning_rate),
    loss=masked_loss,
    metrics=[MaskedPixelAccuracy(), mean_iou_metric(spec.num_classes)],
)

# %% tags=["training"]
callbacks = [PredictionPreview(val_images[0], val_masks[0], spec)]
if settings.models == "train":
    epochs = settings.epochs - settings.fine_tune_epochs
    print(estimate_fit_time(model, train_batches, epochs, val_batches))
    history = model.fit(
        train_batches,
        validation_data=val_batches,
        epochs=epochs,
        callbacks=callbacks,
    ).history

# %% tags=["training"]
if settings.models == "train" and settings.fine_tune_epochs:
    freeze_encoder(model, frozen=False)
    keep_batchnorm_statistics(model)
    model.compile(
        optimizer=keras.optimizers.Adam(settings.fine_tune_learning_rate),
        loss=masked_loss,
        metrics=[MaskedPixelAccuracy(), mean_iou_metric(spec.num_classes)],
    )
    fine_tuned = model.fit(
        train_batches,
        validation_data=val_batches,
        initial_epoch=len(history["loss"]),
        epochs=settings.epochs,
        callbacks=callbacks,
    ).history
    history = {key: history[key] + fine_tuned[key] for key in history}
if settings.models == "train":
    save_checkpoint(model, history, settings, settings.checkpoint("pretrained"))

# %% [markdown]
# Presenting live, or training failed? As in notebook 4: `workshop-helpers train --pretrained`
# beforehand, then `start(models="checkpoint", weights=True)`, and this cell loads it.

# %%
if settings.models != "train":
    model, history = load_trained_beforehand(settings, "pretrained")

# %% [markdown]
# The scratch model of notebook 4: loaded when notebook 4 trained it with the same settings,
# trained again now otherwise.

# %%
scratch, scratch_history = get_trained_model(settings, pretrained=False, reuse=True)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Loss curves of both models

# %%
histories = {"from scratch": scratch_history, "ImageNet encoder": history}
plot_histories(histories, keys=("loss", "val_loss", "val_mean_iou"))
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Three models on the whole validation split
#
# Notebook 4 showed that part of the scratch model's failure is BatchNorm bookkeeping: its moving
# statistics lag behind its weights. To compare what the encoders *learned*, we also score the
# scratch model with its statistics re-estimated on 64 training images.

# %%
comparison = compare(settings, scratch, model, history)
results = comparison.scores
comparison.table()

# %% [markdown]
# Empty cells (NaN) are classes with no pixel in the validation truth: left out of the mean. Which
# classes did the ImageNet encoder not learn in this run, and why?

# %%
pretrained_iou = results["pretrained"]["per_class_iou"]
pixels = np.bincount(train_masks[train_masks >= 0].ravel(), minlength=spec.num_classes)
images_with = [(train_masks == index).any(axis=(1, 2)).sum() for index in range(spec.num_classes)]
for index, name in enumerate(spec.class_names):
    share = pixels[index] / pixels.sum()
    if pretrained_iou[index] is None:
        where = "in the training photos but" if images_with[index] else "in"
        print(f"{name}: {where} no validation photo, so not scored")
    elif pretrained_iou[index] < 0.1:
        print(
            f"{name}: IoU {pretrained_iou[index]:.3f}, not learned in {settings.epochs} epochs "
            f"from {images_with[index]} training images ({share:.1%} of the labelled pixels)"
        )

# %%
plot_iou_bars(results, spec)
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Where the pixels go
#
# Each row of a confusion matrix is one true class; its cells say which share of that class's pixels
# each model predicted as which class. A perfect model has a bright diagonal.

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
for ax, name in zip(axes, ("scratch, BatchNorm re-estimated", "pretrained")):
    plot_confusion_matrix(results[name]["confusion"], spec, title=name, ax=ax)
plt.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Side by side

# %%
# For each class, the validation image where it covers the most pixels: up to four different ones.
classes = [c for c in range(spec.num_classes) if c != spec.background_index]
shares = np.stack([(val_masks == c).mean(axis=(1, 2)) for c in classes], axis=1)
shown = []
for column in np.argsort(-shares.max(axis=0)):
    best = int(shares[:, column].argmax())
    if shares[best, column] > 0 and best not in shown:
        shown.append(best)
shown = np.array(shown[:4])
predictions = {
    "from scratch": predict(scratch, val_images[shown]),
    "ImageNet encoder": predict(model, val_images[shown]),
}
plot_predictions(val_images[shown], val_masks[shown], predictions, spec)
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Per-image view
#
# The original notebook scored each image by the IoU of each class present in it, weighted by the
# class's share of the image. The distribution shows whether a model is good everywhere or only on
# easy images. Background counts too: a model that finds no object still scores each image's
# background share.

# %%
shown_models = ("scratch, BatchNorm re-estimated", "pretrained")
labels = {name: results[name]["labels"] for name in shown_models}
per_image = {name: per_image_weighted_iou(value, val_masks) for name, value in labels.items()}
plt.figure(figsize=(7, 3.5))
plt.hist(list(per_image.values()), bins=20, range=(0, 1), label=list(per_image))
plt.xlabel("weighted IoU per validation image")
plt.ylabel("images")
plt.gca().yaxis.set_major_locator(MaxNLocator(integer=True))
plt.legend()
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Conclusion
#
# The lesson's claim, checked in this run: the ImageNet encoder beats the scratch model, and the
# scratch model with corrected BatchNorm statistics, by a clear margin of mIoU, and its validation
# loss falls. When it does not, the cell stops and says by how much it missed.

# %%
print(comparison.report())
comparison.verify()
miou = comparison.miou
print(
    f"\nSame network, data and {settings.epochs} epochs: {miou['pretrained']:.3f} against "
    f"{miou['scratch']:.3f} from scratch. The difference is what the encoder learned while "
    "classifying ImageNet."
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercise
#
# Which class gains the most IoU from the ImageNet encoder, compared with the scratch model with
# re-estimated statistics? Look at the table above. Why might that class profit most from features
# learned on ImageNet?

# %%
from workshop_helpers.course import check_most_improved_class

rescored = results["scratch, BatchNorm re-estimated"]
answer = None  # your answer: a class name from the table
check_most_improved_class(answer, rescored, results["pretrained"], spec.class_names)

# %% [markdown] tags=["solution"]
# <details><summary>Solution (click to open)</summary>
#
# Computed from this run's table; classes absent from the truth are left out. ImageNet has many
# photos of such objects.
#
# ```python
# gains = (comparison.table()["pretrained"] - comparison.table()["scratch, BatchNorm re-estimated"])
# best = gains[list(spec.class_names)].idxmax()
# print(f"largest gain: {best} ({gains[best]:+.3f})")
# check_most_improved_class(best, rescored, results["pretrained"], spec.class_names)
# ```
# </details>

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Going further: fine-tune everything
#
# Flip `freeze_pretrained_encoder` and train a third model with otherwise the same settings: does
# fine-tuning the whole encoder help or hurt, and what happens to the validation loss? This cell
# trains for as long as the model above did.

# %% tags=["extra-training"]
from dataclasses import replace

from workshop_helpers import train

flipped = replace(settings, freeze_pretrained_encoder=not settings.freeze_pretrained_encoder)
other, other_history = train(flipped, pretrained=True)
other_scores = evaluate_models({"other": other}, val_images, val_masks, spec.num_classes)
print(
    f"freeze_pretrained_encoder={flipped.freeze_pretrained_encoder}: validation mIoU "
    f"{other_scores['other']['mIoU']:.3f} (the model above: {miou['pretrained']:.3f}); "
    f"validation loss {other_history['val_loss'][0]:.3f} → {other_history['val_loss'][-1]:.3f}"
)

# %% [markdown]
# <details><summary>What to look for (click to open)</summary>
#
# When the encoder's BatchNorm layers train too (`pretrained_batchnorm="train"`, as in the short
# presets on VOC), a few epochs of small batches replace ImageNet's statistics with theirs, and the
# features built on them can be lost, down to the scratch model's score. Train it once more with
# `replace(flipped, pretrained_batchnorm="inference")`: the statistics are kept, as the Keras guide
# advises. In a few epochs at this rate the weights can still drift from ImageNet's features, which
# is why the short presets keep the encoder frozen on VOC.
# </details>

# %% [markdown]
# Next: **6. Demos.**
