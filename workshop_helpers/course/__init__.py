"""The course around the lesson code: exercise checks, diagrams, the pitfalls of notebook 9, and
`lessons` (the notebooks' taught cells and solved copies, for maintainers)."""

from .diagrams import draw_classification_vs_fcn, draw_encoder_decoder
from .exercises import (
    check_batches_per_epoch,
    check_first_decoder_conv_parameters,
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
    "as_stored",
    "check_batches_per_epoch",
    "check_first_decoder_conv_parameters",
    "check_masked_loss",
    "check_most_improved_class",
    "check_trainable_with_frozen_encoder",
    "check_void_label",
    "colour_labels",
    "draw_classification_vs_fcn",
    "draw_encoder_decoder",
    "foreign_labels",
    "mask_resizing_damage",
    "resize_masks",
    "stuck_mean_iou",
    "truncate_to_labels",
    "void_as_background",
]
