"""Layer normalisation, zoneout and recurrent DropConnect on the
character-level language model, against the standard gated LSTM.

    python -m experiments.char_lm_cells                # 3 seeds
    python -m experiments.char_lm_cells --seeds 1      # a quick pass

The model of `experiments.char_lm` (two 128-unit GatedLSTM layers on the
Python standard library's source), trained with each option at the same
budget (the same batches, steps and learning rate), seed by seed:

- `standard`: the gated LSTM as Keras's;
- `layer_norm`: `layer_norm=True` (Ba, Kiros & Hinton 2016);
- `zoneout`: `zoneout=(0.05, 0.5)` (p_h, p_c; Krueger et al. 2017's best
  setting for character-level Penn Treebank);
- `dropconnect`: `recurrent_dropconnect=0.25` (AWD-LSTM's weight drop,
  the rate Merity et al. 2018 use at the character level).

Also trains a 32-unit GatedLSTM (chrono gate biases) with each option on
subject-verb agreement at T = 200 (Linzen et al. 2016).

Measures bits per character on the held-out files (mean and 95% interval
over seeds, and each option's paired difference from the standard layer),
the validation curve, seconds per epoch, and Karpathy et al.'s (2015) gate
saturation: per layer and gate, the share of steps a unit's gate is below
0.1 or above 0.9, on held-out excerpts; and the gradient map: how much of
the last character's loss gradient reaches the input k steps back.

Writes results/char_lm_cells/: results.json, summary.md and
char_lm_cells.png. Resumes where it stopped (the run in progress from its
last epoch).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import keras
import numpy as np
from matplotlib.figure import Figure

from experiments import _char_data as text
from experiments import _report as report
from experiments._char_model import (
    ModelConfig,
    bits_per_character,
    corpus_for,
    joined,
    padded_gates,
    train,
)
from experiments._intervals import METHOD, interval
from experiments._runner import (
    backup_folder,
    command,
    run_plan,
)
from experiments._training import train_run
from keras_gates._autodiff import value_and_gradients
from keras_gates.tasks import make_splits

OPTIONS = {
    "standard": {},
    "layer_norm": {"layer_norm": True},
    "zoneout": {"zoneout": [0.05, 0.5]},
    "dropconnect": {"recurrent_dropconnect": 0.25},
}
GATES = ("input", "forget", "output")
LOW, HIGH = 0.1, 0.9


@dataclass
class Config(ModelConfig):
    options: list = field(default_factory=lambda: list(OPTIONS))
    # Half char_lm's budget: 3 seeds of 4 options in about an hour.
    steps: int = 2000
    map_length: int = 300
    map_windows: int = 32
    # Agreement (Linzen et al. 2016) at T = agreement_length: a GatedLSTM
    # of `agreement_units` with chrono gate biases, each option.
    agreement_length: int = 200
    agreement_units: int = 32
    agreement_epochs: int = 10
    agreement_train_size: int = 4000
    agreement_test_size: int = 1000
    seed: int = 0
    seeds: int = 3


def saturation(gates: dict) -> dict:
    """{layer: {gate: share of (step, unit) entries < 0.1 or > 0.9}}."""
    return {
        layer: {
            gate: float(np.mean((values[gate] < LOW) | (values[gate] > HIGH)))
            for gate in GATES
        }
        for layer, values in gates.items()
    }


def gradient_map(model, ids, config) -> list[float]:
    """The gradient reaching each input step from the last step's loss,
    relative to the last step's own: `ratio[k]` = mean over windows of
    ||d loss_T / d e_(T-k)|| over the same at k = 0, where e is the
    embedding and loss_T the last character's cross-entropy; windows of
    `map_length` held-out characters."""
    length = config.map_length
    starts = np.linspace(0, len(ids) - length - 2, config.map_windows)
    windows = np.stack([ids[int(s) : int(s) + length + 1] for s in starts])
    embedded = model.layers[0](windows[:, :-1])
    targets = keras.ops.convert_to_tensor(windows[:, -1])

    def last_loss(arguments):
        hidden = arguments[0]
        for layer in model.layers[1:]:
            hidden = layer(hidden)
        return keras.ops.sum(
            keras.losses.sparse_categorical_crossentropy(
                targets, hidden[:, -1], from_logits=True
            )
        )

    _, (grad,) = value_and_gradients(last_loss, [embedded])
    norms = np.linalg.norm(grad, axis=-1).mean(axis=0)[::-1]
    return [float(v) for v in norms / norms[0]]


def agreement_run(keys, data, config, output) -> dict:
    """The option's GatedLSTM trained on agreement at T =
    `agreement_length`; its test accuracy."""
    _, run = train_run(
        "agreement",
        "GatedLSTM",
        data,
        config.agreement_length,
        epochs=config.agreement_epochs,
        units=config.agreement_units,
        init="chrono",
        seed=keys["seed"],
        backup_dir=backup_folder(output, keys),
        verbose=0,
        layer_options=OPTIONS[keys["option"]],
    )
    return run


def run_one(keys, data, excerpts, config, output, verbose) -> dict:
    seeded = replace(config, seed=keys["seed"])
    options = OPTIONS[keys["option"]]
    model, seconds, validation = train(
        "GatedLSTM",
        data,
        seeded,
        backup_folder(output, keys),
        verbose,
        options,
    )
    return {
        "metric": "test bits per character",
        "value": bits_per_character(model, text.encode(data["test"])),
        "validation_history": validation,
        "seconds_per_epoch": float(np.median(seconds)) if seconds else None,
        "params": int(model.count_params()),
        "saturation": saturation(
            joined(padded_gates(model, excerpts), excerpts)
        ),
        "gradient_map": gradient_map(model, text.encode(data["test"]), config),
        "layer_options": options,
    }


# -- the page ------------------------------------------------------------


def by_option(store, task="char_lm") -> dict:
    """{option: runs of `task` sorted by seed}, in `OPTIONS` order."""
    found = {}
    for name in OPTIONS:
        runs = sorted(
            (
                r
                for r in store.runs
                if r["option"] == name and r.get("task", "char_lm") == task
            ),
            key=lambda r: r["seed"],
        )
        if runs:
            found[name] = runs
    return found


def paired_to_standard(found: dict, name: str, value, higher=False) -> tuple:
    """(interval of `value(option run) - value(standard run)` over the seeds
    both have, verdict; lower better unless `higher`)."""
    return report.against(found[name], found["standard"], value, higher)


def paired_text(found: dict, name: str, higher: bool) -> str | None:
    """The paired difference of `name`'s values from the standard
    layer's, with its interval and verdict; None for the standard."""
    if name == "standard" or "standard" not in found:
        return None
    gap, verdict = paired_to_standard(found, name, lambda r: r["value"], higher)
    if gap.low is None:
        return verdict
    return f"{gap.mean:+.3f} [{gap.low:+.3f}, {gap.high:+.3f}]: {verdict}"


def bits_rows(found: dict) -> list[dict]:
    rows = []
    for name, runs in found.items():
        row = {
            "option": f"`{name}`",
            "test bits per character": interval(
                [r["value"] for r in runs]
            ).text(3),
            "against standard (paired)": paired_text(found, name, False),
            "seeds": len(runs),
            "parameters": runs[0]["params"],
            "s/epoch": float(np.median([r["seconds_per_epoch"] for r in runs])),
        }
        rows.append(row)
    return rows


def agreement_rows(found: dict) -> list[dict]:
    rows = []
    for name, runs in found.items():
        row = {
            "option": f"`{name}`",
            "test accuracy": interval([r["value"] for r in runs]).text(3),
            "against standard (paired)": paired_text(found, name, True),
            "solved (> 0.9)": sum(r["value"] > 0.9 for r in runs),
            "seeds": len(runs),
            "s/epoch": float(np.median([r["seconds_per_epoch"] for r in runs])),
        }
        rows.append(row)
    return rows


def saturation_rows(found: dict) -> list[dict]:
    rows = []
    layers = sorted(next(iter(found.values()))[0]["saturation"])
    for layer in layers:
        for gate in GATES:
            row = {"layer": layer, "gate": gate}
            for name, runs in found.items():
                row[name] = interval(
                    [r["saturation"][layer][gate] for r in runs]
                ).text(3)
            rows.append(row)
    return rows


DISTANCES = (10, 50, 100, 250)


def map_rows(found: dict) -> list[dict]:
    """log10 of the gradient ratio at each distance, per option."""
    rows = []
    for name, runs in found.items():
        row = {"option": f"`{name}`"}
        for k in DISTANCES:
            values = [
                np.log10(r["gradient_map"][k])
                for r in runs
                if len(r["gradient_map"]) > k
            ]
            row[f"k = {k}"] = interval(values).text(2) if values else None
        rows.append(row)
    return rows


def sorted_verdicts(found: dict, unit: str, higher: bool) -> str:
    """Each option's paired verdict against the standard layer, grouped."""
    return report.verdicts(
        {
            name: paired_to_standard(found, name, lambda r: r["value"], higher)
            for name in found
            if name != "standard"
        },
        unit,
    )


def meaning(found: dict) -> list[str]:
    """Which option, if any, beats the standard layer at equal budget, and
    what layer normalisation did to saturation."""
    if "standard" not in found or len(found) < 2:
        return [
            "- Nothing to compare: the standard layer or the options "
            "are missing."
        ]
    lines = [
        "- Character level, at equal budget, against the standard layer "
        "(bits per character, paired interval apart from 0): "
        + sorted_verdicts(found, "bits", higher=False)
    ]
    if "layer_norm" in found:
        layer_names = sorted(found["standard"][0]["saturation"])
        changes = []
        for layer in layer_names:
            for gate in GATES:
                gap, verdict = paired_to_standard(
                    found,
                    "layer_norm",
                    lambda r, L=layer, g=gate: r["saturation"][L][g],
                )
                changes.append(
                    f"{layer} {gate} {gap.mean:+.3f} ("
                    + {"better": "less", "worse": "more"}.get(verdict, verdict)
                    + ")"
                )
        gaps = []
        for k in DISTANCES:
            if len(found["standard"][0]["gradient_map"]) <= k:
                continue
            gap, verdict = paired_to_standard(
                found,
                "layer_norm",
                lambda r, k=k: -np.log10(r["gradient_map"][k]),
            )
            gaps.append(
                f"k = {k}: {-gap.mean:+.2f} ("
                + {"better": "more reaches", "worse": "less reaches"}.get(
                    verdict, verdict
                )
                + ")"
            )
        lines.append(
            "- Layer normalisation against the standard layer, log10 of the "
            "gradient reaching k steps back (paired by seed): "
            + "; ".join(gaps)
            + "."
        )
        lines.append(
            "- Layer normalisation against the standard layer, share of "
            "saturated gate values (paired by seed; less or more where the "
            "interval excludes 0): " + "; ".join(changes) + "."
        )
    return lines


def figure(found: dict, steps_per_epoch: int) -> Figure:
    fig = Figure(figsize=(11, 8), layout="constrained")
    (bits, curves), (saturated, reach) = fig.subplots(2, 2)
    names = list(found)
    colours = dict(
        zip(
            OPTIONS,
            ("black", "tab:blue", "tab:orange", "tab:green"),
            strict=True,
        )
    )
    for position, name in enumerate(names):
        values = [r["value"] for r in found[name]]
        found_interval = interval(values)
        bits.scatter(
            [position] * len(values),
            values,
            color=colours[name],
            alpha=0.5,
            s=18,
        )
        if found_interval.low is not None:
            bits.errorbar(
                position + 0.15,
                found_interval.mean,
                yerr=[
                    [found_interval.mean - found_interval.low],
                    [found_interval.high - found_interval.mean],
                ],
                fmt="o",
                color=colours[name],
                capsize=4,
            )
        history = np.array([r["validation_history"] for r in found[name]])
        curves.plot(
            np.arange(1, history.shape[1] + 1),
            history.mean(0),
            color=colours[name],
            marker="o",
            label=name,
        )
    bits.set_xticks(range(len(names)), names, rotation=20)
    bits.set_ylabel("test bits per character (lower is better)")
    bits.set_title("Held-out bits per character\n(seeds; mean, 95% interval)")
    curves.set_xlabel(f"epoch ({steps_per_epoch} batches)")
    curves.xaxis.get_major_locator().set_params(integer=True)
    curves.set_ylabel("validation bits per character")
    curves.set_title("Validation, mean over seeds")
    curves.legend()
    layer_names = sorted(found[names[0]][0]["saturation"])
    labels = [
        f"{layer[-1]}:{gate[0]}" for layer in layer_names for gate in GATES
    ]
    width = 0.8 / len(names)
    for k, name in enumerate(names):
        means = [
            np.mean([r["saturation"][layer][gate] for r in found[name]])
            for layer in layer_names
            for gate in GATES
        ]
        saturated.bar(
            np.arange(len(labels)) + k * width,
            means,
            width,
            color=colours[name],
            label=name,
        )
    saturated.set_xticks(
        np.arange(len(labels)) + 0.4 - width / 2, labels, fontsize=9
    )
    saturated.set_xlabel("layer:gate (i input, f forget, o output)")
    saturated.set_ylabel("share of values < 0.1 or > 0.9")
    saturated.set_title("Gate saturation (Karpathy et al.)")
    saturated.legend(fontsize=8)
    for name in names:
        ratios = np.array([r["gradient_map"] for r in found[name]])
        reach.semilogy(
            np.exp(np.log(ratios).mean(0)), color=colours[name], label=name
        )
    reach.set_xlabel("k, steps back from the last character")
    reach.set_ylabel("gradient reaching step T - k / at T")
    reach.set_title("Gradient map (geometric mean over seeds)")
    reach.legend(fontsize=8)
    return fig


def agreement_section(found: dict, config: dict) -> list[str]:
    if not found:
        return []
    return report.section(
        f"Agreement at T = {config['agreement_length']}",
        f"A {config['agreement_units']}-unit GatedLSTM with chrono gate "
        f"biases per option, {config['agreement_epochs']} epochs on "
        f"{config['agreement_train_size']} sentences (one data set), test "
        f"accuracy on {config['agreement_test_size']} (chance 0.5); paired: "
        "the per-seed difference from the standard layer, higher is better.",
        report.table(agreement_rows(found)),
        "Against the standard layer (accuracy, paired interval apart from "
        "0): " + sorted_verdicts(found, "accuracy", higher=True),
    )


def write_page(store, output: Path) -> str:
    found = by_option(store)
    config = store.config
    intro = (
        f"Two {config['units']}-unit GatedLSTM layers on the Python standard "
        "library's source (the model and text of `experiments.char_lm`), "
        f"{config['steps']} batches of {config['batch_size']} windows of "
        f"{config['length']} characters per run, the same batches for every "
        "option of a seed; bits per character on the held-out files with at "
        f"least 128 characters of context. {METHOD}; paired: the per-seed "
        "difference from the standard layer, lower is better."
    )
    options = "; ".join(f"`{name}` = `{OPTIONS[name]}`" for name in found)
    lines = [
        *report.opening(
            "Layer normalisation, zoneout and DropConnect on the "
            "character-level language model",
            store.data,
        ),
        intro,
        "",
        f"Options: {options}.",
        "",
        *report.section("Bits per character", report.table(bits_rows(found))),
        *report.section(
            "Gate saturation",
            "Share of (step, unit) values below 0.1 or above 0.9 on the "
            "held-out excerpts, mean [95% interval] over seeds:",
            report.table(saturation_rows(found)),
        ),
        *report.section(
            "The gradient map",
            "log10 of the gradient that reaches the input k steps before "
            "the last (the last character's loss; embedding, norm over "
            f"features, mean over {config['map_windows']} held-out windows "
            f"of {config['map_length']} characters) relative to the last "
            "step's own, mean [95% interval] over seeds:",
            report.table(map_rows(found)),
        ),
        *agreement_section(by_option(store, "agreement"), config),
        *report.section(
            "What it shows",
            [
                *meaning(found),
                "- The runs are short (the budget fits a 2-core CPU): "
                "regularisers that pay off late in training, as zoneout and "
                "DropConnect do in Krueger et al. and Merity et al., are "
                "measured here early.",
            ],
            report.figure("bits, curves and saturation", "char_lm_cells.png"),
        ),
    ]
    figure(found, config["steps_per_epoch"]).savefig(
        output / "char_lm_cells.png", dpi=120
    )
    return report.save(output / "summary.md", lines)


def run_all(store, config, output, args):
    data, excerpts = corpus_for(store, config)
    sizes = (config.agreement_train_size, 500, config.agreement_test_size)
    sentences = make_splits(
        "agreement", config.agreement_length, sizes, seed=config.seed
    )
    plan = [
        {"task": task, "seed": seed, "option": name}
        for seed in range(config.seed, config.seed + config.seeds)
        for task in ("char_lm", "agreement")
        for name in config.options
    ]

    def one(keys):
        if keys["task"] == "agreement":
            return agreement_run(keys, sentences, config, output)
        verbose = 2 if args.quiet else "auto"
        return run_one(keys, data, excerpts, config, output, verbose)

    run_plan(
        store, plan, one, lambda run: f"{run['metric']} {run['value']:.3f}"
    )


def main(argv=None):
    command(
        argv,
        Config(),
        "char_lm_cells",
        __doc__.splitlines()[0],
        run_all,
        lambda store, config, output: write_page(store, output),
        choices={"options": list(OPTIONS)},
    )


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
