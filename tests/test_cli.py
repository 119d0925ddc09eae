import json
import os
import re

import pytest

from tests.eager import eagerly
from workshop_helpers import build_model
from workshop_helpers.datasets import read_ids
from workshop_helpers.tools.cli import main

from .conftest import needs_mirror
from .test_datasets import REPO_DATA, fake_camvid


def test_missing_data_is_one_clear_line(tmp_path, capsys):
    args = [
        "evaluate",
        str(tmp_path / "none.keras"),
        "--dataset",
        "camvid",
        "--data-dir",
        str(tmp_path),
    ]
    assert main(args) == 1
    assert "error: No checkpoint" in capsys.readouterr().err


def test_evaluate_on_the_camvid_test_split(tmp_path, capsys):
    data = str(tmp_path / "data")
    source = fake_camvid(tmp_path / "CamVid")
    assert main(["prepare", "camvid", "--source", str(source), "--data-dir", data]) == 0
    checkpoint = tmp_path / "m.keras"
    build_model(11).save(checkpoint)
    capsys.readouterr()
    assert (
        main(
            [
                "evaluate",
                str(checkpoint),
                "--dataset",
                "camvid",
                "--split",
                "test",
                "--data-dir",
                data,
                "--no-tta",
            ]
        )
        == 0
    )
    scores = json.loads(capsys.readouterr().out)
    assert (scores["split"], scores["images"], len(scores["per_class_iou"])) == ("test", 2, 11)


def test_a_split_that_was_not_prepared_is_one_clear_line(tmp_path, capsys):
    source = fake_camvid(tmp_path / "CamVid", counts=(("train", 1), ("val", 1)))
    assert main(["prepare", "camvid", "--source", str(source), "--data-dir", str(tmp_path)]) == 0
    (tmp_path / "camvid" / "test.txt").write_text("x\n")
    assert (
        main(
            [
                "evaluate",
                str(tmp_path / "none.keras"),
                "--dataset",
                "camvid",
                "--split",
                "test",
                "--data-dir",
                str(tmp_path),
            ]
        )
        == 1
    )
    assert "error: No checkpoint" in capsys.readouterr().err  # the checkpoint is checked first
    build_model(11).save(tmp_path / "m.keras")
    assert (
        main(
            [
                "evaluate",
                str(tmp_path / "m.keras"),
                "--dataset",
                "camvid",
                "--split",
                "test",
                "--data-dir",
                str(tmp_path),
            ]
        )
        == 1
    )
    assert "error: The camvid test split is not prepared" in capsys.readouterr().err


@needs_mirror
def test_prepare_takes_the_mirror_as_an_argument(mirror, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("WORKSHOP_DATA_MIRROR", raising=False)
    assert main(["prepare", "camvid", "--mirror", str(mirror), "--data-dir", str(tmp_path)]) == 0
    assert "WORKSHOP_DATA_MIRROR" not in os.environ
    assert f"Preparing camvid from {(mirror / 'camvid').resolve()}" in capsys.readouterr().out


@needs_mirror
def test_partial_voc_needs_the_flag(mirror, tmp_path, capsys):
    args = ["prepare", "voc", "--mirror", str(mirror), "--data-dir", str(tmp_path)]
    assert main(args) == 1
    assert "--allow-partial" in capsys.readouterr().err
    assert main(["prepare", "camvid", "--allow-partial", "--data-dir", str(tmp_path)]) == 1
    assert "apply to voc only" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["prepare", "train", "compare", "evaluate"])
def test_every_help_text_formats(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])  # argparse reads "%" in a help text as a format
    assert done.value.code == 0 and "--data-dir" in capsys.readouterr().out


@needs_mirror
def test_prepare_voc_subset_by_flag_or_variable(mirror, tmp_path, monkeypatch, capsys):
    photos = {p.stem for p in (mirror / "voc2012-photos" / "JPEGImages").glob("*.jpg")}
    present = len(photos & set(read_ids(REPO_DATA / "voc_original" / "ids.txt")))
    args = ["prepare", "voc", "--mirror", str(mirror), "--data-dir", str(tmp_path)]
    wanted = (
        f"error: {991 - present:,} of 991 VOC photos are missing .* `python -m "
        "workshop_helpers prepare voc --subset original` with internet"
    )
    assert main([*args, "--subset", "original"]) == 1
    assert re.search(wanted, capsys.readouterr().err)
    monkeypatch.setenv("WORKSHOP_VOC_SUBSET", "original")
    assert main(args) == 1
    assert re.search(wanted, capsys.readouterr().err)
    monkeypatch.setenv("WORKSHOP_VOC_SUBSET", "most")
    assert main(args) == 1
    assert capsys.readouterr().err == (
        "error: WORKSHOP_VOC_SUBSET must be one of all, original, not 'most'.\n"
    )
    assert main(["prepare", "camvid", "--subset", "original", "--data-dir", str(tmp_path)]) == 1
    assert "--subset applies to `prepare voc` only, not camvid." in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


@needs_mirror
def test_prepare_train_and_evaluate(mirror, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORKSHOP_DATA_MIRROR", str(mirror))
    data = str(tmp_path / "data")
    assert main(["prepare", "camvid", "--data-dir", data]) == 0
    checkpoint = tmp_path / "m.keras"
    with eagerly():  # the CLI's training, without tracing its graph
        assert (
            main(
                [
                    "train",
                    "--dataset",
                    "camvid",
                    "--epochs",
                    "1",
                    "--max-train-images",
                    "4",
                    "--batch-size",
                    "4",
                    "--crop-size",
                    "64",
                    "--data-dir",
                    data,
                    "--checkpoint",
                    str(checkpoint),
                ]
            )
            == 0
        )
    assert checkpoint.exists() and checkpoint.with_suffix(".history.json").exists()
    capsys.readouterr()
    output = tmp_path / "scores.json"
    assert (
        main(
            [
                "evaluate",
                str(checkpoint),
                "--dataset",
                "camvid",
                "--data-dir",
                data,
                "--no-tta",
                "--output",
                str(output),
            ]
        )
        == 0
    )
    scores = json.loads(output.read_text())
    assert scores["images"] == 101 and len(scores["per_class_iou"]) == 11
    assert 0 <= scores["mIoU"] <= 1


def test_unknown_dataset_is_refused_by_the_parser():
    with pytest.raises(SystemExit):
        main(["prepare", "coco"])
