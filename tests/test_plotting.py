import matplotlib

matplotlib.use("Agg")

import numpy as np

from workshop_helpers import CAMVID, VOC
from workshop_helpers.plotting import colorize, overlay, plot_iou_bars, plot_pair, plot_segmentation


def test_colorize_paints_void_black():
    labels = np.array([[0, 1], [-1, 5]])
    colours = colorize(labels, VOC.palette)
    assert tuple(colours[1, 0]) == (0, 0, 0) and tuple(colours[1, 1]) == VOC.palette[5]


def test_overlay_leaves_background_void_and_hidden_classes_untouched():
    image = np.full((2, 3, 3), 100, np.uint8)
    labels = np.array([[0, 1, -1], [2, 3, 1]])
    shown = overlay(image, labels, VOC.palette, alpha=0.5, background_index=0, visible=[1, 2])
    assert (shown[0, 0] == 100).all() and (shown[0, 2] == 100).all() and (shown[1, 1] == 100).all()
    expected = np.round((100 + np.array(VOC.palette[1])) / 2)
    np.testing.assert_allclose(shown[0, 1], expected, atol=1)
    assert (overlay(image, labels, VOC.palette, alpha=1.0)[1, 0] == VOC.palette[2]).all()


def test_figures_build_for_both_datasets(rng):
    for spec in (VOC, CAMVID):
        probabilities = rng.dirichlet(np.ones(spec.num_classes), size=(16, 16)).astype("float32")
        image = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
        figure = plot_segmentation(image, probabilities, spec.class_names, spec.palette, title="t")
        assert len(figure.axes) == 3 + spec.num_classes
        plot_pair(image, probabilities.argmax(-1), spec)
        scores = {"a": {"mIoU": 0.5, "per_class_iou": [0.5] * spec.num_classes}}
        assert len(plot_iou_bars(scores, spec.class_names).axes[0].patches) == spec.num_classes
