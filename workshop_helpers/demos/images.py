"""Images for the demos from paths, http(s) URLs (size, time and redirect limits) and bytes."""

from __future__ import annotations

import io
import time
import warnings
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import requests
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 50_000_000
MAX_REDIRECTS = 3
TIMEOUT_S = 10.0


class ImageLoadError(ValueError):
    """An image could not be loaded; the message says why in plain words."""


def _fetch(url: str, timeout: float, max_bytes: int, max_redirects: int) -> bytes:
    session = requests.Session()
    session.max_redirects = max_redirects
    # A server dripping bytes must not hold a live demo forever.
    deadline = time.monotonic() + 3 * timeout
    try:
        with session.get(
            url,
            stream=True,
            timeout=(timeout, timeout),
            headers={"User-Agent": "segmentation-workshop"},
        ) as response:
            if response.status_code != 200:
                raise ImageLoadError(
                    f"{url} answered HTTP {response.status_code} {response.reason}."
                )
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise ImageLoadError(
                    f"{url} is {int(declared) / 1e6:.0f} MB, over the "
                    f"{max_bytes / 1e6:.0f} MB limit."
                )
            body = bytearray()
            for block in response.iter_content(64 * 1024):
                body += block
                if len(body) > max_bytes:
                    raise ImageLoadError(
                        f"{url} sent more than the {max_bytes / 1e6:.0f} MB limit; stopped."
                    )
                if time.monotonic() > deadline:
                    raise ImageLoadError(
                        f"{url} took longer than {3 * timeout:.0f} s to send; stopped."
                    )
            return bytes(body)
    except requests.TooManyRedirects:
        raise ImageLoadError(f"{url} redirected more than {max_redirects} times.") from None
    except requests.Timeout:
        raise ImageLoadError(f"{url} timed out after {timeout:.0f} s.") from None
    except requests.exceptions.InvalidSchema:
        raise ImageLoadError(
            f"{url} redirected to a scheme other than http or https; refused."
        ) from None
    except requests.RequestException as err:
        raise ImageLoadError(f"Could not fetch {url}: {err.__class__.__name__}.") from None


def _to_rgb(image: Image.Image) -> np.ndarray:
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") else max(float(values.max()), 1.0)
        grey = np.clip(values / top * 255, 0, 255).round().astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=-1)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent pixels become white rather than whatever colour they hide.
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    return np.asarray(image.convert("RGB"))


def decode_image(data: bytes, name: str = "the data", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Image bytes as RGB uint8: EXIF rotation applied, first frame of animations, bombs refused."""
    if not data:
        raise ImageLoadError(f"{name} is empty.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ImageLoadError(
                        f"{name} is too large: {width}×{height} pixels, over the "
                        f"{max_pixels / 1e6:.0f} megapixel limit."
                    )
                image.seek(0)
                image.load()
                image = ImageOps.exif_transpose(image)
                return _to_rgb(image)
    except ImageLoadError:
        raise
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as err:
        if isinstance(err, UnidentifiedImageError):
            raise ImageLoadError(
                f"{name} is not an image (or a format Pillow cannot read)."
            ) from None
        raise ImageLoadError(
            f"{name} is too large to decode safely (a decompression bomb?): {err}"
        ) from None
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageLoadError(f"{name} is a damaged or truncated image: {err}") from None


def load_image(
    source,
    timeout: float = TIMEOUT_S,
    max_bytes: int = MAX_BYTES,
    max_redirects: int = MAX_REDIRECTS,
) -> np.ndarray:
    """RGB uint8 from a path, an http(s) URL, raw bytes or an array; ImageLoadError otherwise."""
    if isinstance(source, np.ndarray):
        from ..inference import as_uint8_batch

        return as_uint8_batch(source)[0][0]
    if isinstance(source, (bytes, bytearray, memoryview)):
        return decode_image(bytes(source))
    if not isinstance(source, (str, Path)):
        raise ImageLoadError(
            f"Cannot load an image from a {type(source).__name__}; give a path, URL or bytes."
        )
    text = str(source).strip()
    scheme = urlparse(text).scheme.lower()
    if scheme in ("http", "https"):
        return decode_image(_fetch(text, timeout, max_bytes, max_redirects), name=text)
    if len(scheme) > 1:  # one letter is a Windows drive, not a scheme
        raise ImageLoadError(f"Only http and https URLs are allowed, not {scheme}: ({text}).")
    path = Path(text).expanduser()
    try:
        if not path.is_file():
            raise ImageLoadError(f"No image file at {path}.")
        if path.stat().st_size > max_bytes:
            raise ImageLoadError(f"{path} is over the {max_bytes / 1e6:.0f} MB limit.")
        data = path.read_bytes()
    except OSError as err:  # a name too long, no permission: say so instead of a traceback
        raise ImageLoadError(f"Cannot read {path}: {err.strerror or err}.") from None
    return decode_image(data, name=path.name)  # the file's name: its folder says nothing


def sample_images() -> dict[str, np.ndarray]:
    """Bundled photos (inside scikit-image's wheel): a person and a cat."""
    from skimage import data

    return {"astronaut": data.astronaut(), "cat (chelsea)": data.chelsea()}
