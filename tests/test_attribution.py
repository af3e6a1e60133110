"""Gate gradients against central differences of a float64 numpy
reference of the recurrence, and integrated gradients' completeness."""

import keras
import numpy as np
import pytest

from keras_gates import (
    GatedGRU,
    GatedLSTM,
    gate_gradients,
    integrated_gradients,
)
from tests import reference

BATCH, TIME, FEATURES, UNITS = 2, 6, 2, 3
GATES = {
    "lstm": ("input", "forget", "candidate", "output", "cell", "hidden"),
    "gru": ("update", "reset", "candidate", "hidden"),
}
# (step, unit) points checked per gate.
POINTS = [(0, 0), (2, 1), (5, 2)]


def model_of(kind, rng, layer_class=None):
    layer = (layer_class or {"lstm": GatedLSTM, "gru": GatedGRU}[kind])(
        UNITS, name="rnn"
    )
    model = keras.Sequential([keras.Input((TIME, FEATURES)), layer])
    layer.set_weights(reference.random_weights(kind, FEATURES, UNITS, rng))
    return model


def last_hidden_sum(kind, model, x, edit=None):
    """F = sum of the last hidden state, in float64."""
    weights = [np.asarray(w, "float64") for w in model.layers[0].get_weights()]
    function = reference.lstm if kind == "lstm" else reference.gru
    gates, _ = function(x, *weights, edit=edit)
    return gates["hidden"][:, -1].sum()


def shifted(gate, t_at, unit, epsilon):
    def edit(name, t, value):
        if name == gate and t == t_at:
            value = value.copy()
            value[:, unit] += epsilon
        return value

    return edit


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gate_gradients_equal_central_differences(kind, rng):
    model = model_of(kind, rng)
    x = rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    grads = gate_gradients(model, x, "rnn")
    assert sorted(grads) == sorted(GATES[kind])
    epsilon = 1e-6
    for gate in GATES[kind]:
        for t, unit in POINTS:
            up = last_hidden_sum(
                kind, model, x, shifted(gate, t, unit, epsilon)
            )
            down = last_hidden_sum(
                kind, model, x, shifted(gate, t, unit, -epsilon)
            )
            # Both sequences are shifted: the sum of their two gradients.
            expected = (up - down) / (2 * epsilon)
            got = grads[gate][:, t, unit].sum()
            np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)


def test_a_target_unit_and_a_builtin_layer(rng):
    """target=1 differentiates the second output unit only; the model
    may use keras.layers.LSTM."""
    model = model_of("lstm", rng, layer_class=keras.layers.LSTM)
    x = rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    grads = gate_gradients(model, x, "rnn", target=1, gates=["forget"])
    assert list(grads) == ["forget"]
    epsilon = 1e-6

    def unit_one(edit):
        weights = [np.asarray(w, "float64") for w in model.get_weights()]
        gates, _ = reference.lstm(x, *weights, edit=edit)
        return gates["hidden"][:, -1, 1].sum()

    for t, unit in POINTS:
        expected = (
            unit_one(shifted("forget", t, unit, epsilon))
            - unit_one(shifted("forget", t, unit, -epsilon))
        ) / (2 * epsilon)
        got = grads["forget"][:, t, unit].sum()
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("kind, gate", [("lstm", "forget"), ("gru", "update")])
def test_integrated_gradients_are_complete(kind, gate, rng):
    """The attributions sum to F(actual) - F(baseline) within 1% (16 path
    points), and F(baseline) is the model with the gate held at the
    baseline everywhere (float64 reference)."""
    model = model_of(kind, rng)
    x = rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    result = integrated_gradients(model, x, "rnn", gate, baseline=0.0, steps=16)
    change = result["output"] - result["baseline_output"]
    assert abs(change) > 1e-2
    assert abs(result["gap"]) <= 0.01 * abs(change)
    np.testing.assert_allclose(
        result["attributions"].sum() - change, result["gap"], atol=1e-9
    )
    held = last_hidden_sum(
        kind, model, x, lambda n, t, v: np.zeros_like(v) if n == gate else v
    )
    np.testing.assert_allclose(result["baseline_output"], held, atol=1e-5)
    np.testing.assert_allclose(
        result["output"], last_hidden_sum(kind, model, x), atol=1e-5
    )


def test_mistakes_are_named(rng):
    model = model_of("gru", rng)
    x = np.zeros((BATCH, TIME, FEATURES), "float32")
    with pytest.raises(ValueError) as caught:
        gate_gradients(model, x, "rnn", gates=["forget"])
    assert str(caught.value) == (
        "edits['rnn'] names gate 'forget'; a GRU has ('update', 'reset', "
        "'candidate', 'hidden')"
    )
    with pytest.raises(TypeError) as caught:
        gate_gradients(model, x, "rnn", target="last")
    assert str(caught.value) == (
        "target must be None (the sum of the outputs), the index of an "
        "output unit or a callable, got 'last'"
    )
    with pytest.raises(ValueError) as caught:
        integrated_gradients(model, x, "rnn", "update", steps=0)
    assert str(caught.value) == "steps must be a positive integer, got 0"
