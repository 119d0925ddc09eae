# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,jupyter,slideshow,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -kernelspec,-jupytext.text_representation
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/segmentation-workshop/transfer-learning-segmentation/blob/main/notebooks/08_your_own_data.ipynb)
#
# # 8. Appendix: segment your own photos
#
# Plants, cells, machine parts, your cat: the recipe of notebook 5 works on any photos you label.
# This notebook goes the whole way with your own folder: annotate a few photos, turn them into a
# dataset with one command, train the pretrained model, read its per-class IoU, then try it in the
# viewer and on your webcam. No folder of your own yet? It makes an example one from 40 photos you
# already have, in two annotation formats, and runs on that.

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

settings, spec = start(weights=True, quiet=True)

# %% slideshow={"slide_type": "skip"}
import tempfile
import time
from pathlib import Path

import keras
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from workshop_helpers import (
    FolderDatasetError,
    MaskedPixelAccuracy,
    SegmentationGenerator,
    build_model,
    configure_batchnorm,
    default_data_dir,
    display_path,
    evaluate,
    freeze_encoder,
    get_spec,
    learning_rate_for,
    load_settings,
    load_split,
    masked_loss,
    mean_iou_metric,
    plot_predictions,
    predict,
    save_checkpoint,
)
from workshop_helpers.data import prepare_folder, write_source_folder
from workshop_helpers.demos import (
    LiveSegmentation,
    SegmentationViewer,
    colab_live_segmentation,
    headless,
    in_colab,
    open_camera,
)

started = time.perf_counter()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Annotate a few photos
#
# Twenty to fifty photos of what you care about are enough to see the pretrained encoder at work.
# Decide on a handful of classes, then label every photo in one of three ways.
#
# **labelme** (`pip install labelme`), the widely used polygon tool. Write your classes into
# `labels.txt`, one a line: `__ignore__` first (pixels you are unsure of: they count as void,
# neither trained nor scored), then `_background_`, then yours. Start it with
# `labelme my_photos --labels labels.txt --nodata`, draw a polygon (or rectangle, or circle) around
# each object, pick its label and save: a `.json` file lands next to each photo. Shapes drawn later
# cover earlier ones, and whatever no shape covers is background.
#
# ```text
# my_photos/labels.txt       __ignore__, _background_, leaf, flower: one a line
# my_photos/IMG_0001.jpg
# my_photos/IMG_0001.json    written by labelme
# ```
#
# **Index masks**, from any tool that saves one PNG per photo holding a class index per pixel
# (0 background, 255 void), with the class names in index order in `classes.txt`.
# **Colour masks** work too: then each line of `classes.txt` is `name R G B`.
#
# ```text
# my_photos/images/IMG_0001.jpg
# my_photos/masks/IMG_0001.png
# my_photos/classes.txt      background, leaf, flower: one a line
# ```
#
# A `split.txt` (lines `IMG_0001 train`, `IMG_0002 val`) or `train.txt` and `val.txt` choose the
# validation photos yourself; without them, the sorted first 80 % train, as for VOC.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Your folder, or the example one
#
# Put your folder's path and a name for your dataset here (lower case: `plants`, `my_cells`). Left
# at `None`, the next cells write the example: 40 cat and dog photos of the VOC data you prepared
# for the workshop, labelled with classes of its own (background, cat, dog; pixels of the other
# VOC classes become void), once as index masks and once as labelme files traced from the masks'
# outlines.

# %%
MY_FOLDER = None  # e.g. "~/my_photos"
MY_NAME = "mine"

# %%
if MY_FOLDER is None:
    classes = ("background", "cat", "dog")
    if not set(classes) <= set(spec.class_names):  # a dataset without pets: all its classes
        classes = spec.class_names
    relabel = np.full(spec.num_classes + 1, -1)  # the last entry keeps void (-1) void
    for new, name in enumerate(classes):
        relabel[spec.class_names.index(name)] = new
    photos, masks = load_split(spec.name, "train", limit=200)
    masks = relabel[masks]
    showing = [i for i, mask in enumerate(masks) if (mask > 0).any()]
    chosen = [showing[k] for k in np.linspace(0, len(showing) - 1, 40).round().astype(int)]
    examples = {f"photo_{n:02d}": (photos[i], masks[i]) for n, i in enumerate(chosen)}
    print(f"{len(examples)} photos, classes: {', '.join(classes)}")

# %%
if MY_FOLDER is None:
    examples_dir = default_data_dir() / "examples"
    for format in ("index", "labelme"):
        write_source_folder(examples_dir / f"example_{format}", examples, classes, format)
    print(
        f"Wrote {len(examples)} photos with index masks and with labelme files into "
        f"{display_path(examples_dir)}/."
    )
    listed = sorted(p.name for p in (examples_dir / "example_labelme").iterdir())
    print(f"example_labelme/: {', '.join(listed[:5])}, ...")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Prepare: one command
#
# In a terminal: `python -m workshop_helpers prepare folder my_photos --name plants`. Here, the same
# as a function. It checks the whole folder first, resizes photos and masks to 256×256 as for VOC
# and CamVid, and writes `data/NAME/` with a small `dataset.json` (classes, colours, counts), from
# which every notebook and command reads the dataset: `start(dataset="plants")`,
# `python -m workshop_helpers train --dataset plants`. Running it again on the same folder does
# nothing; `--force` (here `force=True`) rebuilds after you changed your labels.

# %%
if MY_FOLDER is None:  # the example was just written again: rebuild it
    prepare_folder(examples_dir / "example_index", "example_index", force=True)
    prepare_folder(examples_dir / "example_labelme", "example_labelme", force=True)
    dataset = "example_labelme"
else:
    prepare_folder(Path(MY_FOLDER).expanduser(), MY_NAME)
    dataset = MY_NAME

# %% [markdown]
# The example holds the same labels twice. How close do labelme's polygons come to the masks they
# were traced from?

# %%
if MY_FOLDER is None:
    from_masks = np.concatenate([load_split("example_index", s)[1] for s in ("train", "val")])
    from_polygons = np.concatenate([load_split("example_labelme", s)[1] for s in ("train", "val")])
    agreement = (from_masks == from_polygons).mean()
    print(f"The polygons give the same label as the masks on {agreement:.1%} of the pixels.")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## What prepare refuses
#
# A mistake in your folder stops preparation with one line that names the file, and changes
# nothing in `data/`. A photo without its annotation, for example:

# %%
photos, masks = load_split(dataset, "train", limit=2)
broken = Path(tempfile.mkdtemp()) / "my_photos"
write_source_folder(
    broken,
    {"IMG_1": (photos[0], masks[0]), "IMG_2": (photos[1], masks[1])},
    get_spec(dataset).class_names,
    "labelme",
)
(broken / "IMG_2.json").unlink()  # a photo not labelled yet
try:
    prepare_folder(broken, "broken")
except FolderDatasetError as err:
    print(err)

# %% [markdown]
# The other checks: a mask and its photo of different sizes, a mask value or colour no class has,
# a labelme label missing from `labels.txt`, a polygon of fewer than 3 points, a labelme file whose
# photo is neither at its `imagePath` nor embedded, a file that is not an image, an empty folder,
# fewer than 2 photos, a class named twice. A shape reaching outside its photo is clipped, and
# prepare says so.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Train the pretrained model
#
# The recipe of the laptop track, the `cpu` preset (or the shorter `fast` one when you rehearse):
# a frozen ImageNet encoder and a few epochs, enough for a few dozen photos on a CPU. The line
# below says what this run trains: your dataset, how many of its photos, the epochs and the rest
# of the recipe.

# %%
settings = load_settings(preset="fast" if settings.fast else "cpu", dataset=dataset)
spec = get_spec(settings.dataset)
print(settings.describe())
print(f"{spec.name}: {spec.num_classes} classes, {', '.join(spec.class_names)}")

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
print(f"{len(train_images)} training and {len(val_images)} validation photos")

# %% [markdown]
# The network of notebook 5, with as many outputs as your dataset has classes. Only the decoder
# trains. The `cpu` preset also gives the BatchNorm layers a faster momentum, so that their
# statistics keep up in so few steps; the other presets keep MobileNetV2's.

# %% tags=["training"]
keras.utils.set_random_seed(settings.seed)
model = build_model(spec.num_classes, pretrained=True, input_size=settings.crop_size)
freeze_encoder(model)
configure_batchnorm(model, settings, pretrained=True)
trainable = sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)
print(f"{model.count_params():,} parameters, {trainable:,} of them training")

# %% tags=["training"]
learning_rate = learning_rate_for(settings, len(train_batches))  # a number, or a schedule
model.compile(
    optimizer=keras.optimizers.Adam(learning_rate),
    loss=masked_loss,
    metrics=[MaskedPixelAccuracy(), mean_iou_metric(spec.num_classes)],
)

# %% tags=["training"]
history = model.fit(train_batches, validation_data=val_batches, epochs=settings.epochs)
save_checkpoint(model, history.history, settings, settings.checkpoint("pretrained"))
print(f"Saved {display_path(settings.checkpoint('pretrained'))}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Predictions and per-class IoU
#
# The first three validation photos with their labels and the model's answer. Then the IoU of each
# class over all validation photos, beside the class's share of the labelled training pixels
# (unlike the table of section 3, void is left out): a class with few pixels is usually the one to
# annotate more of.

# %%
shown = np.arange(min(3, len(val_images)))
plot_predictions(
    val_images[shown], val_masks[shown], {"prediction": predict(model, val_images[shown])}, spec
)
plt.show()

# %%
scores = evaluate(model, val_images, val_masks, spec.num_classes, tta=False)
labelled = train_masks[train_masks >= 0]
shares = np.bincount(labelled, minlength=spec.num_classes) / max(labelled.size, 1)
print(f"{'class':>12}  {'IoU':>6}  training pixels (void left out)")
for name, iou, share in zip(spec.class_names, scores["per_class_iou"], shares):
    shown_iou = "  n/a" if iou is None else f"{iou:6.3f}"
    print(f"{name:>12}  {shown_iou}  {share:6.1%}")
print(
    f"\nValidation mIoU {scores['mIoU']:.3f} over {len(val_images)} photos after "
    f"{settings.epochs} epochs on {len(train_images)}; pixel accuracy "
    f"{scores['pixel_accuracy']:.3f}."
)
ious = dict(zip(spec.class_names, scores["per_class_iou"]))
missing = [name for name, iou in ious.items() if iou is None]
if missing:
    print(f"No validation pixel of {', '.join(missing)}: left out of the mean.")
weak = [name for name, iou in ious.items() if iou is not None and iou < 0.1]
if weak:
    print(
        f"Not learned yet (IoU below 0.1): {', '.join(weak)}. More photos of these, or more "
        "epochs, are the next step."
    )

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercise
#
# Which class has the lowest IoU in this run, and what share of the training pixels does it have?
# What would you annotate next?

# %% [markdown] tags=["solution"]
# <details><summary>Solution (click to open)</summary>
#
# Computed from this run's table; classes with no validation pixel are left out.
#
# ```python
# measured = {name: (iou, share) for name, iou, share
#             in zip(spec.class_names, scores["per_class_iou"], shares) if iou is not None}
# weakest = min(measured, key=lambda name: measured[name][0])
# print(f"{weakest}: IoU {measured[weakest][0]:.3f}, {measured[weakest][1]:.1%} of the training "
#       "pixels; more photos showing it help most.")
# ```
# </details>

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. The viewer and the live loop on your model
#
# The demos of notebook 6, with your classes: pick a validation photo, click a class to hide or
# show it, change the opacity, read each class's mean probability.

# %%
viewer = SegmentationViewer(model, spec, {f"validation {i}": val_images[i] for i in shown})
display(viewer.widget)

# %% [markdown]
# Running Jupyter on your own machine with a camera? Start the loop and hold your objects up to it.
# In Colab the browser streams its camera to the model until you press **Stop**.

# %%
camera = None if in_colab() else open_camera()
if in_colab() and not headless():
    colab_live_segmentation(model, spec)
elif camera is None:
    print("No camera here: the live loop needs Jupyter running on a machine with a webcam.")
else:
    live = LiveSegmentation(model, spec, capture=camera)
    display(live.widget)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## From here
#
# Your dataset now works wherever a dataset name goes. In a terminal, with your name for it:
#
# ```bash
# python -m workshop_helpers prepare folder my_photos --name plants
# python -m workshop_helpers train --dataset plants --preset cpu --pretrained
# python -m workshop_helpers evaluate checkpoints/plants_pretrained_cpu.keras --dataset plants
# python -m workshop_helpers export checkpoints/plants_pretrained_cpu.keras --format onnx
# ```
#
# and in any notebook `start(dataset="plants")` as its set-up line.

# %%
print(f"This notebook ran in {time.perf_counter() - started:.0f} s.")
