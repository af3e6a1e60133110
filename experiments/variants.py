"""Which gate matters: Greff et al.'s LSTM variants and the MGU, measured.

    python -m experiments.variants              # 5 seeds, about 2 hours
    python -m experiments.variants --seeds 1    # a quick pass

Trains the standard LSTM (`GatedLSTM`, Greff's "NP"), "vanilla" (peepholes
on), the seven variants nig, nfg, nog, niaf, noaf, cifg, fgr, the standard
GRU (`GatedGRU`) and the minimal gated unit (`GatedGRU(variant="mgu")`) on
agreement (T = 100), adding (T = 200), temporal order (T = 200) and a short
IMDB budget, with the same budget for all and `--seeds` seeds each (weights,
data order and dropout; one data set). The synthetic tasks start every gate
bias from Chrono (Tallec & Ollivier 2018), since with Keras's defaults the
standard LSTM itself fails them at these lengths (docs/claims) and no
variant could be told apart; IMDB uses Keras's defaults.

Writes results/variants/: results.json, summary.md (per task: mean, 95%
interval, solved seeds, each variant's change against the standard LSTM
paired by seed, parameters, seconds per epoch; then Greff et al.'s
conclusions point by point), variants.png and gates.png (the gates of
every variant on one agreement sentence). Resumable: finished runs are
skipped, an interrupted one continues from its last epoch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
from matplotlib.figure import Figure

from experiments import _report as report
from experiments._data import TextConfig, imdb_arrays
from experiments._intervals import METHOD, interval, paired_verdict
from experiments._long_dependency import solved
from experiments._runner import (
    backup_folder,
    open_store,
    parser,
    run_plan,
)
from experiments._training import EpochTimer, build_text_model, train_run
from keras_gates import extract_gates
from keras_gates.files import atomic_path
from keras_gates.tasks import agreement_tokens, get_task, make_splits

# name -> (layer, options). "LSTM" is the standard GatedLSTM, the baseline
# every variant is compared with (Greff's "NP"; his baseline, "vanilla",
# has peepholes).
MODELS = {
    "LSTM": ("GatedLSTM", {}),
    "vanilla": ("GatedLSTM", {"peepholes": True}),
    "nig": ("GatedLSTM", {"variant": "nig"}),
    "nfg": ("GatedLSTM", {"variant": "nfg"}),
    "nog": ("GatedLSTM", {"variant": "nog"}),
    "niaf": ("GatedLSTM", {"variant": "niaf"}),
    "noaf": ("GatedLSTM", {"variant": "noaf"}),
    "cifg": ("GatedLSTM", {"variant": "cifg"}),
    "fgr": ("GatedLSTM", {"variant": "fgr"}),
    "GRU": ("GatedGRU", {}),
    "MGU": ("GatedGRU", {"variant": "mgu"}),
}
BASELINE = "LSTM"
TASKS = ("agreement", "adding", "temporal_order", "imdb")

# Greff et al. 2017, Section V-A and Fig. 3: each variant against their
# vanilla LSTM on TIMIT (speech), IAM Online (handwriting) and JSB Chorales
# (music), Welch's t-test at p < 0.05 over the top 10% of 200 random-search
# trials per variant.
GREFF = {
    "vanilla": "their baseline (peepholes on); NP (no peepholes, our "
    "standard LSTM) did not differ significantly from it on any data set",
    "nig": "significantly worse on speech and handwriting; no significant "
    "change on music",
    "nfg": "significantly worse on all three data sets",
    "nog": "significantly worse on speech and handwriting; no significant "
    "change on music",
    "niaf": "significantly worse on speech and handwriting; no significant "
    "change on music",
    "noaf": "significantly worse on all three data sets",
    "cifg": "no significant change on any data set",
    "fgr": "no significant change on speech and handwriting; significantly "
    "worse on music",
}


@dataclass
class Config:
    tasks: list = field(default_factory=lambda: list(TASKS))
    models: list = field(default_factory=lambda: list(MODELS))
    agreement_length: int = 100
    adding_length: int = 200
    order_length: int = 200
    units: int = 32
    epochs: int = 10
    train_size: int = 4000
    validation_size: int = 500
    test_size: int = 1000
    batch_size: int = 64
    learning_rate: float = 3e-3
    init: str = "chrono"
    imdb_train: int = 5000
    imdb_test: int = 5000
    imdb_length: int = 100
    imdb_vocabulary: int = 10_000
    imdb_epochs: int = 2
    seed: int = 0
    seeds: int = 5


def check_config(config: Config) -> Config:
    for name, allowed in (("tasks", TASKS), ("models", tuple(MODELS))):
        unknown = [v for v in getattr(config, name) if v not in allowed]
        if unknown:
            raise ValueError(
                f"--{name}: unknown {unknown}; expected some of {allowed}"
            )
    if BASELINE not in config.models:
        raise ValueError(
            f"--models must include {BASELINE!r}, the baseline every "
            f"variant is compared with; got {config.models}"
        )
    return config


def length_of(task: str, config: Config) -> int:
    return {
        "agreement": config.agreement_length,
        "adding": config.adding_length,
        "temporal_order": config.order_length,
        "imdb": config.imdb_length,
    }[task]


def planned_runs(config: Config) -> list[dict]:
    """Seed by seed, task by task, every model: an interrupted run has
    whole seeds done."""
    return [
        {"task": task, "model": model, "seed": seed}
        for seed in range(config.seed, config.seed + config.seeds)
        for task in config.tasks
        for model in config.models
    ]


def model_path(output: Path, model: str) -> Path:
    return Path(output) / "models" / f"agreement-{model}.keras"


def run_synthetic(keys, config: Config, data: dict, output: Path) -> dict:
    layer, options = MODELS[keys["model"]]
    length = length_of(keys["task"], config)
    net, run = train_run(
        keys["task"],
        layer,
        data,
        length,
        epochs=config.epochs,
        units=config.units,
        init=config.init,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        seed=keys["seed"],
        backup_dir=backup_folder(output, keys),
        verbose=0,
        layer_options=options,
    )
    if keys["task"] == "agreement" and keys["seed"] == config.seed:
        path = model_path(output, keys["model"])
        with atomic_path(path, suffix=".keras") as tmp:
            net.save(tmp)
    return run


def imdb_parts(config: Config, output: Path) -> dict:
    """Short-budget IMDB: `imdb_train` training and 500 validation reviews
    drawn from the training split, `imdb_test` test reviews, the same for
    every run (tokens cached in output/tokens.npz)."""
    text = TextConfig(
        vocabulary=config.imdb_vocabulary, length=config.imdb_length
    )
    data = imdb_arrays(text, cache=Path(output) / "tokens.npz")
    rng = np.random.default_rng(config.seed)
    order = rng.permutation(len(data["x_train"]))
    train = order[: config.imdb_train]
    valid = order[config.imdb_train : config.imdb_train + 500]
    test = rng.permutation(len(data["x_test"]))[: config.imdb_test]
    return {
        "text": text,
        "train": (data["x_train"][train], data["y_train"][train]),
        "validation": (data["x_train"][valid], data["y_train"][valid]),
        "test": (data["x_test"][test], data["y_test"][test]),
    }


def run_imdb(keys, config: Config, parts: dict, output: Path) -> dict:
    layer, options = MODELS[keys["model"]]
    keras.utils.set_random_seed(keys["seed"])
    net = build_text_model(
        layer,
        parts["text"],
        units=config.units,
        seed=keys["seed"],
        layer_options=options,
    )
    timer = EpochTimer()
    x, y = parts["train"]
    history = net.fit(
        x,
        y,
        validation_data=parts["validation"],
        epochs=config.imdb_epochs,
        batch_size=config.batch_size,
        callbacks=[
            keras.callbacks.BackupAndRestore(str(backup_folder(output, keys))),
            timer,
        ],
        verbose=0,
    )
    _, accuracy = net.evaluate(*parts["test"], batch_size=256, verbose=0)
    timed = timer.seconds[1:] or timer.seconds
    return {
        "task": "imdb",
        "length": config.imdb_length,
        "metric": "accuracy",
        "value": float(accuracy),
        "baseline": 0.5,
        "params": int(net.get_layer("recurrent").count_params()),
        "seconds_per_epoch": float(np.median(timed)) if timed else None,
        "epochs": config.imdb_epochs,
        "seed": keys["seed"],
        "history": {
            k: [float(v) for v in vs] for k, vs in history.history.items()
        },
    }


def run_all(store, config: Config, output: Path) -> None:
    cache: dict = {}

    def data_for(task):
        if task not in cache:
            cache.clear()
            if task == "imdb":
                cache[task] = imdb_parts(config, output)
            else:
                cache[task] = make_splits(
                    get_task(task),
                    length_of(task, config),
                    (
                        config.train_size,
                        config.validation_size,
                        config.test_size,
                    ),
                    seed=config.seed,
                )
        return cache[task]

    def run_one(keys):
        data = data_for(keys["task"])
        if keys["task"] == "imdb":
            return run_imdb(keys, config, data, output)
        return run_synthetic(keys, config, data, output)

    def describe(run):
        return (
            f"{run['metric']} {run['value']:.4f} (chance "
            f"{run['baseline']:.4f}), {run['seconds_per_epoch']:.2f} s/epoch"
        )

    # One task's data at a time: plan task by task within each seed.
    run_plan(store, planned_runs(config), run_one, describe)


# -- the report ------------------------------------------------------------


def higher_is_better(task: str) -> bool:
    return task == "imdb" or get_task(task).higher_is_better


def is_solved(run) -> bool:
    if run["task"] == "imdb":
        return run["value"] >= 0.75
    return solved(run)


def cells(runs) -> dict:
    """{(task, model): {seed: run}}."""
    found: dict = {}
    for run in runs:
        found.setdefault((run["task"], run["model"]), {})[run["seed"]] = run
    return found


def change(mine: dict, base: dict, higher: bool):
    """(interval of per-seed differences model - baseline, verdict)."""
    seeds = sorted(set(mine) & set(base))
    differences = [mine[s]["value"] - base[s]["value"] for s in seeds]
    if not differences:
        return None, "no paired seeds"
    return paired_verdict(differences, higher)


def epoch_seconds(mine: dict) -> float:
    return float(np.mean([r["seconds_per_epoch"] for r in mine.values()]))


def task_table(task: str, runs) -> tuple[str, dict]:
    found = cells(runs)
    higher = higher_is_better(task)
    base = found.get((task, BASELINE), {})
    rows, verdicts = [], {}
    for model in MODELS:
        mine = found.get((task, model))
        if not mine:
            continue
        values = interval([r["value"] for r in mine.values()])
        first = next(iter(mine.values()))
        diff, verdict = change(mine, base, higher)
        if model != BASELINE:
            verdicts[model] = (diff, verdict)
        rows.append(
            {
                "model": model,
                "params": first["params"],
                "seeds": values.n,
                "mean": f"{values.mean:.4f}",
                "95% interval": values.text(4)
                if values.low is not None
                else "n/a (1 seed)",
                "solved": f"{sum(is_solved(r) for r in mine.values())}/"
                f"{values.n}",
                f"change vs {BASELINE}": "-"
                if model == BASELINE
                else (
                    f"{diff.mean:+.4f}"
                    + (
                        f" [{diff.low:+.4f}, {diff.high:+.4f}]"
                        if diff is not None and diff.low is not None
                        else ""
                    )
                ),
                "verdict": "baseline" if model == BASELINE else verdict,
                "s/epoch": f"{epoch_seconds(mine):.2f}",
            }
        )
    columns = [
        "model",
        "params",
        "seeds",
        "mean",
        "95% interval",
        "solved",
        f"change vs {BASELINE}",
        "verdict",
        "s/epoch",
    ]
    return report.table(rows, columns), verdicts


def greff_lines(verdicts_by_task: dict) -> list[str]:
    """Greff et al.'s finding beside ours, variant by variant: agrees when
    both found harm or both found none that was resolved, differs when
    one did and the other did not, "not resolved" when Greff found harm
    and no task here resolved any difference."""
    lines = []
    for model, theirs in GREFF.items():
        ours = {
            task: verdicts[model][1]
            for task, verdicts in verdicts_by_task.items()
            if model in verdicts
        }
        if not ours:
            continue
        worse = [task for task, verdict in ours.items() if verdict == "worse"]
        resolved = [t for t, v in ours.items() if v in ("better", "worse")]
        hurt_there = model != "vanilla" and "worse" in theirs
        if worse:
            outcome = (
                "Agrees" if hurt_there else "Differs"
            ) + f": worse here on {', '.join(worse)}"
        elif hurt_there and not resolved:
            outcome = "Not resolved: no task here shows a difference"
        elif hurt_there:
            outcome = "Differs: no task worse here"
        else:
            outcome = "Agrees: no task resolved worse here"
        found = "; ".join(
            f"{task}: {verdict}" for task, verdict in ours.items()
        )
        lines.append(
            f"- **{model}**: Greff et al.: {theirs}. Here: {found}. {outcome}."
        )
    return lines


def difference_lines(verdicts_by_task: dict, runs) -> list[str]:
    """What the set-ups do not share, then the mechanism behind the
    resolved verdicts that the equations explain."""

    def verdict(task, model):
        return verdicts_by_task.get(task, {}).get(model, (None, ""))[1]

    lines = [
        "- The set-up: Greff et al. tuned each variant by random search "
        "(200 trials per variant and data set) and compared the best 10%; "
        "here every model gets one fixed budget and Chrono gate biases on "
        "the synthetic tasks, 5 seeds. Their data sets are long real "
        "sequences (speech frames, pen strokes, chorales); these are "
        "short synthetic dependencies and a 100-token IMDB cut.",
    ]
    base = cells(runs).get(("adding", BASELINE), {})
    if base and not any(is_solved(r) for r in base.values()):
        lines.append(
            "- Adding (T = 200): the standard LSTM solved 0 of "
            f"{len(base)} seeds in this budget, so a variant 'better' there "
            "learnt faster, not better than a working LSTM."
        )
    if verdict("adding", "nfg") == "better":
        lines.append(
            "- nfg better on adding: the target is the sum of two marked "
            "values, and with f = 1 the cell is an integrator, c_t = "
            "c_(t-1) + i_t g_t: the computation the task asks for, with "
            "nothing to learn about keeping it."
        )
    if verdict("temporal_order", "nig") == "worse":
        lines.append(
            "- nig worse on temporal order (chance level on every seed): "
            "with i = 1 every distractor symbol is written into the cell, "
            "and the forget gate alone cannot keep the two relevant symbols "
            "while letting the distractors through unwritten."
        )
    if verdict("imdb", "nfg") == "worse":
        lines.append(
            "- nfg worse on IMDB (the one task here where the forget gate "
            "is crucial, as Greff et al. found on all of theirs): without "
            "it the cell can only add, so what an early word wrote cannot "
            "be undone by a later one. A candidate reason, not measured "
            "here: the cell state grows over the review and tanh(c) "
            "saturates."
        )
    unresolved = [
        model
        for model in ("noaf", "niaf")
        if all(
            verdict(task, model) not in ("better", "worse")
            for task in verdicts_by_task
        )
    ]
    if unresolved:
        lines.append(
            f"- {', '.join(unresolved)}: no difference resolved on any task. "
            "Greff et al. tie the output activation to an unbounded cell "
            "state; these runs are short (100-200 steps, 2-10 epochs)."
        )
    return lines


def chart(runs, tasks) -> Figure:
    """Per task, every model's seeds (dots) and mean (bar)."""
    found = cells(runs)
    figure = Figure(figsize=(11, 2.6 * len(tasks) + 0.6), layout="constrained")
    axes = np.atleast_1d(figure.subplots(len(tasks), 1))
    models = [m for m in MODELS if any((t, m) in found for t in tasks)]
    for ax, task in zip(axes, tasks, strict=True):
        positions = np.arange(len(models))
        means = []
        for position, model in zip(positions, models, strict=True):
            values = [r["value"] for r in found.get((task, model), {}).values()]
            means.append(np.mean(values) if values else np.nan)
            ax.scatter(
                np.full(len(values), position),
                values,
                s=14,
                color="black",
                alpha=0.5,
                zorder=3,
            )
        colours = [
            "tab:blue" if MODELS[m][0] == "GatedLSTM" else "tab:orange"
            for m in models
        ]
        ax.bar(positions, means, color=colours, alpha=0.6)
        first = next(
            (r for (t, _), s in found.items() if t == task for r in s.values()),
            None,
        )
        if first is not None:
            ax.axhline(
                first["baseline"],
                color="tab:red",
                linestyle="--",
                linewidth=1,
                label="chance",
            )
            metric = first["metric"]
            ax.set_ylabel(f"test {metric}")
            if metric == "mse":
                ax.set_yscale("log")
        ax.set_xticks(positions, models)
        ax.set_title(f"{task} (T = {first['length'] if first else '?'})")
        ax.legend(loc="best", fontsize=8)
    figure.suptitle(
        "LSTM variants (blue) and GRU/MGU (orange): test score per seed "
        "(dots) and mean (bars)"
    )
    return figure


def gates_figure(output: Path, models, config: Config):
    """The gates of every variant trained on agreement (first seed) on one
    test sentence: forget (update for GRU/MGU), input (reset) and cell
    (hidden) state, units sorted by their mean over the sentence."""
    found = [m for m in models if model_path(output, m).exists()]
    if not found:
        return None
    task = get_task("agreement")
    rng = np.random.default_rng(config.seed + 99)
    x, _ = task.make(1, config.agreement_length, rng)
    tokens = agreement_tokens(x[0])
    figure = Figure(figsize=(12, 1.25 * len(found) + 1.2), layout="constrained")
    axes = figure.subplots(len(found), 3, squeeze=False, sharex=True)
    for row, model in zip(axes, found, strict=True):
        net = keras.saving.load_model(model_path(output, model))
        gates = extract_gates(net, x)["recurrent"]
        lstm = MODELS[model][0] == "GatedLSTM"
        names = (
            ("forget", "input", "cell")
            if lstm
            else ("update", "reset", "hidden")
        )
        for ax, name in zip(row, names, strict=True):
            values = gates[name][0].T  # units x time
            values = values[np.argsort(values.mean(axis=1))]
            # States: a symmetric scale clipped at the 98th percentile of
            # |value|, so that a few large cells do not wash out the rest.
            bound = float(np.percentile(np.abs(values), 98)) or 1.0
            limits = (
                (0, 1)
                if name != "cell" and name != "hidden"
                else (-bound, bound)
            )
            image = ax.imshow(
                values,
                aspect="auto",
                cmap="viridis" if limits[0] == 0 else "RdBu_r",
                vmin=limits[0],
                vmax=limits[1],
                interpolation="nearest",
            )
            ax.set_title(f"{model}: {name}", fontsize=9, loc="left")
            ax.set_yticks([])
            figure.colorbar(image, ax=ax, pad=0.01, fraction=0.04)
        row[0].set_ylabel("units", fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel(f"step ({tokens[0]} ... {tokens[-1]})")
    figure.suptitle(
        "The same agreement sentence through every variant: forget/update "
        "gate, input/reset gate,\ncell/hidden state (units sorted by mean; "
        "states clipped at the 98th percentile of |value|)"
    )
    path = output / "gates.png"
    figure.savefig(path, dpi=110)
    return path


def write_page(store, config: Config, output: Path) -> str:
    runs = store.runs
    tasks = [t for t in config.tasks if any(r["task"] == t for r in runs)]
    lines = report.opening(
        "Which gate matters: LSTM variants and the MGU", store.data
    )
    seeds = max((len(s) for s in cells(runs).values()), default=0)
    lines += [
        f"Every model trained with the same budget ({config.units} units; "
        f"synthetic tasks: {config.epochs} epochs on {config.train_size} "
        f"sequences, gate biases from {config.init}; IMDB: "
        f"{config.imdb_epochs} epochs on {config.imdb_train} reviews cut to "
        f"{config.imdb_length} tokens, Keras's default initialisation), "
        f"{seeds} seed(s) per cell. `change vs {BASELINE}`: the mean and "
        f"95% t-interval of the per-seed difference from the standard "
        f"LSTM (same seed: same data order); `verdict` says better or "
        f"worse only when that interval excludes 0. Intervals: {METHOD}. "
        "Solved: accuracy >= 0.9 (IMDB: >= 0.75), or a loss at most a "
        "tenth (MSE) of chance.",
        "",
    ]
    verdicts_by_task = {}
    for task in tasks:
        table, verdicts = task_table(task, runs)
        verdicts_by_task[task] = verdicts
        lines += [f"## {task}", "", table]
    chart(runs, tasks).savefig(output / "variants.png", dpi=110)
    gates = gates_figure(output, config.models, config)
    lines += [
        "## Against Greff et al. 2017",
        "",
        "Greff et al. compared each variant with their vanilla LSTM "
        "(peepholes on) on speech, handwriting and music; here the "
        "baseline is the standard LSTM (their NP), on four other tasks.",
        "",
        *greff_lines(verdicts_by_task),
        "",
        "## Where this differs, and why",
        "",
        *difference_lines(verdicts_by_task, runs),
        "",
        "![scores](variants.png)",
        "",
    ]
    if gates is not None:
        lines += ["![gates](gates.png)", ""]
    return report.save(output / "summary.md", lines)


def main(argv=None):
    args = parser(
        Config(),
        "LSTM variants and the MGU, measured",
        "results/variants",
    ).parse_args(argv)
    store, config = open_store(args, Config(), "variants", argv)
    config = check_config(config)
    output = Path(args.output)
    if not args.report:
        print(f"variants on {store.data['device']}", flush=True)
        os.makedirs(output, exist_ok=True)
        run_all(store, config, output)
    print(write_page(store, config, output))


if __name__ == "__main__":
    main()
