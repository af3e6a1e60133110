"""GatedLSTMCell and GatedLSTM: golden numbers, the recurrence, the harness."""

import keras
import numpy as np
import pytest

from keras_gates import Chrono, GatedLSTM, GatedLSTMCell
from tests.helpers import check_layer, to_numpy

CONSTANT = {
    "kernel_initializer": keras.initializers.Constant(0.1),
    "recurrent_initializer": keras.initializers.Constant(-0.2),
}
# np.arange inputs / 10, kernel 0.1, recurrent kernel -0.2, Keras's default
# bias (forget 1, others 0); unit 0 over three steps, from a float64 numpy
# loop of the equations in the GatedLSTMCell docstring.
GOLDEN = {
    "input": [0.50249998, 0.51224506, 0.52101296],
    "forget": [0.73302015, 0.74058091, 0.74726934],
    "candidate": [0.00999967, 0.04895086, 0.08390364],
    "output": [0.50249998, 0.51224506, 0.52101296],
    "cell": [0.00502483, 0.02879613, 0.06523335],
    "hidden": [0.00252496, 0.01474660, 0.03393929],
}


def arange_inputs(batch=1, time=3, features=2):
    size = batch * time * features
    return np.arange(size, dtype="float32").reshape(batch, time, features) / 10


def assert_golden(layer, golden):
    """Unit 0's gates over the three arange steps, and the final output."""
    output, gates = layer(arange_inputs())
    for name, expected in golden.items():
        np.testing.assert_allclose(
            to_numpy(gates[name])[0, :, 0], expected, atol=1e-6, err_msg=name
        )
    np.testing.assert_allclose(
        to_numpy(output)[0, 0], golden["hidden"][-1], atol=1e-6
    )


def test_golden_gates():
    assert_golden(GatedLSTM(2, return_gates=True, **CONSTANT), GOLDEN)


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


def test_chrono_bias_follows_tallec_and_ollivier():
    layer = GatedLSTM(
        64, unit_forget_bias=False, bias_initializer=Chrono(100, seed=0)
    )
    layer.build((None, 10, 3))
    bias = layer.get_weights()[2].reshape(4, 64)  # rows: i, f, g, o
    forget_timescale = np.exp(bias[1])
    assert forget_timescale.min() >= 1.0 - 1e-5
    assert forget_timescale.max() <= 99.0 + 1e-3
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
