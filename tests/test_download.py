import hashlib
import threading
import zipfile

import pytest

from workshop_helpers.data.download import DownloadError, copy_file, download, extract, file_digests

from .local_server import (
    answering,
    dropping_once,
    never_answering,
    redirect_to_itself,
    send_bytes,
    serve,
    tar_bytes,
)


def _keep_under(folder):
    """A select function: members under folder/, renamed relative to it."""
    return lambda name: name.split(f"{folder}/", 1)[1] if f"{folder}/" in name else None


def test_file_digests_match_hashlib_in_one_pass(tmp_path):
    body = b"workshop" * 10_000
    (tmp_path / "f").write_bytes(body)
    assert file_digests(tmp_path / "f", ["sha1", "md5"]) == {
        "sha1": hashlib.sha1(body).hexdigest(),
        "md5": hashlib.md5(body).hexdigest(),
    }


def test_download_checks_every_hash_and_tries_the_next_url(tmp_path):
    body, bad = b"the real file" * 100, b"a corrupted copy" * 80
    hashes = {"sha1": hashlib.sha1(body).hexdigest(), "md5": hashlib.md5(body).hexdigest()}
    routes = {"/bad": lambda h: send_bytes(h, bad), "/good": lambda h: send_bytes(h, body)}
    with serve(routes) as (base, _):
        path = download(
            [f"{base}/bad", f"{base}/good"], tmp_path / "f", hashes=hashes, progress=False
        )
    assert path.read_bytes() == body and sorted(p.name for p in tmp_path.iterdir()) == ["f"]


@pytest.mark.parametrize("algorithm", ["sha1", "md5"])
def test_checksum_mismatch_is_a_clear_error_and_leaves_no_file(tmp_path, algorithm):
    body = b"x" * 5000
    with serve({"/f": lambda h: send_bytes(h, body)}) as (base, _):
        with pytest.raises(DownloadError, match=f"{algorithm.upper()} checksum mismatch"):
            download(
                [f"{base}/f"],
                tmp_path / "file.tar",
                size=len(body),
                hashes={algorithm: "0" * 40},
                progress=False,
            )
    assert list(tmp_path.iterdir()) == []


def test_a_file_larger_than_its_size_is_deleted(tmp_path):
    with serve({"/f": lambda h: send_bytes(h, b"y" * 300)}) as (base, _):
        with pytest.raises(DownloadError, match="more than the expected 200"):
            download([f"{base}/f"], tmp_path / "f", size=200, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_transfer_resumes_with_a_range_request(tmp_path):
    body = bytes(range(256)) * 4096  # 1 MiB, sent in 64 KiB chunks
    calls = []
    flaky = dropping_once(body, calls)

    with serve({"/f": flaky}) as (base, _):
        path = download(
            [f"{base}/f"],
            tmp_path / "f.bin",
            size=len(body),
            hashes={"sha1": hashlib.sha1(body).hexdigest()},
            progress=False,
        )
    assert path.read_bytes() == body
    assert calls[0] is None and calls[1].startswith("bytes=")
    resumed_from = int(calls[1][6:-1])
    assert 0 < resumed_from <= len(body) // 2


def test_a_partial_file_from_an_earlier_run_is_resumed(tmp_path):
    body = b"abcdefghij" * 100
    (tmp_path / "f.bin.part").write_bytes(body[:300])
    with serve({"/f": lambda h: send_bytes(h, body)}) as (base, requests):
        download(
            [f"{base}/f"],
            tmp_path / "f.bin",
            hashes={"md5": hashlib.md5(body).hexdigest()},
            progress=False,
        )
    assert (tmp_path / "f.bin").read_bytes() == body
    assert requests[0][1].get("Range") == "bytes=300-"


def test_every_url_failing_lists_each_reason(tmp_path):
    with serve({}) as (base, _):
        with pytest.raises(DownloadError, match=r"(?s)/a: HTTP 404.*/b: HTTP 404"):
            download([f"{base}/a", f"{base}/b"], tmp_path / "x", progress=False)
    assert list(tmp_path.iterdir()) == []


HTML = b"\n<!DOCTYPE html>\n<html><body>Please log in</body></html>"


def _bad_hosts(released):
    """The ways a VOC host has failed, each at its own path, in the order they are tried."""
    return {
        "/loop": redirect_to_itself,
        "/forbidden": answering(403),
        "/silent": never_answering(released),
        "/page": lambda h: send_bytes(h, HTML, content_type="text/html; charset=utf-8"),
        "/sniffed": lambda h: send_bytes(h, HTML),  # an HTML page sent as a binary file
    }


def test_each_kind_of_failing_host_gives_way_to_the_next(tmp_path):
    body = b"the tar" * 1000
    released = threading.Event()
    routes = {**_bad_hosts(released), "/good": lambda h: send_bytes(h, body)}
    with serve(routes) as (base, requests):
        try:
            path = download(
                [f"{base}{route}" for route in routes],
                tmp_path / "voc.tar",
                size=len(body),
                hashes={"sha1": hashlib.sha1(body).hexdigest()},
                timeout=(2, 0.5),
                progress=False,
            )
        finally:
            released.set()
    assert path.read_bytes() == body
    # A host that never answers is asked once, not once per retry.
    assert [seen for seen, _ in requests].count("/silent") == 1


def test_the_final_error_keeps_each_hosts_reason(tmp_path):
    released = threading.Event()
    with serve(_bad_hosts(released)) as (base, _):
        try:
            with pytest.raises(DownloadError) as raised:
                download(
                    [f"{base}{route}" for route in _bad_hosts(released)],
                    tmp_path / "voc.tar",
                    timeout=(2, 0.5),
                    progress=False,
                )
        finally:
            released.set()
    lines = str(raised.value).splitlines()[1:]
    assert [line.split(": ", 1)[0].rsplit("/", 1)[1] for line in lines] == [
        "loop",
        "forbidden",
        "silent",
        "page",
        "sniffed",
    ]
    reasons = "\n".join(lines)
    assert "redirect loop (TooManyRedirects)" in reasons and "HTTP 403 Forbidden" in reasons
    assert "no answer within 0.5 s (ReadTimeout)" in reasons
    assert reasons.count("served an HTML page") == 2
    assert list(tmp_path.iterdir()) == []


def test_an_html_page_leaves_a_partial_file_for_the_next_host(tmp_path):
    body = b"0123456789" * 500
    (tmp_path / "f.tar.part").write_bytes(body[:2000])
    routes = {
        "/page": lambda h: send_bytes(h, HTML, ranges=False),
        "/f": lambda h: send_bytes(h, body),
    }
    with serve(routes) as (base, requests):
        download([f"{base}/page", f"{base}/f"], tmp_path / "f.tar", size=len(body), progress=False)
    assert (tmp_path / "f.tar").read_bytes() == body
    assert requests[-1] == ("/f", requests[-1][1]) and requests[-1][1]["Range"] == "bytes=2000-"


def test_extract_tar_takes_the_selected_members_once(tmp_path):
    archive = tmp_path / "a.tar"
    archive.write_bytes(
        tar_bytes({"top/keep/a.txt": b"a", "top/keep/sub/b.txt": b"b", "other/c.txt": b"c"})
    )
    dest = extract(archive, tmp_path / "out", _keep_under("top"))
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*.txt")) == [
        "keep/a.txt",
        "keep/sub/b.txt",
    ]
    (dest / "keep" / "a.txt").unlink()
    assert extract(archive, dest, _keep_under("top")) == dest  # the marker says it is done
    assert not (dest / "keep" / "a.txt").exists()


def test_extract_zip_and_skip_paths_leaving_the_folder(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("repo-main/CamVid/train/x.png", b"png")
        zipped.writestr("repo-main/CamVid/../../evil.txt", b"no")
    dest = extract(archive, tmp_path / "out", _keep_under("CamVid"))
    assert (dest / "train" / "x.png").read_bytes() == b"png"
    assert not list(tmp_path.rglob("evil.txt"))


def test_a_damaged_archive_says_so(tmp_path):
    archive = tmp_path / "a.tar"
    archive.write_bytes(tar_bytes({"top/a.txt": b"a" * 5000})[:1500])
    with pytest.raises(DownloadError, match="damaged|neither"):
        extract(archive, tmp_path / "out", _keep_under("top"))
    assert not (tmp_path / "out" / ".extracted").exists()


def test_copy_file_copies_once(tmp_path):
    (tmp_path / "src").write_bytes(b"weights")
    target = copy_file(tmp_path / "src", tmp_path / "cache" / "w.h5")
    assert target.read_bytes() == b"weights"
    stamp = target.stat().st_mtime_ns
    assert copy_file(tmp_path / "src", target).stat().st_mtime_ns == stamp
