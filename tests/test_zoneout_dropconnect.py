"""Zoneout and recurrent DropConnect, against the float64 numpy reference:
inference is the expectation, training draws its masks from the seed in
the documented order, gradients match finite differences."""

import keras
import numpy as np
import pytest

from keras_gates import (
    GatedGRU,
    GatedGRUCell,
    GatedLSTM,
    GatedLSTMCell,
    extract_gates,
)
from tests import reference
from tests.helpers import (
    check_layer,
    numeric_gradients,
    numpy_weighted_sum,
    to_numpy,
    value_and_gradients,
)

BATCH, TIME, FEATURES, UNITS = 2, 5, 3, 4
SEED = 11


def inputs():
    rng = np.random.default_rng(3)
    return rng.normal(0, 1, (BATCH, TIME, FEATURES)).astype("float32")


def make(kind, **options):
    layer = (GatedLSTM if kind == "lstm" else GatedGRU)(
        UNITS, return_gates=True, return_sequences=True, seed=SEED, **options
    )
    layer.build((BATCH, TIME, FEATURES))
    rng = np.random.default_rng(5)
    layer.set_weights(
        [rng.normal(0, 0.5, w.shape).astype("float32") for w in layer.weights]
    )
    return layer


def draws(kind, dropconnect, rates, blocks=None):
    """The masks a training call draws, drawn here from a fresh generator
    with the layer's seed in the documented order: the DropConnect mask,
    then one zoneout mask per state (h, then c)."""
    generator = keras.random.SeedGenerator(SEED)
    mask = None
    if dropconnect:
        blocks = blocks or (4 if kind == "lstm" else 3)
        ones = keras.ops.ones((UNITS, blocks * UNITS))
        mask = to_numpy(keras.random.dropout(ones, dropconnect, seed=generator))
    zones = [
        to_numpy(
            keras.random.uniform((BATCH, TIME, UNITS), seed=generator) < rate
        ).astype("float64")
        for rate in rates
        if any(rates)
    ]
    return mask, zones


def run_reference(kind, weights, x, zone, kernel_mask=None):
    kernel, recurrent, bias = (np.asarray(w, "float64") for w in weights[:3])
    if kernel_mask is not None:
        recurrent = recurrent * kernel_mask
    if kind == "lstm":
        return reference.lstm(x, kernel, recurrent, bias, zoneout=zone)[0]
    return reference.gru(x, kernel, recurrent, bias, zoneout=zone)[0]


def assert_gates(got, expected, atol=1e-5):
    assert sorted(got) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(to_numpy(got[name]), value, atol=atol)


CASES = [
    ("lstm", (0.3, 0.6), 0.0),
    ("lstm", (0.2, 0.2), 0.4),
    ("lstm", (0.0, 0.0), 0.5),
    ("gru", (0.35,), 0.0),
    ("gru", (0.25,), 0.3),
]


def _options(kind, rates, dropconnect):
    zoneout = (
        list(rates) if kind == "lstm" and rates[0] != rates[1] else rates[0]
    )
    return {"zoneout": zoneout, "recurrent_dropconnect": dropconnect}


@pytest.mark.parametrize("kind, rates, dropconnect", CASES)
def test_inference_keeps_the_expected_share(kind, rates, dropconnect):
    layer = make(kind, **_options(kind, rates, dropconnect))
    x = inputs()
    _, gates = layer(x)
    zone = None
    if any(rates):
        zone = (lambda t: rates) if kind == "lstm" else (lambda t: rates[0])
    expected = run_reference(kind, layer.get_weights(), x, zone)
    assert_gates(gates, expected)


@pytest.mark.parametrize("kind, rates, dropconnect", CASES)
def test_training_draws_its_masks_from_the_seed(kind, rates, dropconnect):
    layer = make(kind, **_options(kind, rates, dropconnect))
    x = inputs()
    _, gates = layer(x, training=True)
    mask, zones = draws(kind, dropconnect, rates)
    zone = None
    if zones:
        zone = (
            (lambda t: (zones[0][:, t], zones[1][:, t]))
            if kind == "lstm"
            else (lambda t: zones[0][:, t])
        )
    expected = run_reference(kind, layer.get_weights(), x, zone, mask)
    assert_gates(gates, expected)
    # Another training call draws other masks; inference draws none.
    _, again = layer(x, training=True)
    assert not np.allclose(to_numpy(again["hidden"]), expected["hidden"])


@pytest.mark.parametrize("kind, rates, dropconnect", [CASES[1], CASES[4]])
def test_training_gradients_match_finite_differences(kind, rates, dropconnect):
    layer = make(kind, **_options(kind, rates, dropconnect))
    x = inputs()
    _, grads = value_and_gradients(layer, x, training=True)
    mask, zones = draws(kind, dropconnect, rates)
    zone = (
        (lambda t: (zones[0][:, t], zones[1][:, t]))
        if kind == "lstm"
        else (lambda t: zones[0][:, t])
    )

    def loss(arrays):
        gates = run_reference(kind, arrays[1:], arrays[0], zone, mask)
        return numpy_weighted_sum(
            [gates["hidden"]] + [gates[name] for name in sorted(gates)]
        )

    expected = numeric_gradients(loss, [x] + layer.get_weights())
    for got, want in zip(grads, expected, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("variant, peepholes", [("cifg", True), ("nog", False)])
def test_zoneout_with_a_variant_and_peepholes(variant, peepholes):
    layer = make(
        "lstm",
        variant=variant,
        peepholes=peepholes,
        zoneout=[0.3, 0.5],
        recurrent_dropconnect=0.25,
    )
    x = inputs()
    _, gates = layer(x, training=True)
    weights = [np.asarray(w, "float64") for w in layer.get_weights()]
    blocks = {"cifg": ("input", "candidate", "output"),
              "nog": ("input", "forget", "candidate")}[variant]  # fmt: skip
    # The DropConnect mask has the variant's kernel's shape.
    mask, zones = draws("lstm", 0.25, (0.3, 0.5), blocks=len(blocks))

    def named(matrix):
        return dict(zip(blocks, np.split(matrix, len(blocks), -1), strict=True))

    peephole = None
    if peepholes:
        sigmoid = [g for g in ("input", "forget", "output") if g in blocks]
        peephole = dict(zip(sigmoid, weights[3:], strict=True))
    expected, _ = reference.lstm_variant(
        x,
        named(weights[0]),
        named(weights[1] * mask),
        named(weights[2]),
        variant,
        peephole,
        zoneout=lambda t: (zones[0][:, t], zones[1][:, t]),
    )
    assert_gates(gates, expected)


def test_a_masked_step_keeps_the_state_with_zoneout():
    layer = make("lstm", zoneout=0.4)
    x = inputs()
    mask = np.ones((BATCH, TIME), bool)
    mask[0, 2] = False
    outputs, gates = layer(x, mask=mask, training=True)
    outputs = to_numpy(outputs)
    np.testing.assert_array_equal(outputs[0, 2], outputs[0, 1])
    assert np.isnan(to_numpy(gates["cell"])[0, 2]).all()


def test_cells_in_keras_rnn_match_the_layers():
    x = inputs()
    for kind, cell_class in (("lstm", GatedLSTMCell), ("gru", GatedGRUCell)):
        layer = make(kind, zoneout=0.3, recurrent_dropconnect=0.4)
        cell = cell_class(
            UNITS, zoneout=0.3, recurrent_dropconnect=0.4, seed=SEED
        )
        rnn = keras.layers.RNN(cell, return_sequences=True)
        rnn.build((BATCH, TIME, FEATURES))
        rnn.set_weights(layer.get_weights())
        expected, _ = layer(x)
        np.testing.assert_allclose(
            to_numpy(rnn(x)), to_numpy(expected), atol=1e-6
        )
        # Training: the DropConnect mask is drawn once, before the loop.
        only = make(kind, recurrent_dropconnect=0.4)
        alone = keras.layers.RNN(
            cell_class(UNITS, recurrent_dropconnect=0.4, seed=SEED),
            return_sequences=True,
        )
        alone.build((BATCH, TIME, FEATURES))
        alone.set_weights(only.get_weights())
        trained, _ = only(x, training=True)
        np.testing.assert_allclose(
            to_numpy(alone(x, training=True)), to_numpy(trained), atol=1e-6
        )


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_save_reload_train_and_extract(kind, tmp_path):
    options = {"zoneout": 0.2, "recurrent_dropconnect": 0.3}
    layer_class = GatedLSTM if kind == "lstm" else GatedGRU
    check_layer(
        lambda: layer_class(UNITS, return_sequences=True, **options),
        inputs(),
        tmp_path,
    )
    config = layer_class(UNITS, **options).get_config()
    assert (config["zoneout"], config["recurrent_dropconnect"]) == (0.2, 0.3)
    plain = layer_class(UNITS).get_config()
    assert "zoneout" not in plain and "recurrent_dropconnect" not in plain
    layer = make(kind, **options)
    model = keras.Sequential([keras.Input((TIME, FEATURES)), layer])
    _, gates = layer(inputs())
    read = extract_gates(model, inputs())[layer.name]
    for name, value in read.items():
        np.testing.assert_allclose(value, to_numpy(gates[name]), atol=1e-6)


def test_mistakes_are_named():
    cases = [
        (lambda: GatedLSTM(3, zoneout=1.0), ValueError,
         "zoneout must be a float in [0, 1), got 1.0"),
        (lambda: GatedLSTM(3, zoneout=(0.1,)), ValueError,
         "zoneout must be a rate or one rate per state ('h', 'c') of the "
         "LSTM, got (0.1,)"),
        (lambda: GatedGRU(3, zoneout=(0.1, 0.2)), ValueError,
         "zoneout must be a rate or one rate per state ('h',) of the GRU, "
         "got (0.1, 0.2)"),
        (lambda: GatedGRU(3, recurrent_dropconnect=-0.1), ValueError,
         "recurrent_dropconnect must be a float in [0, 1), got -0.1"),
        (lambda: GatedLSTM(3, zoneout=0.1, use_cudnn=True), ValueError,
         "use_cudnn=True runs the built-in's fused kernel, which computes "
         "the standard cell only; got variant='standard', peepholes=False, "
         "zoneout=0.1: pass use_cudnn='auto' or False"),
        (lambda: GatedGRU(3, recurrent_dropconnect=0.2, recover_gates=True),
         ValueError,
         "recover_gates=True computes the gates from the output sequence, "
         "but with variant='standard', peepholes=False, "
         "recurrent_dropconnect=0.2 training draws masks inside the step; "
         "pass recover_gates='auto' or False (gates stepped)"),
    ]  # fmt: skip
    for make_layer, error, message in cases:
        with pytest.raises(error) as caught:
            make_layer()
        assert str(caught.value) == message


def test_dropconnect_reaches_the_candidate_without_reset_after():
    # Without reset_after the candidate's recurrent block is multiplied
    # on its own, after the reset gate: the mask must reach it too.
    layer = make("gru", recurrent_dropconnect=0.5, reset_after=False)
    x = inputs()
    _, gates = layer(x, training=True)
    mask, _ = draws("gru", 0.5, (0.0,))
    kernel, recurrent, bias = (
        np.asarray(w, "float64") for w in layer.get_weights()
    )
    expected, _ = reference.gru(
        x, kernel, recurrent * mask, bias, reset_after=False
    )
    assert_gates(gates, expected)
