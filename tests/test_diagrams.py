import matplotlib

matplotlib.use("Agg")

from matplotlib.patches import FancyArrowPatch

from workshop_helpers.course.diagrams import draw_classification_vs_fcn, draw_encoder_decoder

ENCODER_ARROW, DECODER_ARROW = (0, 0, 0), (0xAA / 255, 0x77 / 255, 0)


def _arrows(figure, colour):
    arrows = [p for p in figure.axes[0].patches if isinstance(p, FancyArrowPatch)]
    return [a._posA_posB for a in arrows if tuple(a.get_edgecolor()[:3]) == colour]


def test_unet_arrows_go_down_the_encoder_and_up_the_decoder():
    figure = draw_encoder_decoder(with_skips=True)
    down, up = _arrows(figure, ENCODER_ARROW), _arrows(figure, DECODER_ARROW)
    assert len(down) == 5 and len(up) == 5
    assert all(x1 > x0 and y1 < y0 for (x0, y0), (x1, y1) in down)
    assert all(x1 > x0 and y1 > y0 for (x0, y0), (x1, y1) in up)


def test_both_halves_of_the_unet_name_their_sizes():
    texts = [t.get_text() for t in draw_encoder_decoder(with_skips=False).axes[0].texts]
    for size in (224, 112, 56, 28, 14):
        assert texts.count(f"{size}²") == 2, size


def test_classifier_figure_builds():
    assert len(draw_classification_vs_fcn().axes) == 2
