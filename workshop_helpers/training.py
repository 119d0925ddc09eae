"""Training from one Settings object, checkpoints with their histories, getting a trained model."""

from __future__ import annotations

import json
import zipfile
from dataclasses import asdict
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


def training_metrics(num_classes: int) -> list:
    """The metrics Keras reports during fit: pixel accuracy and mean IoU, void ignored."""
    return [MaskedPixelAccuracy(), mean_iou_metric(num_classes)]


def compile_model(model: keras.Model, num_classes: int, learning_rate=1e-4) -> keras.Model:
    """Compile with Adam (a rate or a schedule), the masked loss, pixel accuracy and mean IoU."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=masked_loss,
                  metrics=training_metrics(num_classes))
    return model


def set_batchnorm_momentum(model: keras.Model, momentum: float | None) -> keras.Model:
    """Give every BatchNorm layer this momentum; None keeps MobileNetV2's own (0.999)."""
    if momentum is not None:
        for layer in batchnorm_layers(model):
            layer.momentum = momentum
    return model


def keep_batchnorm_statistics(model: keras.Model) -> keras.Model:
    """Freeze the encoder's BatchNorm layers: they run in inference mode with ImageNet's statistics.

    The Keras transfer-learning guide's advice: the convolutions around them may still fine-tune.
    """
    encoder = {id(layer) for layer in encoder_layers(model)}
    for layer in batchnorm_layers(model):
        if id(layer) in encoder:
            layer.trainable = False
    return model


def configure_batchnorm(model: keras.Model, settings: Settings, pretrained: bool) -> keras.Model:
    """Apply the settings' BatchNorm handling: keep ImageNet statistics, or set a momentum."""
    if pretrained and settings.pretrained_batchnorm == "inference":
        keep_batchnorm_statistics(model)
    return set_batchnorm_momentum(model, settings.batchnorm_momentum)


def learning_rate_for(settings: Settings, steps_per_epoch: int):
    """The settings' learning rate, or its cosine decay to 0 over the training steps."""
    if settings.cosine_decay:
        return keras.optimizers.schedules.CosineDecay(
            settings.learning_rate, decay_steps=settings.epochs * steps_per_epoch)
    return settings.learning_rate


def fine_tune_epochs(settings: Settings, pretrained: bool) -> int:
    """How many of the epochs fine-tune the whole pretrained network at the end (0 for scratch)."""
    epochs = settings.fine_tune_epochs if pretrained else 0
    if epochs > settings.epochs:
        raise ValueError(f"fine_tune_epochs ({epochs}) cannot exceed epochs ({settings.epochs}).")
    return epochs


def train(
    settings: Settings,
    pretrained: bool,
    checkpoint: str | Path | None = None,
    data=None,
    data_dir=None,
    callbacks=(),
    verbose: int | str = "auto",
) -> tuple[keras.Model, dict]:
    """Train as notebooks 4 (scratch) and 5 (pretrained) do; save checkpoint and history if asked.

    `data` is ((train images, train masks), (val images, val masks)); default: the prepared splits.
    """
    spec = get_spec(settings.prepared_dataset)
    if data is None:
        data = (
            load_split(spec.name, "train", data_dir, limit=settings.max_train_images),
            load_split(spec.name, "val", data_dir),
        )
    (train_images, train_masks), (val_images, val_masks) = data
    train_batches = SegmentationGenerator(train_images, train_masks, settings.batch_size,
                                          augment=True, seed=settings.seed,
                                          crop_size=settings.crop_size)
    val_batches = SegmentationGenerator(val_images, val_masks, settings.batch_size, augment=False,
                                        crop_size=settings.crop_size)
    fine_tune = fine_tune_epochs(settings, pretrained)
    keras.utils.set_random_seed(settings.seed)
    model = build_model(spec.num_classes, pretrained=pretrained, input_size=settings.crop_size)
    if pretrained and settings.freeze_pretrained_encoder:
        freeze_encoder(model)
    configure_batchnorm(model, settings, pretrained)
    compile_model(model, spec.num_classes, learning_rate_for(settings, len(train_batches)))
    with quiet_stderr():  # TensorFlow logs CPU details as errors at the first step
        history = model.fit(train_batches, validation_data=val_batches,
                            epochs=settings.epochs - fine_tune, callbacks=list(callbacks),
                            verbose=verbose).history
    if fine_tune:
        # The Keras guide's second step: everything trains at a low rate, while the encoder's
        # BatchNorm layers keep running in inference mode with ImageNet's statistics.
        freeze_encoder(model, frozen=False)
        keep_batchnorm_statistics(model)
        compile_model(model, spec.num_classes, settings.fine_tune_learning_rate)
        with quiet_stderr():
            fine_tuned = model.fit(train_batches, validation_data=val_batches,
                                   initial_epoch=len(history["loss"]), epochs=settings.epochs,
                                   callbacks=list(callbacks), verbose=verbose).history
        history = {key: history[key] + fine_tuned[key] for key in history}
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
    path, shown = Path(path), display_path(path)
    if not path.exists():
        raise CheckpointError(
            f"No checkpoint at {shown}. Train one with `python -m workshop_helpers train`, "
            "or fetch the ones your instructor published with `python -m workshop_helpers "
            "fetch-checkpoints`."
        )
    if not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"{shown} is damaged (not a .keras archive): delete it and train or fetch it again."
        )
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as err:  # Keras raises many kinds for a truncated or foreign archive
        raise CheckpointError(
            f"{shown} is damaged ({err.__class__.__name__}: {str(err)[:120]}): delete it "
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


def load_trained_beforehand(settings: Settings, kind: str, checkpoint_dir=None):
    """The 'scratch' or 'pretrained' model trained beforehand, and its history.

    With settings.models == "download", the published checkpoints are fetched first.
    """
    checkpoint = settings.checkpoint(kind, checkpoint_dir)
    if settings.models == "download" and not checkpoint.exists():
        from .checkpoints import fetch_checkpoints

        fetch_checkpoints(
            dataset=settings.prepared_dataset, preset=settings.preset, directory=checkpoint.parent
        )
    print(f"Loading the {kind} model trained beforehand ({display_path(checkpoint)})")
    return load_trained(checkpoint)


def display_path(path: str | Path) -> str:
    """A path relative to the repository (or the working folder) when it lies inside it."""
    path = Path(path).resolve()
    for root in (Path(__file__).resolve().parent.parent, Path.cwd()):
        if path.is_relative_to(root):
            return str(path.relative_to(root))
    return str(path)


def get_trained_model(
    settings: Settings,
    pretrained: bool,
    reuse: bool = False,
    callbacks=(),
    checkpoint_dir=None,
    data_dir=None,
) -> tuple[keras.Model, dict]:
    """The CLI's way to a trained model: train it, reuse one of the same settings, or load one.

    settings.models == "checkpoint" loads the checkpoint trained beforehand, "download" fetches the
    published one first (`fetch-checkpoints`); "train" trains and saves one, or, with `reuse`, loads
    a checkpoint trained with exactly these settings when there is one.
    """
    kind = "pretrained" if pretrained else "scratch"
    checkpoint = settings.checkpoint(kind, checkpoint_dir)
    if settings.models != "train" or (reuse and trained_with(checkpoint, settings)):
        return load_trained_beforehand(settings, kind, checkpoint_dir)
    return train(settings, pretrained, checkpoint, data_dir=data_dir, callbacks=callbacks)
