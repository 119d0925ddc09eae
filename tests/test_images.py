import io
import time

import numpy as np
import pytest
from PIL import Image

from workshop_helpers.demos.images import ImageLoadError, decode_image, load_image, sample_images

from .local_server import send_bytes, serve


def _encoded(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def jpeg():
    return _encoded(Image.fromarray(np.full((30, 40, 3), (200, 30, 30), np.uint8)), "JPEG")


def test_decode_variants_all_become_rgb_uint8():
    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[..., 0] = 255
    variants = {
        "grey": Image.fromarray(np.full((6, 8), 128, np.uint8), "L"),
        "rgba": Image.fromarray(np.dstack([rgb, np.full((6, 8), 255, np.uint8)]), "RGBA"),
        "palette": Image.fromarray(rgb).convert("P"),
        "cmyk": Image.fromarray(rgb).convert("CMYK"),
        "16-bit": Image.fromarray(np.full((6, 8), 65535, np.uint16)),
        "1x1": Image.fromarray(np.zeros((1, 1, 3), np.uint8)),
    }
    for name, image in variants.items():
        fmt = "JPEG" if image.mode == "CMYK" else "PNG"
        decoded = decode_image(_encoded(image, fmt), name=name)
        assert decoded.dtype == np.uint8 and decoded.ndim == 3 and decoded.shape[2] == 3, name
        assert decoded.shape[:2] == (image.height, image.width), name
    assert decode_image(_encoded(variants["16-bit"], "PNG"))[0, 0, 0] == 255  # scaled, not clipped
    cmyk = decode_image(_encoded(variants["cmyk"], "JPEG"))
    assert tuple(cmyk[0, 0]) == pytest.approx((255, 0, 0), abs=3)


def test_transparent_pixels_become_white():
    rgba = np.zeros((4, 4, 4), np.uint8)
    assert (decode_image(_encoded(Image.fromarray(rgba, "RGBA"), "PNG")) == 255).all()


def test_exif_orientation_is_applied():
    image = Image.fromarray(np.zeros((10, 20, 3), np.uint8))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    assert decode_image(_encoded(image, "JPEG", exif=exif)).shape == (20, 10, 3)


def test_animated_gif_gives_its_first_frame():
    frames = [
        Image.fromarray(np.full((5, 5, 3), value, np.uint8)).convert("P") for value in (0, 255)
    ]
    data = _encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert decode_image(data).max() == 0


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"<html><body>hello</body></html>", "not an image"),
    ],
)
def test_empty_and_non_images_are_refused(data, message):
    with pytest.raises(ImageLoadError, match=message):
        decode_image(data)


def test_truncated_jpeg_is_refused(jpeg):
    with pytest.raises(ImageLoadError, match="damaged or truncated"):
        decode_image(jpeg[: len(jpeg) // 2])


def test_decompression_bomb_is_an_error_not_a_memory_error():
    for side in (12000, 20000):  # 144 megapixels: Pillow warns; 400: Pillow refuses
        bomb = _encoded(Image.new("1", (side, side)), "PNG")
        assert len(bomb) < 200_000
        with pytest.raises(ImageLoadError, match="too large"):
            decode_image(bomb)
        with pytest.raises(ImageLoadError, match="too large"):
            decode_image(bomb, max_pixels=10**12)  # Pillow's own guard, not only ours


def test_errors_are_value_errors():
    assert issubclass(ImageLoadError, ValueError)


def test_paths_bytes_and_refused_schemes(tmp_path, jpeg):
    path = tmp_path / "photo.jpg"
    path.write_bytes(jpeg)
    assert load_image(path).shape == (30, 40, 3)
    assert load_image(str(path)).shape == (30, 40, 3)
    assert load_image(jpeg).shape == (30, 40, 3)
    for url in (f"file://{path}", "ftp://example.org/a.jpg", "data:image/png;base64,AAAA"):
        with pytest.raises(ImageLoadError, match="Only http and https"):
            load_image(url)
    with pytest.raises(ImageLoadError, match="No image file"):
        load_image(tmp_path / "missing.jpg")
    with pytest.raises(ImageLoadError):
        load_image(42)
    with pytest.raises(ImageLoadError, match="too long"):
        load_image(tmp_path / ("long-name-" * 40 + ".jpg"))


def _slow(handler):
    time.sleep(3)
    send_bytes(handler, b"late")


def _endless(handler):
    handler.send_response(200)
    handler.send_header("Content-Type", "image/jpeg")
    handler.end_headers()
    chunk = b"\0" * 65536
    for _ in range(1000):  # bounded: 64 MB at most, the client stops far sooner
        handler.wfile.write(chunk)


def _redirect_loop(handler):
    handler.send_response(302)
    handler.send_header("Location", "/loop")
    handler.end_headers()


def _redirect_to_file(handler):
    handler.send_response(302)
    handler.send_header("Location", "file:///etc/passwd")
    handler.end_headers()


def test_http_outcomes(jpeg):
    routes = {
        "/good.jpg": lambda h: send_bytes(h, jpeg, "image/jpeg"),
        "/mislabelled": lambda h: send_bytes(h, jpeg, "text/plain"),
        "/page.html": lambda h: send_bytes(h, b"<html>not a picture</html>", "text/html"),
        "/truncated.jpg": lambda h: send_bytes(h, jpeg[: len(jpeg) // 2], "image/jpeg"),
        "/huge": lambda h: send_bytes(h, b"\0" * 3_000_000, "image/jpeg"),
        "/endless": _endless,
        "/slow": _slow,
        "/loop": _redirect_loop,
        "/to-file": _redirect_to_file,
    }
    with serve(routes) as (base, _):
        assert load_image(f"{base}/good.jpg").shape == (30, 40, 3)
        assert load_image(f"{base}/mislabelled").shape == (30, 40, 3)
        limit = {"max_bytes": 1_000_000}
        expectations = [
            ("/missing.jpg", {}, "HTTP 404"),
            ("/page.html", {}, "not an image"),
            ("/truncated.jpg", {}, "truncated"),
            ("/huge", limit, "MB limit"),
            ("/endless", limit, "MB limit"),
            ("/slow", {"timeout": 0.5}, "timed out"),
            ("/loop", {}, "redirected more than 3"),
            ("/to-file", {}, "scheme"),
        ]
        for path, options, message in expectations:
            start = time.monotonic()
            with pytest.raises(ImageLoadError, match=message):
                load_image(f"{base}{path}", **options)
            assert time.monotonic() - start < 5, path


def test_sample_photos_are_rgb_uint8():
    for image in sample_images().values():
        assert image.dtype == np.uint8 and image.shape[2] == 3
