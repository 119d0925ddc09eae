"""Webcam sources for the demos: a local camera, a video file instead, Colab's camera."""

from __future__ import annotations

import base64
import os
import sys
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from .images import decode_image, sample_images

CAMERA_VARIABLE = "WORKSHOP_CAMERA"  # a camera index, or a video file played in a loop instead
# OpenCV 5 moved the log level from cv2 to cv2.utils.logging.
OPENCV_LOG = getattr(cv2.utils, "logging", cv2)


def in_colab() -> bool:
    """Whether this runs inside Google Colab."""
    return "google.colab" in sys.modules


def headless() -> bool:
    """Whether no camera or browser should be used (CI, or WORKSHOP_HEADLESS=1)."""
    return bool(os.environ.get("CI")) or os.environ.get("WORKSHOP_HEADLESS") == "1"


@contextmanager
def quiet_opencv():
    """Silence OpenCV's own log while probing cameras; our callers say in one line what failed."""
    previous = OPENCV_LOG.getLogLevel()
    OPENCV_LOG.setLogLevel(0)  # LOG_LEVEL_SILENT in OpenCV 4 and 5
    try:
        yield
    finally:
        OPENCV_LOG.setLogLevel(previous)


class LoopingVideo:
    """A video file read like a camera: it starts again from the first frame when it ends."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        with quiet_opencv():
            self.capture = cv2.VideoCapture(self.path)

    def isOpened(self) -> bool:  # noqa: N802 (cv2.VideoCapture's name)
        return self.capture.isOpened()

    def read(self):
        ok, frame = self.capture.read()
        if not ok:
            self.capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self.capture.read()
        return ok, frame

    def release(self) -> None:
        self.capture.release()


class SyntheticCamera:
    """A stand-in camera that yields the same random 640×480 frame a fixed number of times."""

    def __init__(self, frames: int):
        self.left = frames
        self.frame = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)

    def read(self):
        self.left -= 1
        return self.left >= 0, self.frame

    def release(self) -> None:
        self.left = 0


def open_camera(index: int | str | None = None):
    """An opened camera (cv2.VideoCapture), a video file played in a loop, or None.

    `index` is a camera number or a video file; without it, WORKSHOP_CAMERA, then camera 0.
    """
    if isinstance(index, str) and not index.strip().isdigit():
        source, index = index.strip(), None
    else:
        source = os.environ.get(CAMERA_VARIABLE, "").strip() if index is None else ""
        index = int(index) if isinstance(index, str) else index
    if index is None and source and not source.isdigit():
        video = LoopingVideo(source)  # a file is no camera: allowed when headless too
        if video.isOpened():
            return video
        video.release()
        print(f"{Path(source).name} is not a video file OpenCV can read.")
        return None
    if headless():
        return None
    with quiet_opencv():
        capture = cv2.VideoCapture(int(source) if index is None and source else (index or 0))
    if capture.isOpened():
        return capture
    capture.release()
    return None


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


def webcam_images() -> dict[str, np.ndarray]:
    """One webcam photo (Colab or a local camera), else the bundled sample photos and a message."""
    if in_colab() and not headless():
        return {"webcam (Colab)": capture_colab_photo()}
    camera = open_camera()
    if camera is not None:
        ok, frame = camera.read()
        camera.release()
        if ok:
            return {"webcam": cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)}
    print("No webcam here: the bundled sample photos stand in.")
    return sample_images()
