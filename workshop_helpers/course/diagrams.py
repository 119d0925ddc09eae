"""Our own schematic figures of FCN and U-Net (no figures copied from the papers)."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, Rectangle

ENCODER_COLOUR, DECODER_COLOUR, HEAD_COLOUR = "#88CCEE", "#DDCC77", "#CC6677"


def _block(ax, x, y, width, height, colour, label=""):
    ax.add_patch(
        Rectangle((x, y - height / 2), width, height, facecolor=colour, edgecolor="black", lw=0.8)
    )
    if label:
        ax.text(x + width / 2, y - height / 2 - 0.25, label, ha="center", va="top", fontsize=8)


def _arrow(ax, start, end, style="-|>", colour="black", **kwargs):
    ax.add_patch(
        FancyArrowPatch(
            start, end, arrowstyle=style, mutation_scale=12, color=colour, lw=1.2, **kwargs
        )
    )


def draw_classification_vs_fcn():
    """A classifier ends in dense layers and one label; an FCN stays convolutional: a heat map."""
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
            ax.set_title(
                "FCN: dense layers become convolutions, the output is a coarse map, "
                "upsampled to the input"
            )
        else:
            for k in range(2):
                _block(ax, x + k * 0.9, 0, 0.3, 3.5, "#BBBBBB")
            ax.text(x + 0.6, -2.0, "dense layers", ha="center", va="top", fontsize=8)
            ax.text(x + 2.4, 0, "→  'cat'", va="center", fontsize=14)
            ax.set_title("Classifier: convolutions, then dense layers: one label per image")
    fig.tight_layout()
    return fig


def draw_encoder_decoder(with_skips: bool = True):
    """A U-shaped encoder/decoder; with skips it is a U-Net, without it an FCN-style decoder."""
    fig, ax = plt.subplots(figsize=(10, 5))
    ax.set_xlim(-0.2, 13.4)
    ax.set_ylim(-0.3, 6.6)
    ax.axis("off")
    sizes = (224, 112, 56, 28, 14, 7)
    heights = (2.2, 1.8, 1.4, 1.05, 0.8, 0.6)
    width = 0.4
    levels = len(sizes) - 1
    ys = [5.0 - 0.95 * level for level in range(len(sizes))]
    lefts = [0.3 + 0.95 * level for level in range(levels)]
    rights = [11.3 - 0.95 * level for level in range(levels)]
    bottom_x = (lefts[-1] + rights[-1]) / 2
    for level in range(levels):
        _block(ax, lefts[level], ys[level], width, heights[level], ENCODER_COLOUR)
        _block(ax, rights[level], ys[level], width, heights[level], DECODER_COLOUR)
        # Sizes sit under each block, away from every arrow.
        for x in (lefts[level], rights[level]):
            ax.text(
                x + width / 2,
                ys[level] - heights[level] / 2 - 0.08,
                f"{sizes[level]}²",
                ha="center",
                va="top",
                fontsize=8,
            )
        if with_skips and level > 0:
            y = ys[level] + 0.15 * heights[level]
            _arrow(
                ax, (lefts[level] + width, y), (rights[level], y), colour="#117733", linestyle="--"
            )
    _block(ax, bottom_x, ys[-1], width, heights[-1], ENCODER_COLOUR)
    ax.text(
        bottom_x + width / 2,
        ys[-1] - heights[-1] / 2 - 0.1,
        "7² × 1280",
        ha="center",
        va="top",
        fontsize=8,
    )
    # Encoder: from each block's right side, down to the next (smaller) block's left side.
    encoder_path = list(zip(lefts, ys, heights)) + [(bottom_x, ys[-1], heights[-1])]
    for (x0, y0, h0), (x1, y1, h1) in zip(encoder_path, encoder_path[1:]):
        _arrow(ax, (x0 + width, y0 - 0.15 * h0), (x1, y1 + 0.15 * h1))
    # Decoder: from each block's right side, up to the next (larger) block's left side.
    decoder_path = [(bottom_x, ys[-1], heights[-1])] + list(zip(rights, ys, heights))[::-1]
    for (x0, y0, h0), (x1, y1, h1) in zip(decoder_path, decoder_path[1:]):
        _arrow(ax, (x0 + width, y0 + 0.15 * h0), (x1, y1 - 0.15 * h1), colour="#AA7700")
    ax.text(
        lefts[0],
        6.35,
        "encoder (MobileNetV2): each stage halves the resolution ↓",
        fontsize=9,
        color="#225588",
    )
    ax.text(
        rights[0] + width,
        6.35,
        "↑ decoder: upsample ×2 + conv",
        fontsize=9,
        color="#AA7700",
        ha="right",
    )
    head_x = rights[0] + width + 0.5
    _block(ax, head_x, ys[0], width, heights[0], HEAD_COLOUR)
    _arrow(ax, (rights[0] + width, ys[0]), (head_x, ys[0]), colour=HEAD_COLOUR)
    ax.text(
        head_x + width / 2,
        ys[0] - heights[0] / 2 - 0.08,
        "1×1 conv:\n224² × classes",
        ha="center",
        va="top",
        fontsize=8,
        color=HEAD_COLOUR,
    )
    if with_skips:
        ax.text(
            (lefts[1] + rights[1]) / 2,
            ys[1] + 0.15 * heights[1] + 0.12,
            "skip connections: concatenate encoder features",
            ha="center",
            fontsize=9,
            color="#117733",
        )
        ax.set_title("U-Net: a symmetric encoder/decoder with skip connections", pad=18)
    else:
        ax.set_title(
            "Encoder/decoder without skips: details lost while downsampling cannot come back",
            pad=18,
        )
    return fig
