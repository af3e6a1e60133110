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
