import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from workshop_helpers import CAMVID, VOC
from workshop_helpers.plotting import (
    PredictionPreview,
    colorize,
    legend_handles,
    metric_title,
    normalise_confusion,
    overlay,
    plot_confusion_matrix,
    plot_histories,
    plot_iou_bars,
    plot_pair,
    plot_predictions,
    plot_segmentation,
)


def test_colorize_paints_void_black():
    labels = np.array([[0, 1], [-1, 5]])
    colours = colorize(labels, VOC.palette)
    assert tuple(colours[1, 0]) == (0, 0, 0) and tuple(colours[1, 1]) == VOC.palette[5]


def test_overlay_leaves_background_and_hidden_classes_untouched_and_darkens_void():
    image = np.full((2, 3, 3), 100, np.uint8)
    labels = np.array([[0, 1, -1], [2, 3, 1]])
    shown = overlay(image, labels, VOC.palette, alpha=0.5, background_index=0, visible=[1, 2])
    assert (shown[0, 0] == 100).all() and (shown[1, 1] == 100).all()
    assert (shown[0, 2] == 50).all()  # void blends with black, its colour in masks and legends
    expected = np.round((100 + np.array(VOC.palette[1])) / 2)
    np.testing.assert_allclose(shown[0, 1], expected, atol=1)
    assert (overlay(image, labels, VOC.palette, alpha=1.0)[1, 0] == VOC.palette[2]).all()


def test_legends_end_with_void_in_black():
    handles = legend_handles(CAMVID)
    assert [h.get_label() for h in handles] == [*CAMVID.class_names, "void"]
    assert tuple(handles[-1].get_facecolor()[:3]) == (0, 0, 0)
    on_overlays = legend_handles(VOC, overlay=True)
    assert on_overlays[0].get_label() == "background (uncoloured)"
    assert on_overlays[0].get_facecolor()[3] == 0  # an empty box, unlike void's black one
    assert tuple(on_overlays[-1].get_facecolor()[:3]) == (0, 0, 0)


def _texts(figure):
    return [t.get_text() for ax in figure.axes for t in ax.texts]


@pytest.mark.parametrize("spec", [VOC, CAMVID], ids=lambda s: s.name)
def test_segmentation_keeps_its_title_and_shares_one_colour_bar(spec, rng):
    probabilities = rng.dirichlet(np.ones(spec.num_classes), size=(16, 16)).astype("float32")
    image = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    figure = plot_segmentation(image, probabilities, spec, title="astronaut")
    assert figure._suptitle.get_text() == "astronaut"
    maps = [ax for ax in figure.axes if ax.images and ax.images[0].get_array().ndim == 2]
    assert len(maps) == spec.num_classes
    assert all(ax.images[0].get_clim() == (0, 1) for ax in maps)
    bar = maps[-1].images[0].colorbar
    assert len(figure.axes) == 3 + spec.num_classes + 1  # input, overlay, legend, maps, one bar
    assert bar is not None and bar.ax.get_ylim() == (0, 1)
    assert figure.get_size_inches()[0] <= 10


def test_pair_and_predictions_fit_a_notebook_column(rng):
    image = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    labels = rng.integers(-1, 6, (16, 16))
    assert plot_pair(image, labels, VOC).get_size_inches()[0] <= 10
    predictions = {
        "a": rng.dirichlet(np.ones(6), size=(2, 16, 16)),
        "b": rng.dirichlet(np.ones(6), size=(2, 16, 16)),
    }
    figure = plot_predictions(np.stack([image] * 2), np.stack([labels] * 2), predictions, VOC)
    assert figure.get_size_inches()[0] <= 10
    assert "void" in [t.get_text() for t in figure.legends[0].get_texts()]


def test_history_curves_have_integer_epochs_labels_and_readable_titles():
    histories = {
        "scratch": {"loss": [1.0, 0.8, 0.7], "val_mean_iou": [0.1, 0.2, 0.25]},
        "pretrained": {"loss": [0.9, 0.6, 0.5], "val_mean_iou": [0.3, 0.4, 0.45]},
    }
    figure = plot_histories(histories, keys=("loss", "val_mean_iou"))
    assert figure.get_size_inches()[0] <= 10
    loss, iou = figure.axes[:2]
    assert (loss.get_title(), iou.get_title()) == ("training loss", "validation mean IoU")
    assert loss.get_xlabel() == "epoch" and iou.get_ylabel() == "mean IoU"
    figure.canvas.draw()
    ticks = [t for t in loss.get_xticks() if loss.get_xlim()[0] <= t <= loss.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)
    assert metric_title("val_iou_car") == "validation IoU of car"


def test_iou_bars_mark_unscored_classes(rng):
    scores = {"a": {"mIoU": 0.5, "per_class_iou": [0.5, None, 0.5, 0.5, 0.5, 0.5]}}
    figure = plot_iou_bars(scores, VOC)
    assert len(figure.axes[0].patches) == VOC.num_classes
    assert any("n/a" in t for t in _texts(figure))


def test_confusion_is_normalised_per_true_class_and_absent_classes_are_blank():
    confusion = np.array([[3, 1, 0], [0, 0, 0], [2, 2, 4]])
    shares = normalise_confusion(confusion)
    np.testing.assert_allclose(shares[0], [0.75, 0.25, 0])
    np.testing.assert_allclose(shares[2], [0.25, 0.25, 0.5])
    assert np.isnan(shares[1]).all()
    spec = CAMVID.__class__("three", ("a", "b", "c"), ((0, 0, 0),) * 3)
    figure = plot_confusion_matrix(confusion, spec, title="pretrained")
    ax = figure.axes[0]
    assert ax.get_title() == "pretrained" and ax.get_ylabel() == "true class"
    texts = [t.get_text() for t in ax.texts]
    assert "0.75" in texts and "0.50" in texts and any("n/a" in t for t in texts)
    assert not any(t == "nan" for t in texts)


def test_confusion_matrix_draws_into_a_given_axis():
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2)
    confusion = np.eye(VOC.num_classes, dtype=int) * 5
    assert plot_confusion_matrix(confusion, VOC, title="x", ax=axes[1]) is fig
    assert axes[1].get_title() == "x" and not axes[0].images


def test_prediction_preview_shows_one_figure_per_epoch(scratch_model, monkeypatch):
    import IPython.display

    shown, updated = [], []

    class Handle:
        def update(self, figure):
            updated.append(figure)

    def display(figure, display_id=False):
        shown.append(figure)
        return Handle()

    monkeypatch.setattr(IPython.display, "display", display)
    image = np.zeros((64, 80, 3), np.uint8)
    mask = np.zeros((64, 80), np.int8)
    preview = PredictionPreview(image, mask, VOC, every=2)
    preview.set_model(scratch_model)
    for epoch in range(4):
        preview.on_epoch_end(epoch)
    # Displayed once, then updated in place, so Keras' epoch lines are never cleared.
    assert preview.shown_epochs == [2, 4] and len(shown) == 1 and len(updated) == 1
    shown = shown + updated
    titles = [ax.get_title() for ax in shown[-1].axes]
    assert "prediction after epoch 4" in titles
    assert shown[-1].axes[2].images[0].get_array().shape[:2] == (64, 80)
