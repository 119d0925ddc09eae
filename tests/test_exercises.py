import keras
import numpy as np
import pytest

from workshop_helpers import SegmentationGenerator, build_model, freeze_encoder
from workshop_helpers.course.exercises import (
    FILL_IN,
    check_batches_per_epoch,
    check_first_decoder_conv_parameters,
    check_light_decoder,
    check_masked_loss,
    check_miou_gain,
    check_most_improved_class,
    check_trainable_with_frozen_encoder,
    check_void_label,
)


def assert_wrong_without_the_answer(verdict, answer_text):
    assert verdict.correct is False and verdict.message.startswith("Not yet. Hint:")
    assert answer_text not in verdict.message


@pytest.fixture(scope="module")
def model():
    return build_model(3, input_size=32)


def test_no_answer_yet_asks_to_fill_in_and_is_not_a_failure():
    for verdict in (
        check_void_label(None),
        check_void_label(""),
        check_miou_gain(None, {"mIoU": 0.1}, {"mIoU": 0.3}),
    ):
        assert verdict.correct is None and not verdict and repr(verdict) == FILL_IN


def test_batches_per_epoch_rounds_up_the_last_partial_batch():
    images, masks = np.zeros((10, 256, 256, 3), np.uint8), np.zeros((10, 256, 256), np.int8)
    batches = SegmentationGenerator(images, masks, batch_size=4, augment=True)
    assert check_batches_per_epoch(3, batches) and check_batches_per_epoch("3", batches)
    verdict = check_batches_per_epoch(2, batches)
    assert_wrong_without_the_answer(verdict, "3")
    assert "too low" in verdict.message
    assert "number" in check_batches_per_epoch("three", batches).message


def test_void_label():
    assert check_void_label(-1) and check_void_label("-1")
    assert_wrong_without_the_answer(check_void_label(255), "-1")
    assert "too high" in check_void_label(255).message


def test_first_decoder_convolution_counted_by_hand(model):
    by_hand = (
        3 * 3 * (1280 + 96) * 128 + 128
    )  # encoder output + deepest skip in, 128 filters, biases
    assert check_first_decoder_conv_parameters(by_hand, model)
    assert check_first_decoder_conv_parameters(f"{by_hand:,}", model)
    forgot_biases = check_first_decoder_conv_parameters(by_hand - 128, model)
    assert_wrong_without_the_answer(forgot_biases, str(by_hand))
    assert "bias" in forgot_biases.message
    assert_wrong_without_the_answer(
        check_first_decoder_conv_parameters(3 * 3 * 1280 * 128, model), str(by_hand)
    )


def light_model(block, filters=(64, 32, 16, 16)):
    """Notebook 3's build_light_model around a given decoder block, at a small input size."""
    from keras import layers

    from workshop_helpers.model import SKIP_LAYER_NAMES, build_encoder

    encoder = build_encoder(32)
    skips = [encoder.get_layer(name).output for name in reversed(SKIP_LAYER_NAMES)]
    x = encoder.output
    for block_filters, skip in zip(filters, skips):
        x = block(x, skip, block_filters)
    x = layers.Conv2D(3, 1)(layers.UpSampling2D()(x))
    return keras.Model(encoder.input, layers.Softmax()(x))


def test_the_light_decoder_waits_for_the_student_then_gives_its_size(model):
    from keras import layers

    from workshop_helpers.course.exercises import LIGHT_DECODER_TO_DO

    def stub(x, skip, filters):  # the cell as given
        return layers.Concatenate()([layers.UpSampling2D()(x), skip])

    def transposed(x, skip, filters, strides=2, activation="relu"):
        up = layers.Conv2DTranspose(
            filters, 3, strides=strides, padding="same", activation=activation
        )
        return layers.Concatenate()([up(x), skip])

    untouched = check_light_decoder(light_model(stub), model)
    assert untouched.correct is None and not untouched and repr(untouched) == LIGHT_DECODER_TO_DO
    assert "parameters" not in untouched.message  # no result that looks like one
    solved = light_model(transposed)
    right = check_light_decoder(solved, model)
    assert right.correct is True and f"{solved.count_params():,} parameters" in right.message
    wrong_filters = light_model(transposed, filters=(128, 64, 32, 16))
    assert check_light_decoder(wrong_filters, model).correct is False
    no_relu = light_model(lambda x, skip, filters: transposed(x, skip, filters, activation=None))
    assert "relu" in check_light_decoder(no_relu, model).message

    def both(x, skip, filters):  # a transposed convolution after the upsampling
        return transposed(layers.UpSampling2D()(x), skip, filters, strides=1)

    assert check_light_decoder(light_model(both), model).correct is False


def test_masked_loss_by_hand_and_the_all_pixel_slip():
    labels = np.array([[[[0], [2], [-1]]]], dtype="int32")
    probabilities = np.array(
        [[[[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.9, 0.05, 0.05]]]], dtype="float32"
    )
    by_hand = -(np.log(0.7) + np.log(0.6)) / 2
    assert check_masked_loss(round(by_hand, 3), labels, probabilities)
    slip = check_masked_loss(-(np.log(0.7) + np.log(0.6)) / 3, labels, probabilities)
    assert_wrong_without_the_answer(slip, f"{by_hand:.3f}")
    assert "void" in slip.message
    assert not check_masked_loss(-np.log(0.7 * 0.6 * 0.9) / 3, labels, probabilities)


def test_trainable_parameters_with_a_frozen_encoder(model):
    frozen = freeze_encoder(build_model(3, input_size=32))
    decoder = sum(int(np.prod(w.shape)) for w in frozen.trainable_weights)
    assert check_trainable_with_frozen_encoder(
        decoder, model
    )  # the model passed in need not be frozen
    assert check_trainable_with_frozen_encoder(decoder, frozen)
    everything = check_trainable_with_frozen_encoder(model.count_params(), model)
    assert_wrong_without_the_answer(everything, f"{decoder}")
    assert "every parameter" in everything.message
    assert not check_trainable_with_frozen_encoder(decoder + 1, model)


SCRATCH = {"mIoU": 0.195, "per_class_iou": [0.80, 0.10, 0.05, None]}
PRETRAINED = {"mIoU": 0.374, "per_class_iou": [0.85, 0.50, 0.20, None]}
NAMES = ("background", "car", "person", "sign")


def test_miou_gain_from_the_run_numbers():
    assert check_miou_gain(0.179, SCRATCH, PRETRAINED) and check_miou_gain(
        "0.18", SCRATCH, PRETRAINED
    )
    assert_wrong_without_the_answer(check_miou_gain(0.374, SCRATCH, PRETRAINED), "0.179")
    points = check_miou_gain(17.9, SCRATCH, PRETRAINED)
    assert not points and "percentage points" in points.message
    other_run = {"mIoU": 0.5, "per_class_iou": []}  # the answer follows the run, not a constant
    assert check_miou_gain(0.305, SCRATCH, other_run) and not check_miou_gain(
        0.179, SCRATCH, other_run
    )


def test_most_improved_class_by_name_or_index():
    assert check_most_improved_class("car", SCRATCH, PRETRAINED, NAMES)
    assert check_most_improved_class(" Car ", SCRATCH, PRETRAINED, NAMES)
    assert check_most_improved_class(1, SCRATCH, PRETRAINED, NAMES)
    best_iou = check_most_improved_class("background", SCRATCH, PRETRAINED, NAMES)
    assert_wrong_without_the_answer(best_iou, "car")
    assert "segments best" in best_iou.message
    assert not check_most_improved_class("person", SCRATCH, PRETRAINED, NAMES)
    assert "class names" in check_most_improved_class("bicycle", SCRATCH, PRETRAINED, NAMES).message
