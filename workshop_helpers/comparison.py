"""The lesson's claim, measured: ImageNet encoder against scratch, with its BatchNorm fixed too."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .datasets import get_spec, load_split
from .inference import predict_labels
from .metrics import scores_from_labels
from .model import with_reestimated_batchnorm
from .settings import Settings
from .training import get_trained_model

# Required mIoU margins of the pretrained model over (scratch, scratch with re-estimated BatchNorm
# statistics), per (dataset, preset); None: shown, not required. On CamVid's street scenes a short
# scratch run with correct statistics learns road, sky and buildings quickly, so the fast preset
# asserts only the first margin.
MARGINS = {
    ("voc", "full"): (0.10, 0.10),
    ("voc", "fast"): (0.10, 0.10),
    ("voc", "cpu"): (0.10, 0.10),
    ("camvid", "full"): (0.10, 0.05),
    ("camvid", "fast"): (0.10, None),
    ("camvid", "cpu"): (0.10, 0.05),
}
# The original notebook's VOC subset is asked for VOC's margins.
MARGINS.update(
    {
        ("voc_original", preset): margins
        for (dataset, preset), margins in list(MARGINS.items())
        if dataset == "voc"
    }
)
RECALIBRATION_IMAGES = 64


@dataclass
class Comparison:
    """Validation scores of the three models and the checks of the lesson's claim."""

    dataset: str
    preset: str
    scores: dict  # name -> scores_from_labels dict
    pretrained_val_loss: list = field(default_factory=list)

    @property
    def miou(self) -> dict:
        return {name: scores["mIoU"] for name, scores in self.scores.items()}

    def checks(self) -> list[tuple[str, bool | None]]:
        """(statement, holds) pairs; holds is None for a comparison shown but not required."""
        plain, recalibrated = MARGINS.get((self.dataset, self.preset), (0.10, 0.05))
        miou = self.miou
        checks = []
        for name, margin in (("scratch", plain), ("scratch, BatchNorm re-estimated", recalibrated)):
            gap = miou["pretrained"] - miou[name]
            rival = RIVALS[name]
            if margin is None:
                checks.append(
                    (
                        f"the ImageNet encoder against {rival}: {gap:+.3f} "
                        "(shown, no margin asked for on this dataset and preset)",
                        None,
                    )
                )
            else:
                verb = "beats" if gap >= margin else "does not beat"
                checks.append(
                    (
                        f"the ImageNet encoder {verb} {rival} by {gap:+.3f} mIoU "
                        f"(the lesson asks for at least {margin:.2f})",
                        gap >= margin,
                    )
                )
        if len(self.pretrained_val_loss) >= 2:
            first, last = self.pretrained_val_loss[0], self.pretrained_val_loss[-1]
            verb = "falls" if last <= first else "rises"
            checks.append((f"its validation loss {verb}: {first:.3f} → {last:.3f}", last <= first))
        return checks

    @property
    def holds(self) -> bool:
        """Whether every required check holds."""
        return all(ok is not False for _, ok in self.checks())

    def report(self) -> str:
        """The mIoU of each model and one line per check, marked ✓ (holds), · (shown) or ✗."""
        lines = [
            f"The numbers of this run ({self.dataset}, {self.preset} preset), validation mIoU:"
        ]
        lines += [f"  {name:>32}: {value:.3f}" for name, value in self.miou.items()]
        lines += [
            f"  {'✓' if ok else '·' if ok is None else '✗'} {text}" for text, ok in self.checks()
        ]
        return "\n".join(lines)

    def verify(self) -> None:
        """Raise ClaimError, in the lesson's words, when a required check fails."""
        failed = [text for text, ok in self.checks() if ok is False]
        if failed:
            raise ClaimError(
                "In this run the lesson's claim does not hold: " + "; ".join(failed) + ". "
                "Short runs vary: train for more epochs or on more images (start(epochs=...)), "
                "then run notebooks 4 and 5 again."
            )

    def table(self):
        """Per-class IoU, mIoU and pixel accuracy of each model as a pandas DataFrame."""
        return scores_table(self.scores, get_spec(self.dataset).class_names)


def scores_table(scores: dict, class_names, change: bool = False):
    """Per-class IoU, mIoU and pixel accuracy, one column per named scores, as a DataFrame.

    A class with no pixel in the truth is NaN (an empty cell), as it is left out of the mean.
    With change=True, a last column holds the last scores minus the first (before rounding).
    """
    import pandas as pd

    rows = {
        name: [*result["per_class_iou"], result["mIoU"], result["pixel_accuracy"]]
        for name, result in scores.items()
    }
    index = [*class_names, "mIoU", "pixel accuracy"]
    table = pd.DataFrame(rows, index=index).astype(float)
    if change:
        table["change"] = table.iloc[:, -1] - table.iloc[:, 0]
    return table.round(3) + 0.0  # + 0.0: a change rounded to -0.0 shows as 0.000


class ClaimError(AssertionError):
    """The lesson's claim does not hold in this run; the message says by how much."""


RIVALS = {
    "scratch": "the scratch model",
    "scratch, BatchNorm re-estimated": "the scratch model with re-estimated BatchNorm",
}


def evaluate_models(models: dict, images: np.ndarray, masks: np.ndarray, num_classes: int) -> dict:
    """Validation scores (mIoU, per-class IoU, confusion, ...) and labels of each named model."""
    results = {}
    for name, model in models.items():
        labels = predict_labels(model, images)
        results[name] = {**scores_from_labels(labels, masks, num_classes), "labels": labels}
    return results


def compare(
    settings: Settings, scratch, pretrained, pretrained_history: dict, data_dir=None
) -> Comparison:
    """Score scratch, scratch with re-estimated BatchNorm statistics, and pretrained."""
    spec = get_spec(settings.prepared_dataset)
    calibration, _ = load_split(spec.name, "train", data_dir, limit=RECALIBRATION_IMAGES)
    val_images, val_masks = load_split(spec.name, "val", data_dir)
    models = {
        "scratch": scratch,
        "scratch, BatchNorm re-estimated": with_reestimated_batchnorm(scratch, calibration),
        "pretrained": pretrained,
    }
    return Comparison(
        spec.name,
        settings.preset,
        evaluate_models(models, val_images, val_masks, spec.num_classes),
        list(pretrained_history.get("val_loss", [])),
    )


def run_comparison(
    settings: Settings, data_dir=None, checkpoint_dir=None
) -> tuple[Comparison, dict]:
    """Train (or reuse) both models, compare them, time each step: the CLI's `compare`."""
    seconds = {}
    trained = {}
    for name, pretrained in (("scratch", False), ("pretrained", True)):
        start = time.perf_counter()
        trained[name] = get_trained_model(
            settings, pretrained, reuse=True, checkpoint_dir=checkpoint_dir, data_dir=data_dir
        )
        seconds[f"{name}_seconds"] = round(time.perf_counter() - start, 1)
    start = time.perf_counter()
    result = compare(
        settings,
        trained["scratch"][0],
        trained["pretrained"][0],
        trained["pretrained"][1],
        data_dir,
    )
    seconds["evaluation_seconds"] = round(time.perf_counter() - start, 1)
    return result, seconds
