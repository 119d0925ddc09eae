import numpy as np
import pytest

from workshop_helpers.comparison import MARGINS, Comparison, evaluate_models


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
    assert "pretrained − scratch, BatchNorm re-estimated = +0.250 ≥ 0.10" in result.report()


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
    assert not result.holds and "FAILS" in result.report()


def test_camvid_fast_shows_the_batchnorm_fixed_comparison_without_requiring_it():
    assert MARGINS[("camvid", "fast")][1] is None
    result = comparison(0.02, 0.20, 0.18, dataset="camvid")
    assert result.holds and "shown, no margin required" in result.report()


def test_evaluate_models_scores_each_model(scratch_model, rng):
    images = rng.integers(0, 256, (2, 256, 256, 3), dtype=np.uint8)
    masks = rng.integers(-1, 6, (2, 256, 256)).astype(np.int8)
    scores = evaluate_models({"a": scratch_model}, images, masks, 6)
    assert 0 <= scores["a"]["mIoU"] <= 1 and scores["a"]["confusion"].shape == (6, 6)
