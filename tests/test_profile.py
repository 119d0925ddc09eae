"""The training-step profile: op kinds, time covered, the arithmetic's FLOPs and the table."""

import pytest

from workshop_helpers import build_model
from workshop_helpers.course.distillation import count_flops
from workshop_helpers.model import freeze_encoder
from workshop_helpers.settings import CPU
from workshop_helpers.tools.profile import (
    StepProfile,
    _kind_of,
    _union_seconds,
    op_seconds,
    training_flops,
)

# Op names as TensorFlow's profiler records them in a training step of the network.
NAMES = {
    "StatefulPartitionedCall/gradient_tape/mobilenetv2_unet_1/conv2d_4_1/convolution/"
    "Conv2DBackpropFilter:_MklNativeConv2DBackpropFilter": "convolution gradients (weights)",
    "StatefulPartitionedCall/gradient_tape/mobilenetv2_unet_1/conv2d_3_1/convolution/"
    "Conv2DBackpropInput:_MklNativeConv2DBackpropInput": "convolution gradients (inputs)",
    "StatefulPartitionedCall/mobilenetv2_unet_1/conv2d_4_1/Relu:_MklNativeFusedConv2D": (
        "convolution"
    ),
    "StatefulPartitionedCall/mobilenetv2_unet_1/block_1_depthwise_1/depthwise:"
    "_MklNativeDepthwiseConv2dNative": "depthwise convolution and its gradients",
    "StatefulPartitionedCall/gradient_tape/mobilenetv2_unet_1/up_full_1/Repeat_1/Sum:Sum": (
        "upsampling"
    ),
    "StatefulPartitionedCall/mobilenetv2_unet_1/concatenate_1/concat:ConcatV2": "concatenation",
    "StatefulPartitionedCall/mobilenetv2_unet_1/block_1_expand_BN_1/batchnorm/mul_1:Mul": (
        "BatchNorm"
    ),
    "StatefulPartitionedCall/compile_loss/masked_loss/SparseSoftmaxCrossEntropyWithLogits/"
    "SparseSoftmaxCrossEntropyWithLogits:SparseSoftmaxCrossEntropyWithLogits": "softmax and loss",
    "StatefulPartitionedCall/mobilenetv2_unet_1/probabilities_1/Softmax:_MklSoftmax": (
        "softmax and loss"
    ),
    "StatefulPartitionedCall/adam/Sub_2:Sub": "optimizer (Adam)",
    "StatefulPartitionedCall/ScatterNd:ScatterNd": "metrics and the rest",
}


@pytest.mark.parametrize("name", NAMES)
def test_ops_are_sorted_into_the_kinds_the_table_shows(name):
    assert _kind_of(name) == NAMES[name]


def test_time_covered_counts_overlapping_ops_once():
    picoseconds = 10**12
    intervals = [
        (0, 2 * picoseconds),
        (picoseconds, 3 * picoseconds),
        (5 * picoseconds, 6 * picoseconds),
    ]
    assert _union_seconds(intervals) == pytest.approx(4.0)


def test_a_frozen_encoder_leaves_only_the_decoders_gradients():
    model = build_model(6)
    forward = count_flops(model)
    trainable = training_flops(model)
    assert sum(trainable.values()) == pytest.approx(3 * forward)
    freeze_encoder(model)
    frozen = training_flops(model)
    decoder = frozen["convolution gradients (weights)"]
    # The decoder is 78 % of the forward pass, the original notebook's light U-Net.
    assert 0.7 * forward < decoder < 0.85 * forward
    assert frozen["convolution"] + frozen["depthwise convolution and its gradients"] == (
        pytest.approx(forward)
    )


def test_op_seconds_reads_a_real_profile_of_a_convolution(tmp_path):
    import tensorflow as tf

    x = tf.random.normal((2, 64, 64, 8))
    kernel = tf.random.normal((3, 3, 8, 8))
    convolve = tf.function(lambda a, b: tf.nn.conv2d(a, b, 1, "SAME"))
    convolve(x, kernel)
    tf.profiler.experimental.start(str(tmp_path))
    for _ in range(3):
        convolve(x, kernel).numpy()
    tf.profiler.experimental.stop()
    (path,) = tmp_path.glob("plugins/profile/*/*.xplane.pb")
    seconds, busy, per_op = op_seconds(str(path))
    assert seconds["convolution"] > 0 and 0 < busy <= sum(seconds.values()) + 1e-9


def test_the_table_adds_up_to_the_step():
    profile = StepProfile(
        settings=CPU,
        pretrained=True,
        step_ms=100.0,
        profiled_step_ms=100.0,
        top_ops=[("conv2d_4 Conv2DBackpropFilter", 20.0)],
        op_ms={"convolution": 50.0, "metrics and the rest": 10.0},
        busy_ms=55.0,
        generator_ms=2.0,
        flops={"convolution": 1e9},
        peak_flops=2e11,
    )
    rows = {kind: (ms, ideal) for kind, ms, ideal in profile.rows()}
    assert rows["no op running: Python, Keras, waiting"][0] == pytest.approx(45.0)
    assert rows["convolution"][1] == pytest.approx(1000 * CPU.batch_size * 1e9 / 2e11)
    assert profile.images_per_second == pytest.approx(80.0)
    assert profile.share_of_peak == pytest.approx(1e9 * 80 / 2e11)
    assert "| whole step without the profiler | 100.0 | 100% |" in profile.table()


def test_the_profile_command_refuses_another_backend_in_one_line(monkeypatch, capsys):
    from workshop_helpers.tools.cli import main

    monkeypatch.setattr("keras.backend.backend", lambda: "jax")
    assert main(["profile"]) == 1
    assert capsys.readouterr().err.strip() == (
        "error: profile reads TensorFlow's profiler; this Keras runs on jax "
        "(start it with KERAS_BACKEND=tensorflow)."
    )
