import argparse
import dataclasses
from dataclasses import replace

import pytest

from workshop_helpers.datasets import VOC_SUBSETS
from workshop_helpers.settings import (
    CHOICES,
    CPU,
    FAST,
    FULL,
    Settings,
    SettingsError,
    add_arguments,
    env_name,
    from_arguments,
    load_settings,
)


def test_full_settings_are_the_original_recipe():
    assert (FULL.dataset, FULL.epochs, FULL.batch_size, FULL.learning_rate) == ("voc", 20, 4, 1e-4)
    assert (FULL.crop_size, FULL.pretrained_batchnorm, FULL.cosine_decay) == (224, "train", False)
    assert load_settings({}, preset="full") == FULL
    assert load_settings({"WORKSHOP_PRESET": "full"}) == FULL


def test_with_no_preset_named_the_machine_chooses_and_the_line_says_why(monkeypatch):
    chosen = load_settings({})
    assert chosen.preset == "cpu" and chosen.training_fields() == CPU.training_fields()
    assert chosen.describe().startswith(
        'cpu preset (no GPU found; start(preset="full") for the original recipe) · VOC · 5 epochs'
    )
    monkeypatch.setattr("workshop_helpers.settings.gpu_available", lambda: True)
    on_a_gpu = load_settings({})
    assert on_a_gpu.preset == "full" and on_a_gpu.training_fields() == FULL.training_fields()
    assert on_a_gpu.describe().startswith("full preset (GPU found) · VOC · 20 epochs")
    # A named preset always wins, and its line gives no reason.
    for named in (load_settings({"WORKSHOP_PRESET": "full"}), load_settings({}, preset="fast")):
        assert named.preset_reason == "" and "(" not in named.describe().split(" · ")[0]
    assert load_settings({"WORKSHOP_FAST": "1"}).preset == "fast"


def test_the_reason_is_not_a_setting_anyone_passes():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert "--preset-reason" not in parser.format_help()
    with pytest.raises(SettingsError, match="Unknown setting 'preset_reason'"):
        load_settings({}, preset_reason="because")
    ignored = load_settings({env_name("preset_reason"): "because"})
    assert ignored.preset_reason.startswith("no GPU found")


def test_short_presets_train_the_decoder_on_frozen_imagenet_features():
    assert FAST.freeze_pretrained_encoder and CPU.freeze_pretrained_encoder


def test_preset_then_environment_then_overrides():
    settings = load_settings(
        {"WORKSHOP_FAST": "1", "WORKSHOP_DATASET": "camvid", "WORKSHOP_EPOCHS": "3"}
    )
    assert settings.fast and settings.dataset == "camvid" and settings.epochs == 3
    assert settings.max_train_images == FAST.max_train_images
    assert load_settings({"WORKSHOP_PRESET": "cpu"}).crop_size == 160
    assert load_settings({"WORKSHOP_EPOCHS": "3"}, epochs=7).epochs == 7
    assert load_settings({"WORKSHOP_MODELS": "checkpoint"}).models == "checkpoint"
    assert (
        load_settings({"WORKSHOP_MAX_TRAIN_IMAGES": "none"}, preset="fast").max_train_images is None
    )


@pytest.mark.parametrize(
    "variable, value, message",
    [
        ("WORKSHOP_EPOCHS", "abc", "WORKSHOP_EPOCHS must be a whole number, not 'abc'."),
        ("WORKSHOP_EPOCHS", "0", "WORKSHOP_EPOCHS must be at least 1, not '0'."),
        ("WORKSHOP_BATCH_SIZE", "0", "WORKSHOP_BATCH_SIZE must be at least 1, not '0'."),
        (
            "WORKSHOP_MAX_TRAIN_IMAGES",
            "0",
            "WORKSHOP_MAX_TRAIN_IMAGES must be at least 1, not '0'.",
        ),
        ("WORKSHOP_LEARNING_RATE", "fast", "WORKSHOP_LEARNING_RATE must be a number, not 'fast'."),
        ("WORKSHOP_CROP_SIZE", "100", "WORKSHOP_CROP_SIZE must be divisible by 32, not '100'."),
        (
            "WORKSHOP_PRESET",
            "turbo",
            "WORKSHOP_PRESET must be one of full, fast, cpu, not 'turbo'.",
        ),
        (
            "WORKSHOP_MODELS",
            "cloud",
            "WORKSHOP_MODELS must be one of train, checkpoint, download, not 'cloud'.",
        ),
        ("WORKSHOP_FAST", "maybe", "WORKSHOP_FAST must be 1 or 0, not 'maybe'."),
        (
            "WORKSHOP_VOC_SUBSET",
            "tiny",
            "WORKSHOP_VOC_SUBSET must be one of all, original, not 'tiny'.",
        ),
    ],
)
def test_bad_values_are_refused_in_one_line_naming_the_variable(variable, value, message):
    with pytest.raises(SettingsError) as error:
        load_settings({variable: value})
    assert str(error.value) == message


def test_notebook_overrides_are_checked_too():
    with pytest.raises(SettingsError, match="^epochs must be at least 1, not 0.$"):
        load_settings({}, epochs=0)
    with pytest.raises(SettingsError, match="Unknown setting 'epoch'"):
        load_settings({}, epoch=3)


def test_every_field_has_a_variable_a_flag_and_help():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    flags = {action.dest for action in parser._actions}
    internal = {"preset_reason"}  # said by the machine, set by no one
    for name in set(Settings.__dataclass_fields__) - internal:
        assert name in flags and env_name(name) == f"WORKSHOP_{name.upper()}"
    assert not internal & flags
    settings = from_arguments(
        parser.parse_args(["--preset", "cpu", "--epochs", "2", "--dataset", "camvid"]), environ={}
    )
    assert (settings.preset, settings.epochs, settings.dataset, settings.crop_size) == (
        "cpu",
        2,
        "camvid",
        224,
    )
    with pytest.raises(SettingsError, match="^--batch-size must be at least 1, not '0'.$"):
        from_arguments(parser.parse_args(["--batch-size", "0"]), environ={})


def test_short_checkpoints_never_overwrite_full_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKSHOP_CHECKPOINTS", str(tmp_path))
    assert FULL.checkpoint("scratch") == tmp_path / "voc_scratch.keras"
    assert FAST.checkpoint("scratch") == tmp_path / "voc_scratch_fast.keras"
    assert "models" not in FAST.training_fields() and "epochs" in FAST.training_fields()


def test_the_voc_subset_is_a_setting_with_its_variable_and_flag():
    assert (FULL.voc_subset, FULL.prepared_dataset) == ("all", "voc")
    assert set(CHOICES["voc_subset"]) == set(VOC_SUBSETS)
    original = load_settings({"WORKSHOP_VOC_SUBSET": "Original", "WORKSHOP_FAST": "1"})
    assert (original.voc_subset, original.prepared_dataset, original.fast) == (
        "original",
        "voc_original",
        True,
    )
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    flagged = from_arguments(parser.parse_args(["--voc-subset", "original"]), environ={})
    assert flagged.prepared_dataset == "voc_original"
    assert (
        from_arguments(
            parser.parse_args(["--voc-subset", "all"]), environ={"WORKSHOP_VOC_SUBSET": "original"}
        ).prepared_dataset
        == "voc"
    )
    with pytest.raises(SystemExit):
        parser.parse_args(["--voc-subset", "tiny"])
    camvid = load_settings({"WORKSHOP_VOC_SUBSET": "original", "WORKSHOP_DATASET": "camvid"})
    assert camvid.prepared_dataset == "camvid"


def test_the_subsets_checkpoints_never_collide(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKSHOP_CHECKPOINTS", str(tmp_path))
    original = replace(FAST, voc_subset="original")
    assert original.checkpoint("scratch") == tmp_path / "voc_original_scratch_fast.keras"
    names = {
        settings.checkpoint(kind)
        for settings in (FULL, FAST, CPU, original, replace(FULL, voc_subset="original"))
        for kind in ("scratch", "pretrained")
    }
    assert len(names) == 10
    assert original.training_fields()["voc_subset"] == "original"  # reuse needs the same subset


def test_notebooks_get_the_subsets_own_dataset(tmp_path, monkeypatch):
    from workshop_helpers.session import start

    monkeypatch.setenv("WORKSHOP_DATA_DIR", str(tmp_path))
    (tmp_path / "voc_original").mkdir()
    (tmp_path / "voc_original" / ".complete").write_text("ok\n")  # prepared: nothing to do
    settings, spec = start(voc_subset="original", quiet=True)
    assert (settings.dataset, spec.name) == ("voc", "voc_original")


def test_the_settings_fit_one_line_and_list_every_value_on_demand():
    fast = load_settings({}, preset="fast")
    assert fast.describe() == (
        "fast preset · VOC · 2 epochs on 144 images · batch 4 · Adam 1e-3 · "
        "pretrained model: frozen ImageNet encoder"
    )
    cpu = load_settings({}, preset="cpu", dataset="voc", models="checkpoint")
    assert "\n" not in cpu.describe() and "VOC" in cpu.describe()
    assert "160² crops" in cpu.describe() and "cosine decay" in cpu.describe()
    assert cpu.describe().endswith("models trained beforehand")
    assert "ImageNet encoder fine-tuned" in load_settings({}, preset="full").describe()
    every = str(fast).splitlines()
    assert every == fast.describe(all=True).splitlines()
    assert len(every) == len(dataclasses.fields(fast))
    assert "fine_tune_learning_rate: 0.0001" in str(fast)


def test_the_cpu_preset_fine_tunes_everything_on_camvid_and_a_named_setting_still_wins():
    camvid = load_settings({}, preset="cpu", dataset="camvid")
    assert (camvid.epochs, camvid.crop_size, camvid.warmup_epochs) == (6, 224, 1)
    assert not camvid.freeze_pretrained_encoder and camvid.pretrained_batchnorm == "inference"
    assert (camvid.batch_size, camvid.learning_rate, camvid.cosine_decay) == (8, 1e-3, True)
    assert camvid.describe() == (
        "cpu preset · CamVid · 6 epochs on all images · batch 8 · Adam 1e-3, warm-up 1 epoch, "
        "cosine decay · pretrained model: ImageNet encoder fine-tuned, "
        "its BatchNorm statistics kept"
    )
    assert load_settings({"WORKSHOP_DATASET": "camvid"}, preset="cpu") == camvid
    assert load_settings({}, preset="cpu") == CPU  # VOC keeps the frozen encoder
    assert load_settings({}, preset="fast", dataset="camvid").freeze_pretrained_encoder
    named = load_settings({"WORKSHOP_CROP_SIZE": "160"}, preset="cpu", dataset="camvid", epochs=3)
    assert (named.crop_size, named.epochs, named.warmup_epochs) == (160, 3, 1)
    # One epoch leaves no room for the preset's warm-up: it is dropped, not an error.
    assert load_settings({}, preset="cpu", dataset="camvid", epochs=1).warmup_epochs == 0
