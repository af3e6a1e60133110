"""memory_contributions against an independent loop: the share of step s
is the memory a recurrence reaches when step s alone writes (the same
forget or update gates, every other write zero, from a zero state)."""

import keras
import numpy as np
import pytest

from keras_gates import GatedGRU, GatedLSTM, memory_contributions
from tests import reference

BATCH, TIME, FEATURES, UNITS = 3, 9, 2, 4


def share_by_loop(kept, written, s, at):
    """Memory at `at` when only step s writes: a plain loop."""
    memory = np.zeros(kept.shape[::2])
    for t in range(at + 1):
        memory = kept[:, t] * memory + (written[:, t] if t == s else 0.0)
    return memory


def initial_by_loop(kept, start, at):
    memory = np.asarray(start, "float64")
    for t in range(at + 1):
        memory = kept[:, t] * memory
    return memory


def reference_gates(kind, rng, initial_state):
    x = rng.normal(size=(BATCH, TIME, FEATURES))
    weights = reference.random_weights(kind, FEATURES, UNITS, rng)
    weights = [np.asarray(w, "float64") for w in weights]
    if kind == "lstm":
        h0 = rng.normal(size=(BATCH, UNITS))
        gates, _ = reference.lstm(
            x, *weights, initial_state=(h0, initial_state)
        )
        return gates, gates["forget"], gates["input"] * gates["candidate"]
    gates, _ = reference.gru(x, *weights, initial_state=initial_state)
    z = gates["update"]
    return gates, z, (1.0 - z) * gates["candidate"]


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("at", [None, 4, 0])
def test_each_share_is_what_its_step_alone_leaves(kind, at, rng):
    start = rng.normal(size=(BATCH, UNITS))
    gates, kept, written = reference_gates(kind, rng, start)
    shares = memory_contributions(gates, at=at, initial_state=start)
    step = TIME - 1 if at is None else at
    for s in range(TIME):
        expected = share_by_loop(kept, written, s, step) if s <= step else 0.0
        np.testing.assert_allclose(shares["steps"][:, s], expected, atol=1e-12)
    np.testing.assert_allclose(
        shares["initial"], initial_by_loop(kept, start, step), atol=1e-12
    )
    memory = gates["cell" if kind == "lstm" else "hidden"][:, step]
    np.testing.assert_allclose(shares["state"], memory, atol=1e-12)
    total = shares["steps"].sum(axis=1) + shares["initial"]
    np.testing.assert_allclose(total, memory, atol=1e-12)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_shares_of_a_layers_float32_gates_sum_to_its_state(kind, rng):
    """From a gated layer's own gates (float32), with an initial state:
    the shares sum to the layer's final memory within 1e-5."""
    x = rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    layer_class = GatedLSTM if kind == "lstm" else GatedGRU
    layer = layer_class(UNITS, return_gates=True, return_state=True)
    starts = [
        rng.normal(size=(BATCH, UNITS)).astype("float32")
        for _ in range(2 if kind == "lstm" else 1)
    ]
    _, *states, gates = layer(x, initial_state=starts)
    gates = {k: keras.ops.convert_to_numpy(v) for k, v in gates.items()}
    memory = keras.ops.convert_to_numpy(states[-1])
    shares = memory_contributions(gates, initial_state=starts[-1])
    total = shares["steps"].sum(axis=1) + shares["initial"]
    np.testing.assert_allclose(total, memory, atol=1e-5)


def test_masked_steps_write_nothing_and_carry_the_memory(rng):
    """NaN steps (masked) are skipped: the same shares as the sequence
    with those steps cut out."""
    gates, _, _ = reference_gates("lstm", rng, np.zeros((BATCH, UNITS)))
    masked = {k: v.copy() for k, v in gates.items()}
    for value in masked.values():
        value[1, 2:4] = np.nan
        value[2, -1] = np.nan
    shares = memory_contributions(masked)
    kept = np.delete(np.arange(TIME), [2, 3])
    cut = {k: v[1:2, kept] for k, v in gates.items()}
    expected = memory_contributions(cut)
    np.testing.assert_allclose(
        shares["steps"][1, kept], expected["steps"][0], atol=1e-12
    )
    np.testing.assert_array_equal(shares["steps"][1, 2:4], 0.0)
    np.testing.assert_allclose(shares["state"][2], gates["cell"][2, -2])


def test_mistakes_are_named(rng):
    gates, _, _ = reference_gates("gru", rng, np.zeros((BATCH, UNITS)))
    with pytest.raises(ValueError) as caught:
        memory_contributions(gates, at=TIME)
    assert str(caught.value) == (
        f"at must be a step in range({TIME}) (or negative from the end), "
        f"got {TIME}"
    )
    with pytest.raises(ValueError) as caught:
        memory_contributions(gates, initial_state=np.zeros(UNITS))
    assert str(caught.value) == (
        f"initial_state must have shape (batch, units) = {(BATCH, UNITS)}, "
        f"got ({UNITS},)"
    )
    with pytest.raises(ValueError) as caught:
        memory_contributions({"hidden": gates["hidden"]})
    assert str(caught.value) == (
        "gates must be one LSTM's or GRU's gates (with 'forget' or "
        "'update'), got the names ['hidden']"
    )
