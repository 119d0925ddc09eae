"""The benchmark command: generator, training, inference and live-loop speed on this machine."""

from __future__ import annotations

import datetime
import json
import os
import platform
import time
from pathlib import Path

import keras
import numpy as np

from ..datasets import DataNotFoundError, get_spec, load_split
from ..demos.camera import SyntheticCamera
from ..demos.viewer import LiveSegmentation
from ..inference import predict, sliding_window_predict, trace_count
from ..model import build_model, freeze_encoder
from ..pipeline import CROP_SIZE, SegmentationGenerator, preprocess
from ..settings import CPU
from ..training import compile_model, configure_batchnorm
from .profile import convolution_peak, training_flops

SEED_WINDOW_CALLS = 288  # 12 x 12 windows of 224 over 256 (step 3, last at 32), each also flipped


def _timed(fn, repeats: int) -> float:
    """Seconds per call of fn, after one warm-up call."""
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def machine_description() -> dict:
    """Platform, CPU count, Keras backend and its devices."""
    backend = keras.backend.backend()
    devices = "cpu"
    if backend == "jax":
        import jax

        devices = ", ".join(str(d) for d in jax.devices())
    elif backend == "tensorflow":
        import tensorflow as tf

        devices = ", ".join(d.name for d in tf.config.list_logical_devices()) or "cpu"
    return {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "backend": backend,
        "keras": keras.__version__,
        "devices": devices,
        "date": datetime.date.today().isoformat(),
    }


def _data(dataset: str, data_dir) -> tuple[np.ndarray, np.ndarray, str]:
    try:
        images, masks = load_split(dataset, "train", data_dir)
        return images, masks, f"{dataset} train ({len(images)} images)"
    except DataNotFoundError:
        rng = np.random.default_rng(0)
        labels = rng.integers(-1, get_spec(dataset).num_classes, (256, 256, 256), dtype=np.int8)
        return rng.integers(0, 256, (256, 256, 256, 3), dtype=np.uint8), labels, "synthetic"


def generator_throughput(images, masks, batch_size: int = 32, min_seconds: float = 2.0) -> float:
    """Training-generator images per second (crop, flip, preprocessing, batching)."""
    generator = SegmentationGenerator(images, masks, batch_size, augment=True)
    produced, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_seconds:
        for index in range(len(generator)):
            produced += len(generator[index][0])
        generator.on_epoch_end()
    return produced / (time.perf_counter() - start)


def training_throughput(model, images, masks, batch_size: int, steps: int) -> tuple[float, float]:
    """Images per second of fit() from in-memory tensors and from the generator, same images."""
    count = batch_size * steps
    generator = SegmentationGenerator(images[:count], masks[:count], batch_size, augment=True)
    x = np.concatenate([generator[i][0] for i in range(len(generator))])
    y = np.concatenate([generator[i][1] for i in range(len(generator))])
    runs = {
        "tensors": lambda: model.fit(
            x, y, batch_size=batch_size, epochs=1, verbose=0, shuffle=False
        ),
        "generator": lambda: model.fit(generator, epochs=1, verbose=0),
    }
    best = {}
    # Alternate the paths and keep each one's fastest epoch: the first epochs also trace functions.
    for _ in range(3):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best.get(name, np.inf), time.perf_counter() - start)
    return count / best["tensors"], count / best["generator"]


def cpu_has_bf16() -> bool:
    """Whether this CPU computes in bfloat16 natively (AVX512-BF16 or AMX); Linux only."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(flag in flags for flag in ("avx512_bf16", "amx_bf16"))


def cpu_preset_step(
    images, masks, num_classes: int, batch_size: int, precision: str, count: int
) -> float:
    """Training images per second of the cpu preset's pretrained model (frozen encoder, its crop
    size) at a batch size and precision, from in-memory tensors; the best of two epochs."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        model = freeze_encoder(build_model(num_classes, input_size=CPU.crop_size))
        configure_batchnorm(model, CPU, pretrained=True)
        compile_model(model, num_classes, CPU.learning_rate)
    finally:
        keras.config.set_dtype_policy(previous)
    generator = SegmentationGenerator(
        images[:count], masks[:count], batch_size, augment=True, crop_size=CPU.crop_size
    )
    x = np.concatenate([generator[i][0] for i in range(len(generator))])
    y = np.concatenate([generator[i][1] for i in range(len(generator))])

    def fit():
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, shuffle=False)

    fit()  # traces
    seconds = []
    for _ in range(2):
        start = time.perf_counter()
        fit()
        seconds.append(time.perf_counter() - start)
    return len(x) / min(seconds)


def cpu_preset_paths(images, masks, num_classes: int, quick: bool) -> dict:
    """The cpu preset's training step today (fp32, batch 8) beside the candidates measured to
    speed it up, in this run: larger batches, and bfloat16 where the CPU has it."""
    count = 64 if quick else 192
    candidates = {"fp32_batch8": ("float32", 8), "fp32_batch32": ("float32", 32)}
    if cpu_has_bf16():
        candidates.update(bf16_batch8=("mixed_bfloat16", 8), bf16_batch32=("mixed_bfloat16", 32))
    if quick:  # today's path and the most promising candidate
        candidates = dict([next(iter(candidates.items())), list(candidates.items())[-1]])
    results = {
        f"cpu_preset_train_img_per_s_{name}": cpu_preset_step(
            images, masks, num_classes, size, precision, count
        )
        for name, (precision, size) in candidates.items()
    }
    today = results["cpu_preset_train_img_per_s_fp32_batch8"]
    results["cpu_preset_best_speedup"] = max(results.values()) / today
    return results


def run_benchmarks(
    dataset: str = "camvid", data_dir=None, as_json: bool = False, quick: bool = False
) -> dict:
    """Measure everything, print a table (or JSON on the last line) and return the numbers."""
    spec = get_spec(dataset)
    images, masks, source = _data(dataset, data_dir)
    results = {**machine_description(), "data": source}
    results["generator_img_per_s"] = generator_throughput(
        images, masks, min_seconds=0.5 if quick else 2.0
    )

    model = compile_model(build_model(spec.num_classes), spec.num_classes)
    batch_size = 8
    steps = 1 if quick else 4
    synthetic, generated = training_throughput(model, images, masks, batch_size, steps)
    results["train_img_per_s_synthetic"] = synthetic
    results["train_img_per_s_generator"] = generated
    results["generator_efficiency"] = generated / synthetic
    results["conv_peak_gflop_per_s"] = convolution_peak() / 1e9
    step_flops = sum(training_flops(model).values())
    results["train_share_of_conv_peak"] = (
        synthetic * step_flops / (results["conv_peak_gflop_per_s"] * 1e9)
    )
    results.update(cpu_preset_paths(images, masks, spec.num_classes, quick))

    image = images[0]
    results["predict_ms_per_image"] = 1000 * _timed(
        lambda: predict(model, image), 3 if quick else 10
    )
    window = preprocess(image[:CROP_SIZE, :CROP_SIZE])[None]
    # The original notebook called model.predict once per window and flip: time a few calls and
    # scale to all of them.
    seed_call = _timed(lambda: model.predict(window, verbose=0), 3 if quick else 8)
    results["sliding_window_ms_per_image"] = 1000 * seed_call * SEED_WINDOW_CALLS
    # The same windows, batched and compiled: the package's sliding_window_predict, timed whole.
    batched_windows = _timed(lambda: sliding_window_predict(model, image), 1 if quick else 3)
    results["sliding_window_batched_ms_per_image"] = 1000 * batched_windows
    results["predict_speedup_vs_sliding_window"] = (
        results["sliding_window_ms_per_image"] / results["predict_ms_per_image"]
    )
    results["predict_speedup_vs_batched_sliding_window"] = (
        results["sliding_window_batched_ms_per_image"] / results["predict_ms_per_image"]
    )

    frames = 5 if quick else 30
    live = LiveSegmentation(model, spec, capture=SyntheticCamera(frames + 2))  # the demo's defaults
    live.run(max_frames=2)  # compile at the live size
    results["live_fps"] = live.run(max_frames=frames)
    # Every batch size and both TTA halves share one compiled function per input size.
    results["prediction_sizes"] = len(trace_count(model))
    results["prediction_traces"] = sum(trace_count(model).values())

    if as_json:
        print(json.dumps(results))
    else:
        width = max(map(len, results))
        for key, value in results.items():
            if key.startswith("train_share"):
                shown = f"{value:.0%}"
            elif key.endswith("speedup"):
                shown = f"{value:.2f}x"
            else:
                shown = f"{value:,.1f}" if isinstance(value, float) else value
            print(f"{key:<{width}}  {shown}")
    return results
