"""The course around the lesson code: exercise checks, diagrams, the pitfalls of notebook 9, the
distillation of notebook 10, and `lessons` (the notebooks' taught cells and solved copies, for
maintainers)."""

from .diagrams import draw_classification_vs_fcn, draw_encoder_decoder
from .distillation import (
    STUDENT_FILTERS,
    STUDENT_LEARNING_RATE,
    STUDENT_OUTPUTS,
    TEMPERATURE,
    DistillationLoss,
    TeacherTargets,
    build_student,
    costs,
    count_flops,
    distillation_loss,
    logits_of,
    results_table,
    train_student,
)
from .exercises import (
    check_batches_per_epoch,
    check_first_decoder_conv_parameters,
    check_light_decoder,
    check_masked_loss,
    check_most_improved_class,
    check_trainable_with_frozen_encoder,
    check_void_label,
)
from .pitfalls import (
    as_stored,
    colour_labels,
    foreign_labels,
    mask_resizing_damage,
    resize_masks,
    stuck_mean_iou,
    truncate_to_labels,
    void_as_background,
)

__all__ = [
    "DistillationLoss",
    "STUDENT_FILTERS",
    "STUDENT_LEARNING_RATE",
    "STUDENT_OUTPUTS",
    "TEMPERATURE",
    "TeacherTargets",
    "as_stored",
    "build_student",
    "check_batches_per_epoch",
    "check_first_decoder_conv_parameters",
    "check_light_decoder",
    "check_masked_loss",
    "check_most_improved_class",
    "check_trainable_with_frozen_encoder",
    "check_void_label",
    "colour_labels",
    "costs",
    "count_flops",
    "distillation_loss",
    "draw_classification_vs_fcn",
    "draw_encoder_decoder",
    "foreign_labels",
    "logits_of",
    "mask_resizing_damage",
    "resize_masks",
    "results_table",
    "stuck_mean_iou",
    "train_student",
    "truncate_to_labels",
    "void_as_background",
]
