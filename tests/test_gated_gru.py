"""GatedGRUCell and GatedGRU: golden numbers, the recurrence, the harness."""

import numpy as np
import pytest

from keras_gates import Chrono, GatedGRU, GatedGRUCell
from keras_gates.gate_layout import article_update
from tests import reference
from tests.helpers import check_layer, to_numpy
from tests.test_gated_lstm import (
    assert_golden,
    assert_matches_reference,
    assert_uniform_timescales,
)

# As in test_gated_lstm: reference.arange_inputs() through
# reference.golden_weights("gru", reset_after=...), steps x units.
GOLDEN = {
    True: {
        "update": [[0.39611095, 0.44441585], [0.42820090, 0.49406190],
                   [0.45592082, 0.53410113]],
        "reset": [[0.48243145, 0.51592162], [0.50427793, 0.49326920],
                  [0.51618021, 0.46523644]],
        "candidate": [[0.01099472, 0.18357282], [-0.16031628, 0.09433087],
                      [-0.32249435, 0.01541612]],
        "hidden": [[0.00663959, 0.10199015], [-0.08882562, 0.09811503],
                   [-0.21595991, 0.05958570]],
    },
    False: {
        "update": [[0.38529086, 0.43769254], [0.42416806, 0.50097093],
                   [0.45349558, 0.54541601]],
        "reset": [[0.48016190, 0.51819170], [0.51575790, 0.50285911],
                  [0.53279642, 0.47821883]],
        "candidate": [[0.24491913, 0.44075814], [0.06234622, 0.35410746],
                      [-0.11787512, 0.29029723]],
        "hidden": [[0.15055403, 0.24784159], [0.09976115, 0.30087135],
                   [-0.01917803, 0.29606453]],
    },
}  # fmt: skip


@pytest.mark.parametrize("reset_after", [True, False])
def test_golden_gates(reset_after):
    layer = GatedGRU(2, reset_after=reset_after, return_gates=True)
    weights = reference.golden_weights("gru", reset_after=reset_after)
    assert_golden(layer, GOLDEN[reset_after], weights)


@pytest.mark.parametrize("reset_after", [True, False])
def test_the_numpy_reference_gives_the_golden_table(reset_after):
    gates, _ = reference.gru(
        reference.arange_inputs(),
        *reference.golden_weights("gru", reset_after=reset_after),
        reset_after=reset_after,
    )
    for name, expected in GOLDEN[reset_after].items():
        np.testing.assert_allclose(gates[name][0], expected, atol=1e-8)


REFERENCE_CASES = [
    {},
    {"reset_after": False},
    {"go_backwards": True, "reset_after": False},
    {"use_bias": False},
    {"implementation": 1},
    {"activation": "relu", "recurrent_activation": "hard_sigmoid"},
    {"initial_state": True},
]


@pytest.mark.parametrize("options", REFERENCE_CASES)
def test_every_gate_of_every_unit_matches_the_numpy_reference(options, rng):
    """Random weights against tests/reference.py: update, reset (each
    from its own equation), candidate and hidden, every unit and step."""
    options = dict(options)
    with_state = options.pop("initial_state", False)
    reset_after = options.get("reset_after", True)
    batch, time, features, units = 3, 7, 4, 5
    x = rng.normal(size=(batch, time, features)).astype("float32")
    kernel, recurrent, bias = reference.random_weights(
        "gru", features, units, rng, reset_after=reset_after
    )
    layer = GatedGRU(units, return_gates=True, return_state=True, **options)
    layer.build(x.shape)
    layer.set_weights([kernel, recurrent] + ([bias] if layer.use_bias else []))
    state = None
    if with_state:
        state = rng.normal(size=(batch, units)).astype("float32")
    _, h, gates = layer(x, initial_state=state)
    expected, h_ref = reference.gru(
        x,
        kernel,
        recurrent,
        bias if layer.use_bias else None,
        initial_state=state,
        go_backwards=options.get("go_backwards", False),
        reset_after=reset_after,
        activation=options.get("activation", "tanh"),
        recurrent_activation=options.get("recurrent_activation", "sigmoid"),
    )
    assert_matches_reference(gates, expected, [h], [h_ref])


@pytest.mark.parametrize("reset_after", [True, False])
def test_returned_gates_satisfy_the_recurrence(reset_after, rng):
    x = rng.normal(size=(3, 6, 4)).astype("float32")
    layer = GatedGRU(
        5,
        reset_after=reset_after,
        return_gates=True,
        bias_initializer="random_normal",
    )
    output, gates = layer(x)
    g = {k: to_numpy(v) for k, v in gates.items()}
    weights = layer.get_weights()
    w_h = np.split(weights[0], 3, axis=-1)[2]
    u_h = np.split(weights[1], 3, axis=-1)[2]
    bias = np.asarray(weights[2]).reshape(-1, 3, 5)[:, 2]  # candidate's
    h_prev = np.zeros((3, 5), "float32")
    for t in range(6):
        # The candidate from the returned reset gate, by its equation.
        r = g["reset"][:, t]
        if reset_after:
            inner = r * (h_prev @ u_h + bias[1])
        else:
            inner = (r * h_prev) @ u_h
        np.testing.assert_allclose(
            g["candidate"][:, t],
            np.tanh(x[:, t] @ w_h + bias[0] + inner),
            atol=1e-5,
        )
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
    units = 1000
    layer = GatedGRU(
        units,
        reset_after=reset_after,
        bias_initializer=Chrono(300, cell="gru", seed=0),
    )
    layer.build((None, 10, 3))
    bias = layer.get_weights()[2]
    input_bias = bias[0] if reset_after else bias
    update, rest = input_bias[:units], input_bias[units:]
    assert_uniform_timescales(np.exp(update), 300)
    np.testing.assert_array_equal(rest, 0.0)
    if reset_after:
        np.testing.assert_array_equal(bias[1], 0.0)
