"""Our own schematic figures of FCN and U-Net (no figures copied from the papers)."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, Rectangle

ENCODER_COLOUR, DECODER_COLOUR, HEAD_COLOUR = "#88CCEE", "#DDCC77", "#CC6677"


def _block(ax, x, y, width, height, colour, label=""):
    ax.add_patch(Rectangle((x, y - height / 2), width, height, facecolor=colour, edgecolor="black", lw=0.8))
    if label:
        ax.text(x + width / 2, y - height / 2 - 0.25, label, ha="center", va="top", fontsize=8)


def _arrow(ax, start, end, style="-|>", colour="black", **kwargs):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=12, color=colour, lw=1.2, **kwargs))


def draw_classification_vs_fcn():
    """A classifier ends in dense layers and one label; an FCN keeps convolutions and gives a heat map."""
    fig, axes = plt.subplots(2, 1, figsize=(10, 5.5))
    for ax, fully_convolutional in zip(axes, (False, True)):
        ax.set_xlim(0, 16)
        ax.set_ylim(-3, 3)
        ax.axis("off")
        sizes = [4, 3.2, 2.4, 1.6, 1.0]
        x = 0.5
        for k, size in enumerate(sizes):
            _block(ax, x, 0, 0.5 + 0.2 * k, size, ENCODER_COLOUR, f"conv {k + 1}")
            x += 1.3 + 0.2 * k
        if fully_convolutional:
            _block(ax, x, 0, 0.5, 1.0, HEAD_COLOUR, "1×1 conv")
            _arrow(ax, (x + 0.7, 0), (x + 1.9, 0))
            ax.text(x + 1.3, 0.35, "upsample", ha="center", fontsize=8)
            _block(ax, x + 2.1, 0, 3.0, 4, HEAD_COLOUR, "per-pixel class scores (heat map)")
            ax.set_title("FCN: dense layers become convolutions, the output is a coarse map, upsampled to the input")
        else:
            for k in range(2):
                _block(ax, x + k * 0.9, 0, 0.3, 3.5, "#BBBBBB", "dense" if k == 0 else "")
            ax.text(x + 2.4, 0, "→  'cat'", va="center", fontsize=14)
            ax.set_title("Classifier: convolutions, then dense layers: one label per image")
    fig.tight_layout()
    return fig


def draw_encoder_decoder(with_skips: bool = True):
    """A U-shaped encoder/decoder; with skips it is a U-Net, without it an FCN-style decoder."""
    fig, ax = plt.subplots(figsize=(10, 5))
    ax.set_xlim(-0.5, 12.5)
    ax.set_ylim(-0.5, 6.2)
    ax.axis("off")
    levels = [(224, 16), (112, 24), (56, 32), (28, 96), (14, 1280)]
    heights = [2.4, 1.9, 1.4, 1.0, 0.7]
    for level, ((size, channels), height) in enumerate(zip(levels, heights)):
        y = 5 - level * 1.15
        left, right = 0.5 + level * 1.0, 11.0 - level * 1.0
        _block(ax, left, y, 0.45, height, ENCODER_COLOUR)
        ax.text(left - 0.1, y, f"{size}²", ha="right", va="center", fontsize=8)
        if level < len(levels) - 1:
            _block(ax, right, y, 0.45, height, DECODER_COLOUR)
            _arrow(ax, (left + 0.3, y - height / 2), (left + 1.1, y - 1.15 + heights[level + 1] / 2))
            _arrow(ax, (right - 0.55, y - 1.15 + heights[level + 1] / 2), (right + 0.2, y - height / 2),
                   colour="#AA7700")
            if with_skips:
                _arrow(ax, (left + 0.5, y), (right - 0.05, y), style="-|>", colour="#117733", linestyle="--")
    ax.text(0.5, 6.0, "encoder (MobileNetV2, downsamples ×2 per stage)", fontsize=9, color="#225588")
    ax.text(7.3, 6.0, "decoder (upsample + conv)", fontsize=9, color="#AA7700")
    if with_skips:
        ax.text(6.0, 5.25, "skip connections: concatenate encoder features", ha="center", fontsize=9,
                color="#117733")
    ax.set_title("U-Net: a symmetric encoder/decoder with skip connections" if with_skips
                 else "Encoder/decoder without skips: details lost in downsampling cannot come back")
    return fig
