import keras
import numpy as np
import pytest

from workshop_helpers import build_model, masked_loss
from workshop_helpers.course.distillation import (
    DistillationLoss,
    TeacherTargets,
    build_student,
    count_flops,
    distillation_loss,
    logits_of,
)
from workshop_helpers.pipeline import SegmentationGenerator


@pytest.fixture
def scores(rng):
    labels = rng.integers(0, 4, (2, 8, 8)).astype("int32")
    teacher = rng.normal(0, 2, (2, 8, 8, 4)).astype("float32")
    student = rng.normal(0, 2, (2, 8, 8, 4)).astype("float32")
    return labels, teacher, student


def _value(tensor) -> float:
    return float(keras.ops.convert_to_numpy(tensor))


def test_the_teacher_term_is_keras_logits_distillation(scores):
    labels, teacher, student = scores
    # A KLDivergence instance: with the default loss="kl_divergence" (a function, not an instance)
    # Keras 3.15 applies the KL divergence to the softened logits themselves, not to their softmax.
    reference = keras.distillation.LogitsDistillation(3.0, keras.losses.KLDivergence())
    expected = _value(reference.compute_loss(teacher, student))
    ours = _value(distillation_loss(labels, teacher, student, temperature=3.0, alpha=0.0))
    assert ours == pytest.approx(expected, rel=1e-4)


def test_alpha_one_is_the_masked_loss_of_notebook_3(scores):
    labels, teacher, student = scores
    labels[0, :3] = -1
    expected = _value(masked_loss(labels, keras.ops.softmax(student, axis=-1)))
    assert _value(distillation_loss(labels, teacher, student, alpha=1.0)) == pytest.approx(
        expected, rel=1e-6
    )


def test_void_pixels_count_in_neither_term(scores):
    labels, teacher, student = scores
    labels[:, :4] = -1
    loss = _value(distillation_loss(labels, teacher, student, alpha=0.5))
    # Anything at the void pixels leaves the loss as it was.
    teacher[:, :4], student[:, :4] = 50.0, -50.0
    assert _value(distillation_loss(labels, teacher, student, alpha=0.5)) == pytest.approx(loss)
    # Only the labelled half: the same as scoring it alone.
    half = [array[:, 4:] for array in (labels, teacher, student)]
    assert _value(distillation_loss(*half, alpha=0.5)) == pytest.approx(loss, rel=1e-5)


def test_the_temperature_softens_the_teacher(scores):
    labels, teacher, student = scores
    # A student that agrees with the teacher owes it nothing at any temperature.
    for temperature in (1.0, 4.0):
        assert _value(
            distillation_loss(labels, teacher, teacher, temperature, alpha=0.0)
        ) == pytest.approx(0.0, abs=1e-5)
    # Softer targets (higher T) differ less before the T² factor: KL/T² falls with T.
    kl = {
        t: _value(distillation_loss(labels, teacher, student, t, alpha=0.0)) / t**2
        for t in (1.0, 2.0, 4.0)
    }
    assert kl[1.0] > kl[2.0] > kl[4.0] > 0


def test_the_keras_loss_unpacks_labels_then_teacher_scores(scores):
    labels, teacher, student = scores
    packed = np.concatenate([labels[..., None].astype("float32"), teacher], axis=-1)
    loss = DistillationLoss(alpha=0.3, temperature=2.0)
    expected = _value(distillation_loss(labels, teacher, student, 2.0, 0.3))
    assert _value(loss(packed, student)) == pytest.approx(expected, rel=1e-5)
    assert DistillationLoss.from_config(loss.get_config()).alpha == 0.3


def test_the_student_costs_a_fraction_of_the_teacher():
    teacher, student = build_model(6), build_student(6, pretrained=False)
    assert student.output_shape == teacher.output_shape == (None, 224, 224, 6)
    # The teacher's convolutions at 224²: the profile measured 2.83 GFLOP in all.
    assert 2.5e9 < count_flops(teacher) < 2.9e9
    # Counted at 224² whatever size a model was built for.
    assert count_flops(build_model(6, input_size=160)) == pytest.approx(count_flops(teacher))
    assert count_flops(student) < count_flops(teacher) / 3
    assert student.count_params() < teacher.count_params()
    assert logits_of(student).output_shape == (None, 224, 224, 6)


def test_teacher_targets_pack_labels_and_the_teachers_scores(rng):
    images = rng.integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    masks = rng.integers(-1, 3, (4, 64, 64)).astype(np.int8)
    batches = SegmentationGenerator(images, masks, 2, augment=False, crop_size=64)
    teacher = build_model(3, input_size=64)
    x, y = TeacherTargets(batches, teacher, 3)[0]
    assert y.shape == (2, 64, 64, 4)
    np.testing.assert_array_equal(y[..., 0], batches[0][1].reshape(2, 64, 64))
    np.testing.assert_allclose(y[..., 1:], logits_of(teacher).predict_on_batch(x), atol=1e-5)
    _, unlabelled = TeacherTargets(batches, teacher, 3, labels=False)[0]
    assert (unlabelled[..., 0] == 0).all()  # every pixel is the teacher's to label
    _, labels_only = TeacherTargets(batches, None, 3)[0]
    assert (labels_only[..., 1:] == 0).all()
