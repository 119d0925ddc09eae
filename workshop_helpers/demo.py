"""Demos: robust image loading (paths, URLs, bytes), webcam capture, a live loop and an interactive viewer."""

from __future__ import annotations

import base64
import io
import os
import sys
import threading
import time
import warnings
from pathlib import Path
from urllib.parse import urlparse

import cv2
import numpy as np
import requests
from PIL import Image, ImageOps, UnidentifiedImageError

from .datasets import DatasetSpec
from .inference import predict, predict_labels
from .plotting import overlay, plot_segmentation

MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 50_000_000
MAX_REDIRECTS = 3
TIMEOUT_S = 10.0


class ImageLoadError(ValueError):
    """An image could not be loaded; the message says why in plain words."""


# ---------------------------------------------------------------- loading images


def _fetch(url: str, timeout: float, max_bytes: int, max_redirects: int) -> bytes:
    session = requests.Session()
    session.max_redirects = max_redirects
    deadline = time.monotonic() + 3 * timeout  # a server dripping bytes must not hold a live demo forever
    try:
        with session.get(url, stream=True, timeout=(timeout, timeout),
                         headers={"User-Agent": "segmentation-workshop"}) as response:
            if response.status_code != 200:
                raise ImageLoadError(f"{url} answered HTTP {response.status_code} {response.reason}.")
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise ImageLoadError(f"{url} is {int(declared) / 1e6:.0f} MB, over the {max_bytes / 1e6:.0f} MB limit.")
            body = bytearray()
            for block in response.iter_content(64 * 1024):
                body += block
                if len(body) > max_bytes:
                    raise ImageLoadError(f"{url} sent more than the {max_bytes / 1e6:.0f} MB limit; stopped.")
                if time.monotonic() > deadline:
                    raise ImageLoadError(f"{url} took longer than {3 * timeout:.0f} s to send; stopped.")
            return bytes(body)
    except requests.TooManyRedirects:
        raise ImageLoadError(f"{url} redirected more than {max_redirects} times.") from None
    except requests.Timeout:
        raise ImageLoadError(f"{url} timed out after {timeout:.0f} s.") from None
    except requests.exceptions.InvalidSchema:
        raise ImageLoadError(f"{url} redirected to a scheme other than http or https; refused.") from None
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
    """Decode image bytes to RGB uint8: EXIF rotation applied, first frame of animations, bombs refused."""
    if not data:
        raise ImageLoadError(f"{name} is empty.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ImageLoadError(f"{name} is too large: {width}×{height} pixels, over the "
                                         f"{max_pixels / 1e6:.0f} megapixel limit.")
                image.seek(0)
                image.load()
                image = ImageOps.exif_transpose(image)
                return _to_rgb(image)
    except ImageLoadError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        if isinstance(err, UnidentifiedImageError):
            raise ImageLoadError(f"{name} is not an image (or a format Pillow cannot read).") from None
        raise ImageLoadError(f"{name} is too large to decode safely (a decompression bomb?): {err}") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageLoadError(f"{name} is a damaged or truncated image: {err}") from None


def load_image(source, timeout: float = TIMEOUT_S, max_bytes: int = MAX_BYTES,
               max_redirects: int = MAX_REDIRECTS) -> np.ndarray:
    """An RGB uint8 array from a path, an http(s) URL, raw bytes or an array; ImageLoadError otherwise."""
    if isinstance(source, np.ndarray):
        from .inference import as_uint8_batch

        return as_uint8_batch(source)[0][0]
    if isinstance(source, (bytes, bytearray, memoryview)):
        return decode_image(bytes(source))
    if not isinstance(source, (str, Path)):
        raise ImageLoadError(f"Cannot load an image from a {type(source).__name__}; give a path, URL or bytes.")
    text = str(source).strip()
    scheme = urlparse(text).scheme.lower()
    if scheme in ("http", "https"):
        return decode_image(_fetch(text, timeout, max_bytes, max_redirects), name=text)
    if len(scheme) > 1:  # one letter is a Windows drive, not a scheme
        raise ImageLoadError(f"Only http and https URLs are allowed, not {scheme}: ({text}).")
    path = Path(text).expanduser()
    if not path.is_file():
        raise ImageLoadError(f"No image file at {path}.")
    if path.stat().st_size > max_bytes:
        raise ImageLoadError(f"{path} is over the {max_bytes / 1e6:.0f} MB limit.")
    return decode_image(path.read_bytes(), name=str(path))


def sample_images() -> dict[str, np.ndarray]:
    """Bundled photos (inside scikit-image's wheel): a person and a cat."""
    from skimage import data

    return {"astronaut": data.astronaut(), "cat (chelsea)": data.chelsea()}


# ---------------------------------------------------------------- segmentation of one image


def segment_and_plot(model, image: np.ndarray, spec: DatasetSpec, title: str | None = None):
    """Predict one image and draw the seed's layout (input, overlay, per-class maps)."""
    probabilities = predict(model, image)
    return plot_segmentation(image, probabilities, spec.class_names, spec.palette, spec.background_index,
                             title=title)


def show_url(model, url: str, spec: DatasetSpec):
    """Segment the image at a URL or path; print a readable message instead of a traceback on failure."""
    try:
        image = load_image(url)
    except ImageLoadError as err:
        print(f"Could not use this image: {err}")
        return None
    return segment_and_plot(model, image, spec)


# ---------------------------------------------------------------- webcam


def in_colab() -> bool:
    """Whether this runs inside Google Colab."""
    return "google.colab" in sys.modules


def headless() -> bool:
    """Whether no camera or browser should be used (CI, or WORKSHOP_HEADLESS=1)."""
    return bool(os.environ.get("CI")) or os.environ.get("WORKSHOP_HEADLESS") == "1"


_COLAB_CAPTURE_JS = """
async function takePhoto(quality) {
  const div = document.createElement('div');
  const button = document.createElement('button');
  button.textContent = 'Capture';
  div.appendChild(button);
  const video = document.createElement('video');
  video.style.display = 'block';
  const stream = await navigator.mediaDevices.getUserMedia({video: true});
  document.body.appendChild(div);
  div.appendChild(video);
  video.srcObject = stream;
  await video.play();
  google.colab.output.setIframeHeight(document.documentElement.scrollHeight, true);
  await new Promise((resolve) => button.onclick = resolve);
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0);
  stream.getVideoTracks()[0].stop();
  div.remove();
  return canvas.toDataURL('image/jpeg', quality);
}
"""


def capture_colab_photo(quality: float = 0.8) -> np.ndarray:
    """Ask the browser for one webcam photo in Colab (JavaScript capture) and return it as RGB."""
    from google.colab.output import eval_js
    from IPython.display import Javascript, display

    display(Javascript(_COLAB_CAPTURE_JS))
    data_url = eval_js(f"takePhoto({quality})")
    return decode_image(base64.b64decode(data_url.split(",", 1)[1]), name="the webcam photo")


def open_camera(index: int = 0):
    """An opened cv2.VideoCapture, or None when there is no camera."""
    if headless():
        return None
    capture = cv2.VideoCapture(index)
    if capture.isOpened():
        return capture
    capture.release()
    return None


def webcam_images() -> dict[str, np.ndarray]:
    """One webcam photo (Colab or a local camera), else the bundled sample photos with a one-line message."""
    if in_colab() and not headless():
        return {"webcam (Colab)": capture_colab_photo()}
    camera = open_camera()
    if camera is not None:
        ok, frame = camera.read()
        camera.release()
        if ok:
            return {"webcam": cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)}
    print("No webcam available here (headless or no camera): using the bundled sample photos instead.")
    return sample_images()


def _png_bytes(image: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return encoded.tobytes()


def _jpeg_bytes(image: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
    return encoded.tobytes()


class LiveSegmentation:
    """Capture → predict → overlay loop shown in an ipywidgets.Image, with Start/Stop buttons and FPS."""

    def __init__(self, model, spec: DatasetSpec, capture=None, size: int = 192, alpha: float = 0.5,
                 display_width: int = 480):
        import ipywidgets as widgets

        self.model, self.spec, self.size, self.alpha = model, spec, size, alpha
        self.display_width = display_width
        self.capture = capture
        self.image = widgets.Image(format="jpeg", width=480)
        self.fps_label = widgets.Label("stopped")
        self.start_button = widgets.Button(description="Start", icon="play")
        self.stop_button = widgets.Button(description="Stop", icon="stop")
        self.start_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self.widget = widgets.VBox([widgets.HBox([self.start_button, self.stop_button, self.fps_label]), self.image])
        self.frames, self.fps = 0, 0.0
        self._stop = threading.Event()
        self._thread = None

    def step(self) -> bool:
        """Process one frame; False when the source has no more frames."""
        ok, frame = self.capture.read()
        if not ok:
            return False
        height, width = frame.shape[:2]
        if width > self.display_width:  # overlay and encode only the pixels the widget shows
            frame = cv2.resize(frame, (self.display_width, round(height * self.display_width / width)),
                               interpolation=cv2.INTER_AREA)
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        labels = predict_labels(self.model, rgb, size=self.size, tta=False)
        shown = overlay(rgb, labels, self.spec.palette, self.alpha, self.spec.background_index)
        self.image.value = _jpeg_bytes(shown)
        self.frames += 1
        return True

    def run(self, max_frames: int | None = None) -> float:
        """Run the loop in this thread until stopped, out of frames or max_frames; return frames per second."""
        if self.capture is None:
            self.capture = open_camera()
            if self.capture is None:
                raise RuntimeError("No camera found: use webcam_images() for the sample photos instead.")
        self._stop.clear()
        start, done = time.perf_counter(), 0
        while not self._stop.is_set() and (max_frames is None or done < max_frames):
            if not self.step():
                break
            done += 1
            self.fps = done / (time.perf_counter() - start)
            self.fps_label.value = f"{self.fps:.1f} FPS"
        return self.fps

    def start(self) -> None:
        """Run the loop in a background thread so the notebook stays responsive."""
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self.run, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the loop and release the camera."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.fps_label.value = f"stopped ({self.fps:.1f} FPS)"


# ---------------------------------------------------------------- interactive viewer


class SegmentationViewer:
    """Pick an image, toggle classes, set the overlay opacity and read per-class probabilities."""

    def __init__(self, model, spec: DatasetSpec, images: dict[str, np.ndarray]):
        import ipywidgets as widgets

        if not images:
            raise ValueError("The viewer needs at least one image.")
        self.model, self.spec, self.images = model, spec, dict(images)
        self._probabilities = {}
        self.picker = widgets.Dropdown(options=list(self.images), description="image")
        self.classes = widgets.SelectMultiple(options=list(spec.class_names), value=list(spec.class_names),
                                              description="classes", rows=min(len(spec.class_names), 8))
        self.opacity = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="opacity")
        self.url = widgets.Text(placeholder="https://… image URL, Enter to add", description="URL")
        self.message = widgets.Label()
        self.picture = widgets.Image(format="png", width=448)
        self.table = widgets.HTML()
        for control in (self.picker, self.classes, self.opacity):
            control.observe(lambda _: self.render(), names="value")
        self.url.continuous_update = False
        self.url.observe(lambda change: self.add_url(change["new"]), names="value")
        self.widget = widgets.HBox([widgets.VBox([self.picker, self.classes, self.opacity, self.url, self.message]),
                                    self.picture, self.table])
        self.render()

    def add_image(self, name: str, image: np.ndarray) -> None:
        """Add an image to the picker and show it."""
        self.images[name] = image
        self.picker.options = list(self.images)
        self.picker.value = name

    def add_url(self, url: str) -> None:
        """Load a URL into the viewer, or show why it failed."""
        if not url.strip():
            return
        try:
            self.add_image(url, load_image(url))
            self.message.value = ""
        except ImageLoadError as err:
            self.message.value = str(err)

    def probabilities(self, name: str) -> np.ndarray:
        if name not in self._probabilities:
            self._probabilities[name] = predict(self.model, self.images[name])
        return self._probabilities[name]

    def render(self) -> None:
        """Redraw the overlay and the probability table from the widgets' values."""
        name = self.picker.value
        image, probabilities = self.images[name], self.probabilities(name)
        visible = [self.spec.class_names.index(c) for c in self.classes.value]
        shown = overlay(image, probabilities.argmax(-1), self.spec.palette, self.opacity.value,
                        self.spec.background_index, visible=visible)
        self.picture.value = _png_bytes(shown)
        means = probabilities.reshape(-1, probabilities.shape[-1]).mean(0)
        rows = "".join(f"<tr><td>{c}</td><td>{m:.3f}</td></tr>" for c, m in zip(self.spec.class_names, means))
        self.table.value = f"<table><tr><th>class</th><th>mean p</th></tr>{rows}</table>"
