"""Compiling, training, checkpoints and histories."""

from __future__ import annotations

import json
from pathlib import Path

import keras

from .datasets import get_spec, load_split
from .metrics import MaskedPixelAccuracy, masked_loss, mean_iou_metric
from .model import batchnorm_layers, build_model, freeze_encoder
from .pipeline import CROP_SIZE, SegmentationGenerator


def compile_model(model: keras.Model, num_classes: int, learning_rate=1e-4) -> keras.Model:
    """Compile with Adam (a float or a schedule), the masked loss, void-aware pixel accuracy and mean IoU."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=masked_loss,
                  metrics=[MaskedPixelAccuracy(), mean_iou_metric(num_classes)])
    return model


def save_history(history: dict, path: str | Path) -> None:
    """Write a Keras history dict as JSON."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps({k: [float(v) for v in vs] for k, vs in history.items()}, indent=1))


def load_history(path: str | Path) -> dict:
    """Read a history JSON written by save_history."""
    return json.loads(Path(path).read_text())


def load_checkpoint(path: str | Path) -> keras.Model:
    """Load a .keras checkpoint in safe mode (custom objects are registered by this package)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No checkpoint at {path}. Train one with `python -m workshop_helpers train`.")
    return keras.saving.load_model(path, safe_mode=True)


def train(dataset: str, pretrained: bool, epochs: int = 20, batch_size: int = 4, learning_rate: float = 1e-4,
          data_dir=None, max_train_images: int | None = None, checkpoint: str | Path | None = None,
          seed: int = 0, verbose: int | str = "auto", data=None, crop_size: int = CROP_SIZE,
          cosine_decay: bool = False, freeze_pretrained_encoder: bool = False,
          batchnorm_momentum: float | None = None) -> tuple[keras.Model, dict]:
    """Build, compile and fit a model on a prepared dataset; save checkpoint and history if asked."""
    spec = get_spec(dataset)
    keras.utils.set_random_seed(seed)
    if data is None:
        data = (load_split(spec.name, "train", data_dir, limit=max_train_images), load_split(spec.name, "val", data_dir))
    (train_x, train_y), (val_x, val_y) = data
    batches = SegmentationGenerator(train_x, train_y, batch_size, augment=True, seed=seed, crop_size=crop_size)
    if cosine_decay:
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=epochs * len(batches))
    model = build_model(spec.num_classes, pretrained=pretrained, input_size=crop_size)
    if pretrained and freeze_pretrained_encoder:
        freeze_encoder(model)
    if batchnorm_momentum is not None:
        # Keras' 0.999 lets the moving statistics lag far behind weights that change fast (see notebook 4).
        for layer in batchnorm_layers(model):
            layer.momentum = batchnorm_momentum
    model = compile_model(model, spec.num_classes, learning_rate)
    fitted = model.fit(batches,
                       validation_data=SegmentationGenerator(val_x, val_y, 8, augment=False, crop_size=crop_size),
                       epochs=epochs, verbose=verbose)
    history = {k: [float(v) for v in vs] for k, vs in fitted.history.items()}
    if checkpoint is not None:
        checkpoint = Path(checkpoint)
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        model.save(checkpoint)
        save_history(history, checkpoint.with_suffix(".history.json"))
    return model, history


def load_trained(checkpoint: str | Path) -> tuple[keras.Model, dict]:
    """A saved model and its training history."""
    checkpoint = Path(checkpoint)
    model = load_checkpoint(checkpoint)
    history_path = checkpoint.with_suffix(".history.json")
    return model, (load_history(history_path) if history_path.exists() else {})


def load_or_train(checkpoint: str | Path, **train_kwargs) -> tuple[keras.Model, dict]:
    """Reuse a saved checkpoint and its history if present, else train and save one."""
    checkpoint = Path(checkpoint)
    if checkpoint.exists() and checkpoint.with_suffix(".history.json").exists():
        print(f"Reusing {checkpoint}")
        return load_trained(checkpoint)
    return train(checkpoint=checkpoint, **train_kwargs)
