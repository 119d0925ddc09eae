"""Notebook settings: full (the seed's recipe), fast (CI, rehearsal) or cpu (a laptop track), overridable by env."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path


def default_checkpoint_dir() -> Path:
    """Folder of checkpoints: $WORKSHOP_CHECKPOINTS, else the repository's checkpoints/."""
    env = os.environ.get("WORKSHOP_CHECKPOINTS")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "checkpoints"


@dataclass(frozen=True)
class Settings:
    """What a training notebook runs: dataset, epochs, batch size, learning rate and image budget."""

    dataset: str = "voc"
    epochs: int = 20
    batch_size: int = 4
    learning_rate: float = 1e-4
    max_train_images: int | None = None
    seed: int = 0
    use_checkpoints: bool = False
    crop_size: int = 224
    cosine_decay: bool = False
    freeze_pretrained_encoder: bool = False
    batchnorm_momentum: float | None = None
    preset: str = "full"

    @property
    def fast(self) -> bool:
        return self.preset == "fast"

    def describe(self) -> str:
        return "\n".join(f"{key:>16}: {value}" for key, value in asdict(self).items())

    def checkpoint(self, kind: str) -> Path:
        """Checkpoint path of the 'scratch' or 'pretrained' model; fast runs never overwrite full ones."""
        suffix = "" if self.preset == "full" else f"_{self.preset}"
        return default_checkpoint_dir() / f"{self.dataset}_{kind}{suffix}.keras"

    def train_kwargs(self, pretrained: bool) -> dict:
        """Keyword arguments of workshop_helpers.train for these settings."""
        return dict(dataset=self.dataset, pretrained=pretrained, epochs=self.epochs, batch_size=self.batch_size,
                    learning_rate=self.learning_rate, max_train_images=self.max_train_images, seed=self.seed,
                    crop_size=self.crop_size, cosine_decay=self.cosine_decay,
                    freeze_pretrained_encoder=self.freeze_pretrained_encoder,
                    batchnorm_momentum=self.batchnorm_momentum)


FULL = Settings()
# Few images, two epochs: minutes on a laptop CPU, and still enough to show the pretrained encoder's head start.
FAST = Settings(epochs=2, batch_size=8, learning_rate=5e-4, max_train_images=96, preset="fast")
# The CPU track: both models in under 15 minutes on 2 cores (see benchmarks/RESULTS.md for the measurement).
CPU = Settings(epochs=5, batch_size=8, learning_rate=1e-3, crop_size=160, cosine_decay=True, freeze_pretrained_encoder=True,
               batchnorm_momentum=0.9, preset="cpu")
PRESETS = {"full": FULL, "fast": FAST, "cpu": CPU}

_OVERRIDES = {"WORKSHOP_DATASET": ("dataset", str), "WORKSHOP_EPOCHS": ("epochs", int),
              "WORKSHOP_BATCH_SIZE": ("batch_size", int), "WORKSHOP_LEARNING_RATE": ("learning_rate", float),
              "WORKSHOP_MAX_IMAGES": ("max_train_images", int), "WORKSHOP_SEED": ("seed", int)}


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes")


def load_settings(environ=None) -> Settings:
    """A preset (WORKSHOP_PRESET=full|fast|cpu; WORKSHOP_FAST=1 means fast) with WORKSHOP_DATASET, ... on top."""
    environ = os.environ if environ is None else environ
    name = "fast" if _flag(environ.get("WORKSHOP_FAST")) else environ.get("WORKSHOP_PRESET", "full").lower()
    if name not in PRESETS:
        raise ValueError(f"WORKSHOP_PRESET must be one of {sorted(PRESETS)}, not {name!r}.")
    settings = PRESETS[name]
    settings = replace(settings, use_checkpoints=_flag(environ.get("WORKSHOP_USE_CHECKPOINTS")))
    for variable, (field, kind) in _OVERRIDES.items():
        if environ.get(variable):
            settings = replace(settings, **{field: kind(environ[variable])})
    return settings
