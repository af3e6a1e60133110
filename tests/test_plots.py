"""Plots are real, readable figures: titles, labels, colour bars, notes."""

import numpy as np
import pytest
from PIL import Image

from keras_gates import plots


def lstm_gates(time=30, units=8, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    gates = {
        name: rng.uniform(0, 1, (batch, time, units))
        for name in ("input", "forget", "output")
    }
    gates["candidate"] = rng.uniform(-1, 1, (batch, time, units))
    gates["cell"] = rng.normal(0, 2, (batch, time, units))
    gates["hidden"] = rng.uniform(-1, 1, (batch, time, units))
    return gates


def png(figure, tmp_path, name="f.png"):
    path = tmp_path / name
    plots.save_figure(figure, path)
    image = np.asarray(Image.open(path).convert("L"), dtype="float32")
    return path, image


def test_heatmap_has_one_labelled_row_per_gate_and_tokens(tmp_path):
    tokens = [f"w{i}" for i in range(30)]
    figure = plots.gate_heatmap(lstm_gates(), tokens=tokens, title="T")
    axes = [a for a in figure.axes if a.get_label() != "<colorbar>"]
    titles = [a.get_title(loc="left") for a in axes]
    assert titles == [
        "input gate i",
        "forget gate f",
        "candidate g",
        "output gate o",
        "cell state c",
        "hidden state h",
    ]
    assert [t.get_text() for t in axes[-1].get_xticklabels()] == tokens
    assert axes[-1].get_xlabel() == "input token"
    assert figure._suptitle.get_text() == "T"
    colorbars = [a for a in figure.axes if a.get_label() == "<colorbar>"]
    assert len(colorbars) == 6
    assert colorbars[0].get_ylim() == (0.0, 1.0)
    path, image = png(figure, tmp_path)
    assert image.shape[0] > 600 and image.shape[1] > 700
    assert image.std() > 20  # not blank


def test_heatmap_subsamples_large_inputs_with_a_visible_note():
    figure = plots.gate_heatmap(lstm_gates(time=200, units=128, batch=1))
    title = figure._suptitle.get_text()
    assert "48 most variable of 128 units" in title
    assert "blocks of 2 steps" in title
    image = figure.axes[0].get_images()[0].get_array()
    assert image.shape == (48, 100)


def test_heatmap_rejects_tokens_of_the_wrong_length():
    with pytest.raises(
        ValueError, match="tokens has 3 entries but the sequence has 30"
    ):
        plots.gate_heatmap(lstm_gates(), tokens=["a", "b", "c"])


def test_saturation_puts_each_unit_where_it_belongs(tmp_path):
    forget = np.full((1, 10, 3), 0.5)
    forget[..., 0] = 0.99  # always open
    forget[..., 1] = 0.01  # always shut
    figure = plots.saturation({"forget": forget})
    offsets = figure.axes[0].collections[0].get_offsets()
    np.testing.assert_allclose(offsets, [[0, 1], [1, 0], [0, 0]])
    assert "shut" in figure.axes[0].get_xlabel()
    assert "open" in figure.axes[0].get_ylabel()
    _, image = png(figure, tmp_path)
    assert image.std() > 10


def test_gru_figures_state_the_update_convention():
    gates = {"update": np.full((5, 2), 0.9), "reset": np.full((5, 2), 0.1)}
    figure = plots.saturation(gates)
    assert "1 - z" in figure.axes[0].get_title()


def test_evolution_tracks_the_median(tmp_path):
    history = {"forget": [np.full(100, 0.2), np.full(100, 0.6)]}
    figure = plots.gate_evolution(history, epochs=[1, 2])
    line = figure.axes[0].get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), [0.2, 0.6])
    assert figure.axes[0].get_xlabel() == "epoch"
    png(figure, tmp_path)


def test_heatmap_shows_the_most_variable_units_as_block_means():
    """Planted data: three units vary, the rest are flat; time is averaged
    in blocks of 2 (200 steps > max_time 120)."""
    rng = np.random.default_rng(1)
    time, units, planted = 200, 64, [5, 17, 40]
    values = np.full((time, units), 0.5) + rng.normal(0, 1e-3, (time, units))
    ramp = np.linspace(0.0, 1.0, time)
    for k, unit in enumerate(planted):
        values[:, unit] = np.roll(ramp, 37 * k)
    figure = plots.gate_heatmap({"forget": values}, max_units=3)
    axis = figure.axes[0]
    shown = np.asarray(axis.get_images()[0].get_array())
    expected = values[:, planted].reshape(time // 2, 2, 3).mean(axis=1).T
    np.testing.assert_allclose(shown, expected, atol=1e-9)
    labels = [t.get_text() for t in axis.get_yticklabels()]
    assert labels == ["5", "17", "40"]


def test_heatmap_block_mean_skips_masked_steps():
    values = np.arange(10.0 * 2).reshape(10, 2) / 20
    values[3, 0] = np.nan  # a masked step
    figure = plots.gate_heatmap({"input": values}, max_time=5)
    shown = np.asarray(figure.axes[0].get_images()[0].get_array())
    expected = values.reshape(5, 2, 2).mean(axis=1).T
    expected[0, 1] = values[2, 0]  # the block of steps 2 and 3
    np.testing.assert_allclose(shown, expected)


def test_metric_vs_length_draws_one_sorted_line_per_model_and_init(tmp_path):
    runs = [
        {"model": "GatedLSTM", "length": 50, "value": 0.7},
        {"model": "GatedLSTM", "length": 10, "value": 0.9},
        {"model": "GatedLSTM", "length": 10, "value": 0.95, "init": "chrono"},
        {"model": "SimpleRNN", "length": 10, "value": 0.6},
        {"model": "SimpleRNN", "length": 50, "value": 0.5},
    ]
    figure = plots.metric_vs_length(
        runs, "test accuracy", baseline={10: 0.5, 50: 0.5}, title="Adding"
    )
    axis = figure.axes[0]
    lines = {line.get_label(): line for line in axis.get_lines()}
    assert set(lines) == {
        "GatedLSTM",
        "GatedLSTM (chrono)",
        "SimpleRNN",
        "chance baseline",
    }
    np.testing.assert_array_equal(lines["GatedLSTM"].get_xdata(), [10, 50])
    np.testing.assert_array_equal(lines["GatedLSTM"].get_ydata(), [0.9, 0.7])
    np.testing.assert_array_equal(lines["SimpleRNN"].get_ydata(), [0.6, 0.5])
    assert lines["SimpleRNN"].get_linestyle() == "--"  # built-ins dashed
    assert lines["GatedLSTM"].get_linestyle() == "-"
    assert lines["chance baseline"].get_ydata().tolist() == [0.5, 0.5]
    assert axis.get_ylabel() == "test accuracy (higher is better)"
    assert axis.get_title() == "Adding"
    lower = plots.metric_vs_length(runs, "MSE", higher_is_better=False)
    assert lower.axes[0].get_yscale() == "log"
    assert "lower is better" in lower.axes[0].get_ylabel()
    _, image = png(figure, tmp_path)
    assert image.std() > 10


def test_unit_trace_follows_one_unit_coloured_by_label(tmp_path):
    gates = lstm_gates(time=12, units=6, batch=4)
    labels = [0, 1, 0, 1]
    figure = plots.unit_trace(
        gates, 3, labels, label_names={0: "singular", 1: "plural"}
    )
    titles = [a.get_ylabel() for a in figure.axes]
    assert titles == ["cell state c", "forget gate f", "input gate i"]
    names = ("cell", "forget", "input")
    for axis, name in zip(figure.axes, names, strict=True):
        drawn = [ln for ln in axis.get_lines() if len(ln.get_ydata())]
        assert len(drawn) == 4
        for row, line in enumerate(drawn):
            np.testing.assert_allclose(line.get_ydata(), gates[name][row, :, 3])
        # Sequences with the same label share a colour, others differ.
        colours = [line.get_color() for line in drawn]
        assert colours[0] == colours[2] != colours[1] == colours[3]
    legend = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert legend == ["singular", "plural"]
    _, image = png(figure, tmp_path)
    assert image.std() > 10


def test_metric_vs_length_draws_every_seed_and_their_mean():
    runs = [
        {"model": "GatedGRU", "length": 10, "value": v, "seed": s}
        for s, v in enumerate((0.6, 0.9, 0.75))
    ] + [
        {"model": "GatedGRU", "length": 50, "value": v, "seed": s}
        for s, v in enumerate((0.5, 0.5, 0.8))
    ]
    axis = plots.metric_vs_length(runs, "test accuracy").axes[0]
    (line,) = axis.get_lines()
    assert line.get_label() == "GatedGRU, mean of 3 seeds"
    np.testing.assert_allclose(line.get_ydata(), [0.75, 0.6])
    (dots,) = axis.collections
    assert sorted(map(tuple, dots.get_offsets().tolist())) == sorted(
        (r["length"], r["value"]) for r in runs
    )
