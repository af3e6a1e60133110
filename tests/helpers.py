"""Test helpers: a public-API layer harness and backend-specific gradients."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


def version(text: str) -> tuple:
    """ "3.15.1" -> (3, 15)."""
    return tuple(int(part) for part in text.split(".")[:2])


KERAS_VERSION = version(keras.__version__)


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def flat(outputs):
    """A layer's outputs as a flat list of tensors (dicts by sorted key)."""
    if isinstance(outputs, dict):
        return [outputs[k] for k in sorted(outputs)]
    if isinstance(outputs, (list, tuple)):
        return [t for item in outputs for t in flat(item)]
    return [outputs]


def weighted_sum(outputs):
    """A scalar that depends on every output value, with fixed weights.

    NaN entries (the gates of masked steps) count as 0; their values are
    compared separately, and no gradient flows through them.
    """
    total = 0.0
    for i, tensor in enumerate(flat(outputs)):
        weights = ops.cos(ops.arange(ops.size(tensor), dtype="float32") + i)
        values = ops.reshape(ops.cast(tensor, "float32"), (-1,))
        values = ops.where(ops.isnan(values), ops.zeros_like(values), values)
        total = total + ops.sum(values * weights)
    return total


def value_and_gradients(layer, x, **call_kwargs):
    """(outputs, [d loss / d x] + [d loss / d w for trainable w])."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            outputs = layer(x, **call_kwargs)
            loss = weighted_sum(outputs)
        sources = [x] + [w.value for w in layer.trainable_weights]
        grads = tape.gradient(loss, sources)
    elif backend == "torch":
        import torch

        # On the device Keras computes on (a GPU when there is one).
        x = keras.ops.convert_to_tensor(x).detach().requires_grad_(True)
        outputs = layer(x, **call_kwargs)
        loss = weighted_sum(outputs)
        sources = [x] + [w.value for w in layer.trainable_weights]
        grads = torch.autograd.grad(loss, sources)
    else:
        import jax

        # JAX differentiates functions of arrays: the layer's weights go in
        # as arguments through `stateless_call`, which also returns the
        # outputs, so one pass gives both.
        trainable = [v.value for v in layer.trainable_variables]
        frozen = [v.value for v in layer.non_trainable_variables]

        def loss(x, trainable):
            outputs, _ = layer.stateless_call(
                trainable, frozen, x, **call_kwargs
            )
            return weighted_sum(outputs), outputs

        (_, outputs), (x_grad, weight_grads) = jax.value_and_grad(
            loss, argnums=(0, 1), has_aux=True
        )(x, trainable)
        grads = [x_grad, *weight_grads]
    return outputs, [to_numpy(g) for g in grads]


def assert_outputs_close(actual, expected, atol=1e-5):
    actual, expected = flat(actual), flat(expected)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        np.testing.assert_allclose(to_numpy(a), to_numpy(e), atol=atol, rtol=0)


def check_layer(make_layer, inputs, tmp_path):
    """The public-API harness every layer goes through.

    Config round trip, eager and symbolic calls agree on structure and
    shapes, a `.keras` save/load gives the same outputs, and one `fit` step
    changes the weights.
    """
    layer = make_layer()
    eager = layer(inputs)

    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config

    symbolic_in = keras.Input(inputs.shape[1:], batch_size=inputs.shape[0])
    symbolic = make_layer()(symbolic_in)
    assert [tuple(t.shape) for t in flat(symbolic)] == [
        tuple(t.shape) for t in flat(eager)
    ]

    model_in = keras.Input(inputs.shape[1:])
    model = keras.Model(model_in, make_layer()(model_in))
    path = tmp_path / "layer.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert_outputs_close(loaded(inputs), model(inputs), atol=0)

    first = flat(make_layer()(model_in))[0]
    pooled = keras.layers.Flatten()(first)
    trainable = keras.Model(model_in, keras.layers.Dense(1)(pooled))
    trainable.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = [to_numpy(w) for w in trainable.weights]
    trainable.fit(
        inputs, np.ones((inputs.shape[0], 1), "float32"), epochs=1, verbose=0
    )
    after = [to_numpy(w) for w in trainable.weights]
    assert all(
        not np.allclose(b, a) for b, a in zip(before, after, strict=True)
    )
    return eager


def numeric_gradients(loss, arrays, eps=1e-6):
    """Central differences of `loss(arrays)` in float64."""
    arrays = [np.array(a, "float64") for a in arrays]
    grads = []
    for array in arrays:
        grad = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + eps
            up = loss(arrays)
            array[index] = saved - eps
            down = loss(arrays)
            array[index] = saved
            grad[index] = (up - down) / (2 * eps)
        grads.append(grad)
    return grads


def numpy_weighted_sum(tensors):
    """`helpers.weighted_sum` in numpy: tensor k weighted by
    cos(position + k)."""
    return sum(
        np.sum(t.reshape(-1) * np.cos(np.arange(t.size) + k))
        for k, t in enumerate(tensors)
    )
