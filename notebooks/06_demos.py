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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/segmentation-workshop/transfer-learning-segmentation/blob/main/notebooks/06_demos.ipynb)
#
# # 6. Demos: your webcam, any image URL, and an interactive viewer
#
# The pretrained model of notebook 5 on pictures it has never seen. Every demo falls back to bundled photos when
# there is no camera or browser (CI, a remote server), so the notebook always runs.

# %%
# Setup: in Colab, fetch and install the workshop's helpers; locally this does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run("git clone -q --depth 1 https://github.com/segmentation-workshop/transfer-learning-segmentation"
                   " workshop; pip install -q -e workshop", shell=True, check=True)
    sys.path.insert(0, "workshop")

# %%
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
from IPython.display import display

from workshop_helpers import get_spec, load_or_train, load_split
from workshop_helpers.demo import (LiveSegmentation, SegmentationViewer, headless, open_camera, sample_images,
                                   segment_and_plot, show_url, webcam_images)
from workshop_helpers.download import ensure_imagenet_weights, ensure_prepared
from workshop_helpers.settings import load_settings

settings = load_settings()
spec = get_spec(settings.dataset)
ensure_prepared(spec.name)
ensure_imagenet_weights()
model, _ = load_or_train(settings.checkpoint("pretrained"), **settings.train_kwargs(pretrained=True))

# %% [markdown]
# ## A webcam photo
#
# In Colab the browser asks for your camera and a **Capture** button appears. Locally, OpenCV reads one frame
# from the first camera. Without either, the bundled sample photos (an astronaut and a cat, shipped inside
# scikit-image) stand in.

# %%
photos = webcam_images()
for name, photo in photos.items():
    segment_and_plot(model, photo, spec, title=name)
plt.show()

# %% [markdown]
# ## Live
#
# Running Jupyter on your own machine with a camera? Start the loop: capture, predict, overlay, repeat, with the
# frame rate shown. (Colab cannot stream a camera into Python; use the photo above there.)

# %%
camera = open_camera()
if camera is None:
    print("No local camera here: the live loop needs Jupyter running on a machine with a webcam.")
else:
    live = LiveSegmentation(model, spec, capture=camera)
    display(live.widget)

# %% [markdown]
# ## Any image URL
#
# Paste a URL. Downloads are limited in size and time, only `http(s)` is accepted, and anything that is not an
# image gets a plain explanation instead of a traceback. Headless runs use a local copy of a sample photo.

# %%
URL = os.environ.get("WORKSHOP_DEMO_URL", "https://upload.wikimedia.org/wikipedia/commons/3/3a/Cat03.jpg")
if headless():
    URL = str(Path(tempfile.mkdtemp()) / "cat.png")
    plt.imsave(URL, sample_images()["cat (chelsea)"])
show_url(model, URL, spec)
plt.show()

# %% [markdown]
# What bad input looks like: a scheme we refuse, and a file that is not an image.

# %%
not_an_image = Path(tempfile.mkdtemp()) / "page.jpg"
not_an_image.write_text("<html>a web page saved with a .jpg name</html>")
for bad in ("ftp://example.org/cat.jpg", str(not_an_image)):
    show_url(model, bad, spec)

# %% [markdown]
# ## Interactive viewer
#
# Pick an image (validation photos, the photos above, or a URL typed in the box), hide and show classes, change
# the overlay's opacity and read each class's mean probability.

# %%
val_images, _ = load_split(spec.name, "val", limit=3)
viewer = SegmentationViewer(model, spec, {**{f"validation {i}": image for i, image in enumerate(val_images)},
                                          **photos})
display(viewer.widget)
