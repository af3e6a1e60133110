"""Chrono against the standard LSTM on the copy task, in Tallec & Ollivier's
setting as far as a CPU allows.

    python -m experiments.chrono_copy              # 3 seeds, 1000 iterations
    python -m experiments.chrono_copy --iterations 200 --seeds 1

Tallec & Ollivier (2018, "Can recurrent neural networks warp time?",
section 5) train an LSTM with 128 units on the copy task with T = 500
blanks, RMSprop with learning rate 1e-3, and compare Keras-style standard
initialisation (forget bias 1) with chrono initialisation; the memoryless
strategy (predict blanks, then a uniform guess over the 8 symbols) has
cross-entropy 10 ln 8 / (T + 20), and their chrono LSTM goes below it
while the standard one stays on it. Here a GatedLSTM with 128 units is
trained on fresh batches (every batch new, as in the paper's infinite
data), RMSprop 1e-3 (Keras's rho 0.9, no clipping), `--iterations`
minibatches of `--batch-size`, once per seed; every `--eval-every`
iterations the loss on a fixed set of `--eval-size` held-out sequences is
recorded. Chrono draws its timescales up to `--chrono-max` (default 3T/2).

Writes results/chrono_copy/: results.json, summary.md, chrono_copy.png
(loss curves: every seed faint, the mean bold, the baseline dashed).
Resumable: finished runs are kept, an interrupted one starts over.
"""

# Shared code: `experiments/chrono_copy.py` is the command; other
# experiments that run these sweeps (claims and others) import this module.

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
from matplotlib.figure import Figure

from experiments import _report as report
from experiments._intervals import METHOD, interval
from experiments._runner import (
    config_from,
    open_store,
    parser,
    run_plan,
)
from experiments._training import build_model
from keras_gates import plots
from keras_gates.tasks import copy_memory, get_task


@dataclass
class Config:
    length: int = 500
    units: int = 128
    batch_size: int = 64
    learning_rate: float = 1e-3
    iterations: int = 1000
    eval_every: int = 50
    eval_size: int = 256
    chrono_max: int = 0  # 0: 3T/2
    inits: list = field(default_factory=lambda: ["default", "chrono"])
    seed: int = 0
    seeds: int = 3


def check(config: Config) -> Config:
    for name in (
        "length",
        "units",
        "batch_size",
        "iterations",
        "eval_every",
        "eval_size",
        "seeds",
    ):
        value = getattr(config, name)
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    if config.learning_rate <= 0:
        raise ValueError(
            f"learning_rate must be positive, got {config.learning_rate}"
        )
    bad = [i for i in config.inits if i not in ("default", "chrono")]
    if bad:
        raise ValueError(f"inits must be 'default' or 'chrono', got {bad}")
    return config


def plan_of(config: Config) -> list[dict]:
    return [
        {"init": init, "seed": seed}
        for seed in range(config.seed, config.seed + config.seeds)
        for init in config.inits
    ]


def baseline(length: int) -> float:
    return float(get_task("copy").baseline(length))


def train_one(config: Config, keys: dict, quiet: bool) -> dict:
    """One run: the held-out loss every `eval_every` iterations."""
    seed, length = keys["seed"], config.length
    keras.utils.set_random_seed(seed)
    net = build_model(
        "copy",
        "GatedLSTM",
        units=config.units,
        init=keys["init"],
        max_timesteps=config.chrono_max or (3 * length) // 2,
        seed=seed,
    )
    net.compile(
        optimizer=keras.optimizers.RMSprop(config.learning_rate),
        loss="sparse_categorical_crossentropy",
    )
    held_out = copy_memory(
        config.eval_size, length, np.random.default_rng([config.seed, 99])
    )
    rng = np.random.default_rng([seed, 1])
    steps, losses, done = [0], [_loss(net, held_out)], 0
    start = time.perf_counter()
    while done < config.iterations:
        chunk = min(config.eval_every, config.iterations - done)
        x, y = copy_memory(chunk * config.batch_size, length, rng)
        net.fit(
            x,
            y,
            batch_size=config.batch_size,
            epochs=1,
            verbose=0,
            shuffle=False,
        )
        done += chunk
        steps.append(done)
        losses.append(_loss(net, held_out))
        if not quiet:
            print(
                f"  {keys['init']} seed {seed}: iteration {done}, held-out "
                f"loss {losses[-1]:.4f}",
                flush=True,
            )
    seconds = time.perf_counter() - start
    return {
        "steps": steps,
        "loss": losses,
        "final": losses[-1],
        "lowest": float(min(losses)),
        "baseline": baseline(length),
        "seconds_per_iteration": seconds / config.iterations,
    }


def _loss(net, data) -> float:
    x, y = data
    found = net.evaluate(x, y, batch_size=128, verbose=0)
    return float(np.atleast_1d(found)[0])


def by_init(runs) -> dict:
    found: dict = {}
    for run in runs:
        found.setdefault(run["init"], []).append(run)
    return found


def curves_figure(runs, config: Config) -> Figure:
    figure = Figure(figsize=(8, 4.8), layout="constrained")
    axes = figure.subplots()
    names = {"default": "standard LSTM (forget bias 1)", "chrono": "chrono"}
    for i, (init, mine) in enumerate(sorted(by_init(runs).items())):
        colour = f"C{i}"
        for run in mine:
            axes.plot(
                run["steps"], run["loss"], color=colour, lw=0.8, alpha=0.3
            )
        steps = mine[0]["steps"]
        mean = np.mean([r["loss"] for r in mine], axis=0)
        axes.plot(
            steps,
            mean,
            color=colour,
            lw=2.2,
            label=f"{names.get(init, init)}, mean of {len(mine)} seeds",
        )
    axes.axhline(
        baseline(config.length),
        color="black",
        ls="--",
        lw=1,
        label="memoryless baseline 10 ln 8 / (T + 20)",
    )
    axes.set_xlabel(f"training iterations (minibatches of {config.batch_size})")
    axes.set_ylabel("held-out cross-entropy, nats per step (log scale)")
    axes.set_title(
        f"Copy task, T = {config.length}: GatedLSTM, "
        f"{config.units} units, RMSprop {config.learning_rate:g}"
        "; faint: each seed"
    )
    axes.set_yscale("log")
    axes.grid(alpha=0.3, which="both")
    axes.legend(fontsize=9)
    return figure


def chrono_gap(runs):
    """(interval, verdict) of chrono's final loss minus the standard
    LSTM's, paired by seed ("better" means chrono's loss is lower)."""
    groups = by_init(runs)
    return report.against(
        groups.get("chrono", []),
        groups.get("default", []),
        lambda r: r["final"],
        higher=False,
    )


def verdict_lines(runs, config: Config) -> list[str]:
    groups = by_init(runs)
    line = baseline(config.length)
    lines = []
    for init, mine in sorted(groups.items()):
        final = interval([r["final"] for r in mine])
        below = sum(r["final"] < line * 0.9 for r in mine)
        lines.append(
            f"- {init}: final held-out loss {final.text(4)} against the "
            f"baseline {line:.4f}; {below}/{final.n} seeds more than 10% "
            "below it."
        )
    if {"default", "chrono"} <= set(groups):
        found, said = chrono_gap(runs)
        words = {"better": "chrono lower", "worse": "chrono higher"}
        lines.append(
            "- Chrono minus standard, final loss paired by seed: "
            f"{found.text(4)}: {words.get(said, said)}."
        )
    seconds = np.mean([r["seconds_per_iteration"] for r in runs])
    lines.append(
        f"- Budget: {config.iterations} iterations per run "
        f"({seconds:.2f} s each here); {METHOD}."
    )
    return lines


def write_page(store, config: Config, output: Path) -> str:
    figure = curves_figure(store.runs, config)
    plots.save_figure(figure, output / "chrono_copy.png")
    lines = report.opening(
        "Chrono on the copy task (Tallec & Ollivier's setting)", store.data
    )
    lines += [
        __doc__.split("\n\n", 2)[2].split("\n\nWrites")[0].strip(),
        "",
        f"Config: {config}.",
        "",
        "## What this shows",
        "",
        *verdict_lines(store.runs, config),
        "",
        "![copy loss curves](chrono_copy.png)",
    ]
    return report.save(output / "summary.md", lines)


def main(argv=None):
    args = parser(
        Config(), __doc__.split("\n")[0], "results/chrono_copy"
    ).parse_args(argv)
    output = Path(args.output)
    if not args.report:
        check(config_from(args, Config()))
    store, config = open_store(args, Config(), "chrono_copy", argv)
    if not args.report:
        run_plan(
            store,
            plan_of(config),
            lambda keys: train_one(config, keys, args.quiet),
            lambda run: f"final loss {run['final']:.4f}",
        )
    print(write_page(store, config, output))


if __name__ == "__main__":
    main()
