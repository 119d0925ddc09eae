import json

import pytest

from workshop_helpers.cli import main

from .conftest import needs_mirror


def test_missing_data_is_one_clear_line(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "none.keras"), "--dataset", "camvid", "--data-dir", str(tmp_path)]) == 1
    assert "error: No checkpoint" in capsys.readouterr().err


@needs_mirror
def test_prepare_train_and_evaluate(mirror, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORKSHOP_DATA_MIRROR", str(mirror))
    data = str(tmp_path / "data")
    assert main(["prepare", "camvid", "--data-dir", data]) == 0
    checkpoint = tmp_path / "m.keras"
    assert main(["train", "--dataset", "camvid", "--epochs", "1", "--max-images", "4", "--batch-size", "4",
                 "--data-dir", data, "--checkpoint", str(checkpoint)]) == 0
    assert checkpoint.exists() and checkpoint.with_suffix(".history.json").exists()
    capsys.readouterr()
    output = tmp_path / "scores.json"
    assert main(["evaluate", str(checkpoint), "--dataset", "camvid", "--data-dir", data, "--no-tta",
                 "--output", str(output)]) == 0
    scores = json.loads(output.read_text())
    assert scores["images"] == 101 and len(scores["per_class_iou"]) == 11 and 0 <= scores["mIoU"] <= 1


def test_unknown_dataset_is_refused_by_the_parser():
    with pytest.raises(SystemExit):
        main(["prepare", "coco"])
