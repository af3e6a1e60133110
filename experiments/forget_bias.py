"""The LSTM's forget-gate bias: 0, 1 or chrono, against the GRU.

    python -m experiments.forget_bias            # 3 seeds, about 15 minutes
    python -m experiments.forget_bias --seeds 5

Jozefowicz, Zaremba & Sutskever (2015, "An Empirical Exploration of
Recurrent Network Architectures") found that "adding a bias of 1 to the
LSTM's forget gate closes the gap between the LSTM and the GRU". Here a
GatedLSTM with every bias 0 ("forget0"), with Keras's forget bias 1
("default") and with Chrono (Tallec & Ollivier 2018) is trained beside a
GatedGRU (Keras's defaults) on adding (T = 200) and agreement (T = 100),
with the same data, budget and seeds; the gaps are paired by seed.

Writes results/forget_bias/: results.json, summary.md. Resumable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from experiments import _report as report
from experiments._intervals import METHOD, paired, paired_verdict
from experiments._long_dependency import solved, table
from experiments._runner import (
    backup_folder,
    open_store,
    parser,
    run_plan,
)
from experiments._training import train_run
from keras_gates.tasks import get_task, make_splits

SETTINGS = [
    ("GatedLSTM", "forget0"),
    ("GatedLSTM", "default"),
    ("GatedLSTM", "chrono"),
    ("GatedGRU", "default"),
]
# (a, b, what the difference a - b says)
GAPS = [
    (
        ("GatedLSTM", "default"),
        ("GatedLSTM", "forget0"),
        "the forget bias of 1 against 0",
    ),
    (
        ("GatedLSTM", "forget0"),
        ("GatedGRU", "default"),
        "the LSTM with forget bias 0 against the GRU",
    ),
    (
        ("GatedLSTM", "default"),
        ("GatedGRU", "default"),
        "the LSTM with forget bias 1 against the GRU",
    ),
    (
        ("GatedLSTM", "chrono"),
        ("GatedLSTM", "default"),
        "chrono against the forget bias of 1",
    ),
]


@dataclass
class Config:
    tasks: list = field(default_factory=lambda: ["adding", "agreement"])
    adding_length: int = 200
    agreement_length: int = 100
    units: int = 32
    epochs: int = 10
    train_size: int = 4000
    validation_size: int = 500
    test_size: int = 1000
    batch_size: int = 64
    learning_rate: float = 3e-3
    seed: int = 0
    seeds: int = 3


def length_of(task: str, config: Config) -> int:
    return config.adding_length if task == "adding" else config.agreement_length


def planned_runs(config: Config) -> list[dict]:
    return [
        {"task": task, "model": model, "init": init, "seed": seed}
        for seed in range(config.seed, config.seed + config.seeds)
        for task in config.tasks
        for model, init in SETTINGS
    ]


def run_all(store, config: Config, output: Path) -> None:
    cache: dict = {}

    def run_one(keys):
        task, length = keys["task"], length_of(keys["task"], config)
        if task not in cache:
            cache.clear()
            sizes = (
                config.train_size,
                config.validation_size,
                config.test_size,
            )
            cache[task] = make_splits(
                get_task(task), length, sizes, seed=config.seed
            )
        _, run = train_run(
            task,
            keys["model"],
            cache[task],
            length,
            epochs=config.epochs,
            units=config.units,
            init=keys["init"],
            batch_size=config.batch_size,
            learning_rate=config.learning_rate,
            seed=keys["seed"],
            backup_dir=backup_folder(output, keys),
            verbose=0,
        )
        return run

    def describe(run):
        return (
            f"{run['metric']} {run['value']:.4f} (chance {run['baseline']:.4f})"
        )

    run_plan(store, planned_runs(config), run_one, describe)


def gaps(runs, task: str) -> list[tuple]:
    """Each gap of `GAPS` on `task`, paired by seed: (first, second, what,
    differences, verdict), the verdict "better"/"worse" for the first
    setting (by the task's metric) when the interval excludes 0, else
    "not resolved"."""
    higher = get_task(task).higher_is_better
    cells: dict = {}
    for run in runs:
        if run["task"] == task:
            key = (run["model"], run["init"])
            cells.setdefault(key, {})[run["seed"]] = run["value"]
    found = []
    for first, second, what in GAPS:
        a, b = cells.get(first, {}), cells.get(second, {})
        seeds = sorted(set(a) & set(b))
        if not seeds:
            continue
        differences = [a[s] - b[s] for s in seeds]
        _, verdict = paired_verdict(differences, higher)
        if verdict not in ("better", "worse"):
            verdict = "not resolved"
        found.append((first, second, what, differences, verdict))
    return found


def gap_lines(found) -> list[str]:
    return [
        f"- {what}: {paired(differences)}; "
        + (
            f"{first[0]} ({first[1]}) {verdict}"
            if verdict != "not resolved"
            else f"not resolved at {len(differences)} seed(s)"
        )
        + "."
        for first, _, what, differences, verdict in found
    ]


def gap_verdict(found) -> str:
    """Whether the forget bias of 1 closed the LSTM's gap to the GRU."""
    verdicts = {(a, b): v for a, b, _, _, v in found}
    zero = verdicts.get((("GatedLSTM", "forget0"), ("GatedGRU", "default")))
    one = verdicts.get((("GatedLSTM", "default"), ("GatedGRU", "default")))
    if zero is None or one is None:
        return "not measured"
    if zero == "worse" and one != "worse":
        return "the gap closes (bias 0: LSTM worse than the GRU; bias 1: not)"
    if zero == "worse":
        return "the gap stays (the LSTM is worse than the GRU with either bias)"
    return (
        "no gap to close: with bias 0 the LSTM was "
        + ("better than" if zero == "better" else "not resolved from")
        + " the GRU"
    )


def failures(runs, task: str) -> str:
    """A warning when neither forget bias solved a seed of `task`: the
    comparison is then between failures."""
    lstm = [
        r
        for r in runs
        if r["task"] == task
        and r["model"] == "GatedLSTM"
        and r["init"] in ("forget0", "default")
    ]
    if lstm and not any(solved(r) for r in lstm):
        return (
            f" Neither forget bias solved any of its {len(lstm)} runs at "
            "this length, so this compares failures; the paper's claim is "
            "about models that learn."
        )
    return ""


def write_page(store, config: Config, output: Path) -> str:
    runs = store.runs
    lines = report.opening(
        "The LSTM's forget-gate bias against the GRU (Jozefowicz et al.)",
        store.data,
    )
    lines += [
        f"GatedLSTM with every bias 0 (forget0), with Keras's forget bias 1 "
        f"(default) and with Chrono; GatedGRU with Keras's defaults. "
        f"{config.units} units, {config.epochs} epochs on "
        f"{config.train_size} sequences, seeds {config.seed}.."
        f"{config.seed + config.seeds - 1} (weights and data order; one "
        f"data set). Differences are paired by seed; {METHOD}. Adding: MSE "
        "(lower is better); agreement: accuracy.",
        "",
    ]
    for task in config.tasks:
        mine = [r for r in runs if r["task"] == task]
        if not mine:
            continue
        lines += [
            f"## {task} (T = {length_of(task, config)})",
            "",
            table(mine),
            *gap_lines(gaps(runs, task)),
            "",
        ]
    lines += [
        "## Against the paper",
        "",
        'Jozefowicz et al. (2015), abstract: "We found that adding a bias '
        "of 1 to the LSTM's forget gate closes the gap between the LSTM and "
        'the GRU" (their tasks: arithmetic, XML modelling, Penn Treebank '
        "language modelling, music; architectures searched with many "
        "hyperparameters each). Here the gap closes on a task when the "
        "LSTM with forget bias 0 is resolved worse than the GRU and the "
        "LSTM with forget bias 1 is not:",
        "",
        *[
            f"- {task}: {gap_verdict(gaps(runs, task))}." + failures(runs, task)
            for task in config.tasks
        ],
        "",
    ]
    return report.save(output / "summary.md", lines)


def main(argv=None):
    args = parser(
        Config(), "Forget-gate bias 0, 1 or chrono", "results/forget_bias"
    ).parse_args(argv)
    store, config = open_store(args, Config(), "forget_bias", argv)
    unknown = [t for t in config.tasks if t not in ("adding", "agreement")]
    if unknown:
        raise ValueError(
            f"--tasks: unknown {unknown}; expected 'adding' and/or 'agreement'"
        )
    output = Path(args.output)
    if not args.report:
        print(f"forget_bias on {store.data['device']}", flush=True)
        run_all(store, config, output)
    print(write_page(store, config, output))


if __name__ == "__main__":
    main()
