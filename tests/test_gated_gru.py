"""GatedGRUCell and GatedGRU: golden numbers, the recurrence, the harness."""

import keras
import numpy as np
import pytest

from keras_gates import Chrono, GatedGRU, GatedGRUCell
from keras_gates.gate_layout import article_update
from tests.helpers import check_layer, to_numpy
from tests.test_gated_lstm import CONSTANT, assert_golden

# As in test_gated_lstm, with both GRU biases 0.05 and reset_after=True.
GOLDEN = {
    "update": [0.52747230, 0.53337901, 0.53976439],
    "reset": [0.52747230, 0.53337901, 0.53976439],
    "candidate": [0.08615946, 0.11743842, 0.14934291],
    "hidden": [0.04071273, 0.07651455, 0.11003275],
}


def test_golden_gates():
    layer = GatedGRU(
        2,
        return_gates=True,
        bias_initializer=keras.initializers.Constant(0.05),
        **CONSTANT,
    )
    assert_golden(layer, GOLDEN)


@pytest.mark.parametrize("reset_after", [True, False])
def test_returned_gates_satisfy_the_recurrence(reset_after, rng):
    x = rng.normal(size=(3, 6, 4)).astype("float32")
    layer = GatedGRU(5, reset_after=reset_after, return_gates=True)
    output, gates = layer(x)
    g = {k: to_numpy(v) for k, v in gates.items()}
    h_prev = np.zeros((3, 5), "float32")
    for t in range(6):
        z = g["update"][:, t]
        h = z * h_prev + (1 - z) * g["candidate"][:, t]
        np.testing.assert_allclose(g["hidden"][:, t], h, atol=1e-6)
        h_prev = h
    np.testing.assert_allclose(to_numpy(output), h_prev, atol=1e-6)
    # The article's update gate lets new information in: 1 - z.
    np.testing.assert_allclose(article_update(g["update"]), 1 - g["update"])


@pytest.mark.parametrize("reset_after", [True, False])
def test_wrapper_equals_a_loop_over_the_cell(reset_after, rng):
    x = rng.normal(size=(3, 6, 4)).astype("float32")
    layer = GatedGRU(5, reset_after=reset_after, return_sequences=True)
    expected = to_numpy(layer(x))
    cell = GatedGRUCell(5, reset_after=reset_after)
    cell.build((None, 4))
    cell.set_weights(layer.get_weights())
    state = cell.get_initial_state(3)
    for t in range(6):
        h, state = cell(x[:, t], state)
        np.testing.assert_allclose(to_numpy(h), expected[:, t], atol=1e-6)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"reset_after": False, "return_sequences": True, "return_state": True},
        {"return_gates": True, "go_backwards": True},
        {"return_gates": True, "return_state": True, "recurrent_dropout": 0.1},
    ],
)
def test_public_api_harness(options, tmp_path, rng):
    x = rng.normal(size=(3, 6, 4)).astype("float32")
    check_layer(lambda: GatedGRU(5, **options), x, tmp_path)


@pytest.mark.parametrize("reset_after", [True, False])
def test_chrono_sets_the_update_gate_near_one(reset_after):
    layer = GatedGRU(
        32,
        reset_after=reset_after,
        bias_initializer=Chrono(100, cell="gru", seed=0),
    )
    layer.build((None, 10, 3))
    bias = layer.get_weights()[2]
    input_bias = bias[0] if reset_after else bias
    update, rest = input_bias[:32], input_bias[32:]
    assert np.exp(update).min() >= 1.0 - 1e-5
    assert np.exp(update).max() <= 99.0 + 1e-3
    np.testing.assert_array_equal(rest, 0.0)
    if reset_after:
        np.testing.assert_array_equal(bias[1], 0.0)
