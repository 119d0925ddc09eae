"""Notebook settings: full (the seed's recipe) or fast (CI and rehearsal), overridable by environment variables."""

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
    fast: bool = False
    seed: int = 0
    use_checkpoints: bool = False

    def describe(self) -> str:
        return "\n".join(f"{key:>16}: {value}" for key, value in asdict(self).items())

    def checkpoint(self, kind: str) -> Path:
        """Checkpoint path of the 'scratch' or 'pretrained' model; fast runs never overwrite full ones."""
        return default_checkpoint_dir() / f"{self.dataset}_{kind}{'_fast' if self.fast else ''}.keras"

    def train_kwargs(self, pretrained: bool) -> dict:
        """Keyword arguments of workshop_helpers.train for these settings."""
        return dict(dataset=self.dataset, pretrained=pretrained, epochs=self.epochs, batch_size=self.batch_size,
                    learning_rate=self.learning_rate, max_train_images=self.max_train_images, seed=self.seed)


FULL = Settings()
# Few images, two epochs: minutes on a laptop CPU, and still enough to show the pretrained encoder's head start.
FAST = Settings(epochs=2, batch_size=8, learning_rate=5e-4, max_train_images=96, fast=True)

_OVERRIDES = {"WORKSHOP_DATASET": ("dataset", str), "WORKSHOP_EPOCHS": ("epochs", int),
              "WORKSHOP_BATCH_SIZE": ("batch_size", int), "WORKSHOP_LEARNING_RATE": ("learning_rate", float),
              "WORKSHOP_MAX_IMAGES": ("max_train_images", int), "WORKSHOP_SEED": ("seed", int)}


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes")


def load_settings(environ=None) -> Settings:
    """FULL, or FAST when WORKSHOP_FAST=1, with WORKSHOP_DATASET, WORKSHOP_EPOCHS, ... applied on top."""
    environ = os.environ if environ is None else environ
    settings = FAST if _flag(environ.get("WORKSHOP_FAST")) else FULL
    settings = replace(settings, use_checkpoints=_flag(environ.get("WORKSHOP_USE_CHECKPOINTS")))
    for variable, (field, kind) in _OVERRIDES.items():
        if environ.get(variable):
            settings = replace(settings, **{field: kind(environ[variable])})
    return settings
