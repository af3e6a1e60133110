"""The page of `experiments.char_lm`: tables, figures and what they show,
from results.json alone (`python -m experiments.char_lm --report`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from experiments import _report as report
from experiments._char_data import FEATURES
from keras_gates import plots

# A unit "tracks" a feature when |r| >= TRACKS and beats the best unit of
# the untrained network by at least MARGIN.
TRACKS, MARGIN = 0.5, 0.2

KARPATHY = (
    "Karpathy, Johnson & Fei-Fei (2015) trained 1-3 layer LSTMs, GRUs and "
    "RNNs of up to about 3.4M parameters on War and Peace (3.3M "
    "characters) and the Linux kernel source (6.2M characters); their best "
    "network against a 20-gram model: 1.077 against 1.195 (War and Peace) "
    "and 0.84 against 0.889 (Linux), test cross-entropy per character as "
    "they print it. They found single cells that track line length, "
    "quotes, brackets and indentation, and read their gates as: no forget "
    "gate nearly always left-saturated (no cell that works purely "
    "feed-forward), some forget gates right-saturated most of the time "
    "(cells that remember for long), and first-layer gates rarely "
    "saturated. They give no correlations for their cells."
)


def runs_by_model(store) -> dict:
    return {run["model"]: run for run in store.runs}


def bits_table(runs: dict) -> tuple[str, list[str]]:
    rows = []
    ngram = runs.get("n-gram")
    if ngram:
        for order, found in ngram["orders"].items():
            label = "unigram" if order == "1" else f"{order}-gram"
            rows.append(
                {
                    "model": f"{label} (Witten-Bell)",
                    "bits per character": found["test"],
                    "validation": found["validation"],
                }
            )
    for name, run in runs.items():
        if name == "n-gram":
            continue
        rows.append(
            {
                "model": f"{name}, 2 layers",
                "bits per character": run["value"],
                "validation": run["validation_history"][-1],
                "parameters": run["params"],
                "s/epoch": run["seconds_per_epoch"],
            }
        )
    columns = [
        "model",
        "bits per character",
        "validation",
        "parameters",
        "s/epoch",
    ]
    notes = []
    if ngram:
        best = ngram["best_order"]
        notes.append(
            f"The n-gram order with the best validation score is {best} "
            f"({ngram['value']:.3f} bits per character on the test files)."
        )
        for name, run in runs.items():
            if name != "n-gram":
                verdict = (
                    "beats"
                    if run["value"] < ngram["value"]
                    else ("does not beat")
                )
                notes.append(
                    f"{name}: {run['value']:.3f} bits per character, "
                    f"{verdict} the {best}-gram by "
                    f"{abs(ngram['value'] - run['value']):.3f}."
                )
    return report.table(rows, columns), notes


def learning_curves(runs: dict, steps_per_epoch: int) -> Figure:
    figure = Figure(figsize=(7.5, 4.2))
    axes = figure.subplots()
    for name, run in runs.items():
        if name == "n-gram":
            continue
        history = run["validation_history"]
        steps = steps_per_epoch * (np.arange(len(history)) + 1)
        axes.plot(steps, history, marker="o", label=name)
    ngram = runs.get("n-gram")
    if ngram:
        order = str(ngram["best_order"])
        axes.axhline(
            ngram["orders"][order]["validation"],
            color="grey",
            ls="--",
            label=f"{order}-gram",
        )
        if "1" in ngram["orders"]:
            axes.axhline(
                ngram["orders"]["1"]["validation"],
                color="grey",
                ls=":",
                label="unigram",
            )
    axes.set_xlabel("training batches")
    axes.set_ylabel("bits per character (validation files)")
    axes.set_title("Character-level models of Python source: validation")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    return figure


def saturation_figure(runs: dict) -> Figure:
    """Karpathy et al.'s saturation scatter per model and layer."""
    models = [name for name in runs if name != "n-gram"]
    layers = sorted(runs[models[0]]["saturation"]) if models else []
    figure = Figure(figsize=(4.2 * max(len(layers), 1), 3.9 * len(models)))
    grid = figure.subplots(len(models), len(layers), squeeze=False)
    colours = {
        "input": "C0",
        "forget": "C1",
        "output": "C2",
        "update": "C3",
        "reset": "C4",
    }
    for row, name in enumerate(models):
        for column, layer in enumerate(layers):
            axes = grid[row][column]
            for gate, found in runs[name]["saturation"][layer].items():
                axes.scatter(
                    found["left"],
                    found["right"],
                    s=10,
                    alpha=0.6,
                    color=colours[gate],
                    label=gate,
                )
            axes.plot([0, 1], [1, 0], color="grey", lw=0.6)
            axes.set_xlim(0, 1)
            axes.set_ylim(0, 1)
            axes.set_title(f"{name}, {layer}")
            axes.set_xlabel("fraction left-saturated (< 0.1)")
            axes.set_ylabel("fraction right-saturated (> 0.9)")
            axes.legend(fontsize=8, loc="upper right")
    figure.suptitle("Gate saturation per unit on held-out files")
    figure.tight_layout()
    return figure


def saturation_rows(runs: dict) -> list[dict]:
    """Per model, layer and gate: how many units are left- or right-
    saturated on more than half of the steps, and the mean share of
    steps saturated either way."""
    rows = []
    for name, run in runs.items():
        for layer, gates in run.get("saturation", {}).items():
            for gate, found in gates.items():
                left, right = np.array(found["left"]), np.array(found["right"])
                rows.append(
                    {
                        "model": name,
                        "layer": layer,
                        "gate": gate,
                        "units": len(left),
                        "mostly shut (> 50% left)": int((left > 0.5).sum()),
                        "mostly open (> 50% right)": int((right > 0.5).sum()),
                        "mean share saturated": float((left + right).mean()),
                    }
                )
    return rows


def saturation_notes(rows: list[dict]) -> list[str]:
    """Karpathy et al.'s readings, checked on these numbers."""
    notes = []
    for name in dict.fromkeys(row["model"] for row in rows):
        mine = [row for row in rows if row["model"] == name]
        forget = [r for r in mine if r["gate"] in ("forget", "update")]
        shut = sum(r["mostly shut (> 50% left)"] for r in forget)
        opened = sum(r["mostly open (> 50% right)"] for r in forget)
        share = {
            layer: np.mean(
                [r["mean share saturated"] for r in mine if r["layer"] == layer]
            )
            for layer in ("layer_1", "layer_2")
        }
        gate = "forget" if name.endswith("LSTM") else "update (z)"
        notes.append(
            f"{name}: {opened} {gate} gates mostly open and {shut} mostly "
            f"shut (of {sum(r['units'] for r in forget)}); gates saturated "
            f"on {share['layer_1']:.0%} of steps in layer_1 and "
            f"{share['layer_2']:.0%} in layer_2 (mean over units and gates)."
        )
    return notes


def feature_rows(runs: dict) -> list[dict]:
    rows = []
    for name, run in runs.items():
        if name == "n-gram":
            continue
        for feature in FEATURES:
            best = run["best_units"][feature]
            control = run["control_units"][feature]
            tracked = (
                abs(best["r"]) >= TRACKS
                and abs(best["r"]) - abs(control["r"]) >= MARGIN
            )
            rows.append(
                {
                    "model": name,
                    "feature": feature,
                    "unit": f"{best['layer']} unit {best['unit']}",
                    "r": best["r"],
                    "untrained best r": control["r"],
                    "tracked": "yes" if tracked else "no",
                    "page": f"[open]({run['pages'][feature]})",
                }
            )
    return rows


def feature_figure(rows: list[dict]) -> Figure:
    models = list(dict.fromkeys(row["model"] for row in rows))
    figure = Figure(figsize=(8.5, 3.6 * len(models)))
    grid = figure.subplots(len(models), 1, squeeze=False)
    for axes, name in zip(grid[:, 0], models, strict=True):
        mine = [row for row in rows if row["model"] == name]
        x = np.arange(len(mine))
        axes.bar(x - 0.2, [abs(r["r"]) for r in mine], 0.4, label="trained")
        axes.bar(
            x + 0.2,
            [abs(r["untrained best r"]) for r in mine],
            0.4,
            label="untrained (same architecture)",
        )
        axes.axhline(
            TRACKS,
            color="grey",
            ls="--",
            lw=0.8,
            label=f"|r| = {TRACKS} (tracking threshold)",
        )
        axes.set_xticks(x, [r["feature"] for r in mine])
        axes.set_ylim(0, 1)
        axes.set_ylabel("|r| of the best single unit")
        axes.set_title(f"{name}: how well one unit tracks each feature")
        axes.legend(fontsize=9)
    figure.tight_layout()
    return figure


def against_karpathy(runs: dict) -> list[str]:
    """Their readings of the LSTM's gates next to ours."""
    run = runs.get("GatedLSTM")
    if not run or "saturation" not in run:
        return []
    layers = run["saturation"]
    always_shut = sum(
        int((np.array(g["forget"]["left"]) > 0.9).sum())
        for g in layers.values()
    )
    often_open = sum(
        int((np.array(g["forget"]["right"]) > 0.5).sum())
        for g in layers.values()
    )
    share = {
        layer: np.mean(
            [
                np.mean(np.array(f["left"]) + np.array(f["right"]))
                for f in gates.values()
            ]
        )
        for layer, gates in layers.items()
    }
    first, second = share.get("layer_1", 0.0), share.get("layer_2", 0.0)
    total = sum(len(g["forget"]["left"]) for g in layers.values())
    return [
        f"- Karpathy et al.: no forget gate nearly always shut. Here: "
        f"{always_shut} of the LSTM's {total} forget gates "
        "are below 0.1 on more than 90% of steps"
        + (" (agrees)." if always_shut == 0 else " (differs)."),
        f"- Karpathy et al.: some forget gates open most of the time. "
        f"Here: {often_open} are above 0.9 on more than half of the steps"
        + (" (agrees)." if often_open else " (differs)."),
        f"- Karpathy et al.: first-layer gates rarely saturated. Here: the "
        f"LSTM's layer_1 gates are saturated on {first:.0%} of steps and "
        f"layer_2's on {second:.0%}"
        + (
            " (agrees)."
            if first < second / 2
            else " (differs: here the first layer saturates as much as the "
            "second; this network is far smaller and trained far shorter "
            "than theirs, and we have not tested which of these matters)."
        ),
    ]


def what_it_shows(runs: dict, rows: list[dict], notes: list[str]):
    lines = ["## What this shows", ""] + [f"- {note}" for note in notes]
    tracked = [row for row in rows if row["tracked"] == "yes"]
    if tracked:
        for row in tracked:
            lines.append(
                f"- {row['model']} {row['unit']} tracks "
                f"*{row['feature']}* (r = {row['r']:.2f}; the best "
                f"untrained unit: {row['untrained best r']:.2f})."
            )
    else:
        lines.append(
            f"- No feature is tracked by a single unit (|r| >= {TRACKS} "
            f"and at least {MARGIN} above the untrained network's best)."
        )
    return lines + ["", KARPATHY, "", *against_karpathy(runs), ""]


def _file_counts(files) -> str:
    if not files:
        return "files not recorded"
    return (
        f"{files['train']} training, {files['validation']} validation and "
        f"{files['test']} test files"
    )


def write_page(store, output) -> str:
    output = Path(output)
    runs = runs_by_model(store)
    config = store.config
    table, notes = bits_table(runs)
    lines = report.opening(
        "Character-level language models of Python source", store.data
    )
    found = store.data.get("text", {})
    lines += [
        f"Text: the top-level `*.py` files of the Python "
        f"{found.get('python', '?')} standard library, sorted by name; "
        + _file_counts(found.get("files"))
        + " (every tenth file held out for test); "
        f"SHA-256 of the text used {found.get('sha256', '?')}. Training "
        f"windows of {config['length']} characters, {config['steps']} "
        f"batches of {config['batch_size']}; bits per character scored with "
        "at least 128 characters of context.",
        "",
        "## Bits per character on held-out files",
        "",
        table,
        "![validation curves](learning_curves.png)",
        "",
    ]
    rows = feature_rows(runs)
    if rows:
        lines += [
            "## Gate saturation",
            "",
            "Per unit, the share of the held-out steps on which each gate "
            "is below 0.1 (left-saturated, shut) or above 0.9 (right-"
            "saturated, open). For the GRU, update is Keras's z: open "
            "keeps the old state.",
            "",
            report.table(
                saturation_rows(runs),
                [
                    "model",
                    "layer",
                    "gate",
                    "units",
                    "mostly shut (> 50% left)",
                    "mostly open (> 50% right)",
                    "mean share saturated",
                ],
            ),
            *[f"- {note}" for note in saturation_notes(saturation_rows(runs))],
            "",
            "![saturation](saturation.png)",
            "",
            "## Cells that track a feature of the code",
            "",
            "Pearson r between a unit's cell state (LSTM) or hidden state "
            "(GRU) and each feature, over "
            f"{config['analysis_files']} held-out excerpts of up to "
            f"{config['analysis_chars']} characters; the best unit of each "
            "layer pair, and the best unit of the same network before "
            "training. The page link opens the gate viewer at that unit.",
            "",
            report.table(
                rows,
                [
                    "model",
                    "feature",
                    "unit",
                    "r",
                    "untrained best r",
                    "tracked",
                    "page",
                ],
            ),
            "![features](features.png)",
            "",
        ]
        plots.save_figure(saturation_figure(runs), output / "saturation.png")
        plots.save_figure(feature_figure(rows), output / "features.png")
    plots.save_figure(
        learning_curves(runs, config["steps_per_epoch"]),
        output / "learning_curves.png",
    )
    lines += what_it_shows(runs, rows, notes)
    return report.save(output / "summary.md", lines)
