"""Keras steps without tracing, for tests that fit a few tiny batches."""

from contextlib import contextmanager


@contextmanager
def eagerly():
    """Keras' train and test steps run eagerly within the block.

    A test that fits a few tiny batches then skips tracing MobileNetV2's training graph, which
    takes tens of seconds on 2 cores; the same steps give the same numbers, and the notebooks run
    the traced path.
    """
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.run_functions_eagerly(True)
        try:
            yield
        finally:
            tf.config.run_functions_eagerly(False)
    elif backend == "jax":
        import jax

        with jax.disable_jit():
            yield
    else:
        yield
