import hashlib
import io
import tarfile

import numpy as np
import pytest
from PIL import Image

from workshop_helpers import prepare_voc
from workshop_helpers.datasets import read_ids
from workshop_helpers.download import (MOBILENET_WEIGHTS, DownloadError, download, fetch_voc, keras_cache_dir,
                                       prime_keras_cache)

from .conftest import needs_mirror
from .local_server import send_bytes, serve


def _png(array, mode):
    buffer = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buffer, format="PNG" if mode != "RGB" else "JPEG")
    return buffer.getvalue()


def _voc_tar() -> bytes:
    """A small tar in the official layout: two photos with masks (one with a cat, one with only a bottle)."""
    files = {}
    for name, voc_class in (("2007_000001", 8), ("2007_000002", 5)):
        mask = np.zeros((40, 60), np.uint8)
        mask[10:30, 10:40] = voc_class
        mask[9, :] = 255
        files[f"VOCdevkit/VOC2012/SegmentationClass/{name}.png"] = _png(mask, "L")
        files[f"VOCdevkit/VOC2012/JPEGImages/{name}.jpg"] = _png(np.full((40, 60, 3), 90, np.uint8), "RGB")
    files["VOCdevkit/VOC2012/Annotations/ignored.xml"] = b"<annotation/>"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def no_mirror(monkeypatch):
    monkeypatch.delenv("WORKSHOP_DATA_MIRROR", raising=False)


def test_voc_download_extract_and_prepare_end_to_end(tmp_path):
    body = _voc_tar()
    with serve({"/voc.tar": lambda h: send_bytes(h, body)}) as (base, _):
        root = fetch_voc(tmp_path, urls=[f"{base}/missing.tar", f"{base}/voc.tar"],
                         md5=hashlib.md5(body).hexdigest(), size=len(body), progress=False)
    assert sorted(p.name for p in (root / "JPEGImages").iterdir()) == ["2007_000001.jpg", "2007_000002.jpg"]
    assert not (root / "Annotations").exists()  # only what the workshop needs is extracted
    target = prepare_voc(root, tmp_path / "data")
    assert read_ids(target / "ids.txt") == ["2007_000001"]  # the bottle-only image is not in the subset


def test_checksum_mismatch_is_a_clear_error_and_leaves_no_file(tmp_path):
    body = b"x" * 5000
    dest = tmp_path / "file.tar"
    with serve({"/f": lambda h: send_bytes(h, body)}) as (base, _):
        with pytest.raises(DownloadError, match="Checksum mismatch"):
            download([f"{base}/f"], dest, md5="0" * 32, size=len(body), progress=False)
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_transfer_resumes_with_a_range_request(tmp_path):
    body = bytes(range(256)) * 4096  # 1 MiB, sent in 64 KiB chunks
    calls = []

    def flaky(handler):
        calls.append(handler.headers.get("Range"))
        if len(calls) == 1:  # promise everything, send half, drop the connection
            handler.send_response(200)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body[:len(body) // 2])
            handler.wfile.flush()
            handler.connection.shutdown(2)
            return
        send_bytes(handler, body)

    with serve({"/f": flaky}) as (base, _):
        path = download([f"{base}/f"], tmp_path / "f.bin", md5=hashlib.md5(body).hexdigest(), size=len(body),
                        progress=False)
    assert path.read_bytes() == body
    assert calls[0] is None and calls[1].startswith("bytes=")
    resumed_from = int(calls[1][6:-1])
    assert 0 < resumed_from <= len(body) // 2


def test_a_partial_file_from_an_earlier_run_is_resumed(tmp_path):
    body = b"abcdefghij" * 100
    (tmp_path / "f.bin.part").write_bytes(body[:300])
    with serve({"/f": lambda h: send_bytes(h, body)}) as (base, requests):
        download([f"{base}/f"], tmp_path / "f.bin", md5=hashlib.md5(body).hexdigest(), progress=False)
    assert (tmp_path / "f.bin").read_bytes() == body
    assert requests[0][1].get("Range") == "bytes=300-"


def test_every_url_failing_lists_each_reason(tmp_path):
    with serve({}) as (base, _):
        with pytest.raises(DownloadError, match="HTTP 404"):
            download([f"{base}/a", f"{base}/b"], tmp_path / "x", progress=False)
    assert list(tmp_path.iterdir()) == []


@needs_mirror
def test_prime_keras_cache_copies_the_weights(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    target = prime_keras_cache(mirror)
    assert target == keras_cache_dir() / MOBILENET_WEIGHTS == tmp_path / "models" / MOBILENET_WEIGHTS
    assert target.stat().st_size == (mirror / "weights" / MOBILENET_WEIGHTS).stat().st_size


def test_prime_keras_cache_without_a_mirror_says_what_to_set():
    with pytest.raises(FileNotFoundError, match="WORKSHOP_DATA_MIRROR"):
        prime_keras_cache()
