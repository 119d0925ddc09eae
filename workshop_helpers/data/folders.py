"""Your own photos as a dataset: index masks, colour masks or labelme JSON become data/NAME/.

`prepare_folder(SOURCE, NAME)` (`python -m workshop_helpers prepare folder SOURCE --name NAME`)
checks the whole folder, writes data/NAME/ like the built-in datasets (256x256 JPEG + PNG masks,
split lists) plus dataset.json, from which `datasets.get_spec(NAME)` reads the spec. It writes into
a temporary folder and renames it at the end, so a bad input leaves data/ as it was.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps
from tqdm.auto import tqdm

from ..datasets import (
    BACKGROUND,
    DATASET_FILE,
    DATASETS,
    DONE_MARKER,
    FOLDER_NAME,
    VOID,
    VOID_ON_DISK,
    FolderDatasetError,
    folder_palette,
    labels_from_disk,
    labels_to_disk,
    read_record,
)
from ..paths import default_data_dir
from .preparation import split_ids, write_pair

FORMAT_VERSION = 1
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
PHOTO_FOLDERS = ("images", "JPEGImages")
MASK_FOLDERS = ("masks", "SegmentationClassPNG", "SegmentationClass")
# labels.txt is labelme's name, class_names.txt what its labelme2voc.py writes.
CLASS_FILES = ("classes.txt", "labels.txt", "class_names.txt")
IGNORE_LABEL, BACKGROUND_LABEL = "__ignore__", "_background_"
SHAPE_TYPES = {"polygon": 3, "rectangle": 2, "circle": 2}  # the points each one needs
MAX_CLASSES = VOID_ON_DISK  # masks are uint8 on disk and 255 is void
RESERVED_NAMES = ("downloads", "folder", "weights")  # data/downloads, and the CLI's own words
# VOC's own colour masks paint void cream: the colour masks we write do the same.
VOC_VOID_COLOUR = (224, 224, 192)
FORMAT_WORDS = {"index": "index masks", "colour": "colour masks", "labelme": "labelme JSON"}
LABELME_VERSION = "5.5.0"  # the labelme file format the JSON we write follows


@dataclass(frozen=True)
class ClassTable:
    """Class names in index order; mask colours when masks are coloured; the file they came from."""

    names: tuple[str, ...]
    colours: dict | None = None  # (R, G, B) -> class index, VOID for __ignore__
    file: str | None = None

    @property
    def background_index(self) -> int | None:
        return self.names.index(BACKGROUND) if BACKGROUND in self.names else None


@dataclass
class SourcePlan:
    """What a source folder holds, checked: format, classes, one annotation per photo, split."""

    folder: Path
    format: str  # index, colour or labelme
    classes: ClassTable
    photos: dict[str, Path | None]  # id -> photo (None: embedded in its labelme JSON)
    annotations: dict[str, Path]  # id -> mask PNG or labelme JSON
    splits: dict[str, list[str]]
    split_rule: str
    extra_files: list[Path] = field(default_factory=list)  # class and split files

    def shown(self, path: Path) -> str:
        """A path as messages name it: from the source folder's name down."""
        try:
            return f"{self.folder.name}/{path.relative_to(self.folder).as_posix()}"
        except ValueError:
            return str(path)

    def fingerprint(self) -> str:
        """SHA-256 over every file read and its place: the same source gives the same value."""
        digest = hashlib.sha256(f"format {FORMAT_VERSION} {self.format}\n".encode())
        files = [
            p
            for p in [*self.photos.values(), *self.annotations.values(), *self.extra_files]
            if p is not None
        ]
        for path in sorted(set(files)):
            digest.update(f"{self.shown(path)}\n".encode())
            with open(path, "rb") as stream:
                for block in iter(lambda: stream.read(1 << 20), b""):
                    digest.update(block)
        digest.update(json.dumps(self.splits, sort_keys=True).encode())
        return digest.hexdigest()


# ---------------------------------------------------------------- names and specs


def check_name(name: str) -> str:
    """A dataset name prepare may use: lower case, not a built-in dataset's or a reserved one."""
    if name in DATASETS or name in RESERVED_NAMES:
        raise FolderDatasetError(
            f"--name {name} is taken by the workshop ({', '.join([*DATASETS, *RESERVED_NAMES])}): "
            "choose another name for your dataset."
        )
    if not FOLDER_NAME.fullmatch(name or ""):
        raise FolderDatasetError(
            f"--name {name!r} is not a usable dataset name: start with a lower-case letter, then "
            "up to 39 lower-case letters, digits, _ or - (e.g. my_plants)."
        )
    return name


# ---------------------------------------------------------------- classes


def _class_name(name: str) -> str:
    return BACKGROUND if name.lower() in (BACKGROUND, BACKGROUND_LABEL) else name


def read_class_file(path: Path, shown: str) -> ClassTable:
    """classes.txt: one name a line in index order, or `name R G B` lines for colour masks.

    labelme's labels.txt reads the same: `__ignore__` (first) is void, `_background_` background.
    """
    lines = enumerate(path.read_text().splitlines(), 1)
    entries = [
        (number, line.strip())
        for number, line in lines
        if line.strip() and not line.strip().startswith("#")
    ]
    if not entries:
        raise FolderDatasetError(f"{shown} names no class: write one class name a line.")
    parsed = []
    for number, line in entries:
        words, colour = line.split(), None
        if len(words) >= 4 and all(word.isdigit() for word in words[-3:]):
            colour = tuple(int(word) for word in words[-3:])
            if max(colour) > 255:
                raise FolderDatasetError(
                    f"{shown} line {number}: colour {colour} is not R G B from 0 to 255."
                )
            line = " ".join(words[:-3])
        parsed.append((number, line, colour))
    coloured = [colour is not None for _, _, colour in parsed]
    if any(coloured) and not all(coloured):
        number = parsed[coloured.index(not coloured[0])][0]
        raise FolderDatasetError(
            f"{shown} line {number}: either every line is `name R G B` (colour masks) or none is "
            "(index masks, labelme)."
        )
    names, colours, seen = [], {}, {}
    for position, (number, raw, colour) in enumerate(parsed):
        if raw == IGNORE_LABEL:
            if colour is None and position:
                raise FolderDatasetError(
                    f"{shown} line {number}: {IGNORE_LABEL} must be the "
                    "first line (labelme's convention: it is void, -1)."
                )
            if colour is not None:
                colours[colour] = VOID
            continue
        name = _class_name(raw)
        if name in seen:
            raise FolderDatasetError(
                f"{shown}: the class {name!r} is named twice (lines "
                f"{seen[name]} and {number}); each class once."
            )
        seen[name] = number
        if colour is not None:
            if colour in colours:
                raise FolderDatasetError(
                    f"{shown} line {number}: colour {colour} is already "
                    "another class's; give each class its own."
                )
            colours[colour] = len(names)
        names.append(name)
    if not names:
        raise FolderDatasetError(f"{shown} names no class besides {IGNORE_LABEL}.")
    if len(names) > MAX_CLASSES:
        raise FolderDatasetError(f"{shown} names {len(names)} classes; at most {MAX_CLASSES}.")
    return ClassTable(tuple(names), colours if any(coloured) else None, shown)


# ---------------------------------------------------------------- reading the source


def _is_hidden(path: Path) -> bool:
    return path.name.startswith(".") or path.name in ("Thumbs.db", "desktop.ini")


def _listing(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _pixels(count: int) -> str:
    return f"{count:,} pixel{'' if count == 1 else 's'}"


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and not _is_hidden(p))


def _photos_in(folder: Path, plan_shown, dedicated: bool, allowed=()) -> dict[str, Path]:
    """Photos of a folder by id; in a folder of their own, anything else is refused by name."""
    photos = {}
    for path in _files(folder):
        suffix = path.suffix.lower()
        if suffix not in PHOTO_SUFFIXES:
            if dedicated and suffix not in allowed:
                raise FolderDatasetError(
                    f"{plan_shown(path)} is not a photo ({', '.join(PHOTO_SUFFIXES)}): move it out "
                    f"of {folder.name}/."
                )
            continue
        if path.stem in photos:
            raise FolderDatasetError(
                f"Two photos are named {path.stem}: "
                f"{plan_shown(photos[path.stem])} and {plan_shown(path)}; "
                "rename one."
            )
        photos[path.stem] = path
    return photos


def _class_file(source: Path, shown) -> Path | None:
    found = [source / name for name in CLASS_FILES if (source / name).is_file()]
    if len(found) > 1:
        raise FolderDatasetError(
            f"{' and '.join(shown(p) for p in found)} both name classes: keep one."
        )
    return found[0] if found else None


def read_source(source: str | Path) -> SourcePlan:
    """Find the photos, their annotations, the classes and the split of a source folder, checked."""
    source = Path(source).expanduser().resolve()
    if not source.is_dir():
        raise FolderDatasetError(f"No folder {source}.")
    plan = SourcePlan(source, "", ClassTable(("background",)), {}, {}, {}, "")
    photo_dir = next((source / n for n in PHOTO_FOLDERS if (source / n).is_dir()), source)
    mask_dir = next((source / n for n in MASK_FOLDERS if (source / n).is_dir()), None)
    jsons = sorted(
        {
            p
            for folder in {source, photo_dir}
            for p in folder.glob("*.json")
            if not _is_hidden(p) and p.name != DATASET_FILE
        }
    )
    class_file = _class_file(source, plan.shown)
    if class_file:
        plan.extra_files.append(class_file)
    dedicated = photo_dir != source
    photos = _photos_in(photo_dir, plan.shown, dedicated, allowed=(".json",) if jsons else ())
    if mask_dir is not None and jsons:
        raise FolderDatasetError(
            f"{source.name} has both a {mask_dir.name}/ folder and labelme .json files "
            f"({plan.shown(jsons[0])}): keep one kind of annotation."
        )
    if not photos and not jsons:
        raise FolderDatasetError(
            f"{source.name} is empty: it holds no photos ({', '.join(PHOTO_SUFFIXES)}) and no "
            "labelme .json files."
        )
    if mask_dir is not None:
        _plan_masks(plan, photos, mask_dir, class_file)
    elif jsons:
        _plan_labelme(plan, photos, jsons, class_file)
    else:
        raise FolderDatasetError(
            f"{source.name} has photos but no annotations: put index or colour masks in masks/ "
            "(with classes.txt), or labelme .json files next to the photos."
        )
    if len(plan.annotations) < 2:
        raise FolderDatasetError(
            f"{source.name} has {len(plan.annotations)} annotated photo: a dataset needs at least "
            "2, one for training and one for validation."
        )
    plan.splits, plan.split_rule = read_split(source, sorted(plan.annotations), plan)
    return plan


def _plan_masks(plan: SourcePlan, photos: dict, mask_dir: Path, class_file: Path | None) -> None:
    if class_file is None:
        raise FolderDatasetError(
            f"{plan.folder.name} has {mask_dir.name}/ but no classes.txt: write the class names "
            "one a line in index order (0 first), or `name R G B` lines for colour masks."
        )
    plan.classes = read_class_file(class_file, plan.shown(class_file))
    plan.format = "index" if plan.classes.colours is None else "colour"
    masks = {}
    for path in _files(mask_dir):
        if path.suffix.lower() != ".png":
            raise FolderDatasetError(
                f"{plan.shown(path)} is not a PNG mask: masks are .png files "
                f"named like their photos; move it out of {mask_dir.name}/."
            )
        masks[path.stem] = path
    without_mask = sorted(set(photos) - set(masks))
    if without_mask:
        names = [photos[i].name for i in without_mask]
        raise FolderDatasetError(
            f"{len(names)} photo{'s' if len(names) > 1 else ''} without a mask in "
            f"{mask_dir.name}/: {_listing(names)} (expected {mask_dir.name}/"
            f"{without_mask[0]}.png)."
        )
    without_photo = sorted(set(masks) - set(photos))
    if without_photo:
        names = [masks[i].name for i in without_photo]
        raise FolderDatasetError(
            f"{len(names)} mask{'s' if len(names) > 1 else ''} in {mask_dir.name}/ without a "
            f"photo: {_listing(names)}."
        )
    plan.photos, plan.annotations = photos, masks


def _plan_labelme(
    plan: SourcePlan, photos: dict, jsons: list[Path], class_file: Path | None
) -> None:
    plan.format = "labelme"
    records, labels = {}, set()
    for path in jsons:
        if path.stem in records:
            raise FolderDatasetError(
                f"Two labelme files are named {path.stem}.json: "
                f"{plan.shown(records[path.stem][0])} and {plan.shown(path)}."
            )
        record = read_labelme(path, plan.shown(path))
        records[path.stem] = (path, record)
        labels.update(str(shape.get("label")) for shape in record["shapes"])
    if class_file is not None:
        table = read_class_file(class_file, plan.shown(class_file))
        if table.colours is not None:
            raise FolderDatasetError(
                f"{plan.shown(class_file)} gives colours, which labelme "
                "files do not use: write one label a line."
            )
        if BACKGROUND not in table.names:  # pixels no shape covers are background in labelme
            table = ClassTable((BACKGROUND, *table.names), None, table.file)
    else:
        names = sorted({_class_name(label) for label in labels} - {BACKGROUND, IGNORE_LABEL})
        table = ClassTable((BACKGROUND, *names), None, None)
    plan.classes = table
    referenced = {}
    for image_id, (path, record) in records.items():
        photo = labelme_photo_path(path, record)
        if photo is None and not record.get("imageData"):
            where = record.get("imagePath")
            said = f"its imagePath {where!r} does not exist" if where else "it has no imagePath"
            raise FolderDatasetError(
                f"{plan.shown(path)}: {said} and it has no imageData (the "
                "photo embedded): put the photo there or save it in labelme "
                "again."
            )
        plan.photos[image_id], plan.annotations[image_id] = photo, path
        if photo is not None:
            referenced[photo.resolve()] = image_id
    unannotated = sorted(p.name for p in photos.values() if p.resolve() not in referenced)
    if unannotated:
        raise FolderDatasetError(
            f"{len(unannotated)} photo{'s' if len(unannotated) > 1 else ''} without a labelme "
            f"file: {_listing(unannotated)}; annotate {'them' if len(unannotated) > 1 else 'it'} "
            f"or move {'them' if len(unannotated) > 1 else 'it'} out of {plan.folder.name}."
        )


def read_labelme(path: Path, shown: str) -> dict:
    """A labelme JSON file, checked to be one (a `shapes` list)."""
    try:
        record = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FolderDatasetError(
            f"{shown} is not a labelme file: not valid JSON ({err})."
        ) from None
    if not isinstance(record, dict) or not isinstance(record.get("shapes"), list):
        raise FolderDatasetError(f"{shown} is not a labelme file: it has no `shapes` list.")
    return record


def labelme_photo_path(path: Path, record: dict) -> Path | None:
    """The photo a labelme file names (imagePath, relative to the file), if it exists."""
    image_path = record.get("imagePath")
    if not image_path:
        return None
    photo = path.parent / str(image_path).replace("\\", "/")  # labelme on Windows writes \
    return photo if photo.is_file() else None


def read_split(source: Path, ids: list[str], plan: SourcePlan) -> tuple[dict, str]:
    """split.txt (`ID train|val` lines) or train.txt + val.txt if there, else the VOC rule."""
    split_file = source / "split.txt"
    lists = [source / "train.txt", source / "val.txt"]
    if split_file.is_file():
        plan.extra_files.append(split_file)
        shown, listed = plan.shown(split_file), {}
        for number, line in enumerate(split_file.read_text().splitlines(), 1):
            words = line.replace(",", " ").split()
            if not words or words[0].startswith("#"):
                continue
            if len(words) != 2 or words[1] not in ("train", "val"):
                raise FolderDatasetError(
                    f"{shown} line {number}: expected `ID train` or `ID val`, not {line.strip()!r}."
                )
            listed[_id_of(words[0])] = words[1]
    elif any(p.is_file() for p in lists):
        present, absent = sorted(lists, key=lambda p: not p.is_file())
        if not absent.is_file():
            raise FolderDatasetError(
                f"{plan.shown(present)} is there but {absent.name} is not: "
                "give both, or neither for the 80:20 split."
            )
        plan.extra_files.extend(lists)
        shown, listed = f"{plan.shown(lists[0])} and {lists[1].name}", {}
        for path in lists:
            for line in path.read_text().splitlines():
                if not line.strip() or line.startswith("#"):
                    continue
                image_id = _id_of(line.strip())
                if image_id in listed:
                    raise FolderDatasetError(f"{shown}: {image_id} is listed twice; once each.")
                listed[image_id] = path.stem
    else:
        train, val = split_ids(ids)
        return {"train": train, "val": val}, "sorted ids, first 80 % train"
    unknown = sorted(set(listed) - set(ids))
    if unknown:
        raise FolderDatasetError(
            f"{shown}: {_listing(unknown)} not among the annotated photos; "
            "list only photos that are there."
        )
    unplaced = sorted(set(ids) - set(listed))
    if unplaced:
        raise FolderDatasetError(
            f"{shown}: {_listing(unplaced)} in no split; put each photo in train or val."
        )
    splits = {name: [i for i in ids if listed[i] == name] for name in ("train", "val")}
    for name, word in (("train", "training"), ("val", "validation")):
        if not splits[name]:
            raise FolderDatasetError(
                f"{shown}: the {word} split is empty; each split needs at least 1 photo."
            )
    return splits, shown.split("/", 1)[-1]


def _id_of(entry: str) -> str:
    """An id from a split list entry, which may name the file (cat.jpg) or the id (cat)."""
    path = Path(entry)
    return path.stem if path.suffix.lower() in (*PHOTO_SUFFIXES, ".json", ".png") else entry


# ---------------------------------------------------------------- reading one image


def read_photo(path: Path, shown: str) -> np.ndarray:
    """An RGB photo turned as its EXIF orientation says (as labelme and phones show it)."""
    try:
        with Image.open(path) as im:
            return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise FolderDatasetError(f"{shown} cannot be read as an image ({err}).") from None


def _open_mask(path: Path, shown: str) -> Image.Image:
    try:
        im = Image.open(path)
        im.load()
        return im
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise FolderDatasetError(f"{shown} cannot be read as an image ({err}).") from None


def read_index_mask(path: Path, shown: str, num_classes: int) -> np.ndarray:
    """Labels (-1 void) of an index mask: one class index per pixel, 255 void."""
    with _open_mask(path, shown) as im:
        if im.mode in ("RGB", "RGBA"):
            rgb = np.asarray(im.convert("RGB"))
            if not (rgb[..., 0] == rgb[..., 1]).all() or not (rgb[..., 0] == rgb[..., 2]).all():
                raise FolderDatasetError(
                    f"{shown} is a colour image, but the class file gives no colours: for colour "
                    "masks write `name R G B` lines, for index masks save one index per pixel."
                )
            raw = rgb[..., 0].astype(np.int64)
        else:
            raw = np.asarray(im).astype(np.int64)
    values, counts = np.unique(raw, return_counts=True)
    stray = [
        (int(v), int(c))
        for v, c in zip(values, counts)
        if v != VOID_ON_DISK and not 0 <= v < num_classes
    ]
    if stray:
        value, count = stray[0]
        raise FolderDatasetError(
            f"{shown} has the value {value} ({_pixels(count)}), which no class has: the class "
            f"file names 0 to {num_classes - 1}, and 255 is void."
        )
    return labels_from_disk(raw, np.int16)


def read_colour_mask(path: Path, shown: str, colours: dict) -> np.ndarray:
    """Labels (-1 void) of a colour mask: each pixel's colour looked up in the class file."""
    with _open_mask(path, shown) as im:
        rgb = np.asarray(im.convert("RGB")).astype(np.int64)
    codes = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    values, inverse, counts = np.unique(codes, return_inverse=True, return_counts=True)
    table = {(r << 16) | (g << 8) | b: label for (r, g, b), label in colours.items()}
    missing = [(int(v), int(c)) for v, c in zip(values, counts) if int(v) not in table]
    if missing:
        code, count = missing[0]
        colour = (code >> 16, (code >> 8) & 255, code & 255)
        more = f" (and {len(missing) - 1} other colours)" if len(missing) > 1 else ""
        raise FolderDatasetError(
            f"{shown} has the colour {colour} ({_pixels(count)}){more}, which no class has in the "
            "class file: add it, or repaint those pixels (JPEG or smoothed edges blend colours)."
        )
    lookup = np.array([table[int(v)] for v in values], dtype=np.int16)
    return lookup[inverse.reshape(codes.shape)]


def labelme_photo(path: Path, record: dict, shown: str) -> np.ndarray:
    """The photo of a labelme file: its imagePath, else its embedded imageData."""
    photo = labelme_photo_path(path, record)
    if photo is not None:
        return read_photo(photo, f"{shown.rsplit('/', 1)[0]}/{record['imagePath']}")
    try:
        data = base64.b64decode(record["imageData"])
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    except (OSError, ValueError, SyntaxError) as err:
        raise FolderDatasetError(
            f"{shown}: its imageData cannot be read as an image ({err})."
        ) from None


def rasterise_labelme(
    record: dict, height: int, width: int, label_of: dict, background: int, shown: str
) -> tuple[np.ndarray, list[str]]:
    """Labels (-1 void) of a labelme file: shapes in file order, later ones over earlier ones.

    Returns the labels and one note per shape that reaches outside the image (it is clipped).
    """
    labels = np.full((height, width), background, dtype=np.int16)
    notes = []
    for number, shape in enumerate(record["shapes"], 1):
        label = str(shape.get("label"))
        kind = shape.get("shape_type") or "polygon"  # labelme before 3.0 wrote no shape_type
        name = f"{shown} shape {number} ({label!r})"
        label = label if label in label_of else _class_name(label)
        if label not in label_of:
            known = ", ".join(k for k in label_of if not k.startswith("_"))
            raise FolderDatasetError(
                f"{name}: the class file has no label {label!r} (it names "
                f"{known}); add it or fix the label in labelme."
            )
        if kind not in SHAPE_TYPES:
            raise FolderDatasetError(
                f"{name} is a {kind}, which has no area: prepare reads "
                f"{', '.join(SHAPE_TYPES)} shapes; redraw it as one."
            )
        try:
            points = np.asarray(shape.get("points") or [], dtype=np.float64).reshape(-1, 2)
        except (TypeError, ValueError):
            raise FolderDatasetError(f"{name}: its points are not [x, y] pairs.") from None
        needed = SHAPE_TYPES[kind]
        if len(points) < needed:
            raise FolderDatasetError(
                f"{name} is a {kind} with {len(points)} point"
                f"{'' if len(points) == 1 else 's'}; it needs at least "
                f"{needed}: delete or redraw it."
            )
        region = Image.new("L", (width, height), 0)
        draw = ImageDraw.Draw(region)
        if kind == "circle":
            (cx, cy), edge = points[0], points[1]
            radius = float(np.hypot(*(edge - points[0])))
            corners = np.array([[cx - radius, cy - radius], [cx + radius, cy + radius]])
            draw.ellipse([tuple(corners[0]), tuple(corners[1])], outline=1, fill=1)
        elif kind == "rectangle":
            corners = np.sort(points[:2], axis=0)
            draw.rectangle([tuple(corners[0]), tuple(corners[1])], outline=1, fill=1)
        else:
            corners = points
            draw.polygon([tuple(p) for p in points], outline=1, fill=1)  # as labelme draws it
        if (corners.min(0) < 0).any() or (corners.max(0) > (width, height)).any():
            notes.append(f"{shown} shape {number} ({label!r})")
        labels[np.asarray(region, dtype=bool)] = label_of[label]
    return labels, notes


def labelme_label_values(classes: ClassTable) -> dict[str, int]:
    """Label text -> class index of labelme shapes: `__ignore__` void, `_background_` background."""
    values = {name: index for index, name in enumerate(classes.names)}
    values[IGNORE_LABEL] = VOID
    if classes.background_index is not None:
        values[BACKGROUND_LABEL] = classes.background_index
    return values


# ---------------------------------------------------------------- preparing


def prepare_folder(
    source: str | Path,
    name: str,
    data_dir: str | Path | None = None,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Prepare data/NAME/ from a folder of photos with index masks, colour masks or labelme JSON.

    Re-running on the same source does nothing; force rebuilds. Any bad input stops with one line
    (FolderDatasetError) and leaves data/ as it was.
    """
    check_name(name)
    plan = read_source(source)
    root = Path(data_dir or default_data_dir()).expanduser().resolve()
    target = root / name
    if target == plan.folder or target in plan.folder.parents:
        raise FolderDatasetError(
            f"The source {plan.folder.name} is inside the data folder it "
            f"would be prepared into: move it out of {root.name}/{name}."
        )
    fingerprint = plan.fingerprint()
    if target.exists():
        if not (target / DONE_MARKER).exists() or not (target / DATASET_FILE).exists():
            raise FolderDatasetError(
                f"{root.name}/{name} exists and is not a prepared folder "
                "dataset: move it away or choose another --name."
            )
        recorded = read_record(target)
        if not force:
            if recorded.get("fingerprint") == fingerprint:
                if progress:
                    print(
                        f"{name}: already prepared from this source, unchanged (force=True or "
                        "--force rebuilds it)."
                    )
                return target
            raise FolderDatasetError(
                f"{root.name}/{name} was prepared from {recorded.get('source', 'another source')}"
                ", which differs from this source now: add --force (force=True) to rebuild it."
            )
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(f".{name}.partial-*"):  # left by a run that was killed
        shutil.rmtree(stale, ignore_errors=True)
    work = root / f".{name}.partial-{os.getpid()}"
    work.mkdir()
    try:
        record = _write_dataset(plan, work, name, fingerprint, progress)
        if target.exists():  # --force: the old one goes only once the new one is complete
            old = root / f".{name}.old-{os.getpid()}"
            target.rename(old)
            work.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            work.rename(target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    if progress:
        print(split_summary(record, f"{root.name}/{name}"))
    return target


def _annotation_labels(plan: SourcePlan, image_id: str, label_of: dict, notes: list):
    """(photo, labels) of one id, both at the photo's size, checked."""
    annotation = plan.annotations[image_id]
    shown = plan.shown(annotation)
    if plan.format == "labelme":
        record = read_labelme(annotation, shown)
        photo = labelme_photo(annotation, record, shown)
        height, width = photo.shape[:2]
        said = (record.get("imageHeight"), record.get("imageWidth"))
        if None not in said and tuple(said) != (height, width):
            raise FolderDatasetError(
                f"{shown} is drawn on a {said[1]}×{said[0]} photo, but its photo is "
                f"{width}×{height}: open it in labelme again with that photo."
            )
        labels, clipped = rasterise_labelme(
            record, height, width, label_of, plan.classes.background_index, shown
        )
        notes.extend(clipped)
        return photo, labels
    photo_path = plan.photos[image_id]
    photo = read_photo(photo_path, plan.shown(photo_path))
    if plan.format == "colour":
        labels = read_colour_mask(annotation, shown, plan.classes.colours)
    else:
        labels = read_index_mask(annotation, shown, len(plan.classes.names))
    if labels.shape != photo.shape[:2]:
        (mh, mw), (ph, pw) = labels.shape, photo.shape[:2]
        raise FolderDatasetError(
            f"{shown} is {mw}×{mh}, but its photo "
            f"{plan.shown(photo_path)} is {pw}×{ph}: a mask has its "
            "photo's size."
        )
    return photo, labels


def _write_dataset(
    plan: SourcePlan, work: Path, name: str, fingerprint: str, progress: bool
) -> dict:
    for sub in ("images", "masks"):
        (work / sub).mkdir()
    label_of = labelme_label_values(plan.classes)
    notes: list[str] = []
    counts = {split: np.zeros(256, dtype=np.int64) for split in plan.splits}
    split_of = {i: split for split, ids in plan.splits.items() for i in ids}
    for image_id in tqdm(
        sorted(plan.annotations), desc=f"preparing {name}", disable=not progress, leave=False
    ):
        photo, labels = _annotation_labels(plan, image_id, label_of, notes)
        on_disk = write_pair(work, image_id, photo, labels)
        counts[split_of[image_id]] += np.bincount(on_disk.ravel(), minlength=256)
    if notes:
        note = (
            f"Clipped to the image: {len(notes)} shape{'s' if len(notes) > 1 else ''} "
            f"reach{'' if len(notes) > 1 else 'es'} outside it ({_listing(notes, 3)})."
        )
        notes = [note]
        if progress:
            print(note)
    names = plan.classes.names
    shares = {
        split: {
            **{n: float(c[i] / max(c.sum(), 1)) for i, n in enumerate(names)},
            "void": float(c[VOID_ON_DISK] / max(c.sum(), 1)),
        }
        for split, c in counts.items()
    }
    record = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "classes": list(names),
        "palette": [list(c) for c in folder_palette(names)],
        "background_index": plan.classes.background_index,
        "splits": ["train", "val"],
        "source": plan.folder.name,
        "format": plan.format,
        "class_file": plan.classes.file,
        "split_rule": plan.split_rule,
        "counts": {
            "images": len(plan.annotations),
            **{split: len(ids) for split, ids in plan.splits.items()},
        },
        "pixel_shares": shares,
        "notes": notes,
        "fingerprint": fingerprint,
    }
    lists = {"ids": sorted(plan.annotations), **plan.splits}
    for list_name, ids in lists.items():
        (work / f"{list_name}.txt").write_text("".join(f"{i}\n" for i in ids))
    # One line per key: a student can read the classes and counts at a glance.
    lines = [f" {json.dumps(key)}: {json.dumps(value)}" for key, value in record.items()]
    (work / DATASET_FILE).write_text("{\n" + ",\n".join(lines) + "\n}\n")
    # Your photos are yours: the workshop's git leaves the prepared folder alone.
    (work / ".gitignore").write_text("*\n")
    (work / DONE_MARKER).write_text("ok\nsplits: train val\nfolder dataset\n")
    return record


def split_summary(record: dict, shown: str) -> str:
    """The split and each class's share of the pixels per split, and the classes a split lacks."""
    counts, shares = record["counts"], record["pixel_shares"]
    words = {"train": "training", "val": "validation"}
    lines = [
        f"Prepared {shown} from {record['source']} ({FORMAT_WORDS[record['format']]}): "
        f"{counts['images']} photos, {counts['train']} training and {counts['val']} "
        f"validation ({record['split_rule']}).",
        f"{'pixels':>14}  {'training':>9}  {'validation':>10}",
    ]
    for name in [*record["classes"], "void"]:
        lines.append(
            f"{name:>14}  {100 * shares['train'][name]:8.1f} %  {100 * shares['val'][name]:9.1f} %"
        )
    for split, word in words.items():
        absent = [n for n in record["classes"] if shares[split][n] == 0]
        if absent:
            unmeasured = " (no IoU can be measured for them)" if split == "val" else ""
            lines.append(f"Not in the {word} photos{unmeasured}: {', '.join(absent)}.")
    return "\n".join(lines)


# ---------------------------------------------------------------- writing a source folder


def mask_to_labelme_shapes(labels: np.ndarray, class_names, tolerance: float = 1.0) -> list[dict]:
    """labelme polygons tracing each region of a label mask (-1 void becomes `__ignore__`).

    Regions are 4-connected, as the holes of others are; larger ones come first, so a region inside
    another's hole is drawn over it. Background regions touching the border are left out: what no
    shape covers is background. Outlines are simplified to within `tolerance` pixels, as a person
    clicking points would draw them.
    """
    import cv2

    labelled = []
    height, width = labels.shape
    for value in np.unique(labels):
        name = class_names[value] if value >= 0 else IGNORE_LABEL
        label = BACKGROUND_LABEL if name == BACKGROUND else name
        count, components, boxes, _ = cv2.connectedComponentsWithStats(
            (labels == value).astype(np.uint8), connectivity=4
        )
        for component in range(1, count):
            left, top, w, h, _ = boxes[component]
            touches = left == 0 or top == 0 or left + w == width or top + h == height
            if label == BACKGROUND_LABEL and touches:
                continue
            # Trace within the box, framed by one empty pixel so the outline closes at its edge.
            region = np.pad(components[top : top + h, left : left + w] == component, 1)
            contours, _ = cv2.findContours(
                region.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
            )
            outline = cv2.approxPolyDP(contours[0], tolerance, True) if tolerance else contours[0]
            points = outline[:, 0, :] + (left - 1, top - 1)
            if len(points) < 3:  # one pixel or a short line: its bounding box
                shape = {
                    "shape_type": "rectangle",
                    "points": [[int(left), int(top)], [int(left + w - 1), int(top + h - 1)]],
                }
                area = float(w * h)
            else:
                shape = {"shape_type": "polygon", "points": points.tolist()}
                area = float(cv2.contourArea(contours[0]))
            labelled.append(
                (area, {"label": label, **shape, "group_id": None, "description": "", "flags": {}})
            )
    labelled.sort(key=lambda pair: -pair[0])
    return [shape for _, shape in labelled]


def write_source_folder(
    target: str | Path, examples: dict, class_names, format: str = "index"
) -> Path:
    """Write photos and label masks (-1 void) as a folder prepare_folder reads, in one format.

    examples maps an id to (RGB photo, labels); format is index (images/, masks/, classes.txt),
    colour (the same with RGB masks and `name R G B` lines) or labelme (photo + JSON side by side,
    labels.txt).
    """
    if format not in FORMAT_WORDS:
        raise ValueError(f"format must be one of {', '.join(FORMAT_WORDS)}, not {format!r}.")
    target = Path(target)
    photos = target if format == "labelme" else target / "images"
    photos.mkdir(parents=True, exist_ok=True)
    palette = folder_palette(class_names)
    if format == "labelme":
        names = [BACKGROUND_LABEL if n == BACKGROUND else n for n in class_names]
        (target / "labels.txt").write_text("\n".join([IGNORE_LABEL, *names]) + "\n")
    elif format == "colour":
        lines = [f"{n} {r} {g} {b}" for n, (r, g, b) in zip(class_names, palette)]
        lines.append(f"{IGNORE_LABEL} {' '.join(map(str, VOC_VOID_COLOUR))}")
        (target / "classes.txt").write_text("\n".join(lines) + "\n")
    else:
        (target / "classes.txt").write_text("\n".join(class_names) + "\n")
    if format != "labelme":
        (target / "masks").mkdir(exist_ok=True)
    colours = np.array([*palette, VOC_VOID_COLOUR], dtype=np.uint8)  # index -1 is void's colour
    for image_id, (photo, labels) in examples.items():
        Image.fromarray(photo).save(photos / f"{image_id}.jpg", quality=95)
        labels = np.asarray(labels)
        if format == "index":
            Image.fromarray(labels_to_disk(labels)).save(target / "masks" / f"{image_id}.png")
        elif format == "colour":
            Image.fromarray(colours[labels]).save(target / "masks" / f"{image_id}.png")
        else:
            record = {
                "version": LABELME_VERSION,
                "flags": {},
                "shapes": mask_to_labelme_shapes(labels, class_names),
                "imagePath": f"{image_id}.jpg",
                "imageData": None,
                "imageHeight": int(labels.shape[0]),
                "imageWidth": int(labels.shape[1]),
            }
            (photos / f"{image_id}.json").write_text(json.dumps(record, indent=1) + "\n")
    return target
