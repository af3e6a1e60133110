"""Independent float64 numpy references of the LSTM and GRU equations.

Written from the equations (Hochreiter & Schmidhuber 1997 with Gers et al.'s
forget gate; Cho et al. 2014, in Keras's weight layout), not from
keras_gates: the tests compare the package against these, so nothing here
imports it. Weights use Keras's layout: `kernel (features, n * units)`,
`recurrent_kernel (units, n * units)`, gate blocks in the order i, f, c, o
(LSTM) and z, r, h (GRU); a `reset_after` GRU's bias is `(2, 3 * units)`.
"""

from __future__ import annotations

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def hard_sigmoid(x):
    # Keras 3: relu6(x + 3) / 6.
    return np.clip(x / 6.0 + 0.5, 0.0, 1.0)


ACTIVATIONS = {
    "sigmoid": sigmoid,
    "hard_sigmoid": hard_sigmoid,
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
}


def _blocks(matrix, count):
    return np.split(np.asarray(matrix, "float64"), count, axis=-1)


def lstm(
    x,
    kernel,
    recurrent_kernel,
    bias=None,
    initial_state=None,
    go_backwards=False,
    activation="tanh",
    recurrent_activation="sigmoid",
):
    """Returns `(gates, (h, c))`; gates `{name: (batch, time, units)}` in
    the input's time order, states after the last processed step."""
    act, sig = ACTIVATIONS[activation], ACTIVATIONS[recurrent_activation]
    x = np.asarray(x, "float64")
    batch, time, _ = x.shape
    units = recurrent_kernel.shape[0]
    w_i, w_f, w_c, w_o = _blocks(kernel, 4)
    u_i, u_f, u_c, u_o = _blocks(recurrent_kernel, 4)
    b_i, b_f, b_c, b_o = (
        _blocks(bias, 4) if bias is not None else [np.zeros(units)] * 4
    )
    if initial_state is None:
        h, c = np.zeros((batch, units)), np.zeros((batch, units))
    else:
        h, c = (np.asarray(s, "float64") for s in initial_state)
    names = ("input", "forget", "candidate", "output", "cell", "hidden")
    gates = {name: np.zeros((batch, time, units)) for name in names}
    steps = range(time - 1, -1, -1) if go_backwards else range(time)
    for t in steps:
        x_t = x[:, t]
        i = sig(x_t @ w_i + h @ u_i + b_i)
        f = sig(x_t @ w_f + h @ u_f + b_f)
        g = act(x_t @ w_c + h @ u_c + b_c)
        o = sig(x_t @ w_o + h @ u_o + b_o)
        c = f * c + i * g
        h = o * act(c)
        for name, value in zip(names, (i, f, g, o, c, h), strict=True):
            gates[name][:, t] = value
    return gates, (h, c)


def gru(
    x,
    kernel,
    recurrent_kernel,
    bias=None,
    initial_state=None,
    go_backwards=False,
    reset_after=True,
    activation="tanh",
    recurrent_activation="sigmoid",
):
    """Returns `(gates, h)`; gates `{update, reset, candidate, hidden}`,
    each `(batch, time, units)` in the input's time order. `update` is
    Keras's z, the share of the old state kept."""
    act, sig = ACTIVATIONS[activation], ACTIVATIONS[recurrent_activation]
    x = np.asarray(x, "float64")
    batch, time, _ = x.shape
    units = recurrent_kernel.shape[0]
    w_z, w_r, w_h = _blocks(kernel, 3)
    u_z, u_r, u_h = _blocks(recurrent_kernel, 3)
    zeros = [np.zeros(units)] * 3
    if bias is None:
        (b_z, b_r, b_h), (rb_z, rb_r, rb_h) = zeros, zeros
    elif reset_after:
        (b_z, b_r, b_h), (rb_z, rb_r, rb_h) = (
            _blocks(bias[0], 3),
            _blocks(bias[1], 3),
        )
    else:
        (b_z, b_r, b_h), (rb_z, rb_r, rb_h) = _blocks(bias, 3), zeros
    h = (
        np.zeros((batch, units))
        if initial_state is None
        else np.asarray(initial_state, "float64")
    )
    names = ("update", "reset", "candidate", "hidden")
    gates = {name: np.zeros((batch, time, units)) for name in names}
    steps = range(time - 1, -1, -1) if go_backwards else range(time)
    for t in steps:
        x_t = x[:, t]
        z = sig(x_t @ w_z + b_z + h @ u_z + rb_z)
        r = sig(x_t @ w_r + b_r + h @ u_r + rb_r)
        if reset_after:
            hh = act(x_t @ w_h + b_h + r * (h @ u_h + rb_h))
        else:
            hh = act(x_t @ w_h + b_h + (r * h) @ u_h)
        h = z * h + (1.0 - z) * hh
        for name, value in zip(names, (z, r, hh, h), strict=True):
            gates[name][:, t] = value
    return gates, h


def random_weights(kind, features, units, rng, reset_after=True, scale=0.6):
    """Kernel, recurrent kernel and bias drawn so that every gate and every
    unit gets its own values (no two columns alike)."""
    n = 4 if kind == "lstm" else 3
    kernel = rng.normal(0, scale, (features, n * units))
    recurrent = rng.normal(0, scale, (units, n * units))
    shape = (2, n * units) if kind == "gru" and reset_after else (n * units,)
    bias = rng.normal(0, 0.5, shape)
    return [w.astype("float32") for w in (kernel, recurrent, bias)]


def golden_weights(kind, features=2, units=2, reset_after=True):
    """Fixed, non-constant weights for the golden tables: every gate block
    and every unit differs, so a gate reported under another's name, or
    one unit's value copied to another, changes the table."""
    n = 4 if kind == "lstm" else 3
    kernel = 0.5 * np.sin(np.arange(features * n * units) + 1.0)
    recurrent = 0.4 * np.cos(np.arange(units * n * units) * 0.7)
    shape = (2, n * units) if kind == "gru" and reset_after else (n * units,)
    bias = np.linspace(-0.5, 0.5, int(np.prod(shape))).reshape(shape)
    weights = (
        kernel.reshape(features, n * units),
        recurrent.reshape(units, n * units),
        bias,
    )
    return [w.astype("float32") for w in weights]


def arange_inputs(batch=1, time=3, features=2):
    size = batch * time * features
    return np.arange(size, dtype="float32").reshape(batch, time, features) / 10
