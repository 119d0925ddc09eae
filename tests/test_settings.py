import pytest

from workshop_helpers.settings import FAST, FULL, load_settings


def test_full_settings_are_the_seed_recipe():
    assert (FULL.dataset, FULL.epochs, FULL.batch_size, FULL.learning_rate) == ("voc", 20, 4, 1e-4)
    assert load_settings({}) == FULL


def test_fast_mode_and_overrides():
    settings = load_settings({"WORKSHOP_FAST": "1", "WORKSHOP_DATASET": "camvid", "WORKSHOP_EPOCHS": "3"})
    assert settings.fast and settings.dataset == "camvid" and settings.epochs == 3
    assert settings.max_train_images == FAST.max_train_images
    assert load_settings({"WORKSHOP_USE_CHECKPOINTS": "yes"}).use_checkpoints
    assert load_settings({"WORKSHOP_PRESET": "cpu"}).crop_size == 160
    with pytest.raises(ValueError, match="WORKSHOP_PRESET"):
        load_settings({"WORKSHOP_PRESET": "turbo"})


def test_fast_checkpoints_never_overwrite_full_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKSHOP_CHECKPOINTS", str(tmp_path))
    assert FULL.checkpoint("scratch") == tmp_path / "voc_scratch.keras"
    assert FAST.checkpoint("scratch") == tmp_path / "voc_scratch_fast.keras"
    assert FULL.train_kwargs(pretrained=True)["pretrained"] is True
