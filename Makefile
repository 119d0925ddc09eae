# The two commands of the README, plus helpers for maintainers.
# `make workshop` and `make test` set up what they need on a machine with only Python 3.10+:
# a virtual environment in .venv with the exact versions of requirements/lock.txt (the package's
# dependencies with its dev and export extras) and the package, the ImageNet weights, the data.
# With WORKSHOP_DATA_MIRROR set, weights and data come from that folder. Each step is skipped when
# its result is there, so a second run starts at once.
PYTHON ?= python3
VENV ?= .venv
# The exact versions the README's numbers were measured with, written by `make lock`; they include
# the dev and export extras. LOCK= installs pyproject.toml's ranges with the extras of EXTRAS instead.
LOCK_FILE := requirements/lock.txt
LOCK ?= $(LOCK_FILE)
# export: notebook 7 exports and runs the model (tf2onnx, onnx, onnxruntime, ai-edge-litert).
EXTRAS ?= dev,export
PY := $(VENV)/bin/python
comma := ,
# Rebuilt when pyproject.toml or the lock changes (or other extras are asked for).
STAMP := $(VENV)/.installed-$(if $(LOCK),lock,$(subst $(comma),-,$(EXTRAS)))
DATA_DIR := $(or $(WORKSHOP_DATA_DIR),data)
WEIGHTS_FILE := mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5
WEIGHTS := $(or $(KERAS_HOME),$(HOME)/.keras)/models/$(WEIGHTS_FILE)
PORT ?= 8888
# The venv reuses the packages of $(PYTHON); Jupyter must then also find their data (widget extensions,
# Voilà templates) under that Python's prefix.
export JUPYTER_PATH := $(if $(JUPYTER_PATH),$(JUPYTER_PATH):)$(abspath $(VENV))/share/jupyter:$(shell \
	$(PYTHON) -c 'import os, sys; print(os.path.join(sys.base_prefix, "share", "jupyter"))')
NOTEBOOKS := $(wildcard notebooks/*.py)
# Recipes run the environment's programs: `jupyter` subcommands and kernels are found on PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export VIRTUAL_ENV := $(CURDIR)/$(VENV)

.PHONY: workshop test setup ready lint test-unit test-notebooks test-browser test-jax test-lowest
.PHONY: sync bench slides lock

# Jupyter Lab's flags (127.0.0.1, a token, the student view, no browser when headless, root) are
# those of `python -m workshop_helpers workshop`, in workshop_helpers/tools/workshop.py.
workshop: ready  ## open the workshop in Jupyter Lab
	@exec $(PY) -m workshop_helpers workshop --port $(PORT)

# The unit tests and the notebooks use about one core each on average (tracing, Python, plotting),
# so on two cores or more they run side by side; each one's output is shown when it ends.
test: lint  ## lint, unit tests, then every notebook in fast mode on VOC
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-unit test-notebooks
	@$(MAKE) --no-print-directory test-browser

# ---------------------------------------------------------------- set-up

setup: $(STAMP)  ## the virtual environment with the package installed

$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null || { \
		echo "The workshop needs Python 3.10 or newer: run make PYTHON=python3.11 (or another)."; \
		exit 1; }
	@if [ ! -x $(PY) ]; then \
		echo "==> Creating the virtual environment $(VENV) (it reuses the packages $(PYTHON) has)"; \
		$(PYTHON) -m venv --system-site-packages $(VENV) || { rm -rf $(VENV); \
			echo "Could not create $(VENV): on Debian or Ubuntu, apt-get install python3-venv."; \
			exit 1; }; \
	fi
ifneq ($(LOCK),)
	@echo "==> Installing the versions of $(LOCK), then the workshop package, into $(VENV)"
	@$(PY) -m pip install -q --disable-pip-version-check -r $(LOCK)
	@$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
else
	@echo "==> Installing the workshop package with its [$(EXTRAS)] extras into $(VENV)"
	@$(PY) -m pip install -q --disable-pip-version-check -e ".[$(EXTRAS)]"
endif
	@rm -f $(VENV)/.installed-* && touch $@

$(WEIGHTS): | $(STAMP)
	@if [ -n "$$WORKSHOP_DATA_MIRROR" ]; then \
		echo "==> Copying the ImageNet weights from $$WORKSHOP_DATA_MIRROR into the Keras cache"; \
	else echo "==> Downloading the ImageNet weights into the Keras cache (9 MB)"; fi
	@$(PY) -m workshop_helpers prepare weights

$(DATA_DIR)/camvid/.complete: | $(STAMP)
	@if [ -n "$$WORKSHOP_DATA_MIRROR" ]; then \
		echo "==> Preparing CamVid from $$WORKSHOP_DATA_MIRROR into $(DATA_DIR)/camvid"; \
	else echo "==> Downloading CamVid (SegNet tutorial) and preparing $(DATA_DIR)/camvid"; fi
	@$(PY) -m workshop_helpers prepare camvid

# With a mirror, VOC is prepared from the photos it has (the course's mirror: 857 of 1,607).
$(DATA_DIR)/voc/.complete: | $(STAMP)
	@if [ -n "$$WORKSHOP_DATA_MIRROR" ]; then \
		echo "==> Preparing VOC from $$WORKSHOP_DATA_MIRROR into $(DATA_DIR)/voc (--allow-partial)"; \
		$(PY) -m workshop_helpers prepare voc --allow-partial; \
	else echo "==> Downloading VOC 2012 (2 GB, resumable) and preparing $(DATA_DIR)/voc"; \
		$(PY) -m workshop_helpers prepare voc; fi

ready: $(STAMP) $(WEIGHTS) $(DATA_DIR)/camvid/.complete $(DATA_DIR)/voc/.complete

# ---------------------------------------------------------------- checks

lint: $(STAMP)  ## ruff: lines <= 100 characters, pyflakes, sorted imports, one format
	@echo "==> Lint (ruff check, ruff format --check)"
	@$(PY) -m ruff check
	@$(PY) -m ruff format --check

test-unit: ready
	@echo "==> Unit tests"
	$(PY) -m pytest -q tests --ignore=tests/browser

# VOC, the default dataset, on real photos (a partial copy from the mirror in CI). nbval runs a copy
# of each notebook in which every exercise's solution (hidden in the lesson) runs and must pass its
# check, and cells tagged extra-training are skipped; notebook 5's conclusion fails the run if the
# pretrained encoder stops beating the scratch one by the preset's margins.
SOLVED_DIR := build/solved
test-notebooks: ready
	@echo "==> Every notebook in fast mode on VOC, solutions included (nbval)"
	@rm -rf $(SOLVED_DIR) && $(PY) -m workshop_helpers.course.lessons $(SOLVED_DIR) $(NOTEBOOKS)
	WORKSHOP_FAST=1 WORKSHOP_DATASET=voc WORKSHOP_HEADLESS=1 MPLBACKEND=Agg \
		$(PY) -m pytest -q --nbval-lax -p no:cacheprovider $(SOLVED_DIR)/

# Notebook 6 served by Voila, driven by Playwright in Debian's Chromium (apt-get install chromium);
# screenshots of a failure stay in browser-screenshots/.
test-browser: ready  ## the demos of notebook 6 in a real browser
	@echo "==> Notebook 6 in Chromium (Voila + Playwright)"
	$(PY) -m pytest -q -p no:cacheprovider tests/browser

test-jax: ready  ## the unit tests on the JAX backend (needs `pip install jax`)
	KERAS_BACKEND=jax $(PY) -m pytest -q tests --ignore=tests/browser

# The lowest versions pyproject.toml allows (uv's lowest-direct resolution on the oldest Python it
# allows), synced into their own venv so that nothing newer stays, then the unit tests on them.
UV ?= uv
LOWEST_PYTHON ?= python3.10
LOWEST_VENV ?= .venv-lowest
LOWEST_EXTRAS ?= dev,export
test-lowest: ready  ## the unit tests on the lowest versions pyproject.toml allows (needs uv)
	@command -v $(UV) >/dev/null || { echo "make test-lowest needs uv: pip install uv (or UV=path)"; \
		exit 1; }
	@echo "==> Lowest direct versions of [$(LOWEST_EXTRAS)] on $(LOWEST_PYTHON) into $(LOWEST_VENV)"
	@[ -x $(LOWEST_VENV)/bin/python ] || $(UV) venv -q -p $(LOWEST_PYTHON) $(LOWEST_VENV)
	@$(UV) pip compile -q -p $(LOWEST_VENV)/bin/python --resolution lowest-direct \
		--extra $(subst $(comma), --extra ,$(LOWEST_EXTRAS)) pyproject.toml \
		-o $(LOWEST_VENV)/requirements.txt
	@VIRTUAL_ENV=$(abspath $(LOWEST_VENV)) $(UV) pip sync -q $(LOWEST_VENV)/requirements.txt
	@VIRTUAL_ENV=$(abspath $(LOWEST_VENV)) $(UV) pip install -q --no-deps -e .
	@echo "==> Unit tests on the lowest versions (listed in $(LOWEST_VENV)/requirements.txt)"
	$(LOWEST_VENV)/bin/python -m pytest -q -p no:cacheprovider tests --ignore=tests/browser

# Colab as it is: its recorded versions (requirements/colab.txt) in their own venv, the unit tests
# of the Colab paths on them, then notebooks 1 to 6 through their Colab branches with a stand-in
# google.colab (tests/colab/): each set-up cell clones a snapshot of this working tree and
# pip-installs it; the run fails if that changes a version Colab ships. Colab runs Python 3.13.
COLAB_PYTHON ?= python3.13
COLAB_VENV ?= .venv-colab
COLAB_DIR := build/colab
.PHONY: test-colab
test-colab: ready  ## notebooks 1-6 through their Colab branches on Colab's versions (needs uv)
	@command -v $(UV) >/dev/null || { echo "make test-colab needs uv: pip install uv (or UV=path)"; \
		exit 1; }
	@echo "==> Colab's versions (requirements/colab.txt) on $(COLAB_PYTHON) into $(COLAB_VENV)"
	@[ -x $(COLAB_VENV)/bin/python ] || $(UV) venv -q -p $(COLAB_PYTHON) $(COLAB_VENV) || { \
		echo "No $(COLAB_PYTHON) here: pass COLAB_PYTHON=python3.11 (or a path)"; exit 1; }
	@VIRTUAL_ENV=$(abspath $(COLAB_VENV)) $(UV) pip sync -q requirements/colab.txt
	@echo "==> Unit tests of the Colab paths on $$(grep '^ipywidgets==' requirements/colab.txt)"
	$(COLAB_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/test_colab.py tests/test_viewer.py
	@echo "==> Notebooks 1 to 6 through their Colab branches (fast mode, VOC)"
	@rm -rf $(COLAB_DIR) && $(PY) -m workshop_helpers.course.lessons $(COLAB_DIR)/solved \
		$(wildcard notebooks/0[1-6]_*.py)
	WORKSHOP_DATA_DIR=$(abspath $(DATA_DIR)) $(COLAB_VENV)/bin/python tests/colab/run_notebooks.py \
		$(COLAB_DIR) $(COLAB_DIR)/solved/*.ipynb

# The lock covers every platform and Python from LOCK_PYTHON on (the oldest that pyproject.toml's
# requires-python allows). It keeps its pins where pyproject.toml still allows them; UPGRADE=1 moves
# every package to its newest allowed version. setuptools is left to the environment.
LOCK_PYTHON ?= 3.10
define LOCK_HEADER
# The exact versions `make workshop` and `make test` install (the README's numbers were measured
# with them): pyproject.toml with its dev and export extras, for Python $(LOCK_PYTHON)+ on Linux, macOS and
# Windows. Refresh: `make lock` after editing pyproject.toml (it keeps these pins where the ranges
# allow), `make lock UPGRADE=1` for the newest allowed versions. Without make:
#   pip install -r requirements/lock.txt && pip install --no-deps -e .
endef
export LOCK_HEADER
lock:  ## refresh requirements/lock.txt, the exact versions (needs uv; UPGRADE=1 for the newest)
	@command -v $(UV) >/dev/null || { echo "make lock needs uv: pip install uv (or UV=path)"; exit 1; }
	@echo "==> Locking pyproject.toml [dev,export] for Python $(LOCK_PYTHON)+ into $(LOCK_FILE)"
	@mkdir -p $(dir $(LOCK_FILE))
	@$(UV) pip compile -q --universal --python-version $(LOCK_PYTHON) --extra dev --extra export \
		--no-emit-package setuptools --no-header $(if $(UPGRADE),--upgrade) pyproject.toml \
		-o $(LOCK_FILE)
	@{ echo "$$LOCK_HEADER"; cat $(LOCK_FILE); } > $(LOCK_FILE).tmp && mv $(LOCK_FILE).tmp $(LOCK_FILE)

sync: $(STAMP)  ## refresh the package code the notebooks show, then pair each .py with its .ipynb
	$(PY) -c 'import sys; from workshop_helpers.course.lessons import refresh; [refresh(p) for p in sys.argv[1:]]' \
		$(NOTEBOOKS)
	$(PY) -m jupytext --sync $(NOTEBOOKS)

bench: ready
	$(PY) -m workshop_helpers bench

# ---------------------------------------------------------------- slides

# reveal.js slides of every notebook in build/slides/ (git-ignored), opened with no network: reveal.js,
# require.js, jQuery and MathJax come from the npm registry on the first build (about 23 MB, kept in
# build/slides/vendor/ for later builds) and are linked relatively. EXECUTE=1 runs the notebooks first
# (with the WORKSHOP_* settings of the shell), so the slides show their figures.
SLIDES_DIR := build/slides
SLIDES_VENDOR := reveal.js@4.6.1 requirejs@2.3.7 jquery@3.7.1 mathjax@2.7.7
SLIDES_FLAGS := --SlidesExporter.reveal_url_prefix=vendor/reveal.js \
	--SlidesExporter.require_js_url=vendor/requirejs/require.js \
	--SlidesExporter.jquery_url=vendor/jquery/dist/jquery.min.js \
	--SlidesExporter.mathjax_url=vendor/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe \
	--template-file docs/slides.html.j2 --SlidesExporter.reveal_scroll=True \
	--TagRemovePreprocessor.enabled=True --TagRemovePreprocessor.remove_cell_tags=solution

slides: $(STAMP) $(SLIDES_DIR)/vendor/.complete  ## reveal.js slides of the notebooks, offline
	$(PY) -m jupyter nbconvert --to slides $(SLIDES_FLAGS) \
		$(if $(EXECUTE),--execute --ExecutePreprocessor.timeout=-1) \
		--output-dir $(SLIDES_DIR) $(NOTEBOOKS:.py=.ipynb)
	@echo "==> Open $(SLIDES_DIR)/01_intro.slides.html (works offline)"

$(SLIDES_DIR)/vendor/.complete:
	@echo "==> Fetching reveal.js, require.js, jQuery and MathJax from the npm registry"
	@mkdir -p $(@D) && cd $(@D) && for package in $(SLIDES_VENDOR); do \
		name=$${package%@*}; rm -rf $$name && mkdir $$name && \
		npm pack --silent $$package >/dev/null && \
		tar -xzf $$name-*.tgz -C $$name --strip-components=1 && rm $$name-*.tgz || exit 1; done
	@touch $@
