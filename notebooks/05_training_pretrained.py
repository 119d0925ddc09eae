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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/segmentation-workshop/transfer-learning-segmentation/blob/main/notebooks/05_training_pretrained.ipynb)
#
# # 5. Training with the pretrained encoder
#
# Same network, same data, same recipe. One change: the encoder starts from the weights MobileNetV2 learned while
# classifying ImageNet (`weights="imagenet"`). Then we compare both models on the whole validation split.

# %%
# Setup: in Colab, fetch and install the workshop's helpers; locally this does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run("git clone -q --depth 1 https://github.com/segmentation-workshop/transfer-learning-segmentation"
                   " workshop; pip install -q -e workshop", shell=True, check=True)
    sys.path.insert(0, "workshop")

# %%
import matplotlib.pyplot as plt
import numpy as np

from workshop_helpers import (build_model, compile_model, evaluate, freeze_encoder, get_spec, load_or_train,
                              load_split, load_trained, predict, predict_labels, train)
from workshop_helpers.download import ensure_imagenet_weights, ensure_prepared
from workshop_helpers.metrics import per_image_weighted_iou, scores_from_labels
from workshop_helpers.pipeline import SegmentationGenerator
from workshop_helpers.plotting import plot_histories, plot_iou_bars, plot_predictions
from workshop_helpers.settings import load_settings

settings = load_settings()
spec = get_spec(settings.dataset)
ensure_prepared(spec.name)
ensure_imagenet_weights()  # offline copies, when a mirror is configured; otherwise Keras downloads them
print(settings.describe())

# %% [markdown]
# ## Train (or load the fallback checkpoints)
#
# `USE_FALLBACK = True` loads models trained beforehand with
# `python -m workshop_helpers train --pretrained` (and `--scratch`) instead of training here.

# %%
USE_FALLBACK = settings.use_checkpoints

# %%
if USE_FALLBACK:
    pretrained, pretrained_history = load_trained(settings.checkpoint("pretrained"))
else:
    pretrained, pretrained_history = train(checkpoint=settings.checkpoint("pretrained"),
                                           **settings.train_kwargs(pretrained=True))

# %% [markdown]
# The scratch model of notebook 4 is reused when its checkpoint exists; otherwise it is trained now.

# %%
if USE_FALLBACK:
    scratch, scratch_history = load_trained(settings.checkpoint("scratch"))
else:
    scratch, scratch_history = load_or_train(settings.checkpoint("scratch"), **settings.train_kwargs(pretrained=False))

# %% [markdown]
# ## Loss curves of both models

# %%
histories = {"from scratch": scratch_history, "ImageNet encoder": pretrained_history}
plot_histories(histories, keys=("loss", "val_loss", "val_mean_iou"))
plt.show()

# %% [markdown]
# ## mIoU and per-class IoU on the whole validation split

# %%
val_images, val_masks = load_split(spec.name, "val")
models = {"from scratch": scratch, "ImageNet encoder": pretrained}
val_labels = {name: predict_labels(model, val_images) for name, model in models.items()}
results = {name: scores_from_labels(labels, val_masks, spec.num_classes) for name, labels in val_labels.items()}

rows = [(name, *(results[m]["per_class_iou"][index] for m in results)) for index, name in enumerate(spec.class_names)]
rows += [(key, *(results[m][key] for m in results)) for key in ("mIoU", "pixel_accuracy")]
print(f"{'':>14} | {'from scratch':>12} | {'ImageNet encoder':>16}")
for name, scratch_value, pretrained_value in rows:
    cells = ["n/a" if v is None else f"{v:.3f}" for v in (scratch_value, pretrained_value)]
    print(f"{name:>14} | {cells[0]:>12} | {cells[1]:>16}")

# %%
plot_iou_bars(results, spec.class_names)
plt.show()

# %% [markdown]
# ## Side by side

# %%
shown = np.linspace(0, len(val_images) - 1, 4).round().astype(int)
predictions = {name: predict(model, val_images[shown]) for name, model in models.items()}
plot_predictions(val_images[shown], val_masks[shown], predictions, spec)
plt.show()

# %% [markdown]
# ## Per-image view
#
# The seed scored each image by the IoU of each class present in it, weighted by the class's share of the
# image. The distribution shows whether a model is good everywhere or only on easy images.

# %%
per_image = {name: per_image_weighted_iou(labels, val_masks) for name, labels in val_labels.items()}
plt.hist(list(per_image.values()), bins=20, range=(0, 1), label=list(per_image))
plt.xlabel("weighted IoU per validation image")
plt.ylabel("images")
plt.legend()
plt.show()

# %% [markdown]
# ## Conclusion

# %%
scratch_miou, pretrained_miou = results["from scratch"]["mIoU"], results["ImageNet encoder"]["mIoU"]
print(f"After {settings.epochs} epochs on {spec.name}, the ImageNet encoder reaches validation mIoU "
      f"{pretrained_miou:.3f} against {scratch_miou:.3f} from scratch "
      f"({pretrained_miou / max(scratch_miou, 1e-6):.1f}x). Same network, data and recipe: the difference is "
      "what the encoder learned while classifying ImageNet.")

# %% [markdown]
# The lesson's claim, checked on every CI run: the pretrained model's validation mIoU beats the scratch model's
# by a clear margin (at least 0.05).

# %%
# NBVAL_CHECK_OUTPUT
print("pretrained beats scratch by a clear margin:", pretrained_miou - scratch_miou >= 0.05)

# %% [markdown]
# ## Exercise
#
# Freeze the pretrained encoder (`freeze_encoder`) and train only the decoder. How do training speed and mIoU
# compare with fine-tuning everything?

# %% tags=["solution"] jupyter={"source_hidden": true}
# Solution: a frozen encoder trains about twice as fast per image (no encoder gradients) and keeps its ImageNet
# BatchNorm statistics; with little data it often comes close to full fine-tuning.
train_images, train_masks = load_split(spec.name, "train", limit=32 if settings.fast else settings.max_train_images)
frozen = compile_model(freeze_encoder(build_model(spec.num_classes, pretrained=True)), spec.num_classes,
                       settings.learning_rate)
frozen.fit(SegmentationGenerator(train_images, train_masks, settings.batch_size, augment=True),
           epochs=1 if settings.fast else settings.epochs, verbose=0)
print(f"frozen encoder: validation mIoU {evaluate(frozen, val_images, val_masks, spec.num_classes)['mIoU']:.3f}")

# %% [markdown]
# Next: **6. Demos.**
