"""The sequence engine: its table of rules, and the built-in's fused kernel
reached without a GPU.

CI has no GPU, so the fused-kernel tests fake one: the engine is told an
accelerator is present, and the backend's fused function (what
`keras.layers.LSTM`/`GRU.inner_loop` call) is replaced by a recorder that
computes the recurrence with the numpy reference of `tests/reference.py`.
The gated layer and the built-in then run the same fake kernel; what each
handed it, and what came out, must be the same.
"""

import dataclasses
import importlib
import itertools
import types

import keras
import numpy as np
import pytest
from keras.src import backend as keras_backend

from keras_gates import GatedGRU, GatedLSTM, _autodiff
from keras_gates.engine import keras_bridge
from keras_gates.engine import sequence as _engine
from tests import reference
from tests.helpers import assert_outputs_close, to_numpy, value_and_gradients

BACKEND = keras.backend.backend()
GATED = {"lstm": GatedLSTM, "gru": GatedGRU}
BUILTIN = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}

# -- the table ---------------------------------------------------------------

BASE = _engine.Facts(
    backend="tensorflow",
    accelerator=True,
    kind="lstm",
    gates=False,
    recover_gates="auto",
    use_cudnn="auto",
    mask=False,
    known_length=True,
    go_backwards=False,
    unroll=False,
    recurrent_dropout=False,
    per_gate_dropout=False,
    implementation=2,
    default_activations=True,
    reset_after=True,
    standard=True,
)
K, H, L = _engine.KERNEL, _engine.HANDWRITTEN, _engine.LOOP
N, S, R = _engine.NONE, _engine.STEPPED, _engine.RECOVERED

# Gates on under XLA, no accelerator, a cell the hand-written pass does
# not compute (peepholes, layer normalisation, ...).
XLA_OTHER_CELL = {
    "gates": True,
    "accelerator": False,
    "xla": True,
    "standard": False,
    "handwritten_cell": False,
}

# (changes to BASE) -> (try_kernel, sequence, gates), one row per rule of
# the engine's docstring table, then the conditions of each rule.
TABLE = [
    ({}, (True, L, N)),
    ({"standard": False}, (False, L, N)),  # a variant: no kernel
    ({"standard": False, "gates": True}, (False, L, S)),
    # A variant the hand-written pass computes (cifg, mgu, ...): on PyTorch.
    ({"standard": False, "backend": "torch"}, (False, H, N)),
    ({"standard": False, "backend": "torch", "gates": True}, (False, H, S)),
    # One it does not (peepholes, fgr, zoneout, ...): Keras's loop.
    (
        {"standard": False, "handwritten_cell": False, "backend": "torch"},
        (False, L, N),
    ),
    ({"accelerator": False}, (False, L, N)),
    ({"use_cudnn": False}, (False, L, N)),
    ({"use_cudnn": True, "accelerator": False}, (True, L, N)),
    ({"recurrent_dropout": True}, (False, L, N)),
    ({"use_cudnn": True, "recurrent_dropout": True}, (True, L, N)),
    ({"per_gate_dropout": True}, (False, L, N)),
    ({"gates": True, "per_gate_dropout": True}, (False, L, S)),
    ({"use_cudnn": True, "per_gate_dropout": True}, (True, L, N)),
    ({"mask": True}, (False, L, N)),  # TensorFlow: left padding asserts
    ({"mask": True, "backend": "torch"}, (True, L, N)),
    ({"backend": "numpy"}, (False, L, N)),
    ({"gates": True, "recover_gates": True}, (True, L, R)),
    (
        {"gates": True, "recover_gates": True, "accelerator": False},
        (False, L, R),
    ),
    ({"gates": True, "recover_gates": True, "mask": True}, (False, L, R)),
    ({"gates": True}, (True, L, R)),
    ({"gates": True, "accelerator": False}, (False, L, S)),
    ({"gates": True, "backend": "torch", "mask": True}, (False, L, S)),
    ({"gates": True, "use_cudnn": False}, (False, L, S)),
    ({"gates": True, "recover_gates": False}, (False, L, S)),
    ({"backend": "torch", "accelerator": False}, (False, H, N)),
    ({"backend": "torch", "gates": True, "accelerator": False}, (False, H, S)),
    ({"backend": "torch"}, (True, H, N)),
    ({"backend": "torch", "accelerator": False, "mask": True}, (False, L, N)),
    (
        {"backend": "torch", "accelerator": False, "known_length": False},
        (False, L, N),
    ),
    (
        {"backend": "torch", "accelerator": False, "implementation": 1},
        (False, L, N),
    ),
    (
        {
            "backend": "torch",
            "accelerator": False,
            "default_activations": False,
        },
        (False, L, N),
    ),
    ({"backend": "torch", "accelerator": False, "kind": "gru"}, (False, H, N)),
    (
        {"backend": "torch", "accelerator": False, "reset_after": False},
        (False, L, N),
    ),
    (
        {"backend": "torch", "accelerator": False, "recurrent_dropout": True},
        (False, L, N),
    ),
    # XLA tracing (TensorFlow, jit_compile=True), no accelerator.
    ({"gates": True, "accelerator": False, "xla": True}, (False, H, S)),
    (
        {"gates": True, "accelerator": False, "xla": True, "kind": "gru"},
        (False, H, S),
    ),
    (
        {"gates": True, "recover_gates": False, "accelerator": False}
        | {"xla": True},
        (False, H, S),
    ),
    ({"accelerator": False, "xla": True}, (False, L, N)),
    (
        {"gates": True, "recover_gates": True, "accelerator": False}
        | {"xla": True},
        (False, L, R),
    ),
    (
        {"gates": True, "accelerator": False, "xla": True, "mask": True},
        (False, L, R),
    ),
    (
        {"gates": True, "accelerator": False, "xla": True, "standard": False},
        (False, H, S),
    ),
    # A cell the hand-written pass does not compute: Keras's loop,
    # rematerialised; recovery where that cannot run (a mask, an unknown
    # length; mixed precision, whose recompute would read uncast weights).
    (XLA_OTHER_CELL, (False, L, S)),
    (XLA_OTHER_CELL | {"recoverable": False}, (False, L, S)),
    (XLA_OTHER_CELL | {"mask": True}, (False, L, R)),
    (XLA_OTHER_CELL | {"known_length": False}, (False, L, R)),
    (XLA_OTHER_CELL | {"autocast": True}, (False, L, R)),
    (
        {"gates": True, "accelerator": False, "xla": True, "unroll": True},
        (False, L, S),
    ),
    (
        {"gates": True, "accelerator": False, "xla": True}
        | {"recurrent_dropout": True},
        (False, L, S),
    ),
    ({"gates": True, "xla": True}, (True, L, R)),  # an accelerator: kernel
]


@pytest.mark.parametrize("changes, expected", TABLE)
def test_the_engine_follows_its_table(changes, expected):
    plan = _engine.choose(dataclasses.replace(BASE, **changes))
    assert (plan.try_kernel, plan.sequence, plan.gates) == expected
    # The hand-written loop as one fori_loop: under XLA only.
    facts = dataclasses.replace(BASE, **changes)
    assert plan.symbolic == (facts.xla and plan.sequence == H)
    assert plan.chunk == 0  # not under torch.compile
    # Keras's loop rematerialised: under XLA, gates stepped, no mask.
    assert plan.remat == (
        facts.xla
        and not facts.unroll
        and plan.sequence == L
        and plan.gates == S
        and not facts.mask
        and facts.known_length
        and not facts.autocast
    )


def test_the_table_holds_for_every_combination():
    """The rules as invariants, over every combination of the facts."""
    choices = {
        "backend": ("tensorflow", "torch", "jax"),
        "accelerator": (True, False),
        "kind": ("lstm", "gru"),
        "gates": (True, False),
        "recover_gates": ("auto", True, False),
        "use_cudnn": ("auto", True, False),
        "mask": (True, False),
        "recurrent_dropout": (True, False),
        "per_gate_dropout": (True, False),
        "default_activations": (True, False),
        "go_backwards": (True, False),
        "xla": (True, False),
        "standard": (True, False),
        "handwritten_cell": (True, False),
        "compiling": (True, False),
    }
    count = 0
    for values in itertools.product(*choices.values()):
        facts = dataclasses.replace(
            BASE, **dict(zip(choices, values, strict=True))
        )
        if facts.standard and not facts.handwritten_cell:
            continue  # the hand-written pass computes every standard cell
        plan = _engine.choose(facts)
        count += 1
        if facts.use_cudnn is False:
            assert not plan.try_kernel
        if plan.gates == S or (facts.gates and facts.mask and plan.gates == R):
            assert not plan.try_kernel, facts
        if not facts.gates:
            assert plan.gates == N
            assert plan.try_kernel == (
                facts.use_cudnn is True
                or (
                    facts.use_cudnn == "auto"
                    and facts.accelerator
                    and not facts.recurrent_dropout
                    and not facts.per_gate_dropout
                    and facts.standard
                    and not (facts.backend == "tensorflow" and facts.mask)
                )
            ), facts
        if facts.gates and facts.recover_gates is True:
            assert plan.gates == R
        if facts.gates and facts.recover_gates is False:
            assert plan.gates == S
        if facts.gates and facts.recover_gates == "auto" and not facts.xla:
            assert (plan.gates == R) == plan.try_kernel
        if facts.gates and facts.recover_gates == "auto" and facts.xla:
            # Under XLA: the kernel, the hand-written loop, Keras's loop
            # rematerialised, or recovery.
            assert (
                plan.try_kernel
                or plan.sequence == H
                or plan.remat
                or plan.gates == R
            )
        if plan.sequence == H:
            assert facts.backend == "torch" or plan.symbolic
            assert not (facts.mask or facts.recurrent_dropout)
            assert facts.default_activations and facts.handwritten_cell
        if plan.symbolic:
            assert facts.xla and plan.gates == S and plan.sequence == H
        if plan.remat:
            assert facts.xla and plan.gates == S and plan.sequence == L
            assert not (facts.mask or facts.unroll)
        # The hand-written Python loop in compiled chunks: under
        # torch.compile only.
        chunked = facts.compiling and plan.sequence == H and not plan.symbolic
        assert plan.chunk == (_engine.CHUNK_STEPS if chunked else 0), facts
        if facts.xla and facts.gates and plan.gates == R:
            # Recovery under XLA: asked for, or after the kernel, or where
            # neither stepped loop without Keras's gradient can run.
            assert (
                facts.recover_gates is True
                or plan.try_kernel
                or facts.mask
                or not facts.known_length
            ), facts
        assert plan.project == (facts.backend == "torch" or plan.sequence == H)
        assert plan.unroll == (
            facts.backend == "torch" and not (facts.mask and facts.go_backwards)
        )
    assert count == 3 * 2**3 * 3 * 3 * 2**7 * 3


def test_use_cudnn_true_with_stepped_gates_is_refused():
    with pytest.raises(ValueError, match="recover_gates=False"):
        GatedLSTM(3, use_cudnn=True, return_gates=True, recover_gates=False)


def test_the_cell_is_a_pure_step_and_the_layer_is_not_changed_by_call(rng):
    """No attribute of the layer or its cell changes during a call."""
    layer = GatedLSTM(3, return_gates=True, dropout=0.2, seed=1)
    x = rng.normal(size=(2, 4, 3)).astype("float32")
    layer.build(x.shape)

    def snapshot(obj):
        return {
            k: v
            for k, v in vars(obj).items()
            if isinstance(v, (bool, int, float, str, type(None)))
        }

    mask = np.array([[1, 1, 1, 0]] * 2, bool)
    layer(x)  # Keras's own first-call bookkeeping (`_called`)
    before = snapshot(layer), snapshot(layer.cell)
    layer(x, training=True, mask=mask)
    layer(x, training=False)
    assert (snapshot(layer), snapshot(layer.cell)) == before


# -- the fused kernel, faked -------------------------------------------------


# Fused functions that return `go_backwards` outputs in the input's order
# (the loop returns them in processing order).
INPUT_ORDER = {("jax", "lstm"): True}


class FakeKernel:
    """Stands in for `keras.src.backend.lstm`/`gru`: records what it is
    handed and returns the reference recurrence in the built-in's format,
    or raises `refuse`."""

    def __init__(self, kind, refuse=None):
        self.kind, self.refuse, self.calls = kind, refuse, []

    def __call__(self, inputs, *args, **kwargs):
        states = list(args[:-1])
        mask = args[-1]
        record = {
            "inputs": to_numpy(inputs),
            "states": [to_numpy(s) for s in states],
            "mask": mask,
            "weights": [kwargs["kernel"], kwargs["recurrent_kernel"]]
            + [kwargs["bias"]],
            **{
                k: v
                for k, v in kwargs.items()
                if k not in ("kernel", "recurrent_kernel", "bias")
            },
        }
        self.calls.append(record)
        if self.refuse:
            raise self.refuse
        weights = [
            None if w is None else to_numpy(w) for w in record["weights"]
        ]
        x = record["inputs"]
        if self.kind == "lstm":
            gates, (h, c) = reference.lstm(
                x,
                *weights,
                initial_state=record["states"],
                go_backwards=kwargs["go_backwards"],
            )
            final = [h, c]
        else:
            gates, h = reference.gru(
                x,
                *weights,
                initial_state=record["states"][0],
                go_backwards=kwargs["go_backwards"],
                reset_after=kwargs["reset_after"],
            )
            final = [h]
        outputs = gates["hidden"]  # input order
        if kwargs["go_backwards"] and not INPUT_ORDER.get((BACKEND, self.kind)):
            outputs = outputs[:, ::-1]  # processing order, as the loop's
        if not kwargs["return_sequences"]:
            outputs = h[:, None]
        as_tensor = keras.ops.convert_to_tensor
        return (
            as_tensor(h.astype("float32")),
            as_tensor(outputs.astype("float32")),
            [as_tensor(s.astype("float32")) for s in final],
        )


@pytest.fixture
def fake_gpu(monkeypatch):
    """An accelerator for the engine, and fake fused functions; returns a
    function that installs one for a kind."""
    monkeypatch.setattr(keras_bridge, "accelerator", lambda *_: True)

    def install(kind, refuse=None):
        fake = FakeKernel(kind, refuse)
        monkeypatch.setattr(keras_backend, kind, fake)
        return fake

    return install


def pair(kind, shape, **options):
    """A gated layer and the built-in with the same weights."""
    gated = GATED[kind](4, **options)
    builtin = BUILTIN[kind](4, **options)
    for layer in (gated, builtin):
        layer.build(shape)
    gated.set_weights(builtin.get_weights())
    return gated, builtin


KERNEL_CASES = [
    ("lstm", {}, {}),
    ("lstm", {"return_sequences": True, "return_state": True}, {}),
    ("lstm", {"go_backwards": True, "return_sequences": True}, {}),
    ("lstm", {"dropout": 0.3, "seed": 3}, {"training": True}),
    ("lstm", {"dropout": 0.3, "seed": 3}, {}),
    ("lstm", {"return_sequences": True}, {"training": True}),
    ("lstm", {"use_bias": False, "unit_forget_bias": False}, {}),
    ("lstm", {"return_state": True}, {"initial_state": True}),
    ("gru", {}, {}),
    ("gru", {"return_sequences": True, "go_backwards": True}, {}),
    ("gru", {"dropout": 0.3, "seed": 3}, {"training": True}),
    ("gru", {"reset_after": False}, {}),
    ("gru", {"return_state": True}, {"initial_state": True}),
]


def call_kwargs(kind, call, batch, rng):
    kwargs = {"training": call.get("training", False)}
    if call.get("initial_state"):
        n = 2 if kind == "lstm" else 1
        kwargs["initial_state"] = [
            rng.normal(size=(batch, 4)).astype("float32") for _ in range(n)
        ]
    return kwargs


@pytest.mark.parametrize("kind, options, call", KERNEL_CASES)
def test_the_kernel_gets_what_the_builtin_gives_it(
    kind, options, call, fake_gpu, rng
):
    """Same variables, inputs (after dropout), states and flags handed to
    the fused function; the same outputs and states out of both."""
    x = rng.normal(size=(3, 5, 2)).astype("float32")
    gated, builtin = pair(kind, x.shape, **options)
    kwargs = call_kwargs(kind, call, 3, rng)
    results, records = [], []
    for layer in (gated, builtin):
        fake = fake_gpu(kind)
        results.append(layer(x, **kwargs))
        assert len(fake.calls) == 1
        records.append(fake.calls[0])
    got, expected = records
    np.testing.assert_array_equal(got["inputs"], expected["inputs"])
    for a, e in zip(got["states"], expected["states"], strict=True):
        np.testing.assert_array_equal(a, e)
    for mine, theirs, own in zip(
        got["weights"],
        expected["weights"],
        gated.cell.weights + [None],
        strict=False,
    ):
        if theirs is None:
            assert mine is None
        else:
            assert mine is own or mine is getattr(own, "value", None)
            np.testing.assert_array_equal(to_numpy(mine), to_numpy(theirs))
    flags = [k for k in expected if k not in ("inputs", "states", "weights")]
    assert {k: got[k] for k in flags} == {k: expected[k] for k in flags}
    assert got["unroll"] is False
    assert_outputs_close(results[0], results[1], atol=0)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_stateful_states_come_from_the_kernel(kind, fake_gpu, rng):
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    gated, builtin = pair(kind, x.shape, stateful=True)
    for layer in (gated, builtin):
        fake_gpu(kind)
        layer(x)
        layer(x[:, ::-1])
    for a, e in zip(gated.states, builtin.states, strict=True):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(e))
    assert np.abs(to_numpy(gated.states[0])).sum() > 0


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_a_refusing_kernel_falls_back_to_the_loop(kind, fake_gpu, rng):
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    gated, builtin = pair(kind, x.shape, return_sequences=True)
    loop = GATED[kind](4, return_sequences=True, use_cudnn=False)
    loop.build(x.shape)
    loop.set_weights(builtin.get_weights())
    outputs = []
    for layer in (gated, builtin):
        fake = fake_gpu(kind, refuse=NotImplementedError())
        outputs.append(to_numpy(layer(x)))
        assert len(fake.calls) == 1
    np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-6)
    np.testing.assert_array_equal(outputs[0], to_numpy(loop(x)))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_use_cudnn_true_fails_as_the_builtin_fails(kind, fake_gpu, rng):
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    gated, builtin = pair(kind, x.shape, use_cudnn=True)
    messages = []
    for layer in (gated, builtin):
        fake_gpu(kind, refuse=NotImplementedError())
        with pytest.raises(ValueError) as error:
            layer(x)
        lines = str(error.value).splitlines()
        messages.append([line for line in lines if "use_cudnn=True" in line])
    assert messages[0] == messages[1]
    assert len(messages[0]) == 1


@pytest.mark.parametrize(
    "kind, options, accelerator",
    [
        ("lstm", {"use_cudnn": False}, True),
        ("lstm", {"return_gates": True, "recover_gates": False}, True),
        ("gru", {"return_gates": True, "recover_gates": False}, True),
        ("lstm", {"recurrent_dropout": 0.2}, True),
        ("lstm", {"implementation": 1, "dropout": 0.3, "seed": 1}, True),
        ("gru", {"implementation": 1, "dropout": 0.3, "seed": 1}, True),
        ("lstm", {}, False),
        ("gru", {"return_gates": True}, False),
    ],
)
def test_the_kernel_is_not_asked(
    kind, options, accelerator, fake_gpu, monkeypatch, rng
):
    fake = fake_gpu(kind, refuse=AssertionError("the fused kernel ran"))
    monkeypatch.setattr(keras_bridge, "accelerator", lambda *_: accelerator)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    GATED[kind](4, **options)(x, training=True)
    assert fake.calls == []


@pytest.mark.parametrize(
    "kind, options",
    [
        ("lstm", {}),
        ("lstm", {"go_backwards": True, "return_sequences": True}),
        ("lstm", {"return_state": True, "use_cudnn": True}),
        ("gru", {"recover_gates": True}),
        ("gru", {"go_backwards": True}),
    ],
)
def test_gates_recovered_after_the_kernel(kind, options, fake_gpu, rng):
    """With gates on and an accelerator, "auto" runs the kernel with gates
    off and recovers the gates: the same gates and outputs as the stepped
    loop on the CPU."""
    x = rng.normal(size=(3, 6, 2)).astype("float32")
    fast = GATED[kind](4, return_gates=True, **options)
    stepped_options = {**options, "use_cudnn": False}
    stepped = GATED[kind](4, return_gates=True, **stepped_options)
    for layer in (fast, stepped):
        layer.build(x.shape)
    stepped.set_weights(fast.get_weights())
    fake = fake_gpu(kind)
    got = fast(x)
    assert len(fake.calls) == 1 and fake.calls[0]["return_sequences"]
    expected = stepped(x)
    *outputs, gates = got
    *expected_outputs, expected_gates = expected
    if fast.return_sequences and fast.go_backwards:
        if INPUT_ORDER.get((BACKEND, kind)):
            # What the built-in returns on this backend's kernel.
            expected_outputs[0] = keras.ops.flip(expected_outputs[0], 1)
    assert_outputs_close(outputs, expected_outputs, atol=1e-5)
    for name in expected_gates:
        np.testing.assert_allclose(
            to_numpy(gates[name]),
            to_numpy(expected_gates[name]),
            atol=1e-5,
            err_msg=name,
        )


@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow's flag")
def test_supports_jit_is_set_as_the_builtin_sets_it(monkeypatch):
    tf_rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")

    grid = itertools.product(
        ("lstm", "gru"),
        (True, False),  # accelerator
        ("auto", True, False),  # use_cudnn
        ("tanh", "relu"),
        (False, True),  # unroll
        (True, False),  # use_bias
        (True, False),  # reset_after (GRU)
    )
    seen = set()
    for kind, gpu, use_cudnn, act, unroll, bias, reset_after in grid:
        monkeypatch.setattr(tf_rnn, "_is_gpu_available", lambda g=gpu: g)
        monkeypatch.setattr(keras_bridge, "accelerator", lambda *_, g=gpu: g)
        options = {
            "use_cudnn": use_cudnn,
            "activation": act,
            "unroll": unroll,
            "use_bias": bias,
        }
        if kind == "gru":
            options["reset_after"] = reset_after
        expected = BUILTIN[kind](3, **options).supports_jit
        assert GATED[kind](3, **options).supports_jit == expected, options
        seen.add(expected)
    assert seen == {True, False}


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_implementation_0_from_keras_2_configs_loads(kind, rng):
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    # Keras 2 saved models carry `implementation`; Keras 3 loads 0.
    config = {**BUILTIN[kind](4).get_config(), "implementation": 0}
    builtin = BUILTIN[kind].from_config(config)
    gated = GATED[kind].from_config(config)
    for layer in (builtin, gated):
        layer.build(x.shape)
    gated.set_weights(builtin.get_weights())
    assert gated.implementation == 0
    np.testing.assert_allclose(
        to_numpy(gated(x)), to_numpy(builtin(x)), atol=1e-6
    )


@pytest.mark.skipif(
    BACKEND not in ("torch", "jax"), reason="fused functions that run on CPU"
)
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_the_builtins_cpu_fused_function_through_the_gated_layer(kind, rng):
    """Keras's PyTorch LSTM/GRU and JAX GRU functions also run on a CPU:
    with use_cudnn=True the gated layer runs them and equals the built-in
    (outputs and gradients, input and weights)."""
    if BACKEND == "jax" and kind == "lstm":
        pytest.skip("JAX's fused LSTM needs a GPU")
    x = rng.normal(size=(3, 6, 2)).astype("float32")
    gated, builtin = pair(kind, x.shape, use_cudnn=True, return_sequences=True)
    (got, grads), (expected, expected_grads) = (
        value_and_gradients(layer, x) for layer in (gated, builtin)
    )
    assert_outputs_close(got, expected, atol=1e-6)
    for a, e in zip(grads, expected_grads, strict=True):
        np.testing.assert_allclose(a, e, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_use_cudnn_true_with_recurrent_dropout_fails_as_the_builtin(
    kind, fake_gpu, rng
):
    """The built-in never hands recurrent dropout to the fused function;
    with use_cudnn=True it raises instead, and so does the gated layer."""
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    gated, builtin = pair(kind, x.shape, use_cudnn=True, recurrent_dropout=0.2)
    for layer in (gated, builtin):
        fake = fake_gpu(kind)
        with pytest.raises(ValueError, match="use_cudnn=True was specified"):
            layer(x, training=True)
        assert fake.calls == []


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_a_mask_reaches_the_kernel_as_the_builtin_hands_it(kind, fake_gpu, rng):
    """PyTorch and JAX: the mask goes to the fused function (which refuses
    it today and falls back); TensorFlow: the gated layer keeps a masked
    call on its loop, where the built-in's cuDNN path would assert on a
    left-padded mask."""
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    mask = np.array([[True] * 5, [False, False, True, True, True]])
    gated, builtin = pair(kind, x.shape, return_sequences=True)
    outputs, masks = [], []
    for layer in (gated, builtin):
        fake = fake_gpu(kind, refuse=NotImplementedError())
        outputs.append(to_numpy(layer(x, mask=mask)))
        masks.append([to_numpy(c["mask"]) for c in fake.calls])
    if BACKEND == "tensorflow":
        assert masks[0] == []
    else:
        np.testing.assert_array_equal(masks[0], masks[1])
        np.testing.assert_array_equal(masks[0][0], mask)
    np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-6)


def test_accelerator_reads_keras_devices_then_the_tensors_device():
    """Keras's device list where the backend has one (TensorFlow, JAX);
    on PyTorch, which has none, the device of the inputs."""
    on = types.SimpleNamespace(device=types.SimpleNamespace(type="cuda"))
    off = types.SimpleNamespace(device=types.SimpleNamespace(type="cpu"))
    gpus = (
        [d for d in keras.distribution.list_devices() if "cpu" not in d]
        if (BACKEND != "torch")
        else []
    )
    expected = bool(gpus) if BACKEND != "torch" else True
    assert keras_bridge.accelerator(on) is expected
    assert keras_bridge.accelerator(off) is bool(gpus)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_outputs_and_states_in_the_policys_dtype(kind, rng):
    """Under mixed_float16, outputs and states come out in float16, as the
    built-in's do."""
    keras.config.set_dtype_policy("mixed_float16")
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    for sequences in (True, False):  # every output, or the last
        gated, builtin = pair(
            kind, x.shape, return_sequences=sequences, return_state=True
        )
        got, expected = gated(x), builtin(x)
        assert [str(t.dtype) for t in got] == [str(t.dtype) for t in expected]
        assert "float16" in str(got[0].dtype)
        for a, e in zip(got, expected, strict=True):
            np.testing.assert_allclose(
                to_numpy(a).astype("float32"),
                to_numpy(e).astype("float32"),
                atol=2e-3,
            )


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_a_stateful_layer_refuses_another_batch_size_by_name(kind, rng):
    layer = GATED[kind](3, stateful=True, name="carried")
    layer(rng.normal(size=(2, 4, 2)).astype("float32"))
    with pytest.raises(ValueError, match=r"carried is stateful.* 2; got 3"):
        layer(rng.normal(size=(3, 4, 2)).astype("float32"))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_implementation_1_dropout_keeps_one_mask_per_gate_on_a_gpu(
    kind, fake_gpu, rng
):
    """implementation=1 draws one input dropout mask per gate; a fused
    function takes one masked sequence. The gated layer keeps its loop, so
    an accelerator gives the numbers Keras's loop gives (the built-in's own
    cuDNN attempt crashes on the list of masks), and use_cudnn=True says
    why it cannot."""
    x = rng.normal(size=(3, 5, 2)).astype("float32")
    options = {"implementation": 1, "dropout": 0.4, "seed": 5}
    gated = GATED[kind](4, **options)
    builtin = BUILTIN[kind](4, use_cudnn=False, **options)
    for layer in (gated, builtin):
        layer.build(x.shape)
    gated.set_weights(builtin.get_weights())
    fake = fake_gpu(kind)
    got = to_numpy(gated(x, training=True))
    assert fake.calls == []
    np.testing.assert_allclose(
        got, to_numpy(builtin(x, training=True)), atol=1e-6
    )
    forced = GATED[kind](4, use_cudnn=True, **options)
    with pytest.raises(ValueError) as caught:
        forced(x, training=True)
    assert (
        f"{forced.name}: use_cudnn=True cannot run implementation=1 with "
        "dropout=0.4: it draws one input dropout mask per gate, and the "
        "fused kernel takes one masked sequence; use implementation=2 or "
        "use_cudnn='auto'"
    ) in str(caught.value)


def test_without_a_tensor_pytorch_asks_where_keras_puts_tensors(monkeypatch):
    """`sequence_plan` passes a shape: on PyTorch the engine then reads
    the device of a new Keras tensor."""
    distribution = types.SimpleNamespace(
        list_devices=lambda: (_ for _ in ()).throw(NotImplementedError())
    )
    monkeypatch.setattr(keras, "distribution", distribution)
    cuda = types.SimpleNamespace(device=types.SimpleNamespace(type="cuda"))
    monkeypatch.setattr(keras_bridge.ops, "zeros", lambda shape: cuda)
    assert keras_bridge.accelerator(None) is True
    assert keras_bridge.accelerator(keras.KerasTensor((2, 3))) is True
    cpu = types.SimpleNamespace(device=types.SimpleNamespace(type="cpu"))
    assert keras_bridge.accelerator(cpu) is False
    monkeypatch.setattr(keras_bridge.ops, "zeros", lambda shape: cpu)
    assert keras_bridge.accelerator(None) is False


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_extraction_recovers_from_the_kernel_on_a_gpu(
    kind, go_backwards, fake_gpu, rng
):
    """Where the kernel runs, `packed_gates` (what `GateExtractor` reads)
    comes from one kernel pass and recovery, not the stepped loop, with
    the stepped loop's numbers."""
    x = rng.normal(size=(3, 6, 2)).astype("float32")
    options = {"return_gates": True, "go_backwards": go_backwards}
    fast = GATED[kind](4, **options)
    stepped = GATED[kind](4, use_cudnn=False, **options)
    for layer in (fast, stepped):
        layer.build(x.shape)
    stepped.set_weights(fast.get_weights())
    fake = fake_gpu(kind)
    got = to_numpy(fast.packed_gates(x))
    assert len(fake.calls) == 1
    expected = to_numpy(stepped.packed_gates(x))
    assert len(fake.calls) == 1
    np.testing.assert_allclose(got, expected, atol=1e-5)
    mask = np.ones((3, 6), bool)
    mask[0, :2] = False
    fast.packed_gates(x, mask=mask)  # a mask: the stepped loop
    assert len(fake.calls) == 1
    # use_cudnn=False keeps extraction off the kernel, recovering or not.
    never = GATED[kind](4, use_cudnn=False, recover_gates=True, **options)
    never.build(x.shape)
    never.set_weights(fast.get_weights())
    np.testing.assert_allclose(
        to_numpy(never.packed_gates(x)), expected, atol=1e-5
    )
    assert len(fake.calls) == 1
    # A kernel that refuses: the stepped loop, same numbers.
    refusing = fake_gpu(kind, refuse=NotImplementedError())
    np.testing.assert_allclose(
        to_numpy(fast.packed_gates(x)), expected, atol=1e-5
    )
    assert len(refusing.calls) == 1


def test_facts_are_read_from_the_layer_and_the_call():
    layer = GatedLSTM(
        3,
        dropout=0.1,
        recurrent_dropout=0.25,
        implementation=1,
        go_backwards=True,
        unroll=True,
        use_cudnn=False,
        return_gates=True,
    )
    layer.build((None, 4, 2))
    mask = keras.ops.ones((2, 4), "bool")
    facts = _engine.facts_of(layer, keras.ops.ones((2, 4, 2)), mask, True)
    assert facts == dataclasses.replace(
        BASE,
        backend=keras.backend.backend(),
        accelerator=keras_bridge.accelerator(),  # True on a GPU machine
        gates=True,
        recover_gates=layer.recover_gates,
        use_cudnn=False,
        mask=True,
        go_backwards=True,
        unroll=True,
        recurrent_dropout=True,
        per_gate_dropout=True,
        implementation=1,
    )
    plain = GatedGRU(3, reset_after=False, activation="relu")
    plain.build((None, None, 2))
    facts = _engine.facts_of(
        plain, keras.KerasTensor((2, None, 2)), None, False
    )
    assert (facts.kind, facts.gates, facts.mask, facts.known_length) == (
        "gru", False, False, False,
    )  # fmt: skip
    assert (facts.unroll, facts.recurrent_dropout, facts.per_gate_dropout) == (
        False, False, False,
    )  # fmt: skip
    assert (facts.default_activations, facts.reset_after) == (False, False)
    assert (facts.use_cudnn, facts.implementation) == ("auto", 2)


class _SeesXla(keras.layers.Layer):
    """Records what `xla_tracing` says each time it is called."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def call(self, x):
        self.seen.append(_autodiff.xla_tracing())
        return x * 2.0


@pytest.mark.parametrize("jit", [True, False])
def test_xla_tracing_is_seen_inside_a_jit_compiled_training_step(jit):
    """`_autodiff.xla_tracing`: on TensorFlow, True while a
    `jit_compile=True` model traces its training and prediction steps,
    False otherwise (the symbolic build call, `jit_compile=False`, eager
    calls); never on the other backends, whose compilers are not the case
    it guards."""
    probe = _SeesXla()
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1)(probe(inputs)))
    model.compile(optimizer="sgd", loss="mse", jit_compile=jit)
    x, y = np.ones((4, 3), "float32"), np.ones((4, 1), "float32")
    model.fit(x, y, epochs=1, verbose=0)
    model.predict(x, verbose=0)
    probe(x)
    built, traced, eager = probe.seen[0], probe.seen[1:-1], probe.seen[-1]
    assert traced, "the probe was not traced"
    assert built is False and eager is False
    assert set(traced) == {jit and BACKEND == "tensorflow"}, probe.seen
