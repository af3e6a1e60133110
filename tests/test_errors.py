"""Mistakes a new user makes get an error that names the argument, what
came and what was expected, before any backend op runs (where the
built-in layers give the backend's own error). Messages matched whole."""

import keras
import numpy as np
import pytest

from keras_gates import GatedGRU, GatedLSTM

LAYERS = {"lstm": GatedLSTM, "gru": GatedGRU}
X = np.zeros((3, 4, 2), "float32")


@pytest.fixture
def raw_errors():
    """Keras's own message wrapper off: the error as the layer raised it."""
    keras.config.disable_traceback_filtering()
    yield
    keras.config.enable_traceback_filtering()


def error_of(call) -> str:
    with pytest.raises(ValueError) as caught:
        call()
    return str(caught.value)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_a_sequence_of_length_zero(kind, raw_errors):
    layer = LAYERS[kind](5, name="rnn")
    message = error_of(lambda: layer(np.zeros((3, 0, 2), "float32")))
    assert message == (
        "rnn needs at least one timestep, got inputs of shape (3, 0, 2) "
        "(time 0)"
    )


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("shape", [(3, 5), (2, 4), (3,), (3, 4, 1)])
def test_a_mask_of_another_shape_than_the_inputs(kind, shape, raw_errors):
    layer = LAYERS[kind](5, name="rnn")
    mask = np.ones(shape, bool)
    assert error_of(lambda: layer(X, mask=mask)) == (
        "rnn: mask must have shape (batch, time) = (3, 4), the first two "
        f"sizes of the inputs (3, 4, 2); got a mask of shape {shape}"
    )


@pytest.mark.parametrize(
    "kind, count, expected",
    [
        ("lstm", 1, "2 tensors (h, c), each of shape (batch, units) = (3, 5)"),
        ("lstm", 3, "2 tensors (h, c), each of shape (batch, units) = (3, 5)"),
        ("gru", 2, "1 tensor (h) of shape (batch, units) = (3, 5)"),
    ],
)
def test_initial_states_of_the_wrong_count(kind, count, expected, raw_errors):
    layer = LAYERS[kind](5, name="rnn")
    states = [np.zeros((3, 5), "float32")] * count
    assert error_of(lambda: layer(X, initial_state=states)) == (
        f"rnn: initial_state must be {expected}; got {count} tensors"
    )


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("shape", [(3, 4), (2, 5), (3, 5, 1), (5,)])
def test_initial_states_of_the_wrong_shape(kind, shape, raw_errors):
    layer = LAYERS[kind](5, name="rnn")
    count = 2 if kind == "lstm" else 1
    states = [np.zeros(shape, "float32")] + [np.zeros((3, 5), "float32")] * (
        count - 1
    )
    assert error_of(lambda: layer(X, initial_state=states)) == (
        f"rnn: initial_state h must have shape (batch, units) = (3, 5); "
        f"got {shape}"
    )
    if kind == "lstm":
        states = states[::-1]
        assert error_of(lambda: layer(X, initial_state=states)) == (
            f"rnn: initial_state c must have shape (batch, units) = (3, 5); "
            f"got {shape}"
        )


def test_right_states_and_mask_still_run():
    """The checks pass what is right: states given, a mask of the inputs'
    shape (one step masked), the same outputs as the built-in's."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 2)).astype("float32")
    states = [rng.normal(size=(3, 5)).astype("float32") for _ in range(2)]
    mask = np.ones((3, 4), bool)
    mask[1, 0] = False
    gated, builtin = GatedLSTM(5), keras.layers.LSTM(5)
    for layer in (gated, builtin):
        layer.build(x.shape)
    gated.set_weights(builtin.get_weights())
    outputs = [
        keras.ops.convert_to_numpy(layer(x, initial_state=states, mask=mask))
        for layer in (gated, builtin)
    ]
    np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-6)


def test_the_fgr_variant_names_its_third_state(raw_errors):
    """fgr carries the previous step's gates as a third state."""
    layer = GatedLSTM(5, variant="fgr", name="rnn")
    states = [np.zeros((3, 5), "float32")] * 2
    assert error_of(lambda: layer(X, initial_state=states)) == (
        "rnn: initial_state must be 3 tensors (h (3, 5), c (3, 5), previous "
        "gates (3, 15)), of shapes (batch, size); got 2 tensors"
    )
    states.append(np.zeros((3, 5), "float32"))
    assert error_of(lambda: layer(X, initial_state=states)) == (
        "rnn: initial_state previous gates must have shape (batch, size) = "
        "(3, 15); got (3, 5)"
    )
