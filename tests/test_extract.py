"""extract_gates, GateExtractor and convert on built-in and gated models."""

import re
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_gates import (
    GatedGRU,
    GatedLSTM,
    GateExtractor,
    convert,
    extract_gates,
)
from keras_gates.inspection.extract import gated_twin
from tests.helpers import to_numpy

TOKENS = np.array([[3, 1, 4, 1, 5, 0], [9, 2, 6, 0, 0, 0]], "int32")


def text_model(recurrent):
    return keras.Sequential(
        [
            keras.Input((6,), dtype="int32"),
            keras.layers.Embedding(10, 4, mask_zero=True),
            recurrent,
            keras.layers.Dense(1),
        ]
    )


@pytest.mark.parametrize(
    "make_recurrent,gated_class",
    [
        (lambda: keras.layers.LSTM(5, return_sequences=True), GatedLSTM),
        (lambda: keras.layers.GRU(5, return_sequences=True), GatedGRU),
        (
            lambda: keras.layers.GRU(
                5, return_sequences=True, reset_after=False
            ),
            GatedGRU,
        ),
        (lambda: GatedLSTM(5, return_sequences=True), GatedLSTM),
    ],
    ids=["lstm", "gru", "gru-reset_before", "gated_lstm"],
)
def test_gates_of_a_builtin_model_equal_its_gated_twin(
    make_recurrent, gated_class
):
    # A fresh layer per run: a layer built into one model cannot serve
    # another when the test runs twice in one process.
    recurrent = make_recurrent()
    model = text_model(recurrent)
    gates = extract_gates(model, TOKENS)[recurrent.name]
    embedded = to_numpy(model.layers[0](TOKENS))
    mask = TOKENS != 0
    twin = gated_class.from_config(
        {**recurrent.get_config(), "return_gates": True}
    )
    twin.build(embedded.shape)
    twin.set_weights(recurrent.get_weights())
    outputs, expected = twin(embedded, mask=mask)
    for name, value in expected.items():
        np.testing.assert_allclose(gates[name], to_numpy(value), atol=1e-6)
    # The hidden state is the built-in layer's own output at valid steps.
    layer_out = keras.Model(model.inputs, recurrent.output).predict(
        TOKENS, verbose=0
    )
    np.testing.assert_allclose(
        gates["hidden"][mask], layer_out[mask], atol=1e-6
    )
    assert np.isnan(
        gates["forget" if "forget" in gates else "update"][~mask]
    ).all()


def test_functional_bidirectional_and_nested_models():
    inner = keras.Sequential(
        [keras.Input((6, 4)), keras.layers.GRU(3, name="inner_gru")],
        name="encoder",
    )
    inputs = keras.Input((6, 4))
    # Two identities make the encoder deeper, so model.layers lists it
    # before the Bidirectional (a walk that stopped after it would show).
    encoded = keras.layers.Identity()(keras.layers.Identity()(inner(inputs)))
    bi = keras.layers.Bidirectional(
        keras.layers.LSTM(2, return_sequences=True), name="bi"
    )(inputs)
    outputs = keras.layers.Concatenate()([encoded, keras.layers.Flatten()(bi)])
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(0).normal(size=(2, 6, 4)).astype("float32")
    gates = extract_gates(model, x)
    assert sorted(gates) == ["bi/backward", "bi/forward", "encoder/inner_gru"]
    # The backward layer's gates are in input order: its hidden state at the
    # first input step is the Bidirectional's backward half at that step.
    bi_out = keras.Model(inputs, bi).predict(x, verbose=0)
    np.testing.assert_allclose(
        gates["bi/backward"]["hidden"][:, 0], bi_out[:, 0, 2:], atol=1e-6
    )
    np.testing.assert_allclose(
        gates["bi/forward"]["hidden"], bi_out[..., :2], atol=1e-6
    )
    inner_out = inner.predict(x, verbose=0)
    np.testing.assert_allclose(
        gates["encoder/inner_gru"]["hidden"][:, -1], inner_out, atol=1e-6
    )


def test_a_stateful_layer_is_read_from_zero_states_every_time(rng):
    model = keras.Sequential(
        [
            keras.Input(batch_shape=(2, 5, 3)),
            keras.layers.LSTM(4, stateful=True, name="lstm"),
        ]
    )
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    extractor = GateExtractor(model)
    first, second = extractor(x)["lstm"], extractor(x)["lstm"]
    np.testing.assert_array_equal(first["cell"], second["cell"])
    model.layers[0].reset_states()
    np.testing.assert_allclose(
        first["hidden"][:, -1], model.predict(x, verbose=0), atol=1e-6
    )


def test_extractor_follows_training():
    model = text_model(keras.layers.LSTM(4))
    extractor = GateExtractor(model)
    before = extractor(TOKENS)[model.layers[1].name]["forget"]
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
    model.fit(TOKENS, np.ones((2, 1)), epochs=3, verbose=0)
    after = extractor(TOKENS)[model.layers[1].name]["forget"]
    fresh = extract_gates(model, TOKENS)[model.layers[1].name]["forget"]
    np.testing.assert_allclose(after, fresh, atol=1e-6)
    assert not np.allclose(before, after, equal_nan=True)


def test_convert_gives_the_same_numbers_with_gated_layers():
    inputs = keras.Input((6,), dtype="int32")
    # No mask: a nested Sequential would drop it, with a warning.
    x = keras.layers.Embedding(10, 4)(inputs)
    x = keras.layers.Bidirectional(
        keras.layers.GRU(3, return_sequences=True),
        backward_layer=keras.layers.GRU(
            3, return_sequences=True, go_backwards=True, reset_after=False
        ),
        merge_mode="sum",
        name="bi",
    )(x)
    inner = keras.Sequential(
        [keras.Input((6, 3)), keras.layers.LSTM(3, name="deep")], name="inner"
    )
    model = keras.Model(inputs, keras.layers.Dense(2)(inner(x)))
    converted = convert(model)
    kinds = [type(layer).__name__ for layer in converted.layers]
    assert "LSTM" not in kinds and "GRU" not in kinds
    bi = converted.get_layer("bi")
    assert bi.merge_mode == "sum"
    assert type(bi.forward_layer).__name__ == "GatedGRU"
    assert type(bi.backward_layer).__name__ == "GatedGRU"
    assert bi.backward_layer.go_backwards
    assert not bi.backward_layer.reset_after and bi.forward_layer.reset_after
    deep = converted.get_layer("inner").get_layer("deep")
    assert type(deep).__name__ == "GatedLSTM"
    np.testing.assert_allclose(
        converted.predict(TOKENS, verbose=0),
        model.predict(TOKENS, verbose=0),
        atol=1e-6,
    )


def test_models_without_recurrent_layers_are_refused():
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2)], name="dense_only"
    )
    refusal = re.escape(
        "model 'dense_only' has no LSTM or GRU layer (looked for "
        "keras.layers.LSTM/GRU and GatedLSTM/GatedGRU, inside Bidirectional "
        "and nested models too); there are no gates to extract"
    )
    with pytest.raises(ValueError, match=f"^{refusal}$"):
        extract_gates(model, np.ones((1, 3)))
    with pytest.raises(
        ValueError, match="^model 'dense_only' has no LSTM or GRU layer to"
    ):
        convert(model)
    refusal = "^model must be a keras.Model, got GatedLSTM$"
    with pytest.raises(TypeError, match=refusal):
        extract_gates(GatedLSTM(3), np.ones((1, 2, 3)))
    with pytest.raises(TypeError, match=refusal):
        convert(GatedLSTM(3))


def test_subclassed_models_and_unbuilt_or_foreign_layers_are_refused():
    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__(name="sub")
            self.lstm = keras.layers.LSTM(2)

        def call(self, x):
            return self.lstm(x)

    model = Subclassed()
    model(np.ones((1, 4, 3), "float32"))
    refusal = re.escape(
        "model 'sub' has no symbolic inputs: build it with keras.Input (or "
        "call it on data once) before extracting gates; subclassed models are "
        "not supported, call their GatedLSTM/GatedGRU layers with "
        "return_gates=True instead"
    )
    with pytest.raises(ValueError, match=f"^{refusal}$"):
        GateExtractor(model)
    refusal = re.escape(
        "layer 'late' is not built yet: call the model on data (or build it "
        "with an input shape) before converting it"
    )
    with pytest.raises(ValueError, match=f"^{refusal}$"):
        gated_twin(keras.layers.GRU(2, name="late"))
    refusal = (
        "^layer must be a keras.layers.LSTM/GRU or a GatedLSTM/GatedGRU, got "
        "SimpleRNN$"
    )
    with pytest.raises(TypeError, match=refusal):
        gated_twin(keras.layers.SimpleRNN(2))


def test_initial_states_are_not_taken_for_a_mask(rng):
    sequences = keras.Input((5, 3))
    states = [keras.Input((4,)), keras.Input((4,))]
    lstm = keras.layers.LSTM(4, return_sequences=True)
    model = keras.Model(
        [sequences, *states], lstm(sequences, initial_state=states)
    )
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    zeros = np.zeros((2, 4), "float32")
    extractor = GateExtractor(model)
    assert extractor.model is model
    gates = extractor([x, zeros, zeros])[lstm.name]
    # Zero initial states: the layer's own output is the hidden state.
    np.testing.assert_allclose(
        gates["hidden"], model.predict([x, zeros, zeros], verbose=0), atol=1e-6
    )


def test_wrong_feature_size_is_named():
    model = keras.Sequential([keras.Input((5, 3)), GatedLSTM(4)])
    # Keras's input check (TensorFlow, PyTorch) or the layer's own (JAX).
    expected = "expected shape|incompatible|built for 3 input features, got"
    with pytest.raises(ValueError, match=expected):
        extract_gates(model, np.ones((2, 5, 7), "float32"))


def test_keras_file_loads_in_a_fresh_process(tmp_path):
    model = text_model(GatedLSTM(4, return_sequences=True))
    path = tmp_path / "model.keras"
    model.save(path)
    expected = model.predict(TOKENS, verbose=0)
    np.save(tmp_path / "expected.npy", expected)
    script = (
        "import numpy as np, keras, keras_gates\n"
        f"m = keras.saving.load_model({str(path)!r})\n"
        f"tokens = np.array({TOKENS.tolist()}, 'int32')\n"
        f"e = np.load({str(tmp_path / 'expected.npy')!r})\n"
        "assert type(m.layers[1]).__name__ == 'GatedLSTM'\n"
        "np.testing.assert_allclose(m.predict(tokens, verbose=0), e, atol=0)\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)


def test_chunks_and_several_inputs_give_the_gates_of_one_batch(rng):
    """Inputs longer than batch_size run in chunks (the last one short);
    a model with two inputs is sliced input by input. The gates equal one
    whole-batch run, sequence by sequence, masks included."""
    tokens = rng.integers(1, 10, size=(7, 6)).astype("int32")
    tokens[2, 4:] = 0
    side = rng.normal(size=(7, 6, 2)).astype("float32")
    words = keras.Input((6,), dtype="int32")
    extra = keras.Input((6, 2))
    embedded = keras.layers.Embedding(10, 4, mask_zero=True)(words)
    summary = keras.layers.Concatenate()(
        [
            keras.layers.LSTM(3, name="lstm")(embedded),
            keras.layers.GlobalAveragePooling1D()(extra),
        ]
    )
    model = keras.Model([words, extra], keras.layers.Dense(1)(summary))
    extractor = GateExtractor(model)
    whole = extractor([tokens, side], batch_size=7)["lstm"]
    chunked = extractor([tokens, side], batch_size=3)["lstm"]
    alone = extractor([tokens[5:6], side[5:6]])["lstm"]
    assert np.isnan(whole["forget"][2, 4:]).all()
    for name, value in whole.items():
        assert value.shape == (7, 6, 3)
        np.testing.assert_allclose(chunked[name], value, atol=1e-6)
        np.testing.assert_allclose(alone[name][0], value[5], atol=1e-6)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_left_padded_sequences_give_the_gates_of_their_tokens(kind):
    """Padding in front (`pad_sequences`'s default), a layer with dropout:
    each valid step's gates equal those of the same tokens without the
    padding, at inference; padded steps are NaN."""
    make = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[kind]
    layer = make(5, dropout=0.3, recurrent_dropout=0.2, seed=1)
    model = text_model(layer)
    padded = np.array([[0, 0, 3, 1, 4, 1], [0, 0, 0, 9, 2, 6]], "int32")
    gates = extract_gates(model, padded)[layer.name]
    twin = convert(model)
    gated = twin.layers[1]
    embed = twin.layers[0]
    probe = type(gated).from_config(
        {**gated.get_config(), "return_gates": True}
    )
    probe.build((None, None, 4))
    probe.set_weights(gated.get_weights())
    for row, start in ((0, 2), (1, 3)):
        tokens = padded[row : row + 1, start:]
        _, expected = probe(embed(tokens))
        for name, value in expected.items():
            np.testing.assert_allclose(
                gates[name][row, start:],
                to_numpy(value)[0],
                atol=1e-5,
                err_msg=f"{name}, sequence {row}",
            )
            assert np.isnan(gates[name][row, :start]).all()


def test_a_mask_handed_to_the_layer_by_hand_reaches_its_gates(rng):
    """A functional model whose LSTM gets its mask as an argument (not
    carried by the sequences): the masked steps' gates are NaN and the
    valid ones equal the gated twin's on the same mask."""
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    mask = np.array([[True] * 5, [False, False, True, True, True]])
    inputs = keras.Input((5, 3))
    steps = keras.Input((5,), dtype="bool")
    lstm = keras.layers.LSTM(4, return_sequences=True, name="lstm")
    model = keras.Model([inputs, steps], lstm(inputs, mask=steps))
    gates = extract_gates(model, [x, mask])["lstm"]
    assert np.isnan(gates["forget"][1, :2]).all()
    assert not np.isnan(gates["forget"][1, 2:]).any()
    twin = GatedLSTM(4, return_sequences=True, return_gates=True)
    twin.build(x.shape)
    twin.set_weights(lstm.get_weights())
    _, expected = twin(x, mask=mask)
    for name, value in expected.items():
        np.testing.assert_allclose(
            gates[name][mask], to_numpy(value)[mask], atol=1e-6
        )


def test_a_nested_functional_model_reads_what_it_was_called_with():
    """A functional model's `input` is its own keras.Input; the gates of
    a GRU inside it come from the tensors the outer model called it
    with: its hidden state equals the nested model's output."""
    inner_in = keras.Input((6, 4))
    encoder = keras.Model(
        inner_in,
        keras.layers.GRU(3, return_sequences=True, name="gru")(inner_in),
        name="encoder",
    )
    inputs = keras.Input((6, 4))
    model = keras.Model(inputs, keras.layers.Dense(1)(encoder(inputs)))
    x = np.random.default_rng(0).normal(size=(2, 6, 4)).astype("float32")
    gates = extract_gates(model, x)
    assert list(gates) == ["encoder/gru"]
    np.testing.assert_allclose(
        gates["encoder/gru"]["hidden"],
        keras.ops.convert_to_numpy(encoder(x)),
        atol=1e-6,
    )


def test_a_layer_shared_with_another_model_is_read_in_this_one(rng):
    """A trained body given a new head (the layers shared): the gates come
    from the new model's own call of the layer, not the first model's."""
    tokens = keras.Input((None,), dtype="int32")
    embedding = keras.layers.Embedding(9, 3)
    lstm = keras.layers.LSTM(4, name="lstm")
    first = keras.Model(tokens, keras.layers.Dense(1)(lstm(embedding(tokens))))
    again = keras.Input((None,), dtype="int32")
    offset = keras.layers.Lambda(lambda t: 8 - t)(again)
    second = keras.Model(again, keras.layers.Dense(2)(lstm(embedding(offset))))
    x = rng.integers(0, 9, (3, 6))
    got = extract_gates(second, x)["lstm"]["hidden"]
    expected = extract_gates(first, 8 - x)["lstm"]["hidden"]
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert not np.allclose(got, extract_gates(first, x)["lstm"]["hidden"])
