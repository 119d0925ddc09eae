# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,jupyter,slideshow,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -kernelspec,-jupytext.text_representation
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/segmentation-workshop/transfer-learning-segmentation/blob/main/notebooks/06_demos.ipynb)
#
# # 6. Demos: your webcam, any image URL, and an interactive viewer
#
# The pretrained model of notebook 5 on pictures it has never seen. Every demo falls back to bundled
# photos when there is no camera or browser (a remote server, say), so the notebook always runs.

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
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from workshop_helpers import evaluate, get_trained_model, load_split, predict_labels
from workshop_helpers.demos import (
    LiveSegmentation,
    SegmentationViewer,
    colab_live_segmentation,
    headless,
    in_colab,
    open_camera,
    sample_images,
    segment_and_plot,
    show_url,
    webcam_images,
)

# The model notebook 5 trained with these settings (trained now if there is none).
model, _ = get_trained_model(settings, pretrained=True, reuse=True)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## What this model can label
#
# A segmentation model answers with one of the classes it was trained on, for every pixel, whatever
# the photo shows. Which of its classes did it actually learn? Its IoU per class on the validation
# photos tells.

# %%
val_images, val_masks = load_split(spec.name, "val")
scores = evaluate(model, val_images, val_masks, spec.num_classes, tta=False)
learned = [
    name
    for name, iou in zip(spec.class_names, scores["per_class_iou"])
    if iou is not None and iou >= 0.1
]
weak = [
    f"{name} ({iou:.2f})"
    for name, iou in zip(spec.class_names, scores["per_class_iou"])
    if iou is not None and iou < 0.1
]
print(f"This {spec.name} model labels {spec.num_classes} classes: {', '.join(spec.class_names)}.")
print(f"Validation IoU of at least 0.1: {', '.join(learned) or 'none'}.")
if weak:
    print(
        f"Barely learned (IoU under 0.1): {', '.join(weak)}: expect it to miss those, or to call "
        "them something else. Longer training (more epochs, all images) teaches them."
    )
unscored = [name for name, iou in zip(spec.class_names, scores["per_class_iou"]) if iou is None]
if unscored:
    print(f"Not scored, no validation photo shows it: {', '.join(unscored)}.")
missing = [name for name in ("person", "cat") if name not in spec.class_names]
if missing:
    print(
        f"It has no {' and no '.join(missing)} class, the subjects of the bundled photos below: "
        "on those it can only answer with the classes above."
    )

# %% [markdown] slideshow={"slide_type": "slide"}
# ## A webcam photo
#
# In Colab the browser asks for your camera and a **Capture** button appears. Locally, OpenCV reads
# one frame from the first camera. Without either, the bundled sample photos (an astronaut and a
# cat, shipped inside scikit-image) stand in.

# %%
photos = webcam_images()
for name, photo in photos.items():
    segment_and_plot(model, photo, spec, title=name)
plt.show()

# %% [markdown]
# What the model called the pixels of each photo:

# %%
for name, photo in photos.items():
    shares = np.bincount(predict_labels(model, photo).ravel(), minlength=spec.num_classes)
    shares = shares / shares.sum()
    top = [f"{spec.class_names[c]} {shares[c]:.0%}" for c in np.argsort(-shares)[:3] if shares[c]]
    print(f"{name}: {', '.join(top)}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Live
#
# Running Jupyter on your own machine with a camera? Start the loop: capture, predict, overlay,
# repeat, with the frame rate shown. **Stop** gives the camera back to other programs; **Start**
# opens it again. No camera? `open_camera("my_clip.mp4")` plays a video file in a loop instead. In
# Colab the browser streams its camera frames to the model and shows the overlays until you press
# **Stop**; if it cannot, the photo above is your demo.

# %%
camera = None if in_colab() else open_camera()
if in_colab() and not headless():
    colab_live_segmentation(model, spec)
elif camera is None:
    print(
        "No camera here: the live loop needs Jupyter running on a machine with a webcam, "
        'or a video file: camera = open_camera("my_clip.mp4").'
    )
else:
    live = LiveSegmentation(model, spec, capture=camera)
    display(live.widget)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Any image URL
#
# Paste a URL. Downloads are limited in size and time, only `http(s)` is accepted, and anything that
# is not an image gets a plain explanation instead of a traceback. Without a browser, a local copy
# of a sample photo stands in.

# %%
URL = "https://upload.wikimedia.org/wikipedia/commons/3/3a/Cat03.jpg"
if headless():
    URL = str(Path(tempfile.mkdtemp()) / "cat.png")
    plt.imsave(URL, sample_images()["cat (chelsea)"])
show_url(model, URL, spec, title="an image from a URL")
plt.show()

# %% [markdown]
# What bad input looks like: a scheme we refuse, and a file that is not an image.

# %%
not_an_image = Path(tempfile.mkdtemp()) / "page.jpg"
not_an_image.write_text("<html>a web page saved with a .jpg name</html>")
for bad in ("ftp://example.org/cat.jpg", str(not_an_image)):
    show_url(model, bad, spec)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Interactive viewer
#
# Pick an image (validation photos, the photos above, or a URL typed in the box and Enter), click a
# class to hide or show it, change the overlay's opacity and read each class's mean probability in
# the legend.

# %%
validation = {f"validation {i}": image for i, image in enumerate(val_images[:3])}
viewer = SegmentationViewer(model, spec, {**validation, **photos})
display(viewer.widget)
