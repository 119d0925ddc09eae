"""The benchmark's parts work and report sane numbers (the bench command measures speed)."""

import numpy as np

from workshop_helpers import VOC
from workshop_helpers.demos.camera import SyntheticCamera
from workshop_helpers.demos.viewer import LiveSegmentation
from workshop_helpers.inference import window_offsets
from workshop_helpers.tools.bench import (
    SEED_WINDOW_CALLS,
    generator_throughput,
    machine_description,
)


def test_seed_window_call_count_matches_the_sliding_window():
    assert SEED_WINDOW_CALLS == 2 * len(window_offsets()) ** 2 == 288


def test_generator_throughput_counts_images(rng):
    images = rng.integers(0, 256, (8, 256, 256, 3), dtype=np.uint8)
    masks = rng.integers(-1, 6, (8, 256, 256), dtype=np.int8)
    assert generator_throughput(images, masks, batch_size=4, min_seconds=0.01) > 0


def test_synthetic_camera_ends_and_feeds_the_live_loop(scratch_model):
    live = LiveSegmentation(scratch_model, VOC, capture=SyntheticCamera(3), size=128)
    assert live.run() > 0 and live.frames == 3


def test_machine_description_names_the_backend():
    description = machine_description()
    assert {"backend", "devices", "cpus", "keras", "date"} <= set(description)
