"""GatedLSTMCell and GatedLSTM: golden numbers, the recurrence, the harness."""

import keras
import numpy as np
import pytest

from keras_gates import Chrono, GatedLSTM, GatedLSTMCell
from tests import reference
from tests.helpers import check_layer, to_numpy

# reference.arange_inputs() through reference.golden_weights("lstm"): every
# step (rows) of both units (columns), from a float64 numpy loop of the
# equations in the GatedLSTMCell docstring. No two gates, units or steps
# share a value, so a gate reported under another's name shows.
GOLDEN = {
    "input": [[0.38239522, 0.40507962], [0.41930068, 0.42174323],
              [0.45261267, 0.43427175]],
    "forget": [[0.43431060, 0.47545544], [0.41840744, 0.44327431],
               [0.40060210, 0.41262080]],
    "candidate": [[0.09217454, 0.25786137], [0.01725949, 0.29372861],
                  [-0.04259243, 0.34565238]],
    "output": [[0.59620019, 0.61907050], [0.62064488, 0.63298914],
               [0.64765068, 0.64716913]],
    "cell": [[0.03524710, 0.10445439], [0.02198457, 0.17018000],
             [-0.01047081, 0.22032687]],
    "hidden": [[0.02100563, 0.06443047], [0.01364241, 0.10669408],
               [-0.00678118, 0.14032541]],
}  # fmt: skip


def assert_golden(layer, golden, weights):
    """Every gate of both units over the three arange steps, and the final
    output; the table itself must tell every gate and unit apart."""
    columns = [
        np.asarray(v)[:, unit] for v in golden.values() for unit in (0, 1)
    ]
    for a in range(len(columns)):
        for b in range(a):
            assert not np.allclose(columns[a], columns[b], atol=1e-4)
    x = reference.arange_inputs()
    layer.build(x.shape)
    layer.set_weights(weights)
    output, gates = layer(x)
    for name, expected in golden.items():
        np.testing.assert_allclose(
            to_numpy(gates[name])[0], expected, atol=1e-6, err_msg=name
        )
    np.testing.assert_allclose(
        to_numpy(output)[0], golden["hidden"][-1], atol=1e-6
    )


def assert_matches_reference(gates, expected, states, expected_states):
    """Every gate (same names) and final state to 1e-5."""
    assert sorted(gates) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(
            to_numpy(gates[name]), value, atol=1e-5, err_msg=name
        )
    for state, value in zip(states, expected_states, strict=True):
        np.testing.assert_allclose(to_numpy(state), value, atol=1e-5)


def test_golden_gates():
    layer = GatedLSTM(2, return_gates=True)
    assert_golden(layer, GOLDEN, reference.golden_weights("lstm"))


def test_the_numpy_reference_gives_the_golden_table():
    gates, _ = reference.lstm(
        reference.arange_inputs(), *reference.golden_weights("lstm")
    )
    for name, expected in GOLDEN.items():
        np.testing.assert_allclose(gates[name][0], expected, atol=1e-8)


REFERENCE_CASES = [
    ({}, {}),
    ({"go_backwards": True}, {}),
    ({"use_bias": False}, {}),
    ({"implementation": 1}, {}),
    ({"activation": "relu", "recurrent_activation": "hard_sigmoid"}, {}),
    ({}, {"initial_state": True}),
]


@pytest.mark.parametrize("options, call", REFERENCE_CASES)
def test_every_gate_of_every_unit_matches_the_numpy_reference(
    options, call, rng
):
    """Random weights (every gate and unit different) against
    tests/reference.py: all gates, all units, all steps, final states."""
    batch, time, features, units = 3, 7, 4, 5
    x = rng.normal(size=(batch, time, features)).astype("float32")
    kernel, recurrent, bias = reference.random_weights(
        "lstm", features, units, rng
    )
    layer = GatedLSTM(units, return_gates=True, return_state=True, **options)
    layer.build(x.shape)
    weights = [kernel, recurrent] + ([bias] if layer.use_bias else [])
    layer.set_weights(weights)
    state = None
    if call.get("initial_state"):
        state = [
            rng.normal(size=(batch, units)).astype("float32") for _ in "hc"
        ]
    _, h, c, gates = layer(x, initial_state=state)
    expected, (h_ref, c_ref) = reference.lstm(
        x,
        kernel,
        recurrent,
        bias if layer.use_bias else None,
        initial_state=state,
        go_backwards=options.get("go_backwards", False),
        activation=options.get("activation", "tanh"),
        recurrent_activation=options.get("recurrent_activation", "sigmoid"),
    )
    assert_matches_reference(gates, expected, [h, c], [h_ref, c_ref])


def test_returned_gates_satisfy_the_recurrence(rng):
    x = rng.normal(size=(3, 6, 4)).astype("float32")
    layer = GatedLSTM(5, return_gates=True, return_state=True)
    _, h_last, c_last, gates = layer(x)
    g = {k: to_numpy(v) for k, v in gates.items()}
    c_prev = np.zeros((3, 5), "float32")
    for t in range(6):
        c = g["forget"][:, t] * c_prev + g["input"][:, t] * g["candidate"][:, t]
        np.testing.assert_allclose(g["cell"][:, t], c, atol=1e-6)
        h = g["output"][:, t] * np.tanh(c)
        np.testing.assert_allclose(g["hidden"][:, t], h, atol=1e-6)
        c_prev = c
    np.testing.assert_allclose(to_numpy(c_last), c_prev, atol=1e-6)
    np.testing.assert_allclose(to_numpy(h_last), g["hidden"][:, -1], atol=1e-6)
    for name in ("input", "forget", "output"):
        assert 0.0 < g[name].min() and g[name].max() < 1.0


def test_wrapper_equals_a_loop_over_the_cell(rng):
    x = rng.normal(size=(3, 6, 4)).astype("float32")
    layer = GatedLSTM(5, return_sequences=True)
    expected = to_numpy(layer(x))
    cell = GatedLSTMCell(5)
    cell.build((None, 4))
    cell.set_weights(layer.get_weights())
    states = cell.get_initial_state(3)
    for t in range(6):
        h, states = cell(x[:, t], states)
        np.testing.assert_allclose(to_numpy(h), expected[:, t], atol=1e-6)


def test_cell_in_keras_rnn_equals_the_layer(rng):
    x = rng.normal(size=(3, 6, 4)).astype("float32")
    layer = GatedLSTM(5, go_backwards=True)
    rnn = keras.layers.RNN(GatedLSTMCell(5), go_backwards=True)
    rnn.build(x.shape)
    layer.build(x.shape)
    rnn.set_weights(layer.get_weights())
    np.testing.assert_allclose(to_numpy(rnn(x)), to_numpy(layer(x)), atol=1e-6)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"return_sequences": True, "return_state": True},
        {"return_gates": True, "go_backwards": True},
        {"return_gates": True, "return_state": True, "dropout": 0.1, "seed": 1},
    ],
)
def test_public_api_harness(options, tmp_path, rng):
    x = rng.normal(size=(3, 6, 4)).astype("float32")
    check_layer(lambda: GatedLSTM(5, **options), x, tmp_path)


def assert_uniform_timescales(timescales, longest):
    """Tallec & Ollivier's law: exp(bias) ~ U[1, T - 1]. Bounds, spread
    over the whole range, and a Kolmogorov-Smirnov distance to the uniform
    CDF below its 1% critical value."""
    timescales = np.sort(np.asarray(timescales, "float64"))
    n, width = timescales.size, longest - 2.0
    assert timescales.min() >= 1.0 - 1e-5
    assert timescales.max() <= longest - 1.0 + 1e-3
    assert timescales.min() < 1.0 + 0.02 * width
    assert timescales.max() > longest - 1.0 - 0.02 * width
    cdf = (timescales - 1.0) / width
    steps = np.arange(1, n + 1) / n
    distance = max(np.abs(steps - cdf).max(), np.abs(steps - 1 / n - cdf).max())
    assert distance < 1.63 / np.sqrt(n), distance


def test_chrono_bias_follows_tallec_and_ollivier():
    units = 1000
    layer = GatedLSTM(
        units, unit_forget_bias=False, bias_initializer=Chrono(100, seed=0)
    )
    layer.build((None, 10, 3))
    bias = layer.get_weights()[2].reshape(4, units)  # rows: i, f, g, o
    assert_uniform_timescales(np.exp(bias[1]), 100)
    np.testing.assert_allclose(bias[0], -bias[1])
    np.testing.assert_array_equal(bias[2:], 0.0)
    # The built-in layer takes it too.
    builtin = keras.layers.LSTM(
        8, unit_forget_bias=False, bias_initializer=Chrono(50)
    )
    builtin.build((None, 10, 3))
    assert builtin.get_weights()[2][8:16].min() >= 0.0


def test_chrono_needs_the_whole_bias():
    with pytest.raises(ValueError, match="unit_forget_bias=False"):
        GatedLSTM(4, bias_initializer=Chrono(10))
