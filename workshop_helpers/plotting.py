"""Figures: masks in colour, overlays, probability maps, training curves and IoU bars."""

from __future__ import annotations

import cv2
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

from .datasets import DatasetSpec

VOID_COLOUR = (0, 0, 0)


def colorize(labels: np.ndarray, palette) -> np.ndarray:
    """RGB image of a label mask; void (-1) is black."""
    table = np.vstack([np.asarray(palette, dtype=np.uint8), np.array([VOID_COLOUR], dtype=np.uint8)])
    return table[np.where(labels < 0, len(table) - 1, labels)]


def overlay(image: np.ndarray, labels: np.ndarray, palette, alpha: float = 0.5,
            background_index: int | None = None, visible=None) -> np.ndarray:
    """Blend coloured labels over a uint8 photo; background, void and hidden classes stay unblended."""
    blend = labels >= 0
    if background_index is not None:
        blend &= labels != background_index
    if visible is not None:
        blend &= np.isin(labels, list(visible))
    blended = cv2.addWeighted(image, 1 - alpha, colorize(labels, palette), alpha, 0)
    return np.where(blend[..., None], blended, image)


def legend_handles(class_names, palette) -> list[Patch]:
    """Legend patches, one per class colour."""
    return [Patch(color=np.asarray(c) / 255, label=n) for n, c in zip(class_names, palette)]


def show_legend(spec: DatasetSpec, ax=None):
    """A figure that shows a dataset's classes and colours."""
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 * spec.num_classes, 0.6))
    ax.legend(handles=legend_handles(spec.class_names, spec.palette), loc="center", ncol=spec.num_classes,
              frameon=False)
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
    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    panels = [(image, "photo"), (colorize(labels, spec.palette), "mask (black = void)"),
              (overlay(image, labels, spec.palette, background_index=spec.background_index), "overlay")]
    for ax, (picture, name) in zip(axes, panels):
        ax.imshow(picture)
        ax.set_title(name)
        ax.axis("off")
    fig.legend(handles=legend_handles(spec.class_names, spec.palette), loc="lower center", ncol=spec.num_classes)
    fig.suptitle(title)
    return fig


def plot_segmentation(image: np.ndarray, probabilities: np.ndarray, class_names, palette,
                      background_index: int | None = None, columns: int = 6, title: str | None = None):
    """Input, argmax overlay with a legend, and per-class probability maps titled with their mean."""
    image = display_image(image)
    classes = len(class_names)
    map_rows = -(-classes // columns)
    fig = plt.figure(figsize=(2.2 * columns, 2.2 * (2 + map_rows)))
    grid = fig.add_gridspec(1 + map_rows, columns, height_ratios=[2] + [1] * map_rows)
    labels = probabilities.argmax(-1)
    panels = [(image, "input"), (overlay(image, labels, palette, background_index=background_index), "prediction")]
    for k, (picture, title) in enumerate(panels):
        ax = fig.add_subplot(grid[0, 2 * k:2 * k + 2])
        ax.imshow(picture)
        ax.set_title(title)
        ax.axis("off")
    ax = fig.add_subplot(grid[0, 4:])
    ax.legend(handles=legend_handles(class_names, palette), loc="center", frameon=False)
    ax.axis("off")
    for index, name in enumerate(class_names):
        ax = fig.add_subplot(grid[1 + index // columns, index % columns])
        ax.imshow(probabilities[..., index], vmin=0, vmax=1, cmap="viridis")
        ax.set_title(f"{name}: {probabilities[..., index].mean():.2f}", fontsize="small")
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize="x-large")
    fig.tight_layout()
    return fig


def plot_predictions(images, masks, predictions: dict, spec: DatasetSpec):
    """Rows of photo, ground-truth overlay and one prediction overlay per model."""
    columns = 2 + len(predictions)
    fig, axes = plt.subplots(len(images), columns, figsize=(3 * columns, 3 * len(images)), squeeze=False)
    for row, (image, mask) in enumerate(zip(images, masks)):
        panels = [(image, "photo"), (overlay(image, mask, spec.palette, background_index=spec.background_index),
                                     "ground truth")]
        for name, probabilities in predictions.items():
            labels = probabilities[row].argmax(-1)
            panels.append((overlay(image, labels, spec.palette, background_index=spec.background_index), name))
        for ax, (picture, title) in zip(axes[row], panels):
            ax.imshow(picture)
            ax.set_title(title if row == 0 else "")
            ax.axis("off")
    fig.legend(handles=legend_handles(spec.class_names, spec.palette), loc="lower center",
               ncol=min(spec.num_classes, 6))
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def plot_histories(histories: dict, keys=("loss", "val_loss")):
    """Training and validation curves of one or more Keras histories on shared axes."""
    fig, axes = plt.subplots(1, len(keys), figsize=(6 * len(keys), 4), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for name, history in histories.items():
            if key in history:
                values = history[key]
                ax.plot(range(1, len(values) + 1), values, marker="o", label=name)
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.legend()
    fig.tight_layout()
    return fig


def plot_iou_bars(results: dict, class_names):
    """Grouped bars of per-class IoU, one group per class and one bar per model."""
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(class_names) * len(results)), 4))
    width = 0.8 / len(results)
    positions = np.arange(len(class_names))
    for k, (name, scores) in enumerate(results.items()):
        values = [np.nan if v is None else v for v in scores["per_class_iou"]]
        ax.bar(positions + k * width, values, width, label=f"{name} (mIoU {scores['mIoU']:.3f})")
    ax.set_xticks(positions + width * (len(results) - 1) / 2, class_names, rotation=30)
    ax.set_ylabel("IoU")
    ax.set_ylim(0, 1)
    ax.legend()
    fig.tight_layout()
    return fig
