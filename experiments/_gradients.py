"""The gradient that reaches each step's input, on every backend (shared by
the gradient experiments)."""

from __future__ import annotations

import keras
import numpy as np


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
    y = y.reshape(-1, 1).astype("float32")
    loss_fn = keras.losses.BinaryCrossentropy(reduction="sum")
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        e = tf.constant(e)
        with tf.GradientTape() as tape:
            tape.watch(e)
            loss = loss_fn(y, head(e))
        grad = tape.gradient(loss, e).numpy()
    elif backend == "torch":
        import torch

        e = keras.ops.convert_to_tensor(e).detach().requires_grad_(True)
        loss = loss_fn(keras.ops.convert_to_tensor(y), head(e))
        (grad,) = torch.autograd.grad(loss, [e])
        grad = grad.detach().cpu().numpy()
    else:
        import jax

        grad = np.asarray(jax.grad(lambda e: loss_fn(y, head(e)))(e))
    return np.linalg.norm(grad, axis=-1).mean(axis=0)
