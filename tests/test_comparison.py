import numpy as np
import pytest

from workshop_helpers import VOC
from workshop_helpers.comparison import MARGINS, ClaimError, Comparison, evaluate_models


def comparison(scratch, recalibrated, pretrained, losses=(1.0, 0.8), dataset="voc", preset="fast"):
    scores = {
        name: {"mIoU": value}
        for name, value in (
            ("scratch", scratch),
            ("scratch, BatchNorm re-estimated", recalibrated),
            ("pretrained", pretrained),
        )
    }
    return Comparison(dataset, preset, scores, list(losses))


def test_claim_holds_when_both_margins_are_met_and_the_loss_falls():
    result = comparison(0.14, 0.15, 0.40)
    assert result.holds and all(ok for _, ok in result.checks())
    assert (
        "✓ the ImageNet encoder beats the scratch model with re-estimated BatchNorm by "
        "+0.250 mIoU (the lesson asks for at least 0.10)"
    ) in result.report()
    result.verify()  # no error


@pytest.mark.parametrize(
    "scores, losses",
    [
        (
            (0.14, 0.35, 0.40),
            (1.0, 0.8),
        ),  # the features no longer beat a scratch model with fixed BatchNorm
        ((0.35, 0.14, 0.40), (1.0, 0.8)),  # nor the plain scratch model
        ((0.14, 0.15, 0.40), (1.0, 1.6)),  # the pretrained model's validation loss rises
    ],
)
def test_claim_fails_when_imagenet_features_stop_helping(scores, losses):
    result = comparison(*scores, losses=losses)
    assert not result.holds and "✗" in result.report()
    with pytest.raises(ClaimError, match="the lesson's claim does not hold"):
        result.verify()


def test_camvid_fast_shows_the_batchnorm_fixed_comparison_without_requiring_it():
    assert MARGINS[("camvid", "fast")][1] is None
    result = comparison(0.02, 0.20, 0.18, dataset="camvid")
    assert result.holds and "· the ImageNet encoder against" in result.report()


def test_the_original_voc_subset_is_asked_for_vocs_margins():
    for preset in ("full", "fast", "cpu"):
        assert MARGINS[("voc_original", preset)] == MARGINS[("voc", preset)] == (0.10, 0.10)
    # +0.14 and +0.06: enough for the fallback margins (0.10, 0.05) of an unlisted dataset.
    assert comparison(0.05, 0.13, 0.19, dataset="other").holds
    assert not comparison(0.05, 0.13, 0.19, dataset="voc_original").holds


def test_evaluate_models_scores_each_model(scratch_model, rng):
    images = rng.integers(0, 256, (2, 256, 256, 3), dtype=np.uint8)
    masks = rng.integers(-1, 6, (2, 256, 256)).astype(np.int8)
    scores = evaluate_models({"a": scratch_model}, images, masks, 6)
    assert 0 <= scores["a"]["mIoU"] <= 1 and scores["a"]["confusion"].shape == (6, 6)


def test_table_holds_every_class_and_both_summaries():
    result = comparison(0.14, 0.15, 0.40)
    for name, scores in result.scores.items():
        scores.update(per_class_iou=[0.5, None, 0.1, 0.2, 0.3, 0.4], pixel_accuracy=0.8)
    table = result.table()
    assert list(table.index) == [*VOC.class_names, "mIoU", "pixel accuracy"]
    assert list(table.columns) == list(result.scores)
    assert np.isnan(table.loc["aeroplane", "pretrained"]) and table.loc["mIoU", "pretrained"] == 0.4


def test_scores_table_takes_any_named_scores():
    from workshop_helpers.comparison import scores_table

    scores = {"a": {"per_class_iou": [0.5, None], "mIoU": 0.5, "pixel_accuracy": 0.91234}}
    table = scores_table({**scores, "b": {**scores["a"], "mIoU": 0.25}}, ("background", "cat"))
    assert list(table.index) == ["background", "cat", "mIoU", "pixel accuracy"]
    assert list(table.columns) == ["a", "b"] and np.isnan(table.loc["cat", "a"])
    assert table.loc["pixel accuracy", "b"] == 0.912 and table.loc["mIoU", "b"] == 0.25
    before, after = ({"per_class_iou": [v], "mIoU": v, "pixel_accuracy": v} for v in (0.1, 0.1136))
    changed = scores_table({"before": before, "after": after}, ("background",), change=True)
    assert list(changed.columns) == ["before", "after", "change"]
    assert changed.loc["mIoU", "change"] == 0.014  # from the unrounded scores, not 0.114 - 0.1
    tiny = {**before, "mIoU": 0.09999}
    assert "-" not in str(scores_table({"a": before, "b": tiny}, ("background",), change=True))
