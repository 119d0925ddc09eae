"""Where a training step's time goes: TensorFlow's profiler per op type, against the arithmetic.

`python -m workshop_helpers profile` trains a few steps of a preset's pretrained model under the
profiler and prints, per kind of op, the milliseconds per step, and what the same arithmetic would
take at the convolution speed this machine reaches on a lone convolution, measured in the same run.
"""

from __future__ import annotations

import glob
import tempfile
import time
from dataclasses import dataclass

import keras
import numpy as np
from keras import layers

from ..course.distillation import layer_flops
from ..datasets import get_spec
from ..pipeline import SegmentationGenerator
from ..quiet import quiet_stderr
from ..settings import Settings
from ..training import model_to_train

PEAK_CHANNELS = 64
PEAK_SIZE = 224


def convolution_peak(batch_size: int = 4, repeats: int = 5) -> float:
    """FLOP/s of a lone compiled 3x3 64->64 convolution at 224² (fp32), the machine's best case."""
    rng = np.random.default_rng(0)
    x = keras.ops.convert_to_tensor(
        rng.standard_normal((batch_size, PEAK_SIZE, PEAK_SIZE, PEAK_CHANNELS), np.float32)
    )
    kernel = keras.ops.convert_to_tensor(
        rng.standard_normal((3, 3, PEAK_CHANNELS, PEAK_CHANNELS), np.float32)
    )
    convolve = _compiled(lambda a, b: keras.ops.conv(a, b, padding="same"))
    keras.ops.convert_to_numpy(convolve(x, kernel))  # compile
    start = time.perf_counter()
    for _ in range(repeats):
        keras.ops.convert_to_numpy(convolve(x, kernel))
    seconds = (time.perf_counter() - start) / repeats
    return 2 * 9 * PEAK_CHANNELS**2 * PEAK_SIZE**2 * batch_size / seconds


def _compiled(function):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(function)
    if backend == "jax":
        import jax

        return jax.jit(function)
    return function


# Kinds of op, by the op's type and the layer in its name; the first that matches wins.
KINDS = (
    ("depthwise convolution and its gradients", lambda kind, name: "Depthwise" in kind),
    ("convolution", lambda kind, name: "Conv2D" in kind and "Backprop" not in kind),
    ("convolution gradients (weights)", lambda kind, name: "BackpropFilter" in kind),
    ("convolution gradients (inputs)", lambda kind, name: "BackpropInput" in kind),
    ("upsampling", lambda kind, name: "/up_" in name),
    ("concatenation", lambda kind, name: "concatenate" in name or kind == "ConcatV2"),
    ("BatchNorm", lambda kind, name: "_BN" in name or "bn_Conv1" in name),
    ("softmax and loss", lambda kind, name: "compile_loss" in name or "probabilities" in name),
    ("activations, padding and other layers", lambda kind, name: "mobilenetv2" in name),
    ("optimizer (Adam)", lambda kind, name: "/adam/" in name or "AssignVariable" in kind),
    ("metrics and the rest", lambda kind, name: True),
)
# Profiler events that contain ops rather than being ops.
CONTAINERS = ("ExecutorState", "ParallelFor", "ExecutorDone")


def training_flops(model: keras.Model) -> dict[str, float]:
    """FLOPs per image of one training step at the model's input size, by kind of op.

    Forward: every convolution. Backward: each trainable convolution's weight gradient costs what
    its forward pass costs, and so does the gradient to its input (an upper bound: the first
    trainable layer would not need it). Frozen layers before the trainable ones need neither.
    """
    result = {kind: 0.0 for kind, _ in KINDS[:4]}
    for layer in model._flatten_layers(include_self=False):
        flops = layer_flops(layer)
        trains = layer.trainable and bool(layer.trainable_weights)
        if isinstance(layer, layers.DepthwiseConv2D):
            result["depthwise convolution and its gradients"] += flops * (3 if trains else 1)
        elif flops:
            result["convolution"] += flops
            if trains:
                result["convolution gradients (weights)"] += flops
                result["convolution gradients (inputs)"] += flops
    return result


def _kind_of(event_name: str) -> str:
    name, _, kind = event_name.rpartition(":")
    return next(label for label, matches in KINDS if matches(kind, name))


def _union_seconds(intervals: list[tuple[int, int]]) -> float:
    """Seconds covered by picosecond intervals, overlaps counted once."""
    total, end = 0, -1
    for start, stop in sorted(intervals):
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total / 1e12


def _short_op_name(event_name: str) -> str:
    """'conv2d_4/Conv2DBackpropFilter' from the profiler's long name of an op."""
    name, _, kind = event_name.rpartition(":")
    parts = [part for part in name.split("/") if part not in ("StatefulPartitionedCall",)]
    parts = [part for part in parts if not part.startswith(("mobilenetv2", "gradient_tape"))]
    layer = parts[0].rsplit("_", 1)[0] if len(parts) > 1 and parts[0][-1].isdigit() else parts[0]
    gradient = "gradient of " if "gradient_tape" in name and "Backprop" not in kind else ""
    return f"{gradient}{layer if len(parts) > 1 else ''} {kind.lstrip('_')}".strip()


def op_seconds(xspace_path: str) -> tuple[dict[str, float], float, dict[str, float]]:
    """Seconds per kind of op in a profile, the seconds when any op was running, and the
    seconds per op (summed over the steps)."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    with open(xspace_path, "rb") as file:
        space.ParseFromString(file.read())
    host = next(plane for plane in space.planes if plane.name == "/host:CPU")
    seconds: dict[str, float] = {}
    per_op: dict[str, float] = {}
    intervals = []
    for line in host.lines:
        if not line.name.startswith("tf_Compute"):
            continue
        for event in line.events:
            name = host.event_metadata[event.metadata_id].name
            if name.startswith(CONTAINERS) or ":" not in name:
                continue
            kind = _kind_of(name)
            seconds[kind] = seconds.get(kind, 0.0) + event.duration_ps / 1e12
            short = _short_op_name(name)
            per_op[short] = per_op.get(short, 0.0) + event.duration_ps / 1e12
            start = line.timestamp_ns * 1000 + event.offset_ps
            intervals.append((start, start + event.duration_ps))
    return seconds, _union_seconds(intervals), per_op


@dataclass
class StepProfile:
    """Milliseconds per training step, per kind of op, with the arithmetic's ideal time."""

    settings: Settings
    pretrained: bool
    step_ms: float  # without the profiler
    profiled_step_ms: float
    op_ms: dict[str, float]
    busy_ms: float
    top_ops: list[tuple[str, float]]
    generator_ms: float
    flops: dict[str, float]
    peak_flops: float

    @property
    def model_kind(self) -> str:
        if not self.pretrained:
            return "scratch model"
        frozen = " (frozen encoder)" if self.settings.freeze_pretrained_encoder else ""
        return "pretrained model" + frozen

    @property
    def images_per_second(self) -> float:
        return 1000 * self.settings.batch_size / self.step_ms

    @property
    def share_of_peak(self) -> float:
        """The step's FLOPs at the measured convolution speed, as a share of its real time."""
        return sum(self.flops.values()) * self.images_per_second / self.peak_flops

    def rows(self) -> list[tuple[str, float, float | None]]:
        """(kind, ms per step, ms per step at the convolution peak or None) with the totals."""
        per_step = self.settings.batch_size
        ideal = {k: 1000 * per_step * flops / self.peak_flops for k, flops in self.flops.items()}
        rows = [
            (kind, ms, ideal.get(kind))
            for kind, ms in sorted(self.op_ms.items(), key=lambda item: -item[1])
        ]
        rows.append(("any op running (the rows above overlap on two threads)", self.busy_ms, None))
        idle = self.profiled_step_ms - self.busy_ms
        rows.append(("no op running: Python, Keras, waiting", idle, None))
        rows.append(("whole step under the profiler", self.profiled_step_ms, None))
        rows.append(("whole step without the profiler", self.step_ms, sum(ideal.values())))
        return rows

    def table(self) -> str:
        s = self.settings
        lines = [
            f"One training step: {s.preset} preset's {self.model_kind}, batch {s.batch_size}, "
            f"{s.crop_size}² crops; {self.images_per_second:.1f} images/s, "
            f"{self.share_of_peak:.0%} of the convolution peak "
            f"({self.peak_flops / 1e9:.0f} GFLOP/s on a lone 3x3 64->64 convolution at 224²).",
            "",
            "| kind of op | ms per step | share | at the convolution peak |",
            "|---|---:|---:|---:|",
        ]
        for kind, ms, ideal in self.rows():
            shown = "" if ideal is None else f"{ideal:.1f}"
            share = ms / self.profiled_step_ms
            lines.append(f"| {kind} | {ms:.1f} | {share:.0%} | {shown} |")
        generator = "(the generator, measured alone; it overlaps the step)"
        lines.append(f"| {generator} | {self.generator_ms:.1f} | | |")
        lines += [
            "",
            "The slowest ops, ms per step: "
            + "; ".join(f"{name} {ms:.1f}" for name, ms in self.top_ops)
            + ".",
        ]
        return "\n".join(lines)


def profile_training_step(
    settings: Settings,
    images: np.ndarray,
    masks: np.ndarray,
    steps: int = 5,
    pretrained: bool = True,
) -> StepProfile:
    """Profile `steps` training steps of the settings' pretrained (or scratch) model, as `train`
    builds it (TensorFlow only)."""
    import tensorflow as tf

    spec = get_spec(settings.prepared_dataset)
    count = settings.batch_size * (steps + 3)
    batches = SegmentationGenerator(
        images[:count],
        masks[:count],
        settings.batch_size,
        augment=True,
        crop_size=settings.crop_size,
    )
    model = model_to_train(settings, spec.num_classes, pretrained, len(batches))
    with quiet_stderr():
        model.fit(batches, epochs=1, steps_per_epoch=3, verbose=0)  # trace and warm up
        peak = convolution_peak()
        with tempfile.TemporaryDirectory() as folder:
            tf.profiler.experimental.start(folder)
            start = time.perf_counter()
            model.fit(batches, epochs=1, steps_per_epoch=steps, verbose=0)
            profiled = time.perf_counter() - start
            tf.profiler.experimental.stop()
            (path,) = glob.glob(f"{folder}/plugins/profile/*/*.xplane.pb")
            op_time, busy, per_op = op_seconds(path)
        seconds = np.inf
        for _ in range(2):  # the same steps without the profiler's own cost
            start = time.perf_counter()
            model.fit(batches, epochs=1, steps_per_epoch=steps, verbose=0)
            seconds = min(seconds, time.perf_counter() - start)
    start = time.perf_counter()
    for index in range(len(batches)):
        batches[index]
    generator_ms = 1000 * (time.perf_counter() - start) / len(batches)
    return StepProfile(
        settings=settings,
        pretrained=pretrained,
        step_ms=1000 * seconds / steps,
        profiled_step_ms=1000 * profiled / steps,
        op_ms={kind: 1000 * value / steps for kind, value in op_time.items()},
        busy_ms=1000 * busy / steps,
        top_ops=[
            (name, 1000 * value / steps)
            for name, value in sorted(per_op.items(), key=lambda item: -item[1])[:6]
        ],
        generator_ms=generator_ms,
        flops=training_flops(model),
        peak_flops=peak,
    )
