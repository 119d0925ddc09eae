"""Checkpoints: a trained model saved with its history and settings, loaded back, or fetched.

The instructor publishes checkpoints with `python -m workshop_helpers pack-checkpoints`
(tools/publish.py); students fetch them by URL, each file checked against its SHA-256.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import zipfile
from dataclasses import asdict
from pathlib import Path
from urllib.parse import quote

import keras
import requests

from .data.download import DownloadError, download, file_digests
from .paths import default_checkpoint_dir, display_path
from .settings import Settings

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


class CheckpointError(ValueError):
    """A checkpoint is missing or damaged; the message says what to do."""


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


# ---------------------------------------------------------------- saving and loading


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


def settings_changed(checkpoint: str | Path, settings: Settings) -> dict | None:
    """{field: (trained with, asked for)} where a checkpoint's settings differ from these;
    None when the checkpoint or the settings that trained it are missing."""
    path = history_path(checkpoint)
    if not (Path(checkpoint).exists() and path.exists()):
        return None
    saved = load_history(path)[1]
    if saved is None:
        return None
    wanted = settings.training_fields()
    return {k: (saved.get(k), v) for k, v in wanted.items() if saved.get(k) != v}


def trained_with(checkpoint: str | Path, settings: Settings) -> bool:
    """Whether a checkpoint exists and was trained with these settings."""
    return settings_changed(checkpoint, settings) == {}


def load_trained_beforehand(settings: Settings, kind: str, checkpoint_dir=None):
    """The 'scratch' or 'pretrained' model trained beforehand, and its history.

    With settings.models == "download", the published checkpoints are fetched first.
    """
    checkpoint = settings.checkpoint(kind, checkpoint_dir)
    if settings.models == "download" and not checkpoint.exists():
        fetch_checkpoints(
            dataset=settings.prepared_dataset, preset=settings.preset, directory=checkpoint.parent
        )
    print(f"Loading the {kind} model trained beforehand ({display_path(checkpoint)})")
    loaded = load_trained(checkpoint)
    changed = settings_changed(checkpoint, settings)
    if changed:
        shown = ", ".join(f"{k} {was} (now {now})" for k, (was, now) in list(changed.items())[:3])
        more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        print(
            f"  It was trained with other settings: {shown}{more}. Its scores are that "
            'training\'s; start(models="train") trains one with yours.'
        )
    return loaded
