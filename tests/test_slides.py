"""Every notebook is also a slide deck; `make slides` builds decks that need no network."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
HEADING = re.compile(r"^#{1,2} \S", re.M)


def slide_type(cell) -> str | None:
    return cell.metadata.get("slideshow", {}).get("slide_type")


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_every_notebook_has_at_least_three_slides_starting_with_its_title(source):
    cells = jupytext.read(source).cells
    assert sum(slide_type(cell) == "slide" for cell in cells) >= 3
    assert slide_type(cells[0]) == "slide"
    assert slide_type(cells[1]) == "skip", "the Colab set-up cell is not for the audience"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_each_title_or_section_heading_opens_a_slide(source):
    for cell in jupytext.read(source).cells:
        if cell.cell_type == "markdown" and HEADING.search(cell.source):
            assert slide_type(cell) == "slide", cell.source.splitlines()[0]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_the_ipynb_carries_the_same_slides(source):
    ipynb = nbformat.read(source.with_suffix(".ipynb"), as_version=4).cells
    assert [slide_type(c) for c in ipynb] == [slide_type(c) for c in jupytext.read(source).cells]


def _make_slides_flags() -> list[str]:
    makefile = (ROOT / "Makefile").read_text()
    match = re.search(r"^SLIDES_FLAGS := ((?:.*\\\n)*.*)$", makefile, re.M)
    assert match, "the Makefile defines SLIDES_FLAGS"
    return shlex.split(match.group(1).replace("\\\n", " "))


def test_slides_load_scripts_and_styles_only_from_the_local_vendor_folder(tmp_path):
    notebook = ROOT / "notebooks" / "03_architecture.ipynb"  # it has a hidden solution cell
    subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter",
            "nbconvert",
            "--to",
            "slides",
            *_make_slides_flags(),
            "--output-dir",
            str(tmp_path),
            str(notebook),
        ],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    html = (tmp_path / "03_architecture.slides.html").read_text()
    resources = re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"", html)
    resources += re.findall(r"<link[^>]*\bhref=\"([^\"]+)\"", html)
    resources += re.findall(r"import \w+ from '([^']+)'", html)
    resources += re.findall(
        r"\"([^\"]+\.js)\"", html
    )  # what require.js loads: reveal.js and its notes
    assert len(resources) >= 6 and "vendor/reveal.js/dist/reveal.js" in resources
    assert all(re.match(r"^(\./)?vendor/", url) for url in resources), resources
    assert "# Solution" not in html  # solutions stay in the notebooks, off the slides
