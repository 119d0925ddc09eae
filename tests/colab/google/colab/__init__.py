"""A stand-in for Colab's google.colab for `make test-colab` (tests/colab/run_notebooks.py).

Only what the workshop calls is here: google.colab.output's eval_js and register_callback.
"""

from . import output

__all__ = ["output"]
