"""Maintainer tools: the command line (`python -m workshop_helpers`), benchmarks, publishing
checkpoints."""
