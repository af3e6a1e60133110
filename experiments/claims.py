"""The article's claims against measurements: results/claims/REPORT.md.

    python -m experiments.claims [--output results/claims] [--quick]

Runs, at a size that fits a 2-core CPU in about half an hour:
  - agreement at T = 50, 100, 200, 400: GatedLSTM, GatedGRU, LSTM, GRU
    with Keras's default and chrono initialisation, and SimpleRNN;
  - adding at T = 50, 200, copy memory at T = 50, 100 and temporal order at
    T = 50, 200: GatedLSTM, GatedGRU (default and chrono) and SimpleRNN;
  - the gradient-flow measurement at T = 100;
then writes REPORT.md: each claim of Baivab Dash's article "A visual guide
to LSTM and GRU", the measured evidence and a one-line verdict.
Every part resumes where it stopped when the command is run again.
`--quick` runs a toy version (for the smoke test).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from experiments import gradient_flow
from experiments._results import atomic_write_text, device
from experiments.long_dependency import (
    Config,
    run_sweep,
    twin_gaps,
    write_outputs,
)

GATED_AND_RNN = ["GatedLSTM", "GatedGRU", "SimpleRNN"]
BOTH_INITS = ["default", "chrono"]


def sweeps(quick: bool) -> dict:
    base = Config(epochs=10)
    plans = {
        "agreement": replace(
            base,
            task="agreement",
            lengths=[50, 100, 200, 400],
            inits=BOTH_INITS,
        ),
        "adding": replace(
            base,
            task="adding",
            lengths=[50, 200],
            models=GATED_AND_RNN,
            inits=BOTH_INITS,
            train_size=8000,
        ),
        "copy": replace(
            base,
            task="copy",
            lengths=[50, 100],
            models=GATED_AND_RNN,
            inits=BOTH_INITS,
        ),
        "temporal_order": replace(
            base,
            task="temporal_order",
            lengths=[50, 200],
            models=GATED_AND_RNN,
            inits=BOTH_INITS,
        ),
    }
    if quick:
        plans = {
            name: replace(
                config,
                lengths=[10, 12],
                epochs=1,
                train_size=64,
                validation_size=16,
                test_size=32,
                units=4,
                figure_length=12,
            )
            for name, config in plans.items()
        }
    return plans


def best(runs, **keys):
    """The best run matching keys (by the task's metric)."""
    chosen = [r for r in runs if all(r.get(k) == v for k, v in keys.items())]
    if not chosen:
        return None
    accuracy = chosen[0]["metric"] == "accuracy"
    return max(chosen, key=lambda r: r["value"] if accuracy else -r["value"])


def is_solved(run) -> bool:
    """Accuracy >= 0.9, or a loss at most a tenth (MSE) / half (copy
    cross-entropy) of the chance baseline."""
    if run["metric"] == "accuracy":
        return run["value"] >= 0.9
    if run["metric"] == "mse":
        return run["value"] <= run["baseline"] / 10
    return run["value"] <= run["baseline"] / 2


def fmt(value, metric="accuracy"):
    return f"{value:.3f}" if metric == "accuracy" else f"{value:.4f}"


def write_report(output: Path, results: dict, facts: dict, flow: dict, took):
    agreement = results["agreement"]
    lengths = sorted({r["length"] for r in agreement})
    lines = [
        '# Testing "A visual guide to LSTM and GRU"',
        "",
        f"Measured on {device()} by `python -m experiments.claims` (this "
        f"invocation: {took / 60:.0f} min; runs finished by an earlier, "
        "interrupted or partial invocation are reused, not repeated). Each "
        "task trains every model with the same "
        "seed, data and budget (10 epochs, Adam 3e-3, 32 units). "
        '"chrono" is the chrono initialisation of the gate biases (Tallec & '
        'Ollivier 2018); "default" is Keras\'s (forget bias 1). The claims '
        "are those of Baivab Dash's article \"A visual guide to LSTM and "
        'GRU".',
        "",
    ]

    # Claim 1: plain RNNs forget.
    flow_rnn = flow.get("SimpleRNN-default")
    flow_lstm = flow.get("GatedLSTM-default")
    lines += [
        "## 1. \"A plain tanh RNN forgets: tanh' <= 1 and the gradient "
        'shrinks with every step"',
        "",
        "| task | T | SimpleRNN | chance | best gated layer |",
        "|---|---|---|---|---|",
    ]
    for task in ("agreement", "adding", "copy", "temporal_order"):
        for length in sorted({r["length"] for r in results[task]}):
            plain = best(results[task], model="SimpleRNN", length=length)
            gated = max(
                (
                    best(results[task], model=m, length=length)
                    for m in ("GatedLSTM", "GatedGRU")
                ),
                key=lambda r: (
                    r["value"] if r["metric"] == "accuracy" else -r["value"]
                ),
            )
            metric = plain["metric"]
            lines.append(
                f"| {task} ({metric}) | {length} | "
                f"{fmt(plain['value'], metric)} | "
                f"{fmt(plain['baseline'], metric)} | "
                f"{fmt(gated['value'], metric)} ({gated['model']}, "
                f"{gated['init']}) |"
            )
    if flow_rnn and flow_lstm:
        lines += [
            "",
            "Gradient reaching the subject relative to the last clause step "
            f"(agreement, T={flow['length']}; `gradient_flow/summary.md`): "
            "SimpleRNN "
            f"{flow_rnn['init']:.2g} at initialisation, "
            f"{flow_rnn['trained']:.2g} after training; GatedLSTM (default) "
            f"{flow_lstm['init']:.2g} and "
            f"{flow_lstm['trained']:.2g}.",
        ]
    solved, failed, both_fail = [], [], []
    for task, runs in results.items():
        for length in sorted({r["length"] for r in runs}):
            plain = best(runs, model="SimpleRNN", length=length)
            gated_ok = any(
                is_solved(r)
                for r in runs
                if r["length"] == length and r["model"].startswith("Gated")
            )
            cell = f"{task} T={length}"
            if is_solved(plain):
                solved.append(cell)
            elif gated_ok:
                failed.append(cell)
            else:
                both_fail.append(cell)
    flow_gru = flow.get("GatedGRU-default")
    gradient_note = ""
    if flow_rnn and flow_lstm and flow_gru:
        vanishes_in_rnn = flow_rnn["init"] < 1e-3
        gradient_note = (
            " The mechanism as stated does not show up in the gradient: "
            f"for the SimpleRNN the gradient reaching the subject was "
            f"{flow_rnn['init']:.2g} of the one at the last clause step at "
            f"initialisation ({flow_rnn['trained']:.2g} after training). A "
            "likely reason, not measured here: with Keras's orthogonal "
            "recurrent kernel and small embedded inputs the tanh works near "
            "its linear range, where tanh' ~ 1. "
            "The vanishing gradient shows up instead in the gated layers with "
            f"Keras's default initialisation (LSTM {flow_lstm['init']:.2g}, "
            f"GRU {flow_gru['init']:.2g}): their forget gate starts at 0.73 "
            "and GRU's z at 0.5, so the state decays step after step; chrono "
            "initialisation removes that decay."
            if not vanishes_in_rnn
            else " The gradient measurement agrees: the SimpleRNN's gradient "
            f"at the subject is {flow_rnn['init']:.2g} of that at the last "
            "clause step."
        )
    verdict = (
        f"holds partly. The SimpleRNN failed where a gated layer succeeded "
        f"on {', '.join(failed) or 'nothing'}; it solved "
        f"{', '.join(solved) or 'nothing'}; nothing solved "
        f"{', '.join(both_fail) or 'nothing'} within this budget."
        + gradient_note
    )
    if not solved:
        verdict = (
            "holds: the SimpleRNN solved none of the tasks." + gradient_note
        )
    elif not failed:
        verdict = (
            "does not hold here: wherever a gated layer succeeded, so did the "
            "SimpleRNN." + gradient_note
        )
    lines += [
        "",
        f"**Verdict:** {verdict}",
        "",
        "![gradient flow](gradient_flow/gradient_flow.png)",
        "",
    ]

    # Claim 2: the forget gate keeps information.
    default_lstm = {
        r["length"]: r
        for r in agreement
        if r["model"] == "GatedLSTM" and r["init"] == "default"
    }
    chrono_lstm = {
        r["length"]: r
        for r in agreement
        if r["model"] == "GatedLSTM" and r["init"] == "chrono"
    }
    lines += [
        '## 2. "An LSTM keeps information when its forget gate is near 1 '
        'and its input gate near 0 (c_t ~ c_{t-1})"',
        "",
        "| T | GatedLSTM, Keras default init | GatedLSTM, chrono init |",
        "|---|---|---|",
    ]
    for length in lengths:
        lines.append(
            f"| {length} | {fmt(default_lstm[length]['value'])} | "
            f"{fmt(chrono_lstm[length]['value'])} |"
        )
    lines += [""]
    if facts:
        lines += [
            f"In the trained chrono GatedLSTM (T={facts['length']}), the unit "
            f"that carries the subject is unit {facts['unit']}: "
            + "; ".join(
                f"{name} subjects: forget {v['forget']:.2f}, input "
                f"{v['input']:.2f}"
                for name, v in zip(
                    ("singular", "plural"),
                    (facts["per_class"][0], facts["per_class"][1]),
                    strict=True,
                )
            )
            + " (means across the clause).",
            "",
            f"**Verdict:** {facts['verdict']} With Keras's default "
            "initialisation (forget gate sigmoid(1) = 0.73 at the start; "
            "0.73^100 ~ 2e-14) the LSTM "
            + (
                "stayed at chance from T=100 on within this budget: the "
                "forget gate has to start near 1 for the memory to be found."
                if default_lstm.get(100, {"value": 1})["value"] < 0.6
                else "also learned; see the table."
            ),
            "",
            "![memory unit](agreement/agreement_memory_unit.png)",
            "![heatmap](agreement/agreement_gates_heatmap.png)",
            "",
        ]

    # Claim 3: fewer parameters.
    params = {
        r["model"]: r["params"] for r in agreement if r["length"] == lengths[0]
    }
    ratio = params["GatedGRU"] / params["GatedLSTM"]
    lines += [
        '## 3. "A GRU does the same job with fewer parameters"',
        "",
        "| layer (32 units, 16 inputs) | parameters |",
        "|---|---|",
        *[f"| {m} | {p} |" for m, p in sorted(params.items())],
        "",
        f"**Verdict:** holds: GRU/LSTM = {ratio:.3f}. Three weight blocks "
        "instead of four give 3/4; Keras's default GRU (`reset_after=True`, "
        "the cuDNN form) carries a second bias vector, hence slightly more "
        "than 0.75.",
        "",
    ]

    # Claim 4: faster.
    speed = {}
    for model in ("GatedLSTM", "GatedGRU", "LSTM", "GRU"):
        times = [
            r["seconds_per_epoch"]
            for r in agreement
            if r["model"] == model and r["length"] == max(lengths)
        ]
        speed[model] = float(np.median(times))
    faster = speed["GatedGRU"] < speed["GatedLSTM"]
    lines += [
        '## 4. "A GRU may be faster"',
        "",
        f"Seconds per epoch on agreement at T={max(lengths)} "
        "(median over initialisations, same run):",
        "",
        "| layer | s/epoch |",
        "|---|---|",
        *[f"| {m} | {t:.2f} |" for m, t in speed.items()],
        "",
        "**Verdict:** "
        + (
            f"holds here: GatedGRU {speed['GatedGRU']:.2f} s vs GatedLSTM "
            f"{speed['GatedLSTM']:.2f} s per epoch."
            if faster
            else f"does not hold here: GatedGRU {speed['GatedGRU']:.2f} s vs "
            f"GatedLSTM {speed['GatedLSTM']:.2f} s per epoch. On a CPU the "
            "step is dominated by per-step overhead, not by the 3/4 FLOPs."
        ),
        "",
    ]

    # Claim 5: comparable results.
    gaps = []
    rows = []
    for task, runs in results.items():
        for length in sorted({r["length"] for r in runs}):
            lstm = best(runs, model="GatedLSTM", length=length)
            gru = best(runs, model="GatedGRU", length=length)
            metric = lstm["metric"]
            rows.append(
                f"| {task} | {length} | {fmt(lstm['value'], metric)} "
                f"({lstm['init']}) | {fmt(gru['value'], metric)} "
                f"({gru['init']}) | {fmt(lstm['baseline'], metric)} |"
            )
            if metric == "accuracy":
                gaps.append((abs(lstm["value"] - gru["value"]), task, length))
    worst = max(gaps)
    lines += [
        '## 5. "LSTM and GRU give comparable results"',
        "",
        "Best initialisation of each, per task and length:",
        "",
        "| task | T | GatedLSTM | GatedGRU | chance |",
        "|---|---|---|---|---|",
        *rows,
        "",
        "**Verdict:** "
        + (
            "holds: the accuracy gap is at most "
            f"{worst[0]:.3f} across tasks and lengths."
            if worst[0] <= 0.05
            else f"holds partly: they agree on most cells, but differ by "
            f"{worst[0]:.3f} on {worst[1]} at T={worst[2]} within this budget."
        ),
        "",
    ]

    # The package's own target: gated layers vs built-in twins.
    lines += [
        "## The gated layers against Keras's own (same seed, init, budget)",
        "",
        *twin_gaps(agreement),
        "",
        "Figures and tables per task: "
        + ", ".join(f"[{t}]({t}/summary.md)" for t in results)
        + ".",
        "",
    ]
    atomic_write_text(output / "REPORT.md", "\n".join(lines) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default="results/claims")
    parser.add_argument("--quick", action="store_true", help="toy size")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    output = Path(args.output)
    start = time.perf_counter()
    verbose = 0 if args.quiet else 2
    results, facts = {}, {}
    for name, config in sweeps(args.quick).items():
        print(f"=== {name}", flush=True)
        store = run_sweep(config, output / name, verbose=verbose)
        _, found = write_outputs(store, config, output / name)
        if found:
            facts = {**found, "length": config.figure_length}
        results[name] = store.runs
    flow_args = ["--output", str(output / "gradient_flow")]
    if args.quick:
        flow_args += ["--length", "12", "--epochs", "1", "--train-size", "64",
                      "--units", "4"]  # fmt: skip
    if args.quiet:
        flow_args.append("--quiet")
    gradient_flow.main(flow_args)
    flow_runs = json.loads(
        (output / "gradient_flow" / "results.json").read_text()
    )
    flow = {"length": flow_runs["config"]["length"]}
    flow |= {
        f"{r['model']}-{r['init']}": {
            "init": r["gradient_init"][0] / r["gradient_init"][-2],
            "trained": r["gradient_trained"][0] / r["gradient_trained"][-2],
        }
        for r in flow_runs["runs"]
    }
    write_report(output, results, facts, flow, time.perf_counter() - start)
    print(f"wrote {output / 'REPORT.md'}")


if __name__ == "__main__":
    main()
