"""Keep TensorFlow's C++ start-up chatter out of notebook cells without hiding real errors.

TensorFlow 2.21 logs through Abseil before Abseil is set up, which ignores TF_CPP_MIN_LOG_LEVEL:
the only place to stop those lines is the process's stderr while TensorFlow loads. We capture it
there, drop the known start-up noise and write every other line back.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from contextlib import contextmanager

# Abseil lines start with a severity letter: I0000 00:00:1795428930.893039 10861 port.cc:153] ...
_LOG_LINE = re.compile(r"^([IWEF])\d{4} [\d:. ]+\d+ [\w./-]+:\d+\] ?(.*)$")
_NOISE = (
    "All log messages before absl::InitializeLog() is called",
    "To enable the following instructions:",
    "Unable to register cuDNN factory",
    "Unable to register cuFFT factory",
    "Unable to register cuBLAS factory",
    "computation placer already registered",
    "TF-TRT Warning: Could not find TensorRT",
    # An "error" at the first training step on CPUs without AVX-512; TF falls back by itself.
    "oneDNN supports DT_INT32 only on platforms with AVX-512",
)


def is_noise(line: str) -> bool:
    """Whether a stderr line is TensorFlow start-up information rather than a warning or error."""
    if any(text in line for text in _NOISE):
        return True
    match = _LOG_LINE.match(line)
    return bool(match) and match.group(1) == "I"


def filter_noise(text: str) -> str:
    """The lines of text that are not start-up noise."""
    lines = [line for line in text.splitlines(keepends=True) if line.strip() and not is_noise(line)]
    if "Could not find cuda drivers" in text:  # no GPU driver: CUDA failing to start is expected
        lines = [line for line in lines if "failed call to cuInit" not in line]
    return "".join(lines)


@contextmanager
def quiet_stderr():
    """Capture file descriptor 2 (where C++ libraries write); pass on lines that are not noise."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real stderr (some embedded interpreters)
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = filter_noise(captured.read().decode("utf-8", "replace"))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


FILTER_THREAD = "workshop-stderr-filter"


def filter_stderr(fd: int = 2):
    """From now on, drop start-up noise written to `fd` (TensorFlow logs some at the first step).

    A thread reads what C++ libraries write there and passes every other line on. Returns a
    function that stops the filter and gives `fd` back.
    """
    original = os.dup(fd)
    read_end, write_end = os.pipe()
    os.dup2(write_end, fd)
    os.close(write_end)

    def pump():
        pending = b""
        while chunk := os.read(read_end, 65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            kept = filter_noise("".join(line.decode("utf-8", "replace") + "\n" for line in lines))
            if kept:
                os.write(original, kept.encode())
        if pending:
            os.write(original, pending)
        os.close(read_end)

    thread = threading.Thread(target=pump, name=FILTER_THREAD, daemon=True)
    thread.start()

    def stop():
        os.dup2(original, fd)  # closes the pipe's last write end: the thread drains and ends
        thread.join(timeout=5)
        os.close(original)

    return stop


def filter_notebook_stderr() -> None:
    """In a Jupyter kernel, whose cells show what C++ libraries write, filter that noise once."""
    in_kernel = "ipykernel" in sys.modules
    if in_kernel and not any(t.name == FILTER_THREAD for t in threading.enumerate()):
        try:
            filter_stderr()
        except OSError:  # no file descriptor 2 to filter: nothing reaches the cells either
            pass


def import_keras_quietly() -> None:
    """Import Keras (and TensorFlow with it, on that backend) with start-up noise filtered out."""
    filter_notebook_stderr()
    if "keras" in sys.modules:
        return  # imported before us: its start-up lines are already printed
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # later TensorFlow logs follow this level
    with quiet_stderr():
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.list_logical_devices()  # device set-up logs its lines now, inside the filter
