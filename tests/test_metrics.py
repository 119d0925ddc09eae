import keras
import numpy as np
import pytest
from keras import ops

from workshop_helpers import MaskedPixelAccuracy, evaluate, masked_loss, mean_iou_metric
from workshop_helpers.metrics import (
    WeightedMaskedLoss,
    class_pixel_shares,
    median_frequency_weights,
    per_image_weighted_iou,
    scores_from_confusion,
    scores_from_labels,
)


def _probabilities(rng, shape, classes=3):
    logits = rng.normal(size=(*shape, classes))
    return (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype("float32")


def test_loss_ignores_predictions_on_void_pixels(rng):
    labels = rng.integers(-1, 3, (2, 4, 4, 1)).astype("int32")
    first, second = _probabilities(rng, (2, 4, 4)), _probabilities(rng, (2, 4, 4))
    void = labels[..., 0] < 0
    mixed = np.where(void[..., None], second, first)
    assert void.any()
    np.testing.assert_allclose(
        float(masked_loss(labels, first)), float(masked_loss(labels, mixed)), rtol=1e-6
    )


def test_loss_is_the_mean_cross_entropy_over_valid_pixels():
    labels = np.array([[[[0], [1]], [[-1], [2]]]], dtype="int32")  # 1x2x2x1, one void pixel
    probabilities = np.full((1, 2, 2, 3), 0.25, dtype="float32")
    probabilities[..., 0] = 0.5
    expected = -(np.log(0.5) + np.log(0.25) + np.log(0.25)) / 3
    assert float(masked_loss(labels, probabilities)) == pytest.approx(expected, rel=1e-5)


def test_all_void_batch_gives_zero_loss_not_nan():
    labels = -np.ones((1, 2, 2, 1), dtype="int32")
    assert float(masked_loss(labels, np.full((1, 2, 2, 3), 1 / 3, dtype="float32"))) == 0.0


def _tiny_case():
    truth = np.array([[0, 0, 1], [1, 2, -1]], dtype="int32")
    predicted = np.array([[0, 1, 1], [1, 0, 2]])
    return truth, keras.ops.convert_to_numpy(ops.one_hot(predicted, 3))


def test_metrics_on_a_hand_computed_case():
    truth, probabilities = _tiny_case()
    # valid pixels: (0,0)->0 ok, (0,1)->1 wrong, (1,0)->1 ok, (0,2)->1 ok, (1,1)->0 wrong (truth 2)
    # IoU class0 = 1/(2+2-1)=1/3, class1 = 2/(2+3-2)=2/3, class2 = 0/(1+0-0)=0
    accuracy = MaskedPixelAccuracy()
    accuracy.update_state(truth[None, ..., None], probabilities[None])
    assert float(accuracy.result()) == pytest.approx(3 / 5)
    iou = mean_iou_metric(3)
    iou.update_state(truth[None, ..., None], probabilities[None])
    assert float(iou.result()) == pytest.approx((1 / 3 + 2 / 3 + 0) / 3)
    scores = scores_from_confusion(ops.convert_to_numpy(iou.total_cm))
    assert scores["per_class_iou"] == pytest.approx([1 / 3, 2 / 3, 0.0])
    assert scores["pixel_accuracy"] == pytest.approx(3 / 5)


def test_absent_classes_are_left_out_of_the_mean():
    confusion = np.array([[3, 1, 0], [0, 2, 0], [0, 0, 0]])
    scores = scores_from_confusion(confusion)
    assert scores["per_class_iou"][2] is None
    assert scores["mIoU"] == pytest.approx((3 / 4 + 2 / 3) / 2)


def test_evaluate_matches_numpy_on_a_tiny_model(rng):
    # A 1x1 convolution model: fully convolutional, so predictions at 256 map pixel to pixel.
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(3, 1, activation="softmax")(inputs))
    images = rng.integers(0, 256, (3, 256, 256, 3), dtype=np.uint8)
    masks = rng.integers(-1, 3, (3, 256, 256)).astype(np.int8)
    scores = evaluate(model, images, masks, num_classes=3, tta=False)
    predicted = model.predict(images.astype("float32") / 127.5 - 1, verbose=0).argmax(-1)
    valid = masks >= 0
    confusion = np.zeros((3, 3))
    np.add.at(confusion, (masks[valid], predicted[valid]), 1)
    expected = scores_from_confusion(confusion)
    assert scores["mIoU"] == pytest.approx(expected["mIoU"], abs=1e-6)
    assert scores["pixel_accuracy"] == pytest.approx(expected["pixel_accuracy"], abs=1e-6)


def test_per_image_weighted_iou_by_hand():
    truth, probabilities = _tiny_case()
    # present: class0 (2 px, IoU 1/3), class1 (2 px, IoU 2/3), class2 (1 px, IoU 0) -> (2/3 + 4/3 +
    # 0) / 5
    assert per_image_weighted_iou(probabilities.argmax(-1)[None], truth[None])[0] == pytest.approx(
        2 / 5
    )


def test_scores_from_labels_match_the_hand_computed_case():
    truth, probabilities = _tiny_case()
    scores = scores_from_labels(probabilities.argmax(-1), truth, 3)
    assert scores["per_class_iou"] == pytest.approx([1 / 3, 2 / 3, 0.0])
    assert scores["pixel_accuracy"] == pytest.approx(3 / 5)


def test_class_pixel_shares_leave_void_out():
    masks = np.array([[[0, 0, 1, -1], [2, 0, -1, -1]]], dtype=np.int8)
    np.testing.assert_allclose(class_pixel_shares(masks, 4), [3 / 5, 1 / 5, 1 / 5, 0])


def test_median_frequency_weights_lift_rare_classes_and_skip_absent_ones():
    weights = median_frequency_weights([0.6, 0.3, 0.1, 0.0])
    np.testing.assert_allclose(weights, [0.3 / 0.6, 1.0, 0.3 / 0.1, 0.0])
    softened = median_frequency_weights([0.6, 0.3, 0.1, 0.0], power=0.5)
    np.testing.assert_allclose(softened, np.sqrt(weights))


def test_weighted_loss_with_equal_weights_is_the_masked_loss(rng):
    labels = rng.integers(-1, 3, (2, 4, 4, 1)).astype("int32")
    probabilities = _probabilities(rng, (2, 4, 4))
    weighted = WeightedMaskedLoss([2.0, 2.0, 2.0])(labels, probabilities)
    assert float(weighted) == pytest.approx(float(masked_loss(labels, probabilities)), rel=1e-5)


def test_weighted_loss_is_the_weighted_mean_over_valid_pixels():
    labels = np.array([[[[0], [1]], [[-1], [2]]]], dtype="int32")  # one void pixel
    probabilities = np.full((1, 2, 2, 3), 0.25, dtype="float32")
    probabilities[..., 0] = 0.5
    weights = [1.0, 3.0, 0.5]
    expected = -(1.0 * np.log(0.5) + 3.0 * np.log(0.25) + 0.5 * np.log(0.25)) / 4.5
    assert float(WeightedMaskedLoss(weights)(labels, probabilities)) == pytest.approx(
        expected, rel=1e-5
    )
    all_void = -np.ones((1, 2, 2, 1), dtype="int32")
    assert float(WeightedMaskedLoss(weights)(all_void, probabilities)) == 0.0


def test_weighted_loss_survives_serialisation():
    loss = WeightedMaskedLoss([0.5, 2.0])
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(restored, WeightedMaskedLoss) and restored.class_weights == [0.5, 2.0]
