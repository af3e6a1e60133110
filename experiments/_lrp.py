"""Layer-wise relevance propagation for an LSTM, as Arras et al. (2017,
"Explaining Recurrent Neural Network Predictions in Sentiment Analysis")
define it, in float64 numpy: the reference `experiments.attribution`
compares keras_gates' gradient attributions with.

The model: token ids -> embedding -> one LSTM (Keras's weights and gate
order i, f, g, o; zero initial state) -> a dense unit on the last hidden
state, whose logit is explained. The rules:

- a linear map z_j = sum_i x_i w_ij + b_j gives input i the share
  x_i w_ij / (z_j + eps sign(z_j)) of R_j (the epsilon rule; the bias and
  eps keep the rest);
- c_t = f_t c_(t-1) + i_t g_t is such a sum: f_t c_(t-1) and i_t g_t get
  their shares of R(c_t);
- a gate times a signal (i_t g_t, o_t tanh(c_t)): all to the signal
  ("signal-take-all"), none to the gate;
- g_t = tanh(x_t W_g + h_(t-1) U_g + b_g): the pre-activation's shares to
  the embedding x_t and to h_(t-1), whose relevance joins c_(t-1)'s
  through h_(t-1) = o_(t-1) tanh(c_(t-1)).

The relevance of a token is the sum of its embedding's.
"""

from __future__ import annotations

import numpy as np

EPSILON = 1e-3


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _share(parts, total, relevance):
    """Each part's share of `relevance` (the epsilon rule): parts (...,
    n_in, n_out), total (..., n_out)."""
    stabilised = total + EPSILON * np.where(total >= 0, 1.0, -1.0)
    return (parts * (relevance / stabilised)[..., None, :]).sum(-1)


def forward(tokens, weights) -> dict:
    """The LSTM's steps on `tokens` (batch, time): every gate and state,
    and the logit."""
    embedding, kernel, recurrent, bias, dense, dense_bias = weights
    x = embedding[tokens]
    batch, time = tokens.shape
    units = recurrent.shape[0]
    h = np.zeros((batch, units))
    c = np.zeros((batch, units))
    found = {k: [] for k in ("x", "h_prev", "c_prev", "i", "f", "g", "o")}
    found["c"] = []
    for t in range(time):
        z = x[:, t] @ kernel + h @ recurrent + bias
        i, f, g, o = np.split(z, 4, axis=-1)
        i, f, g, o = _sigmoid(i), _sigmoid(f), np.tanh(g), _sigmoid(o)
        for name, value in (("x", x[:, t]), ("h_prev", h), ("c_prev", c)):
            found[name].append(value)
        c = f * c + i * g
        h = o * np.tanh(c)
        for name, value in (("i", i), ("f", f), ("g", g), ("o", o), ("c", c)):
            found[name].append(value)
    steps = {name: np.stack(values, 1) for name, values in found.items()}
    steps["logit"] = (h @ dense + dense_bias)[:, 0]
    steps["h"] = h
    return steps


def relevance(tokens, weights) -> dict:
    """`{"tokens": (batch, time) relevance of each token, "logit":
    (batch,)}`: the logit's relevance propagated back to the tokens."""
    embedding, kernel, recurrent, bias, dense, dense_bias = weights
    steps = forward(tokens, weights)
    units = recurrent.shape[0]
    w_g = slice(2 * units, 3 * units)
    logit = steps["logit"]
    # The dense unit: h_T's shares of the logit.
    relevance_h = _share(
        steps["h"][:, :, None] * dense[None], logit[:, None], logit[:, None]
    )
    relevance_c = np.zeros_like(relevance_h)
    time = tokens.shape[1]
    found = np.zeros(tokens.shape)
    for t in reversed(range(time)):
        relevance_c = relevance_c + relevance_h  # h_t = o_t tanh(c_t)
        c = steps["c"][:, t]
        kept = steps["f"][:, t] * steps["c_prev"][:, t]
        written = steps["i"][:, t] * steps["g"][:, t]
        stabilised = c + EPSILON * np.where(c >= 0, 1.0, -1.0)
        relevance_g = written * relevance_c / stabilised  # all to g
        relevance_c = kept * relevance_c / stabilised
        x, h_prev = steps["x"][:, t], steps["h_prev"][:, t]
        from_x = x[:, :, None] * kernel[None, :, w_g]
        from_h = h_prev[:, :, None] * recurrent[None, :, w_g]
        total = from_x.sum(1) + from_h.sum(1) + bias[w_g]
        found[:, t] = _share(from_x, total, relevance_g).sum(-1)
        relevance_h = _share(from_h, total, relevance_g)
    return {"tokens": found, "logit": logit}
