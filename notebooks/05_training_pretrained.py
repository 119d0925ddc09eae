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
# stays frozen (see below). Then we compare both models on the whole validation split.

# %% slideshow={"slide_type": "skip"}
# Setup: in Colab, install the workshop first; then settings, data and weights.
import sys

if "google.colab" in sys.modules:
    import subprocess

    url = "https://github.com/segmentation-workshop/transfer-learning-segmentation"
    subprocess.run(f"git clone -q --depth 1 {url} workshop && pip install -q -e workshop",
                   shell=True, check=True)
    sys.path.insert(0, "workshop")
from workshop_helpers.session import start

settings, spec = start(weights=True)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Reusing ImageNet's features without breaking them
#
# The pretrained encoder's BatchNorm layers hold ImageNet's statistics, which match its features.
# The Keras transfer-learning guide first trains the new part (here the decoder) on a **frozen**
# encoder, whose BatchNorm layers then run in inference mode, and only later fine-tunes everything
# at a low learning rate. The short presets (`fast`, `cpu`) do the first step: in a few minutes of
# CPU, fine-tuning the whole encoder either replaced ImageNet's statistics with the noisy ones of
# small batches or, with them kept, drifted the features away (`benchmarks/RESULTS.md` has the
# measurements). The `full` preset fine-tunes everything, as the original notebook did. This run:

# %%
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from workshop_helpers import get_trained_model, load_split, predict
from workshop_helpers.comparison import compare, evaluate_models
from workshop_helpers.metrics import per_image_weighted_iou
from workshop_helpers.plotting import (PredictionPreview, plot_confusion_matrix, plot_histories,
                                       plot_iou_bars, plot_predictions)

val_images, val_masks = load_split(spec.name, "val")
if settings.freeze_pretrained_encoder:
    print("the pretrained encoder is frozen: only the decoder trains, on ImageNet's features")
else:
    print("the whole network fine-tunes; the encoder's BatchNorm layers in "
          f"{settings.pretrained_batchnorm} mode")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Train (or load the models trained beforehand)
#
# `start(models="checkpoint")` (or `WORKSHOP_MODELS=checkpoint`) loads models trained beforehand
# with `python -m workshop_helpers train --pretrained` (and `--scratch`) or downloaded with
# `fetch-checkpoints`. The scratch model of notebook 4 is reused when it was trained with the same
# settings; otherwise it is trained now.

# %%
preview = [PredictionPreview(val_images[0], val_masks[0], spec)] if settings.show_progress else []
pretrained, pretrained_history = get_trained_model(settings, pretrained=True, callbacks=preview)
scratch, scratch_history = get_trained_model(settings, pretrained=False, reuse=True)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Loss curves of both models

# %%
histories = {"from scratch": scratch_history, "ImageNet encoder": pretrained_history}
plot_histories(histories, keys=("loss", "val_loss", "val_mean_iou"))
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Three models on the whole validation split
#
# Notebook 4 showed that part of the scratch model's failure is BatchNorm bookkeeping: its moving
# statistics lag behind its weights. To compare what the encoders *learned*, we also score the
# scratch model with its statistics re-estimated on 64 training images.

# %%
comparison = compare(settings, scratch, pretrained, pretrained_history)
results = comparison.scores
print(f"{'':>14} | " + " | ".join(f"{name:>31}" for name in results))
for index, name in enumerate(spec.class_names):
    cells = [results[model]["per_class_iou"][index] for model in results]
    print(f"{name:>14} | " + " | ".join(f"{'n/a' if v is None else f'{v:.3f}':>31}" for v in cells))
for key in ("mIoU", "pixel_accuracy"):
    print(f"{key:>14} | " + " | ".join(f"{results[model][key]:>31.3f}" for model in results))
for index in next(iter(results.values()))["skipped"]:
    print(f"{spec.class_names[index]}: no pixel in the validation truth, left out of the mean")

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
predictions = {"from scratch": predict(scratch, val_images[shown]),
               "ImageNet encoder": predict(pretrained, val_images[shown])}
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
# The lesson's claim, checked on every run: the pretrained model beats the scratch model, and the
# scratch model with corrected BatchNorm statistics, by the margins set for this dataset and preset
# (`workshop_helpers.comparison.MARGINS`), and its validation loss falls. The cell stops with an
# error when the claim does not hold, so CI fails if the ImageNet features stop helping.

# %%
print(comparison.report())
miou = comparison.miou
print(f"\nAfter {settings.epochs} epochs on {spec.name}, the ImageNet encoder reaches validation "
      f"mIoU "
      f"{miou['pretrained']:.3f}, against {miou['scratch']:.3f} from scratch and "
      f"{miou['scratch, BatchNorm re-estimated']:.3f} from scratch with re-estimated statistics.")
assert comparison.holds, "The lesson's claim does not hold in this run: see the checks above."
print("Same network, data and epochs: the difference is what the encoder learned while "
      "classifying ImageNet.")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercise
#
# Which class gains the most IoU from the ImageNet encoder, compared with the scratch model with
# re-estimated statistics? Look at the table above. Why might that class profit most from features
# learned on ImageNet?

# %%
from workshop_helpers.exercises import check_most_improved_class

rescored = results["scratch, BatchNorm re-estimated"]
answer = None  # your answer: a class name from the table
check_most_improved_class(answer, rescored, results["pretrained"], spec.class_names)

# %% jupyter={"source_hidden": true} tags=["solution"]
# Solution: computed from this run's table; classes absent from the truth are left out.
gains = {name: pretrained_iou - recalibrated_iou
         for name, pretrained_iou, recalibrated_iou in zip(
             spec.class_names, results["pretrained"]["per_class_iou"],
             results["scratch, BatchNorm re-estimated"]["per_class_iou"])
         if pretrained_iou is not None}
best = max(gains, key=gains.get)
print(f"largest gain: {best} ({gains[best]:+.3f}); ImageNet has many images of such objects")
print(check_most_improved_class(best, rescored, results["pretrained"], spec.class_names))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Going further: fine-tune everything
#
# Flip `freeze_pretrained_encoder` and train again with otherwise the same settings: does
# fine-tuning the whole encoder help or hurt, and what happens to the validation loss? (This cell
# trains a third model, so it is skipped in the `fast` preset.)

# %%
from dataclasses import replace

from workshop_helpers import train

if not settings.fast:
    flipped = replace(settings, freeze_pretrained_encoder=not settings.freeze_pretrained_encoder)
    other, other_history = train(flipped, pretrained=True)
    other_scores = evaluate_models({"other": other}, val_images, val_masks, spec.num_classes)
    other_miou = other_scores["other"]["mIoU"]
    print(f"freeze_pretrained_encoder={flipped.freeze_pretrained_encoder}: validation mIoU "
          f"{other_miou:.3f} (this run: {miou['pretrained']:.3f}); validation loss "
          f"{other_history['val_loss'][0]:.3f} → {other_history['val_loss'][-1]:.3f}")

# %% [markdown]
# Next: **6. Demos.**
