"""The article's claims tested causally: change the gates, watch the verb.

    python -m experiments.interventions              # 5 seeds, ~10 minutes
    python -m experiments.interventions --seeds 2    # a quick pass

The article says the forget gate keeps the information. The correlational
evidence (docs/agreement: a unit whose cell state differs with the
subject's number) does not show that the model uses it. Here a chrono
GatedLSTM is trained on subject-verb agreement (T = 50) once per seed;
the `carriers` units whose cell state best separates singular from plural
at the verb (on the validation set) are found, and on the test set:

- forget gate set to 0 on the carriers right after the subject (step 1):
  their memory of the subject is erased;
- their cell state at the subject patched from the same sentence with the
  subject's number flipped (`dog` <-> `dogs`): does the verb follow?
- forget held at 1 and input at 0 on the carriers from step 1 on ("c_t ~
  c_(t-1) when f ~ 1 and i ~ 0"), on sentences 4 and 8 times longer than
  those trained on, where the untouched model fails;

and each edit again on `controls` random sets of as many non-carrier
units. Lakretz et al. (2019) found two such units in an LSTM language
model whose ablation took long-range agreement to chance.

Writes results/interventions/: results.json, summary.md,
interventions.png. Resumable: finished seeds are kept, an interrupted
training resumes from its last epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from experiments._intervals import METHOD, interval, paired_verdict
from experiments._runner import (
    backup_folder,
    markdown_table,
    open_store,
    page_opening,
    parser,
    run_plan,
    save_page,
)
from experiments._training import train_run
from keras_gates import Clamp, Patch, extract_gates, intervene, plots, stats
from keras_gates.tasks import (
    AGREEMENT_VOCABULARY,
    PLURAL_NOUNS,
    SINGULAR_NOUNS,
    get_task,
    make_splits,
)


@dataclass
class Config:
    length: int = 50
    long_lengths: list = field(default_factory=lambda: [200, 400])
    units: int = 32
    epochs: int = 10
    train_size: int = 4000
    validation_size: int = 500
    test_size: int = 1000
    batch_size: int = 64
    learning_rate: float = 3e-3
    carriers: int = 2
    controls: int = 10
    seed: int = 0
    seeds: int = 5


def flip_subjects(x):
    """The same sentences with the subject's number flipped."""
    ids = {word: k for k, word in enumerate(AGREEMENT_VOCABULARY)}
    pairs = dict(zip(SINGULAR_NOUNS, PLURAL_NOUNS, strict=True))
    swap = {ids[s]: ids[p] for s, p in pairs.items()}
    swap |= {p: s for s, p in swap.items()}
    flipped = x.copy()
    flipped[:, 0] = [swap[int(t)] for t in x[:, 0]]
    return flipped


def accuracy(outputs, y) -> float:
    return float(np.mean((np.asarray(outputs)[:, 0] > 0.5) == y))


def carriers_of(net, x, y, count) -> list[int]:
    """The units whose cell state best separates the classes at the verb."""
    cell = extract_gates(net, x)["recurrent"]["cell"]
    separation = stats.class_separation(cell, y)[-1]
    return [int(u) for u in np.argsort(separation)[::-1][:count]]


def measure(net, units, x, y, long_data) -> dict:
    """Accuracy, flip rate and long-range accuracy with `units` edited."""
    forget0 = {"recurrent": {"forget": Clamp(0.0, units=units, steps=[1])}}
    patch = {
        "recurrent": {"cell": Patch(flip_subjects(x), units=units, steps=[0])}
    }
    result = {
        "forget0": accuracy(intervene(net, x, forget0), y),
        "patched_flips": accuracy(intervene(net, x, patch), 1.0 - y),
    }
    hold = {
        "recurrent": {
            "forget": Clamp(1.0, units=units, steps=slice(1, None)),
            "input": Clamp(0.0, units=units, steps=slice(1, None)),
        }
    }
    for length, (x_long, y_long) in long_data.items():
        result[f"held_{length}"] = accuracy(
            intervene(net, x_long, hold), y_long
        )
    return result


def run_one(config: Config, output: Path, data, long_data, keys) -> dict:
    seed = keys["seed"]
    net, run = train_run(
        "agreement",
        "GatedLSTM",
        data,
        config.length,
        epochs=config.epochs,
        units=config.units,
        init="chrono",
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        seed=seed,
        backup_dir=backup_folder(output, keys),
        verbose=0,
    )
    carriers = carriers_of(net, *data["validation"], config.carriers)
    x, y = data["test"]
    plain = {"plain": accuracy(net.predict(x, verbose=0), y)}
    plain["patched_flips"] = accuracy(net.predict(x, verbose=0), 1.0 - y)
    for length, (x_long, y_long) in long_data.items():
        plain[f"held_{length}"] = accuracy(
            net.predict(x_long, verbose=0), y_long
        )
    rng = np.random.default_rng(1000 + seed)
    others = [u for u in range(config.units) if u not in carriers]
    controls = [
        measure(
            net,
            list(rng.choice(others, config.carriers, False)),
            x,
            y,
            long_data,
        )
        for _ in range(config.controls)
    ]
    return {
        "value": plain["plain"],
        "carriers": carriers,
        "untouched": plain,
        "carrier_edits": measure(net, carriers, x, y, long_data),
        "control_edits": {
            key: float(np.mean([c[key] for c in controls]))
            for key in controls[0]
        },
        "history": run["history"],
        "seconds_per_epoch": run["seconds_per_epoch"],
    }


def rows(runs, config: Config) -> list[dict]:
    """One row per measurement: untouched, carriers edited, random units
    edited, as mean [95% interval] over seeds."""
    measurements = [
        ("forget0", "plain", "accuracy, forget = 0 on the units at step 1"),
        (
            "patched_flips",
            "patched_flips",
            "verbs that follow the patched subject",
        ),
    ] + [
        (
            f"held_{n}",
            f"held_{n}",
            f"accuracy at T = {n}, f = 1 and i = 0 on the units from step 1",
        )
        for n in config.long_lengths
    ]
    found = []
    for key, plain_key, what in measurements:
        untouched = [r["untouched"][plain_key] for r in runs]
        carried = [r["carrier_edits"][key] for r in runs]
        control = [r["control_edits"][key] for r in runs]
        found.append(
            {
                "measurement": what,
                "untouched": interval(untouched).text(),
                "carrier units edited": interval(carried).text(),
                "random units edited": interval(control).text(),
                "carriers - random": paired_verdict(
                    [a - b for a, b in zip(carried, control, strict=True)]
                )[1],
                "_key": key,
                "_values": (untouched, carried, control),
            }
        )
    return found


def verdicts(found) -> list[str]:
    by_key = {row["_key"]: row for row in found}
    lines = []
    untouched, carried, control = by_key["forget0"]["_values"]
    fell = interval([c - u for c, u in zip(carried, untouched, strict=True)])
    chance = interval(carried)
    to_chance = chance.low is not None and chance.low <= 0.5 <= chance.high
    control_change = interval(
        [c - u for c, u in zip(control, untouched, strict=True)]
    )
    lines.append(
        f"- Erasing the carriers' memory of the subject (forget = 0 at step "
        f"1) changes accuracy by {fell.text()}"
        + (" (to chance)" if to_chance else "")
        + f"; the same edit on random units by {control_change.text()}."
    )
    _, carried, control = by_key["patched_flips"]["_values"]
    lines.append(
        f"- Patching the carriers' cell state at the subject from the "
        f"sentence with the other number makes {interval(carried).text()} "
        f"of the verbs follow the patched subject; random units: "
        f"{interval(control).text()}."
    )
    for key, row in by_key.items():
        if not key.startswith("held_"):
            continue
        untouched, carried, control = row["_values"]
        lines.append(
            f"- At T = {key[5:]}: untouched {interval(untouched).text()}, "
            f"carriers held (f = 1, i = 0) {interval(carried).text()}, "
            f"random units held {interval(control).text()}."
        )
    return lines


def figure(found, path: Path) -> Path:
    plots.require_matplotlib("experiments.interventions")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 4.4), layout="constrained")
    axis = fig.subplots()
    names = ["untouched", "carrier units edited", "random units edited"]
    colours = ["#4d4d4d", "#d6604d", "#4393c3"]
    width = 0.26
    for k, (name, colour) in enumerate(zip(names, colours, strict=True)):
        for i, row in enumerate(found):
            values = row["_values"][k]
            found_interval = interval(values)
            mean = found_interval.mean
            low = mean if found_interval.low is None else found_interval.low
            high = mean if found_interval.high is None else found_interval.high
            axis.bar(
                i + (k - 1) * width,
                found_interval.mean,
                width,
                color=colour,
                label=name if i == 0 else None,
                yerr=[[mean - low], [high - mean]],
                capsize=3,
            )
    axis.axhline(0.5, color="black", linestyle=":", linewidth=1, label="chance")
    axis.set_xticks(range(len(found)))
    axis.set_xticklabels(
        ["forget = 0\nafter subject", "patched subject:\nverbs that follow"]
        + [f"f = 1, i = 0\nT = {r['_key'][5:]}" for r in found[2:]]
    )
    axis.set_ylim(0, 1.05)
    axis.set_ylabel("fraction of test sentences")
    axis.set_title(
        "Agreement (GatedLSTM, chrono, trained at T = 50): editing the "
        "carrier units' gates\n(mean and 95% interval over seeds)"
    )
    axis.legend(loc="upper right", fontsize=8, ncols=2)
    plots.save_figure(fig, path)
    return path


def write_page(store, config: Config, output: Path) -> str:
    runs = sorted(store.runs, key=lambda r: r["seed"])
    found = rows(runs, config)
    lines = page_opening(
        "Changing the gates: the article's claims tested causally", store.data
    )
    lines += [
        f"A chrono GatedLSTM ({config.units} units) trained on agreement at "
        f"T = {config.length} for {config.epochs} epochs, seeds "
        f"{config.seed}..{config.seed + config.seeds - 1}; the "
        f"{config.carriers} units whose cell state best separates singular "
        f"from plural at the verb (validation set) edited on the 1000 test "
        f"sentences, and the same edit on {config.controls} random sets of "
        f"{config.carriers} other units (their mean). {METHOD}.",
        "",
        markdown_table(
            [
                {k: v for k, v in r.items() if not k.startswith("_")}
                for r in found
            ],
            [
                "measurement",
                "untouched",
                "carrier units edited",
                "random units edited",
                "carriers - random",
            ],
        ),
        "Carrier units per seed: "
        + "; ".join(f"seed {r['seed']}: {r['carriers']}" for r in runs)
        + ".",
        "",
        "## What it shows",
        "",
        *verdicts(found),
        "",
        f"![interventions]({figure(found, output / 'interventions.png').name})",
        "",
    ]
    return save_page(output / "summary.md", lines)


def main(argv=None):
    args = parser(
        Config(), "Interventions on agreement", "results/interventions"
    ).parse_args(argv)
    store, config = open_store(args, Config(), "interventions", argv)
    output = Path(args.output)
    if not args.report:
        sizes = (config.train_size, config.validation_size, config.test_size)
        data = make_splits("agreement", config.length, sizes, seed=config.seed)
        task = get_task("agreement")
        rng = np.random.default_rng(config.seed + 500)
        long_data = {
            n: task.make(config.test_size, n, rng) for n in config.long_lengths
        }
        plan = [
            {"seed": s} for s in range(config.seed, config.seed + config.seeds)
        ]
        run_plan(
            store,
            plan,
            lambda keys: run_one(config, output, data, long_data, keys),
            lambda run: (
                f"accuracy {run['value']:.3f}, carriers {run['carriers']}"
            ),
        )
    print(write_page(store, config, output))


if __name__ == "__main__":
    main()
