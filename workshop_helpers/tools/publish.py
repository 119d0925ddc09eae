"""Publishing checkpoints: copy trained ones with a manifest of their sizes, SHA-256 and mIoU."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from ..checkpoints import MANIFEST_FORMAT, MANIFEST_NAME, history_path, load_checkpoint, sha256sum
from ..datasets import DATASETS, get_spec, load_split, voc_dataset_name
from ..metrics import evaluate
from ..settings import PRESETS


# The names Settings.checkpoint gives: DATASET_KIND[_PRESET].keras, no suffix for the full preset.
def _one_of(names) -> str:
    """A regex alternation of names, longest first (voc_original before voc)."""
    return "|".join(sorted(map(re.escape, names), key=len, reverse=True))


CHECKPOINT_NAME = re.compile(
    rf"^(?P<dataset>{_one_of(DATASETS)})_(?P<kind>scratch|pretrained)"
    rf"(?:_(?P<preset>{_one_of(name for name in PRESETS if name != 'full')}))?$"
)


def describe_checkpoint(checkpoint: str | Path) -> dict:
    """Dataset, preset and kind of a checkpoint: from its history's settings, else its file name."""
    checkpoint = Path(checkpoint)
    described = {}
    match = CHECKPOINT_NAME.match(checkpoint.stem)
    if match:
        described = {
            "dataset": match["dataset"],
            "kind": match["kind"],
            "preset": match["preset"] or "full",
        }
    if history_path(checkpoint).exists():
        settings = json.loads(history_path(checkpoint).read_text()).get("settings") or {}
        described.update({key: settings[key] for key in ("dataset", "preset") if key in settings})
        if "dataset" in settings:  # the prepared dataset: voc_original for that VOC subset
            subset = settings.get("voc_subset", "all")
            described["dataset"] = voc_dataset_name(settings["dataset"], subset)
    if "dataset" not in described:
        raise ValueError(
            f"Cannot tell the dataset of {checkpoint.name}: name it like voc_pretrained_fast.keras "
            "or keep its .history.json next to it."
        )
    return {"kind": None, "preset": None, **described}


def _file_entry(path: Path) -> dict:
    return {"file": path.name, "size": path.stat().st_size, "sha256": sha256sum(path)}


def read_evaluation(path: str | Path, dataset: str) -> tuple[float, str]:
    """(mIoU, its source) from the JSON of `evaluate --output`, checked against the dataset."""
    path = Path(path)
    scores = json.loads(path.read_text())
    if "mIoU" not in scores:
        raise ValueError(f"{path.name} has no mIoU: pass the JSON that `evaluate --output` writes.")
    if scores.get("dataset", dataset) != dataset:
        raise ValueError(
            f"{path.name} evaluates {scores['dataset']}; the checkpoint is trained on {dataset}."
        )
    source = f"{path.name}: {scores.get('split', '?')} split, {scores.get('images', '?')} images"
    return float(scores["mIoU"]), source


def evaluate_checkpoint(
    checkpoint: str | Path,
    dataset: str,
    split: str = "val",
    data_dir=None,
    tta: bool = True,
    progress: bool = False,
) -> dict:
    """Scores of a checkpoint on a prepared split, as `evaluate` prints them (mIoU, confusion)."""
    spec = get_spec(dataset)
    model = load_checkpoint(checkpoint)
    images, masks = load_split(spec.name, split, data_dir)
    scores = evaluate(model, images, masks, spec.num_classes, tta=tta, progress=progress)
    scores["confusion"] = scores["confusion"].tolist()
    scores.update(
        dataset=spec.name, split=split, images=len(images), class_names=list(spec.class_names)
    )
    return scores


def pack_checkpoints(
    checkpoints,
    output: str | Path,
    evaluations: dict | None = None,
    evaluate: bool = True,
    data_dir=None,
    tta: bool = True,
) -> Path:
    """Copy checkpoints (and histories) to `output` with a manifest.json; return the manifest.

    The mIoU of each comes from `evaluations` ({checkpoint file name: evaluate JSON}) or, if
    `evaluate`, from evaluating it on its validation split; else it stays null ("not measured").
    """
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    evaluations = {Path(name).name: Path(path) for name, path in (evaluations or {}).items()}
    entries = []
    for checkpoint in map(Path, checkpoints):
        if not checkpoint.exists():
            raise FileNotFoundError(f"No checkpoint at {checkpoint}.")
        described = describe_checkpoint(checkpoint)
        if checkpoint.name in evaluations:
            miou, source = read_evaluation(evaluations.pop(checkpoint.name), described["dataset"])
        elif evaluate:
            scores = evaluate_checkpoint(checkpoint, described["dataset"], "val", data_dir, tta)
            miou = float(scores["mIoU"])
            source = f"pack-checkpoints: val split, {scores['images']} images, tta {tta}"
        else:
            miou, source = None, "not measured"
        history = history_path(checkpoint)
        for path in (checkpoint, history):
            if path.exists() and path.resolve() != (output / path.name).resolve():
                shutil.copyfile(path, output / path.name)
        entries.append(
            {
                **_file_entry(output / checkpoint.name),
                **described,
                "mIoU": miou,
                "mIoU_source": source,
                "history": _file_entry(output / history.name) if history.exists() else None,
            }
        )
    if evaluations:
        raise ValueError(
            f"Evaluations given for checkpoints not packed: {', '.join(sorted(evaluations))}."
        )
    manifest = output / MANIFEST_NAME
    manifest.write_text(
        json.dumps({"format": MANIFEST_FORMAT, "checkpoints": entries}, indent=1) + "\n"
    )
    return manifest
