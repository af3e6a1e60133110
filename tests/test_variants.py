"""Greff et al.'s LSTM variants and the minimal gated unit, against numpy
references of their equations (`tests/reference.py`), on every backend.

The block order of each variant's weights is written out here, from the
documented layout, not read from `gate_layout`.
"""

import keras
import numpy as np
import pytest

from keras_gates import (
    Chrono,
    GatedGRU,
    GatedGRUCell,
    GatedLSTM,
    convert,
    extract_gates,
    gate_layout,
)
from keras_gates.engine import keras_bridge
from tests import reference
from tests.helpers import (
    check_layer,
    numeric_gradients,
    numpy_weighted_sum,
    to_numpy,
    value_and_gradients,
)

BACKEND = keras.backend.backend()
FEATURES, UNITS, BATCH, TIME = 3, 3, 2, 4
LSTM_BLOCKS = {
    "standard": ("input", "forget", "candidate", "output"),
    "nig": ("forget", "candidate", "output"),
    "nfg": ("input", "candidate", "output"),
    "nog": ("input", "forget", "candidate"),
    "niaf": ("input", "forget", "candidate", "output"),
    "noaf": ("input", "forget", "candidate", "output"),
    "cifg": ("input", "candidate", "output"),
    "fgr": ("input", "forget", "candidate", "output"),
}
VARIANT_CASES = [
    (variant, peepholes)
    for variant in LSTM_BLOCKS
    for peepholes in (False, True)
    if (variant, peepholes) != ("standard", False)
]
CASE_IDS = [f"{v}{'-peepholes' if p else ''}" for v, p in VARIANT_CASES]


def inputs():
    rng = np.random.default_rng(7)
    return rng.normal(0, 1, (BATCH, TIME, FEATURES)).astype("float32")


def randomise(layer, seed=3):
    """Every weight random (peepholes and gate kernel start at zero)."""
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [rng.normal(0, 0.5, w.shape).astype("float32") for w in layer.weights]
    )


def lstm_reference(variant, peepholes, weights, x):
    """(gates, (h, c)) of `reference.lstm_variant` for the layer's weights
    in their documented order: kernel, recurrent kernel, bias, then one
    peephole per computed sigmoid gate (i, f, o order) and fgr's gate
    kernel."""
    weights = [np.asarray(w, "float64") for w in weights]
    blocks = LSTM_BLOCKS[variant]

    def named(matrix):
        return dict(zip(blocks, np.split(matrix, len(blocks), -1), strict=True))

    W, R, b = named(weights[0]), named(weights[1]), named(weights[2])
    rest = weights[3:]
    peephole = None
    if peepholes:
        sigmoid_gates = [
            g for g in ("input", "forget", "output") if g in blocks
        ]
        peephole = {gate: rest.pop(0) for gate in sigmoid_gates}
    gate_R = rest.pop(0) if variant == "fgr" else None
    return reference.lstm_variant(x, W, R, b, variant, peephole, gate_R)


def make_lstm(variant, peepholes, **kwargs):
    layer = GatedLSTM(
        UNITS,
        variant=variant,
        peepholes=peepholes,
        return_gates=True,
        return_sequences=True,
        **kwargs,
    )
    layer.build((BATCH, TIME, FEATURES))
    randomise(layer)
    return layer


@pytest.mark.parametrize("variant, peepholes", VARIANT_CASES, ids=CASE_IDS)
def test_lstm_variant_matches_its_equations(variant, peepholes):
    x = inputs()
    layer = make_lstm(variant, peepholes, return_state=True)
    outputs, h, c, *extra, gates = layer(x)
    expected, (h_ref, c_ref) = lstm_reference(
        variant, peepholes, layer.get_weights(), x
    )
    for name, value in expected.items():
        np.testing.assert_allclose(
            to_numpy(gates[name]), value, atol=1e-5, err_msg=name
        )
    np.testing.assert_allclose(to_numpy(outputs), expected["hidden"], atol=1e-5)
    np.testing.assert_allclose(to_numpy(h), h_ref, atol=1e-5)
    np.testing.assert_allclose(to_numpy(c), c_ref, atol=1e-5)
    if variant == "fgr":
        last = np.concatenate(
            [expected[g][:, -1] for g in ("input", "forget", "output")], -1
        )
        np.testing.assert_allclose(to_numpy(extra[0]), last, atol=1e-5)
    else:
        assert extra == []


@pytest.mark.parametrize("variant, peepholes", VARIANT_CASES, ids=CASE_IDS)
def test_lstm_variant_gradients_match_finite_differences(variant, peepholes):
    x = inputs()
    layer = make_lstm(variant, peepholes)
    _, grads = value_and_gradients(layer, x)

    def loss(arrays):
        gates, _ = lstm_reference(variant, peepholes, arrays[1:], arrays[0])
        # The layer's outputs, flattened: the sequence, then the gates by
        # sorted name.
        return numpy_weighted_sum(
            [gates["hidden"]] + [gates[name] for name in sorted(gates)]
        )

    expected = numeric_gradients(loss, [x] + layer.get_weights())
    assert len(grads) == len(expected)
    for got, want in zip(grads, expected, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("variant, peepholes", VARIANT_CASES, ids=CASE_IDS)
def test_lstm_variant_recurrence_rebuilt_from_its_gates(variant, peepholes):
    layer = make_lstm(variant, peepholes)
    _, gates = layer(inputs())
    g = {
        name: to_numpy(value).astype("float64") for name, value in gates.items()
    }
    c = np.zeros((BATCH, UNITS))
    for t in range(TIME):
        c = g["forget"][:, t] * c + g["input"][:, t] * g["candidate"][:, t]
        np.testing.assert_allclose(g["cell"][:, t], c, atol=1e-5)
    squash = g["cell"] if variant == "noaf" else np.tanh(g["cell"])
    np.testing.assert_allclose(g["hidden"], g["output"] * squash, atol=1e-5)


@pytest.mark.parametrize("peepholes", [False, True])
def test_removed_and_tied_gates_have_their_constant_values(peepholes):
    def gates(variant):
        _, out = make_lstm(variant, peepholes)(inputs())
        return {name: to_numpy(value) for name, value in out.items()}

    assert np.all(gates("nig")["input"] == 1.0)
    assert np.all(gates("nfg")["forget"] == 1.0)
    assert np.all(gates("nog")["output"] == 1.0)
    cifg = gates("cifg")
    np.testing.assert_allclose(cifg["forget"], 1.0 - cifg["input"], atol=1e-7)
    noaf = gates("noaf")
    np.testing.assert_allclose(
        noaf["hidden"], noaf["output"] * noaf["cell"], atol=1e-6
    )
    # niaf's candidate is linear: it leaves tanh's range with these weights.
    assert np.abs(gates("niaf")["candidate"]).max() > 1.0
    for variant in ("standard", "nig", "nfg", "nog", "cifg", "fgr"):
        assert np.abs(gates(variant)["candidate"]).max() < 1.0


def expected_lstm_params(variant, peepholes, features=FEATURES, units=UNITS):
    blocks = len(LSTM_BLOCKS[variant])
    count = blocks * (features * units + units * units + units)
    if peepholes:
        sigmoid_gates = {"nig": 2, "nfg": 2, "nog": 2, "cifg": 2}
        count += sigmoid_gates.get(variant, 3) * units
    if variant == "fgr":
        count += (3 * units) ** 2
    return count


@pytest.mark.parametrize(
    "variant, peepholes", [("standard", False)] + VARIANT_CASES
)
def test_lstm_parameter_counts_follow_the_equations(variant, peepholes):
    layer = GatedLSTM(7, variant=variant, peepholes=peepholes)
    layer.build((None, None, 5))
    assert layer.count_params() == expected_lstm_params(
        variant, peepholes, features=5, units=7
    )


def test_standard_count_is_the_builtins():
    builtin = keras.layers.LSTM(7)
    builtin.build((None, None, 5))
    assert builtin.count_params() == expected_lstm_params(
        "standard", False, 5, 7
    )


# -- the minimal gated unit ------------------------------------------------


def make_mgu(reset_after, **kwargs):
    layer = GatedGRU(
        UNITS,
        variant="mgu",
        reset_after=reset_after,
        return_gates=True,
        return_sequences=True,
        **kwargs,
    )
    layer.build((BATCH, TIME, FEATURES))
    randomise(layer)
    return layer


def mgu_reference(weights, x, reset_after):
    """Zhou's f is 1 - z: the layer's update-gate weights, negated."""
    kernel, recurrent, bias = (np.asarray(w, "float64") for w in weights)
    w_z, w_h = np.split(kernel, 2, -1)
    u_z, u_h = np.split(recurrent, 2, -1)
    if reset_after:
        (b_z, b_h), (rb_z, rb_h) = np.split(bias[0], 2), np.split(bias[1], 2)
    else:
        (b_z, b_h), rb_z, rb_h = np.split(bias, 2), 0.0, 0.0
    return reference.mgu(
        x, -w_z, -u_z, -b_z, w_h, u_h, b_h, -rb_z, rb_h, reset_after
    )


@pytest.mark.parametrize("reset_after", [True, False])
def test_mgu_matches_zhou_et_al(reset_after):
    x = inputs()
    layer = make_mgu(reset_after, return_state=True)
    outputs, h, gates = layer(x)
    f, hh, h_ref = mgu_reference(layer.get_weights(), x, reset_after)
    np.testing.assert_allclose(to_numpy(gates["reset"]), f, atol=1e-5)
    np.testing.assert_allclose(to_numpy(gates["update"]), 1 - f, atol=1e-5)
    np.testing.assert_allclose(to_numpy(gates["candidate"]), hh, atol=1e-5)
    np.testing.assert_allclose(to_numpy(gates["hidden"]), h_ref, atol=1e-5)
    np.testing.assert_allclose(to_numpy(outputs), h_ref, atol=1e-5)
    np.testing.assert_allclose(to_numpy(h), h_ref[:, -1], atol=1e-5)
    assert np.all(to_numpy(gates["reset"]) == 1.0 - to_numpy(gates["update"]))


@pytest.mark.parametrize("reset_after", [True, False])
def test_mgu_gradients_match_finite_differences(reset_after):
    x = inputs()
    layer = make_mgu(reset_after)
    _, grads = value_and_gradients(layer, x)

    def loss(arrays):
        f, hh, h = mgu_reference(arrays[1:], arrays[0], reset_after)
        gates = {"candidate": hh, "hidden": h, "reset": f, "update": 1 - f}
        return numpy_weighted_sum([h] + [gates[k] for k in sorted(gates)])

    expected = numeric_gradients(loss, [x] + layer.get_weights())
    for got, want in zip(grads, expected, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("reset_after", [True, False])
def test_mgu_parameter_count(reset_after):
    layer = GatedGRU(7, variant="mgu", reset_after=reset_after)
    layer.build((None, None, 5))
    biases = 2 if reset_after else 1
    assert layer.count_params() == 2 * (5 * 7 + 7 * 7 + biases * 7)


# -- plumbing: recovery, masks, saving, extraction, errors -------------------

RECOVERABLE = ["nig", "nfg", "nog", "niaf", "noaf", "cifg"]


@pytest.mark.parametrize("variant", RECOVERABLE + ["mgu"])
def test_recovered_gates_equal_stepped_gates_with_a_mask(variant):
    x = inputs()
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], bool)

    def gates(recover):
        if variant == "mgu":
            layer = make_mgu(True, recover_gates=recover)
        else:
            layer = make_lstm(variant, False, recover_gates=recover)
        return layer(x, mask=mask)[1]

    stepped, recovered = gates(False), gates(True)
    for name in stepped:
        np.testing.assert_allclose(
            to_numpy(recovered[name]), to_numpy(stepped[name]), atol=1e-5
        )
    assert np.isnan(to_numpy(stepped["hidden"])[1, 2:]).all()


@pytest.mark.parametrize(
    "make",
    [
        lambda: GatedLSTM(UNITS, variant="cifg", peepholes=True),
        lambda: GatedLSTM(UNITS, variant="fgr", return_state=True),
        lambda: GatedLSTM(UNITS, variant="noaf", return_gates=True),
        lambda: GatedGRU(UNITS, variant="mgu", reset_after=False),
    ],
    ids=["cifg-peepholes", "fgr-state", "noaf-gates", "mgu"],
)
def test_variants_save_reload_and_train(make, tmp_path):
    check_layer(make, inputs(), tmp_path)


def test_variants_run_the_loop_where_the_standard_cell_runs_the_kernel(
    monkeypatch,
):
    monkeypatch.setattr(keras_bridge, "accelerator", lambda like=None: True)
    x = inputs()
    standard = GatedLSTM(UNITS, return_gates=True)
    assert standard.sequence_plan(x).startswith("kernel, else")
    # On PyTorch the hand-written pass computes the variants without
    # peepholes or gate recurrence; elsewhere Keras's loop runs them.
    hand = "handwritten" if BACKEND == "torch" else "loop"
    for layer, path in (
        (GatedLSTM(UNITS, variant="cifg", return_gates=True), hand),
        (GatedLSTM(UNITS, peepholes=True, return_gates=True), "loop"),
        (GatedLSTM(UNITS, variant="fgr", return_gates=True), "loop"),
        (GatedGRU(UNITS, variant="mgu", return_gates=True), hand),
    ):
        assert layer.sequence_plan(x) == f"{path}; gates stepped"
    recovering = GatedLSTM(
        UNITS, variant="nig", return_gates=True, recover_gates=True
    )
    assert recovering.sequence_plan(x) == f"{hand}; gates recovered"


@pytest.mark.parametrize("variant", ["cifg", "fgr", "mgu"])
def test_dropout_masks_reach_a_variant(variant):
    """Training with dropout changes the outputs, inference does not (same
    weights as a layer without dropout); implementation 1 (forced by
    recurrent dropout) draws one mask per block the variant has."""
    x = inputs()
    if variant == "mgu":
        plain = make_mgu(True)
        dropped = make_mgu(True, dropout=0.3, recurrent_dropout=0.3, seed=1)
    else:
        plain = make_lstm(variant, False)
        dropped = make_lstm(
            variant, False, dropout=0.3, recurrent_dropout=0.3, seed=1
        )
    dropped.set_weights(plain.get_weights())
    expected = to_numpy(plain(x)[0])
    np.testing.assert_allclose(to_numpy(dropped(x)[0]), expected, atol=1e-6)
    trained = to_numpy(dropped(x, training=True)[0])
    assert np.abs(trained - expected).max() > 1e-3
    masks = dropped.cell.draw_dropout_masks(x[:, 0], np.zeros((BATCH, UNITS)))
    blocks = 2 if variant == "mgu" else len(LSTM_BLOCKS[variant])
    assert [len(m) for m in masks] == [blocks, blocks]


def test_gate_layout_names_each_variants_blocks():
    for variant, blocks in LSTM_BLOCKS.items():
        assert gate_layout.weight_gates("lstm", variant) == blocks
    assert gate_layout.weight_gates("lstm") == LSTM_BLOCKS["standard"]
    assert gate_layout.weight_gates("gru") == ("update", "reset", "candidate")
    assert gate_layout.weight_gates("gru", "mgu") == ("update", "candidate")
    assert gate_layout.peephole_gates("cifg") == ("input", "output")
    assert gate_layout.peephole_gates("fgr") == ("input", "forget", "output")


def test_default_config_has_no_variant_keys():
    for layer in (GatedLSTM(4), GatedGRU(4)):
        config = layer.get_config()
        assert "variant" not in config and "peepholes" not in config
    config = GatedLSTM(4, variant="nog", peepholes=True).get_config()
    assert config["variant"] == "nog" and config["peepholes"] is True
    assert GatedLSTM.from_config(config).cell.weight_gates == LSTM_BLOCKS["nog"]


@pytest.mark.parametrize("variant", ["cifg", "fgr"])
def test_extract_gates_reads_a_model_with_a_variant(variant):
    x = inputs()
    model = keras.Sequential(
        [
            keras.Input((TIME, FEATURES)),
            GatedLSTM(UNITS, variant=variant, peepholes=True, name="rnn"),
        ]
    )
    randomise(model.get_layer("rnn"))
    read = extract_gates(model, x)["rnn"]
    expected, _ = lstm_reference(variant, True, model.get_weights(), x)
    for name, value in expected.items():
        np.testing.assert_allclose(read[name], value, atol=1e-5, err_msg=name)


def test_convert_keeps_a_variant_and_its_weights():
    x = inputs()
    model = keras.Sequential(
        [
            keras.Input((TIME, FEATURES)),
            GatedGRU(UNITS, variant="mgu", name="mgu"),
            keras.layers.Dense(1),
        ]
    )
    randomise(model.get_layer("mgu"))
    copy = convert(model)
    layer = copy.get_layer("mgu")
    assert layer.variant == "mgu" and layer.cell.weight_gates == (
        "update",
        "candidate",
    )
    np.testing.assert_allclose(to_numpy(copy(x)), to_numpy(model(x)), atol=1e-6)
    f, _, _ = mgu_reference(model.get_layer("mgu").get_weights(), x, True)
    read = extract_gates(copy, x)["mgu"]
    np.testing.assert_allclose(read["reset"], f, atol=1e-5)


def test_bad_variant_arguments_are_refused_by_name():
    with pytest.raises(
        ValueError, match=r"variant must be one of .*'cifg'.* LSTM, got 'x'"
    ):
        GatedLSTM(4, variant="x")
    with pytest.raises(
        ValueError, match=r"variant must be one of .*'mgu'.*'cifg'"
    ):
        GatedGRU(4, variant="cifg")
    refusal = (
        r"^peepholes=True is for the LSTM \(they read its cell state\); a "
        "GRU has none$"
    )
    with pytest.raises(ValueError, match=refusal):
        GatedGRUCell(4, peepholes=True)
    with pytest.raises(ValueError, match="peepholes"):  # Keras's own check
        GatedGRU(4, peepholes=True)
    with pytest.raises(TypeError, match="^peepholes must be True or False"):
        GatedLSTM(4, peepholes="yes")
    refusal = (
        "^use_cudnn=True runs the built-in's fused kernel, which computes the "
        "standard cell only; got variant={}, peepholes={}: pass "
        "use_cudnn='auto' or False$"
    )
    with pytest.raises(ValueError, match=refusal.format("'nig'", False)):
        GatedLSTM(4, variant="nig", use_cudnn=True)
    with pytest.raises(ValueError, match=refusal.format("'standard'", True)):
        GatedLSTM(4, peepholes=True, use_cudnn=True)
    refusal = (
        "^recover_gates=True computes the gates from the output sequence, "
        "but with variant={}, peepholes={} a gate reads the previous step's "
        r"cell state or gates; pass recover_gates='auto' or False \(gates "
        r"stepped\)$"
    )
    for variant, peepholes in (("fgr", False), ("standard", True)):
        message = refusal.format(repr(variant), peepholes)
        with pytest.raises(ValueError, match=message):
            GatedLSTM(
                4,
                variant=variant,
                peepholes=peepholes,
                return_gates=True,
                recover_gates=True,
            )


def test_initial_biases_of_variants():
    # unit_forget_bias: the forget block at 1; cifg's input block at -1.
    bias = GatedLSTM(2, variant="nig")
    bias.build((None, None, 1))
    np.testing.assert_array_equal(to_numpy(bias.cell.bias), [1, 1, 0, 0, 0, 0])
    cifg = GatedLSTM(2, variant="cifg")
    cifg.build((None, None, 1))
    np.testing.assert_array_equal(
        to_numpy(cifg.cell.bias), [-1, -1, 0, 0, 0, 0]
    )
    nfg = GatedLSTM(2, variant="nfg")
    nfg.build((None, None, 1))
    np.testing.assert_array_equal(to_numpy(nfg.cell.bias), np.zeros(6))


def test_chrono_sets_the_blocks_a_variant_keeps():
    units, horizon = 400, 50
    for variant, gate in (("nig", "forget"), ("cifg", "input")):
        layer = GatedLSTM(
            units,
            variant=variant,
            unit_forget_bias=False,
            bias_initializer=Chrono(horizon, seed=1),
        )
        layer.build((None, None, 1))
        assert to_numpy(layer.cell.bias).shape == (3 * units,)
        blocks = dict(
            zip(
                LSTM_BLOCKS[variant],
                np.split(to_numpy(layer.cell.bias), 3),
                strict=True,
            )
        )
        memory = np.exp(np.abs(blocks[gate]))  # the drawn u ~ U[1, T - 1]
        assert memory.min() >= 1 and memory.max() <= horizon - 1
        assert memory.min() < 3 and memory.max() > horizon - 4
        # cifg: f = 1 - sigmoid(b_i) = sigmoid(log u), Chrono's forget gate.
        assert (blocks[gate] < 0).all() == (variant == "cifg")
        others = [b for g, b in blocks.items() if g != gate]
        assert all(np.all(b == 0) for b in others)
    mgu = GatedGRU(
        units, variant="mgu", bias_initializer=Chrono(horizon, "gru")
    )
    mgu.build((None, None, 1))
    rows = to_numpy(mgu.cell.bias)
    assert rows.shape == (2, 2 * units)
    update = rows[0, :units]
    assert np.exp(update).min() >= 1 and np.exp(update).max() <= horizon - 1
    assert np.all(rows[0, units:] == 0) and np.all(rows[1] == 0)
    # Cho et al.'s form: one bias row.
    single = GatedGRU(
        units,
        variant="mgu",
        reset_after=False,
        bias_initializer=Chrono(horizon, "gru"),
    )
    single.build((None, None, 1))
    row = to_numpy(single.cell.bias)
    assert row.shape == (2 * units,)
    assert np.exp(row[:units]).min() >= 1 and np.all(row[units:] == 0)


def test_other_bias_initializers_draw_the_variant_shape_directly():
    """Only Chrono is drawn for the standard layout and cut; any other
    initializer is called with the variant's own shape."""
    units = 5
    draw = keras.initializers.RandomNormal(seed=5)
    mgu = GatedGRU(units, variant="mgu", bias_initializer=draw)
    mgu.build((None, None, 2))
    expected = keras.initializers.RandomNormal(seed=5)((2, 2 * units))
    np.testing.assert_array_equal(to_numpy(mgu.cell.bias), to_numpy(expected))


@pytest.mark.parametrize(
    "variant,peepholes,names",
    [
        ("standard", True, ["input_peephole", "forget_peephole",
                            "output_peephole"]),
        ("cifg", True, ["input_peephole", "output_peephole"]),
        ("fgr", False, ["gate_kernel"]),
    ],
)  # fmt: skip
def test_peepholes_and_gate_kernel_are_recurrent_weights(
    variant, peepholes, names
):
    """Named as documented, zero at first, and regularised and constrained
    with the recurrent kernel (the docstring's promise)."""
    layer = GatedLSTM(
        UNITS,
        variant=variant,
        peepholes=peepholes,
        recurrent_regularizer=keras.regularizers.L2(0.25),
        recurrent_constraint=keras.constraints.NonNeg(),
    )
    layer.build((None, None, FEATURES))
    cell = layer.cell
    extra = [*cell.peephole_weights.values()]
    extra += [] if cell.gate_kernel is None else [cell.gate_kernel]
    assert [w.name for w in extra] == names
    for weight in extra:
        np.testing.assert_array_equal(to_numpy(weight), 0.0)
    rng = np.random.default_rng(3)
    recurrent = [cell.recurrent_kernel, *extra]
    values = [rng.normal(size=w.shape).astype("float32") for w in recurrent]
    for weight, value in zip(recurrent, values, strict=True):
        weight.assign(value)
    penalty = sum(to_numpy(loss) for loss in layer.losses)
    expected = 0.25 * sum(np.sum(np.square(v, dtype="float64")) for v in values)
    np.testing.assert_allclose(penalty, expected, rtol=1e-5)
    # A step of size zero leaves only the constraint's work: no negatives.
    keras.optimizers.SGD(0.0).apply(
        [keras.ops.zeros(w.shape) for w in extra], extra
    )
    for weight, value in zip(extra, values[1:], strict=True):
        np.testing.assert_array_equal(to_numpy(weight), np.maximum(value, 0))
