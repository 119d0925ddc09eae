import keras
import numpy as np
import pytest

from workshop_helpers import build_model
from workshop_helpers.demos.export import (
    FORMATS,
    TOLERANCE,
    ExportError,
    compare_with_keras,
    export_checkpoint,
    export_model,
    missing_packages,
    run_exported,
)
from workshop_helpers.pipeline import preprocess
from workshop_helpers.tools.cli import main

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="export runs on the TensorFlow backend only"
)


def needs(format):
    missing = missing_packages(format)
    return pytest.mark.skipif(
        bool(missing), reason=f'{", ".join(missing)} not installed: pip install -e ".[export]"'
    )


@pytest.fixture(scope="module")
def small_model():
    """An untrained 64x64 network with non-trivial BatchNorm statistics (inference mode matters)."""
    model = build_model(3, input_size=64)
    for layer in model.layers:
        if layer.__class__.__name__ == "BatchNormalization":
            shape = layer.moving_mean.shape
            layer.moving_mean.assign(
                np.random.default_rng(1).normal(0, 0.1, shape).astype("float32")
            )
            layer.moving_variance.assign(
                np.random.default_rng(2).uniform(0.5, 2, shape).astype("float32")
            )
    return model


@pytest.fixture(scope="module")
def images():
    return preprocess(np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8))


@needs("onnx")
def test_cli_exports_onnx_that_matches_keras_at_any_size_divisible_by_32(
    small_model, images, tmp_path, capsys
):
    checkpoint = tmp_path / "voc_pretrained_fast.keras"
    small_model.save(checkpoint)
    assert main(["export", str(checkpoint), "--format", "onnx"]) == 0
    exported = checkpoint.with_suffix(FORMATS["onnx"])  # next to the checkpoint by default
    assert str(exported) in capsys.readouterr().out
    comparison = compare_with_keras(small_model, exported, images)
    assert comparison["max_abs_difference"] <= TOLERANCE and comparison["label_agreement"] == 1.0
    wider = preprocess(np.random.default_rng(3).integers(0, 256, (1, 64, 96, 3), dtype=np.uint8))
    assert run_exported(exported, wider).shape == (
        1,
        64,
        96,
        3,
    )  # height and width stay free in ONNX
    assert compare_with_keras(small_model, exported, wider)["within_tolerance"]


@needs("litert")
def test_litert_matches_keras_at_its_fixed_size(small_model, images, tmp_path):
    path = export_model(small_model, tmp_path / "model.tflite", "litert", input_size=64)
    comparison = compare_with_keras(small_model, path, images)
    assert comparison["max_abs_difference"] <= TOLERANCE and comparison["label_agreement"] == 1.0


def test_a_wrong_extension_or_format_is_a_clear_error(small_model, tmp_path):
    with pytest.raises(ExportError, match="must end with .onnx"):
        export_model(small_model, tmp_path / "model.tflite", "onnx")
    with pytest.raises(ExportError, match="Unknown export format"):
        export_model(small_model, tmp_path / "model.pt", "torch")
    assert not list(tmp_path.iterdir())


def test_a_missing_package_names_the_install_command(monkeypatch, tmp_path):
    import workshop_helpers.demos.export as export

    monkeypatch.setitem(export.REQUIRED_PACKAGES, "onnx", ("no_such_package_xyz",))
    with pytest.raises(ExportError, match=r"pip install -e \"\.\[export\]\""):
        export_checkpoint(tmp_path / "never_read.keras", "onnx")


def test_litert_needs_keras_3_13_and_onnx_does_not(monkeypatch):
    monkeypatch.setattr(keras, "__version__", "3.8.0")
    assert "keras>=3.13" in missing_packages("litert")
    assert "keras>=3.13" not in missing_packages("onnx")
    monkeypatch.setattr(keras, "__version__", "3.13.2")
    assert "keras>=3.13" not in missing_packages("litert")


def test_cli_reports_a_missing_checkpoint_in_one_line(tmp_path, capsys):
    assert main(["export", str(tmp_path / "missing.keras"), "--format", "onnx"]) == 1
    assert capsys.readouterr().err.count("\n") == 1
