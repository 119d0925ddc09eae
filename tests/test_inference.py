import numpy as np
import pytest

from workshop_helpers import predict, predict_labels, sliding_window_predict
from workshop_helpers.inference import window_offsets


def test_predict_returns_probabilities_at_the_input_resolution(scratch_model, rng):
    image = rng.integers(0, 256, (183, 301, 3), dtype=np.uint8)
    probabilities = predict(scratch_model, image)
    assert probabilities.shape == (183, 301, 6) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-4)
    batch = predict(scratch_model, np.stack([image, image]))
    assert batch.shape == (2, 183, 301, 6)
    np.testing.assert_allclose(batch[0], probabilities, atol=1e-5)


def test_float_images_in_unit_range_match_uint8(scratch_model, rng):
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    np.testing.assert_allclose(
        predict(scratch_model, image), predict(scratch_model, image / 255.0), atol=1e-5
    )


def test_flip_tta_is_mirror_symmetric(scratch_model, rng):
    image = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    direct = predict(scratch_model, image)
    mirrored = predict(scratch_model, image[:, ::-1])
    np.testing.assert_allclose(mirrored, direct[:, ::-1], atol=1e-5)
    assert not np.allclose(
        predict(scratch_model, image, tta=False)[:, ::-1],
        predict(scratch_model, image[:, ::-1], tta=False),
        atol=1e-5,
    )


def test_seed_windows_are_the_original_notebooks_144_positions():
    offsets = window_offsets()
    assert offsets == list(np.minimum(range(0, 35, 3), 32)) and len(offsets) ** 2 == 144
    covered = np.zeros(256, bool)
    for offset in offsets:
        covered[offset : offset + 224] = True
    assert covered.all()
    assert window_offsets(100, 64, 16) == [0, 16, 32, 36] and window_offsets(64, 64) == [0]
    with pytest.raises(ValueError, match="larger"):
        window_offsets(200, 224)


def test_sliding_windows_cover_every_pixel_without_nan(scratch_model, rng):
    image = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    # Windows of 64 at step 40 stop at 160 unclipped, leaving the last 32 rows and columns bare.
    probabilities = sliding_window_predict(scratch_model, image, window=64, step=40)
    assert probabilities.shape == (256, 256, 6) and not np.isnan(probabilities).any()
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-4)


def test_sliding_window_returns_normalised_probabilities(scratch_model, rng):
    image = rng.integers(0, 256, (100, 120, 3), dtype=np.uint8)
    probabilities = sliding_window_predict(
        scratch_model, image, step=16
    )  # 3x3 windows to stay fast
    assert probabilities.shape == (100, 120, 6)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-4)


def test_bad_inputs_are_refused(scratch_model):
    with pytest.raises(ValueError, match="RGB"):
        predict(scratch_model, np.zeros((10, 10)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        predict(scratch_model, np.full((10, 10, 3), 7.0))
    with pytest.raises(ValueError, match="divisible by 32"):
        predict(scratch_model, np.zeros((10, 10, 3), np.uint8), size=100)


def test_predict_labels_agree_with_the_argmax_of_predict(scratch_model, rng):
    image = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    labels = predict_labels(scratch_model, image)
    assert labels.shape == (256, 256)
    np.testing.assert_array_equal(labels, predict(scratch_model, image).argmax(-1))
    assert predict_labels(scratch_model, np.stack([image[:100, :150]] * 2)).shape == (2, 100, 150)


def test_prediction_traces_once_per_model_and_size(rng):
    from workshop_helpers import build_model
    from workshop_helpers.inference import trace_count

    model = build_model(3, input_size=64)
    images = rng.integers(0, 256, (5, 70, 90, 3), dtype=np.uint8)
    # Batches of 2, 2 and 1, with and without flip TTA (which doubles each batch).
    predict(model, images, size=64, batch_size=2)
    predict_labels(model, images[:3], size=64, tta=False)
    predict(model, images, size=96, batch_size=4)
    assert trace_count(model) == {64: 1, 96: 1}


def test_many_models_predicting_once_each_do_not_warn_of_retracing(rng, caplog):
    from workshop_helpers import build_model

    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    with caplog.at_level("WARNING"):
        for _ in range(6):  # TensorFlow warns after 5 traces of one function among 10 calls
            predict(build_model(3, input_size=64), image, size=64)
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]
