"""Data parallelism: two logical CPU devices train to the numbers one device gives."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

# Logical devices must be set before TensorFlow starts, so the runs happen in a fresh process.
SCRIPT = """
import json
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
tf.config.run_functions_eagerly(True)  # a few tiny steps: tracing would cost more than running

import keras
import workshop_helpers.training as training
from workshop_helpers.model import build_model, freeze_encoder
from workshop_helpers.pipeline import preprocess
from workshop_helpers.settings import load_settings

rng = np.random.default_rng(0)
images = rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
# No void pixel: each device's share of a batch has as many labelled pixels as the other's, so the
# mean of their mean losses is the batch's mean loss.
masks = rng.integers(0, 6, (8, 32, 32)).astype(np.int8)
result = {"devices": training.parallel_devices()}
for parallel in (False, True):
    with training.replicated(parallel):
        keras.utils.set_random_seed(0)
        # A random encoder, frozen: its BatchNorm layers run in inference mode, so each device
        # computes what one device would on its share of the batch.
        model = freeze_encoder(build_model(6, input_size=32))
        training.compile_model(model, 6, learning_rate=1e-3)
        history = model.fit(
            preprocess(images), masks, batch_size=4, epochs=2, shuffle=False, verbose=0
        ).history
    kernel = model.get_layer("prediction").get_weights()[0]
    result[str(parallel)] = {"history": history, "kernel": kernel.ravel().tolist()}
# The training function itself, as the CLI runs it with --data-parallel 1.
settings = load_settings(
    {}, preset="fast", epochs=1, batch_size=4, crop_size=32, data_parallel=True
)
_, history = training.train(
    settings, pretrained=True, data=((images, masks), (images[:4], masks[:4])), verbose=0
)
result["train"] = {"history": history, "description": settings.describe()}
print(json.dumps(result))
"""


def test_two_devices_train_to_the_numbers_of_one():
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_BACKEND": "tensorflow"}
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["devices"] == ["/device:CPU:0", "/device:CPU:1"]
    one, two = result["False"], result["True"]
    np.testing.assert_allclose(two["history"]["loss"], one["history"]["loss"], rtol=1e-5)
    for key in ("pixel_accuracy", "mean_iou"):
        np.testing.assert_allclose(two["history"][key], one["history"][key], atol=1e-3)
    # The same weights, up to the order in which floating-point sums were taken.
    np.testing.assert_allclose(two["kernel"], one["kernel"], atol=1e-6)
    trained = result["train"]
    assert "data parallel" in trained["description"]
    assert len(trained["history"]["loss"]) == 1 and np.isfinite(trained["history"]["val_loss"])
