"""Download mechanism: resumable verified transfers, safe extraction, atomic copies."""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Mapping
from itertools import chain
from pathlib import Path, PurePosixPath

import requests
from tqdm.auto import tqdm

CHUNK = 1 << 16
EXTRACTED_MARKER = ".extracted"


class DownloadError(RuntimeError):
    """A download or extraction failed; the message says why, URL by URL."""


def file_digests(path: str | Path, algorithms: Iterable[str]) -> dict[str, str]:
    """Hex digests of a file for each hashlib algorithm name, in one pass over the file."""
    hashers = {name: hashlib.new(name) for name in algorithms}
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            for hasher in hashers.values():
                hasher.update(block)
    return {name: hasher.hexdigest() for name, hasher in hashers.items()}


# Seconds to wait for a connection and then for each next block: a host that never answers costs
# this once before the next address is tried.
TIMEOUT = (10.0, 30.0)


class _NotTheFile(Exception):
    """The host answered with something else than the file (an HTML page): try the next one."""


def _looks_like_html(block: bytes) -> bool:
    return block.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html"))


def _fetch_once(
    url: str, part: Path, size: int | None, timeout: float | tuple, progress: bool
) -> None:
    """Append the rest of `url` to `part`, resuming with an HTTP Range request."""
    have = part.stat().st_size if part.exists() else 0
    if size is not None and have >= size:
        return
    headers = {"Range": f"bytes={have}-"} if have else {}
    with requests.get(url, headers=headers, stream=True, timeout=timeout) as response:
        if response.status_code == 416:  # nothing left to send
            return
        response.raise_for_status()
        kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if kind == "text/html":
            raise _NotTheFile("served an HTML page (Content-Type text/html), not the file")
        if response.status_code != 206:
            have = 0  # the server ignored Range: start over
        blocks = response.iter_content(CHUNK)
        first = next(blocks, b"")
        # Checked before the file is opened: a login or error page must not replace a partial file.
        if not have and _looks_like_html(first):
            raise _NotTheFile("served an HTML page (it begins with <html), not the file")
        total = size or (have + int(response.headers.get("Content-Length", 0))) or None
        bar = tqdm(
            total=total,
            initial=have,
            unit="B",
            unit_scale=True,
            desc=part.name,
            disable=not progress,
        )
        with open(part, "ab" if have else "wb") as handle, bar:
            for block in chain([first], blocks):
                handle.write(block)
                bar.update(len(block))


def _no_answer(err: requests.RequestException, timeout: float | tuple) -> str:
    """Why a host sent nothing, in words."""
    connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    if isinstance(err, requests.ConnectTimeout):
        return f"no connection within {connect:g} s (ConnectTimeout)"
    if isinstance(err, requests.ReadTimeout) or "Read timed out" in str(err):
        return f"no answer within {read:g} s (ReadTimeout)"
    return f"could not connect ({err.__class__.__name__})"


def download(
    urls: Iterable[str],
    dest: str | Path,
    size: int | None = None,
    hashes: Mapping[str, str] | None = None,
    retries: int = 3,
    timeout: float | tuple[float, float] = TIMEOUT,
    progress: bool = True,
) -> Path:
    """Download to `dest` from the first URL that works, resuming partial files; check size, hashes.

    `hashes` maps hashlib names to hex digests ({"sha1": ..., "md5": ...}); every one must match.
    A URL that fails without sending anything (no answer, a redirect loop, an HTTP error, an HTML
    page) gives way to the next one; a transfer that stops part-way is resumed `retries` times.
    """
    dest = Path(dest)
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    expected = {name.lower(): digest.lower() for name, digest in (hashes or {}).items()}
    errors = []
    for url in urls:
        for _ in range(retries + 1):
            before = part.stat().st_size if part.exists() else 0
            try:
                _fetch_once(url, part, size, timeout, progress)
            except requests.TooManyRedirects:
                errors.append(f"{url}: a redirect loop (TooManyRedirects)")
                break
            except requests.HTTPError as err:
                status = f"{err.response.status_code} {err.response.reason or ''}".rstrip()
                errors.append(f"{url}: HTTP {status}")
                break
            except _NotTheFile as err:
                errors.append(f"{url}: {err}")
                break
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as err:
                if (part.stat().st_size if part.exists() else 0) > before:
                    errors.append(
                        f"{url}: interrupted ({err.__class__.__name__}); kept {part} to resume"
                    )
                    continue
                errors.append(f"{url}: {_no_answer(err, timeout)}")
                break
            except requests.RequestException as err:
                errors.append(f"{url}: {err.__class__.__name__}: {err}")
                break
            got = part.stat().st_size
            if size is not None and got < size:
                errors.append(f"{url}: got {got:,} of {size:,} bytes")
                continue
            if size is not None and got > size:
                part.unlink()  # more than the file can hold: what we have is not the file
                errors.append(f"{url}: got {got:,} bytes, more than the expected {size:,}; deleted")
                break
            actual = file_digests(part, expected)
            wrong = [name for name in expected if actual[name] != expected[name]]
            if wrong:
                part.unlink()
                errors.append(
                    f"{url}: {', '.join(w.upper() for w in wrong)} checksum mismatch "
                    f"(got {actual[wrong[0]]}, expected {expected[wrong[0]]}); deleted"
                )
                break
            part.rename(dest)
            return dest
    raise DownloadError(f"Could not download {dest.name}:\n  " + "\n  ".join(errors))


def _safe_name(name: str) -> bool:
    """Whether an archive member's target path stays inside the extraction folder."""
    path = PurePosixPath(name)
    return bool(name) and not path.is_absolute() and ".." not in path.parts


def extract(archive: str | Path, dest: str | Path, select: Callable[[str], str | None]) -> Path:
    """Extract the members of a tar or zip that `select` names (None skips) into dest, once."""
    archive, dest = Path(archive), Path(dest)
    if (dest / EXTRACTED_MARKER).exists():
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, dest, select)
        elif tarfile.is_tarfile(archive):
            _extract_tar(archive, dest, select)
        else:
            raise DownloadError(
                f"{archive} is neither a tar nor a zip archive: delete it and try again."
            )
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as err:
        raise DownloadError(f"{archive} is damaged ({err}): delete it and try again.") from err
    (dest / EXTRACTED_MARKER).write_text("ok\n")  # written last: an interrupted run extracts again
    return dest


def _extract_tar(archive: Path, dest: Path, select) -> None:
    with tarfile.open(archive) as tar:
        members = []
        for member in tar:
            name = select(member.name)
            if name and (member.isfile() or member.isdir()) and _safe_name(name):
                member.name = name
                members.append(member)
        if hasattr(tarfile, "data_filter"):  # Python 3.10.12+ and 3.11.4+
            tar.extractall(dest, members=members, filter="data")
        else:
            tar.extractall(dest, members=members)


def _extract_zip(archive: Path, dest: Path, select) -> None:
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            name = select(info.filename)
            if not name or info.is_dir() or not _safe_name(name):
                continue
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with zipped.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)


def copy_file(source: str | Path, target: str | Path) -> Path:
    """Copy source to target through a temporary file, unless target already has its size."""
    source, target = Path(source), Path(target)
    if not target.exists() or target.stat().st_size != source.stat().st_size:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        shutil.copyfile(source, tmp)
        tmp.rename(target)
    return target


def keras_cache_dir() -> Path:
    """Where Keras looks for downloaded weights: $KERAS_HOME/models, default ~/.keras/models."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"
