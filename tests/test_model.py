import keras
import numpy as np
import pytest

from workshop_helpers import SegmentationGenerator, build_model, compile_model, freeze_encoder
from workshop_helpers.data.sources import prime_keras_cache
from workshop_helpers.model import (
    SKIP_LAYER_NAMES,
    at_input_size,
    batchnorm_layers,
    reestimate_batchnorm,
)

from .conftest import needs_mirror


def test_parameter_count_matches_the_original_notebook(scratch_model):
    assert scratch_model.count_params() == 3_984_166


def test_skips_come_from_the_named_encoder_layers(scratch_model):
    shapes = [tuple(scratch_model.get_layer(name).output.shape) for name in SKIP_LAYER_NAMES]
    assert [shape[1:] for shape in shapes] == [
        (112, 112, 16),
        (56, 56, 24),
        (28, 28, 32),
        (14, 14, 96),
    ]
    assert scratch_model.output_shape == (None, 224, 224, 6)


def test_same_weights_at_another_input_size(scratch_model):
    bigger = at_input_size(scratch_model, 256)
    assert bigger.output_shape == (None, 256, 256, 6)
    assert bigger.weights[0] is scratch_model.weights[0]
    assert build_model(6, input_size=256).count_params() == scratch_model.count_params()


def test_input_size_must_be_divisible_by_32():
    with pytest.raises(ValueError, match="divisible by 32"):
        build_model(6, input_size=200)


def test_reestimated_batchnorm_uses_the_batch_statistics(rng):
    model = build_model(3)
    x = rng.normal(2.0, 3.0, (4, 224, 224, 3)).astype("float32")
    first = batchnorm_layers(model)[0]  # right after the first convolution
    reestimate_batchnorm(model, [x])
    features = keras.Model(model.input, model.get_layer("Conv1").output)(x)
    expected = keras.ops.convert_to_numpy(keras.ops.mean(features, axis=(0, 1, 2)))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(first.moving_mean), expected, rtol=1e-3, atol=1e-4
    )
    assert first.momentum == pytest.approx(0.999)


@needs_mirror
def test_one_training_step_with_imagenet_weights(mirror, tmp_path, monkeypatch, rng, eager_steps):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    prime_keras_cache(mirror)
    model = compile_model(build_model(6, pretrained=True, input_size=64), 6)
    kernel = model.get_layer("Conv1").kernel
    assert float(keras.ops.std(kernel)) > 0.1  # ImageNet filters, not a fresh initialisation
    # A small input: one step of the ImageNet weights, not their speed, is under test.
    images = rng.integers(0, 256, (4, 96, 96, 3), dtype=np.uint8)
    masks = rng.integers(-1, 6, (4, 96, 96)).astype(np.int8)
    before = keras.ops.convert_to_numpy(kernel).copy()
    batches = SegmentationGenerator(images, masks, 4, augment=True, crop_size=64)
    history = model.fit(batches, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert not np.allclose(before, keras.ops.convert_to_numpy(kernel))
    smaller = build_model(
        6, pretrained=True, input_size=160
    )  # the same 224 weights file, no other download
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(smaller.get_layer("Conv1").kernel), before
    )


def test_freeze_encoder_leaves_only_the_decoder_trainable():
    model = freeze_encoder(build_model(6))
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == 3_984_166 - 2_257_984
    freeze_encoder(model, frozen=False)
    assert len(model.trainable_weights) > len(model.non_trainable_weights)
