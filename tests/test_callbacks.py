"""GateRecorder and GatePlotter during a real (small) fit."""

import base64
import io
import json
import re
import zipfile

import keras
import numpy as np
import pytest
from PIL import Image

from keras_gates import (
    GatedGRU,
    GatedLSTM,
    GatePlotter,
    GateRecorder,
    extract_gates,
    load_gate_history,
    plots,
)
from keras_gates.callbacks import append_gate_arrays
from keras_gates.inspection.stats import log_statistics

RNG = np.random.default_rng(0)
X = RNG.integers(1, 12, (96, 15)).astype("int32")
Y = (X[:, 0] > 6).astype("float32")


def two_layer_model():
    model = keras.Sequential(
        [
            keras.Input((15,), dtype="int32"),
            keras.layers.Embedding(12, 6),
            GatedLSTM(8, return_sequences=True, name="first"),
            keras.layers.Bidirectional(keras.layers.GRU(4), name="bi"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile("adam", "binary_crossentropy")
    return model


@pytest.mark.slow
def test_recorder_logs_match_a_direct_extraction(tmp_path):
    model = two_layer_model()
    recorder = GateRecorder(X[:16], path=tmp_path / "gates.npz")
    history = model.fit(X, Y, epochs=2, verbose=0, callbacks=[recorder])
    expected = log_statistics(extract_gates(model, X[:16]))
    for key, value in expected.items():
        assert len(history.history[key]) == 2
        np.testing.assert_allclose(history.history[key][-1], value, atol=1e-6)
    assert "gates/bi/backward/update_right_saturated" in history.history
    saved = load_gate_history(tmp_path / "gates.npz")
    assert saved.epochs == [1, 2]
    direct = extract_gates(model, X[:16])
    np.testing.assert_allclose(
        saved.gates["first"]["forget"][-1], direct["first"]["forget"]
    )
    assert saved.gates["bi/forward"]["reset"].shape == (2, 16, 15, 4)


def test_recorder_rewrites_an_epoch_recorded_twice(tmp_path):
    model = two_layer_model()
    recorder = GateRecorder(X[:4], path=tmp_path / "g.npz")
    model.fit(X, Y, epochs=1, verbose=0, callbacks=[recorder])
    model.fit(X, Y, epochs=1, verbose=0, callbacks=[recorder])
    saved = load_gate_history(tmp_path / "g.npz")
    assert saved.epochs == [1]
    np.testing.assert_allclose(
        saved.gates["first"]["input"][0],
        extract_gates(model, X[:4])["first"]["input"],
    )


def test_recorder_every_n_batches():
    model = two_layer_model()
    recorder = GateRecorder(X[:4], every=2, batch_every=2)
    history = model.fit(
        X, Y, epochs=2, batch_size=32, verbose=0, callbacks=[recorder]
    )
    assert len(recorder.batch_history) == 2  # 3 batches per epoch: batch 2
    assert len(history.history["gates/first/forget_mean"]) == 1  # epoch 2 only


@pytest.mark.slow
def test_plotter_writes_real_pngs(tmp_path):
    model = two_layer_model()
    tokens = [str(t) for t in X[0]]
    plotter = GatePlotter(X[:8], tmp_path / "figs", tokens=tokens)
    model.fit(X, Y, epochs=2, verbose=0, callbacks=[plotter])
    names = sorted(
        p.relative_to(tmp_path / "figs").as_posix() for p in plotter.written
    )
    assert names == sorted(
        f"{layer}/{kind}"
        for layer in ("first", "bi__forward", "bi__backward")
        for kind in (
            "heatmap_epoch001.png",
            "heatmap_epoch002.png",
            "saturation_epoch001.png",
            "saturation_epoch002.png",
            "evolution.png",
        )
    )
    for path in plotter.written:
        image = Image.open(path)
        assert image.format == "PNG"
        assert image.width >= 700 and image.height >= 350
        assert np.asarray(image.convert("L"), dtype="float32").std() > 10


def page_data(path):
    """The JSON a viewer page embeds."""
    text = path.read_text()
    start = text.index("type='application/json'>") + len(
        "type='application/json'>"
    )
    return json.loads(text[start : text.index("</script>", start)])


def codes_of(data, sequence, gate):
    raw = base64.b64decode(data["sequences"][sequence]["codes"][gate])
    return np.frombuffer(raw, "uint8").reshape(data["time"], data["units"])


@pytest.mark.slow
def test_plotter_writes_viewer_pages_of_the_probes_gates(tmp_path, monkeypatch):
    heatmap_tokens = []
    draw = plots.gate_heatmap

    def recording(gates, tokens=None, **kwargs):
        heatmap_tokens.append(tokens)
        return draw(gates, tokens=tokens, **kwargs)

    monkeypatch.setattr(plots, "gate_heatmap", recording)
    model = two_layer_model()
    tokens = [[f"t{v}" for v in row] for row in X[:6]]
    # From the example on, as many as there are (5 < 8), with tokens; and
    # two without tokens (step numbers).
    plotter = GatePlotter(
        X[:6], tmp_path / "a", tokens=tokens, html=True, html_sequences=8,
        example=1,
    )  # fmt: skip
    short = GatePlotter(X[:6], tmp_path / "b", html=True, html_sequences=2)
    model.fit(X, Y, epochs=1, verbose=0, callbacks=[plotter, short])
    assert heatmap_tokens[:3] == [tokens[1]] * 3  # the example's words
    pages = sorted(p for p in plotter.written if p.suffix == ".html")
    assert [p.relative_to(tmp_path / "a").as_posix() for p in pages] == [
        f"{layer}/gates_epoch001.html"
        for layer in ("bi__backward", "bi__forward", "first")
    ]
    expected = extract_gates(model, X[:6])
    chosen = (1, 2, 3, 4, 5)
    for page in pages:
        data = page_data(page)
        layer = {"first": "first", "bi__forward": "bi/forward"}.get(
            page.parent.name, "bi/backward"
        )
        assert data["title"] == f"{layer}: gates after epoch 1"
        assert [s["name"] for s in data["sequences"]] == [
            f"probe sequence {index}" for index in chosen
        ]
        assert [s["tokens"] for s in data["sequences"]] == tokens[1:6]
        for gate, values in expected[layer].items():
            low, high = (np.array(v) for v in data["ranges"][gate])
            for position, index in enumerate(chosen):
                shown = low + codes_of(data, position, gate) / 254 * (
                    high - low
                )
                np.testing.assert_allclose(
                    shown, values[index], atol=(high - low).max() / 508 + 1e-6
                )
    data = page_data(tmp_path / "b" / "first" / "gates_epoch001.html")
    assert [s["name"] for s in data["sequences"]] == [
        "probe sequence 0",
        "probe sequence 1",
    ]
    assert data["sequences"][0]["tokens"] == [str(t) for t in range(15)]


def test_plotter_pages_show_the_example_alone_when_only_it_has_tokens(
    tmp_path,
):
    model = two_layer_model()
    tokens = [f"t{v}" for v in X[2]]
    plotter = GatePlotter(X[:4], tmp_path, tokens=tokens, html=True, example=2)
    model.fit(X[:8], Y[:8], epochs=1, verbose=0, callbacks=[plotter])
    data = page_data(tmp_path / "first" / "gates_epoch001.html")
    assert [s["name"] for s in data["sequences"]] == ["probe sequence 2"]
    assert data["sequences"][0]["tokens"] == tokens
    forget = extract_gates(model, X[:4])["first"]["forget"][2]
    np.testing.assert_allclose(
        codes_of(data, 0, "forget") / 254, forget, atol=1 / 508 + 1e-6
    )


def test_plotter_with_builtin_lstm_and_functional_model(tmp_path):
    inputs = keras.Input((15,), dtype="int32")
    x = keras.layers.Embedding(12, 6, mask_zero=True)(inputs)
    outputs = keras.layers.Dense(1)(keras.layers.LSTM(4, name="plain")(x))
    model = keras.Model(inputs, outputs)
    model.compile("adam", "mse")
    plotter = GatePlotter(X[:4], tmp_path, every=2)
    model.fit(X, Y, epochs=2, verbose=0, callbacks=[plotter])
    assert (tmp_path / "plain" / "heatmap_epoch002.png").exists()
    assert not (tmp_path / "plain" / "heatmap_epoch001.png").exists()


def test_a_failing_figure_is_reported_once_and_training_goes_on(
    tmp_path, monkeypatch
):
    from keras_gates import plots

    def broken(*args, **kwargs):
        raise RuntimeError("no ink")

    monkeypatch.setattr(plots, "saturation", broken)
    model = two_layer_model()
    folder = tmp_path / "not" / "yet"  # made, parents included
    plotter = GatePlotter(X[:4], folder)
    failed = folder / "first" / "saturation_epoch001.png"
    with pytest.warns(
        UserWarning,
        match=f"^GatePlotter could not write {re.escape(str(failed))}: "
        "RuntimeError: no ink. Training goes on; further failures are not "
        "reported.$",
    ) as caught:
        history = model.fit(X, Y, epochs=2, verbose=0, callbacks=[plotter])
    assert len([w for w in caught if "no ink" in str(w.message)]) == 1
    assert len(history.history["loss"]) == 2
    assert (folder / "first" / "heatmap_epoch002.png").exists()


class ShapeOnly:
    """Has a shape but no dtype: not an array."""

    shape = (4, 15)


@pytest.mark.parametrize(
    "make_callback,message",
    [
        (
            lambda d: GateRecorder(X[:4, :10]),
            r"^GateRecorder: probe has shape \(4, 10\)",
        ),
        (lambda d: GateRecorder(X[:4].astype("float32")), "pass integer ids"),
        (
            lambda d: GateRecorder("text"),
            r"^GateRecorder: probe must be an array \(batch, time, \.\.\.\), "
            "got str$",
        ),
        (
            lambda d: GateRecorder(ShapeOnly()),
            "^GateRecorder: probe must be an array .*got ShapeOnly$",
        ),
        (
            lambda d: GateRecorder(X[:4], path="/proc/no/such/g.npz"),
            "^GateRecorder: path's folder '/proc/no/such' cannot be written",
        ),
        (
            lambda d: GatePlotter(X[:4, :10], d),
            r"^GatePlotter: probe has shape \(4, 10\), but the model takes "
            r"inputs of shape \(None, 15\); pass a slice of the training "
            r"inputs, e\.g\. x\[:64\]$",
        ),
        (
            lambda d: GatePlotter(X[:4], d, tokens=["a"]),
            "tokens has 1 entries for the example sequence but the probe "
            "sequences have 15 timesteps; pass one token per step$",
        ),
        (
            lambda d: GatePlotter(X[:4], d, tokens=[["a"] * 15] * 3),
            "tokens has 3 lists but the probe has 4 sequences; pass one "
            "list for the example sequence or one per probe sequence$",
        ),
        (
            lambda d: GatePlotter(
                X[:4], d, tokens=[["a"] * 15] * 3 + [["a"] * 14]
            ),
            "tokens has 14 entries for probe sequence 3 but the probe "
            "sequences have 15",
        ),
        (
            lambda d: GatePlotter(X[:4], d, html="yes"),
            "^html must be True or False, got 'yes'",
        ),
        (
            lambda d: GatePlotter(X[:4], d, html_sequences=0),
            "^html_sequences must be a positive integer, got 0",
        ),
        (
            lambda d: GatePlotter(X[:4], d, example=4),
            r"example must be in \[0, 4\) for a probe of 4 sequences, got 4",
        ),
        (
            lambda d: GatePlotter(X[:4], "/proc/no/such/place"),
            "^GatePlotter: directory '/proc/no/such/place' cannot be written "
            r"\(.+\); pass a folder you can write to$",
        ),
        (  # a folder that exists and that nobody, root included, writes to
            lambda d: GatePlotter(X[:4], "/proc"),
            "^GatePlotter: directory '/proc' cannot be written",
        ),
        (
            lambda d: GatePlotter(X[:4], d, every=0),
            "^every must be a positive integer, got 0",
        ),
    ],
)
def test_bad_input_fails_before_the_first_batch(
    tmp_path, make_callback, message
):
    model = two_layer_model()
    seen = []

    class Spy(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(batch)

    with pytest.raises((ValueError, TypeError), match=message):
        model.fit(
            X,
            Y,
            epochs=1,
            verbose=0,
            callbacks=[make_callback(tmp_path), Spy()],
        )
    assert seen == []


def test_model_without_recurrent_layer_is_refused_at_train_begin():
    model = keras.Sequential([keras.Input((15,)), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    with pytest.raises(ValueError, match="has no LSTM or GRU layer"):
        model.fit(
            X.astype("float32"),
            Y,
            epochs=1,
            verbose=0,
            callbacks=[GateRecorder(X[:4].astype("float32"))],
        )


def test_a_probe_that_is_not_numbers_is_refused_by_a_float_model():
    model = keras.Sequential(
        [keras.Input((15, 1)), GatedGRU(3, name="g"), keras.layers.Dense(1)]
    )
    model.compile("adam", "mse")
    with pytest.raises(
        ValueError,
        match="^GateRecorder: probe has dtype <U1, the model takes float32$",
    ):
        model.fit(
            X[..., None].astype("float32"),
            Y,
            epochs=1,
            verbose=0,
            callbacks=[GateRecorder(np.full((4, 15, 1), "a"))],
        )


def test_a_bool_probe_is_cast_for_a_float_model_as_fit_casts_it(tmp_path):
    """keras-io's addition example feeds one-hot bool arrays, which `fit`
    casts to the model's float inputs; the callbacks take them too, and
    record the gates of the probe as 0.0/1.0 floats."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((15, 2)), GatedGRU(3, name="g"), keras.layers.Dense(1)]
    )
    model.compile("adam", "mse")
    one_hot = np.eye(2, dtype=bool)[(X > 6).astype(int)]
    recorder = GateRecorder(one_hot[:4], path=tmp_path / "g.npz")
    history = model.fit(one_hot, Y, epochs=1, verbose=0, callbacks=[recorder])
    floats = one_hot[:4].astype("float32")
    expected = extract_gates(model, floats)["g"]["update"]
    recorded = load_gate_history(tmp_path / "g.npz").gates["g"]["update"]
    np.testing.assert_allclose(recorded[-1], expected, atol=1e-6)
    logged = history.history["gates/g/update_mean"][-1]
    np.testing.assert_allclose(logged, np.nanmean(expected), atol=1e-6)


def test_callbacks_on_one_probe_share_each_read(tmp_path, monkeypatch):
    from keras_gates import callbacks

    reads = []
    make_extractor = callbacks._extractor

    def counting(model):
        extractor = make_extractor(model)

        def read(probe):
            reads.append(len(probe))
            return extractor(probe)

        return read

    monkeypatch.setattr(callbacks, "_extractor", counting)
    model = two_layer_model()
    model.fit(
        X,
        Y,
        epochs=1,
        verbose=0,
        callbacks=[GateRecorder(X[:4]), GatePlotter(X[:4], tmp_path)],
    )
    assert reads == [4, 4]  # at train begin, then at the epoch's end


def test_callbacks_on_other_probes_record_their_own_gates(tmp_path):
    model = two_layer_model()
    probes = {"a.npz": X[:4], "b.npz": X[4:8]}  # same shape and dtype
    recorders = [GateRecorder(p, path=tmp_path / n) for n, p in probes.items()]
    model.fit(X, Y, epochs=1, verbose=0, callbacks=recorders)
    for name, probe in probes.items():
        np.testing.assert_allclose(
            load_gate_history(tmp_path / name).gates["first"]["input"][0],
            extract_gates(model, probe)["first"]["input"],
            atol=1e-6,
        )


def test_plotter_off_tensorflow_warns_and_writes_only_the_pngs(
    tmp_path, monkeypatch
):
    if keras.backend.backend() == "tensorflow":  # as the other backends
        monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    model = keras.Sequential(
        [keras.Input((15, 1)), GatedGRU(3, name="g"), keras.layers.Dense(1)]
    )
    model.compile("adam", "mse")
    x = X[..., None].astype("float32") / 12
    folder = tmp_path / "figs"
    plotter = GatePlotter(x[:4], folder, tensorboard_dir=tmp_path / "tb")
    with pytest.warns(
        UserWarning,
        match=r"^GatePlotter: tensorboard_dir needs the TensorFlow backend "
        rf"\(this is {keras.backend.backend()}\); the figures are written "
        f"to {re.escape(repr(str(folder)))} only$",
    ):
        model.fit(x, Y, epochs=1, verbose=0, callbacks=[plotter])
    assert not (tmp_path / "tb").exists()
    assert (folder / "g" / "heatmap_epoch001.png").exists()


def test_gru_model_records_update_gate(tmp_path):
    model = keras.Sequential(
        [keras.Input((15, 1)), GatedGRU(3, name="g"), keras.layers.Dense(1)]
    )
    model.compile("adam", "mse")
    x = X[..., None].astype("float32") / 12
    history = model.fit(
        x, Y, epochs=1, verbose=0, callbacks=[GateRecorder(x[:4])]
    )
    assert 0.0 < history.history["gates/g/update_mean"][0] < 1.0


def test_plotter_sends_every_figure_to_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )

    model = keras.Sequential(
        [keras.Input((15, 1)), GatedGRU(3, name="g"), keras.layers.Dense(1)]
    )
    model.compile("adam", "mse")
    x = X[..., None].astype("float32") / 12
    plotter = GatePlotter(
        x[:4], tmp_path / "figs", tensorboard_dir=tmp_path / "tb"
    )
    model.fit(x, Y, epochs=2, verbose=0, callbacks=[plotter])
    events = EventAccumulator(str(tmp_path / "tb"), {"tensors": 0})
    events.Reload()
    # TF2's tf.summary.image stores [width, height, png] string tensors.
    assert sorted(events.Tags()["tensors"]) == [
        "g/evolution",
        "g/heatmap",
        "g/saturation",
    ]
    assert [e.step for e in events.Tensors("g/heatmap")] == [0, 1]
    assert [e.step for e in events.Tensors("g/evolution")] == [1]
    for event in events.Tensors("g/saturation"):
        width, height, encoded = event.tensor_proto.string_val
        image = Image.open(io.BytesIO(encoded))
        assert image.format == "PNG" and image.width == int(width) > 300
        assert image.height == int(height)
        assert np.asarray(image.convert("L"), dtype="float32").std() > 10


def test_recorder_batch_records_are_numbered_and_reach_later_callbacks():
    model = two_layer_model()
    seen = []

    class Spy(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append((batch, "gates/first/forget_mean" in logs))

    recorder = GateRecorder(X[:4], batch_every=2)
    model.fit(
        X, Y, epochs=2, batch_size=32, verbose=0, callbacks=[recorder, Spy()]
    )
    # 3 batches an epoch: the second of each, numbered from 1 as Keras prints.
    assert [(r["epoch"], r["batch"]) for r in recorder.batch_history] == [
        (1, 2),
        (2, 2),
    ]
    assert seen == [(0, False), (1, True), (2, False)] * 2
    every_third = GateRecorder(X[:4], batch_every=3)
    model.fit(X, Y, epochs=1, batch_size=32, verbose=0, callbacks=[every_third])
    assert [r["batch"] for r in every_third.batch_history] == [3]
    assert 0 < recorder.batch_history[-1]["gates/first/forget_mean"] < 1


def test_recorder_every_third_epoch_and_its_npz(tmp_path):
    model = two_layer_model()
    path = tmp_path / "g.npz"
    recorder = GateRecorder(X[:4], every=3, path=path)
    history = model.fit(X, Y, epochs=6, verbose=0, callbacks=[recorder])
    logged = history.history["gates/first/input_mean"]
    assert len(logged) == 2  # epochs 3 and 6 only
    saved = load_gate_history(path)
    assert saved.epochs == [3, 6]
    np.testing.assert_allclose(
        np.nanmean(saved.gates["first"]["input"], axis=(1, 2, 3)), logged,
        rtol=1e-5,
    )  # fmt: skip
    with zipfile.ZipFile(path) as archive:
        assert {i.compress_type for i in archive.infolist()} == {
            zipfile.ZIP_DEFLATED
        }
    # Recording epoch 3 again replaces it and keeps epoch 6 as it was.
    before = saved.gates["first"]["forget"][1]
    epoch_3 = {
        layer: {gate: values[0] for gate, values in layer_gates.items()}
        for layer, layer_gates in saved.gates.items()
    }
    epoch_3["first"]["forget"] = np.zeros_like(epoch_3["first"]["forget"])
    append_gate_arrays(path, 3, epoch_3)
    again = load_gate_history(path)
    assert again.epochs == [3, 6]
    np.testing.assert_array_equal(again.gates["first"]["forget"][1], before)
    np.testing.assert_array_equal(again.gates["first"]["forget"][0], 0.0)
    with zipfile.ZipFile(path) as archive:
        assert {i.compress_type for i in archive.infolist()} == {
            zipfile.ZIP_DEFLATED
        }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.npz"]


def test_plotter_draws_what_it_is_given(tmp_path, monkeypatch):
    """Tokens, the example, titles and epoch numbers reach the figures."""
    from keras_gates import plots

    calls = []

    def spy(name):
        original = getattr(plots, name)

        def record(*args, **kwargs):
            calls.append((name, kwargs))
            return original(*args, **kwargs)

        monkeypatch.setattr(plots, name, record)

    for name in ("gate_heatmap", "saturation", "gate_evolution"):
        spy(name)
    model = keras.Sequential(
        [keras.Input((15,), dtype="int32"), keras.layers.Embedding(12, 3),
         GatedLSTM(4, name="g"), keras.layers.Dense(1)]
    )  # fmt: skip
    model.compile("adam", "mse")
    tokens = [f"t{i}" for i in range(15)]
    plotter = GatePlotter(X[:4], tmp_path, tokens=tokens, every=3, example=3)
    model.fit(X, Y, epochs=6, verbose=0, callbacks=[plotter])
    heatmaps = [kw for name, kw in calls if name == "gate_heatmap"]
    assert [kw["title"] for kw in heatmaps] == [
        "g: gates on probe sequence 3, after epoch 3",
        "g: gates on probe sequence 3, after epoch 6",
    ]
    assert all(kw["tokens"] == tokens and kw["example"] == 3 for kw in heatmaps)
    saturations = [kw["title"] for name, kw in calls if name == "saturation"]
    assert saturations == [
        "g: saturation after epoch 3",
        "g: saturation after epoch 6",
    ]
    (evolution,) = [kw for name, kw in calls if name == "gate_evolution"]
    assert evolution["epochs"] == [3, 6]
    assert evolution["title"] == "g: gate distributions over training"
    assert sorted(p.name for p in (tmp_path / "g").iterdir()) == [
        "evolution.png", "heatmap_epoch003.png", "heatmap_epoch006.png",
        "saturation_epoch003.png", "saturation_epoch006.png",
    ]  # fmt: skip


def test_plotter_keeps_a_fixed_sample_for_the_evolution(tmp_path, monkeypatch):
    monkeypatch.setattr(GatePlotter, "evolution_sample", 50)
    model = two_layer_model()
    plotter = GatePlotter(X[:4], tmp_path)
    assert plotter.example == 0 and plotter.html_sequences == 8  # defaults
    model.fit(X, Y, epochs=2, verbose=0, callbacks=[plotter])
    gates = extract_gates(model, X[:4])["first"]
    for gate, samples in plotter._samples["first"].items():
        assert [s.shape for s in samples] == [(50,), (50,)]
        values = np.asarray(gates[gate], "float32").ravel()
        assert np.isin(samples[-1], values).all()  # drawn from the gates
        # Without replacement: no value more often than among the gates.
        kept, kept_counts = np.unique(samples[-1], return_counts=True)
        full, full_counts = np.unique(values, return_counts=True)
        assert (kept_counts <= full_counts[np.searchsorted(full, kept)]).all()
    # The same positions every time: epochs compare like with like.
    again = GatePlotter(X[:4], tmp_path)
    again._keep_sample("first", gates)
    again._keep_sample("first", gates)
    first, second = again._samples["first"]["forget"]
    np.testing.assert_array_equal(first, second)
    # At or below the limit every value is kept.
    monkeypatch.setattr(GatePlotter, "evolution_sample", 4 * 15 * 8)
    plotter = GatePlotter(X[:4], tmp_path)
    model.fit(X, Y, epochs=1, verbose=0, callbacks=[plotter])
    kept = plotter._samples["first"]["input"][0]
    np.testing.assert_array_equal(
        kept, np.asarray(extract_gates(model, X[:4])["first"]["input"]).ravel()
    )


def test_recorder_arguments_are_named():
    with pytest.raises(ValueError, match="^every must be a positive integer"):
        GateRecorder(X[:4], every=0)
    with pytest.raises(ValueError, match="^batch_every must be a positive"):
        GateRecorder(X[:4], batch_every=0)


def test_a_failed_write_keeps_the_old_file_and_no_temporary(
    tmp_path, monkeypatch
):
    path = tmp_path / "g.npz"
    append_gate_arrays(path, 1, {"l": {"input": np.ones((2, 3, 4))}})
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        append_gate_arrays(path, 2, {"l": {"input": np.ones((2, 3, 4))}})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.npz"]


def test_gate_archives_are_compressed(tmp_path):
    path = tmp_path / "gates.npz"
    append_gate_arrays(path, 1, {"l": {"input": np.zeros((4, 50, 8))}})
    append_gate_arrays(path, 2, {"l": {"input": np.zeros((4, 50, 8))}})
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
    assert len(members) == 2
    for member in members:
        assert member.compress_type == zipfile.ZIP_DEFLATED, member.filename
        assert member.compress_size < member.file_size / 10
