"""Figures: masks in colour, overlays, probability maps, curves, IoU bars, confusion matrices.

Every plot_* function takes the DatasetSpec (class names, colours, background) as `spec`.
"""

from __future__ import annotations

import cv2
import keras
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from .datasets import DatasetSpec

VOID_COLOUR = (0, 0, 0)
FIGURE_WIDTH = 10  # inches: the width of a JupyterLab or Colab notebook column
# Readable names of the Keras history keys the workshop logs.
METRIC_TITLES = {"loss": "loss", "pixel_accuracy": "pixel accuracy", "mean_iou": "mean IoU"}


def colorize(labels: np.ndarray, palette) -> np.ndarray:
    """RGB image of a label mask; void (-1) is black."""
    table = np.vstack(
        [np.asarray(palette, dtype=np.uint8), np.array([VOID_COLOUR], dtype=np.uint8)]
    )
    return table[np.where(labels < 0, len(table) - 1, labels)]


def overlay(
    image: np.ndarray,
    labels: np.ndarray,
    palette,
    alpha: float = 0.5,
    background_index: int | None = None,
    visible=None,
) -> np.ndarray:
    """Blend coloured labels over a uint8 photo; void darkens (black, as in masks).

    Background and hidden classes stay as the photo is.
    """
    blend = np.ones(labels.shape, dtype=bool)
    if background_index is not None:
        blend &= labels != background_index
    if visible is not None:
        blend &= np.isin(labels, list(visible)) | (labels < 0)
    blended = cv2.addWeighted(image, 1 - alpha, colorize(labels, palette), alpha, 0)
    return np.where(blend[..., None], blended, image)


def _overlay(image: np.ndarray, labels: np.ndarray, spec: DatasetSpec) -> np.ndarray:
    return overlay(image, labels, spec.palette, background_index=spec.background_index)


def legend_handles(spec: DatasetSpec, void: bool = True, overlay: bool = False) -> list[Patch]:
    """Legend patches, one per class colour, and black for void, as masks and overlays draw them.

    Overlays leave the background uncoloured: its patch is then an empty box.
    """
    handles = [
        Patch(facecolor=np.asarray(c) / 255, edgecolor="grey", label=n)
        for n, c in zip(spec.class_names, spec.palette)
    ]
    if overlay and spec.background_index is not None:
        name = spec.class_names[spec.background_index]
        handles[spec.background_index] = Patch(
            facecolor="none", edgecolor="grey", linestyle="--", label=f"{name} (uncoloured)"
        )
    if void:
        handles.append(
            Patch(facecolor=np.asarray(VOID_COLOUR) / 255, edgecolor="grey", label="void")
        )
    return handles


def class_legend(target, spec: DatasetSpec, overlay: bool = False, **options):
    """A legend of class colours and void in rows of at most 8, read left to right."""
    handles = legend_handles(spec, overlay=overlay)
    columns = len(handles) if len(handles) <= 8 else -(-len(handles) // 2)
    rows = -(-len(handles) // columns)
    # Matplotlib fills legends column by column: reorder so that rows read in class order.
    ordered = [
        handles[r * columns + c]
        for c in range(columns)
        for r in range(rows)
        if r * columns + c < len(handles)
    ]
    return target.legend(handles=ordered, ncol=columns, frameon=False, **options)


def show_legend(spec: DatasetSpec, ax=None):
    """A figure that shows a dataset's classes, their colours and void."""
    if ax is None:
        _, ax = plt.subplots(figsize=(FIGURE_WIDTH, 0.35 + 0.3 * (1 + (spec.num_classes > 7))))
    class_legend(ax, spec, loc="center")
    ax.axis("off")
    return ax


def display_image(image: np.ndarray) -> np.ndarray:
    """A preprocessed [-1, 1] or uint8 image as uint8 for display."""
    if image.dtype == np.uint8:
        return image
    return np.clip((image + 1) * 127.5, 0, 255).astype(np.uint8)


def plot_pair(image: np.ndarray, labels: np.ndarray, spec: DatasetSpec, title: str = ""):
    """Photo, its mask in colour and the overlay side by side."""
    image = display_image(image)
    fig, axes = plt.subplots(1, 3, figsize=(FIGURE_WIDTH, 3.9), layout="constrained")
    panels = [
        (image, "photo"),
        (colorize(labels, spec.palette), "mask (black = void)"),
        (_overlay(image, labels, spec), "overlay"),
    ]
    for ax, (picture, name) in zip(axes, panels):
        ax.imshow(picture)
        ax.set_title(name)
        ax.axis("off")
    class_legend(fig, spec, loc="outside lower center")
    if title:
        fig.suptitle(title)
    return fig


def plot_segmentation(
    image: np.ndarray,
    probabilities: np.ndarray,
    spec: DatasetSpec,
    columns: int = 6,
    title: str | None = None,
):
    """Input, argmax overlay with a legend, and per-class probability maps on one 0–1 scale."""
    image = display_image(image)
    map_rows = -(-spec.num_classes // columns)
    fig = plt.figure(figsize=(FIGURE_WIDTH, FIGURE_WIDTH / columns * (2.4 + 1.15 * map_rows)))
    grid = fig.add_gridspec(
        1 + map_rows,
        columns + 1,
        height_ratios=[2] + [1] * map_rows,
        width_ratios=[1] * columns + [0.12],
    )
    labels = probabilities.argmax(-1)
    panels = [(image, "input"), (_overlay(image, labels, spec), "prediction")]
    for k, (picture, name) in enumerate(panels):
        ax = fig.add_subplot(grid[0, 2 * k : 2 * k + 2])
        ax.imshow(picture)
        ax.set_title(name)
        ax.axis("off")
    ax = fig.add_subplot(grid[0, 4:])
    ax.legend(
        handles=legend_handles(spec, void=False, overlay=True),
        loc="center",
        frameon=False,
        title="prediction colours",
        fontsize="small",
    )
    ax.axis("off")
    for index, name in enumerate(spec.class_names):
        ax = fig.add_subplot(grid[1 + index // columns, index % columns])
        shown = ax.imshow(probabilities[..., index], vmin=0, vmax=1, cmap="viridis")
        ax.set_title(f"{name}: {probabilities[..., index].mean():.2f}", fontsize="small")
        ax.axis("off")
    # One colour bar for all maps: a flat 0.09 map then reads as "unsure", not as a broken plot.
    bar = fig.colorbar(shown, cax=fig.add_subplot(grid[1:, columns]))
    bar.set_label("probability")
    if title:
        fig.suptitle(title, fontsize="x-large")
    fig.tight_layout()
    return fig


def plot_predictions(images, masks, predictions: dict, spec: DatasetSpec):
    """Rows of photo, ground-truth overlay and one prediction overlay per model."""
    columns = 2 + len(predictions)
    side = min(3.0, FIGURE_WIDTH / columns)
    height = side * len(images) + 0.6
    fig, axes = plt.subplots(
        len(images), columns, figsize=(side * columns, height), squeeze=False, layout="constrained"
    )
    for row, (image, mask) in enumerate(zip(images, masks)):
        panels = [(image, "photo"), (_overlay(image, mask, spec), "ground truth")]
        for name, probabilities in predictions.items():
            labels = probabilities[row].argmax(-1)
            panels.append((_overlay(image, labels, spec), name))
        for ax, (picture, title) in zip(axes[row], panels):
            ax.imshow(picture)
            ax.set_title(title if row == 0 else "")
            ax.axis("off")
    class_legend(fig, spec, overlay=True, loc="outside lower center")
    return fig


def metric_title(key: str) -> str:
    """'val_mean_iou' → 'validation mean IoU': a history key as a reader would say it."""
    split = "validation" if key.startswith("val_") else "training"
    name = key[4:] if key.startswith("val_") else key
    if name.startswith("iou_"):
        return f"{split} IoU of {name[4:]}"
    return f"{split} {METRIC_TITLES.get(name, name.replace('_', ' '))}"


def plot_histories(histories: dict, keys=("loss", "val_loss")):
    """Curves of one or more Keras histories, one panel per key, epochs as whole numbers."""
    columns = min(len(keys), 2)
    rows = -(-len(keys) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(FIGURE_WIDTH, 3.3 * rows), squeeze=False)
    for ax, key in zip(axes.ravel(), keys):
        for name, history in histories.items():
            if key in history:
                values = history[key]
                ax.plot(range(1, len(values) + 1), values, marker="o", label=name)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        name = key[4:] if key.startswith("val_") else key
        ax.set_ylabel(METRIC_TITLES.get(name, name.replace("_", " ")))
        ax.set_title(metric_title(key))
        ax.grid(alpha=0.3)
        ax.legend()
    for ax in axes.ravel()[len(keys) :]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_iou_bars(results: dict, spec: DatasetSpec):
    """Grouped bars of per-class IoU, one group per class, one bar per model; n/a when unscored."""
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH, 4))
    width = 0.8 / len(results)
    positions = np.arange(spec.num_classes)
    for k, (name, scores) in enumerate(results.items()):
        values = [np.nan if v is None else v for v in scores["per_class_iou"]]
        bars = ax.bar(
            positions + k * width, values, width, label=f"{name} (mIoU {scores['mIoU']:.3f})"
        )
        for bar, value in zip(bars, values):
            if value == 0:  # a scored class that was never found: a bar of no height, say so
                ax.text(
                    bar.get_x() + width / 2,
                    0.01,
                    "0",
                    ha="center",
                    va="bottom",
                    fontsize="x-small",
                    color=bar.get_facecolor(),
                )
    centres = positions + width * (len(results) - 1) / 2
    for centre, scores in zip(centres, zip(*(r["per_class_iou"] for r in results.values()))):
        if all(v is None for v in scores):
            ax.text(
                centre,
                0.03,
                "n/a:\nnot in\nthe truth",
                ha="center",
                va="bottom",
                fontsize="small",
                color="grey",
            )
    ax.set_xticks(centres, spec.class_names, rotation=30, ha="right")
    ax.set_ylabel("IoU")
    ax.set_ylim(0, 1)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def normalise_confusion(confusion: np.ndarray) -> np.ndarray:
    """Each row (a true class) as shares of its pixels; NaN for a class absent from the truth."""
    confusion = np.asarray(confusion, dtype=np.float64)
    totals = confusion.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, confusion / np.where(totals > 0, totals, 1), np.nan)


def plot_confusion_matrix(
    confusion: np.ndarray, spec: DatasetSpec, title: str | None = None, ax=None
):
    """Confusion matrix normalised per true class (rows true, columns predicted); absent: n/a."""
    shares = normalise_confusion(confusion)
    if ax is None:
        side = min(FIGURE_WIDTH, 2.5 + 0.55 * spec.num_classes)
        _, ax = plt.subplots(figsize=(side + 1, side))
    fig = ax.figure
    cmap = plt.get_cmap("Blues").with_extremes(bad="white")
    shown = ax.imshow(np.ma.masked_invalid(shares), vmin=0, vmax=1, cmap=cmap)
    small = spec.num_classes > 8
    for row in range(spec.num_classes):
        if np.isnan(shares[row]).all():
            ax.text(
                spec.num_classes / 2 - 0.5,
                row,
                "n/a: not in the truth",
                ha="center",
                va="center",
                fontsize="x-small",
                color="grey",
            )
            continue
        for column in range(spec.num_classes):
            value = shares[row, column]
            if not small or value >= 0.005:
                ax.text(
                    column,
                    row,
                    f"{value:.2f}",
                    ha="center",
                    va="center",
                    fontsize=6 if small else 8,
                    color="white" if value > 0.6 else "black",
                )
    ax.set_xticks(range(spec.num_classes), spec.class_names, rotation=45, ha="right")
    ax.set_yticks(range(spec.num_classes), spec.class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if title:
        ax.set_title(title)
    fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04, label="share of the true class's pixels")
    return fig


class PredictionPreview(keras.callbacks.Callback):
    """After every `every` epochs, show the prediction on one fixed validation image."""

    def __init__(self, image: np.ndarray, mask: np.ndarray, spec: DatasetSpec, every: int = 1):
        super().__init__()
        self.image, self.mask, self.spec, self.every = image, mask, spec, every
        self.shown_epochs: list[int] = []
        self.handle = None

    def figure(self, epoch: int):
        """Photo, ground truth and the current prediction as overlays."""
        from .inference import predict_labels

        labels = predict_labels(self.model, self.image, tta=False)
        spec = self.spec
        fig, axes = plt.subplots(1, 3, figsize=(FIGURE_WIDTH, 3.6), layout="constrained")
        panels = [
            (self.image, "photo"),
            (_overlay(self.image, self.mask, spec), "ground truth"),
            (_overlay(self.image, labels, spec), f"prediction after epoch {epoch}"),
        ]
        for ax, (picture, name) in zip(axes, panels):
            ax.imshow(picture)
            ax.set_title(name)
            ax.axis("off")
        class_legend(fig, spec, overlay=True, loc="outside lower center", fontsize="small")
        return fig

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        from IPython.display import display

        fig = self.figure(epoch + 1)
        # One figure, updated in place: Keras' epoch lines above it stay readable.
        if self.handle is None:
            self.handle = display(fig, display_id=True)
        else:
            self.handle.update(fig)
        plt.close(fig)
        self.shown_epochs.append(epoch + 1)
