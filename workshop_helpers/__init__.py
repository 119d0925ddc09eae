"""The workshop's lesson code: what the notebooks teach and call, by name.

The lesson's core lives here, one module per step of the course (datasets, pipeline, model,
metrics, inference, training, checkpoints, plotting, comparison). Its wings are imported by name:
`data` (downloads and preparation), `demos` (camera, viewer, export), `course` (exercises,
diagrams, pitfalls, the notebooks' own machinery) and `tools` (the command line, benchmarks,
publishing checkpoints).
"""

from .quiet import import_keras_quietly

# Before any module imports Keras: TensorFlow's C++ start-up lines would otherwise reach every
# notebook cell.
import_keras_quietly()

from .checkpoints import load_checkpoint, load_trained, load_trained_beforehand, save_checkpoint
from .comparison import compare, evaluate_models, scores_table
from .datasets import (
    CAMVID,
    DATASETS,
    VOC,
    VOC_SUBSETS,
    DataNotFoundError,
    DatasetSpec,
    FolderDatasetError,
    describe_voc_subset,
    get_spec,
    is_partial,
    load_split,
    read_ids,
)
from .inference import predict, predict_labels, sliding_window_predict
from .metrics import (
    MaskedPixelAccuracy,
    class_pixel_shares,
    evaluate,
    masked_loss,
    mean_iou_metric,
    median_frequency_weights,
    per_image_weighted_iou,
    scores_from_labels,
)
from .model import (
    batchnorm_layers,
    build_encoder,
    build_model,
    freeze_encoder,
    reestimate_batchnorm,
    with_reestimated_batchnorm,
)
from .paths import default_data_dir, display_path
from .pipeline import SegmentationGenerator, preprocess
from .plotting import (
    PredictionPreview,
    class_legend,
    colorize,
    plot_confusion_matrix,
    plot_histories,
    plot_iou_bars,
    plot_pair,
    plot_predictions,
    plot_segmentation,
    show_legend,
)
from .session import start
from .settings import Settings, load_settings
from .training import (
    compile_model,
    configure_batchnorm,
    estimate_fit_time,
    get_trained_model,
    keep_batchnorm_statistics,
    learning_rate_for,
    set_batchnorm_momentum,
    train,
)

__all__ = [
    "CAMVID",
    "DATASETS",
    "VOC",
    "VOC_SUBSETS",
    "DataNotFoundError",
    "DatasetSpec",
    "FolderDatasetError",
    "MaskedPixelAccuracy",
    "PredictionPreview",
    "SegmentationGenerator",
    "Settings",
    "batchnorm_layers",
    "build_encoder",
    "build_model",
    "class_legend",
    "class_pixel_shares",
    "colorize",
    "compare",
    "compile_model",
    "configure_batchnorm",
    "default_data_dir",
    "describe_voc_subset",
    "display_path",
    "estimate_fit_time",
    "evaluate",
    "evaluate_models",
    "freeze_encoder",
    "get_spec",
    "get_trained_model",
    "is_partial",
    "keep_batchnorm_statistics",
    "learning_rate_for",
    "load_checkpoint",
    "load_settings",
    "load_split",
    "load_trained",
    "load_trained_beforehand",
    "masked_loss",
    "mean_iou_metric",
    "median_frequency_weights",
    "per_image_weighted_iou",
    "plot_confusion_matrix",
    "plot_histories",
    "plot_iou_bars",
    "plot_pair",
    "plot_predictions",
    "plot_segmentation",
    "predict",
    "predict_labels",
    "preprocess",
    "read_ids",
    "reestimate_batchnorm",
    "save_checkpoint",
    "scores_from_labels",
    "scores_table",
    "set_batchnorm_momentum",
    "show_legend",
    "sliding_window_predict",
    "start",
    "train",
    "with_reestimated_batchnorm",
]
