"""Export a trained network for deployment (ONNX, LiteRT) and run the file without Keras."""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path

import keras
import numpy as np

FORMATS = {"onnx": ".onnx", "litert": ".tflite"}
# Packages each format needs to export and to run (pyproject.toml's `export` extra installs them).
REQUIRED_PACKAGES = {"onnx": ("tf2onnx", "onnx", "onnxruntime"), "litert": ("ai_edge_litert",)}
# Keras writes LiteRT files from 3.13 on (Python 3.11+), ONNX from 3.8, the lowest we support.
LITERT_KERAS = (3, 13)
# LiteRT's built-in convolutions need a fixed input size; ONNX keeps height and width free.
LITERT_INPUT_SIZE = 256
# Largest difference of softmax probabilities between Keras and an exported model that still counts
# as the same network. Measured on CPU: 3.5e-6 (ONNX) and 3.6e-6 (LiteRT) for the fast pretrained
# CamVid checkpoint on 8 validation images, 1e-7 for untrained networks; labels agreed everywhere.
TOLERANCE = 1e-4


class ExportError(RuntimeError):
    """An export cannot be done (a missing package, unknown format); the message says what to do."""


def missing_packages(format: str) -> list[str]:
    """The packages an export format needs that are not installed."""
    if format not in FORMATS:
        raise ExportError(f"Unknown export format {format!r}; choose one of {', '.join(FORMATS)}.")
    missing = [name for name in REQUIRED_PACKAGES[format] if importlib.util.find_spec(name) is None]
    keras_version = tuple(int(part) for part in keras.__version__.split(".")[:2])
    if format == "litert" and keras_version < LITERT_KERAS:
        missing.append("keras>=%d.%d" % LITERT_KERAS)
    return missing


def require(format: str) -> None:
    """Raise ExportError saying what to do when a format cannot be exported here."""
    if keras.backend.backend() != "tensorflow":
        # Other backends' exporters need other packages (jax2onnx, litert-torch), untested here.
        raise ExportError(
            f"Export runs on the TensorFlow backend, not {keras.backend.backend()}: "
            "set KERAS_BACKEND=tensorflow."
        )
    missing = missing_packages(format)
    if missing and sys.version_info < (3, 11) and any(n.startswith("keras") for n in missing):
        raise ExportError(f"Exporting to {format} needs Keras 3.13, which needs Python 3.11+.")
    if missing:
        raise ExportError(
            f'Exporting to {format} needs {", ".join(missing)}: run `pip install -e ".[export]"`.'
        )


def with_free_input_size(model: keras.Model, size: int | None = None) -> keras.Model:
    """The same network (shared weights) for size x size images; any multiple of 32 if None."""
    if size is not None and size % 32:
        raise ExportError(
            f"The input size must be divisible by 32 (the encoder halves it 5 times), not {size}."
        )
    inputs = keras.Input((size, size, model.input_shape[-1]), name="image")
    return keras.Model(inputs, model.call(inputs, training=False), name=model.name)


def export_model(
    model: keras.Model, path: str | Path, format: str = "onnx", input_size: int | None = None
) -> Path:
    """Write the inference pass to `path` (input: MobileNetV2-preprocessed float32 NHWC)."""
    path = Path(path)
    # A wrong name or format is reported first, whatever is installed.
    if format in FORMATS and path.suffix != FORMATS[format]:
        raise ExportError(f"A {format} file must end with {FORMATS[format]}, not {path.name!r}.")
    require(format)
    if format == "litert" and input_size is None:
        input_size = LITERT_INPUT_SIZE
    path.parent.mkdir(parents=True, exist_ok=True)
    network = with_free_input_size(model, input_size)
    side = input_size or 32
    network(np.zeros((1, side, side, 3), np.float32))  # Keras exports only a model called once
    with warnings.catch_warnings():
        # tf2onnx still names np.object on import: numpy's FutureWarning is not the reader's concern
        warnings.simplefilter("ignore", FutureWarning)
        network.export(str(path), format=format, verbose=False)
    return path


def export_checkpoint(
    checkpoint: str | Path,
    format: str = "onnx",
    output: str | Path | None = None,
    input_size: int | None = None,
) -> Path:
    """Export a .keras checkpoint; by default next to it, with the format's file extension."""
    from ..checkpoints import load_checkpoint

    require(format)
    model = load_checkpoint(checkpoint)
    output = Path(output) if output else Path(checkpoint).with_suffix(FORMATS[format])
    return export_model(model, output, format, input_size)


def run_onnx(path: str | Path, batch: np.ndarray) -> np.ndarray:
    """Probabilities from an exported .onnx file through ONNX Runtime on the CPU."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: np.asarray(batch, np.float32)})[0]


def run_litert(path: str | Path, batch: np.ndarray) -> np.ndarray:
    """Probabilities from an exported .tflite file through the LiteRT interpreter."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    source = interpreter.get_input_details()[0]
    batch = np.asarray(batch, np.float32)
    # The file is exported for one image size; the batch size is free.
    interpreter.resize_tensor_input(source["index"], batch.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(source["index"], batch)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def run_exported(path: str | Path, batch: np.ndarray) -> np.ndarray:
    """Probabilities from an exported file (.onnx or .tflite) for a preprocessed batch."""
    suffix = Path(path).suffix
    runners = {".onnx": run_onnx, ".tflite": run_litert}
    if suffix not in runners:
        raise ExportError(f"Cannot run {Path(path).name}: expected a .onnx or .tflite file.")
    return runners[suffix](path, batch)


def compare_with_keras(model: keras.Model, path: str | Path, batch: np.ndarray) -> dict:
    """How far the exported file's probabilities are from Keras': largest gap, label agreement."""
    batch = np.asarray(batch, np.float32)
    expected = keras.ops.convert_to_numpy(with_free_input_size(model)(batch, training=False))
    got = run_exported(path, batch)
    if got.shape != expected.shape:
        raise ExportError(f"{Path(path).name} returned shape {got.shape}, Keras {expected.shape}.")
    difference = float(np.abs(got - expected).max())
    return {
        "max_abs_difference": difference,
        "label_agreement": float(np.mean(got.argmax(-1) == expected.argmax(-1))),
        "within_tolerance": difference <= TOLERANCE,
    }
