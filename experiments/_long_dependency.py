"""Long-dependency sweep: models x lengths on one synthetic task.

    python -m experiments.long_dependency --task adding --lengths 50 200
    python -m experiments.long_dependency --task adding --seeds 5

Trains each model at each length with the same data and budget, once per
seed (`--seeds N`: seeds seed..seed+N-1 change the initial weights, the
data order and dropout; `--data-seeds` draws a new data set per seed too),
prints a comparison table as it goes, and writes into the output folder
(default results/<task>/): results.json, summary.md, <task>_vs_length.png
(with the task's chance baseline) and, for a GatedLSTM at --figure-length,
gate figures. An interrupted run resumes when started again with the same
folder: finished runs are skipped, the interrupted one continues from its
last epoch (keras.callbacks.BackupAndRestore).
"""

# Shared code: `experiments/long_dependency.py` is the command; other
# experiments that run these sweeps (claims and others) import this module.

from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
from matplotlib.figure import Figure

from experiments import _report as report
from experiments._intervals import (
    METHOD,
    Interval,
    compare,
    interval,
    paired,
)
from experiments._runner import (
    ResultsStore,
    backup_folder,
    claim,
    command_line,
    config_from,
    parser,
    run_in_workers,
    run_plan,
    worker_store_folder,
)
from experiments._training import INITS, check_model_names, headline, train_run
from keras_gates import extract_gates, plots, stats
from keras_gates.files import atomic_path
from keras_gates.tasks import (
    agreement_attractors,
    agreement_tokens,
    get_task,
    make_splits,
)

ALL_MODELS = ("GatedLSTM", "GatedGRU", "LSTM", "GRU", "SimpleRNN")


@dataclass
class Config:
    task: str = "agreement"
    lengths: list = field(default_factory=lambda: [20, 100, 200])
    models: list = field(default_factory=lambda: list(ALL_MODELS))
    # Gate-bias initialisations to try on LSTM/GRU models (SimpleRNN has
    # no gates and always runs with Keras's defaults).
    inits: list = field(default_factory=lambda: ["chrono"])
    units: int = 32
    epochs: int = 10
    train_size: int = 4000
    validation_size: int = 500
    test_size: int = 1000
    batch_size: int = 64
    learning_rate: float = 3e-3
    noun_rate: float = 0.2
    figure_length: int = 100
    seed: int = 0
    seeds: int = 1
    data_seeds: bool = False
    # Agreement only: after training, the accuracy on test sentences with
    # exactly k attractors, for each k here (Linzen et al. 2016), on
    # `attractor_size` sentences per k.
    attractors: list = field(default_factory=list)
    attractor_size: int = 500
    # Accuracy tasks: end a run after the first epoch whose validation
    # accuracy reaches this (it is recorded with the epochs it trained);
    # 0 trains every epoch.
    stop_at: float = 0.0


# Beside _runner.COMMON_HELPS, which the flags not named here take.
HELPS = {
    "task": "the synthetic task: agreement, adding, copy or temporal_order",
    "lengths": "dependency lengths (timesteps between the cue and the "
    "answer), one run of each model at each",
    "models": "GatedLSTM, GatedGRU, LSTM, GRU (the built-ins), SimpleRNN",
    "inits": "gate-bias initialisations for the LSTM and GRU models "
    "(SimpleRNN always runs with Keras's defaults)",
    "validation_size": "validation sequences (for --stop-at)",
    "test_size": "test sequences, scored once after training",
    "learning_rate": "Adam's learning rate (gradients clipped to norm 1)",
    "noun_rate": "agreement: the share of the clause's words that are "
    "distractor nouns",
    "figure_length": "the length whose trained GatedLSTM is saved and "
    "drawn in the gate figures",
    "seed": "the first seed (weights, and data unless --data-seeds)",
    "seeds": "how many seeds, counting up from --seed; with two or more, "
    "95% intervals and verdicts",
    "data_seeds": "draw new data for each seed (else one data set)",
    "attractors": "agreement: also score test sentences with exactly k "
    "attractor nouns, for each k given (Linzen et al. 2016)",
    "attractor_size": "test sentences per attractor count",
    "stop_at": "end a run after the first epoch whose validation accuracy "
    "reaches this (0: train every epoch)",
}


def planned_runs(config: Config, only_seed: int | None = None) -> list[dict]:
    """Every (model, init, length) once per seed, seed by seed: an
    interrupted sweep has whole seeds done. With `only_seed`, that seed's
    runs alone."""
    plan = []
    seeds = range(config.seed, config.seed + config.seeds)
    for seed in seeds if only_seed is None else [only_seed]:
        for length in config.lengths:
            for model in config.models:
                inits = ["default"] if model == "SimpleRNN" else config.inits
                plan += [
                    {
                        "model": model,
                        "init": init,
                        "length": length,
                        "seed": seed,
                    }
                    for init in inits
                ]
    return plan


RUN_KEYS = ("model", "init", "length", "seed")


def sweep_store(config: Config, output, fresh=False, command=""):
    return ResultsStore(
        output, f"long_dependency/{config.task}", config, fresh, command
    )


def run_sweep(
    config: Config,
    output: Path,
    fresh=False,
    verbose="auto",
    command="",
    only_seed=None,
    worker=None,
):
    """Trains every planned run (of `only_seed` alone, if given) not yet in
    output/results.json. `worker`: None, or this process is worker
    `worker` of `run_in_workers`: it records in its own store the runs it
    claims, longest first."""
    task = get_task(config.task)
    store = sweep_store(config, output, fresh, command)
    plan = planned_runs(config, only_seed)
    take = None
    if worker is not None:
        done = store
        store = sweep_store(config, worker_store_folder(output, worker))
        plan = sorted(
            (keys for keys in plan if done.find(**keys) is None),
            key=lambda keys: -keys["length"],
        )

        def take(keys):
            return claim(output, keys)

    options = (
        {"noun_rate": config.noun_rate} if task.name == "agreement" else {}
    )
    data_cache: dict = {}

    def run_one(keys):
        length = keys["length"]
        data_seed = keys["seed"] if config.data_seeds else config.seed
        if (length, data_seed) not in data_cache:
            data_cache.clear()
            data_cache[length, data_seed] = make_splits(
                task,
                length,
                (config.train_size, config.validation_size, config.test_size),
                seed=data_seed,
                **options,
            )
        net, run = train_run(
            task,
            keys["model"],
            data_cache[length, data_seed],
            length,
            epochs=config.epochs,
            units=config.units,
            init=keys["init"],
            batch_size=config.batch_size,
            learning_rate=config.learning_rate,
            seed=keys["seed"],
            backup_dir=backup_folder(store.folder, keys),
            verbose=verbose,
            stop_at=config.stop_at,
        )
        run["data_seed"] = data_seed
        if config.attractors and task.name == "agreement":
            run["attractors"] = attractor_accuracy(
                net, length, config, data_seed
            )
        if (
            keys["model"] == "GatedLSTM"
            and length == config.figure_length
            and keys["seed"] == config.seed
        ):
            save_model(net, model_path(output, keys["init"], length))
        return run

    def describe(run):
        return (
            f"{task.metric} {run['value']:.4f} (chance {run['baseline']:.4f})"
            f", {run['seconds_per_epoch']:.2f} s/epoch"
        )

    if worker is None:
        print(f"{task.name} on {store.data['device']}", flush=True)
    run_plan(store, plan, run_one, describe, take)
    return store


def attractor_accuracy(net, length: int, config: Config, data_seed: int):
    """{k (as text, for JSON): accuracy on `config.attractor_size`
    sentences with exactly k attractors}, from test sets drawn apart from
    the training data."""
    task = get_task("agreement")
    found = {}
    for k in map(int, config.attractors):
        rng = np.random.default_rng([data_seed, length, k, 1016])
        x, y = agreement_attractors(
            config.attractor_size, length, rng, k, config.noun_rate
        )
        found[str(k)] = headline(task, net, x, y)
    return found


def model_path(output: Path, init: str, length: int) -> Path:
    return Path(output) / "models" / f"GatedLSTM-{init}-{length}.keras"


def save_model(net, path: Path):
    with atomic_path(path, suffix=".keras") as tmp:
        net.save(tmp)


COLUMNS = [
    "model",
    "init",
    "length",
    "metric",
    "seeds",
    "mean",
    "95% interval",
    "solved",
    "baseline",
    "params",
    "seconds_per_epoch",
    "epochs",
]


def by_cell(runs) -> dict:
    """{(model, init, length): [runs of every seed]}."""
    cells: dict = {}
    for run in runs:
        key = (run["model"], run["init"], run["length"])
        cells.setdefault(key, []).append(run)
    return cells


def cell_interval(mine) -> Interval:
    return interval([r["value"] for r in mine])


def table(runs) -> str:
    """One row per (model, init, length): mean over seeds, its 95%
    t-interval and how many seeds solved the task."""
    rows = []
    for (model, init, length), mine in sorted(
        by_cell(runs).items(), key=lambda kv: (kv[0][2], kv[0][0], kv[0][1])
    ):
        found = cell_interval(mine)
        rows.append(
            {
                "model": model,
                "init": init,
                "length": length,
                "metric": mine[0]["metric"],
                "seeds": found.n,
                "mean": found.mean,
                "95% interval": "n/a (1 seed)"
                if found.low is None
                else f"[{found.low:.4g}, {found.high:.4g}]",
                "solved": f"{sum(solved(r) for r in mine)}/{found.n}",
                "baseline": mine[0]["baseline"],
                "params": mine[0]["params"],
                "seconds_per_epoch": float(
                    np.mean([r["seconds_per_epoch"] for r in mine])
                ),
                "epochs": span([r["epochs"] for r in mine]),
            }
        )
    return report.table(rows, COLUMNS)


def span(values) -> str | int:
    """One value, or "low-high" when the seeds differ."""
    low, high = min(values), max(values)
    return low if low == high else f"{low}-{high}"


def twin_gaps(runs) -> list[str]:
    """Gated layer vs its built-in twin, same init and length, paired by
    seed (the same seed gives both the same initial weights and data)."""
    lines = []
    cells = by_cell(runs)
    for gated, builtin in (("GatedLSTM", "LSTM"), ("GatedGRU", "GRU")):
        for (model, init, length), mine in sorted(cells.items()):
            twins = cells.get((builtin, init, length))
            if model != gated or not twins:
                continue
            theirs = {r["seed"]: r["value"] for r in twins}
            pairs = [
                (r["value"], theirs[r["seed"]])
                for r in mine
                if r["seed"] in theirs
            ]
            if not pairs:
                continue
            ours, other = zip(*pairs, strict=True)
            lines.append(
                f"- {gated} vs {builtin} ({init}, T={length}): "
                f"{np.mean(ours):.4f} vs {np.mean(other):.4f}, "
                + paired([a - b for a, b in pairs])
            )
    return lines


def attractor_cells(runs) -> dict:
    """{(model, init, length): {k: accuracies over seeds}} for the runs
    measured on attractor sentences (built-in twins left out: they match
    the gated layers)."""
    found: dict = {}
    for run in runs:
        if "attractors" not in run or run["model"] in ("LSTM", "GRU"):
            continue
        key = (run["model"], run["init"], run["length"])
        for k, value in run["attractors"].items():
            found.setdefault(key, {}).setdefault(int(k), []).append(value)
    return found


def attractor_lines(runs) -> list[str]:
    """A table per length: accuracy (mean and 95% interval over seeds)
    against the number of attractors."""
    cells = attractor_cells(runs)
    lines = []
    for length in sorted({key[2] for key in cells}):
        here = {key: v for key, v in cells.items() if key[2] == length}
        ks = sorted({k for by_k in here.values() for k in by_k})
        lines += [
            f"T = {length}:",
            "",
            "| model | " + " | ".join(f"k = {k}" for k in ks) + " |",
            "|---|" + "---|" * len(ks),
        ]
        for (model, init, _), by_k in sorted(here.items()):
            lines.append(
                f"| {model} ({init}) | "
                + " | ".join(interval(by_k[k]).text(3) for k in ks)
                + " |"
            )
        lines.append("")
    return lines


def attractor_figure(runs, config: Config, output: Path) -> Path:
    """Accuracy against the number of attractors, a panel per length, a
    line per model through the mean of the seeds (each seed a faint dot),
    with chance and the most-recent-noun heuristic."""
    cells = attractor_cells(runs)
    lengths = sorted({key[2] for key in cells})
    names = sorted({(m, i) for m, i, _ in cells})
    figure = Figure(
        figsize=(4.2 * len(lengths) + 1.5, 4.4), layout="constrained"
    )
    axes = np.atleast_1d(figure.subplots(1, len(lengths), sharey=True))
    colors = {name: f"C{i}" for i, name in enumerate(names)}
    for axis, length in zip(axes, lengths, strict=True):
        for name in names:
            by_k = cells.get((*name, length))
            if not by_k:
                continue
            ks = sorted(by_k)
            label = name[0] + ("" if name[1] == "default" else f" ({name[1]})")
            axis.plot(
                ks,
                [np.mean(by_k[k]) for k in ks],
                marker="o",
                color=colors[name],
                label=label,
            )
            dots = [(k, v) for k in ks for v in by_k[k]]
            axis.scatter(
                *zip(*dots, strict=True), s=12, alpha=0.3, color=colors[name]
            )
        ks = sorted(
            {k for key, v in cells.items() if key[2] == length for k in v}
        )
        axis.axhline(0.5, color="grey", linestyle=":", label="chance")
        axis.plot(
            ks,
            [1.0 if k == 0 else 0.0 for k in ks],
            color="grey",
            linestyle="--",
            label="most recent noun",
        )
        axis.set_title(f"clause of T = {length} tokens")
        axis.set_xticks(ks)
        axis.grid(alpha=0.3)
    figure.supxlabel(
        "attractors: clause nouns of the other number than the subject, "
        "nearest the verb"
    )
    axes[0].set_ylabel("test accuracy at the verb")
    axes[0].set_ylim(-0.03, 1.03)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside right center", fontsize=9)
    seeds = max(
        (len(v) for by_k in cells.values() for v in by_k.values()), default=0
    )
    figure.suptitle(
        "Agreement with attractors (Linzen et al. 2016): accuracy against "
        f"the number of attractors, mean of {seeds} seeds"
    )
    path = output / "agreement_attractors.png"
    plots.save_figure(figure, path)
    return path


def write_outputs(store: ResultsStore, config: Config, output: Path) -> tuple:
    """summary.md, the metric-vs-length figure and, for agreement, the gate
    figures. Returns (figure paths, gate facts)."""
    figures = [length_figure(store.runs, config, output)]
    notes, facts = [], {}
    attractors = []
    if get_task(config.task).name == "agreement":
        more, facts = agreement_gate_figures(config, output, store)
        figures += more
        notes = carrier_notes(facts) if facts else []
        if attractor_cells(store.runs):
            figures.append(attractor_figure(store.runs, config, output))
            attractors = attractor_lines(store.runs)
    lines = report.opening(
        f"{config.task}: models against dependency length", store.data
    )
    workers = store.data.get("workers", 1)
    side_by_side = (
        f" Runs trained {workers} at a time, one thread each: seconds per "
        "epoch were measured side by side."
        if workers > 1
        else ""
    )
    lines += [
        f"Config: {config}.{side_by_side}",
        "",
        table(store.runs),
        "## Gated layers against their built-in twins",
        "",
        *twin_gaps(store.runs),
        "",
        "## What this shows",
        "",
        *what_it_shows(store.runs, config),
        "",
    ]
    if attractors:
        lines += [
            "## Attractors",
            "",
            "Accuracy on test sentences whose last k clause nouns (k "
            "attractors) have the "
            "other number than the subject (the others its number); "
            f"{config.attractor_size} sentences per k; {METHOD}.",
            "",
            *attractors,
        ]
    if notes:
        lines += ["## What the gates show", "", *notes, ""]
    lines += ["## Figures", ""] + [f"![{p.stem}]({p.name})" for p in figures]
    report.save(output / "summary.md", lines)
    return figures, facts


def length_figure(runs, config: Config, output: Path) -> Path:
    task = get_task(config.task)
    figure = plots.metric_vs_length(
        runs,
        f"test {task.metric}",
        baseline={L: task.baseline(L) for L in config.lengths},
        title=f"{task.name}: test {task.metric} against distance "
        f"({'at most ' if config.stop_at else ''}{config.epochs} epochs, "
        f"{config.train_size} sequences)",
        higher_is_better=task.higher_is_better,
    )
    path = output / f"{task.name}_vs_length.png"
    plots.save_figure(figure, path)
    return path


def solved(run) -> bool:
    """Accuracy >= 0.9, or a loss at most a tenth (MSE) / half (copy
    cross-entropy) of the chance baseline."""
    if run["metric"] == "accuracy":
        return run["value"] >= 0.9
    if run["metric"] == "mse":
        return run["value"] <= run["baseline"] / 10
    return run["value"] <= run["baseline"] / 2


def what_it_shows(runs, config: Config) -> list[str]:
    """Per model and initialisation, how many seeds solved each length (as
    `solved` defines it); then, per length, the gated models against each
    other from their intervals."""
    lines = []
    cells = by_cell(runs)
    for model, init in sorted({(m, i) for m, i, _ in cells}):
        counts = [
            f"T = {length}: {sum(solved(r) for r in mine)}/{len(mine)}"
            for (m, i, length), mine in sorted(
                cells.items(), key=lambda kv: kv[0][2]
            )
            if (m, i) == (model, init)
        ]
        lines.append(f"- {model} ({init}) solved {'; '.join(counts)}.")
    higher = not runs or runs[0]["metric"] == "accuracy"
    for length in sorted({key[2] for key in cells}):
        here = {
            f"{m} ({i})": cell_interval(mine)
            for (m, i, L), mine in cells.items()
            if L == length and m in ("GatedLSTM", "GatedGRU", "SimpleRNN")
        }
        for a, b in itertools.combinations(sorted(here), 2):
            lines.append(
                f"- T = {length}: "
                + compare(a, here[a], b, here[b], higher=higher)
                + f" ({here[a].text(4)} vs {here[b].text(4)})."
            )
    seeds = max((len(m) for m in cells.values()), default=0)
    lines.append(
        f"- {seeds} seed{'s' if seeds != 1 else ''} per cell "
        f"(seeds {config.seed}..{config.seed + config.seeds - 1}; "
        + ("a new data set per seed" if config.data_seeds else "one data set")
        + f"); intervals: {METHOD}. "
        "Solved means accuracy >= 0.9, or a loss at most a tenth (MSE) or "
        "half (copy) of the chance baseline."
        + (
            f" A run ends after the first epoch whose validation accuracy "
            f"reaches {config.stop_at} (the epochs column: how many ran; a "
            "run of one epoch is timed with its tracing)."
            if config.stop_at
            else ""
        )
    )
    return lines


def agreement_gate_figures(config: Config, output: Path, store=None):
    """Figures of the trained GatedLSTM at `figure_length` on agreement
    sentences, and the facts about its carrier unit (kept in results.json
    so that `--report` can rewrite the page without the model)."""
    candidates = sorted(
        (output / "models").glob(f"GatedLSTM-*-{config.figure_length}.keras")
    )
    stored = (store.data.get("gate_facts") if store else None) or {}
    if not candidates:
        names = ("gates_heatmap", "memory_unit", "saturation")
        kept = [output / f"agreement_{n}.png" for n in names]
        return [p for p in kept if p.exists()], stored
    chrono = [p for p in candidates if "-chrono-" in p.name]
    path = (chrono or candidates)[-1]
    net = keras.saving.load_model(path)
    data = make_splits(
        "agreement",
        config.figure_length,
        (8, 8, 512),
        seed=config.seed + 1,
        noun_rate=config.noun_rate,
    )
    x, y = data["test"]
    gates = extract_gates(net, x)["recurrent"]
    facts = carrier_facts(net, gates, x, y, path.name)
    figures = draw_gate_figures(gates, x, y, facts, config, output)
    if store is not None:
        store.data["gate_facts"] = facts
        store.save()
    return figures, facts


def carrier_facts(net, gates, x, y, model_name: str) -> dict:
    """The unit whose cell state best separates singular from plural at
    the verb, and its gates across the clause, per subject number."""
    separation = stats.class_separation(gates["cell"], y)  # (time, units)
    unit = int(np.argmax(separation[-1]))
    clause = slice(1, -1)
    per_class = [
        {
            name: float(np.nanmean(gates[name][y == label, clause, unit]))
            for name in ("forget", "input")
        }
        for label in (0, 1)
    ]
    return {
        "model": model_name,
        "accuracy": float(
            np.mean((net.predict(x, verbose=0)[:, 0] > 0.5) == y)
        ),
        "unit": unit,
        "separation": {
            "after_subject": float(separation[1, unit]),
            "clause_median": float(np.median(separation[clause, unit])),
            "at_verb": float(separation[-1, unit]),
        },
        "per_class": per_class,
        "final_cell": [
            float(np.mean(np.abs(gates["cell"][y == k, -1, unit])))
            for k in (0, 1)
        ],
        "forget_mean": float(np.nanmean(gates["forget"][:, clause])),
        "units": int(gates["forget"].shape[-1]),
    }


NUMBERS = ("singular", "plural")


def carrier_verdict(facts: dict) -> str:
    """The article's claim (forget near 1, input near 0 keeps the
    information) against the carrier unit."""
    per_class, sep = facts["per_class"], facts["separation"]
    keeper = max((0, 1), key=lambda k: per_class[k]["forget"])
    kept, other = per_class[keeper], per_class[1 - keeper]
    if kept["forget"] > 0.95 and kept["input"] < 0.1:
        verdict = (
            f"holds: after a {NUMBERS[keeper]} subject the carrier unit's "
            f"forget gate stays at {kept['forget']:.3f} and its input gate "
            f"at {kept['input']:.3f}, so c_t ~ c_(t-1) step by step from "
            "the subject to the verb."
        )
        if sep["after_subject"] < 1:
            verdict += (
                " But the subject is not written once and kept: the two "
                "classes are barely apart right after it (d' = "
                f"{sep['after_subject']:.2f}) and drift apart over the clause "
                f"(d' = {sep['at_verb']:.2f} at the verb), as the small input "
                "gate adds a little at every step."
            )
        return verdict
    return (
        "holds partly. The forget gate does keep the information, but not "
        "as the textbook c_t ~ c_(t-1) with the input gate shut: after a "
        f"{NUMBERS[keeper]} subject the forget gate stays at "
        f"{kept['forget']:.2f} while the input gate is {kept['input']:.2f}, "
        "so the cell keeps adding to itself; after a "
        f"{NUMBERS[1 - keeper]} subject the forget gate sits at "
        f"{other['forget']:.2f}. The subject's number is stored in which "
        "regime the unit's gates are in, and the cell state's size tells it "
        "at the verb (see agreement_memory_unit.png)."
    )


def carrier_notes(facts: dict) -> list[str]:
    sep, unit = facts["separation"], facts["unit"]
    notes = [
        f"- Model: {facts['model']}, accuracy {facts['accuracy']:.3f} on 512 "
        "fresh sentences.",
        "- The unit whose cell state best separates singular from plural at "
        f"the verb is unit {unit}: d' = {sep['after_subject']:.2f} right "
        f"after the subject, {sep['clause_median']:.2f} (median) across the "
        f"clause, {sep['at_verb']:.2f} at the verb.",
    ]
    for k in (0, 1):
        gates = facts["per_class"][k]
        notes.append(
            f"- {NUMBERS[k].capitalize()} subjects: its forget gate averages "
            f"{gates['forget']:.3f} across the clause, its input gate "
            f"{gates['input']:.3f}, |c| at the verb "
            f"{facts['final_cell'][k]:.2f}."
        )
    notes += [
        f"- Over all {facts['units']} units the forget gate averages "
        f"{facts['forget_mean']:.3f} across the clause.",
        f"- Verdict on the article's claim: {carrier_verdict(facts)}",
    ]
    return notes


def draw_gate_figures(gates, x, y, facts, config, output) -> list[Path]:
    """The heatmap of one sentence, the carrier unit over 12 sentences,
    and the saturation scatter."""
    unit, init = facts["unit"], facts["model"].split("-")[1]
    tokens = agreement_tokens(x[0])
    heatmap = plots.gate_heatmap(
        {k: v[0] for k, v in gates.items()},
        tokens=tokens,
        title=f"GatedLSTM ({init} init) on one agreement sentence, "
        f"T={config.figure_length}: subject '{tokens[0]}'",
    )
    show = np.concatenate([np.where(y == 0)[0][:6], np.where(y == 1)[0][:6]])
    trace = plots.unit_trace(
        {k: v[show] for k, v in gates.items()},
        unit,
        y[show].astype(int),
        label_names={0: "singular subject", 1: "plural subject"},
        title=f"Unit {unit}, the one whose cell state best separates singular "
        f"from plural at the verb (d' = {facts['separation']['at_verb']:.1f})"
        ": 12 test sentences",
    )
    saturation = plots.saturation(
        gates,
        title=f"GatedLSTM on 512 agreement sentences, T={config.figure_length}",
    )
    figures = []
    for name, figure in (
        ("agreement_gates_heatmap", heatmap),
        ("agreement_memory_unit", trace),
        ("agreement_saturation", saturation),
    ):
        figures.append(output / f"{name}.png")
        plots.save_figure(figure, figures[-1])
    return figures


def command_parser(defaults: Config, description=None, workers=1):
    """The flags of a sweep's command (the main command's among them)."""
    arguments = parser(
        defaults,
        description or __doc__.split("\n")[0],
        output=None,
        choices={"inits": INITS},
        helps=HELPS,
    )
    arguments.add_argument(
        "--workers",
        type=int,
        default=workers,
        help=f"train this many runs at a time, one thread each (default "
        f"{workers}); their seconds per epoch are then measured side by "
        "side",
    )
    arguments.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    return arguments


def main(
    argv=None,
    defaults: Config | None = None,
    description=None,
    module="long_dependency",
    workers=1,
):
    defaults = defaults or Config()
    arguments = command_parser(defaults, description, workers)
    args = arguments.parse_args(argv)
    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    config = config_from(args, defaults)
    get_task(config.task)
    check_model_names(config.models)
    output = Path(args.output or f"results/{config.task}")
    if args.worker is not None:
        keras.utils.set_random_seed(config.seed)
        run_sweep(config, output, verbose=0, worker=args.worker)
        return
    if args.report:
        store = ResultsStore.load(output)
        config = Config(**store.config)
    else:
        keras.utils.set_random_seed(config.seed)
        command = command_line(module, argv)
        if args.workers > 1:
            store = sweep_store(config, output, args.fresh, command)
            print(
                f"{config.task} on {store.data['device']}: "
                f"{args.workers} runs at a time",
                flush=True,
            )
            run_in_workers(
                store,
                module,
                sys.argv[1:] if argv is None else list(argv),
                args.workers,
                RUN_KEYS,
            )
            store.data["workers"] = args.workers
        else:
            store = run_sweep(
                config,
                output,
                fresh=args.fresh,
                verbose=0 if args.quiet else "auto",
                command=command,
            )
            store.data.pop("workers", None)
        store.save()
    figures, _ = write_outputs(store, config, output)
    print(table(store.runs))
    print("\n".join(twin_gaps(store.runs)))
    print(f"wrote {output / 'results.json'}, {output / 'summary.md'} and")
    for path in figures:
        print(f"  {path}")


if __name__ == "__main__":
    main()
