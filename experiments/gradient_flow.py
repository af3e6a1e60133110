"""The vanishing-gradient argument, measured.

    python -m experiments.gradient_flow [--length 100] [--epochs 10]

For SimpleRNN, GatedLSTM and GatedGRU (Keras's default initialisation, and
chrono for the gated ones) on the agreement task it measures the norm of
dLoss/dx_t, the gradient reaching the (embedded) input at step t, against
the distance T - t from the verb, at initialisation and after training, on
a log scale; next to it, the forget gate (LSTM) and the kept share z (GRU)
at initialisation and after training. Writes results/gradient_flow/:
results.json, summary.md, gradient_flow.png.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
from matplotlib.figure import Figure

from experiments import _report as report
from experiments._gradients import input_gradients
from experiments._runner import (
    backup_folder,
    command,
    run_plan,
)
from experiments._training import build_model, train_run
from keras_gates import extract_gates, plots
from keras_gates.tasks import make_splits

SETTINGS = [
    ("SimpleRNN", "default"),
    ("GatedLSTM", "default"),
    ("GatedLSTM", "chrono"),
    ("GatedGRU", "default"),
    ("GatedGRU", "chrono"),
]


@dataclass
class Config:
    length: int = 100
    epochs: int = 10
    units: int = 32
    train_size: int = 4000
    probe_size: int = 256
    settings: list = field(default_factory=lambda: [list(s) for s in SETTINGS])
    seed: int = 0


BINS = np.linspace(0, 1, 41)


def keep_gate(net, x) -> dict | None:
    """Forget gate (LSTM) or Keras's z (GRU) over the clause: a density
    histogram on BINS and its 5/50/95% quantiles."""
    if net.get_layer("recurrent").__class__.__name__ == "SimpleRNN":
        return None  # no gates
    gates = extract_gates(net, x).get("recurrent", {})
    name = "forget" if "forget" in gates else "update"
    if name not in gates:
        return None
    values = gates[name][:, 1:-1].ravel()
    density, _ = np.histogram(values, BINS, density=True)
    return {
        "density": density.tolist(),
        "quantiles": np.quantile(values, [0.05, 0.5, 0.95]).tolist(),
    }


def figure(results: dict, config: Config) -> Figure:
    fig = Figure(figsize=(13, 5.2), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1.5, 1])
    for i, (label, r) in enumerate(results.items()):
        distance = np.arange(len(r["init"]))[::-1]  # T+1 - t
        colour = f"C{i}"
        left.plot(distance, r["init"], color=colour, linestyle=":", alpha=0.9)
        left.plot(distance, r["trained"], color=colour, label=label)
    left.plot([], [], color="0.3", linestyle=":", label="at initialisation")
    left.plot([], [], color="0.3", label="after training")
    left.set_yscale("log")
    left.set_xlabel("distance from the verb, T - t (steps)")
    left.set_ylabel("mean ||dLoss / dx_t|| (log scale)")
    left.set_title(
        f"Gradient reaching input step t (agreement, T={config.length})"
    )
    left.grid(alpha=0.3, which="both")
    left.legend(fontsize=8, ncol=2)
    for i, (label, r) in enumerate(results.items()):
        if r.get("keep_init") is None:
            continue
        colour = f"C{i}"
        right.stairs(
            r["keep_init"]["density"], BINS, linestyle=":", color=colour
        )
        right.stairs(
            r["keep_trained"]["density"], BINS, color=colour, label=label
        )
    right.set_xlabel("forget gate f (LSTM) / kept share z (GRU, Keras)")
    right.set_ylabel("density over units, steps, sentences")
    right.set_yscale("log")
    right.set_title("The gate that keeps the state: init (dotted), trained")
    right.legend(fontsize=8)
    right.grid(alpha=0.3)
    return fig


def measure(config: Config, output: Path, data, keys, quiet: bool) -> dict:
    """One model and init: input gradients and keep-gate distribution at
    initialisation, then trained, then again."""
    model, init = keys["model"], keys["init"]
    x_probe, y_probe = data["test"]
    keras.utils.set_random_seed(config.seed)
    fresh = build_model(
        "agreement",
        model,
        units=config.units,
        init=init,
        max_timesteps=config.length,
        seed=config.seed,
    )
    at_init = input_gradients(fresh, x_probe, y_probe)
    keep_init = keep_gate(fresh, x_probe[:64])
    net, run = train_run(
        "agreement",
        model,
        data,
        config.length,
        config.epochs,
        units=config.units,
        init=init,
        seed=config.seed,
        backup_dir=backup_folder(output, keys),
        verbose=0 if quiet else "auto",
    )
    run.update(
        gradient_init=at_init.tolist(),
        gradient_trained=input_gradients(net, x_probe, y_probe).tolist(),
        keep_gate_init=keep_init,
        keep_gate_trained=keep_gate(net, x_probe[:64]),
    )
    return run


def _quantiles(keep) -> str:
    return (
        "" if keep is None else "/".join(f"{q:.2f}" for q in keep["quantiles"])
    )


def ratio_rows(runs) -> list[dict]:
    """Per model: the gradient at the subject over the one at the last
    clause step, at initialisation and trained, and the keep gate."""
    rows = []
    for run in runs:
        g0 = np.array(run["gradient_init"])
        g1 = np.array(run["gradient_trained"])
        rows.append(
            {
                "model": run["model"],
                "init": run["init"],
                "test accuracy": run["value"],
                "init: subject / last clause step": float(g0[0] / g0[-2]),
                "trained: subject / last clause step": float(g1[0] / g1[-2]),
                "keep gate at init (5/50/95%)": _quantiles(
                    run["keep_gate_init"]
                ),
                "keep gate trained (5/50/95%)": _quantiles(
                    run["keep_gate_trained"]
                ),
            }
        )
    return rows


def what_it_shows(rows) -> list[str]:
    """Which settings lose the subject's gradient (below 1e-3 of the last
    clause step's) at initialisation, and which keep it."""
    init = "init: subject / last clause step"
    lost = [f"{r['model']} ({r['init']})" for r in rows if r[init] < 1e-3]
    kept = [f"{r['model']} ({r['init']})" for r in rows if r[init] >= 1e-3]
    return [
        "- At initialisation the gradient reaching the subject is below "
        f"1e-3 of the last clause step's for: {', '.join(lost) or 'none'}; "
        f"it is not for: {', '.join(kept) or 'none'}.",
        "- One seed per setting: a single measurement, not an interval.",
    ]


def write_page(store, config: Config, output: Path) -> str:
    curves = {
        f"{r['model']} ({r['init']})": {
            "init": np.array(r["gradient_init"]),
            "trained": np.array(r["gradient_trained"]),
            "keep_init": r["keep_gate_init"],
            "keep_trained": r["keep_gate_trained"],
        }
        for r in store.runs
    }
    plots.save_figure(figure(curves, config), output / "gradient_flow.png")
    rows = ratio_rows(store.runs)
    lines = report.opening(
        "Gradient flow: does the gradient vanish with distance?", store.data
    )
    lines += [
        f"Config: {config}.",
        "",
        "The ratios compare the gradient reaching the subject (step 0) with "
        "the one reaching the last clause step, next to the verb; 1 means no "
        "decay, 1e-10 means the subject is out of reach.",
        "",
        report.table(rows, list(rows[0])),
        "## What this shows",
        "",
        *what_it_shows(rows),
        "",
        "![gradient flow](gradient_flow.png)",
    ]
    return report.save(output / "summary.md", lines)


def run_all(store, config, output, args):
    data = make_splits(
        "agreement",
        config.length,
        (config.train_size, 500, config.probe_size),
        seed=config.seed,
    )
    run_plan(
        store,
        [{"model": m, "init": i} for m, i in config.settings],
        lambda keys: measure(config, output, data, keys, args.quiet),
        lambda run: f"test accuracy {run['value']:.3f}",
    )


def main(argv=None):
    command(
        argv,
        Config(),
        "gradient_flow",
        __doc__.split("\n")[0],
        run_all,
        write_page,
        exclude=("settings",),
    )


if __name__ == "__main__":
    main()
