import cv2
import numpy as np
import pytest

from workshop_helpers.demos.camera import (
    LoopingVideo,
    SyntheticCamera,
    open_camera,
    quiet_opencv,
    webcam_images,
)
from workshop_helpers.demos.images import sample_images


def write_clip(path, frames=4, size=(160, 120)):
    """A small MJPG clip whose frame k is grey level 40 k."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, size)
    for value in range(frames):
        writer.write(np.full((size[1], size[0], 3), value * 40, np.uint8))
    writer.release()
    return path


def test_headless_webcam_falls_back_to_the_bundled_photos(capsys, monkeypatch):
    monkeypatch.delenv("WORKSHOP_CAMERA", raising=False)
    images = webcam_images()
    assert set(images) == set(sample_images())
    assert "bundled sample photos" in capsys.readouterr().out


def test_a_video_file_stands_in_for_the_camera_and_loops(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKSHOP_CAMERA", str(write_clip(tmp_path / "clip.avi", frames=3)))
    camera = open_camera()  # headless in tests: a file is still allowed, it is no camera
    assert isinstance(camera, LoopingVideo)
    levels = [int(camera.read()[1].mean().round()) for _ in range(5)]
    camera.release()
    assert levels[:3] == pytest.approx([0, 40, 80], abs=3) and levels[3] == pytest.approx(0, abs=3)


def test_an_unreadable_camera_file_says_so(tmp_path, monkeypatch, capsys):
    (tmp_path / "notes.txt").write_text("not a video")
    monkeypatch.setenv("WORKSHOP_CAMERA", str(tmp_path / "notes.txt"))
    assert open_camera() is None
    assert "not a video file" in capsys.readouterr().out


def test_missing_camera_is_none_without_opencv_warnings(monkeypatch, capfd):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("WORKSHOP_HEADLESS", "0")
    monkeypatch.setenv("WORKSHOP_CAMERA", "57")  # no machine has 58 cameras
    assert open_camera() is None
    assert capfd.readouterr().err == ""


def test_quiet_opencv_restores_the_log_level():
    log = getattr(cv2.utils, "logging", cv2)  # OpenCV 5, or 4
    before = log.getLogLevel()
    with quiet_opencv():
        assert log.getLogLevel() == 0  # silent
    assert log.getLogLevel() == before


def test_synthetic_camera_runs_out():
    camera = SyntheticCamera(2)
    assert [camera.read()[0] for _ in range(3)] == [True, True, False]
