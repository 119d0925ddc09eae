import keras
import numpy as np
import pytest

from workshop_helpers import SegmentationGenerator, preprocess


@pytest.fixture
def data(rng):
    images = rng.integers(0, 256, (10, 256, 256, 3), dtype=np.uint8)
    masks = rng.integers(-1, 6, (10, 256, 256), dtype=np.int8)
    return images, masks


def test_preprocess_matches_keras_mobilenet_v2(rng):
    images = rng.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    expected = keras.applications.mobilenet_v2.preprocess_input(images.astype("float32"))
    np.testing.assert_allclose(preprocess(images), expected, atol=1e-6)


def test_batches_have_the_documented_shapes_dtypes_and_ranges(data):
    generator = SegmentationGenerator(*data, batch_size=4, augment=True)
    assert len(generator) == 3
    x, y = generator[0]
    assert x.shape == (4, 224, 224, 3) and x.dtype == np.float32
    assert y.shape == (4, 224, 224, 1) and y.dtype == np.int32
    assert -1 <= x.min() and x.max() <= 1 and y.min() >= -1 and y.max() <= 5
    assert generator[2][0].shape[0] == 2  # the last, partial batch


def test_validation_is_the_deterministic_centre_crop(data):
    images, masks = data
    x, y = SegmentationGenerator(images, masks, batch_size=10, augment=False)[0]
    np.testing.assert_array_equal(y[..., 0], masks[:, 16:240, 16:240])
    np.testing.assert_allclose(x, preprocess(images[:, 16:240, 16:240]))


def test_augmentation_crops_and_flips_image_and_mask_together(rng):
    # Encode each pixel's column in the image and the mask, then check they still agree after
    # augmentation.
    columns = np.broadcast_to(np.arange(256, dtype=np.uint8)[None, :, None], (256, 256, 3))
    images = np.stack([columns] * 8)
    masks = (np.stack([columns[..., 0]] * 8) % 6).astype(np.int8)
    generator = SegmentationGenerator(images, masks, batch_size=8, augment=True, seed=3)
    x, y = generator[0]
    original_columns = np.round((x[..., 0] + 1) * 127.5).astype(int)
    np.testing.assert_array_equal(original_columns % 6, y[..., 0])
    flipped = original_columns[:, 0, 0] > original_columns[:, 0, -1]
    assert flipped.any() and not flipped.all()


def test_seeded_and_reshuffled_each_epoch(data):
    first = SegmentationGenerator(*data, batch_size=10, augment=True, seed=7)
    again = SegmentationGenerator(*data, batch_size=10, augment=True, seed=7)
    np.testing.assert_array_equal(first[0][1], again[0][1])
    order = first._order.copy()
    first.on_epoch_end()
    assert not np.array_equal(order, first._order)


def test_mismatched_inputs_are_refused(data):
    images, masks = data
    with pytest.raises(ValueError):
        SegmentationGenerator(images, masks[:3], batch_size=2, augment=False)
    with pytest.raises(ValueError):
        SegmentationGenerator(
            images[:, :100, :100], masks[:, :100, :100], batch_size=2, augment=False
        )
