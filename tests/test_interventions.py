"""Interventions against a float64 numpy reference of the edited recurrence.

The reference (`tests/reference.py`, its `edit` hook) applies each edit
to the value it has just computed at step t; the expected edited values
are written here from the edit's definition (a constant, a factor, a mean
over reference inputs, the value on source inputs), never read from the
code under test.
"""

import keras
import numpy as np
import pytest

from keras_gates import (
    Clamp,
    GatedGRU,
    GatedLSTM,
    MeanAblate,
    Patch,
    Scale,
    intervene,
)
from tests import reference

BACKEND = keras.backend.backend()
BATCH, TIME, FEATURES, UNITS = 3, 7, 2, 4
GATES = {
    "lstm": ("input", "forget", "candidate", "output", "cell", "hidden"),
    "gru": ("update", "reset", "candidate", "hidden"),
}
LAYERS = {"lstm": GatedLSTM, "gru": GatedGRU}
BUILTIN = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
UNIT_SET, STEP_SET = [1, 3], slice(2, 5)


def model_of(kind, rng, layer_class=None, **options):
    layer = (layer_class or LAYERS[kind])(
        UNITS, return_sequences=True, name="rnn", **options
    )
    model = keras.Sequential([keras.Input((TIME, FEATURES)), layer])
    layer.set_weights(reference.random_weights(kind, FEATURES, UNITS, rng))
    return model


def run_reference(kind, model, x, edit=None, go_backwards=False):
    weights = [np.asarray(w, "float64") for w in model.layers[0].get_weights()]
    function = reference.lstm if kind == "lstm" else reference.gru
    gates, _ = function(x, *weights, go_backwards=go_backwards, edit=edit)
    return gates


def selected(t, units):
    return STEP_SET.start <= t < STEP_SET.stop, np.isin(
        np.arange(units), UNIT_SET
    )


def replacing(name, values_at):
    """An edit hook that sets `name` to `values_at(t)` on the selection."""

    def edit(gate, t, value):
        in_steps, in_units = selected(t, value.shape[-1])
        if gate != name or not in_steps:
            return value
        return np.where(in_units, values_at(t), value)

    return edit


def assert_run_equals(got, expected, atol=1e-5):
    outputs, gates = got
    np.testing.assert_allclose(outputs, expected["hidden"], atol=atol)
    for name, value in expected.items():
        np.testing.assert_allclose(gates["rnn"][name], value, atol=atol)


CASES = [(kind, gate) for kind in GATES for gate in GATES[kind]]


@pytest.mark.parametrize("kind, gate", CASES)
def test_clamp(kind, gate, rng):
    model = model_of(kind, rng)
    x = rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    edit = Clamp(0.3, units=UNIT_SET, steps=STEP_SET)
    got = intervene(model, x, {"rnn": {gate: edit}}, return_gates=True)
    expected = run_reference(kind, model, x, replacing(gate, lambda t: 0.3))
    assert_run_equals(got, expected)


@pytest.mark.parametrize("kind, gate", CASES)
def test_scale(kind, gate, rng):
    model = model_of(kind, rng)
    x = rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    edit = Scale(-1.5, units=UNIT_SET, steps=STEP_SET)
    got = intervene(model, x, {"rnn": {gate: edit}}, return_gates=True)

    def scaled(name, t, value):
        in_steps, in_units = selected(t, value.shape[-1])
        if name != gate or not in_steps:
            return value
        return np.where(in_units, -1.5 * value, value)

    assert_run_equals(got, run_reference(kind, model, x, scaled))


@pytest.mark.parametrize("kind, gate", CASES)
def test_mean_ablation(kind, gate, rng):
    """The gate's mean per unit over every sequence and step of the
    reference inputs (an unedited reference run)."""
    model = model_of(kind, rng)
    x = rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    ref = rng.normal(size=(5, TIME, FEATURES)).astype("float32")
    mean = run_reference(kind, model, ref)[gate].mean(axis=(0, 1))
    edit = MeanAblate(ref, units=UNIT_SET, steps=STEP_SET)
    got = intervene(model, x, {"rnn": {gate: edit}}, return_gates=True)
    expected = run_reference(kind, model, x, replacing(gate, lambda t: mean))
    assert_run_equals(got, expected)


@pytest.mark.parametrize("kind, gate", CASES)
def test_patch(kind, gate, rng):
    """The value the gate takes at the same (sequence, step, unit) when
    the model runs, unedited, on the source inputs."""
    model = model_of(kind, rng)
    x = rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    source = rng.normal(size=x.shape).astype("float32")
    clean = run_reference(kind, model, source)[gate]
    edit = Patch(source, units=UNIT_SET, steps=STEP_SET)
    got = intervene(model, x, {"rnn": {gate: edit}}, return_gates=True)
    expected = run_reference(
        kind, model, x, replacing(gate, lambda t: clean[:, t])
    )
    assert_run_equals(got, expected)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_an_edit_reaches_later_steps_of_a_backward_layer(kind, rng):
    """go_backwards: steps are named in the input's order, and the steps
    processed after the edit (earlier inputs) follow from it."""
    model = model_of(kind, rng, go_backwards=True)
    x = rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    gate = GATES[kind][1]
    edit = Clamp(0.9, units=UNIT_SET, steps=STEP_SET)
    outputs, gates = intervene(
        model, x, {"rnn": {gate: edit}}, return_gates=True
    )
    expected = run_reference(
        kind, model, x, replacing(gate, lambda t: 0.9), go_backwards=True
    )
    for name, value in expected.items():
        np.testing.assert_allclose(gates["rnn"][name], value, atol=1e-5)
    # Outputs keep Keras's order for go_backwards: processing order.
    np.testing.assert_allclose(outputs, expected["hidden"][:, ::-1], atol=1e-5)


def test_steps_as_a_mask_per_sequence_and_a_builtin_layer(rng):
    """A (batch, time) step mask edits each sequence at its own steps, on
    a model built with keras.layers.LSTM (run through its gated copy)."""
    model = model_of("lstm", rng, layer_class=keras.layers.LSTM)
    x = rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    steps = np.zeros((BATCH, TIME), bool)
    steps[0, 1], steps[2, 4:] = True, True
    edit = Clamp(0.0, steps=steps)
    outputs = intervene(model, x, {"rnn": {"forget": edit}})

    def clamp_rows(name, t, value):
        if name != "forget":
            return value
        return np.where(steps[:, t, None], 0.0, value)

    expected = run_reference("lstm", model, x, clamp_rows)["hidden"]
    np.testing.assert_allclose(outputs, expected, atol=1e-5)
    assert isinstance(model.layers[0], keras.layers.LSTM)  # unchanged


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_no_op_edits_reproduce_the_plain_run(kind, rng):
    """Scale(1) and a Patch from the same inputs change nothing: exactly on
    TensorFlow (the same loop), to float32 rounding elsewhere."""
    model = model_of(kind, rng)
    x = rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    plain = keras.ops.convert_to_numpy(model(x))
    atol = 0 if BACKEND == "tensorflow" else 1e-6
    for edit in (Scale(1.0), Patch(x)):
        gate = GATES[kind][0]
        got = intervene(model, x, {"rnn": {gate: edit}})
        np.testing.assert_allclose(got, plain, atol=atol, rtol=0)


def test_patching_every_gate_from_b_reproduces_the_run_on_b(rng):
    """Two layers (an LSTM into a GRU), every gate and state of both
    patched from inputs B while the model runs on A: B's outputs."""
    inputs = keras.Input((TIME, FEATURES))
    h = GatedLSTM(UNITS, return_sequences=True, name="first")(inputs)
    h = keras.layers.GRU(3, name="second")(h)
    model = keras.Model(inputs, keras.layers.Dense(2)(h))
    a = rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    b = rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    edits = {
        "first": {gate: Patch(b) for gate in GATES["lstm"]},
        "second": {gate: Patch(b) for gate in GATES["gru"]},
    }
    got = intervene(model, a, edits)
    expected = keras.ops.convert_to_numpy(model(b))
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert not np.allclose(expected, keras.ops.convert_to_numpy(model(a)))


def test_layer_paths_inside_bidirectional_and_nested_models(rng):
    """Edits name layers as extract_gates does: "bi/backward" edits only
    the backward direction, "encoder/gru" the GRU inside a nested model."""
    inner_in = keras.Input((TIME, FEATURES))
    encoder = keras.Model(
        inner_in,
        keras.layers.GRU(3, return_sequences=True, name="gru")(inner_in),
        name="encoder",
    )
    inputs = keras.Input((TIME, FEATURES))
    h = encoder(inputs)
    h = keras.layers.Bidirectional(keras.layers.LSTM(2), name="bi")(h)
    model = keras.Model(inputs, h)
    x = rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    plain = keras.ops.convert_to_numpy(model(x))
    got, gates = intervene(
        model,
        x,
        {"bi/backward": {"hidden": Clamp(0.0)}},
        return_gates=True,
    )
    # The merged output is [forward, backward]: backward's last h is 0.
    np.testing.assert_allclose(got[:, :2], plain[:, :2], atol=1e-6)
    np.testing.assert_array_equal(got[:, 2:], 0.0)
    assert set(gates) == {"encoder/gru", "bi/forward", "bi/backward"}
    got = intervene(model, x, {"encoder/gru": {"update": Clamp(1.0)}})
    # z = 1 keeps the zero initial state: the encoder outputs zeros, so the
    # LSTM sees zeros: compare with the model on zero inputs to the LSTM.
    zeros = np.zeros((BATCH, TIME, 3), "float32")
    bi = model.get_layer("bi")
    expected = keras.ops.convert_to_numpy(bi(zeros))
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_a_masked_step_is_not_edited_and_keeps_its_state(rng):
    """With an Embedding mask, a Patch from a sequence whose step is
    masked leaves that step unedited (the source has no value there)."""
    tokens = rng.integers(1, 9, (BATCH, TIME))
    tokens[0, :3] = 0  # left padding of the first sequence
    source = rng.integers(1, 9, (BATCH, TIME))
    source[1, 5] = 0
    model = keras.Sequential(
        [
            keras.Input((TIME,), dtype="int32"),
            keras.layers.Embedding(9, FEATURES, mask_zero=True),
            GatedLSTM(UNITS, return_sequences=True, name="rnn"),
        ]
    )
    outputs, gates = intervene(
        model,
        tokens,
        {"rnn": {"forget": Patch(source)}},
        return_gates=True,
    )
    # Without its gates, the run steps Keras's own masked loop: the same.
    np.testing.assert_allclose(
        intervene(model, tokens, {"rnn": {"forget": Patch(source)}}),
        outputs,
        atol=1e-6,
    )
    clean = intervene(model, source, {}, return_gates=True)[1]["rnn"]
    forget = gates["rnn"]["forget"]
    assert np.isnan(forget[0, :3]).all()
    np.testing.assert_allclose(forget[0, 3:], clean["forget"][0, 3:], atol=1e-6)
    # The same patch told to skip that step gives the same run.
    elsewhere = np.ones((BATCH, TIME), bool)
    elsewhere[1, 5] = False
    _, skipped = intervene(
        model,
        tokens,
        {"rnn": {"forget": Patch(source, steps=elsewhere)}},
        return_gates=True,
    )
    np.testing.assert_array_equal(forget, skipped["rnn"]["forget"])
    assert 0.0 < forget[1, 5].min()


def test_mistakes_are_named(rng):
    model = model_of("lstm", rng)
    x = np.zeros((BATCH, TIME, FEATURES), "float32")
    with pytest.raises(ValueError) as caught:
        intervene(model, x, {"lstm": {"forget": Clamp(0.0)}})
    assert str(caught.value) == (
        "edits names layer 'lstm'; the model's recurrent layers are ['rnn']"
    )
    with pytest.raises(ValueError) as caught:
        intervene(model, x, {"rnn": {"update": Clamp(0.0)}})
    assert str(caught.value) == (
        "edits['rnn'] names gate 'update'; a LSTM has ('input', 'forget', "
        "'candidate', 'output', 'cell', 'hidden')"
    )
    with pytest.raises(TypeError) as caught:
        intervene(model, x, {"rnn": {"forget": 0.0}})
    assert str(caught.value) == (
        "edits['rnn']['forget'] must be a Clamp, Scale, MeanAblate or "
        "Patch, got float"
    )
    with pytest.raises(ValueError) as caught:
        intervene(model, x, {"rnn": {"forget": Clamp(0.0, units=[4])}})
    assert str(caught.value) == "units [4] is out of range for 4 units"
    with pytest.raises(ValueError) as caught:
        intervene(model, x, {"rnn": {"forget": Patch(x[:2])}})
    assert str(caught.value) == (
        "Patch: source_inputs give 'rnn' forget gates of shape (2, 7, 4), "
        "the inputs (3, 7, 4); pass source inputs of the inputs' shape"
    )


def test_a_model_changed_after_an_intervention_is_read_anew(rng):
    """The gated copy is made once per model and takes its current
    weights at every call: after a training step, a no-op edit gives the
    trained model's outputs."""
    model = model_of("lstm", rng)
    model.compile(keras.optimizers.SGD(0.5), "mse")
    x = rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    before = intervene(model, x, {"rnn": {"input": Scale(1.0)}})
    model.train_on_batch(x, np.ones((BATCH, TIME, UNITS), "float32"))
    after = intervene(model, x, {"rnn": {"input": Scale(1.0)}})
    trained = keras.ops.convert_to_numpy(model(x))
    np.testing.assert_allclose(after, trained, atol=1e-6)
    assert not np.allclose(before, trained, atol=1e-4)


def test_one_model_edited_in_turn_on_other_gates_and_shapes(rng):
    """The compiled run is made once per model: other gates, other
    batch sizes and with or without gates each give their own run."""
    model = model_of("lstm", rng)
    for gate, batch, value in [("forget", 3, 0.0), ("input", 5, 0.7)]:
        x = rng.normal(size=(batch, TIME, FEATURES)).astype("float32")
        edit = {"rnn": {gate: Clamp(value, units=UNIT_SET, steps=STEP_SET)}}
        expected = run_reference(
            "lstm", model, x, replacing(gate, lambda t, v=value: v)
        )
        assert_run_equals(
            intervene(model, x, edit, return_gates=True), expected
        )
        outputs = intervene(model, x, edit)
        np.testing.assert_allclose(outputs, expected["hidden"], atol=1e-5)
