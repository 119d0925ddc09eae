# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,jupyter,slideshow,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -kernelspec,-jupytext.text_representation
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/segmentation-workshop/transfer-learning-segmentation/blob/main/notebooks/10_distillation.ipynb)
#
# # 10. Appendix: transfer learning through distillation
#
# The pretrained model of notebook 5 is good but heavy: its decoder works at full resolution, and
# a phone or the live loop on a weak laptop feels it. Can a network a fraction of its size do
# nearly as well? Here the trained network becomes a **teacher**: a small **student** learns
# from the teacher's answers, from the labels, or from both. Transfer learning again, this time
# from one network to another: the third part of the original workshop.

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

# %%
from dataclasses import replace

import keras
import numpy as np
import pandas as pd
from IPython.display import display
from keras import layers, ops

from workshop_helpers import (
    SegmentationGenerator,
    build_encoder,
    display_path,
    evaluate,
    freeze_encoder,
    get_trained_model,
    keep_batchnorm_statistics,
    learning_rate_for,
    load_split,
    masked_loss,
)
from workshop_helpers.course import (
    STUDENT_FILTERS,
    STUDENT_LEARNING_RATE,
    STUDENT_OUTPUTS,
    TEMPERATURE,
    DistillationLoss,
    TeacherTargets,
    costs,
    logits_of,
    results_table,
)
from workshop_helpers.demos import SegmentationViewer, export_model, sample_images

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The teacher
#
# The pretrained model of notebook 5 for these settings: loaded when notebook 5 trained it, trained
# now otherwise. Its scores on the validation photos are what the students aim at.

# %%
teacher, _ = get_trained_model(settings, pretrained=True, reuse=True)
train_images, train_masks = load_split(spec.name, "train", limit=settings.max_train_images)
val_images, val_masks = load_split(spec.name, "val")
scores = {"teacher": evaluate(teacher, val_images, val_masks, spec.num_classes, tta=False)}
print(f"Teacher: validation mIoU {scores['teacher']['mIoU']:.3f} on {len(val_images)} photos")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## A student you can read in one cell
#
# Three savings, each visible below:
# 1. it looks at the photo at **half the resolution** (4× fewer pixels), averaging each 2×2
#    square;
# 2. it keeps MobileNetV2 only **up to 1/16** of what it sees, dropping the last blocks and their
#    1,280 channels;
# 3. its decoder is **thin**: two separable convolutions, and it stops at 1/8 of the photo, then
#    upsamples its class scores bilinearly.
#
# The encoder still starts from ImageNet's weights: the first transfer of this workshop stays.


# %% tags=["package:course/distillation.py"]
def build_student(num_classes: int, pretrained: bool = True, input_size: int = 224) -> keras.Model:
    """Half the resolution, MobileNetV2 up to 1/16, a thin decoder; its scores upsampled 8x."""
    inputs = keras.Input((input_size, input_size, 3))
    half = layers.AveragePooling2D(2, name="half_resolution")(inputs)  # 4x fewer pixels
    mobilenet = keras.applications.MobileNetV2(input_tensor=half, include_top=False, weights=None)
    if pretrained:  # the same convolutions at any size: ImageNet's 224² weights fit
        mobilenet.set_weights(build_encoder(224, pretrained=True).get_weights())
    x, *skips = [mobilenet.get_layer(name).output for name in STUDENT_OUTPUTS]
    x = layers.Conv2D(128, 1, activation="relu")(x)  # 1/32 of the photo, 96 channels
    for skip, filters in zip(skips, STUDENT_FILTERS):
        x = layers.UpSampling2D()(x)
        x = layers.Concatenate()([x, skip])
        x = layers.SeparableConv2D(filters, 3, padding="same", activation="relu")(x)
    x = layers.Conv2D(num_classes, 1)(x)  # class scores at 1/8 of the photo
    x = layers.UpSampling2D(8, interpolation="bilinear", name="prediction")(x)
    outputs = layers.Softmax(name="probabilities")(x)
    return keras.Model(inputs, outputs, name="student")


# %% [markdown]
# What it costs against the teacher, measured on this machine: parameters, floating-point
# operations of one 224² image, milliseconds per photo when labelling 8 photos at a time (as
# `evaluate` does, without flips), the frame rate of notebook 6's live loop (one frame at a time,
# with the camera's and the overlay's work around it), and the size of the ONNX file notebook 7
# would export. Timing and exporting take a few seconds per model.

# %%
photos = val_images[:8]
costs_by_model = {"teacher": costs(teacher, spec, photos)}
untrained = build_student(spec.num_classes, pretrained=False, input_size=settings.crop_size)
cost_table = pd.DataFrame(
    {"teacher": costs_by_model["teacher"], "student": costs(untrained, spec, photos)}
)
gain = cost_table["teacher"] / cost_table["student"]
gain["live loop FPS"] = 1 / gain["live loop FPS"]  # more frames per second is the gain there
cost_table["student's gain (x)"] = gain
display(cost_table.round(2))


# %% [markdown] slideshow={"slide_type": "slide"}
# ## The distillation loss
#
# The teacher does not only say *cat* for a pixel: its softmax says how cat-like, how dog-like,
# how much like background. Those shares carry what it learned. Dividing the scores (logits) by a
# **temperature** T > 1 before the softmax softens them, so that the small shares count too
# (Hinton et al., 2015). Per pixel, the student pays the **KL divergence** from the teacher's
# softened answer to its own, times T² (which keeps the gradients the same size whatever T). A
# weight `alpha` mixes it with notebook 3's masked loss on the labels. Void pixels count in
# neither term, as in notebook 3.


# %% tags=["package:course/distillation.py"]
def distillation_loss(labels, teacher_logits, student_logits, temperature=TEMPERATURE, alpha=0.5):
    """alpha x the masked loss on the labels + (1 - alpha) x T² x KL(teacher || student) at
    temperature T, per pixel; void pixels (label -1) count in neither term."""
    labels = ops.cast(labels, "int32")
    valid = ops.cast(labels >= 0, "float32")
    label_term = masked_loss(labels, ops.softmax(student_logits, axis=-1))
    teacher = ops.softmax(teacher_logits / temperature, axis=-1)  # softened, per pixel
    log_teacher = ops.log_softmax(teacher_logits / temperature, axis=-1)
    log_student = ops.log_softmax(student_logits / temperature, axis=-1)
    per_pixel = ops.sum(teacher * (log_teacher - log_student), axis=-1)
    # T² keeps the teacher term's gradients the same size whatever the temperature (Hinton et al.).
    teacher_term = temperature**2 * ops.sum(per_pixel * valid) / ops.maximum(ops.sum(valid), 1.0)
    return alpha * label_term + (1 - alpha) * teacher_term


# %% [markdown]
# Keras has a distillation API (`keras.distillation`, from Keras 3.12). Its `LogitsDistillation`
# with a `KLDivergence` loss computes the same teacher term, per pixel along the last axis; ours
# adds the labels and leaves void out. Checked here on a few pixels of the teacher's own answers:

# %%
x, y = SegmentationGenerator(
    val_images[:2], val_masks[:2], 2, augment=False, crop_size=settings.crop_size
)[0]
teacher_scores = logits_of(teacher).predict_on_batch(x)
student_scores = logits_of(untrained).predict_on_batch(x)
ours = distillation_loss(np.zeros(x.shape[:3]), teacher_scores, student_scores, alpha=0.0)
print(f"our teacher term, no void: {float(ours):.5f}")
if hasattr(keras, "distillation"):
    reference = keras.distillation.LogitsDistillation(TEMPERATURE, keras.losses.KLDivergence())
    keras_term = float(reference.compute_loss(teacher_scores, student_scores))
    print(f"keras.distillation:        {keras_term:.5f}")
    assert np.isclose(float(ours), keras_term, rtol=1e-3), "the two teacher terms differ"
else:
    print(f"This Keras ({keras.__version__}) has no keras.distillation: nothing to compare with.")
with_void = distillation_loss(y[..., 0], teacher_scores, student_scores, alpha=0.0)
print(f"with this batch's {int((y < 0).sum()):,} void pixels left out: {float(with_void):.5f}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Three students, trained the same way
#
# Each student trains on random crops of the same training photos, for the same epochs, with its
# encoder treated as notebook 5 treated the teacher's, at `STUDENT_LEARNING_RATE` (its small
# decoder takes larger steps than the teacher's). They differ only in what they learn from:
#
# | student | learns from | `alpha` |
# |---|---|---|
# | labels only | the masks, like notebook 5 | 1 |
# | teacher only | the teacher's answer on each crop: no mask needed | 0 |
# | labels + teacher | both | 0.5 |
#
# The teacher-only student never sees a mask: the same recipe would work on photos nobody
# annotated. `TeacherTargets` (in the package) passes each batch through the teacher and hands the
# student its scores beside the labels.


# %% tags=["package:course/distillation.py"]
def train_student(settings, num_classes: int, teacher, images, masks, alpha, labels=True):
    """A student trained on the training photos' crops: alpha weighs the labels, 1 - alpha the
    teacher; labels=False trains it on the teacher's answers alone."""
    keras.utils.set_random_seed(settings.seed)
    batches = SegmentationGenerator(
        images,
        masks,
        settings.batch_size,
        augment=True,
        seed=settings.seed,
        crop_size=settings.crop_size,
    )
    targets = TeacherTargets(batches, teacher if alpha < 1 else None, num_classes, labels)
    student = build_student(num_classes, pretrained=True, input_size=settings.crop_size)
    if settings.freeze_pretrained_encoder:
        freeze_encoder(student)  # ImageNet's features, as the teacher's decoder had them
    else:
        keep_batchnorm_statistics(student)  # the Keras guide's fine-tuning
    scores = logits_of(student)  # the same weights, answering before the softmax
    learning_rate = learning_rate_for(
        replace(settings, learning_rate=STUDENT_LEARNING_RATE), len(targets)
    )
    scores.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=DistillationLoss(alpha))
    scores.fit(targets, epochs=settings.epochs)
    return student


# %%
recipes = {
    "labels only": (1.0, True),
    "teacher only": (0.0, False),
    "labels + teacher": (0.5, True),
}
students = {}
for name, (alpha, labels) in recipes.items():
    print(f"--- {name} (alpha {alpha})")
    students[name] = train_student(
        settings, spec.num_classes, teacher, train_images, train_masks, alpha, labels
    )
    scores[name] = evaluate(students[name], val_images, val_masks, spec.num_classes, tta=False)
    costs_by_model[name] = costs(students[name], spec, photos)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The results
#
# IoU per class and mIoU on the validation photos (no flips for anyone), then the costs. Empty
# cells (NaN) are classes absent from the validation truth.

# %%
table = results_table(scores, costs_by_model, spec.class_names)
display(table)

# %% [markdown]
# In words, from this run's numbers:

# %%
best = max(students, key=lambda name: scores[name]["mIoU"])
teacher_miou = scores["teacher"]["mIoU"]
speed = costs_by_model["teacher"]["ms per photo"] / costs_by_model[best]["ms per photo"]
live = costs_by_model[best]["live loop FPS"] / costs_by_model["teacher"]["live loop FPS"]
print(
    f"The best student ({best}) labels photos {speed:.1f}x faster than the teacher (8 at a "
    f"time; {live:.1f}x the frame rate in the live loop, one frame at a time) and keeps "
    f"{scores[best]['mIoU'] / teacher_miou:.0%} of its mIoU "
    f"({scores[best]['mIoU']:.3f} against {teacher_miou:.3f})."
)
gain = scores["labels + teacher"]["mIoU"] - scores["labels only"]["mIoU"]
if gain > 0:
    print(f"Learning from the teacher as well as the labels gained {gain:+.3f} mIoU.")
else:
    print(
        f"Here the teacher did not help the labelled student ({gain:+.3f} mIoU): in this run its "
        "answers added nothing that the labels did not already give."
    )
print(
    f"With no mask at all, the teacher-only student reached {scores['teacher only']['mIoU']:.3f}: "
    f"{scores['teacher only']['mIoU'] / teacher_miou:.0%} of its teacher."
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The student in the demos
#
# A student is a Keras model like the teacher, so notebook 6's viewer and live loop and notebook
# 7's export take it as they are. Here the best student in the viewer, on validation photos and the
# bundled ones:

# %%
shown = {f"validation {i}": image for i, image in enumerate(val_images[:2])}
viewer = SegmentationViewer(students[best], spec, {**shown, **sample_images()})
display(viewer.widget)

# %% [markdown]
# and exported to ONNX for a phone or a browser, as notebook 7 does, for 256×256 photos (its
# bilinear upsampling needs a fixed size). `LiveSegmentation(student, spec)` runs it in notebook 6's
# live loop.

# %%
onnx_file = settings.checkpoint("student").with_suffix(".onnx")
path = export_model(students[best], onnx_file, input_size=256)
print(f"Exported {display_path(path)} ({path.stat().st_size / 1e6:.1f} MB)")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Try it
#
# * Change the temperature (`TEMPERATURE`) or `alpha`: what does the labelled student gain?
# * Give the teacher-only student more photos than there are masks: the validation split's photos
#   or your own (notebook 8), without their masks.
# * Make the student thinner or wider (`STUDENT_FILTERS`) and read the table again: where does the
#   speed go, and what does it cost in mIoU?
