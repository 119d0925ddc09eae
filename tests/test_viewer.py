import threading

import cv2
import numpy as np

from workshop_helpers import VOC, DatasetSpec
from workshop_helpers.demos.camera import SyntheticCamera
from workshop_helpers.demos.viewer import (
    LiveSegmentation,
    SegmentationViewer,
    legend_html,
    show_url,
)

from .test_camera import write_clip


def test_show_url_prints_the_error_instead_of_raising(scratch_model, capsys, tmp_path):
    assert show_url(scratch_model, str(tmp_path / "nothing.png"), VOC) is None
    assert "Could not use this image: No image file" in capsys.readouterr().out


def test_live_loop_on_a_video_file(scratch_model, tmp_path):
    path = str(write_clip(tmp_path / "clip.avi", frames=6))
    live = LiveSegmentation(scratch_model, VOC, capture=cv2.VideoCapture(path), size=128)
    fps = live.run(max_frames=4)
    assert live.frames == 4 and fps > 0 and "FPS" in live.fps_label.value
    decoded = cv2.imdecode(np.frombuffer(live.image.value, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (120, 160, 3)
    live.run()  # until the clip ends
    assert live.frames == 6


class CountingCamera(SyntheticCamera):
    """A synthetic camera that records release() and lets the test pace its frames."""

    def __init__(self, frames: int):
        super().__init__(frames)
        self.released = 0
        self.reading = threading.Event()

    def read(self):
        self.reading.set()
        return super().read()

    def release(self):
        self.released += 1
        super().release()


def test_stop_releases_a_handed_in_camera_and_start_reopens_one(scratch_model):
    handed_in, reopened, opened = CountingCamera(10_000), [], threading.Event()

    def reopen():
        reopened.append(CountingCamera(10_000))
        opened.set()
        return reopened[-1]

    live = LiveSegmentation(scratch_model, VOC, capture=handed_in, size=64, open_capture=reopen)
    live.start()
    assert handed_in.reading.wait(30)
    live.stop()
    assert handed_in.released == 1 and live.capture is None and "stopped" in live.fps_label.value
    live.start()
    assert opened.wait(30) and reopened[0].reading.wait(30)
    live.stop()
    assert reopened[0].released == 1 and len(reopened) == 1


def test_stop_before_start_still_releases(scratch_model):
    camera = CountingCamera(1)
    LiveSegmentation(scratch_model, VOC, capture=camera).stop()
    assert camera.released == 1


def _viewer(model):
    # No background class: every pixel is blended, so the picture depends on the widgets whatever
    # the prediction.
    spec = DatasetSpec("six", VOC.class_names, VOC.palette)
    return SegmentationViewer(
        model,
        spec,
        {"a": np.zeros((64, 64, 3), np.uint8), "b": np.full((300, 451, 3), 200, np.uint8)},
    )


def test_viewer_reacts_to_picker_opacity_and_class_toggles(scratch_model):
    viewer = _viewer(scratch_model)
    first = viewer.picture.value
    viewer.picker.value = "b"
    assert viewer.picture.value != first
    shown = viewer.picture.value
    viewer.opacity.value = 0.8
    assert viewer.picture.value != shown
    for toggle in viewer.toggles.values():  # a plain click on each hides only that class
        toggle.value = False
    assert viewer.visible == []
    plain = cv2.imdecode(np.frombuffer(viewer.picture.value, np.uint8), cv2.IMREAD_COLOR)
    assert (plain == 200).all()  # no class visible: the photo itself
    viewer.toggles["person"].value = True
    assert viewer.visible == [5] and viewer.toggles["person"].icon == "check"
    assert viewer.toggles["cat"].button_style == "" and viewer.toggles["person"].button_style


def test_viewer_starts_with_every_class_shown_and_keeps_the_aspect_ratio(scratch_model):
    viewer = _viewer(scratch_model)
    assert all(t.value and t.icon == "check" for t in viewer.toggles.values())
    viewer.picker.value = "b"
    # 451×300 shown at 448 wide keeps its shape (it was stretched to 448×414).
    assert (viewer.picture.width, viewer.picture.height) == ("448", "298")
    # Height auto: the browser keeps that shape when a narrow output shrinks the picture.
    assert (viewer.picture.layout.width, viewer.picture.layout.height) == ("448px", "auto")
    assert "person" in viewer.legend.value and "mean p" in viewer.legend.value


def test_bad_url_message_wraps_under_the_picture_and_goes_with_next_pick(scratch_model, tmp_path):
    viewer = _viewer(scratch_model)
    viewer.url.value = str(tmp_path / ("a-very-long-name-" * 20 + ".jpg"))
    assert "Could not use this image" in viewer.message.value
    assert "overflow-wrap" in viewer.message.value
    assert viewer.message.layout.width == viewer.picture.layout.width
    viewer.picker.value = "b"
    assert viewer.message.value == ""


def test_a_url_that_loads_is_added_and_shown(scratch_model, tmp_path):
    viewer = _viewer(scratch_model)
    path = tmp_path / "ok.png"
    cv2.imwrite(str(path), np.full((20, 30, 3), 90, np.uint8))
    viewer.url.value = str(path)
    assert viewer.picker.value == str(path) and viewer.message.value == ""


def test_legend_greys_out_hidden_classes_and_marks_background():
    text = legend_html(VOC, means=np.full(6, 1 / 6), visible=[1, 2])
    assert text.count("line-through") == 4 and "background (uncoloured)" in text


def test_colab_live_loop_registers_a_callback_that_returns_the_overlay(scratch_model, monkeypatch):
    import base64
    import sys
    import types

    import IPython.display

    from workshop_helpers.demos.viewer import COLAB_CALLBACK, colab_live_segmentation

    callbacks, shown = {}, []
    colab = types.ModuleType("google.colab")
    colab.output = types.SimpleNamespace(register_callback=callbacks.__setitem__)
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setattr(IPython.display, "display", shown.append)
    colab_live_segmentation(scratch_model, VOC, width=160)
    assert COLAB_CALLBACK in shown[0].data and "getUserMedia" in shown[0].data
    frame = cv2.imencode(".jpg", np.full((90, 160, 3), 120, np.uint8))[1].tobytes()
    reply = callbacks[COLAB_CALLBACK]("data:image/jpeg;base64," + base64.b64encode(frame).decode())
    image = reply.data["image"]
    assert image.startswith("data:image/jpeg;base64,")
    decoded = cv2.imdecode(
        np.frombuffer(base64.b64decode(image.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR
    )
    assert decoded.shape == (90, 160, 3)
