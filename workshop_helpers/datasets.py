"""Dataset specs (built in, or prepared from your own folder) and loading of prepared splits."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from .paths import default_data_dir

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
    palette=(
        (128, 128, 128),
        (86, 180, 233),
        (213, 94, 0),
        (230, 159, 0),
        (0, 158, 115),
        (204, 121, 167),
    ),
    background_index=0,
)
# The original notebook's 991 VOC images: the same classes, prepared into their own folder.
VOC_ORIGINAL = replace(VOC, name="voc_original")
# Paul Tol's "muted" scheme plus two Okabe-Ito colours for the eleven street classes.
CAMVID = DatasetSpec(
    name="camvid",
    class_names=(
        "sky",
        "building",
        "pole",
        "road",
        "pavement",
        "tree",
        "sign",
        "fence",
        "car",
        "pedestrian",
        "bicyclist",
    ),
    palette=(
        (136, 204, 238),
        (136, 34, 85),
        (221, 204, 119),
        (51, 34, 136),
        (153, 153, 51),
        (17, 119, 51),
        (230, 159, 0),
        (170, 68, 153),
        (204, 102, 119),
        (68, 170, 153),
        (0, 114, 178),
    ),
    splits=("train", "val", "test"),  # test: the 233 images of the published SegNet layout
)
DATASETS = {spec.name: spec for spec in (VOC, VOC_ORIGINAL, CAMVID)}
# The VOC subsets (`prepare voc --subset`, WORKSHOP_VOC_SUBSET) and their prepared datasets.
VOC_SUBSETS = {"all": VOC.name, "original": VOC_ORIGINAL.name}
# A dataset prepared from your own folder: data/NAME/dataset.json describes it.
DATASET_FILE = "dataset.json"
FOLDER_NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")
BACKGROUND = "background"
# The built-in colour-blind-safe colours: VOC's Okabe-Ito ones, then CamVid's Tol muted ones.
CLASS_COLOURS = tuple(dict.fromkeys(VOC.palette[1:] + CAMVID.palette))
BACKGROUND_COLOUR = VOC.palette[0]


class FolderDatasetError(ValueError):
    """A source folder cannot become a dataset; the message names the file and what to do."""


def get_spec(dataset: str | DatasetSpec, data_dir: str | Path | None = None) -> DatasetSpec:
    """Return the spec of a dataset given by name: built in, or prepared from a folder."""
    if isinstance(dataset, DatasetSpec):
        return dataset
    if dataset in DATASETS:
        return DATASETS[dataset]
    spec = folder_spec(dataset, data_dir)
    if spec is None:
        raise ValueError(
            f"Unknown dataset {dataset!r}; choose one of {sorted(DATASETS)}, or "
            "prepare your own with `python -m workshop_helpers prepare folder "
            f"SOURCE --name {dataset}`."
        )
    return spec


def folder_palette(class_names) -> tuple[tuple[int, int, int], ...]:
    """Colour-blind-safe colours for these classes, each class keeping its colour in the notebooks.

    Background is grey; a class named as in VOC or CamVid gets its colour there (from the dataset
    sharing more of the names, VOC on a tie), unless an earlier class has that colour; the others
    take the built-in colours no class here has yet, in turn.
    """
    names = list(class_names)
    builtins = sorted((VOC, CAMVID), key=lambda spec: -len(set(names) & set(spec.class_names)))
    known = {BACKGROUND: BACKGROUND_COLOUR}
    for spec in reversed(builtins):  # the dataset sharing more names last, so its colours win
        known.update((name, colour) for name, colour in zip(spec.class_names, spec.palette))
    colours: list = [None] * len(names)
    for index, name in enumerate(names):
        if name in known and known[name] not in colours:
            colours[index] = known[name]
    free = [colour for colour in CLASS_COLOURS if colour not in colours] or list(CLASS_COLOURS)
    others = iter(free * (len(names) // len(free) + 1))
    return tuple(colour or next(others) for colour in colours)


def spec_from_record(record: dict) -> DatasetSpec:
    """The DatasetSpec that a dataset.json describes."""
    return DatasetSpec(
        name=record["name"],
        class_names=tuple(record["classes"]),
        palette=tuple(tuple(colour) for colour in record["palette"]),
        background_index=record.get("background_index"),
        splits=tuple(record.get("splits", ("train", "val"))),
    )


def read_record(folder: Path) -> dict:
    """A prepared folder dataset's dataset.json."""
    path = folder / DATASET_FILE
    try:
        record = json.loads(path.read_text())
        spec_from_record(record)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise FolderDatasetError(
            f"{path} is damaged ({err.__class__.__name__}): prepare the dataset again with "
            "`python -m workshop_helpers prepare folder SOURCE --name NAME --force`."
        ) from err
    return record


def folder_spec(name: str, data_dir: str | Path | None = None) -> DatasetSpec | None:
    """The spec of a dataset prepared from a folder into data_dir/name, or None if there is none."""
    if not FOLDER_NAME.fullmatch(name or ""):
        return None
    folder = Path(data_dir or default_data_dir()) / name
    if not ((folder / DONE_MARKER).exists() and (folder / DATASET_FILE).exists()):
        return None
    return spec_from_record(read_record(folder))


def folder_image_counts(name: str, data_dir: str | Path | None = None) -> dict | None:
    """A prepared folder dataset's image counts ({"images", "train", "val"}), or None."""
    if name in DATASETS or folder_spec(name, data_dir) is None:
        return None
    return dict(read_record(Path(data_dir or default_data_dir()) / name).get("counts", {}))


def prepared_folder_datasets(data_dir: str | Path | None = None) -> list[str]:
    """Names of the datasets prepared from folders in data_dir (default: data/)."""
    root = Path(data_dir or default_data_dir())
    if not root.is_dir():
        return []
    return sorted(
        p.parent.name
        for p in root.glob(f"*/{DATASET_FILE}")
        if (p.parent / DONE_MARKER).exists() and FOLDER_NAME.fullmatch(p.parent.name)
    )


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
    original = (
        "the original notebook's 991, where the five classes cover at least 10 % of the "
        "image, so the objects are large enough to learn from (792 training, 199 "
        "validation)"
    )
    every = "all 1,607 images with any pixel of the five classes (1,285 training, 322 validation)"
    if check_voc_subset(subset) == "original":
        return f'This run uses voc_subset="original", {original}; "all" keeps {every}.'
    return f'This run uses voc_subset="all", {every}; "original" keeps {original}.'


# ---------------------------------------------------------------- resizing


def resize_image(image: np.ndarray, size: int = PREPARED_SIZE) -> np.ndarray:
    """Resize an RGB photo bilinearly to size x size."""
    return np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR))


def resize_mask(mask: np.ndarray, size: int = PREPARED_SIZE) -> np.ndarray:
    """Resize a label mask to size x size with nearest neighbour."""
    # Nearest neighbour only: interpolating labels would invent classes (between 1 and 3 lies 2)
    # and blur void.
    return np.asarray(Image.fromarray(mask).resize((size, size), Image.NEAREST))


# ---------------------------------------------------------------- void on disk


def labels_to_disk(labels: np.ndarray) -> np.ndarray:
    """Labels with -1 void as the uint8 values a PNG mask stores (void 255)."""
    return np.where(np.asarray(labels) < 0, VOID_ON_DISK, labels).astype(np.uint8)


def labels_from_disk(raw: np.ndarray, dtype=np.int8) -> np.ndarray:
    """A PNG mask's values (void 255) as labels with -1 void."""
    return np.where(raw == VOID_ON_DISK, VOID, raw).astype(dtype)


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


def load_split(
    dataset: str, split: str, data_dir: str | Path | None = None, limit: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A prepared split as uint8 images [N,256,256,3] and int8 masks [N,256,256] with -1 void."""
    spec = get_spec(dataset, data_dir)
    folder = Path(data_dir or default_data_dir()) / spec.name
    if not (folder / DONE_MARKER).exists():
        raise DataNotFoundError(
            f"The {spec.name} dataset is not prepared in {folder}. "
            f"Run `python -m workshop_helpers prepare {spec.name}` first."
        )
    if split not in spec.splits:
        raise ValueError(f"{spec.name} has the splits {', '.join(spec.splits)}, not {split!r}.")
    if split not in prepared_splits(folder):
        raise DataNotFoundError(
            f"The {spec.name} {split} split is not prepared in {folder}: its source had no "
            f"{split}/ folder. Delete {folder} and prepare it again from the full download "
            f"(`python -m workshop_helpers prepare {spec.name}` with no mirror set) or from "
            f"--source FOLDER with {split}/ in it."
        )
    ids = read_ids(folder / f"{split}.txt")
    if is_partial(folder):
        ids = [i for i in ids if (folder / "masks" / f"{i}.png").exists()]
    if limit and limit < len(ids):
        # Evenly spaced rather than the first ones: CamVid ids are video frames in sequence order.
        ids = [ids[k] for k in np.linspace(0, len(ids) - 1, limit).round().astype(int)]
    images = np.stack(
        [np.asarray(Image.open(folder / "images" / f"{i}.jpg").convert("RGB")) for i in ids]
    )
    raw = np.stack([read_label_png(folder / "masks" / f"{i}.png") for i in ids])
    return images, labels_from_disk(raw)
