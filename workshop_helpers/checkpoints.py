"""Published checkpoints: pack trained ones with a manifest, fetch them by URL with SHA-256."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import quote

import requests

from .datasets import voc_dataset_name
from .download import DownloadError, download, file_digests
from .settings import default_checkpoint_dir

# Where `fetch-checkpoints` looks by default: the release the instructor kit points at. Until the
# repository publishes it, set WORKSHOP_CHECKPOINTS_URL to wherever `pack-checkpoints` output went
# (any HTTP folder, or a local folder such as a USB stick).
DEFAULT_CHECKPOINTS_URL = (
    "https://github.com/segmentation-workshop/transfer-learning-segmentation/"
    "releases/download/checkpoints-v1/"
)
URL_VARIABLE = "WORKSHOP_CHECKPOINTS_URL"
MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
# The names Settings.checkpoint gives: DATASET_KIND[_PRESET].keras, no suffix for the full preset.
CHECKPOINT_NAME = re.compile(
    r"^(?P<dataset>voc_original|voc|camvid)_(?P<kind>scratch|pretrained)"
    r"(?:_(?P<preset>fast|cpu))?$"
)


class ChecksumError(DownloadError):
    """A downloaded file does not have its published SHA-256; it has been deleted."""


class CheckpointConflict(RuntimeError):
    """A different file of the same name is already in the checkpoint folder."""


def checkpoints_url() -> str:
    """Folder of the published checkpoints: $WORKSHOP_CHECKPOINTS_URL, else the default."""
    return os.environ.get(URL_VARIABLE) or DEFAULT_CHECKPOINTS_URL


def sha256sum(path: str | Path) -> str:
    """Hex SHA-256 of a file."""
    return file_digests(path, ["sha256"])["sha256"]


def history_file(checkpoint: Path) -> Path:
    """The .history.json written next to a checkpoint (see training.history_path)."""
    return checkpoint.with_suffix(".history.json")


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
    if history_file(checkpoint).exists():
        settings = json.loads(history_file(checkpoint).read_text()).get("settings") or {}
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
    checkpoint: Path, dataset: str, data_dir=None, tta: bool = True
) -> tuple[float, str]:
    """(validation mIoU, how it was measured) of a checkpoint, evaluated now."""
    from .datasets import get_spec, load_split
    from .metrics import evaluate
    from .training import load_checkpoint

    spec = get_spec(dataset)
    images, masks = load_split(spec.name, "val", data_dir)
    scores = evaluate(load_checkpoint(checkpoint), images, masks, spec.num_classes, tta=tta)
    return float(scores["mIoU"]), f"pack-checkpoints: val split, {len(images)} images, tta {tta}"


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
            miou, source = evaluate_checkpoint(checkpoint, described["dataset"], data_dir, tta)
        else:
            miou, source = None, "not measured"
        history = history_file(checkpoint)
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


def _is_local(url: str) -> bool:
    return not re.match(r"^https?://", url)


def _base(url: str) -> str:
    """The folder of a manifest URL (or the folder URL itself), ending with a slash."""
    if url.endswith(".json"):
        url = url.rsplit("/", 1)[0]
    return url.rstrip("/") + "/"


def read_manifest(url: str | None = None, timeout: float = 30.0) -> dict:
    """The manifest at `url` (a folder or its manifest.json, over HTTP or on disk)."""
    url = url or checkpoints_url()
    location = url if url.endswith(".json") else _base(url) + MANIFEST_NAME
    try:
        if _is_local(url):
            text = Path(location.removeprefix("file://")).read_text()
        else:
            response = requests.get(location, timeout=timeout)
            response.raise_for_status()
            text = response.text
        manifest = json.loads(text)
    except (OSError, requests.RequestException, ValueError) as err:
        raise DownloadError(
            f"No checkpoint manifest at {location} ({err.__class__.__name__}): pass --url or set "
            f"{URL_VARIABLE} to the folder `pack-checkpoints` wrote."
        ) from None
    if manifest.get("format") != MANIFEST_FORMAT or not isinstance(
        manifest.get("checkpoints"), list
    ):
        raise DownloadError(f"{location} is not a checkpoint manifest of format {MANIFEST_FORMAT}.")
    return manifest


def _fetch_file(base: str, item: dict, directory: Path, force: bool, progress: bool) -> Path:
    """One published file into `directory`, checked against its size and SHA-256."""
    name = item["file"]
    if Path(name).name != name or name.startswith("."):
        raise DownloadError(f"The manifest names an unsafe file {name!r}.")
    dest = directory / name
    if dest.exists():
        if sha256sum(dest) == item["sha256"]:
            return dest
        if not force:
            raise CheckpointConflict(
                f"{dest} exists and differs from the published file (trained here?): "
                "move it away or pass --force to replace it."
            )
        dest.unlink()
    if _is_local(base):
        part = dest.with_name(name + ".part")
        shutil.copyfile(Path(base.removeprefix("file://")) / name, part)
        part.rename(dest)
    else:
        download([base + quote(name)], dest, size=item["size"], progress=progress)
    if sha256sum(dest) != item["sha256"]:
        dest.unlink()
        raise ChecksumError(
            f"SHA-256 mismatch for {name} from {base}: the file was deleted; run the command "
            "again, and if it persists the published file or manifest is wrong."
        )
    return dest


def fetch_checkpoints(
    url: str | None = None,
    dataset: str | None = None,
    preset: str | None = None,
    directory: str | Path | None = None,
    force: bool = False,
    progress: bool = True,
) -> list[Path]:
    """Download published checkpoints (and histories) of a dataset and preset for the notebooks."""
    url = url or checkpoints_url()
    manifest = read_manifest(url)
    wanted = [
        entry
        for entry in manifest["checkpoints"]
        if dataset in (None, entry.get("dataset")) and preset in (None, entry.get("preset"))
    ]
    if not wanted:
        published = sorted(
            {f"{e.get('dataset')}/{e.get('preset')}" for e in manifest["checkpoints"]}
        )
        raise ValueError(
            f"No published checkpoint for dataset {dataset or 'any'}, preset {preset or 'any'}; "
            f"published: {', '.join(published) or 'none'}."
        )
    directory = Path(directory or default_checkpoint_dir())
    directory.mkdir(parents=True, exist_ok=True)
    fetched = []
    for entry in wanted:
        for item in (entry, entry.get("history")):
            if item:
                fetched.append(_fetch_file(_base(url), item, directory, force, progress))
    return fetched
