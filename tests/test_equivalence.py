"""GatedLSTM/GatedGRU against keras.layers.LSTM/GRU with copied weights.

Outputs, final states and gradients (inputs and every weight) must agree to
1e-5 in float32, over the layers' options and masks on either side.
"""

import keras
import numpy as np
import pytest

from keras_gates import GatedGRU, GatedLSTM
from tests.helpers import (
    KERAS_VERSION,
    assert_outputs_close,
    flat,
    value_and_gradients,
)

BATCH, TIME, FEATURES, UNITS = 3, 6, 4, 5

OPTIONS = [
    {},
    {"return_sequences": True},
    {"return_state": True},
    {"return_sequences": True, "return_state": True, "go_backwards": True},
    {"go_backwards": True},
    {"return_sequences": True, "zero_output_for_mask": True},
    {"unroll": True, "return_sequences": True},
    {"use_bias": False, "return_state": True},
    {"activation": "relu", "recurrent_activation": "hard_sigmoid"},
    {
        "kernel_initializer": "he_normal",
        "recurrent_initializer": "glorot_uniform",
        "bias_initializer": "random_normal",
        "return_sequences": True,
    },
    {"dropout": 0.3, "seed": 7, "return_sequences": True},
    {"recurrent_dropout": 0.25, "seed": 7, "return_state": True},
    {"dropout": 0.2, "recurrent_dropout": 0.2, "seed": 3, "go_backwards": True},
    {"implementation": 1, "dropout": 0.3, "seed": 5},
    {"kernel_regularizer": "l2", "kernel_constraint": "max_norm"},
]
LSTM_ONLY = [{"unit_forget_bias": False, "bias_initializer": "ones"}]
GRU_ONLY = [
    {"reset_after": False},
    {"reset_after": False, "recurrent_dropout": 0.3, "seed": 2},
    {"reset_after": False, "return_sequences": True, "go_backwards": True},
]
CASES = [("lstm", o) for o in OPTIONS + LSTM_ONLY] + [
    ("gru", o) for o in OPTIONS + GRU_ONLY
]
PAIRS = {
    "lstm": (keras.layers.LSTM, GatedLSTM),
    "gru": (keras.layers.GRU, GatedGRU),
}


def make_mask(side):
    if side is None:
        return None
    lengths = np.array([TIME, 4, 2])
    steps = np.arange(TIME)
    if side == "post":
        return steps[None, :] < lengths[:, None]
    return steps[None, :] >= (TIME - lengths)[:, None]


def twin_layers(kind, options):
    builtin_class, gated_class = PAIRS[kind]
    builtin_options = dict(options)
    if options.get("implementation") == 1:
        # Keras's own cuDNN attempt crashes on implementation=1 dropout masks
        # (a list broadcast to a tensor) before it falls back to the loop.
        builtin_options["use_cudnn"] = False
    builtin = builtin_class(UNITS, **builtin_options)
    gated = gated_class(UNITS, **options)
    builtin.build((BATCH, TIME, FEATURES))
    gated.build((BATCH, TIME, FEATURES))
    gated.set_weights(builtin.get_weights())
    return builtin, gated


def uses_dropout(options):
    return bool(options.get("dropout") or options.get("recurrent_dropout"))


# `training` changes nothing but dropout: without it, one run is enough.
TRAINING_CASES = [
    (kind, options, training)
    for kind, options in CASES
    for training in ((False, True) if uses_dropout(options) else (False,))
]


@pytest.mark.parametrize("mask_side", [None, "post", "pre"])
@pytest.mark.parametrize(
    "kind,options,training",
    TRAINING_CASES,
    ids=[f"{k}-{o}-training={t}" for k, o, t in TRAINING_CASES],
)
def test_outputs_states_and_gradients_match_builtin(
    kind, options, training, mask_side, rng
):
    x = rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    mask = make_mask(mask_side)
    builtin, gated = twin_layers(kind, options)
    kwargs = {"training": training, "mask": mask}

    expected, expected_grads = value_and_gradients(builtin, x, **kwargs)
    actual, actual_grads = value_and_gradients(gated, x, **kwargs)

    assert_outputs_close(actual, expected)
    for a, e in zip(actual_grads, expected_grads, strict=True):
        np.testing.assert_allclose(a, e, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_dropout_is_applied_when_training(kind, rng):
    x = rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    _, gated = twin_layers(kind, {"dropout": 0.5, "seed": 1})
    difference = np.abs(
        keras.ops.convert_to_numpy(gated(x, training=True))
        - keras.ops.convert_to_numpy(gated(x, training=False))
    )
    assert difference.max() > 1e-2


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_initial_state_matches_builtin(kind, rng):
    x = rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    builtin, gated = twin_layers(kind, {"return_state": True})
    n_states = 2 if kind == "lstm" else 1
    states = [
        rng.normal(size=(BATCH, UNITS)).astype("float32")
        for _ in range(n_states)
    ]
    assert_outputs_close(
        gated(x, initial_state=states), builtin(x, initial_state=states)
    )


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_stateful_and_reset_states_match_builtin(kind, rng):
    x = rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    builtin, gated = twin_layers(kind, {"stateful": True})
    for _ in range(2):  # the second call starts from the carried state
        assert_outputs_close(gated(x), builtin(x))
    first = keras.ops.convert_to_numpy(gated(x))
    gated.reset_states()
    builtin.reset_states()
    assert_outputs_close(gated(x), builtin(x))
    assert not np.allclose(keras.ops.convert_to_numpy(gated(x)), first)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_bidirectional_matches_builtin(kind, rng):
    x = rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    builtin_class, gated_class = PAIRS[kind]
    builtin = keras.layers.Bidirectional(
        builtin_class(UNITS, return_sequences=True)
    )
    gated = keras.layers.Bidirectional(
        gated_class(UNITS, return_sequences=True)
    )
    builtin.build((BATCH, TIME, FEATURES))
    gated.build((BATCH, TIME, FEATURES))
    gated.set_weights(builtin.get_weights())
    mask = make_mask("post")
    assert_outputs_close(gated(x, mask=mask), builtin(x, mask=mask))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_same_weights_names_shapes_and_defaults(kind):
    builtin_class, gated_class = PAIRS[kind]
    builtin, gated = builtin_class(UNITS), gated_class(UNITS)
    builtin.build((None, TIME, FEATURES))
    gated.build((None, TIME, FEATURES))
    assert [(w.path.split("/")[-1], tuple(w.shape)) for w in gated.weights] == [
        (w.path.split("/")[-1], tuple(w.shape)) for w in builtin.weights
    ]
    builtin_config = builtin.get_config()
    gated_config = gated.get_config()
    for key, value in builtin_config.items():
        if key not in ("name",):
            assert gated_config[key] == value, key
    # The same default initialisation, forget bias of 1 included.
    if kind == "lstm":
        bias = gated.get_weights()[2]
        np.testing.assert_array_equal(
            bias, np.repeat([0.0, 1.0, 0.0, 0.0], UNITS)
        )
    assert len(flat(gated(np.zeros((2, TIME, FEATURES), "float32")))) == 1


@pytest.mark.parametrize(
    "kind,options",
    [
        ("lstm", {}),
        ("lstm", {"dropout": 0.2, "seed": 1}),
        ("gru", {}),
        ("gru", {"reset_after": False}),
        ("gru", {"dropout": 0.2, "seed": 1}),
    ],
)
def test_training_follows_the_builtin_step_for_step(kind, options, rng):
    """Same per-step arithmetic in the same order: on TensorFlow three SGD
    steps of a masked model end with bit-identical weights (from Keras
    3.12; Keras 3.9 to 3.11 order a sum differently, within 1e-8)."""
    x = rng.integers(0, 30, (16, 12)).astype("int32")
    x[:4, 8:] = 0  # padding, masked
    y = rng.normal(size=(16, 1)).astype("float32")

    def build(layer_class):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((12,), dtype="int32")
        embedded = keras.layers.Embedding(30, 4, mask_zero=True)(inputs)
        outputs = keras.layers.Dense(1)(layer_class(5, **options)(embedded))
        model = keras.Model(inputs, outputs)
        model.compile(keras.optimizers.SGD(0.1), "mse")
        return model

    builtin_class, gated_class = PAIRS[kind]
    builtin, gated = build(builtin_class), build(gated_class)
    gated.set_weights(builtin.get_weights())
    for _ in range(3):
        builtin.train_on_batch(x, y)
        gated.train_on_batch(x, y)
    atol = 0 if keras.backend.backend() == "tensorflow" else 1e-6
    if KERAS_VERSION < (3, 12):
        atol = 1e-8
    for a, b in zip(builtin.get_weights(), gated.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, atol=atol, rtol=0)


PENALTIES = {
    "kernel_regularizer": keras.regularizers.L2(0.01),
    "recurrent_regularizer": keras.regularizers.L1(0.02),
    "bias_regularizer": keras.regularizers.L1L2(0.03, 0.04),
    "activity_regularizer": keras.regularizers.L2(0.05),
}
CONSTRAINTS = {
    "kernel_constraint": keras.constraints.MaxNorm(0.3),
    "recurrent_constraint": keras.constraints.NonNeg(),
    "bias_constraint": keras.constraints.MinMaxNorm(0.1, 0.2),
}


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_regularization_losses_match_builtin(kind, rng):
    x = rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    builtin, gated = twin_layers(kind, PENALTIES)
    builtin(x), gated(x)
    expected = sorted(
        float(keras.ops.convert_to_numpy(v)) for v in builtin.losses
    )
    actual = sorted(float(keras.ops.convert_to_numpy(v)) for v in gated.losses)
    assert len(expected) == 4  # three weights and the activity
    np.testing.assert_allclose(actual, expected, rtol=1e-6)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_constraints_hold_after_a_step_as_in_builtin(kind, rng):
    x = rng.normal(size=(8, TIME, FEATURES)).astype("float32")
    y = rng.normal(size=(8, UNITS)).astype("float32")
    models = []
    for layer in twin_layers(kind, CONSTRAINTS):
        model = keras.Sequential([keras.Input((TIME, FEATURES)), layer])
        model.compile(keras.optimizers.SGD(1.0), "mse")
        model.train_on_batch(x, y)
        models.append(model)
    (b_kernel, b_recurrent, b_bias), (kernel, recurrent, bias) = (
        m.get_weights() for m in models
    )
    # The constraints bit: every column's norm, no negative entry.
    assert np.linalg.norm(kernel, axis=0).max() <= 0.3 + 1e-5
    assert recurrent.min() >= 0.0
    for actual, expected in [
        (kernel, b_kernel),
        (recurrent, b_recurrent),
        (bias, b_bias),
    ]:
        np.testing.assert_allclose(actual, expected, atol=1e-6)


ATTRIBUTES = {
    "units": 5, "activation": "relu", "recurrent_activation": "hard_sigmoid",
    "use_bias": False, "kernel_initializer": "he_normal",
    "recurrent_initializer": "glorot_normal", "bias_initializer": "ones",
    "dropout": 0.25, "recurrent_dropout": 0.125, "seed": 42,
}  # fmt: skip


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_read_only_attributes_mirror_the_builtin(kind):
    """`layer.units`, `layer.dropout`, ...: what the built-in exposes."""
    builtin_class, gated_class = PAIRS[kind]
    extra = {"lstm": {"unit_forget_bias": False}, "gru": {"reset_after": False}}
    extra = extra[kind]
    options = {**ATTRIBUTES, **PENALTIES, **CONSTRAINTS, **extra}
    builtin, gated = builtin_class(**options), gated_class(**options)
    for name in [*ATTRIBUTES, *PENALTIES, *CONSTRAINTS, *extra]:
        if name == "activity_regularizer" or not hasattr(builtin, name):
            continue  # the cell's seed is not a property of Keras's layer
        expected, actual = getattr(builtin, name), getattr(gated, name)
        if isinstance(expected, (int, float, bool, str, type(None))):
            assert actual == expected, name
        else:
            assert type(actual) is type(expected), name
            assert keras.saving.serialize_keras_object(
                actual
            ) == keras.saving.serialize_keras_object(expected), name
    assert gated.implementation == builtin.cell.implementation
    assert gated.units == 5 and gated.dropout == 0.25 and gated.seed == 42


@pytest.mark.parametrize(
    "kind,options",
    [("lstm", {}), ("gru", {}), ("gru", {"reset_after": False})],
)
def test_a_seeded_layer_starts_from_the_builtins_weights(kind, options):
    """Same initialisers, drawn in the same order: with the same global
    seed, the gated layer's initial weights are the built-in's."""
    builtin_class, gated_class = PAIRS[kind]
    weights = []
    for layer_class in (builtin_class, gated_class):
        keras.utils.set_random_seed(11)
        layer = layer_class(UNITS, bias_initializer="random_normal", **options)
        layer.build((None, TIME, FEATURES))
        weights.append(layer.get_weights())
    for expected, actual in zip(*weights, strict=True):
        np.testing.assert_array_equal(actual, expected)
