"""Property-based equivalence: drawn shapes, masks and options.

The option grid in test_equivalence covers the options one by one; here
Hypothesis draws whole configurations (units, length, batch, features, a
mask layout, several options at once) and each must match the built-in
layer after copying weights: outputs and final states to 1e-5, and the
returned gates must satisfy the recurrence they report.
"""

import keras
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keras_gates import GatedGRU, GatedLSTM
from tests.helpers import assert_outputs_close, to_numpy

PAIRS = {
    "lstm": (keras.layers.LSTM, GatedLSTM),
    "gru": (keras.layers.GRU, GatedGRU),
}


@st.composite
def configurations(draw):
    kind = draw(st.sampled_from(["lstm", "gru"]))
    shape = (
        draw(st.integers(1, 4)),  # batch
        draw(st.integers(1, 9)),  # time
        draw(st.integers(1, 5)),  # features
    )
    options = {
        "units": draw(st.integers(1, 6)),
        "return_sequences": draw(st.booleans()),
        "return_state": True,
        "go_backwards": draw(st.booleans()),
        "use_bias": draw(st.booleans()),
        "activation": draw(st.sampled_from(["tanh", "relu"])),
        "bias_initializer": "random_normal",
    }
    if kind == "gru":
        options["reset_after"] = draw(st.booleans())
    else:
        options["unit_forget_bias"] = False
    layout = draw(st.sampled_from([None, "post", "pre", "holes"]))
    seed = draw(st.integers(0, 2**16))
    return kind, shape, options, layout, seed


def draw_mask(layout, batch, time, rng):
    if layout is None:
        return None
    if layout == "holes":  # any pattern, the first step always valid
        mask = rng.random((batch, time)) < 0.6
        mask[:, 0] = True
        return mask
    lengths = rng.integers(1, time + 1, batch)
    steps = np.arange(time)
    if layout == "post":
        return steps[None, :] < lengths[:, None]
    return steps[None, :] >= (time - lengths)[:, None]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(configurations())
def test_any_configuration_matches_the_builtin(configuration):
    kind, (batch, time, features), options, layout, seed = configuration
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, time, features)).astype("float32")
    mask = draw_mask(layout, batch, time, rng)
    builtin_class, gated_class = PAIRS[kind]
    builtin = builtin_class(**options)
    gated = gated_class(**options, return_gates=True)
    builtin.build(x.shape)
    gated.build(x.shape)
    gated.set_weights(builtin.get_weights())

    expected = builtin(x, mask=mask)
    *actual, gates = gated(x, mask=mask)
    assert_outputs_close(actual, expected)

    # The gates of every valid step rebuild the outputs they came with.
    hidden = to_numpy(gates["hidden"])
    valid = np.ones((batch, time), bool) if mask is None else mask
    assert np.isnan(hidden[~valid]).all()
    if options["return_sequences"]:
        outputs = to_numpy(actual[0])
        if options["go_backwards"]:
            outputs = outputs[:, ::-1]
        np.testing.assert_allclose(outputs[valid], hidden[valid], atol=1e-6)
