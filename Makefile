# The two commands of the README, plus helpers for maintainers.
PYTHON ?= python3
NOTEBOOKS := $(wildcard notebooks/*.py)

.PHONY: workshop test test-unit test-notebooks test-jax sync bench

workshop:  ## open the workshop in Jupyter
	$(PYTHON) -m jupyter lab notebooks/

test: test-unit test-notebooks  ## unit tests, then every notebook in fast mode on CamVid

test-unit:
	$(PYTHON) -m pytest -q tests

test-notebooks:
	WORKSHOP_FAST=1 WORKSHOP_DATASET=camvid WORKSHOP_HEADLESS=1 MPLBACKEND=Agg \
		$(PYTHON) -m pytest -q --nbval-lax -p no:cacheprovider notebooks/

test-jax:  ## the unit tests on the JAX backend (needs `pip install jax`)
	KERAS_BACKEND=jax $(PYTHON) -m pytest -q tests

sync:  ## regenerate the .ipynb from the .py sources (the .py are the source of truth)
	$(PYTHON) -m jupytext --sync $(NOTEBOOKS)

bench:
	$(PYTHON) -m workshop_helpers bench
