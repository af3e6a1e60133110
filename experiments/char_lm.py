"""Character-level language models of Python source, and what their cells
track.

    python -m experiments.char_lm

Trains two stacked GatedLSTM layers, and the same with GatedGRU, to predict
the next character of the Python standard library's own source (the
running interpreter's top-level `*.py` files; every tenth file held out),
and measures, after Karpathy, Johnson & Fei-Fei (2015, "Visualizing and
Understanding Recurrent Networks"):

- bits per character on the held-out files, against a unigram and the best
  Witten-Bell n-gram (order chosen on validation files);
- gate saturation: per layer, the share of steps each unit's gates are
  left-saturated (< 0.1) and right-saturated (> 0.9);
- interpretable cells: for features from Python's `tokenize` (inside a
  string, inside a comment, bracket depth, indentation, column), the unit
  whose cell state (LSTM) or hidden state (GRU) correlates best with the
  feature, against the same analysis of the untrained network;
- gate viewer pages on held-out files, opening at each feature's unit.

Writes results/char_lm/: results.json, summary.md, figures and pages/.
Resumes when started again: finished models are skipped and the one that
was training continues from its last epoch (BackupAndRestore).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from experiments import _char_data as text
from experiments._char_model import (
    LAYERS,
    STATE,
    ModelConfig,
    analysis_texts,
    best_units,
    bits_per_character,
    build_model,
    corpus_for,
    joined,
    load,
    padded_gates,
    train,
)
from experiments._runner import (
    backup_folder,
    open_store,
    parser,
    run_plan,
)
from keras_gates import stats, viewer
from keras_gates.files import atomic_path

# Viewer pages show the first excerpts only (about 1.5 MB per excerpt of
# 1500 characters for a 128-unit LSTM layer).
PAGE_EXCERPTS = 2


@dataclass
class Config(ModelConfig):
    models: list = field(default_factory=lambda: ["GatedLSTM", "GatedGRU"])
    ngram_orders: list = field(default_factory=lambda: [1, 2, 3, 4, 5, 6])
    seed: int = 0


def saturation(gates: dict) -> dict:
    """{layer: {gate: {"left": [...], "right": [...]}}} per unit."""
    found = {}
    for layer, values in gates.items():
        found[layer] = {}
        for gate, array in values.items():
            if gate in ("input", "forget", "output", "update", "reset"):
                left, right = stats.saturation_per_unit(array[None])
                found[layer][gate] = {
                    "left": [float(v) for v in left],
                    "right": [float(v) for v in right],
                }
    return found


def write_pages(model_name, model, excerpts, best, folder):
    """One viewer page per layer on the first `PAGE_EXCERPTS` excerpts;
    returns {feature: link that opens the page at the feature's unit}."""
    links = {}
    excerpts = excerpts[:PAGE_EXCERPTS]
    padded = padded_gates(model, excerpts)
    longest = max(len(e["text"]) for e in excerpts)
    tokens = [
        list(e["text"]) + [""] * (longest - len(e["text"])) for e in excerpts
    ]
    for layer, gates in padded.items():
        path = folder / f"{model_name}_{layer}.html"
        viewer.write_html(
            gates,
            tokens,
            path,
            title=f"{model_name} {layer} on held-out standard-library files",
            sequence_names=[e["file"] for e in excerpts],
        )
    for feature, found in best.items():
        links[feature] = (
            f"pages/{model_name}_{found['layer']}.html"
            f"#gate={STATE[model_name]}&unit={found['unit']}&sequence=0"
        )
    return links


# -- the runs ------------------------------------------------------------


def ngram_run(data: dict, config: Config) -> dict:
    train = text.encode(data["train"])
    validation = text.encode(data["validation"])
    test = text.encode(data["test"])
    orders = {}
    for order in config.ngram_orders:
        model = text.NGram(train, order)
        orders[str(order)] = {
            "validation": model.bits_per_character(validation),
            "test": model.bits_per_character(test),
        }
        print(f"  {order}-gram: {orders[str(order)]}", flush=True)
    best = min(orders, key=lambda k: orders[k]["validation"])
    return {
        "orders": orders,
        "best_order": int(best),
        "value": orders[best]["test"],
        "unigram": orders["1"]["test"] if "1" in orders else None,
        "metric": "test bits per character",
    }


def train_run(name, data, excerpts, config, output, backup, verbose):
    untrained = joined(
        padded_gates(build_model(name, config), excerpts), excerpts
    )
    control = best_units(untrained, excerpts, STATE[name])
    model, seconds, validation = train(name, data, config, backup, verbose)
    with atomic_path(
        output / "models" / f"{name}.weights.h5", suffix=".weights.h5"
    ) as tmp:
        model.save_weights(tmp)
    padded = padded_gates(model, excerpts)
    trained = joined(padded, excerpts)
    best = best_units(trained, excerpts, STATE[name])
    links = write_pages(name, model, excerpts, best, output / "pages")
    return {
        "metric": "test bits per character",
        "value": bits_per_character(model, text.encode(data["test"])),
        "validation_history": validation,
        "seconds_per_epoch": float(np.median(seconds)) if seconds else None,
        "params": int(model.count_params()),
        "best_units": best,
        "control_units": control,
        "saturation": saturation(trained),
        "pages": links,
    }


def rewrite_pages(store, config: Config, output: Path) -> None:
    """The viewer pages again, from the saved weights (where present)."""
    excerpts = None
    for run in store.runs:
        weights = output / "models" / f"{run['model']}.weights.h5"
        if run["model"] not in LAYERS or not weights.exists():
            continue
        if excerpts is None:
            data = text.corpus(
                config.train_chars, config.test_chars, config.validation_chars
            )
            recorded = store.data.get("text", {}).get("sha256")
            if recorded and data["sha256"] != recorded:
                raise ValueError(
                    f"this Python's library text (sha256 "
                    f"{data['sha256'][:16]}...) is not the text of the run "
                    f"({recorded[:16]}...); the pages need the same text"
                )
            excerpts = analysis_texts(data, config)
        model = load(run["model"], config, weights)
        write_pages(
            run["model"], model, excerpts, run["best_units"], output / "pages"
        )


def main(argv=None):
    from experiments import _char_lm_report as char_report

    args = parser(
        Config(),
        __doc__.splitlines()[0],
        "results/char_lm",
        choices={"models": list(LAYERS)},
    ).parse_args(argv)
    output = Path(args.output)
    store, config = open_store(args, Config(), "char_lm", argv)
    if args.report:
        rewrite_pages(store, config, output)
        print(char_report.write_page(store, output))
        return
    data, excerpts = corpus_for(store, config)
    print(
        f"Python {data['python']} standard library: {data['files']} files, "
        f"text sha256 {data['sha256'][:16]}...",
        flush=True,
    )
    plan = [{"model": "n-gram"}] + [{"model": m} for m in config.models]

    def run_one(keys):
        if keys["model"] == "n-gram":
            return ngram_run(data, config)
        return train_run(
            keys["model"],
            data,
            excerpts,
            config,
            output,
            backup_folder(output, keys),
            2 if args.quiet else "auto",
        )

    run_plan(
        store,
        plan,
        run_one,
        lambda run: f"{run['value']:.3f} bits per character",
    )
    print(char_report.write_page(store, output))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
