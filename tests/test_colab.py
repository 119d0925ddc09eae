"""Colab as it is: its recorded versions, the set-up cell, the stand-in google.colab (seconds).

`make test-colab` runs these on Colab's versions too (ipywidgets 7.7.1), before the notebooks.
"""

import base64
import importlib.util
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from workshop_helpers import VOC
from workshop_helpers.demos.images import decode_image
from workshop_helpers.session import REPOSITORY, setup_cell

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
COLAB = ROOT / "requirements" / "colab.txt"
STAND_IN = ROOT / "tests" / "colab" / "google" / "colab"
COLAB_PYTHON = {"python_version": "3.13", "python_full_version": "3.13.15"}
COLAB_PYTHON.update(sys_platform="linux", platform_system="Linux", os_name="posix")


def colab_versions() -> dict[str, str]:
    versions = {}
    for line in COLAB.read_text().splitlines():
        if line and not line.startswith("#"):
            requirement = Requirement(line)
            (specifier,) = requirement.specifier
            assert specifier.operator == "==", line
            versions[canonicalize_name(requirement.name)] = specifier.version
    return versions


def stand_in():
    """google.colab and google.colab.output of tests/colab, loaded under their own names."""
    spec = importlib.util.spec_from_file_location("colab_output_stand_in", STAND_IN / "output.py")
    output = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(output)
    package = types.ModuleType("google.colab")
    package.output = output
    return package, output


@pytest.fixture
def in_colab(monkeypatch):
    """google.colab importable (the stand-in) and the demos not headless, as in Colab."""
    package, output = stand_in()
    monkeypatch.setitem(sys.modules, "google.colab", package)
    monkeypatch.setitem(sys.modules, "google.colab.output", output)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("WORKSHOP_HEADLESS", "0")
    try:
        output.photo_path()
    except FileNotFoundError as err:
        pytest.skip(str(err))
    return output


def test_colabs_versions_are_dated_exact_and_those_the_issue_names():
    header = " ".join(line for line in COLAB.read_text().splitlines() if line.startswith("#"))
    assert "googlecolab/backend-info" in header and "pip-freeze.txt" in header
    assert "2026-08-19" in header and "Python 3.13" in header
    versions = colab_versions()
    expected = {"ipywidgets": "7.7.1", "widgetsnbextension": "3.6.10", "notebook": "6.5.7"}
    expected.update(tensorflow="2.20.0", keras="3.13.2", pip="24.1.2")
    assert {name: versions.get(name) for name in expected} == expected
    assert Version(versions["numpy"]).major == 2


def test_pyproject_admits_every_version_colab_ships_so_its_install_upgrades_nothing():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    versions = colab_versions()
    for text in project["dependencies"]:
        requirement = Requirement(text)
        if requirement.marker and not requirement.marker.evaluate(COLAB_PYTHON):
            continue
        version = versions.get(canonicalize_name(requirement.name))
        assert version is not None, f"{text}: not in requirements/colab.txt"
        assert requirement.specifier.contains(version, prereleases=True), (text, version)
    assert SpecifierSet(project["requires-python"]).contains(COLAB_PYTHON["python_full_version"])


def _branch(cell: str) -> str:
    """The Colab branch of the set-up cell, without the import of the workshop after it."""
    return cell.split("from workshop_helpers import start")[0]


def test_the_setup_cell_clones_github_unless_told_another_repository(monkeypatch):
    commands = []
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(subprocess, "run", lambda command, **_: commands.append(command))
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delenv("WORKSHOP_REPOSITORY", raising=False)
    exec(_branch(setup_cell()), {})
    monkeypatch.setenv("WORKSHOP_REPOSITORY", "/somewhere/else")
    exec(_branch(setup_cell()), {})
    assert f" https://github.com/{REPOSITORY} workshop " in commands[0]
    assert " /somewhere/else workshop " in commands[1]
    assert all(command.endswith("pip install -q -e workshop") for command in commands)
    assert sys.path[:2] == ["workshop", "workshop"]


def test_the_setup_cell_speaks_to_students_only_and_fits_colabs_lines():
    cell = setup_cell('preset="cpu"')
    said = " ".join(line for line in cell.splitlines() if line.lstrip().startswith("#"))
    for word in ("CI", "test", "mirror", "environment", "variable"):
        assert not re.search(rf"\b{word}", said, re.I), word
    assert max(len(line) for line in cell.splitlines()) <= 100


@pytest.mark.skipif(sys.platform == "win32", reason="Colab's shell is a POSIX one")
def test_running_the_setup_cell_again_installs_again_without_cloning_again(tmp_path):
    command = next(
        re.search(r'f"(.*)"', line).group(1)
        for line in setup_cell().splitlines()
        if "git clone" in line
    ).replace("{url}", "file:///repository")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool, extra in (("git", 'for last; do :; done; mkdir -p "$last"\n'), ("pip", "")):
        (bin_dir / tool).write_text(f'#!/bin/sh\necho {tool} "$@" >> ../calls\n{extra}')
        (bin_dir / tool).chmod(0o755)
    (tmp_path / "content").mkdir()
    environment = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    for _ in range(2):
        subprocess.run(command, shell=True, check=True, cwd=tmp_path / "content", env=environment)
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls == [
        "git clone -q --depth 1 file:///repository workshop",
        "pip install -q -e workshop",
        "pip install -q -e workshop",
    ]


def test_the_stand_ins_eval_js_answers_with_a_jpeg_of_a_real_photo(in_colab):
    url = in_colab.eval_js("takePhoto(0.8)")
    assert url.startswith("data:image/jpeg;base64,")
    jpeg = base64.b64decode(url.split(",", 1)[1])
    assert jpeg[:3] == b"\xff\xd8\xff"
    photo = decode_image(jpeg, name="the stand-in's photo")
    assert photo.ndim == 3 and photo.shape[2] == 3 and photo.std() > 10  # a photo, not a blank
    assert in_colab.evaluated == ["takePhoto(0.8)"]
    in_colab.register_callback("a.name", len)
    assert in_colab.callbacks == {"a.name": len}


def test_the_webcam_and_the_live_loop_take_their_colab_branches(in_colab, scratch_model, capsys):
    from workshop_helpers.demos import colab_live_segmentation, webcam_images
    from workshop_helpers.demos.viewer import COLAB_CALLBACK

    photos = webcam_images()
    assert list(photos) == ["webcam (Colab)"] and photos["webcam (Colab)"].dtype == np.uint8
    assert in_colab.evaluated[0].startswith("takePhoto(")
    colab_live_segmentation(scratch_model, VOC, size=64)
    reply = in_colab.callbacks[COLAB_CALLBACK](in_colab.photo_data_url())
    overlay = decode_image(base64.b64decode(reply.data["image"].split(",", 1)[1]), name="overlay")
    assert overlay.shape == photos["webcam (Colab)"].shape


def test_the_viewer_and_the_live_loop_build_on_the_installed_ipywidgets(scratch_model):
    import ipywidgets

    from workshop_helpers.demos import LiveSegmentation, SegmentationViewer

    image = np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    viewer = SegmentationViewer(scratch_model, VOC, {"photo": image})
    viewer.toggles[VOC.class_names[1]].value = False
    viewer.opacity.value = 0.3
    assert viewer.picture.value[:4] == b"\x89PNG", ipywidgets.__version__
    assert str(viewer.picture.width) == "448" and "line-through" in viewer.legend.value
    live = LiveSegmentation(scratch_model, VOC, size=64)
    assert live.fps_label.value == "stopped" and live.image.format == "jpeg"
