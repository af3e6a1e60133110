"""What every gated layer promises about its gates, and its bad input."""

import dataclasses
import functools

import keras
import numpy as np
import pytest

from keras_gates import GatedGRU, GatedLSTM
from keras_gates.engine import keras_bridge
from keras_gates.engine import sequence as _engine
from keras_gates.gate_layout import gate_names
from tests.helpers import (
    assert_outputs_close,
    numeric_gradients,
    to_numpy,
    value_and_gradients,
)

BACKEND = keras.backend.backend()

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
def test_mixed_precision_gates_follow_float32(kind, policy, rng):
    keras.config.set_dtype_policy(policy)
    x = rng.normal(size=(3, 6, 4)).astype("float32")
    layer = LAYERS[kind](5, return_gates=True, return_sequences=True)
    output, gates = gates_of(layer, x)
    assert layer.compute_dtype == policy.split("_")[1]
    assert layer.cell.kernel.dtype == "float32"
    assert all(np.isfinite(v.astype("float32")).all() for v in gates.values())
    reference = LAYERS[kind](
        5, return_gates=True, return_sequences=True, dtype="float32"
    )
    reference.build(x.shape)
    reference.set_weights(layer.get_weights())
    expected_output, expected = gates_of(reference, x)
    # float16 keeps 11 significant bits, bfloat16 8.
    atol = 5e-3 if policy == "mixed_float16" else 3e-2
    np.testing.assert_allclose(
        to_numpy(output).astype("float32"), to_numpy(expected_output), atol=atol
    )
    for name, value in expected.items():
        np.testing.assert_allclose(
            gates[name].astype("float32"), value, atol=atol, err_msg=name
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


def random_initial_state(kind, batch, units, rng):
    return [
        rng.normal(size=(batch, units)).astype("float32")
        for _ in range(2 if kind == "lstm" else 1)
    ]


def twins(layers, shape):
    """`layers`, built for `shape`, all with the same random weights (the
    biases too: Keras starts GRU biases at 0, where a bias added twice
    would not show)."""
    for layer in layers:
        layer.build(shape)
    rng = np.random.default_rng(7)
    weights = [
        rng.normal(0, 0.4, w.shape).astype("float32")
        for w in layers[0].get_weights()
    ]
    for layer in layers:
        layer.set_weights(weights)
    return layers


def assert_same_values_and_gradients(layer, reference, x, **kwargs):
    (got, grads), (expected, expected_grads) = (
        value_and_gradients(each, x, **kwargs) for each in (layer, reference)
    )
    assert_outputs_close(got, expected, atol=1e-5)
    for a, e in zip(grads, expected_grads, strict=True):
        np.testing.assert_allclose(a, e, atol=2e-5, rtol=1e-5)


RECOVERY_CASES = [
    ({}, {}),
    ({"go_backwards": True}, {}),
    ({"implementation": 1}, {}),
    ({"use_bias": False, "activation": "relu"}, {}),
    ({"dropout": 0.3, "recurrent_dropout": 0.2, "seed": 3}, {"training": True}),
    ({"zero_output_for_mask": True}, {"mask": "post"}),
    ({"go_backwards": True}, {"mask": "pre"}),
    ({}, {"initial_state": True}),
    ({"reset_after": False}, {"mask": "post"}),
]


@pytest.mark.parametrize(
    "kind, options, call",
    [
        (kind, options, call)
        for kind in ("lstm", "gru")
        for options, call in RECOVERY_CASES
        if kind == "gru" or "reset_after" not in options
    ],
)
def test_recovered_gates_equal_the_step_by_step_loop(kind, options, call, rng):
    """recover_gates=True computes the gates after a gates-off loop; the
    reference loop emits them step by step. Same values, same gradients."""
    batch, time, features, units = 3, 7, 4, 5
    x = rng.normal(size=(batch, time, features)).astype("float32")
    kwargs = {k: v for k, v in call.items() if k == "training"}
    if call.get("mask"):
        mask = np.ones((batch, time), bool)
        mask[1, 4:] = False
        mask[2, :2] = False
        if call["mask"] == "pre":
            mask = mask[:, ::-1].copy()
        kwargs["mask"] = mask
    if call.get("initial_state"):
        kwargs["initial_state"] = random_initial_state(kind, batch, units, rng)
    layers = twins(
        [
            LAYERS[kind](
                units,
                return_gates=True,
                return_sequences=True,
                return_state=True,
                recover_gates=recover,
                **options,
            )
            for recover in (True, False)
        ],
        x.shape,
    )
    assert_same_values_and_gradients(*layers, x, **kwargs)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_recovered_gates_follow_a_stateful_layer_across_calls(kind, rng):
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    layers = twins(
        [
            LAYERS[kind](
                4, return_gates=True, stateful=True, recover_gates=recover
            )
            for recover in (True, False)
        ],
        x.shape,
    )
    for _ in range(2):  # the second call starts from the carried state
        recovered, reference = (layer(x) for layer in layers)
        assert_outputs_close(recovered, reference, atol=1e-5)


@pytest.mark.parametrize("time", [None, 7])
def test_recovered_cell_state_with_unknown_and_odd_lengths(time, rng):
    """The LSTM cell state is a scan: by doubling when the length is known
    when the graph is built, by ops.associative_scan when it is not."""
    x = rng.normal(size=(2, 7, 3)).astype("float32")
    models = []
    for recover in (True, False):
        layer = GatedLSTM(
            4, return_gates=True, return_sequences=True, recover_gates=recover
        )
        inputs = keras.Input((time, 3))
        outputs, gates = layer(inputs)
        models.append(keras.Model(inputs, gates["cell"]))
    models[1].set_weights(models[0].get_weights())
    recovered, reference = (model.predict(x, verbose=0) for model in models)
    np.testing.assert_allclose(recovered, reference, atol=1e-5)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_recover_gates_must_be_auto_or_a_bool(kind):
    with pytest.raises(ValueError, match="recover_gates must be one of"):
        LAYERS[kind](3, recover_gates="yes")


def force_handwritten(monkeypatch):
    """The hand-written backward pass wherever it applies, on whatever
    backend runs the test (the engine uses it on PyTorch only)."""
    backend = keras.backend.backend()
    # No accelerator: on a GPU the kernel would run instead.
    monkeypatch.setattr(keras_bridge, "accelerator", lambda *_: False)
    monkeypatch.setitem(_engine.PROJECT_BEFORE_LOOP, backend, True)
    monkeypatch.setattr(
        _engine,
        "HANDWRITTEN_BACKENDS",
        _engine.HANDWRITTEN_BACKENDS | {backend},
    )


HANDWRITTEN_CASES = [
    ({"return_gates": True}, {}),
    ({"return_gates": True, "go_backwards": True, "return_state": True}, {}),
    ({"return_gates": True, "use_bias": False}, {}),
    ({"return_sequences": True, "return_state": True}, {}),
    ({"go_backwards": True, "return_sequences": True}, {}),
    ({"dropout": 0.3, "seed": 1, "return_gates": True}, {"training": True}),
    ({"return_gates": True, "return_state": True}, {"initial_state": True}),
]


# The variants the hand-written pass computes: a constant gate (nig, nfg,
# nog), a linear activation (niaf, noaf), a tied gate (cifg, mgu).
HANDWRITTEN_VARIANTS = [
    (kind, {"variant": variant, "return_gates": True, "return_state": True}, {})
    for kind, variant in (
        ("lstm", "nig"),
        ("lstm", "nfg"),
        ("lstm", "nog"),
        ("lstm", "niaf"),
        ("lstm", "noaf"),
        ("lstm", "cifg"),
        ("gru", "mgu"),
    )
] + [
    ("lstm", {"variant": "cifg", "go_backwards": True}, {}),
    (
        "gru",
        {"variant": "mgu", "return_sequences": True, "use_bias": False},
        {},
    ),
]


# The hand-written pass's loops: `(symbolic, chunk)` of the plan. Chunks
# of 3 over 7 steps: two whole chunks and a shorter last one.
HANDWRITTEN_LOOPS = {
    "python": (False, 0),
    "fori": (True, 0),
    "chunks": (False, 3),
}


@pytest.mark.parametrize("loop", list(HANDWRITTEN_LOOPS))
@pytest.mark.parametrize(
    "kind, options, call",
    [(kind, o, c) for kind in ("lstm", "gru") for o, c in HANDWRITTEN_CASES]
    + HANDWRITTEN_VARIANTS,
)
def test_handwritten_loop_equals_the_step_by_step_cell(
    kind, options, call, loop, rng, monkeypatch
):
    """The loop with a hand-written backward pass (`layers._handwritten`,
    used on PyTorch, in chunks under torch.compile, and as one fori_loop
    under XLA on TensorFlow) against the cell stepped by keras.layers.RNN:
    same outputs, states and gates, same gradients (input and every
    weight). Every loop forced on whatever backend runs the test."""
    force_handwritten(monkeypatch)
    choose = _engine.choose
    symbolic, chunk = HANDWRITTEN_LOOPS[loop]

    def forced(facts):
        plan = choose(facts)
        if plan.sequence != _engine.HANDWRITTEN:
            return plan
        return dataclasses.replace(plan, symbolic=symbolic, chunk=chunk)

    monkeypatch.setattr(_engine, "choose", forced)
    batch, time, features, units = 3, 7, 4, 5
    x = rng.normal(size=(batch, time, features)).astype("float32")
    kwargs = {k: v for k, v in call.items() if k == "training"}
    if call.get("initial_state"):
        kwargs["initial_state"] = random_initial_state(kind, batch, units, rng)
    handwritten, stepped = twins(
        [LAYERS[kind](units, **options) for _ in range(2)], x.shape
    )
    # The stepped twin: inputs projected as well, Keras's loop.
    monkeypatch.setitem(_engine.PROJECT_BEFORE_LOOP, "stepped twin", True)
    facts_of = _engine.facts_of

    def twin_facts(layer, *args):
        facts = facts_of(layer, *args)
        if layer is stepped:
            facts = dataclasses.replace(facts, backend="stepped twin")
        return facts

    monkeypatch.setattr(_engine, "facts_of", twin_facts)
    runs = []
    original = handwritten.cell.handwritten

    def counted(*args, **options):
        runs.append((options["symbolic"], options["chunk"]))
        return original(*args, **options)

    monkeypatch.setattr(handwritten.cell, "handwritten", counted)
    assert_same_values_and_gradients(handwritten, stepped, x, **kwargs)
    assert runs, "the handwritten loop did not run"
    assert set(runs) == {(symbolic, chunk)}


@pytest.mark.parametrize(
    "kind, options, call",
    [
        ("lstm", {"recurrent_dropout": 0.2}, {"training": True}),
        ("lstm", {"activation": "relu"}, {}),
        ("lstm", {"implementation": 1}, {}),
        ("gru", {"reset_after": False}, {}),
        ("gru", {}, {"mask": True}),
        ("lstm", {"variant": "fgr"}, {}),
        ("lstm", {"variant": "cifg", "peepholes": True}, {}),
        ("gru", {"variant": "mgu", "zoneout": 0.1}, {}),
        ("lstm", {"variant": "nig", "layer_norm": True}, {}),
    ],
)
def test_handwritten_loop_is_not_used_where_it_does_not_apply(
    kind, options, call, rng, monkeypatch
):
    force_handwritten(monkeypatch)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    layer = LAYERS[kind](4, **options)
    layer.build(x.shape)

    def refuse(*args):
        raise AssertionError("the handwritten loop ran")

    monkeypatch.setattr(layer.cell, "handwritten", refuse)
    kwargs = {k: v for k, v in call.items() if k == "training"}
    if call.get("mask"):
        kwargs["mask"] = np.array([[True] * 5, [True] * 3 + [False] * 2])
    assert np.isfinite(to_numpy(layer(x, **kwargs))).all()


@pytest.mark.parametrize(
    "kind, variant",
    [("lstm", "standard"), ("gru", "standard"), ("lstm", "cifg"),
     ("gru", "mgu")],
)  # fmt: skip
def test_a_compiled_training_step_equals_the_eager_one(
    kind, variant, rng, monkeypatch
):
    """jit_compile=True (XLA on TensorFlow, jax.jit, torch.compile on
    PyTorch) trains the gated layer, gates in the loss, to the same
    weights as eager execution, for the standard cells and a variant of
    each that the hand-written pass computes (the path a variant takes on
    a GPU without cuDNN). On TensorFlow the compiled step takes the
    hand-written loop as one fori_loop (the engine sees XLA tracing), the
    eager one Keras's loop: an independent reference. On PyTorch the
    compiled step runs the hand-written loop in compiled chunks, the eager
    one the plain Python loop (tested against Keras's loop above)."""
    # Under torch.compile, chunks of 4 steps: one whole and a shorter one.
    monkeypatch.setattr(_engine, "CHUNK_STEPS", 4)
    if BACKEND == "torch":
        import torch

        # A fresh compiler: past a limit of compiles per function (Keras's
        # functional call, shared by every test in this process) it runs
        # the call eagerly, and the engine would not see it compiling.
        torch._dynamo.reset()
    x = rng.normal(size=(8, 6, 3)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    models, paths = [], {True: [], False: []}
    for jit in (True, False):
        inputs = keras.Input((6, 3))
        layer = LAYERS[kind](4, return_gates=True, variant=variant)
        layer.build((None, 6, 3))
        original = layer.cell.handwritten

        def recorded(*args, _jit=jit, _original=original, **options):
            paths[_jit].append((options["symbolic"], options["chunk"]))
            return _original(*args, **options)

        monkeypatch.setattr(layer.cell, "handwritten", recorded)
        outputs, gates = layer(inputs)
        penalty = sum(keras.ops.mean(g, axis=(1, 2)) for g in gates.values())
        prediction = keras.layers.Dense(1)(outputs)
        prediction = prediction + 1e-2 * keras.ops.expand_dims(penalty, -1)
        model = keras.Model(inputs, prediction)
        model.compile(optimizer="sgd", loss="mse", jit_compile=jit)
        models.append(model)
    start = models[0].get_weights()
    models[1].set_weights(start)
    for model in models:
        for _ in range(2):
            model.train_on_batch(x, y)
    compiled, eager = (model.get_weights() for model in models)
    if BACKEND == "tensorflow":
        assert set(paths[True]) == {(True, 0)} and paths[False] == [], paths
    if BACKEND == "torch":
        # Built on symbolic inputs (the first call), then trained in
        # compiled chunks.
        assert set(paths[True][1:]) == {(False, 4)}, paths
        assert set(paths[False]) == {(False, 0)}, paths
    # The recurrent kernel moved, and moved the same way.
    assert np.abs(compiled[1] - start[1]).max() > 1e-4
    for a, b in zip(compiled, eager, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


REMAT_CASES = [
    ("lstm", {"peepholes": True, "go_backwards": True}),
    ("lstm", {"variant": "fgr", "return_sequences": True}),
    ("lstm", {"layer_norm": True, "recover_gates": False}),
    ("gru", {"layer_norm": True}),
    ("lstm", {"recurrent_dropout": 0.3, "seed": 2}),
    ("gru", {"zoneout": 0.2, "seed": 4}),
    ("lstm", {"recurrent_dropconnect": 0.3, "seed": 6}),
    ("gru", {"recurrent_dropconnect": 0.3, "seed": 6, "layer_norm": True}),
    ("gru", {"activation": "relu", "reset_after": False}),
]


@pytest.mark.skipif(
    BACKEND != "tensorflow", reason="XLA's loop question is TensorFlow's"
)
@pytest.mark.parametrize("kind, options", REMAT_CASES)
def test_the_rematerialised_loop_trains_as_keras_loop_does(
    kind, options, rng, monkeypatch
):
    """Under XLA the cells the hand-written pass does not compute step
    through Keras's loop rematerialised (`_autodiff.rematerialised_loop`:
    a per-step gradient, no gradient through the loop). Two compiled
    training steps, gates in the loss, reach the same weights as two
    compiled steps through Keras's loop with TensorFlow's own gradient
    (the engine told not to rematerialise: the same random draws, which
    XLA makes differently from eager execution)."""
    from keras_gates import _autodiff

    x = rng.normal(size=(8, 6, 3)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    calls, keras_loop = [], {"on": False}
    original, choose = _autodiff.rematerialised_loop, _engine.choose

    def recorded(*args, **options):
        calls.append(keras_loop["on"])
        return original(*args, **options)

    def chosen(facts):
        plan = choose(facts)
        if keras_loop["on"]:
            return dataclasses.replace(plan, remat=False)
        return plan

    monkeypatch.setattr(_autodiff, "rematerialised_loop", recorded)
    monkeypatch.setattr(_engine, "choose", chosen)
    weights = []
    for reference in (False, True):
        keras_loop["on"] = reference
        keras.utils.set_random_seed(5)
        inputs = keras.Input((6, 3))
        layer = LAYERS[kind](4, return_gates=True, **options)
        outputs, gates = layer(inputs)
        if options.get("return_sequences"):
            outputs = outputs[:, -1]
        # Weighted by step, so that each step's gradient is its own.
        steps = keras.ops.reshape(keras.ops.linspace(0.1, 1.0, 6), (1, 6, 1))
        penalty = sum(
            keras.ops.mean(g * steps, axis=(1, 2)) for g in gates.values()
        )
        prediction = keras.layers.Dense(1)(outputs)
        prediction = prediction + 1e-2 * keras.ops.expand_dims(penalty, -1)
        model = keras.Model(inputs, prediction)
        model.compile(optimizer="sgd", loss="mse", jit_compile=True)
        if weights:
            model.set_weights(weights[0][0])
        start = model.get_weights()
        for _ in range(2):
            model.train_on_batch(x, y)
        weights.append((start, model.get_weights()))
    assert calls == [False], "the compiled step did not take the loop once"
    (start, rematerialised), (_, reference) = weights
    # The recurrent kernel moved, and moved the same way.
    assert np.abs(rematerialised[1] - start[1]).max() > 1e-4
    for a, b in zip(rematerialised, reference, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.skipif(
    BACKEND != "tensorflow", reason="XLA's loop question is TensorFlow's"
)
def test_mixed_precision_under_xla_keeps_keras_loop(rng, monkeypatch):
    """Keras casts the weights to float16 as the layer reads them, inside
    the layer's call only; the rematerialised loop's gradient recomputes
    the steps outside it, so mixed precision keeps Keras's loop (once a
    float16/float32 clash at the first training step)."""
    from keras_gates import _autodiff

    keras.config.set_dtype_policy("mixed_float16")

    def refuse(*args, **options):
        raise AssertionError("the rematerialised loop ran")

    monkeypatch.setattr(_autodiff, "rematerialised_loop", refuse)
    x = rng.normal(size=(4, 6, 3)).astype("float32")
    inputs = keras.Input((6, 3))
    layer = GatedLSTM(5, peepholes=True, return_gates=True)
    outputs, gates = layer(inputs)
    assert layer.sequence_plan(x, xla=True) == "loop; gates stepped"
    penalty = sum(keras.ops.mean(g, axis=(1, 2)) for g in gates.values())
    prediction = keras.layers.Dense(1)(outputs)
    prediction = prediction + keras.ops.expand_dims(penalty, -1)
    model = keras.Model(inputs, prediction)
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    # (Keras's loss scaling may skip the first updates: no weight check.)
    loss = model.train_on_batch(x, np.zeros((4, 1), "float32"))
    assert np.isfinite(loss)


@pytest.mark.parametrize("time", [1, 2, 5, 8, 13])
@pytest.mark.parametrize("scan", ["doubling", "associative", "reverse"])
def test_affine_scans_solve_the_cell_state_recurrence(scan, time, rng):
    """The scans behind recovered LSTM cell states, against the loop
    c_t = a_t c_(t-1) + b_t: (A, B) with c_t = A_t c_0 + B_t (from the
    last step backwards for the reverse scan of the gradient)."""
    from keras_gates.layers import gated_lstm

    solve = {
        "doubling": gated_lstm._doubling_affine_scan,
        "associative": gated_lstm._associative_affine_scan,
        "reverse": functools.partial(
            gated_lstm._doubling_affine_scan, reverse=True
        ),
    }[scan]
    a = rng.uniform(0.2, 1.2, (2, time, 3)).astype("float32")
    b = rng.normal(size=(2, time, 3)).astype("float32")
    tensors = (keras.ops.convert_to_tensor(v) for v in (a, b))
    kept, added = (to_numpy(v) for v in solve(*tensors))
    product, total = np.ones((2, 3)), np.zeros((2, 3))
    steps = range(time)
    for t in reversed(steps) if scan == "reverse" else steps:
        product, total = a[:, t] * product, a[:, t] * total + b[:, t]
        np.testing.assert_allclose(kept[:, t], product, rtol=1e-5)
        np.testing.assert_allclose(added[:, t], total, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("time", [1, 2, 5, 8])
def test_cell_states_gradient_equals_central_differences(time, rng):
    """`cell_states` and its hand-written gradient (a known length) for f,
    w and c0, against a float64 loop and its central differences, every
    step's cell state weighted differently in the loss."""
    from keras_gates import _autodiff
    from keras_gates.layers import gated_lstm

    f = rng.uniform(0.1, 1.0, (2, time, 3)).astype("float32")
    w = rng.normal(size=(2, time, 3)).astype("float32")
    c0 = rng.normal(size=(2, 3)).astype("float32")
    weights = rng.normal(size=(2, time, 3))

    def loop_loss(arrays):
        f, w, c = arrays
        total = 0.0
        for t in range(time):
            c = f[:, t] * c + w[:, t]
            total += np.sum(weights[:, t] * c)
        return total

    def loss(arrays):
        f, w, c0 = arrays
        c = gated_lstm.cell_states(f, w, c0)
        return keras.ops.sum(
            c * keras.ops.convert_to_tensor(weights, "float32")
        )

    value, grads = _autodiff.value_and_gradients(loss, [f, w, c0])
    assert value == pytest.approx(loop_loss([f, w, c0]), rel=1e-5)
    expected = numeric_gradients(loop_loss, [f, w, c0])
    for name, got, want in zip(("f", "w", "c0"), grads, expected, strict=True):
        np.testing.assert_allclose(
            got, want, rtol=1e-4, atol=1e-5, err_msg=name
        )


@pytest.mark.parametrize("policy", ["float32", "mixed_float16"])
def test_recovered_gates_take_a_bare_initial_state_of_any_dtype(policy, rng):
    """A GRU's initial state may come as one array, not a list, and in
    float32 under a float16 policy; recovery converts it as the loop does."""
    keras.config.set_dtype_policy(policy)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    state = rng.normal(size=(2, 4)).astype("float32")
    layers = twins(
        [
            GatedGRU(4, return_gates=True, recover_gates=recover)
            for recover in (True, False)
        ],
        x.shape,
    )
    (_, recovered), (_, reference) = (
        gates_of(layer, x, initial_state=state) for layer in layers
    )
    for name, value in reference.items():
        np.testing.assert_allclose(
            recovered[name].astype("float32"),
            value.astype("float32"),
            atol=1e-5 if policy == "float32" else 2e-3,
            err_msg=name,
        )


def test_gate_layout_names_blocks_and_refuses_unknown_kinds():
    from keras_gates import gate_layout

    assert gate_layout.gate_names("lstm") == (
        "input", "forget", "candidate", "output", "cell", "hidden"
    )  # fmt: skip
    assert gate_layout.gate_names("gru") == (
        "update", "reset", "candidate", "hidden"
    )  # fmt: skip
    with pytest.raises(
        ValueError, match="^kind must be 'lstm' or 'gru', got 'rnn'$"
    ):
        gate_layout.gate_names("rnn")
    packed = np.arange(2 * 3 * 8, dtype="float32").reshape(2, 3, 8)
    blocks = gate_layout.unpack(packed, "gru")
    for k, name in enumerate(gate_layout.GRU_GATES):
        np.testing.assert_array_equal(
            to_numpy(blocks[name]), packed[..., 2 * k : 2 * k + 2]
        )
