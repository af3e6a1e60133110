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
    edit=None,
    zoneout=None,
):
    """Returns `(gates, (h, c))`; gates `{name: (batch, time, units)}` in
    the input's time order, states after the last processed step.

    `edit(name, t, value) -> value`, when given, replaces each gate and
    state at step t as soon as it is computed (an intervention).
    `zoneout(t) -> (d_h, d_c)`, when given: the share of the previous h
    and c each unit keeps at step t (Krueger et al. 2017: c = d_c c_prev +
    (1 - d_c) c_new, h = d_h h_prev + (1 - d_h) o act(c_new))."""
    edit = edit or (lambda name, t, value: value)
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
        i = edit("input", t, sig(x_t @ w_i + h @ u_i + b_i))
        f = edit("forget", t, sig(x_t @ w_f + h @ u_f + b_f))
        g = edit("candidate", t, act(x_t @ w_c + h @ u_c + b_c))
        o = edit("output", t, sig(x_t @ w_o + h @ u_o + b_o))
        if zoneout is None:
            c = edit("cell", t, f * c + i * g)
            h = edit("hidden", t, o * act(c))
        else:
            d_h, d_c = zoneout(t)
            new = f * c + i * g
            c = d_c * c + (1.0 - d_c) * new
            h = d_h * h + (1.0 - d_h) * o * act(new)
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
    edit=None,
    zoneout=None,
):
    """Returns `(gates, h)`; gates `{update, reset, candidate, hidden}`,
    each `(batch, time, units)` in the input's time order. `update` is
    Keras's z, the share of the old state kept. `edit` as for `lstm`;
    `zoneout(t) -> d`: the share of the previous h each unit keeps."""
    edit = edit or (lambda name, t, value: value)
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
        z = edit("update", t, sig(x_t @ w_z + b_z + h @ u_z + rb_z))
        r = edit("reset", t, sig(x_t @ w_r + b_r + h @ u_r + rb_r))
        if reset_after:
            hh = act(x_t @ w_h + b_h + r * (h @ u_h + rb_h))
        else:
            hh = act(x_t @ w_h + b_h + (r * h) @ u_h)
        hh = edit("candidate", t, hh)
        new = z * h + (1.0 - z) * hh
        h = edit(
            "hidden",
            t,
            new
            if zoneout is None
            else (zoneout(t) * h + (1.0 - zoneout(t)) * new),
        )
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


# -- variants (Greff et al. 2017; Zhou et al. 2016) -------------------------


def lstm_variant(
    x,
    W,
    R,
    b,
    variant="standard",
    peephole=None,
    gate_R=None,
    state=None,
    zoneout=None,
    norms=None,
):
    """Greff et al.'s LSTM variants, from their equations.

    `W`, `R`, `b`: `{gate: matrix}` for the gates the variant has weights
    for (`input`, `forget`, `candidate`, `output`); `peephole`:
    `{gate: (units,)}` or None; `gate_R`: fgr's `(3 units, 3 units)` from
    the previous `[i | f | o]` to this step's; `zoneout` as for `lstm`
    (the output gate's peephole and the output read the new cell value);
    `norms`: None, or layer normalisation (Ba, Kiros & Hinton 2016) as
    `{"input": (gamma, beta), "recurrent": (gamma, beta), "cell": (gamma,
    beta)}`: the input and the recurrent summed inputs of all gates each
    normalised as one vector before the bias is added, and the output
    reading LN(c) instead of c (returned as `normalized_cell`).
    Returns `(gates, (h, c))`.
    """
    x = np.asarray(x, "float64")
    batch, time, _ = x.shape
    units = R["candidate"].shape[0]
    p = peephole or {}
    one = np.ones((batch, units))
    h = np.zeros((batch, units)) if state is None else state[0]
    c = np.zeros((batch, units)) if state is None else state[1]
    previous = np.zeros((batch, 3 * units))
    names = ("input", "forget", "candidate", "output", "cell", "hidden")
    if norms is not None:
        names = names[:5] + ("normalized_cell", "hidden")
    gates = {name: np.zeros((batch, time, units)) for name in names}
    for t in range(time):
        if norms is None:
            a = {gate: x[:, t] @ W[gate] + h @ R[gate] + b[gate] for gate in W}
        else:
            # Ba et al. 2016: the input and the recurrent summed inputs of
            # all gates, each normalised as one vector, then the bias.
            from_x = _normalized({g: x[:, t] @ W[g] for g in W}, norms["input"])
            from_h = _normalized({g: h @ R[g] for g in W}, norms["recurrent"])
            a = {gate: from_x[gate] + from_h[gate] + b[gate] for gate in W}
        if variant == "fgr":
            extra = np.split(previous @ gate_R, 3, axis=-1)
            for gate, term in zip(
                ("input", "forget", "output"), extra, strict=True
            ):
                a[gate] = a[gate] + term
        if "input" in p:
            a["input"] = a["input"] + p["input"] * c
        if "forget" in p:
            a["forget"] = a["forget"] + p["forget"] * c
        i = sigmoid(a["input"]) if "input" in a else one
        if "forget" in a:
            f = sigmoid(a["forget"])
        else:
            f = 1.0 - i if variant == "cifg" else one
        g = a["candidate"] if variant == "niaf" else np.tanh(a["candidate"])
        new = f * c + i * g
        if "output" in a:
            o = sigmoid(a["output"] + p.get("output", 0.0) * new)
        else:
            o = one
        read = new if norms is None else layer_norm(new, *norms["cell"])
        out = o * read if variant == "noaf" else o * np.tanh(read)
        d_h, d_c = (0.0, 0.0) if zoneout is None else zoneout(t)
        c = d_c * c + (1.0 - d_c) * new
        h = d_h * h + (1.0 - d_h) * out
        previous = np.concatenate([i, f, o], axis=-1)
        values = (i, f, g, o, c) + (() if norms is None else (read,)) + (h,)
        for name, value in zip(names, values, strict=True):
            gates[name][:, t] = value
    return gates, (h, c)


# -- layer normalisation (Ba, Kiros & Hinton 2016) ---------------------------


def layer_norm(v, gamma, beta, epsilon=1e-3):
    """(v - mean) / sqrt(variance + epsilon) * gamma + beta over the last
    axis, the variance the mean squared deviation."""
    mean = v.mean(axis=-1, keepdims=True)
    variance = ((v - mean) ** 2).mean(axis=-1, keepdims=True)
    return (v - mean) / np.sqrt(variance + epsilon) * gamma + beta


def _normalized(blocks, norm):
    """`{gate: (batch, units)}` normalised as one vector (gates in the
    dict's order), split back by gate."""
    names = list(blocks)
    joined = layer_norm(np.concatenate([blocks[g] for g in names], -1), *norm)
    return dict(zip(names, np.split(joined, len(names), -1), strict=True))


def layer_norm_gru(x, W, R, b, rb, norms, reset_after=True, zoneout=None):
    """The GRU with Ba et al.'s layer normalisation: `W`, `R`: `{gate:
    matrix}` for update, reset, candidate (the MGU: update, candidate, and
    r = 1 - z); `b`, `rb`: input and recurrent
    biases by gate (`rb` zeros without `reset_after`); `norms`: `{"input":
    (gamma, beta), "recurrent": (gamma, beta)}`, each over all gates:

        a_x = LN(x W) + b                   all gates as one vector
        reset_after:  a_h = LN(h R) + rb    all gates as one vector
            z = sigmoid(a_x_z + a_h_z), r = sigmoid(a_x_r + a_h_r)
            hh = tanh(a_x_h + r * a_h_h)
        otherwise:    a_h = LN(h R_zr)      the z and r gates as one vector
            hh = tanh(a_x_h + LN((r * h) R_h))    candidate's own slice
        h = z * h + (1 - z) * hh

    Returns `(gates, h)`."""
    x = np.asarray(x, "float64")
    batch, time, _ = x.shape
    units = R["candidate"].shape[0]
    h = np.zeros((batch, units))
    names = ("update", "reset", "candidate", "hidden")
    gates = {name: np.zeros((batch, time, units)) for name in names}
    gated = [g for g in W if g != "candidate"]  # the MGU has no reset
    gamma, beta = (np.split(v, len(W)) for v in norms["recurrent"])
    for t in range(time):
        a_x = _normalized({g: x[:, t] @ W[g] for g in W}, norms["input"])
        a_x = {g: a_x[g] + b[g] for g in W}
        if reset_after:
            a_h = _normalized({g: h @ R[g] for g in W}, norms["recurrent"])
            a_h = {g: a_h[g] + rb[g] for g in W}
        else:
            first = (np.concatenate(gamma[:-1]), np.concatenate(beta[:-1]))
            a_h = _normalized({g: h @ R[g] for g in gated}, first)
        z = sigmoid(a_x["update"] + a_h["update"])
        if "reset" in W:
            r = sigmoid(a_x["reset"] + a_h["reset"])
        else:  # the MGU: r = 1 - z (Zhou et al.'s f)
            r = 1.0 - z
        if reset_after:
            hh = np.tanh(a_x["candidate"] + r * a_h["candidate"])
        else:
            term = layer_norm((r * h) @ R["candidate"], gamma[-1], beta[-1])
            hh = np.tanh(a_x["candidate"] + term)
        new = z * h + (1.0 - z) * hh
        d = 0.0 if zoneout is None else zoneout(t)
        h = d * h + (1.0 - d) * new
        for name, value in zip(names, (z, r, hh, h), strict=True):
            gates[name][:, t] = value
    return gates, h


def mgu(x, W_f, U_f, b_f, W_h, U_h, b_h, rb_f=0.0, rb_h=0.0, reset_after=True):
    """Zhou et al. 2016's minimal gated unit, in their form:

        f  = sigmoid(x W_f + b_f + h U_f + b'_f)
        hh = tanh(x W_h + b_h + f * (h U_h + b'_h))    (reset_after)
           = tanh(x W_h + b_h + (f * h) U_h)           (otherwise)
        h  = (1 - f) * h + f * hh

    Returns `(f, hh, h)`, each `(batch, time, units)`.
    """
    x = np.asarray(x, "float64")
    batch, time, _ = x.shape
    h = np.zeros((batch, U_f.shape[0]))
    out = {name: [] for name in ("f", "hh", "h")}
    for t in range(time):
        f = sigmoid(x[:, t] @ W_f + b_f + h @ U_f + rb_f)
        if reset_after:
            hh = np.tanh(x[:, t] @ W_h + b_h + f * (h @ U_h + rb_h))
        else:
            hh = np.tanh(x[:, t] @ W_h + b_h + (f * h) @ U_h)
        h = (1.0 - f) * h + f * hh
        for name, value in zip(("f", "hh", "h"), (f, hh, h), strict=True):
            out[name].append(value)
    return tuple(np.stack(out[name], axis=1) for name in ("f", "hh", "h"))
