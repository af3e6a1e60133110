"""The gradient that reaches each step's input, on every backend (shared by
the gradient experiments)."""

from __future__ import annotations

import keras
import numpy as np

from keras_gates._autodiff import value_and_gradients


def input_gradients(net, x, y) -> np.ndarray:
    """Mean over the batch of ||dLoss/dx_t||, x_t the recurrent layer's input.

    Returns:
        `(time,)` array.
    """
    recurrent = net.get_layer("recurrent")
    embed = keras.Model(net.inputs, recurrent.input)
    inner = keras.Input(recurrent.input.shape[1:])
    head = keras.Model(inner, net.layers[-1](recurrent(inner)))
    e = embed.predict(x, verbose=0)
    y = keras.ops.convert_to_tensor(y.reshape(-1, 1).astype("float32"))
    loss_fn = keras.losses.BinaryCrossentropy(reduction="sum")
    _, (grad,) = value_and_gradients(
        lambda args: loss_fn(y, head(args[0])), [e]
    )
    return np.linalg.norm(grad, axis=-1).mean(axis=0)
