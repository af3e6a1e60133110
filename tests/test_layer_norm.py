"""layer_norm=True against the float64 numpy reference of Ba, Kiros &
Hinton's equations (tests/reference.py): values, gates, gradients by
finite differences, recovery, the combinations with the variants, zoneout
and DropConnect, saving and editing."""

import keras
import numpy as np
import pytest

from keras_gates import (
    GatedGRU,
    GatedGRUCell,
    GatedLSTM,
    GatedLSTMCell,
    convert,
    extract_gates,
    intervene,
)
from keras_gates.inspection.interventions import Clamp
from tests import reference
from tests.helpers import (
    check_layer,
    numeric_gradients,
    numpy_weighted_sum,
    to_numpy,
    value_and_gradients,
)

BATCH, TIME, FEATURES, UNITS = 2, 5, 3, 4
SEED = 7


def inputs():
    return np.random.default_rng(3).normal(0, 1, (BATCH, TIME, FEATURES))


def make(kind, **options):
    layer = (GatedLSTM if kind == "lstm" else GatedGRU)(
        UNITS,
        return_gates=True,
        return_sequences=True,
        layer_norm=True,
        seed=SEED,
        **options,
    )
    layer.build((BATCH, TIME, FEATURES))
    # Gains and biases away from 1 and 0, so that each one matters.
    rng = np.random.default_rng(5)
    layer.set_weights(
        [rng.normal(0.3, 0.6, w.shape).astype("float32") for w in layer.weights]
    )
    return layer


def named(layer):
    """{short weight name: float64 array}."""
    return {
        w.path.split("/")[-1]: np.asarray(to_numpy(w), "float64")
        for w in layer.weights
    }


def blocks(matrix, gates):
    return dict(zip(gates, np.split(matrix, len(gates), -1), strict=True))


def reference_gates(layer, x, arrays=None, zone=None, kernel_mask=None):
    """The reference's gates for `layer`'s settings, from `arrays` (the
    layer's weights in order; default its own) and `x`."""
    cell = layer.cell
    names = [w.path.split("/")[-1] for w in layer.weights]
    w = dict(zip(names, arrays, strict=True)) if arrays else named(layer)
    gates = cell.weight_gates
    recurrent = w["recurrent_kernel"]
    if kernel_mask is not None:
        recurrent = recurrent * kernel_mask
    if cell.kind == "lstm":
        norms = {k: (w[f"{k}_gamma"], w[f"{k}_beta"]) for k in
                 ("input", "recurrent", "cell")}  # fmt: skip
        peephole = {
            g: w[f"{g}_peephole"]
            for g in ("input", "forget", "output")
            if f"{g}_peephole" in w
        }
        return reference.lstm_variant(
            x,
            blocks(w["kernel"], gates),
            blocks(recurrent, gates),
            blocks(w["bias"], gates),
            cell.variant,
            peephole or None,
            gate_R=w.get("gate_kernel"),
            zoneout=zone,
            norms=norms,
        )[0]
    norms = {k: (w[f"{k}_gamma"], w[f"{k}_beta"]) for k in
             ("input", "recurrent")}  # fmt: skip
    bias = w["bias"]
    if cell.reset_after:
        bias, recurrent_bias = bias[0], bias[1]
    else:
        recurrent_bias = np.zeros_like(bias)
    found = reference.layer_norm_gru(
        x,
        blocks(w["kernel"], gates),
        blocks(recurrent, gates),
        blocks(bias, gates),
        blocks(recurrent_bias, gates),
        norms,
        reset_after=cell.reset_after,
        zoneout=zone,
    )[0]
    if cell.variant == "mgu":
        found["reset"] = 1.0 - found["update"]
    return found


def assert_gates(got, expected, atol=1e-5):
    assert sorted(got) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(to_numpy(got[name]), value, atol=atol)


CONFIGS = [
    ("lstm", {}),
    ("lstm", {"variant": "cifg", "peepholes": True}),
    ("lstm", {"variant": "noaf"}),
    ("lstm", {"variant": "fgr"}),
    ("lstm", {"implementation": 1}),
    ("gru", {}),
    ("gru", {"reset_after": False}),
    ("gru", {"variant": "mgu", "reset_after": False}),
]


@pytest.mark.parametrize("kind, options", CONFIGS)
def test_gates_equal_the_reference(kind, options):
    layer = make(kind, **options)
    x = inputs().astype("float32")
    _, gates = layer(x)
    assert_gates(gates, reference_gates(layer, x))


def test_the_normalised_cell_state_is_its_own_entry():
    layer = make("lstm")
    _, gates = layer(inputs().astype("float32"))
    assert list(gates) == ["input", "forget", "candidate", "output", "cell",
                           "normalized_cell", "hidden"]  # fmt: skip
    normalized = to_numpy(gates["normalized_cell"])
    w = named(layer)
    centred = (normalized - w["cell_beta"]) / w["cell_gamma"]
    # Each step's normalised cell state has mean 0 and variance close to
    # 1 over the units, before its gain and bias.
    np.testing.assert_allclose(centred.mean(-1), 0.0, atol=1e-5)
    variance = to_numpy(gates["cell"]).var(-1)
    np.testing.assert_allclose(
        centred.var(-1), variance / (variance + 1e-3), atol=1e-5
    )


@pytest.mark.parametrize(
    "kind, options",
    [("lstm", {}), ("gru", {}), ("gru", {"reset_after": False})],
)
def test_gradients_match_finite_differences(kind, options):
    layer = make(kind, **options)
    x = inputs().astype("float32")
    _, grads = value_and_gradients(layer, x)

    def loss(arrays):
        gates = reference_gates(layer, arrays[0], arrays[1:])
        return numpy_weighted_sum(
            [gates["hidden"]] + [gates[name] for name in sorted(gates)]
        )

    expected = numeric_gradients(loss, [x] + layer.get_weights())
    assert len(grads) == len(expected) == 1 + len(layer.weights)
    for got, want in zip(grads, expected, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)


def test_training_with_zoneout_and_dropconnect():
    layer = make("lstm", zoneout=[0.3, 0.5], recurrent_dropconnect=0.25)
    x = inputs().astype("float32")
    _, gates = layer(x, training=True)
    # The masks drawn in the documented order from the layer's seed:
    # DropConnect, then zoneout on h, then on c.
    generator = keras.random.SeedGenerator(SEED)
    ones = keras.ops.ones((UNITS, 4 * UNITS))
    mask = to_numpy(keras.random.dropout(ones, 0.25, seed=generator))
    zones = [
        to_numpy(
            keras.random.uniform((BATCH, TIME, UNITS), seed=generator) < rate
        ).astype("float64")
        for rate in (0.3, 0.5)
    ]
    expected = reference_gates(
        layer,
        x,
        zone=lambda t: (zones[0][:, t], zones[1][:, t]),
        kernel_mask=mask,
    )
    assert_gates(gates, expected)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_recovered_gates_equal_stepped_gates(kind):
    x = inputs().astype("float32")
    mask = np.ones((BATCH, TIME), bool)
    mask[1, 3:] = False
    stepped = make(kind, recover_gates=False)
    recovered = make(kind, recover_gates=True)
    recovered.set_weights(stepped.get_weights())
    assert "recovered" in recovered.sequence_plan(x)
    for given in (None, mask):
        _, want = stepped(x, mask=given)
        _, got = recovered(x, mask=given)
        assert sorted(got) == sorted(want)
        for name in want:
            np.testing.assert_allclose(
                to_numpy(got[name]), to_numpy(want[name]), atol=1e-5
            )


def test_cells_in_keras_rnn_match_the_layers():
    x = inputs().astype("float32")
    for kind, cell_class in (("lstm", GatedLSTMCell), ("gru", GatedGRUCell)):
        layer = make(kind)
        rnn = keras.layers.RNN(
            cell_class(UNITS, layer_norm=True), return_sequences=True
        )
        rnn.build((BATCH, TIME, FEATURES))
        rnn.set_weights(layer.get_weights())
        expected, _ = layer(x)
        np.testing.assert_allclose(
            to_numpy(rnn(x)), to_numpy(expected), atol=1e-6
        )


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_save_reload_train_and_extract(kind, tmp_path):
    layer_class = GatedLSTM if kind == "lstm" else GatedGRU
    x = inputs().astype("float32")
    check_layer(
        lambda: layer_class(UNITS, return_sequences=True, layer_norm=True),
        x,
        tmp_path,
    )
    assert layer_class(UNITS, layer_norm=True).get_config()["layer_norm"]
    plain = layer_class(UNITS)
    assert "layer_norm" not in plain.get_config()
    plain.build((BATCH, TIME, FEATURES))
    assert len(plain.weights) == 3  # the default layer is Keras's
    layer = make(kind)
    model = keras.Sequential([keras.Input((TIME, FEATURES)), layer])
    _, gates = layer(x)
    read = extract_gates(model, x)[layer.name]
    assert sorted(read) == sorted(gates)
    for name, value in read.items():
        np.testing.assert_allclose(value, to_numpy(gates[name]), atol=1e-6)
    converted = convert(model)
    assert converted.layers[0].layer_norm
    np.testing.assert_allclose(
        to_numpy(converted(x)[0]), to_numpy(model(x)[0]), atol=0
    )


def test_the_normalised_cell_state_can_be_edited():
    layer = make("lstm")
    model = keras.Sequential([keras.Input((TIME, FEATURES)), layer])
    x = inputs().astype("float32")
    edited = intervene(model, x, {layer.name: {"normalized_cell": Clamp(0.0)}})
    # h = o * tanh(LN(c)) = o * tanh(0) = 0 at every step.
    np.testing.assert_allclose(edited[0], 0.0, atol=1e-7)
    np.testing.assert_allclose(edited[1]["hidden"], 0.0, atol=1e-7)
    assert np.abs(edited[1]["cell"]).max() > 0.1


def test_mistakes_are_named():
    cases = [
        (lambda: GatedLSTM(3, layer_norm="yes"), TypeError,
         "layer_norm must be True or False, got 'yes'"),
        (lambda: GatedGRU(3, layer_norm=True, use_cudnn=True), ValueError,
         "use_cudnn=True runs the built-in's fused kernel, which computes "
         "the standard cell only; got variant='standard', peepholes=False, "
         "layer_norm=True: pass use_cudnn='auto' or False"),
    ]  # fmt: skip
    for make_layer, error, message in cases:
        with pytest.raises(error) as caught:
            make_layer()
        assert str(caught.value) == message


def test_the_viewer_and_the_statistics_read_the_normalised_cell(tmp_path):
    from keras_gates import stats, viewer

    layer = make("lstm")
    _, gates = layer(inputs().astype("float32"))
    arrays = {name: to_numpy(value) for name, value in gates.items()}
    path = tmp_path / "page.html"
    viewer.write_html(arrays, None, path)
    assert '"normalized_cell":"normalised cell state LN(c)"' in (
        path.read_text()
    )
    logs = stats.log_statistics({"lstm": arrays})
    # A state, not a gate: no saturation statistics for it.
    assert not any("normalized_cell" in key for key in logs)
    assert any("forget" in key for key in logs)
