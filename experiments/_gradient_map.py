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
through log(ratio) against k. Each setting runs once per seed (`--seeds
N`: seeds seed..seed+N-1 change the initial weights and the data order,
on one data set); tables give the mean factor and its 95% t-interval, and
a verdict says the gradient vanishes only when the interval lies below 1.
Writes results/gradient_map/: results.json, summary.md, gradient_map.png,
factors.png.
"""

# Shared code: `experiments/gradient_map.py` is the command; other
# experiments that run these sweeps (claims and others) import this module.

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
from matplotlib.figure import Figure

from experiments import _report as report
from experiments._gradients import input_gradients
from experiments._intervals import METHOD, Interval, interval
from experiments._runner import (
    backup_folder,
    open_store,
    parser,
    run_plan,
)
from experiments._training import build_model, train_run
from keras_gates import extract_gates, plots
from keras_gates.tasks import make_splits

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
    seeds: int = 1


def plan_of(config: Config) -> list[dict]:
    """Every setting, seed by seed."""
    settings = [("SimpleRNN", f"gain:{g}") for g in config.gains] + [
        (model, init)
        for model in ("GatedLSTM", "GatedGRU")
        for init in config.gated_inits
    ]
    return [
        {"model": model, "init": init, "seed": seed}
        for seed in range(config.seed, config.seed + config.seeds)
        for model, init in settings
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


def probe_data(config: Config) -> dict:
    """The agreement data every setting and seed trains and is probed on."""
    return make_splits(
        "agreement",
        config.length,
        (config.train_size, 200, config.probe_size),
        seed=config.seed,
    )


def measure(config: Config, output: Path, data, keys, quiet) -> dict:
    x, y = data["test"]
    model, init, seed = keys["model"], keys["init"], keys["seed"]
    keras.utils.set_random_seed(seed)
    fresh = build_model(
        "agreement",
        model,
        units=config.units,
        init=init,
        max_timesteps=config.length,
        seed=seed,
    )
    at_init = relative(input_gradients(fresh, x, y))
    factor_init = article_factor(fresh, x)
    net, run = train_run(
        "agreement",
        model,
        data,
        config.length,
        config.epochs,
        units=config.units,
        init=init,
        seed=seed,
        backup_dir=backup_folder(output, keys),
        verbose=0 if quiet else "auto",
    )
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


def by_setting(runs) -> dict:
    """{label: the setting's runs, one per seed}, in the order run."""
    found: dict = {}
    for run in runs:
        found.setdefault(label(run), []).append(run)
    return found


def mean_curve(mine, stage: str) -> np.ndarray:
    """The geometric mean over seeds of the ratio curves."""
    curves = np.log(np.asarray([r[f"ratio_{stage}"] for r in mine], "float64"))
    return np.exp(curves.mean(axis=0))


def factor_verdict(found: Interval) -> str:
    """ "vanishes" / "grows" when the interval lies below / above 1."""
    if found.low is None:
        return "vanishes (1 seed)" if found.mean < 1 else "grows (1 seed)"
    if found.high < 1.0:
        return "vanishes"
    if found.low > 1.0:
        return "grows"
    return f"not resolved at {found.n} seeds"


def rows_of(runs) -> list[dict]:
    rows = []
    for name, mine in by_setting(runs).items():
        for stage in ("init", "trained"):
            ratio = mean_curve(mine, stage)
            measured = interval([r[f"measured_{stage}"] for r in mine])
            rows.append(
                {
                    "setting": name,
                    "stage": "at initialisation"
                    if stage == "init"
                    else ("after training"),
                    "seeds": measured.n,
                    "article's factor": interval(
                        [r[f"article_{stage}"] for r in mine]
                    ).text(3),
                    "measured factor": measured.text(3),
                    "gradient": factor_verdict(measured),
                    "ratio at k=100": float(ratio[min(100, len(ratio) - 1)]),
                    "ratio at k=T-1": float(ratio[-1]),
                    f"first k below {VANISHED:g}": vanishing_distance(ratio),
                    "test accuracy": float(np.mean([r["value"] for r in mine]))
                    if stage == "trained"
                    else None,
                }
            )
    return rows


def curves_figure(runs, config: Config) -> Figure:
    figure = Figure(figsize=(13, 5.2), layout="constrained")
    left, right = figure.subplots(1, 2, sharey=True)
    settings = by_setting(runs)
    seeds = max(len(mine) for mine in settings.values())
    for axes, names in (
        (left, [n for n in settings if n.startswith("SimpleRNN")]),
        (right, [n for n in settings if not n.startswith("SimpleRNN")]),
    ):
        for i, name in enumerate(names):
            mine, colour = settings[name], f"C{i}"
            k = np.arange(len(mine[0]["ratio_init"]))
            axes.plot(k, mean_curve(mine, "init"), color=colour, ls=":")
            axes.plot(k, mean_curve(mine, "trained"), color=colour, label=name)
            if len(mine) > 1:
                for run in mine:
                    axes.plot(
                        k,
                        run["ratio_trained"],
                        color=colour,
                        lw=0.6,
                        alpha=0.25,
                    )
            factor = float(np.mean([r["article_init"] for r in mine]))
            predicted = factor ** k.astype("float64")
            axes.plot(
                k,
                np.clip(predicted, 1e-30, None),
                color=colour,
                ls="--",
                lw=0.8,
                alpha=0.7,
            )
        axes.plot([], [], color="0.3", ls=":", label="at initialisation")
        axes.plot([], [], color="0.3", label="after training")
        axes.plot(
            [],
            [],
            color="0.3",
            ls="--",
            lw=0.8,
            label="article's factor^k (at init)",
        )
        axes.axhline(VANISHED, color="black", lw=0.6)
        axes.set_yscale("log")
        axes.set_ylim(1e-12, 1e6)
        axes.set_xlabel("distance k from the verb (steps)")
        axes.grid(alpha=0.3, which="major")
        axes.legend(fontsize=8, ncol=2, loc="lower left")
    left.set_ylabel("||dLoss/dx_{T-k}|| / ||dLoss/dx_T|| (log scale)")
    left.set_title("SimpleRNN, recurrent kernel = gain x orthogonal")
    right.set_title("Gated layers, Keras's and chrono initialisation")
    what = (
        "one seed"
        if seeds == 1
        else (
            f"geometric mean of {seeds} seeds; faint: each seed after training"
        )
    )
    figure.suptitle(
        f"Gradient reaching step T - k (agreement, T = {config.length}; {what})"
    )
    return figure


def factors_figure(runs) -> Figure:
    figure = Figure(figsize=(7.5, 6), layout="constrained")
    axes = figure.subplots()
    for i, (name, mine) in enumerate(by_setting(runs).items()):
        for stage, marker in (("init", "o"), ("trained", "s")):
            xs = [r[f"article_{stage}"] for r in mine]
            ys = [r[f"measured_{stage}"] for r in mine]
            axes.scatter(
                np.mean(xs),
                np.mean(ys),
                marker=marker,
                s=60,
                color=f"C{i}",
                facecolor="none" if stage == "init" else f"C{i}",
                label=name if stage == "init" else None,
            )
            if len(mine) > 1:
                axes.scatter(
                    xs, ys, marker=marker, s=10, color=f"C{i}", alpha=0.35
                )
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
    axes.scatter(
        [],
        [],
        marker="o",
        facecolor="none",
        color="0.3",
        label="at initialisation (mean)",
    )
    axes.scatter([], [], marker="s", color="0.3", label="after training (mean)")
    axes.scatter(
        [], [], marker="s", s=10, color="0.3", alpha=0.35, label="one seed"
    )
    axes.set_xlim(0.0, 1.6)
    axes.set_xlabel("article's factor per step (tanh' x weights; f or z)")
    axes.set_ylabel("measured factor per step (exp of the fitted slope)")
    axes.set_title("Per-step factor: predicted against measured")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7.5, loc="upper left")
    return figure


def what_it_shows(runs) -> list[str]:
    lines = []
    for name, mine in by_setting(runs).items():
        for stage, words in (
            ("init", "at initialisation"),
            ("trained", "after training"),
        ):
            predicted = interval([r[f"article_{stage}"] for r in mine])
            measured = interval([r[f"measured_{stage}"] for r in mine])
            said, found = factor_verdict(predicted), factor_verdict(measured)
            if "not resolved" in said + found:
                outcome = "; not both resolved."
            elif said.split()[0] == found.split()[0]:
                outcome = "; they agree."
            else:
                outcome = "; they disagree."
            lines.append(
                f"- {name}, {words}: predicted {predicted.text(3)} per "
                f"step ({said}), measured {measured.text(3)} ({found})"
                + outcome
            )
    seeds = max(len(mine) for mine in by_setting(runs).values())
    return lines + [
        f"- {seeds} seed{'s' if seeds > 1 else ''} per setting; {METHOD}. "
        "A gradient vanishes (grows) when the interval of the measured "
        "factor lies below (above) 1."
    ]


def write_page(store, config: Config, output: Path) -> str:
    runs = store.runs
    plots.save_figure(curves_figure(runs, config), output / "gradient_map.png")
    plots.save_figure(factors_figure(runs), output / "factors.png")
    columns = [
        "setting",
        "stage",
        "seeds",
        "article's factor",
        "measured factor",
        "gradient",
        "ratio at k=100",
        "ratio at k=T-1",
        f"first k below {VANISHED:g}",
        "test accuracy",
    ]
    lines = report.opening("Where the vanishing gradient holds", store.data)
    lines += [
        __doc__.split("\n\n", 2)[2].strip(),
        "",
        report.table(rows_of(runs), columns),
        "![gradient against distance](gradient_map.png)",
        "",
        "![predicted against measured factor](factors.png)",
        "",
        "## What this shows",
        "",
        *what_it_shows(runs),
        "",
    ]
    return report.save(output / "summary.md", lines)


def main(argv=None):
    args = parser(
        Config(), __doc__.split("\n")[0], "results/gradient_map"
    ).parse_args(argv)
    output = Path(args.output)
    store, config = open_store(args, Config(), "gradient_map", argv)
    if not args.report:
        data = probe_data(config)
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
