"""Where the vanishing gradient holds: the article's mechanism, mapped.

    python -m experiments.gradient_map

The article's argument: the gradient reaching step t - k is the gradient
at step t times k Jacobians, each the product of tanh' values and the
recurrent weights, so when those factors stay below 1 it vanishes
geometrically. This measures, on subject-verb agreement with the verb at
T = 400, the gradient reaching input step T - k relative to the last
step, for every k back to the subject, for a SimpleRNN whose recurrent
kernel is orthogonal times a gain (0.5, 0.9, 1.0, 1.1, 1.5) and for
GatedLSTM/GatedGRU with Keras's
and chrono initialisation, at initialisation and after training; and
next to it the factor the argument predicts per step:

- SimpleRNN: the largest singular value of the recurrent kernel times the
  root-mean-square of tanh'(a_t) over units, batch and steps (a_t the
  pre-activation), from a numpy forward pass of the layer's weights;
- GatedLSTM: the geometric mean of the forget gate (the cell's gradient
  is multiplied by f at every step); GatedGRU: of Keras's z (the share of
  the old state kept).

The measured factor per step is exp(slope) of a least-squares line
through log(ratio) against k. Writes results/gradient_map/: results.json,
summary.md, gradient_map.png, factors.png.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
from matplotlib.figure import Figure

from experiments._runner import (
    backup_folder,
    markdown_table,
    open_store,
    page_opening,
    parser,
    run_plan,
    save_page,
)
from experiments.gradient_flow import input_gradients
from keras_gates import extract_gates, plots
from keras_gates.tasks import make_splits
from keras_gates.training import build_model, train_run

# Relative gradient below which a distance counts as vanished.
VANISHED = 1e-3


@dataclass
class Config:
    length: int = 400
    epochs: int = 5
    units: int = 32
    train_size: int = 2000
    probe_size: int = 128
    gains: list = field(default_factory=lambda: [0.5, 0.9, 1.0, 1.1, 1.5])
    gated_inits: list = field(default_factory=lambda: ["default", "chrono"])
    seed: int = 0


def plan_of(config: Config) -> list[dict]:
    plan = [{"model": "SimpleRNN", "init": f"gain:{g}"} for g in config.gains]
    return plan + [
        {"model": model, "init": init}
        for model in ("GatedLSTM", "GatedGRU")
        for init in config.gated_inits
    ]


def relative(gradients: np.ndarray) -> np.ndarray:
    """||dL/dx_{T-k}|| / ||dL/dx_T|| for k = 0..T-1."""
    gradients = np.asarray(gradients, "float64")[::-1]
    return gradients / gradients[0]


def measured_factor(ratio: np.ndarray) -> float:
    """exp(slope) of log(ratio) against k, over the finite positive k."""
    k = np.arange(len(ratio))
    keep = (k > 0) & np.isfinite(ratio) & (ratio > 0)
    slope = np.polyfit(k[keep], np.log(ratio[keep]), 1)[0]
    return float(np.exp(slope))


def article_factor(net, x) -> float:
    """The per-step factor the article's argument predicts (see the module
    docstring)."""
    layer = net.get_layer("recurrent")
    if isinstance(layer, keras.layers.SimpleRNN):
        embed = keras.Model(net.inputs, layer.input)
        e = np.asarray(embed.predict(x, verbose=0), "float64")
        kernel, recurrent, bias = (
            np.asarray(w, "float64") for w in layer.get_weights()
        )
        h = np.zeros((len(e), recurrent.shape[0]))
        squares = []
        for t in range(e.shape[1]):
            h = np.tanh(e[:, t] @ kernel + h @ recurrent + bias)
            squares.append(((1.0 - h**2) ** 2).mean())
        largest = np.linalg.svd(recurrent, compute_uv=False)[0]
        return float(largest * np.sqrt(np.mean(squares)))
    gates = extract_gates(net, x)["recurrent"]
    keep = gates["forget"] if "forget" in gates else gates["update"]
    return float(np.exp(np.log(np.clip(keep, 1e-12, 1.0)).mean()))


def measure(config: Config, output: Path, data, keys, quiet) -> dict:
    x, y = data["test"]
    model, init = keys["model"], keys["init"]
    keras.utils.set_random_seed(config.seed)
    fresh = build_model(
        "agreement",
        model,
        units=config.units,
        init=init,
        max_timesteps=config.length,
        seed=config.seed,
    )
    at_init = relative(input_gradients(fresh, x, y))
    factor_init = article_factor(fresh, x)
    net, run = train_run(
        "agreement", model, data, config.length, config.epochs,
        units=config.units, init=init, seed=config.seed,
        backup_dir=backup_folder(output, keys),
        verbose=0 if quiet else "auto",
    )  # fmt: skip
    trained = relative(input_gradients(net, x, y))
    run.update(
        ratio_init=at_init.tolist(),
        ratio_trained=trained.tolist(),
        article_init=factor_init,
        article_trained=article_factor(net, x),
        measured_init=measured_factor(at_init),
        measured_trained=measured_factor(trained),
    )
    return run


def label(run) -> str:
    if run["model"] == "SimpleRNN":
        return f"SimpleRNN, gain {run['init'].split(':')[1]}"
    return f"{run['model']} ({run['init']})"


def vanishing_distance(ratio) -> str:
    below = np.nonzero(np.asarray(ratio) < VANISHED)[0]
    return str(int(below[0])) if below.size else f"> {len(ratio) - 1}"


def rows_of(runs) -> list[dict]:
    rows = []
    for run in runs:
        for stage in ("init", "trained"):
            ratio = np.asarray(run[f"ratio_{stage}"])
            rows.append({
                "setting": label(run),
                "stage": "at initialisation" if stage == "init" else (
                    "after training"),
                "article's factor": run[f"article_{stage}"],
                "measured factor": run[f"measured_{stage}"],
                "ratio at k=100": float(ratio[min(100, len(ratio) - 1)]),
                "ratio at k=T-1": float(ratio[-1]),
                f"first k below {VANISHED:g}": vanishing_distance(ratio),
                "test accuracy": run["value"] if stage == "trained" else None,
            })  # fmt: skip
    return rows


def curves_figure(runs, config: Config) -> Figure:
    figure = Figure(figsize=(13, 5.2), layout="constrained")
    left, right = figure.subplots(1, 2, sharey=True)
    for axes, chosen in (
        (left, [r for r in runs if r["model"] == "SimpleRNN"]),
        (right, [r for r in runs if r["model"] != "SimpleRNN"]),
    ):
        for i, run in enumerate(chosen):
            colour = f"C{i}"
            k = np.arange(len(run["ratio_init"]))
            axes.plot(k, run["ratio_init"], color=colour, ls=":")
            axes.plot(k, run["ratio_trained"], color=colour,
                      label=label(run))  # fmt: skip
            predicted = run["article_init"] ** k.astype("float64")
            axes.plot(k, np.clip(predicted, 1e-30, None), color=colour,
                      ls="--", lw=0.8, alpha=0.7)  # fmt: skip
        axes.plot([], [], color="0.3", ls=":", label="at initialisation")
        axes.plot([], [], color="0.3", label="after training")
        axes.plot([], [], color="0.3", ls="--", lw=0.8,
                  label="article's factor^k (at init)")  # fmt: skip
        axes.axhline(VANISHED, color="black", lw=0.6)
        axes.set_yscale("log")
        axes.set_ylim(1e-12, 1e6)
        axes.set_xlabel("distance k from the verb (steps)")
        axes.grid(alpha=0.3, which="major")
        axes.legend(fontsize=8, ncol=2, loc="lower left")
    left.set_ylabel("||dLoss/dx_{T-k}|| / ||dLoss/dx_T|| (log scale)")
    left.set_title("SimpleRNN, recurrent kernel = gain x orthogonal")
    right.set_title("Gated layers, Keras's and chrono initialisation")
    figure.suptitle(f"Gradient reaching step T - k (agreement, T = "
                    f"{config.length})")  # fmt: skip
    return figure


def factors_figure(runs) -> Figure:
    figure = Figure(figsize=(7.5, 6), layout="constrained")
    axes = figure.subplots()
    for i, run in enumerate(runs):
        for stage, marker in (("init", "o"), ("trained", "s")):
            axes.scatter(
                run[f"article_{stage}"], run[f"measured_{stage}"],
                marker=marker, s=60, color=f"C{i}",
                facecolor="none" if stage == "init" else f"C{i}",
                label=label(run) if stage == "init" else None,
            )  # fmt: skip
    reach = [0.0, 1.6]
    axes.plot(reach, reach, color="grey", lw=0.8, label="measured = predicted")
    axes.axvline(1.0, color="black", lw=0.6)
    axes.axhline(1.0, color="black", lw=0.6)
    axes.axvspan(
        0.0,
        1.0,
        color="C3",
        alpha=0.06,
        label="factor < 1: the article predicts vanishing",
    )
    axes.scatter([], [], marker="o", facecolor="none", color="0.3",
                 label="at initialisation")  # fmt: skip
    axes.scatter([], [], marker="s", color="0.3", label="after training")
    axes.set_xlim(0.0, 1.6)
    axes.set_xlabel("article's factor per step (tanh' x weights; f or z)")
    axes.set_ylabel("measured factor per step (exp of the fitted slope)")
    axes.set_title("Per-step factor: predicted against measured")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7.5, loc="upper left")
    return figure


def what_it_shows(runs) -> list[str]:
    lines = []
    for run in runs:
        for stage, words in (("init", "at initialisation"),
                             ("trained", "after training")):  # fmt: skip
            predicted = run[f"article_{stage}"]
            measured = run[f"measured_{stage}"]
            agrees = (predicted < 1) == (measured < 1)
            lines.append(
                f"- {label(run)}, {words}: predicted {predicted:.3f} per "
                f"step, measured {measured:.3f}; the gradient "
                + ("vanishes" if measured < 1 else "does not vanish")
                + (", as the argument predicts." if agrees else
                   ", against the argument's prediction.")
            )  # fmt: skip
    return lines + [
        "- One seed per setting: the factors are single measurements, not "
        "intervals.",
    ]


def write_page(store, config: Config, output: Path) -> str:
    runs = store.runs
    plots.save_figure(curves_figure(runs, config), output / "gradient_map.png")
    plots.save_figure(factors_figure(runs), output / "factors.png")
    columns = ["setting", "stage", "article's factor", "measured factor",
               "ratio at k=100", "ratio at k=T-1",
               f"first k below {VANISHED:g}", "test accuracy"]  # fmt: skip
    lines = page_opening("Where the vanishing gradient holds", store.data)
    lines += [
        __doc__.split("\n\n", 2)[2].strip(), "",
        markdown_table(rows_of(runs), columns),
        "![gradient against distance](gradient_map.png)", "",
        "![predicted against measured factor](factors.png)", "",
        "## What this shows", "", *what_it_shows(runs), "",
    ]  # fmt: skip
    return save_page(output / "summary.md", lines)


def main(argv=None):
    args = parser(Config(), __doc__.split("\n")[0],
                  "results/gradient_map").parse_args(argv)  # fmt: skip
    output = Path(args.output)
    store, config = open_store(args, Config(), "gradient_map", argv)
    if not args.report:
        data = make_splits(
            "agreement", config.length,
            (config.train_size, 200, config.probe_size), seed=config.seed,
        )  # fmt: skip
        run_plan(
            store,
            plan_of(config),
            lambda keys: measure(config, output, data, keys, args.quiet),
            lambda run: (
                f"factor {run['measured_init']:.3f} -> "
                f"{run['measured_trained']:.3f}"
            ),
        )
    print(write_page(store, config, output))


if __name__ == "__main__":
    main()
