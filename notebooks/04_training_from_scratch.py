# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,jupyter,slideshow,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -kernelspec,-jupytext.text_representation
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/segmentation-workshop/transfer-learning-segmentation/blob/main/notebooks/04_training_from_scratch.ipynb)
#
# # 4. Training from scratch
#
# First the baseline: the network of notebook 3 with **random** encoder weights, trained on our
# small dataset. You build the batches and the network, compile it, fit it, and then find out why
# the result is poor.

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

# %% [markdown]
# The line above is this run's recipe. The `full` preset is the original notebook's: Adam with
# learning rate 1e-4, batch 4, 20 epochs on 224×224 crops (hours on a laptop CPU, minutes on a
# GPU). `cpu` is the laptop track and `fast` trains 2 epochs on 144 images, to rehearse. Unless you
# name one, `start()` picks `full` where it finds a GPU and `cpu` where it finds none, and says so.
# To change a value, pass it to `start(...)` above, e.g. `start(preset="full")` or
# `start(epochs=5)`; `print(settings)` lists them all.

# %% slideshow={"slide_type": "skip"}
import keras
import matplotlib.pyplot as plt
import numpy as np

from workshop_helpers import (
    MaskedPixelAccuracy,
    PredictionPreview,
    SegmentationGenerator,
    batchnorm_layers,
    build_model,
    estimate_fit_time,
    evaluate,
    freeze_encoder,
    learning_rate_for,
    load_split,
    load_trained_beforehand,
    masked_loss,
    mean_iou_metric,
    plot_histories,
    plot_predictions,
    plot_segmentation,
    predict,
    preprocess,
    save_checkpoint,
    set_batchnorm_momentum,
    with_reestimated_batchnorm,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The batches
#
# The generator of notebook 2: for training, random windows of `settings.crop_size` pixels, half
# of them flipped, reshuffled every epoch; for validation, the centre window of each image.

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
print(
    f"{len(train_images)} training images in {len(train_batches)} batches of "
    f"{settings.batch_size}; {len(val_images)} validation images"
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The network
#
# `build_model` is the network you built in notebook 3. `pretrained=False` gives the encoder random
# weights: everything it knows, it will learn from our images.

# %% tags=["training"]
keras.utils.set_random_seed(settings.seed)  # the same random weights in every run
model = build_model(spec.num_classes, pretrained=False, input_size=settings.crop_size)
set_batchnorm_momentum(model, settings.batchnorm_momentum)  # None keeps MobileNetV2's 0.999
print(f"{model.count_params():,} parameters, all of them random")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Compile
#
# `compile` chooses how the network learns: the optimizer (Adam, at the preset's learning rate),
# the loss it minimises (the masked loss of notebook 3), and the metrics Keras reports after each
# epoch (pixel accuracy and mean IoU, both ignoring void). `learning_rate_for` reads the rate from
# the settings: a number, or for the `cpu` preset a schedule that lowers it along a cosine, to 0 at
# the last step (with `warmup_epochs`, it first rises from a tenth of the rate).

# %% tags=["training"]
learning_rate = learning_rate_for(settings, len(train_batches))  # a number, or a schedule
model.compile(
    optimizer=keras.optimizers.Adam(learning_rate),
    loss=masked_loss,
    metrics=[MaskedPixelAccuracy(), mean_iou_metric(spec.num_classes)],
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Fit
#
# `fit` runs the epochs: one pass over the training batches, then one over the validation batches,
# each ending in a line with the loss and the metrics (`val_` for validation). Under it, the
# callback `PredictionPreview` shows the prediction on one validation image, one picture redrawn
# after each epoch. The trained model is saved, for notebooks 5 to 7. First, `estimate_fit_time`
# times a few training steps on this machine and tells you how long the whole fit should take; it
# then puts the weights back, so the fit starts from the same random network.

# %% tags=["training"]
callbacks = [PredictionPreview(val_images[0], val_masks[0], spec)]
if settings.models == "train":
    print(estimate_fit_time(model, train_batches, settings.epochs, val_batches))
    history = model.fit(
        train_batches, validation_data=val_batches, epochs=settings.epochs, callbacks=callbacks
    ).history
    save_checkpoint(model, history, settings, settings.checkpoint("scratch"))

# %% [markdown]
# Presenting live, or training failed? Load the model trained beforehand instead, as the original
# notebook did: train it with `workshop-helpers train --scratch` (same settings), then
# start this notebook with `start(models="checkpoint")`. The cell above then trains nothing, and
# this one loads.

# %%
if settings.models != "train":
    model, history = load_trained_beforehand(settings, "scratch")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Loss curves

# %%
plot_histories({"from scratch": history}, keys=("loss", "val_loss", "mean_iou", "val_mean_iou"))
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## What does it predict?
#
# Fixed validation images: the photo, the ground truth and the prediction as overlays.

# %%
shown = np.linspace(0, len(val_images) - 1, 4).round().astype(int)
scratch_probabilities = predict(model, val_images[shown])
plot_predictions(val_images[shown], val_masks[shown], {"from scratch": scratch_probabilities}, spec)
plt.show()

# %% [markdown]
# The per-class probability maps, each titled with its mean over the image. Flat maps near
# 1 / (number of classes) mean the model is unsure everywhere.

# %%
plot_segmentation(val_images[shown[0]], scratch_probabilities[0], spec)
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## mIoU over the whole validation split
#
# For each class, IoU = |prediction ∩ truth| / |prediction ∪ truth| over all validation pixels; mIoU
# is their mean. Void pixels are ignored, and so is a class with no pixel in the truth.
#
# This is not quite the `val_mean_iou` of Keras' last epoch line: Keras scores the centre crop of
# each validation image in one pass and averages over every class that was predicted or is in the
# truth; `evaluate` scores the whole 256×256 image, averages the prediction with that of the
# left-right flipped image, and leaves out classes with no pixel in the truth.

# %%
scores = evaluate(model, val_images, val_masks, spec.num_classes)
print(
    f"validation mIoU {scores['mIoU']:.3f} (Keras during fit: {history['val_mean_iou'][-1]:.3f}),"
    f" pixel accuracy {scores['pixel_accuracy']:.3f}"
)
for name, iou in zip(spec.class_names, scores["per_class_iou"]):
    print(f"{name:>12}: {'no pixel in the truth, not scored' if iou is None else round(iou, 3)}")
trained_only = [
    name
    for index, name in enumerate(spec.class_names)
    if scores["per_class_iou"][index] is None and (train_masks == index).any()
]
if trained_only:
    print(
        f"{' and '.join(trained_only)}: in the training photos, so the model learns it, but in "
        "none of this run's validation photos, so it cannot be scored here."
    )

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Why it fails
#
# Two reasons.
#
# 1. **Too little data.** A few hundred images (144 in the `fast` preset) cannot teach 2.3 million
#    encoder weights what edges, textures and object parts look like; ImageNet's 1.3 million images
#    did that for the pretrained encoder.
# 2. **BatchNorm statistics lag behind.** MobileNetV2 normalises each layer with statistics of the
#    current batch while training, but at inference it uses *moving averages*, updated after each
#    step with a momentum (MobileNetV2's 0.999 moves them 0.1 % of the way per step). After a few
#    hundred steps they may still be close to their initial values (mean 0, variance 1), far from
#    the real statistics of a network whose weights changed. Then inference-mode predictions
#    collapse even when the training loss falls.
#
# We measure the second: the first BatchNorm layer's moving variance against the variance of the
# features it actually receives.

# %%
calibration_images, _ = load_split(spec.name, "train", limit=64)
first_bn = batchnorm_layers(model)[0]
size = model.input_shape[1]
# Centre crops, as the validation generator takes them.
start_px = (calibration_images.shape[1] - size) // 2
crops = preprocess(calibration_images[:16, start_px : start_px + size, start_px : start_px + size])
features = keras.Model(model.input, model.get_layer("Conv1").output).predict(crops, verbose=0)
moving = np.mean(keras.ops.convert_to_numpy(first_bn.moving_variance))
actual = features.var((0, 1, 2)).mean()
print(f"BatchNorm momentum: {first_bn.momentum}")
print(f"moving variance (mean over channels): {moving:.3f}")
ratio = max(moving, actual) / max(min(moving, actual), 1e-9)
print(
    f"actual variance of its inputs:         {actual:.3f} "
    f"({ratio:.0f}x {'smaller' if actual < moving else 'larger'} than the moving variance)"
)

# %% [markdown]
# Now we re-estimate every BatchNorm layer's statistics from 64 training images (a copy of the
# model, no weight changes) and score the validation split again.

# %%
recalibrated = with_reestimated_batchnorm(model, calibration_images)
recalibrated_scores = evaluate(recalibrated, val_images, val_masks, spec.num_classes)
gain = recalibrated_scores["mIoU"] - scores["mIoU"]
print(f"validation mIoU with the moving statistics:   {scores['mIoU']:.3f}")
print(
    f"validation mIoU with re-estimated statistics: {recalibrated_scores['mIoU']:.3f} ({gain:+.3f})"
)
if gain > 0.02:
    print(
        "The lagging statistics explain part of the failure: the network had learned more "
        "than its inference mode showed."
    )
elif ratio > 2:
    print(
        "Re-estimating fixed the statistics but not the verdict: the network still predicts "
        "much as before, so what remains is what it could not learn from this little data."
    )
else:
    print(
        "Here the moving statistics were already close: what remains is what the network "
        "could not learn from this little data."
    )

# %% [markdown]
# When there is a gap between the two numbers, it is the part of the failure that the lagging
# statistics explain: the network had learned something, but inference mode normalised its features
# with the wrong numbers. What remains is the lack of features that a few hundred images cannot
# teach. Notebook 5 attacks that part: the encoder starts from ImageNet weights, whose BatchNorm
# statistics already match their features. To compare features with features, notebook 5 scores the
# scratch model with its statistics re-estimated too.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercise
#
# Freezing the encoder (training only the decoder) is a common way to save time. How many parameters
# would still train? Why does freezing make no sense for a *random* encoder? Try it with
# `freeze_encoder`.

# %%
from workshop_helpers.course import check_trainable_with_frozen_encoder

frozen = freeze_encoder(build_model(spec.num_classes))  # look at frozen.trainable_weights
answer = None  # your answer: parameters that still train with a frozen encoder
check_trainable_with_frozen_encoder(answer, model)

# %% [markdown] tags=["solution"]
# <details><summary>Solution (click to open)</summary>
#
# Only the decoder trains. A frozen *random* encoder would feed the decoder random features
# forever, so the decoder alone would have to work from noise-like inputs.
#
# ```python
# trainable = sum(int(np.prod(w.shape)) for w in frozen.trainable_weights)
# print(f"trainable with a frozen encoder: {trainable:,} of {frozen.count_params():,}")
# check_trainable_with_frozen_encoder(trainable, model)
# ```
# </details>

# %% [markdown]
# Next: **5. Training with the pretrained encoder.**
