import json
import re

import keras
import numpy as np
import pytest

from tests.eager import eagerly
from workshop_helpers import predict
from workshop_helpers.checkpoints import (
    CheckpointError,
    load_checkpoint,
    load_history,
    load_trained_beforehand,
    trained_with,
)
from workshop_helpers.model import batchnorm_layers, encoder_layers
from workshop_helpers.pipeline import SegmentationGenerator
from workshop_helpers.settings import SettingsError, load_settings
from workshop_helpers.training import (
    compile_model,
    configure_batchnorm,
    estimate_fit_time,
    get_trained_model,
    learning_rate_for,
    train,
)


@pytest.fixture
def tiny(rng):
    """Eight random 64x64 images with masks: enough for a two-step training run at 32x32 crops."""
    images = rng.integers(0, 256, (8, 64, 64, 3), dtype=np.uint8)
    masks = rng.integers(-1, 6, (8, 64, 64)).astype(np.int8)
    return (images, masks), (images[:2], masks[:2])


def tiny_settings(**overrides):
    base = {"preset": "full", "epochs": 1, "batch_size": 4, "crop_size": 32}
    return load_settings({}, **{**base, **overrides})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny training run, saved where the notebooks would look for a CamVid fast checkpoint."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (8, 64, 64, 3), dtype=np.uint8)
    masks = rng.integers(-1, 11, (8, 64, 64)).astype(np.int8)
    settings = tiny_settings(dataset="camvid", preset="fast")
    folder = tmp_path_factory.mktemp("checkpoints")
    checkpoint = settings.checkpoint("scratch", folder)
    with eagerly():
        _, history = train(
            settings,
            pretrained=False,
            checkpoint=checkpoint,
            data=((images, masks), (images[:2], masks[:2])),
            verbose=0,
        )
    return settings, checkpoint, history


def test_train_takes_one_settings_object_and_saves_checkpoint_and_history(trained):
    settings, checkpoint, history = trained
    assert set(history) >= {"loss", "val_loss", "mean_iou", "val_mean_iou"}
    assert len(history["loss"]) == 1
    saved_history, saved_settings = load_history(checkpoint.with_suffix(".history.json"))
    assert saved_history == history and saved_settings["crop_size"] == 32
    assert trained_with(checkpoint, settings)
    assert not trained_with(
        checkpoint, tiny_settings(dataset="camvid", preset="fast", learning_rate=5e-4)
    )


def test_the_estimate_leaves_model_and_batches_as_they_were_and_fit_reuses_its_graph(tiny):
    (images, masks), (val_images, val_masks) = tiny
    # Any segmentation model will do: a small one traces in a second.
    inputs = keras.Input((32, 32, 3))
    outputs = keras.layers.Conv2D(6, 3, padding="same", activation="softmax")(
        keras.layers.BatchNormalization()(keras.layers.Conv2D(8, 3, padding="same")(inputs))
    )
    model = compile_model(keras.Model(inputs, outputs), 6, 1e-3)
    train_batches = SegmentationGenerator(images, masks, 4, augment=True, crop_size=32)
    val_batches = SegmentationGenerator(val_images, val_masks, 2, augment=False, crop_size=32)
    traces = []  # in graph mode, Keras runs train_step's Python only while tracing it
    train_step = model.train_step
    model.train_step = lambda data: traces.append(1) or train_step(data)
    weights = model.get_weights()
    line = estimate_fit_time(model, train_batches, 2, val_batches)
    assert re.fullmatch(
        r"Expected training time on this machine: about \S+ s \(\d+\.\d\d s per batch of 4, "
        r"measured just now; 2 batches and 1 validation batch per epoch, 2 epochs\)\.",
        line,
    ), line
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))
    assert int(model.optimizer.iterations) == 0 and train_batches.epoch == 0
    traced = len(traces)
    model.fit(train_batches, validation_data=val_batches, epochs=1, verbose=0)
    assert traced >= 1 and len(traces) == traced


def test_inference_mode_batchnorm_keeps_the_encoder_statistics(scratch_model):
    model = keras.models.clone_model(scratch_model)
    configure_batchnorm(
        model, load_settings({}, preset="full", pretrained_batchnorm="inference"), pretrained=True
    )
    encoder = {id(layer) for layer in encoder_layers(model)}
    assert all(not bn.trainable for bn in batchnorm_layers(model) if id(bn) in encoder)
    first = batchnorm_layers(model)[0]
    before = keras.ops.convert_to_numpy(first.moving_mean).copy()
    model(np.random.default_rng(0).normal(size=(2, 224, 224, 3)).astype("float32"), training=True)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(first.moving_mean), before)
    configure_batchnorm(
        model, load_settings({}, preset="full", batchnorm_momentum=0.9), pretrained=False
    )
    assert all(bn.momentum == 0.9 for bn in batchnorm_layers(model))


def test_get_trained_model_reuses_only_a_checkpoint_of_the_same_settings(trained, monkeypatch):
    import workshop_helpers.training as training

    settings, checkpoint, history = trained
    calls = []
    monkeypatch.setattr(training, "train", lambda *args, **kwargs: calls.append(args) or (None, {}))
    model, reused = get_trained_model(settings, False, reuse=True, checkpoint_dir=checkpoint.parent)
    assert calls == [] and reused == history and model.count_params() == 3_984_166 + 5 * 33
    get_trained_model(
        tiny_settings(dataset="camvid", preset="fast", seed=1),
        False,
        reuse=True,
        checkpoint_dir=checkpoint.parent,
    )
    get_trained_model(settings, False, checkpoint_dir=checkpoint.parent)  # no reuse: trains again
    assert len(calls) == 2
    with pytest.raises(CheckpointError, match="fetch-checkpoints"):
        get_trained_model(
            tiny_settings(models="checkpoint"), True, checkpoint_dir=checkpoint.parent
        )


def test_loading_a_checkpoint_of_other_settings_says_which_differ(trained, capsys):
    settings, checkpoint, history = trained
    same = tiny_settings(dataset="camvid", preset="fast", models="checkpoint")
    _, loaded = load_trained_beforehand(same, "scratch", checkpoint.parent)
    assert loaded == history
    assert "other settings" not in capsys.readouterr().out
    other = tiny_settings(
        dataset="camvid", preset="fast", models="checkpoint", learning_rate=5e-4, seed=3
    )
    _, loaded = load_trained_beforehand(other, "scratch", checkpoint.parent)
    lines = capsys.readouterr().out.splitlines()
    assert loaded == history and len(lines) == 2
    assert lines[1] == (
        f"  It was trained with other settings: learning_rate {settings.learning_rate} (now "
        '0.0005), seed 0 (now 3). Its scores are that training\'s; start(models="train") '
        "trains one with yours."
    )


def test_checkpoint_round_trip_gives_identical_predictions(scratch_model, tmp_path, rng):
    model = compile_model(scratch_model, 6)
    path = tmp_path / "model.keras"
    model.save(path)
    restored = load_checkpoint(path)
    image = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    np.testing.assert_array_equal(predict(model, image), predict(restored, image))


def test_missing_checkpoint_says_how_to_make_one(tmp_path):
    with pytest.raises(CheckpointError, match="workshop_helpers train"):
        load_checkpoint(tmp_path / "none.keras")


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04truncated"])
def test_damaged_checkpoint_says_it_is_damaged(tmp_path, content):
    path = tmp_path / "voc_scratch.keras"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="is damaged"):
        load_checkpoint(path)


def test_damaged_checkpoint_on_the_cli_is_one_line(tmp_path, capsys):
    from workshop_helpers.tools.cli import main

    path = tmp_path / "voc_scratch.keras"
    path.write_bytes(b"PK\x03\x04truncated")
    assert main(["evaluate", str(path), "--dataset", "camvid", "--data-dir", str(tmp_path)]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("error:") and "is damaged" in error and "\n" not in error


def test_old_flat_histories_still_load(tmp_path):
    path = tmp_path / "old.history.json"
    path.write_text(json.dumps({"loss": [1.0, 0.5]}))
    assert load_history(path) == ({"loss": [1.0, 0.5]}, None)


def test_the_time_estimate_leaves_the_training_as_it_was(tiny, eager_steps, capsys):
    settings = tiny_settings(cosine_decay=True)
    _, untimed = train(settings, pretrained=False, data=tiny, verbose=0)
    _, timed = train(settings, pretrained=False, data=tiny, verbose=2)
    printed = capsys.readouterr().out
    assert re.search(
        r"Expected training time on this machine: about \d+ s \(\d+\.\d\d s per batch of 4, "
        r"measured just now; 2 batches and 1 validation batch per epoch, 1 epoch\)\.",
        printed,
    )
    assert set(timed) == set(untimed)
    for key, values in untimed.items():
        np.testing.assert_allclose(timed[key], values, rtol=1e-5, err_msg=key)


def test_fine_tuning_unfreezes_the_encoder_for_the_last_epochs(tiny, monkeypatch, eager_steps):
    import workshop_helpers.training as training

    # A scratch encoder stands in for ImageNet's: the schedule, not the weights, is under test.
    build = training.build_model
    monkeypatch.setattr(
        training,
        "build_model",
        lambda classes, pretrained, input_size: build(classes, False, input_size),
    )
    settings = tiny_settings(epochs=2, freeze_pretrained_encoder=True, fine_tune_epochs=1)
    model, history = train(settings, pretrained=True, data=tiny, verbose=0)
    assert len(history["loss"]) == 2 and len(history["val_loss"]) == 2
    encoder = {id(layer) for layer in encoder_layers(model)}
    convolutions = [
        layer
        for layer in encoder_layers(model)
        if layer.weights and layer not in batchnorm_layers(model)
    ]
    assert all(layer.trainable for layer in convolutions)
    assert all(not bn.trainable for bn in batchnorm_layers(model) if id(bn) in encoder)
    with pytest.raises(ValueError, match="cannot exceed epochs"):
        train(
            tiny_settings(epochs=1, freeze_pretrained_encoder=True, fine_tune_epochs=2),
            True,
            data=tiny,
            verbose=0,
        )


def test_cli_train_refuses_a_bad_value_in_one_line(capsys):
    from workshop_helpers.tools.cli import main

    assert main(["train", "--epochs", "abc"]) == 1
    assert capsys.readouterr().err.strip() == "error: --epochs must be a whole number, not 'abc'."


def test_models_download_fetches_the_published_checkpoint_then_loads_it(
    trained, tmp_path, monkeypatch
):
    from workshop_helpers.tools.publish import pack_checkpoints

    settings, checkpoint, history = trained
    pack_checkpoints([checkpoint], tmp_path / "release", evaluate=False)
    monkeypatch.setenv("WORKSHOP_CHECKPOINTS_URL", str(tmp_path / "release"))
    downloaded = load_settings({}, **{**settings.training_fields(), "models": "download"})
    model, fetched = get_trained_model(downloaded, False, checkpoint_dir=tmp_path / "notebooks")
    assert (tmp_path / "notebooks" / checkpoint.name).exists()
    assert fetched == history and model.count_params() == 3_984_166 + 5 * 33


def test_warmup_rises_from_a_tenth_then_follows_the_cosine_to_zero():
    rate = learning_rate_for(
        tiny_settings(epochs=10, learning_rate=1e-3, warmup_epochs=2, cosine_decay=True), 10
    )
    at = {step: float(rate(step)) for step in (0, 10, 20, 60, 100)}
    np.testing.assert_allclose(
        [at[0], at[10], at[20], at[60]], [1e-4, 5.5e-4, 1e-3, 5e-4], rtol=1e-4
    )
    assert at[100] == pytest.approx(0.0, abs=1e-9)


def test_warmup_without_cosine_holds_the_rate_and_cosine_alone_is_unchanged():
    held = learning_rate_for(tiny_settings(epochs=4, learning_rate=1e-3, warmup_epochs=1), 5)
    np.testing.assert_allclose([float(held(s)) for s in (0, 5, 12, 20)], [1e-4, 1e-3, 1e-3, 1e-3])
    cosine = learning_rate_for(tiny_settings(epochs=4, learning_rate=1e-3, cosine_decay=True), 5)
    np.testing.assert_allclose([float(cosine(s)) for s in (0, 10)], [1e-3, 5e-4], rtol=1e-5)
    assert learning_rate_for(tiny_settings(learning_rate=3e-4), 5) == 3e-4


def test_warmup_must_leave_epochs_to_train():
    with pytest.raises(SettingsError) as error:
        load_settings({"WORKSHOP_EPOCHS": "2", "WORKSHOP_WARMUP_EPOCHS": "2"}, preset="cpu")
    assert str(error.value) == "WORKSHOP_WARMUP_EPOCHS must be fewer than the epochs (2), not 2."
    described = tiny_settings(epochs=5, warmup_epochs=2, cosine_decay=True).describe()
    assert "Adam 1e-4, warm-up 2 epochs, cosine decay" in described
