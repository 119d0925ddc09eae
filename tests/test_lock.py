"""requirements/lock.txt: exact versions, within pyproject.toml's ranges, installed by default."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "lock.txt"


def _pins():
    """(name, version, marker or None) of each line of the lock."""
    pins = []
    for line in LOCK.read_text().splitlines():
        if not line or line.startswith((" ", "#")):
            continue
        requirement = Requirement(line)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", line
        pins.append((canonicalize_name(requirement.name), specifier.version, requirement.marker))
    return pins


def _pinned(name, python):
    """The version the lock installs on Linux with this Python (None: not installed there)."""
    where = {"python_version": python, "python_full_version": f"{python}.0"}
    where.update(sys_platform="linux", platform_system="Linux", os_name="posix")
    versions = [
        v for n, v, marker in _pins() if n == name and (not marker or marker.evaluate(where))
    ]
    assert len(versions) <= 1, (name, versions)
    return versions[0] if versions else None


def test_every_line_is_one_exact_version():
    pins = _pins()
    assert len(pins) > 100
    lines = [(name, str(marker)) for name, _, marker in pins]
    assert len(lines) == len(set(lines))


def test_every_declared_requirement_is_pinned_within_its_range():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *sum(project["optional-dependencies"].values(), [])]
    for python in ("3.10", "3.11", "3.13"):
        where = {"python_version": python, "python_full_version": f"{python}.0"}
        for text in declared:
            requirement = Requirement(text)
            if requirement.marker and not requirement.marker.evaluate(where):
                continue
            version = _pinned(canonicalize_name(requirement.name), python)
            assert version is not None, f"{text} is not in the lock for Python {python}"
            assert requirement.specifier.contains(version, prereleases=True), (text, version)


def test_the_lock_has_the_versions_the_readme_measured_with():
    readme = " ".join((ROOT / "README.md").read_text().split())  # lines wrap anywhere
    named = [("3.11", "tensorflow", "TensorFlow"), ("3.11", "keras", "Keras")]
    named += [("3.11", "numpy", "NumPy"), ("3.10", "keras", "Keras"), ("3.10", "numpy", "NumPy")]
    for python, name, label in named:
        version = _pinned(name, python)
        assert f"{label} {version}" in readme, f"README.md should name {label} {version}"
    assert Version(_pinned("tensorflow", "3.11")).release[:2] == (2, 21)


def test_the_header_says_how_to_refresh_it():
    header = "".join(line for line in LOCK.read_text().splitlines() if line.startswith("#"))
    assert "make lock" in header and "UPGRADE=1" in header


def test_setuptools_is_left_to_the_environment():
    assert "setuptools" not in {name for name, _, _ in _pins()}


def test_environment_yml_installs_the_lock_then_the_package():
    lines = (ROOT / "environment.yml").read_text().split("- pip:", 1)[1].split()
    assert lines == ["-", "-r", "requirements/lock.txt", "-", "-e", "."]
    assert re.search(r"^  - python=3\.11$", (ROOT / "environment.yml").read_text(), re.M)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_installs_the_lock_then_the_package_without_its_dependencies(tmp_path):
    def dry(*options):
        return subprocess.run(
            ["make", "-n", "setup", f"VENV={tmp_path / 'venv'}", *options],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    locked = dry()
    assert locked.index("-r requirements/lock.txt") < locked.index("--no-deps -e .")
    assert '-e ".[' not in locked
    assert '-e ".[dev,export]"' in dry("LOCK=") and "lock.txt" not in dry("LOCK=")
