"""Training from one Settings object, checkpoints with their histories, getting a trained model."""

from __future__ import annotations

import json
import zipfile
from dataclasses import asdict, replace
from pathlib import Path

import keras

from .datasets import get_spec, load_split
from .metrics import MaskedPixelAccuracy, masked_loss, mean_iou_metric
from .model import batchnorm_layers, build_model, encoder_layers, freeze_encoder
from .pipeline import SegmentationGenerator
from .quiet import quiet_stderr
from .settings import Settings


class CheckpointError(ValueError):
    """A checkpoint is missing or damaged; the message says what to do."""


def compile_model(model: keras.Model, num_classes: int, learning_rate=1e-4) -> keras.Model:
    """Compile with Adam (a rate or a schedule), the masked loss, pixel accuracy and mean IoU."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=masked_loss,
        metrics=[MaskedPixelAccuracy(), mean_iou_metric(num_classes)],
    )
    return model


def configure_batchnorm(model: keras.Model, settings: Settings, pretrained: bool) -> keras.Model:
    """Apply the settings' BatchNorm handling: keep ImageNet statistics, or set a momentum."""
    if pretrained and settings.pretrained_batchnorm == "inference":
        # A non-trainable BatchNorm layer runs in inference mode in Keras 3: ImageNet's statistics
        # stay put
        # while the convolutions around them fine-tune (the Keras transfer-learning guide's advice).
        encoder = set(id(layer) for layer in encoder_layers(model))
        for layer in batchnorm_layers(model):
            if id(layer) in encoder:
                layer.trainable = False
    if settings.batchnorm_momentum is not None:
        # Keras' 0.99 lets the moving statistics lag behind weights that change fast (see notebook
        # 4).
        for layer in batchnorm_layers(model):
            layer.momentum = settings.batchnorm_momentum
    return model


def build_for_training(settings: Settings, pretrained: bool, steps_per_epoch: int) -> keras.Model:
    """The compiled network the settings describe, ready for fit()."""
    spec = get_spec(settings.dataset)
    model = build_model(spec.num_classes, pretrained=pretrained, input_size=settings.crop_size)
    if pretrained and settings.freeze_pretrained_encoder:
        freeze_encoder(model)
    configure_batchnorm(model, settings, pretrained)
    learning_rate = settings.learning_rate
    if settings.cosine_decay:
        learning_rate = keras.optimizers.schedules.CosineDecay(
            learning_rate, decay_steps=settings.epochs * steps_per_epoch
        )
    return compile_model(model, spec.num_classes, learning_rate)


def train(
    settings: Settings,
    pretrained: bool,
    checkpoint: str | Path | None = None,
    data=None,
    data_dir=None,
    callbacks=(),
    verbose: int | str = "auto",
) -> tuple[keras.Model, dict]:
    """Train the scratch or pretrained model of the settings; save checkpoint and history if asked.

    `data` is ((train images, train masks), (val images, val masks)); default: the prepared splits.
    """
    spec = get_spec(settings.dataset)
    keras.utils.set_random_seed(settings.seed)
    if data is None:
        data = (
            load_split(spec.name, "train", data_dir, limit=settings.max_train_images),
            load_split(spec.name, "val", data_dir),
        )
    (train_x, train_y), (val_x, val_y) = data
    batches = SegmentationGenerator(
        train_x,
        train_y,
        settings.batch_size,
        augment=True,
        seed=settings.seed,
        crop_size=settings.crop_size,
    )
    validation = SegmentationGenerator(val_x, val_y, 8, augment=False, crop_size=settings.crop_size)
    fine_tune = (
        settings.fine_tune_epochs if pretrained and settings.freeze_pretrained_encoder else 0
    )
    if fine_tune > settings.epochs:
        raise ValueError(
            f"fine_tune_epochs ({fine_tune}) cannot exceed epochs ({settings.epochs})."
        )
    model = build_for_training(settings, pretrained, len(batches))
    history = {}
    if settings.epochs > fine_tune:
        with quiet_stderr():  # TensorFlow logs CPU details as errors at the first step
            fitted = model.fit(
                batches,
                validation_data=validation,
                epochs=settings.epochs - fine_tune,
                verbose=verbose,
                callbacks=list(callbacks),
            )
        history = {k: list(vs) for k, vs in fitted.history.items()}
    if fine_tune:
        # The Keras guide's second step: unfreeze the encoder at a low learning rate; its BatchNorm
        # layers stay frozen, so they keep running in inference mode with ImageNet's statistics.
        freeze_encoder(model, frozen=False)
        configure_batchnorm(model, replace(settings, pretrained_batchnorm="inference"), pretrained)
        compile_model(
            model, get_spec(settings.dataset).num_classes, settings.fine_tune_learning_rate
        )
        with quiet_stderr():  # TensorFlow logs CPU details as errors at the first step
            fitted = model.fit(
                batches,
                validation_data=validation,
                initial_epoch=settings.epochs - fine_tune,
                epochs=settings.epochs,
                verbose=verbose,
                callbacks=list(callbacks),
            )
        for key, values in fitted.history.items():
            history.setdefault(key, []).extend(values)
    history = {k: [float(v) for v in vs] for k, vs in history.items()}
    if checkpoint is not None:
        save_checkpoint(model, history, settings, checkpoint)
    return model, history


def history_path(checkpoint: str | Path) -> Path:
    """Where the training history and settings of a checkpoint live."""
    return Path(checkpoint).with_suffix(".history.json")


def save_checkpoint(
    model: keras.Model, history: dict, settings: Settings, checkpoint: str | Path
) -> None:
    """Save the model, and its history with the settings that trained it, next to each other."""
    checkpoint = Path(checkpoint)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    model.save(checkpoint)
    record = {"settings": asdict(settings), "history": history}
    history_path(checkpoint).write_text(json.dumps(record, indent=1))


def load_history(path: str | Path) -> tuple[dict, dict | None]:
    """(history, settings that trained it or None) from a .history.json."""
    record = json.loads(Path(path).read_text())
    if "history" in record and isinstance(record["history"], dict):
        return record["history"], record.get("settings")
    return record, None


def load_checkpoint(path: str | Path) -> keras.Model:
    """Load a .keras checkpoint in safe mode; a missing or damaged file raises CheckpointError."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(
            f"No checkpoint at {path}. Train one with `python -m workshop_helpers train` "
            "or download the published ones with `python -m workshop_helpers "
            "fetch-checkpoints`."
        )
    if not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"{path} is damaged (not a .keras archive): delete it and train or fetch it again."
        )
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as err:  # Keras raises many kinds for a truncated or foreign archive
        raise CheckpointError(
            f"{path} is damaged ({err.__class__.__name__}: {str(err)[:120]}): delete it "
            "and train or fetch it again."
        ) from err


def load_trained(checkpoint: str | Path) -> tuple[keras.Model, dict]:
    """A saved model and its training history ({} when there is none)."""
    model = load_checkpoint(checkpoint)
    path = history_path(checkpoint)
    return model, (load_history(path)[0] if path.exists() else {})


def trained_with(checkpoint: str | Path, settings: Settings) -> bool:
    """Whether a checkpoint exists and was trained with these settings."""
    path = history_path(checkpoint)
    if not (Path(checkpoint).exists() and path.exists()):
        return False
    saved = load_history(path)[1]
    return (
        saved is not None
        and {k: saved.get(k) for k in settings.training_fields()} == settings.training_fields()
    )


def get_trained_model(
    settings: Settings,
    pretrained: bool,
    reuse: bool = False,
    callbacks=(),
    checkpoint_dir=None,
    data_dir=None,
) -> tuple[keras.Model, dict]:
    """The one way to a trained model: train it, reuse one of the same settings, or load one.

    settings.models == "checkpoint" loads the checkpoint trained beforehand, "download" fetches the
    published one first (`fetch-checkpoints`); "train" trains and saves one, or, with `reuse`, loads
    a checkpoint trained with exactly these settings when there is one.
    """
    checkpoint = settings.checkpoint("pretrained" if pretrained else "scratch", checkpoint_dir)
    if settings.models == "download" and not checkpoint.exists():
        from .checkpoints import fetch_checkpoints

        fetch_checkpoints(
            dataset=settings.dataset, preset=settings.preset, directory=checkpoint.parent
        )
    if settings.models != "train" or (reuse and trained_with(checkpoint, settings)):
        print(f"Loading {checkpoint}")
        return load_trained(checkpoint)
    return train(settings, pretrained, checkpoint, data_dir=data_dir, callbacks=callbacks)
