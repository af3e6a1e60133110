"""Chrono on its own: its law, its seeds, its shapes and its errors.

(Its use inside the layers is tested in test_gated_lstm/test_gated_gru.)
"""

import keras
import numpy as np
import pytest

from keras_gates import Chrono
from tests.helpers import to_numpy
from tests.test_gated_lstm import assert_uniform_timescales


@pytest.mark.parametrize("longest", [3, 4, 40])
def test_lstm_forget_timescales_span_one_to_t_minus_one(longest):
    units = 2000
    bias = to_numpy(Chrono(longest, seed=0)((4 * units,))).reshape(4, units)
    assert_uniform_timescales(np.exp(bias[1]), longest)
    np.testing.assert_array_equal(bias[0], -bias[1])  # input = -forget
    np.testing.assert_array_equal(bias[2:], 0.0)


def test_the_shortest_memory_is_one_step():
    bias = to_numpy(Chrono(2, seed=0)((8,)))  # U[1, 1]: log 1 = 0
    np.testing.assert_array_equal(bias, 0.0)


def test_gru_bias_rows_for_reset_after():
    bias = to_numpy(Chrono(50, cell="gru", seed=1)((2, 3 * 500)))
    assert bias.shape == (2, 1500)
    assert_uniform_timescales(np.exp(bias[0, :500]), 50)
    np.testing.assert_array_equal(bias[0, 500:], 0.0)
    np.testing.assert_array_equal(bias[1], 0.0)


def test_seeds_repeat_and_differ():
    draw = lambda seed: to_numpy(Chrono(100, seed=seed)((40,)))  # noqa: E731
    np.testing.assert_array_equal(draw(3), draw(3))
    assert not np.allclose(draw(3), draw(4))
    unseeded = Chrono(100)
    assert not np.allclose(to_numpy(unseeded((40,))), to_numpy(unseeded((40,))))


def test_dtype_is_honoured():
    assert (
        keras.backend.standardize_dtype(
            Chrono(10, seed=0)((8,), dtype="float64").dtype
        )
        == "float64"
    )


def test_config_round_trip():
    chrono = Chrono(77, cell="gru", seed=5)
    expected = {"max_timesteps": 77, "cell": "gru", "seed": 5}
    assert chrono.get_config() == expected
    clone = keras.initializers.deserialize(keras.initializers.serialize(chrono))
    assert isinstance(clone, Chrono)
    np.testing.assert_array_equal(
        to_numpy(clone((2, 30))), to_numpy(Chrono(77, "gru", 5)((2, 30)))
    )


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"max_timesteps": 0}, "^max_timesteps must be a positive integer"),
        ({"max_timesteps": 1}, "^max_timesteps must be at least 2, got 1$"),
        ({"max_timesteps": 10, "cell": "rnn"}, "^cell must be one of"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Chrono(**kwargs)


@pytest.mark.parametrize(
    "cell,shape,message",
    [
        ("lstm", (10,), r"^Chrono\(cell='lstm'\) initialises a whole LSTM "
         r"bias of shape \(4 \* units,\), got shape \(10,\); with an LSTM "
         r"pass unit_forget_bias=False$"),
        ("gru", (10,), r"^Chrono\(cell='gru'\) initialises a whole GRU bias "
         r"of shape \(3 \* units,\) or \(2, 3 \* units\), got shape \(10,\)"),
        ("gru", (2, 2, 12), r"got shape \(2, 2, 12\)"),
        ("lstm", (), r"got shape \(\)"),
    ],
)  # fmt: skip
def test_a_bias_of_the_wrong_shape_is_refused(cell, shape, message):
    with pytest.raises(ValueError, match=message):
        Chrono(10, cell=cell)(shape)
