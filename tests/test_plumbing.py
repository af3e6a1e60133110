"""What the wrapper and the cell do around the equations: argument errors,
config, the cell's properties on the layer, masks given as lists, a cell
used alone with dropout, and the plan a call would take."""

import keras
import numpy as np
import pytest

from keras_gates import (
    GatedGRU,
    GatedGRUCell,
    GatedLSTM,
    GatedLSTMCell,
)
from keras_gates.engine import keras_bridge
from tests import reference
from tests.helpers import to_numpy

LAYERS = {"lstm": GatedLSTM, "gru": GatedGRU}
CELLS = {"lstm": GatedLSTMCell, "gru": GatedGRUCell}
GATES = {"lstm": 6, "gru": 4}


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize(
    "argument",
    [
        "return_sequences",
        "return_state",
        "go_backwards",
        "stateful",
        "unroll",
        "use_bias",
        "return_gates",
    ],
)
def test_a_flag_that_is_not_a_bool_is_named(kind, argument):
    with pytest.raises(
        TypeError, match=f"^{argument} must be True or False, got 'yes'$"
    ):
        LAYERS[kind](4, **{argument: "yes"})


def test_cudnn_without_recovery_says_what_to_pass_instead():
    message = (
        "use_cudnn=True runs the fused kernel, which cannot emit gates step "
        "by step, but return_gates=True was given with recover_gates=False; "
        "pass recover_gates='auto' or True (gates recovered after the "
        "kernel) or use_cudnn='auto'"
    )
    with pytest.raises(ValueError) as caught:
        GatedLSTM(4, use_cudnn=True, return_gates=True, recover_gates=False)
    assert str(caught.value) == message


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_build_errors_name_the_layer(kind):
    layer = LAYERS[kind](4, name="encoder")
    with pytest.raises(ValueError, match="^encoder expects inputs of shape"):
        layer(np.ones((3, 4), "float32"))


def test_packed_gates_needs_return_gates():
    layer = GatedLSTM(4)
    with pytest.raises(ValueError) as caught:
        layer.packed_gates(np.ones((2, 3, 4), "float32"))
    assert str(caught.value) == (
        "packed_gates needs a layer with return_gates=True"
    )


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_a_cell_reports_the_size_of_what_it_returns(kind):
    assert CELLS[kind](5).output_size == 5
    cell = CELLS[kind](5, return_gates=True)
    assert cell.output_size == 5 * GATES[kind]
    rnn = keras.layers.RNN(cell, return_sequences=True)
    assert rnn.compute_output_shape((2, 7, 3)) == (2, 7, 5 * GATES[kind])


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_a_cells_initial_state_has_its_compute_dtype(kind):
    cell = CELLS[kind](5, dtype="float16")
    states = cell.get_initial_state(batch_size=2)
    assert [keras.backend.standardize_dtype(s.dtype) for s in states] == [
        "float16"
    ] * (2 if kind == "lstm" else 1)


def one_lstm_step(x, h, c, weights, input_mask=1.0, recurrent_mask=1.0):
    """A float64 LSTM step with one mask on x and one on h_tm1 (the same
    for every gate), from the reference's equations: masking h_tm1 is
    masking its only use, the recurrent product."""
    gates, (h, c) = reference.lstm(
        (x * input_mask)[:, None],
        *weights,
        initial_state=(h * recurrent_mask, c),
    )
    return gates, h, c


@pytest.mark.parametrize("implementation", [1, 2])
def test_a_cell_alone_applies_the_masks_it_draws_when_training(
    implementation, rng, monkeypatch
):
    """keras.layers.RNN over a cell: each call in training draws its masks
    (input first, then recurrent, one per gate for implementation 1);
    planted masks make the step checkable against the reference."""
    x = rng.normal(size=(3, 4)).astype("float32")
    h = rng.normal(size=(3, 5)).astype("float32")
    c = rng.normal(size=(3, 5)).astype("float32")
    masks = {
        4: np.where(rng.random((3, 4)) < 0.5, 0.0, 2.0).astype("float32"),
        5: np.where(rng.random((3, 5)) < 0.5, 0.0, 2.0).astype("float32"),
    }
    drawn = []

    def planted(ones, rate, seed=None):
        drawn.append((ones.shape[-1], rate))
        return ones * keras.ops.convert_to_tensor(masks[ones.shape[-1]])

    monkeypatch.setattr(keras.random, "dropout", planted)
    cell = GatedLSTMCell(
        5, dropout=0.5, recurrent_dropout=0.25, implementation=implementation
    )
    cell.build((None, 4))
    weights = reference.random_weights("lstm", 4, 5, rng)
    cell.set_weights(weights)
    output, (h_new, c_new) = cell(x, [h, c], training=True)
    count = 4 if implementation == 1 or cell.implementation == 1 else 1
    assert drawn == [(4, 0.5)] * count + [(5, 0.25)] * count
    _, expected_h, expected_c = one_lstm_step(
        x, h, c, weights, masks[4], masks[5]
    )
    np.testing.assert_allclose(to_numpy(output), expected_h, atol=1e-5)
    np.testing.assert_allclose(to_numpy(c_new), expected_c, atol=1e-5)
    drawn.clear()
    for training in ({}, {"training": False}):
        output, _ = cell(x, [h, c], **training)
        _, expected_h, _ = one_lstm_step(x, h, c, weights)
        np.testing.assert_allclose(to_numpy(output), expected_h, atol=1e-5)
    assert drawn == []


def test_a_cell_draws_no_recurrent_mask_without_recurrent_dropout(
    rng, monkeypatch
):
    drawn = []

    def planted(ones, rate, seed=None):
        drawn.append(rate)
        return ones

    monkeypatch.setattr(keras.random, "dropout", planted)
    for kind in ("lstm", "gru"):
        cell = CELLS[kind](5, dropout=0.5)
        cell.build((None, 4))
        x = rng.normal(size=(3, 4)).astype("float32")
        cell(x, cell.get_initial_state(3), training=True)
    assert drawn == [0.5, 0.5]


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_a_cell_alone_returns_every_gate_packed_in_gate_order(kind, rng):
    x = rng.normal(size=(3, 4)).astype("float32")
    h = rng.normal(size=(3, 5)).astype("float32")
    cell = CELLS[kind](5, return_gates=True)
    cell.build((None, 4))
    weights = reference.random_weights(kind, 4, 5, rng)
    cell.set_weights(weights)
    if kind == "lstm":
        c = rng.normal(size=(3, 5)).astype("float32")
        packed, _ = cell(x, [h, c])
        gates, _ = reference.lstm(x[:, None], *weights, initial_state=(h, c))
        names = ("input", "forget", "candidate", "output", "cell", "hidden")
    else:
        packed, _ = cell(x, [h])
        gates, _ = reference.gru(x[:, None], *weights, initial_state=h)
        names = ("update", "reset", "candidate", "hidden")
    blocks = np.split(to_numpy(packed), len(names), axis=-1)
    for name, block in zip(names, blocks, strict=True):
        np.testing.assert_allclose(
            block, gates[name][:, 0], atol=1e-5, err_msg=name
        )


def test_the_layer_shows_its_cells_arguments_read_only():
    regularizer = keras.regularizers.L2(0.3)
    constraint = keras.constraints.NonNeg()
    layer = GatedLSTM(
        7,
        activation="relu",
        recurrent_activation="hard_sigmoid",
        use_bias=False,
        kernel_initializer="ones",
        recurrent_initializer="zeros",
        bias_initializer="ones",
        kernel_regularizer=regularizer,
        recurrent_regularizer=keras.regularizers.L1(0.1),
        bias_regularizer=keras.regularizers.L1(0.2),
        kernel_constraint=constraint,
        recurrent_constraint=keras.constraints.MaxNorm(2.0),
        bias_constraint=keras.constraints.UnitNorm(),
        dropout=0.2,
        recurrent_dropout=0.1,
        seed=9,
    )
    names = [
        "units", "activation", "recurrent_activation", "use_bias",
        "kernel_initializer", "recurrent_initializer", "bias_initializer",
        "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
        "kernel_constraint", "recurrent_constraint", "bias_constraint",
        "dropout", "recurrent_dropout", "seed", "implementation",
    ]  # fmt: skip
    for name in names:
        value = getattr(layer, name)
        assert value is getattr(layer.cell, name), name
        assert value is not None, name
        assert f"`{name}`" in getattr(GatedLSTM, name).__doc__
        with pytest.raises(AttributeError):
            setattr(layer, name, object())
    assert layer.units == 7 and layer.kernel_regularizer is regularizer
    assert layer.implementation == 1  # forced by recurrent dropout


def test_config_keeps_regularizers_constraints_and_the_layers_name(rng):
    x = rng.normal(size=(3, 6, 4)).astype("float32")
    options = dict(
        kernel_regularizer=keras.regularizers.L2(0.3),
        recurrent_regularizer=keras.regularizers.L1(0.1),
        bias_regularizer=keras.regularizers.L1L2(0.2, 0.05),
        activity_regularizer=keras.regularizers.L2(0.7),
        kernel_constraint=keras.constraints.NonNeg(),
        recurrent_constraint=keras.constraints.MaxNorm(2.0),
        bias_constraint=keras.constraints.UnitNorm(),
    )
    for kind in ("lstm", "gru"):
        layer = LAYERS[kind](5, name="mine", **options)
        layer(x)
        config = layer.get_config()
        assert config["name"] == "mine"
        clone = LAYERS[kind].from_config(config)
        clone(x)
        clone.set_weights(layer.get_weights())
        for layer_ in (layer, clone):
            layer_(x)
        expected = sorted(float(to_numpy(v)) for v in layer.losses)
        assert len(expected) == 4, kind
        actual = sorted(float(to_numpy(v)) for v in clone.losses)
        np.testing.assert_allclose(actual, expected, rtol=1e-5)
        for name in ("kernel", "recurrent", "bias"):
            original = getattr(layer, f"{name}_constraint")
            copied = getattr(clone, f"{name}_constraint")
            assert type(copied) is type(original), name
            assert copied.get_config() == original.get_config(), name


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_a_mask_given_in_a_list_is_the_mask(kind, rng):
    x = rng.normal(size=(3, 6, 4)).astype("float32")
    mask = np.ones((3, 6), bool)
    mask[0, 4:] = mask[2, :2] = False
    layer = LAYERS[kind](5, return_gates=True, return_sequences=True)
    layer.build(x.shape)
    output, gates = layer(x, mask=mask)
    listed, listed_gates = layer(x, mask=[mask])
    unmasked, _ = layer(x)
    np.testing.assert_allclose(to_numpy(listed), to_numpy(output), atol=0)
    assert not np.allclose(to_numpy(unmasked), to_numpy(output))
    for name, value in gates.items():
        np.testing.assert_array_equal(
            to_numpy(listed_gates[name]), to_numpy(value)
        )
    packed = to_numpy(layer.packed_gates(x, mask=mask))
    np.testing.assert_array_equal(
        to_numpy(layer.packed_gates(x, mask=[mask])), packed
    )
    assert not np.allclose(to_numpy(layer.packed_gates(x)), packed)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_an_integer_mask_marks_the_same_steps_as_a_boolean_one(kind, rng):
    x = rng.normal(size=(3, 6, 4)).astype("float32")
    mask = np.ones((3, 6), "int32")
    mask[1, 3:] = 0
    layer = LAYERS[kind](5, return_gates=True)
    _, gates = layer(x, mask=mask)
    _, expected = layer(x, mask=mask.astype(bool))
    for name, value in gates.items():
        value = to_numpy(value)
        np.testing.assert_array_equal(
            np.isnan(value).any(-1), mask == 0, err_msg=name
        )
        np.testing.assert_array_equal(value, to_numpy(expected[name]))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_a_call_without_training_drops_nothing(kind, rng):
    x = rng.normal(size=(3, 6, 4)).astype("float32")
    layer = LAYERS[kind](5, dropout=0.5, recurrent_dropout=0.5, seed=3)
    default = to_numpy(layer(x))
    np.testing.assert_array_equal(default, to_numpy(layer(x, training=False)))
    assert not np.allclose(default, to_numpy(layer(x, training=True)))


@pytest.mark.parametrize("accelerator", [False, True])
def test_sequence_plan_says_which_path_a_call_takes(accelerator, monkeypatch):
    monkeypatch.setattr(keras_bridge, "accelerator", lambda *_: accelerator)
    backend = keras.backend.backend()
    unmasked = "handwritten" if backend == "torch" else "loop"
    kernel = "kernel, else " if accelerator else ""
    stepped = "recovered" if accelerator else "stepped"
    shape = (2, 5, 3)
    x = np.ones(shape, "float32")
    mask = np.ones(shape[:2], bool)
    plain = GatedLSTM(4)
    gated = GatedLSTM(4, return_gates=True)
    recovered = GatedLSTM(4, return_gates=True, recover_gates=True)
    assert plain.sequence_plan(shape) == f"{kernel}{unmasked}"
    assert plain.sequence_plan(x) == f"{kernel}{unmasked}"
    # TensorFlow's fused function checks a mask at run time; the engine
    # does not hand it masked sequences.
    masked = "" if backend == "tensorflow" else kernel
    assert plain.sequence_plan(x, mask=mask) == f"{masked}loop"
    assert gated.sequence_plan(shape) == (
        f"{kernel}{unmasked}; gates {stepped}"
    )
    assert gated.sequence_plan(x, mask=mask) == "loop; gates stepped"
    assert recovered.sequence_plan(shape) == (
        f"{kernel}{unmasked}; gates recovered"
    )
    # Compiled by XLA (TensorFlow's jit_compile=True; the flag means
    # nothing on the other backends): the hand-written loop as one loop.
    under_xla = {
        "tensorflow": "handwritten as one loop; gates stepped",
        "torch": f"{kernel}handwritten; gates {stepped}",
        "jax": f"{kernel}loop; gates {stepped}",
    }[backend]
    if backend == "tensorflow" and accelerator:
        under_xla = "kernel, else loop; gates recovered"
    assert gated.sequence_plan(shape, xla=True) == under_xla
    assert gated.sequence_plan(x, mask=mask, xla=True) == (
        "loop; gates recovered" if backend == "tensorflow" else
        "loop; gates stepped"
    )  # fmt: skip
    assert gated.sequence_plan(shape, jit_compile=True) == under_xla
    with pytest.raises(TypeError, match="sequence_plan's xla must be"):
        gated.sequence_plan(shape, xla="yes")
    with pytest.raises(TypeError, match="sequence_plan's jit_compile must"):
        gated.sequence_plan(shape, jit_compile=1)
    with pytest.raises(ValueError, match="jit_compile=True and xla=False"):
        gated.sequence_plan(shape, jit_compile=True, xla=False)


@pytest.mark.parametrize("steps", [25, 26, 60])
def test_sequence_plan_says_when_a_compiled_pass_runs_in_chunks(steps):
    """Under PyTorch's compiler the hand-written pass runs in compiled
    chunks of `CHUNK_STEPS` (25) steps, where the sequence is longer than
    one chunk; the flag means what it meant above elsewhere."""
    gated = GatedGRU(4, return_gates=True)
    plan = gated.sequence_plan((2, steps, 3), jit_compile=True)
    chunks = " in chunks of 25" if steps > 25 else ""
    expected = {
        "torch": f"handwritten{chunks}; gates stepped",
        "tensorflow": "handwritten as one loop; gates stepped",
        "jax": "loop; gates stepped",
    }
    assert plan == expected[keras.backend.backend()]
    # Uncompiled, never chunks.
    assert "chunks" not in gated.sequence_plan((2, steps, 3))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_config_says_what_the_builtins_config_says(kind):
    """Every argument away from its default: the configs agree on every
    key the built-in has (the name aside)."""
    options = dict(
        unroll=True,
        go_backwards=True,
        return_sequences=True,
        return_state=True,
        use_cudnn=False,
        dropout=0.1,
        recurrent_dropout=0.2,
        seed=3,
        use_bias=False,
        activation="relu",
        recurrent_activation="hard_sigmoid",
        kernel_initializer="ones",
        recurrent_initializer="zeros",
        bias_initializer="ones",
        kernel_regularizer="l2",
        recurrent_regularizer="l1",
        bias_regularizer="l2",
        activity_regularizer="l1",
        kernel_constraint="non_neg",
        recurrent_constraint="unit_norm",
        bias_constraint="non_neg",
    )
    if kind == "lstm":
        builtin = keras.layers.LSTM(3, unit_forget_bias=False, **options)
        gated = GatedLSTM(3, unit_forget_bias=False, **options)
    else:
        builtin = keras.layers.GRU(3, reset_after=False, **options)
        gated = GatedGRU(3, reset_after=False, **options)
    expected = builtin.get_config()
    config = gated.get_config()
    del expected["name"]
    assert {key: config[key] for key in expected} == expected
    assert config["name"] == gated.name
    assert gated.name.startswith(f"gated_{kind}")
    assert (config["use_cudnn"], config["return_gates"]) == (False, False)
