"""Training from one Settings object, as notebooks 4 and 5 do, and getting a trained model."""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path

import keras

from .checkpoints import load_trained_beforehand, save_checkpoint, trained_with
from .datasets import get_spec, load_split
from .metrics import MaskedPixelAccuracy, masked_loss, mean_iou_metric
from .model import batchnorm_layers, build_model, encoder_layers, freeze_encoder
from .pipeline import SegmentationGenerator
from .quiet import quiet_stderr
from .settings import Settings


def training_metrics(num_classes: int) -> list:
    """The metrics Keras reports during fit: pixel accuracy and mean IoU, void ignored."""
    return [MaskedPixelAccuracy(), mean_iou_metric(num_classes)]


def replicas() -> int:
    """How many devices share each batch in the current TensorFlow distribution strategy."""
    if keras.backend.backend() != "tensorflow":
        return 1  # JAX computes the loss of the whole sharded batch at once
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync


@keras.saving.register_keras_serializable(package="workshop_helpers")
def masked_loss_per_replica(y_true, y_pred):
    """The masked loss divided by the devices sharing the batch, whose gradients are summed.

    Keras divides the losses it reduces itself; the masked loss reduces its own.
    """
    return masked_loss(y_true, y_pred) / replicas()


def compile_model(model: keras.Model, num_classes: int, learning_rate=1e-4) -> keras.Model:
    """Compile with Adam (a rate or a schedule), the masked loss, pixel accuracy and mean IoU."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=masked_loss if replicas() == 1 else masked_loss_per_replica,
        metrics=training_metrics(num_classes),
    )
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
    """The settings' learning rate: constant, or decayed to 0 along a cosine over the training
    steps; with warm-up epochs, first rising linearly from a tenth of it."""
    if settings.warmup_epochs >= settings.epochs:
        warmup, epochs = settings.warmup_epochs, settings.epochs
        raise ValueError(f"warmup_epochs ({warmup}) must be fewer than epochs ({epochs}).")
    if not (settings.cosine_decay or settings.warmup_epochs):
        return settings.learning_rate
    warmup_steps = settings.warmup_epochs * steps_per_epoch
    return keras.optimizers.schedules.CosineDecay(
        settings.learning_rate / 10 if warmup_steps else settings.learning_rate,
        decay_steps=settings.epochs * steps_per_epoch - warmup_steps,
        alpha=0.0 if settings.cosine_decay else 1.0,  # alpha 1: no decay after the warm-up
        warmup_target=settings.learning_rate if warmup_steps else None,
        warmup_steps=warmup_steps,
    )


def _count(number: int, word: str) -> str:
    plural = word + ("es" if word.endswith("batch") else "s")
    return f"{number:,} {word if number == 1 else plural}"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} hours"


class _FirstBatches(keras.utils.PyDataset):
    """The first batches of a generator, served without moving it to its next epoch."""

    def __init__(self, batches, count: int):
        super().__init__()
        self.batches, self.count = batches, min(count, len(batches))

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int):
        return self.batches[index]


class _BatchClock(keras.callbacks.Callback):
    """When each training and each validation batch ended."""

    def __init__(self):
        super().__init__()
        self.train, self.test = [], []

    def on_train_batch_end(self, batch, logs=None):
        self.train.append(time.perf_counter())

    def on_test_batch_end(self, batch, logs=None):
        self.test.append(time.perf_counter())


def _seconds_per_batch(ends: list[float]) -> float:
    return (ends[-1] - ends[0]) / (len(ends) - 1) if len(ends) > 1 else 0.0


def estimate_fit_time(
    model: keras.Model, train_batches, epochs: int, val_batches=None, steps: int = 3
) -> str:
    """How long `fit` will take here, from a few training steps timed now; the model is unchanged.

    The steps run through `fit` and `evaluate`, so the graphs they build are the ones the real fit
    reuses; the first step, which builds them, is not counted. Weights, BatchNorm statistics and
    the optimizer's state are put back afterwards: `fit` starts as if nothing ran.
    """
    weights = model.get_weights()
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)  # what fit does first
    optimizer_state = [keras.ops.convert_to_numpy(v) for v in optimizer.variables]
    clock = _BatchClock()
    with quiet_stderr():  # TensorFlow logs CPU details as errors at the first step
        first = _FirstBatches(train_batches, steps + 1)
        # No shuffling: Keras shuffles with Python's random, which the real fit goes on to use.
        model.fit(first, epochs=1, shuffle=False, verbose=0, callbacks=[clock])
        if val_batches is not None:
            model.evaluate(_FirstBatches(val_batches, 3), verbose=0, callbacks=[clock])
    model.set_weights(weights)
    for variable, value in zip(optimizer.variables, optimizer_state):
        variable.assign(value)
    per_batch, per_val_batch = _seconds_per_batch(clock.train), _seconds_per_batch(clock.test)
    val_steps = len(val_batches) if val_batches is not None else 0
    seconds = epochs * (len(train_batches) * per_batch + val_steps * per_val_batch)
    validation = f" and {_count(val_steps, 'validation batch')}" if val_steps else ""
    return (
        f"Expected training time on this machine: about {_duration(seconds)} "
        f"({per_batch:.2f} s per batch of {train_batches.batch_size}, measured just now; "
        f"{_count(len(train_batches), 'batch')}{validation} per epoch, {_count(epochs, 'epoch')})."
    )


def fine_tune_epochs(settings: Settings, pretrained: bool) -> int:
    """How many of the epochs fine-tune the whole pretrained network at the end (0 for scratch)."""
    epochs = settings.fine_tune_epochs if pretrained else 0
    if epochs > settings.epochs:
        raise ValueError(f"fine_tune_epochs ({epochs}) cannot exceed epochs ({settings.epochs}).")
    return epochs


def parallel_devices() -> list[str]:
    """The devices data parallelism spreads a batch over: every GPU, else every (logical) CPU."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        return [device.name for device in gpus or tf.config.list_logical_devices("CPU")]
    if backend == "jax":
        import jax

        gpus = [device for device in jax.devices() if device.platform == "gpu"]
        return [str(device) for device in gpus or jax.devices()]
    raise ValueError(f"data_parallel needs TensorFlow or JAX, not the {backend} backend.")


@contextmanager
def replicated(data_parallel: bool):
    """Build, compile and fit inside this block: with data_parallel, each device holds a copy of
    the model and takes a share of every batch, and the gradients are averaged over the devices
    (TensorFlow's MirroredStrategy; Keras' DataParallel on JAX). Without, nothing changes."""
    if not data_parallel:
        yield
        return
    devices = parallel_devices()
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        with tf.distribute.MirroredStrategy(devices).scope():
            yield
        return
    previous = keras.distribution.distribution()
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    try:
        yield
    finally:
        keras.distribution.set_distribution(previous)


def model_to_train(
    settings: Settings, num_classes: int, pretrained: bool, steps_per_epoch: int
) -> keras.Model:
    """The compiled network `train` fits: seeded, the encoder frozen and BatchNorm set as the
    settings say, Adam at the settings' rate or schedule."""
    keras.utils.set_random_seed(settings.seed)
    model = build_model(num_classes, pretrained=pretrained, input_size=settings.crop_size)
    if pretrained and settings.freeze_pretrained_encoder:
        freeze_encoder(model)
    configure_batchnorm(model, settings, pretrained)
    return compile_model(model, num_classes, learning_rate_for(settings, steps_per_epoch))


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
    train_batches = SegmentationGenerator(
        train_images,
        train_masks,
        settings.batch_size,
        augment=True,
        seed=settings.seed,
        crop_size=settings.crop_size,
    )
    val_batches = SegmentationGenerator(
        val_images, val_masks, settings.batch_size, augment=False, crop_size=settings.crop_size
    )
    fine_tune = fine_tune_epochs(settings, pretrained)
    with replicated(settings.data_parallel):
        model = model_to_train(settings, spec.num_classes, pretrained, len(train_batches))
        if verbose:
            print(estimate_fit_time(model, train_batches, settings.epochs - fine_tune, val_batches))
        with quiet_stderr():  # TensorFlow logs CPU details as errors at the first step
            history = model.fit(
                train_batches,
                validation_data=val_batches,
                epochs=settings.epochs - fine_tune,
                callbacks=list(callbacks),
                verbose=verbose,
            ).history
        if fine_tune:
            # The Keras guide's second step: everything trains at a low rate, while the encoder's
            # BatchNorm layers keep running in inference mode with ImageNet's statistics.
            freeze_encoder(model, frozen=False)
            keep_batchnorm_statistics(model)
            compile_model(model, spec.num_classes, settings.fine_tune_learning_rate)
            with quiet_stderr():
                fine_tuned = model.fit(
                    train_batches,
                    validation_data=val_batches,
                    initial_epoch=len(history["loss"]),
                    epochs=settings.epochs,
                    callbacks=list(callbacks),
                    verbose=verbose,
                ).history
            history = {key: history[key] + fine_tuned[key] for key in history}
    history = {k: [float(v) for v in vs] for k, vs in history.items()}
    if checkpoint is not None:
        save_checkpoint(model, history, settings, checkpoint)
    return model, history


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
