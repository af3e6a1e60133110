"""TensorBoard images of gate figures (the TensorFlow edge of callbacks)."""

from __future__ import annotations

import importlib.util
import io

import tensorflow as tf


class ImageWriter:
    """Writes matplotlib figures to TensorBoard's Images tab."""

    def __init__(self, log_dir):
        if importlib.util.find_spec("tensorboard") is None:
            raise ValueError(
                "tensorboard_dir needs the tensorboard package, which is not "
                "installed: pip install 'keras_gates[tensorboard]' (or leave "
                "tensorboard_dir out)"
            )
        self._writer = tf.summary.create_file_writer(str(log_dir))

    def write(self, tag: str, figure, step: int) -> None:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
        image = tf.image.decode_png(buffer.getvalue(), channels=4)
        with self._writer.as_default():
            tf.summary.image(tag, image[None], step=step)
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()
