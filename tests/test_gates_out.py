"""What every gated layer promises about its gates, and its bad input."""

import keras
import numpy as np
import pytest

from keras_gates import GatedGRU, GatedLSTM
from keras_gates.gate_layout import gate_names
from tests.helpers import to_numpy

LAYERS = {"lstm": GatedLSTM, "gru": GatedGRU}


def gates_of(layer, x, **kwargs):
    result = layer(x, **kwargs)
    return result[0], {k: to_numpy(v) for k, v in result[-1].items()}


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gates_cover_every_step_even_without_return_sequences(kind, rng):
    x = rng.normal(size=(3, 6, 4)).astype("float32")
    layer = LAYERS[kind](5, return_gates=True)
    output, gates = gates_of(layer, x)
    assert sorted(gates) == sorted(gate_names(kind))
    assert all(v.shape == (3, 6, 5) for v in gates.values())
    np.testing.assert_allclose(to_numpy(output), gates["hidden"][:, -1])


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gates_are_in_input_order_with_go_backwards(kind, rng):
    x = rng.normal(size=(2, 6, 4)).astype("float32")
    backward = LAYERS[kind](5, return_gates=True, go_backwards=True)
    forward = LAYERS[kind](5, return_gates=True)
    backward.build(x.shape)
    forward.build(x.shape)
    forward.set_weights(backward.get_weights())
    _, gates_back = gates_of(backward, x)
    _, gates_fwd = gates_of(forward, x[:, ::-1])
    for name in gates_back:
        np.testing.assert_allclose(
            gates_back[name], gates_fwd[name][:, ::-1], atol=1e-6
        )


@pytest.mark.parametrize("side", ["post", "pre"])
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_masked_steps_are_nan_and_valid_steps_ignore_padding(kind, side, rng):
    """Rule: a masked step has no gates (NaN); a valid step's gates are
    those of the sequence without its padding."""
    x = rng.normal(size=(2, 6, 4)).astype("float32")
    mask = np.ones((2, 6), bool)
    padded = slice(4, 6) if side == "post" else slice(0, 2)
    mask[1, padded] = False
    layer = LAYERS[kind](5, return_gates=True)
    _, gates = gates_of(layer, x, mask=mask)
    trimmed = x[1:2, 0:4] if side == "post" else x[1:2, 2:6]
    _, alone = gates_of(layer, trimmed)
    for name, value in gates.items():
        assert np.isnan(value[1, padded]).all(), name
        assert np.isfinite(value[0]).all(), name
        np.testing.assert_allclose(
            value[1][mask[1]], alone[name][0], atol=1e-6, err_msg=name
        )


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_mixed_precision_runs_and_keeps_gates_finite(kind, policy, rng):
    keras.config.set_dtype_policy(policy)
    x = rng.normal(size=(3, 6, 4)).astype("float32")
    layer = LAYERS[kind](5, return_gates=True, return_sequences=True)
    output, gates = gates_of(layer, x)
    assert layer.compute_dtype == policy.split("_")[1]
    assert layer.cell.kernel.dtype == "float32"
    assert all(np.isfinite(v.astype("float32")).all() for v in gates.values())
    reference = LAYERS[kind](5, return_sequences=True, dtype="float32")
    reference.build(x.shape)
    reference.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        to_numpy(output).astype("float32"), to_numpy(reference(x)), atol=2e-2
    )


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize(
    "argument,value,message",
    [
        ("units", 0, "units must be a positive integer, got 0"),
        ("units", -3, "units must be a positive integer, got -3"),
        ("units", 2.5, "units must be a positive integer, got 2.5"),
        ("dropout", 1.0, r"dropout must be a float in \[0, 1\), got 1.0"),
        ("dropout", -0.1, r"dropout must be a float in \[0, 1\), got -0.1"),
        ("recurrent_dropout", 1.5, r"recurrent_dropout must be a float"),
        ("activation", "tanhh", "activation must be the name of a Keras"),
        ("recurrent_activation", "nope", "recurrent_activation must be"),
        ("use_cudnn", "yes", "use_cudnn must be one of"),
        ("implementation", 3, "implementation must be one of"),
    ],
)
def test_bad_arguments_name_the_argument_and_value(
    kind, argument, value, message
):
    kwargs = {"units": 4, argument: value}
    with pytest.raises(ValueError, match=message):
        LAYERS[kind](**kwargs)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_bad_input_shapes_are_named(kind):
    layer = LAYERS[kind](4)
    with pytest.raises(
        ValueError,
        match=r"expects inputs of shape \(batch, time, features\), got a 2-D",
    ):
        layer(np.ones((3, 4), "float32"))
    layer(np.ones((3, 6, 4), "float32"))
    with pytest.raises(ValueError, match="was built for 4 input features"):
        layer(np.ones((3, 6, 5), "float32"))
