import keras
import numpy as np
import pytest

from workshop_helpers.course.pitfalls import (
    as_stored,
    colour_labels,
    foreign_labels,
    mask_resizing_damage,
    resize_masks,
    stuck_mean_iou,
    truncate_to_labels,
    void_as_background,
)

# One row of six pixels, repeated: background, background, background, cat, cat, cat.
BACKGROUND_THEN_CAT = np.array([[0, 0, 0, 3, 3, 3]] * 6, dtype=np.int8)[None]


def test_masks_are_stored_with_void_255():
    stored = as_stored(np.array([[-1, 0, 5]], dtype=np.int8))
    assert stored.dtype == np.uint8 and stored.tolist() == [[255, 0, 5]]


def test_bilinear_invents_a_class_between_background_and_cat_and_nearest_does_not():
    bilinear = resize_masks(BACKGROUND_THEN_CAT, 9, "bilinear")[0, 0]
    assert bilinear[4] == pytest.approx(1.5)  # halfway between 0 and 3
    assert truncate_to_labels(bilinear)[4] == 1  # aeroplane, in a picture of a cat
    nearest = resize_masks(BACKGROUND_THEN_CAT, 9, "nearest")
    assert set(np.unique(nearest)) == {0, 3}


def test_bilinear_between_background_and_void_gives_values_of_no_class():
    mask = np.array([[0, 0, -1, -1]] * 4, dtype=np.int8)[None]
    labels = truncate_to_labels(resize_masks(mask, 6, "bilinear"))
    assert ((labels > 5) & (labels < 255)).any()


def test_foreign_labels_are_those_absent_from_the_images_own_mask():
    masks = np.array([[[0, 3]], [[0, 1]]], dtype=np.int8)
    labels = np.array([[[1, 3]], [[1, 255]]], dtype=np.uint8)
    assert foreign_labels(masks, labels).tolist() == [[[True, False]], [[False, True]]]


def test_damage_counts_each_kind_of_pixel_and_nearest_does_none():
    damage = mask_resizing_damage(BACKGROUND_THEN_CAT, 9, num_classes=6)
    assert damage["nearest"] == {
        "fractional": 0.0,
        "changed": 0.0,
        "not_in_image": 0.0,
        "not_a_class": 0.0,
    }
    # Column 4 of 9 is 1.5: fractional, then aeroplane, a class not in the image.
    assert damage["bilinear"]["fractional"] == pytest.approx(1 / 9)
    assert damage["bilinear"]["changed"] == pytest.approx(1 / 9)
    assert damage["bilinear"]["not_in_image"] == pytest.approx(1 / 9)
    assert damage["bilinear"]["not_a_class"] == 0.0


def test_labels_of_no_class_are_white_and_void_black():
    palette = [(10, 10, 10), (20, 20, 20)]
    rgb = colour_labels(np.array([[0, 1, 7, 255]], dtype=np.uint8), palette)
    assert rgb[0].tolist() == [[10, 10, 10], [20, 20, 20], [255, 255, 255], [0, 0, 0]]


def test_void_folds_into_background():
    masks = np.array([[-1, 2, 0]], dtype=np.int8)
    folded = void_as_background(masks, background_index=0)
    assert folded.tolist() == [[0, 2, 0]] and folded.dtype == np.int8


def test_keras_mean_iou_fed_one_hot_masks_and_softmax_gives_the_stuck_constant(rng):
    masks = rng.integers(-1, 6, (2, 16, 16))
    logits = rng.normal(size=(2, 16, 16, 6))
    probabilities = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype("float32")
    metric = keras.metrics.MeanIoU(num_classes=6)
    metric.update_state(keras.ops.one_hot(masks, 6), probabilities)
    expected = stuck_mean_iou(void_share=float(np.mean(masks < 0)), num_classes=6)
    assert float(metric.result()) == pytest.approx(expected, abs=1e-6)
    assert stuck_mean_iou(0.0, 6) == pytest.approx(5 / 12)


def test_the_cast_truncates_but_forgives_float_error():
    assert truncate_to_labels(np.array([1.5, 2.9999998, 254.7])).tolist() == [1, 3, 254]
