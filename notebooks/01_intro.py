# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,jupyter,slideshow,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -kernelspec,-jupytext.text_representation
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/segmentation-workshop/transfer-learning-segmentation/blob/main/notebooks/01_intro.ipynb)
#
# # 1. From classification to semantic segmentation
#
# A classifier answers *what is in this image?* with one label. Semantic segmentation answers *which
# class does each pixel belong to?* with a label map as large as the image. In this workshop we take
# a network trained for the first task and reuse it for the second: **transfer learning across
# tasks**.

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
import matplotlib.pyplot as plt
import numpy as np

from workshop_helpers import class_legend, colorize, load_split
from workshop_helpers.course import draw_classification_vs_fcn, draw_encoder_decoder

# %% [markdown] slideshow={"slide_type": "slide"}
# ## One photo, two questions
#
# Below is a real photo from the workshop's dataset. A classifier would give it one label (here: the
# object class that covers most of it). Its segmentation mask gives every pixel a class; black
# pixels are *void*: object borders or unlabelled areas that nobody scores.

# %%
images, masks = load_split(spec.name, "val", limit=8)
objects = [np.bincount(m[m >= 0].ravel(), minlength=spec.num_classes) for m in masks]
if spec.background_index is not None:  # a classifier names the object, not the background
    for counts in objects:
        counts[spec.background_index] = 0
pick = int(np.argmax([counts.max() for counts in objects]))
main_class = spec.class_names[int(np.argmax(objects[pick]))]

fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
axes[0].imshow(images[pick])
axes[0].set_title(f"classification: one label, '{main_class}'")
axes[1].imshow(colorize(masks[pick], spec.palette))
axes[1].set_title("segmentation: one class per pixel")
for ax in axes:
    ax.axis("off")
class_legend(fig, spec, loc="lower center")
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Where segmentation is used
#
# * **Autonomous driving**: road, pavement, cars and pedestrians in every frame (our second dataset,
#   CamVid).
# * **Biomedical imaging**: cells, organs and tumours in microscopy, CT and MRI (U-Net was made for
#   this).
# * **Aerial and satellite images**: buildings, roads, fields and water for mapping.
# * **Geo-sensing**: land cover and its change over time, flood and fire extent.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Fully convolutional networks (FCN)
#
# [Long, Shelhamer and Darrell (2015)](https://arxiv.org/abs/1411.4038) noticed that the dense
# layers at the end of a classifier are convolutions whose kernel covers the whole feature map.
# Written as convolutions, the network accepts any image size and outputs a coarse *heat map* of
# class scores instead of one vector. An upsampling step (bilinear interpolation, or a learned
# transposed convolution) brings the map back to the input's resolution. The first part is the
# **encoder**, the upsampling part the **decoder**.

# %%
draw_classification_vs_fcn()
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## U-Net
#
# Each stride-2 stage of the encoder halves the resolution, so fine details (thin poles, the outline
# of a cat's ear) are gone by the coarse end. [U-Net (Ronneberger, Fischer and Brox,
# 2015)](https://arxiv.org/abs/1505.04597) makes the decoder symmetric to the encoder and
# **concatenates** the encoder's features of the same resolution into each decoder stage: these
# *skip connections* bring the details back.

# %%
draw_encoder_decoder(with_skips=False)
draw_encoder_decoder(with_skips=True)
plt.show()

# %% [markdown]
# Our network is a light U-Net whose encoder is **MobileNetV2** ([Sandler et al.,
# 2018](https://arxiv.org/abs/1801.04381)), a classifier trained on ImageNet. The skip connections
# come from four of its layers, at 1/2, 1/4, 1/8 and 1/16 of the input's resolution.
#
# **State of the art differs.** Today's best segmentation models use atrous convolutions and pyramid
# pooling ([DeepLabv3+](https://arxiv.org/abs/1802.02611)), transformers
# ([SegFormer](https://arxiv.org/abs/2105.15203), [Mask2Former](https://arxiv.org/abs/2112.01527))
# or promptable foundation models ([Segment Anything](https://arxiv.org/abs/2304.02643)). The idea
# this workshop teaches, reusing features learned on a large classification dataset, is at the heart
# of all of them.
#
# Next: **2. The input pipeline.**
