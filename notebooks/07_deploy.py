# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,jupyter,slideshow,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -kernelspec,-jupytext.text_representation
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/segmentation-workshop/transfer-learning-segmentation/blob/main/notebooks/07_deploy.ipynb)
#
# # 7. Appendix: your segmentation network leaves the notebook
#
# A trained model is only useful where it runs: a web server, a phone, a robot. None of them needs
# Keras or TensorFlow. We export the pretrained model of notebook 5 to **ONNX**, an open file format
# for neural networks, run it with **ONNX Runtime**, and check that it predicts what Keras predicts.

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

# %% slideshow={"slide_type": "skip"}
# The exporters and ONNX Runtime (the package's export extra) come with the workshop's install;
# in Colab, the lines below add them.
import subprocess
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from workshop_helpers import (
    build_model,
    display_path,
    load_checkpoint,
    load_split,
    plot_predictions,
    predict,
    preprocess,
)
from workshop_helpers.demos import TOLERANCE, export_model, missing_packages, require

if missing_packages("onnx") and "google.colab" in sys.modules:
    subprocess.run('pip install -q -e "workshop[export]"', shell=True, check=True)
require("onnx")  # says which command installs what is missing

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The model to export
#
# Notebook 5 saved its pretrained model in `checkpoints/`. Without that checkpoint (notebook 5 not
# run yet, or trained elsewhere) we export an **untrained** network of the same architecture: its
# predictions are meaningless, but the export and the comparison work the same.

# %%
checkpoint = settings.checkpoint("pretrained")
if checkpoint.exists():
    model = load_checkpoint(checkpoint)
    print(f"Exporting the trained model {display_path(checkpoint)}")
else:
    model = build_model(spec.num_classes)
    print(
        f"No {display_path(checkpoint)} (run notebook 5 first): exporting an UNTRAINED model, "
        "so expect noise."
    )

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Export to ONNX
#
# `model.export(path, format="onnx")` traces the network's inference pass (BatchNorm in inference
# mode, no optimizer) into a single file. `export_model` wraps it so the file takes images of any
# size divisible by 32. The same from a terminal:
# `workshop-helpers export CHECKPOINT --format onnx`, with the checkpoint file named above
# (or `--format litert` for phones: a `.tflite` file at a fixed 256×256).

# %%
onnx_path = export_model(model, Path(tempfile.mkdtemp()) / f"{spec.name}_segmentation.onnx", "onnx")
print(f"{onnx_path.name}: {onnx_path.stat().st_size / 1e6:.1f} MB")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Run it without Keras
#
# ONNX Runtime needs only the file and numpy. The preprocessing is the one thing the file does not
# contain: pixel values from [0, 255] to [-1, 1], as MobileNetV2 was trained.

# %%
import onnxruntime

session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
source, result = session.get_inputs()[0], session.get_outputs()[0]
print(f"input {source.name}: {source.shape}; output {result.name}: {result.shape}")

val_images, val_masks = load_split(spec.name, "val", limit=2)
batch = preprocess(val_images)  # uint8 [0, 255] -> float32 [-1, 1]: x / 127.5 - 1
start = time.perf_counter()
onnx_probabilities = session.run(None, {source.name: batch})[0]
print(f"{len(batch)} validation images in {time.perf_counter() - start:.2f} s with ONNX Runtime")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Does it predict what Keras predicts?
#
# Both compute the same arithmetic in a different order, so the probabilities agree up to rounding,
# and the labels (the most likely class per pixel) agree everywhere.

# %%
keras_probabilities = predict(model, val_images, tta=False)
difference = np.abs(onnx_probabilities - keras_probabilities).max()
agreement = np.mean(onnx_probabilities.argmax(-1) == keras_probabilities.argmax(-1))
print(f"largest difference of probabilities: {difference:.1e} (tolerance {TOLERANCE:.0e})")
print(f"pixels with the same label: {agreement:.2%}")
if difference > TOLERANCE:
    raise RuntimeError("The exported model does not compute what Keras computes: export it again.")

# %%
both = {"Keras": keras_probabilities, "ONNX Runtime": onnx_probabilities}
plot_predictions(val_images, val_masks, both, spec)
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Where to go from here
#
# * **A web service**: load the `.onnx` file with ONNX Runtime in any language (Python, C++, C#,
#   Java, JavaScript in the browser) and send it preprocessed images.
# * **A phone**: `--format litert` writes a `.tflite` file for LiteRT (formerly TensorFlow Lite) on
#   Android and iOS; int8 quantization stores each weight in a quarter of the space.
# * **Check your export** the way this notebook did: the same images through both, the largest
#   difference, the share of identical labels.
