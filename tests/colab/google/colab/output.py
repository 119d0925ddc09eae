"""A stand-in for google.colab.output: no browser, so the webcam is a photo of the dataset.

eval_js answers every script with a JPEG data URL of one prepared VOC photo, encoded now as the
browser's canvas would; register_callback keeps the callbacks so a test can call them.
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
PHOTO_VARIABLE = "COLAB_STANDIN_PHOTO"  # a photo file; else the first validation photo of VOC

callbacks: dict = {}  # name -> function, as register_callback got them
evaluated: list[str] = []  # the scripts eval_js was asked to run


def photo_path() -> Path:
    """The photo the webcam shows: $COLAB_STANDIN_PHOTO, else VOC's first validation photo."""
    if os.environ.get(PHOTO_VARIABLE):
        return Path(os.environ[PHOTO_VARIABLE])
    voc = Path(os.environ.get("WORKSHOP_DATA_DIR") or ROOT / "data") / "voc"
    ids = (voc / "val.txt").read_text().split() if (voc / "val.txt").is_file() else []
    photos = [voc / "images" / f"{name}.jpg" for name in ids]
    photos = [path for path in photos if path.is_file()]
    if not photos:
        raise FileNotFoundError(f"No prepared VOC photo in {voc}: run `make ready` first.")
    return photos[0]


def photo_data_url(quality: int = 80) -> str:
    """The photo as a JPEG data URL, the form canvas.toDataURL('image/jpeg') returns."""
    from PIL import Image

    with Image.open(photo_path()) as image:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def eval_js(script, ignore_result=False, timeout_sec=None):
    """Record the script; answer with the photo (the workshop only asks for webcam photos)."""
    evaluated.append(str(script))
    return None if ignore_result else photo_data_url()


def register_callback(function_name, callback):
    """Keep the callback under its name, as Colab does for google.colab.kernel.invokeFunction."""
    callbacks[function_name] = callback
