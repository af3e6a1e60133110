"""What each step left in the memory: `memory_contributions` (numpy).

The LSTM's cell state is a sum of what each step wrote, each part shrunk
by every forget gate since:

    c_t = c_0 * prod(f_r, 1 <= r <= t)
          + sum over s <= t of  i_s * g_s * prod(f_r, s < r <= t)

and the GRU's state the same with z (Keras's update gate, the share kept)
in place of f and (1 - z_s) * candidate_s in place of i_s * g_s:

    h_t = h_0 * prod(z_r) + sum over s <= t of (1 - z_s) hh_s prod(z_r)

`memory_contributions` returns every term, so the shares sum to the state
(up to float32 rounding of the gates). Masked steps (NaN gates) carry the
state over: they write nothing and shrink nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def memory_contributions(
    gates: Mapping, at: int | None = None, initial_state=None
) -> dict:
    """The split of a layer's memory at step `at` into what each step wrote.

    Args:
        gates: one layer's gates, as `extract_gates` returns them (`{gate:
            (batch, time, units)}`, input time order): an LSTM's (`input`,
            `forget`, `candidate`, `cell`) or a GRU's (`update`,
            `candidate`, `hidden`). For a layer that ran with
            `go_backwards=True`, reverse the time axis first.
        at: the step whose memory is split (default: the last step).
        initial_state: the memory before the first step, `(batch, units)`
            (the LSTM's c_0, the GRU's h_0); default zeros.

    Returns:
        `{"steps": (batch, time, units), "initial": (batch, units), "state":
        (batch, units)}`: what step s left in each unit's memory at `at`
        (0 after `at` and at masked steps), the initial state's share, and
        the memory itself (the LSTM's `cell`, the GRU's `hidden` at `at`;
        the last valid value when `at` is masked), float64.

    Example:

    >>> shares = memory_contributions(gates["lstm"])
    >>> np.allclose(shares["steps"].sum(1) + shares["initial"],
    ...             shares["state"], atol=1e-5)
    True
    """
    if "forget" in gates:
        kept, written, state = _lstm_terms(gates)
    elif "update" in gates:
        kept, written, state = _gru_terms(gates)
    else:
        raise ValueError(
            "gates must be one LSTM's or GRU's gates (with 'forget' or "
            f"'update'), got the names {sorted(gates)}"
        )
    batch, time, units = kept.shape
    if at is None:
        at = time - 1
    if not isinstance(at, (int, np.integer)) or not -time <= at < time:
        raise ValueError(
            f"at must be a step in range({time}) (or negative from the "
            f"end), got {at!r}"
        )
    at = int(at) % time
    if initial_state is None:
        initial_state = np.zeros((batch, units))
    initial_state = np.asarray(initial_state, "float64")
    if initial_state.shape != (batch, units):
        raise ValueError(
            f"initial_state must have shape (batch, units) = "
            f"{(batch, units)}, got {initial_state.shape}"
        )
    valid = ~np.isnan(kept)
    kept = np.where(valid, kept, 1.0)[:, : at + 1]
    written = np.where(valid, written, 0.0)[:, : at + 1]
    # prod(kept_r, s < r <= at) for every s: a reversed cumulative product.
    after = np.cumprod(kept[:, ::-1], axis=1)[:, ::-1]
    since = np.concatenate([after[:, 1:], np.ones((batch, 1, units))], axis=1)
    steps = np.zeros((batch, time, units))
    steps[:, : at + 1] = written * since
    memory = np.where(valid, state, np.nan)[:, : at + 1]
    last = _last_valid(memory)
    return {
        "steps": steps,
        "initial": initial_state * after[:, 0],
        "state": np.where(np.isnan(last), initial_state, last),
    }


def _lstm_terms(gates):
    for name in ("input", "forget", "candidate", "cell"):
        if name not in gates:
            raise ValueError(
                f"an LSTM's gates need {name!r}, got {sorted(gates)}"
            )
    f = np.asarray(gates["forget"], "float64")
    written = np.asarray(gates["input"], "float64") * np.asarray(
        gates["candidate"], "float64"
    )
    return f, written, np.asarray(gates["cell"], "float64")


def _gru_terms(gates):
    for name in ("update", "candidate", "hidden"):
        if name not in gates:
            raise ValueError(
                f"a GRU's gates need {name!r}, got {sorted(gates)}"
            )
    z = np.asarray(gates["update"], "float64")
    written = (1.0 - z) * np.asarray(gates["candidate"], "float64")
    return z, written, np.asarray(gates["hidden"], "float64")


def _last_valid(values):
    """`values[:, last step that is not NaN]` per sequence and unit."""
    valid = ~np.isnan(values)
    index = values.shape[1] - 1 - np.argmax(valid[:, ::-1], axis=1)
    picked = np.take_along_axis(values, index[:, None], axis=1)[:, 0]
    return np.where(valid.any(axis=1), picked, np.nan)
