"""The bridge to Keras's internals, on the installed Keras.

Each piece of `keras_gates/engine/keras_bridge.py` that leans on Keras's
undocumented behaviour is run here against the Keras in this environment,
on every backend (tests/test_backends.py), so that a Keras release that
changes one fails here, with the Keras version in the message, before a
GPU user meets it.
"""

import keras
import numpy as np
import pytest
from keras.src import backend as keras_backend

from keras_gates import GatedGRUCell, GatedLSTMCell
from keras_gates.engine import keras_bridge
from tests.helpers import to_numpy

BACKEND = keras.backend.backend()
CELLS = {"lstm": GatedLSTMCell, "gru": GatedGRUCell}
BUILTIN_CELLS = {"lstm": keras.layers.LSTMCell, "gru": keras.layers.GRUCell}
BUILTIN = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
# The backends whose fused function runs on a CPU (the others need a GPU).
CPU_FUSED = {("torch", "lstm"), ("torch", "gru"), ("jax", "gru")}


def test_a_view_names_the_keras_version_for_what_it_lacks():
    view = keras_bridge.View("LSTM.inner_loop", cell=None)
    with pytest.raises(AttributeError) as caught:
        view.new_flag  # noqa: B018
    assert str(caught.value) == (
        f"keras {keras.__version__}: LSTM.inner_loop reads 'new_flag', "
        "which keras_gates' view does not have; this Keras release is not "
        "supported by keras_gates' bridge (keras_gates/engine/"
        "keras_bridge.py)"
    )


class Recorder:
    """A backend fused function that records what it is handed and returns
    fixed outputs (for the backends whose function needs a GPU)."""

    def __init__(self, kind, refuse=None):
        self.kind, self.refuse, self.calls = kind, refuse, []

    def __call__(self, sequences, *states, mask=None, **kwargs):
        self.calls.append({"sequences": to_numpy(sequences), **kwargs})
        if self.refuse is not None:
            raise self.refuse
        batch, time = sequences.shape[0], sequences.shape[1]
        units = kwargs["recurrent_kernel"].shape[0]
        last = keras.ops.ones((batch, units))
        outputs = keras.ops.ones((batch, time, units))
        return last, outputs, [keras.ops.ones((batch, units)) for _ in states]


def cell_and_builtin(kind, features, units, rng, **options):
    cell = CELLS[kind](units, **options)
    builtin = BUILTIN[kind](units, use_cudnn=True, **options)
    builtin.build((None, 5, features))
    cell.build((None, features))
    weights = [
        rng.normal(scale=0.5, size=w.shape).astype("float32")
        for w in builtin.get_weights()
    ]
    builtin.set_weights(weights)
    cell.set_weights(weights)
    return cell, builtin


CASES = [
    ("lstm", {}, {"full": True, "go_backwards": False}),
    ("lstm", {}, {"full": False, "go_backwards": True}),
    ("lstm", {"dropout": 0.4}, {"full": True, "go_backwards": False}),
    ("gru", {}, {"full": True, "go_backwards": True}),
    ("gru", {"dropout": 0.4}, {"full": False, "go_backwards": False}),
]


@pytest.mark.parametrize("kind, options, flags", CASES)
def test_the_builtin_kernel_runs_on_the_view_as_on_the_builtin(
    kind, options, flags, rng, monkeypatch
):
    """`LSTM`/`GRU.inner_loop` on the gated cell's view hands the fused
    function what it hands it from the built-in layer, and returns what it
    returns: the real CPU function where the backend has one (PyTorch,
    JAX's GRU), else a recorder (what TensorFlow runs on a GPU)."""
    x = keras.ops.convert_to_tensor(rng.normal(size=(3, 5, 2)), "float32")
    cell, builtin = cell_and_builtin(kind, 2, 4, rng, **options)
    state0 = [
        keras.ops.convert_to_tensor(rng.normal(size=(3, 4)).astype("float32"))
        for _ in range(2 if kind == "lstm" else 1)
    ]
    input_mask = None
    if options.get("dropout"):
        mask = np.where(rng.random((3, 2)) < 0.4, 0.0, 1 / 0.6)
        input_mask = keras.ops.convert_to_tensor(mask.astype("float32"))
        builtin.cell.get_dropout_mask = lambda _: input_mask
    real = (BACKEND, kind) in CPU_FUSED
    recorder = None if real else Recorder(kind)
    if recorder is not None:
        monkeypatch.setattr(keras_backend, kind, recorder)
    builtin.return_sequences = flags["full"]
    builtin.go_backwards = flags["go_backwards"]
    expected = builtin.inner_loop(x, state0, None, training=True)
    got = keras_bridge.builtin_kernel(
        cell,
        x,
        state0,
        None,
        True,
        input_mask=input_mask,
        unroll=False,
        supports_jit=True,
        fall_back=False,
        **flags,
    )
    assert got is not None
    got = (*got[:2], *got[2])
    for a, e in zip(got, (*expected[:2], *expected[2]), strict=True):
        np.testing.assert_allclose(to_numpy(a), to_numpy(e), atol=1e-6)
    if recorder is not None:
        view_call, builtin_call = recorder.calls[1], recorder.calls[0]
        assert view_call.keys() == builtin_call.keys()
        np.testing.assert_array_equal(
            view_call["sequences"], builtin_call["sequences"]
        )
        for key in ("return_sequences", "go_backwards", "unroll"):
            assert view_call[key] == builtin_call[key], key


def run_refusing(kind, refuse, fall_back, rng, monkeypatch):
    cell, _ = cell_and_builtin(kind, 2, 4, rng)
    monkeypatch.setattr(keras_backend, kind, Recorder(kind, refuse))
    x = keras.ops.convert_to_tensor(rng.normal(size=(3, 5, 2)), "float32")
    states = cell.get_initial_state(3)
    return keras_bridge.builtin_kernel(
        cell,
        x,
        states,
        None,
        False,
        input_mask=None,
        full=True,
        go_backwards=False,
        unroll=False,
        supports_jit=True,
        fall_back=fall_back,
    )


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_a_refusal_is_known_by_where_keras_raised_it(kind, rng, monkeypatch):
    """The fused function refuses (NotImplementedError): with `fall_back`
    the bridge returns None, without it the built-in's own ValueError
    comes out. A ValueError from inside the fused function, even one
    worded as Keras's refusal, is an error, not a refusal."""
    refuse = NotImplementedError("no cuDNN")
    assert run_refusing(kind, refuse, True, rng, monkeypatch) is None
    with pytest.raises(ValueError) as caught:
        run_refusing(kind, refuse, False, rng, monkeypatch)
    assert keras_bridge._raised_by(caught.value, BUILTIN[kind].inner_loop)
    worded = ValueError("use_cudnn=True was specified, but cuDNN is not")
    with pytest.raises(ValueError) as caught:
        run_refusing(kind, worded, True, rng, monkeypatch)
    assert caught.value is worded


def test_the_rnn_loop_runs_a_step_on_the_view(rng):
    """`RNN.inner_loop` on the view runs the step over time: a running sum
    of the inputs, as numpy computes it, in both directions."""
    x = rng.normal(size=(2, 4, 3)).astype("float32")

    def step(inputs, states):
        total = states[0] + inputs
        return total, [total]

    for go_backwards in (False, True):
        last, outputs, states = keras_bridge.rnn_loop(
            step,
            keras.ops.convert_to_tensor(x),
            [keras.ops.zeros((2, 3))],
            None,
            go_backwards=go_backwards,
            unroll=False,
            zero_output_for_mask=False,
            return_sequences=True,
            stateful=False,
        )
        order = x[:, ::-1] if go_backwards else x
        np.testing.assert_allclose(
            to_numpy(outputs), np.cumsum(order, axis=1), atol=1e-5
        )
        np.testing.assert_allclose(to_numpy(last), order.sum(1), atol=1e-5)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("implementation", [1, 2])
def test_a_cell_in_keras_rnn_draws_the_masks_keras_cells_draw(
    kind, implementation, rng
):
    """`keras.layers.RNN(cell)` in training with dropout and recurrent
    dropout: one set of masks per sequence, drawn before the loop (so JAX's
    scan has no seed to update), the same draws as Keras's own cell with
    the same seed: equal outputs, and a weight update that trains."""
    x = rng.normal(size=(4, 6, 3)).astype("float32")
    options = dict(dropout=0.3, recurrent_dropout=0.2, seed=7)
    options["implementation"] = implementation
    gated = keras.layers.RNN(CELLS[kind](5, **options))
    builtin = keras.layers.RNN(BUILTIN_CELLS[kind](5, **options))
    for layer in (gated, builtin):
        layer.build(x.shape)
    gated.set_weights(builtin.get_weights())
    got = to_numpy(gated(x, training=True))
    expected = to_numpy(builtin(x, training=True))
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert not np.allclose(got, to_numpy(gated(x)), atol=1e-3)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_keras_rnn_over_gated_cells_trains_with_dropout(kind, rng):
    """Alone and stacked (`StackedRNNCells`), on every backend: `fit`
    runs and the loss falls."""
    x = rng.normal(size=(32, 6, 3)).astype("float32")
    y = x[:, :1, 0] * 0.5
    cells = [
        CELLS[kind](6, dropout=0.1, recurrent_dropout=0.1, seed=1),
        [
            CELLS[kind](6, dropout=0.1, recurrent_dropout=0.1, seed=2),
            CELLS[kind](4, dropout=0.1, seed=3),
        ],
    ]
    for cell in cells:
        model = keras.Sequential(
            [keras.Input((6, 3)), keras.layers.RNN(cell), keras.layers.Dense(1)]
        )
        model.compile(keras.optimizers.Adam(0.02), "mse")
        loss = model.fit(x, y, epochs=8, batch_size=8, verbose=0)
        history = loss.history["loss"]
        assert history[-1] < history[0], history


# -- 8. Bidirectional's fused call ----------------------------------------

FUSED = {"lstm": "_can_attempt_fused_lstm", "gru": "_can_attempt_fused_gru"}
GATED = {"lstm": "GatedLSTM", "gru": "GatedGRU"}
needs_fused_bidirectional = pytest.mark.skipif(
    not hasattr(keras.layers.Bidirectional, "_can_attempt_fused_lstm"),
    reason=f"keras {keras.__version__} has no fused Bidirectional",
)


def bidirectional(kind, gated, shape=(2, 5, 3), **options):
    import keras_gates

    layer_class = getattr(keras_gates, GATED[kind]) if gated else BUILTIN[kind]
    wrapper = keras.layers.Bidirectional(
        layer_class(4, return_sequences=True, **options)
    )
    wrapper.build(shape)
    return wrapper


@needs_fused_bidirectional
@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize(
    "options, fused",
    [
        ({}, True),
        ({"dropout": 0.2}, False),
        ({"recurrent_dropout": 0.2}, False),
        ({"use_cudnn": False}, False),
        ({"use_bias": False}, False),
        ({"activation": "relu"}, True),  # the backend refuses it later
    ],
)
def test_gated_pairs_may_fuse_where_the_builtins_may(kind, options, fused):
    for gated in (False, True):
        wrapper = bidirectional(kind, gated, **options)
        assert getattr(wrapper, FUSED[kind])(None) is fused, (gated, options)
        assert getattr(wrapper, FUSED[kind])(np.ones((2, 5), bool)) is False


@needs_fused_bidirectional
@pytest.mark.parametrize(
    "kind, options",
    [
        ("lstm", {"return_gates": True}),
        ("lstm", {"peepholes": True}),
        ("lstm", {"layer_norm": True}),
        ("lstm", {"zoneout": [0.1, 0.1]}),
        ("lstm", {"recurrent_dropconnect": 0.2}),
        ("gru", {"reset_after": False}),
        ("gru", {"return_gates": True}),
        ("gru", {"layer_norm": True}),
    ],
)
def test_what_the_fused_call_cannot_compute_never_fuses(kind, options):
    wrapper = bidirectional(kind, True, **options)
    assert getattr(wrapper, FUSED[kind])(None) is False
    # The other kind's check never takes this pair either.
    other = "gru" if kind == "lstm" else "lstm"
    assert getattr(wrapper, FUSED[other])(None) is False


class FakeBidirectional:
    """Stands in for `backend.bidirectional_lstm` / `_gru` (which need a
    GPU): records each call and returns both directions of the float64
    reference recurrence, the backward one in input order."""

    def __init__(self, kind):
        self.kind, self.calls = kind, []

    def __call__(self, inputs, *states, mask=None, **kwargs):
        self.calls.append(kwargs)
        from tests import reference

        x = to_numpy(inputs).astype(np.float64)
        half = len(states) // 2
        found = []
        for direction, initial in (
            ("fwd", states[:half]),
            ("bwd", states[half:]),
        ):
            weights = [
                to_numpy(kwargs[f"{direction}_{name}"]).astype(np.float64)
                for name in ("kernel", "recurrent_kernel", "bias")
            ]
            initial = [to_numpy(s).astype(np.float64) for s in initial]
            backwards = direction == "bwd"
            if self.kind == "lstm":
                gates, final = reference.lstm(
                    x, *weights, initial_state=initial, go_backwards=backwards
                )
                final = list(final)
            else:
                gates, h = reference.gru(
                    x,
                    *weights,
                    initial_state=initial[0],
                    go_backwards=backwards,
                )
                final = [h]
            as_tensor = keras.ops.convert_to_tensor
            found.append(
                (
                    as_tensor(final[0].astype("float32")),
                    as_tensor(gates["hidden"].astype("float32")),
                    [as_tensor(s.astype("float32")) for s in final],
                )
            )
        return tuple(found)


@needs_fused_bidirectional
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_a_fused_gated_pair_equals_its_unfused_self(kind, rng, monkeypatch):
    # The same weights through Keras's fused call (faked: the reference
    # recurrence on what it is handed) and through the gated layers' own
    # passes, and the built-in pair through the same fused call.
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    builtin = bidirectional(kind, False)
    gated = bidirectional(kind, True)
    gated.set_weights(builtin.get_weights())
    unfused = to_numpy(gated(x))
    fake = FakeBidirectional(kind)
    monkeypatch.setattr(keras_backend, f"bidirectional_{kind}", fake)
    fused = to_numpy(gated(x))
    assert len(fake.calls) == 1, "the gated pair did not take the fused call"
    np.testing.assert_allclose(fused, unfused, atol=1e-5)
    np.testing.assert_allclose(to_numpy(builtin(x)), fused, atol=1e-6)
    assert len(fake.calls) == 2
