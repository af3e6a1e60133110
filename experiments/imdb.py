"""IMDB sentiment: the gated layers against the built-ins on real reviews.

    python -m experiments.imdb [--data-dir DIR] [--all] [--strategy mirrored]

Trains Embedding(128, masked) + one recurrent layer (64 units) + Dense for
GatedLSTM, GatedGRU, keras.layers.LSTM and GRU (SimpleRNN too with --all)
with the same seed, optimiser and budget, and writes results/imdb/:
results.json (test accuracy, parameters, seconds per epoch, device),
summary.md, learning_curves.png, the best model of each run (.keras, chosen
on a validation split cut from the training set), and gate figures of the
GatedLSTM on test reviews with their words on the time axis. Interrupted,
it resumes from the last finished epoch (keras.callbacks.BackupAndRestore)
and skips finished models.

Data: tensorflow-datasets `imdb_reviews` from --data-dir or TFDS_DATA_DIR
(tfds downloads it elsewhere); the tokens are cached in results/imdb/
tokens.npz, so a later run (on any Keras backend) needs no TensorFlow.
`--strategy mirrored` trains data-parallel with
tf.distribute.MirroredStrategy over all visible devices, `--strategy
multiworker` with MultiWorkerMirroredStrategy over the machines named in
TF_CONFIG (TensorFlow backend only; Keras 3.15's fit fails under that
strategy, keras-team/keras#20585, see tests/test_distributed.py).
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
from matplotlib.figure import Figure

from experiments import _report as report
from experiments._data import TextConfig, imdb_arrays
from experiments._runner import (
    ResultsStore,
    backup_folder,
    command_line,
    config_from,
    parser,
    run_plan,
)
from experiments._training import (
    EpochTimer,
    build_text_model,
    check_model_names,
)
from keras_gates import extract_gates, plots

DEFAULT_MODELS = ["GatedLSTM", "GatedGRU", "LSTM", "GRU"]


@dataclass
class Config:
    vocabulary: int = 20_000
    length: int = 200
    keep: str = "end"
    embedding: int = 128
    units: int = 64
    embedding_dropout: float = 0.3
    dropout: float = 0.2
    recurrent_dropout: float = 0.0
    epochs: int = 3
    batch_size: int = 64
    learning_rate: float = 1e-3
    schedule: str = "cosine"
    validation: int = 2500
    models: list = field(default_factory=lambda: list(DEFAULT_MODELS))
    train_split: str = "train"
    test_split: str = "test"
    strategy: str = "none"
    seed: int = 0


def learning_rate(config: Config, steps_per_epoch: int):
    """The optimiser's learning rate: constant, or cosine decay to zero
    over the whole budget (`config.epochs` x `steps_per_epoch` steps)."""
    if config.schedule == "constant":
        return config.learning_rate
    if config.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            config.learning_rate, config.epochs * steps_per_epoch
        )
    raise ValueError(
        f"schedule must be 'constant' or 'cosine', received {config.schedule!r}"
    )


def strategy_scope(name: str):
    if name == "none":
        return nullcontext()
    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            f"--strategy {name} needs the TensorFlow backend, this is "
            f"{keras.backend.backend()}"
        )
    import tensorflow as tf

    if name == "multiworker":  # workers and ranks come from TF_CONFIG
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        strategy = tf.distribute.MirroredStrategy()
    print(
        f"{type(strategy).__name__} over "
        f"{strategy.num_replicas_in_sync} devices"
    )
    return strategy.scope()


def learning_curves(runs) -> Figure:
    figure = Figure(figsize=(11, 4.4), layout="constrained")
    left, right = figure.subplots(1, 2)
    for i, run in enumerate(runs):
        history = run["history"]
        epochs = np.arange(1, len(history["loss"]) + 1)
        # Gated layers thick and pale underneath, built-in twins thin on
        # top: where a pair trains identically both stay visible.
        gated = run["model"].startswith("Gated")
        style = {
            "color": f"C{i}",
            "linewidth": 5 if gated else 1.5,
            "alpha": 0.45 if gated else 1.0,
            "zorder": 1 if gated else 2,
        }
        marker = {"marker": "o", "markersize": 11 if gated else 5}
        for axis, key in ((left, "loss"), (right, "accuracy")):
            axis.plot(epochs, history[key], linestyle=":", **style)
            axis.plot(
                epochs,
                history[f"val_{key}"],
                label=run["model"],
                **style,
                **marker,
            )
    for axis, name in ((left, "loss"), (right, "accuracy")):
        axis.set_xlabel("epoch")
        axis.set_ylabel(name)
        axis.grid(alpha=0.3)
        axis.xaxis.get_major_locator().set_params(integer=True)
    left.plot([], [], color="0.4", linestyle=":", label="training")
    left.plot([], [], color="0.4", marker="o", label="validation")
    left.legend(fontsize=8)
    left.set_title("Loss (dotted: training, solid: validation)")
    right.set_title("Accuracy (dotted: training, solid: validation)")
    figure.suptitle(
        "Gated layers drawn thick and pale, built-in layers thin on top: "
        "a pair that trains identically shows as one line"
    )
    return figure


def word_table(gates, x, vocabulary, top=12) -> str:
    """Words after which the forget gate is lowest / the input gate highest,
    averaged over units and occurrences (words seen at least 20 times)."""
    # Masked (padding) steps are NaN in every unit: take the unit mean of
    # valid steps only.
    forget = gates["forget"].mean(axis=-1)
    input_gate = gates["input"].mean(axis=-1)
    ids = x.ravel()
    valid = ids > 1
    counts = np.bincount(ids[valid], minlength=len(vocabulary))
    frequent = counts >= 20
    rows = []
    for name, values, reverse in (
        ("forget gate lowest (memory cleared)", forget, False),
        ("input gate highest (word written in)", input_gate, True),
    ):
        sums = np.bincount(
            ids[valid], weights=values.ravel()[valid], minlength=len(vocabulary)
        )
        means = np.where(frequent, sums / np.maximum(counts, 1), np.nan)
        order = np.argsort(means)
        order = order[~np.isnan(means[order])]
        chosen = order[::-1][:top] if reverse else order[:top]
        rows.append(
            {
                "gate": name,
                "words (mean over units)": ", ".join(
                    f"{vocabulary[i]} ({means[i]:.2f})" for i in chosen
                ),
            }
        )
    return report.table(rows, ["gate", "words (mean over units)"])


def gate_figures(output: Path, data: dict) -> tuple[list, str]:
    """Two reviews' gates, the saturation scatter on 2,000 test reviews and
    the word table, from the saved GatedLSTM; nothing without it."""
    path = output / "models" / "GatedLSTM.keras"
    if not path.exists() or data is None:
        return [], ""
    net = keras.saving.load_model(path)
    vocabulary, x_test = data["vocabulary"], data["x_test"]
    figures = review_figures(net, x_test, data["y_test"], vocabulary, output)
    sample = x_test[:2000]
    all_gates = extract_gates(net, sample)["recurrent"]
    figure = plots.saturation(
        all_gates, title="GatedLSTM on 2,000 test reviews: gate saturation"
    )
    figures.append(output / "saturation.png")
    plots.save_figure(figure, figures[-1])
    return figures, word_table(all_gates, sample, vocabulary)


def review_figures(net, x_test, y_test, vocabulary, output) -> list[Path]:
    """One positive and one negative review, each the first of its class
    whose length is closest to 35 words: readable at README size."""
    lengths = (x_test > 0).sum(axis=1)
    picks = []
    for label in (1, 0):
        of_label = np.where(y_test == label)[0]
        if of_label.size:
            picks.append(int(of_label[np.argmin(abs(lengths[of_label] - 35))]))
    probs = net.predict(x_test[picks], verbose=0)[:, 0]
    gates = extract_gates(net, x_test[picks])["recurrent"]
    figures = []
    for k, (index, p) in enumerate(zip(picks, probs, strict=True)):
        n = int(lengths[index])
        label = "positive" if y_test[index] else "negative"
        figure = plots.gate_heatmap(
            {g: v[k, :n] for g, v in gates.items()},
            tokens=[vocabulary[t] for t in x_test[index, :n]],
            names=("input", "forget", "output", "cell"),
            title=f"GatedLSTM on test review {index} ({label}; model says "
            f"{p:.2f} positive)",
        )
        figures.append(output / f"review_{label}.png")
        plots.save_figure(figure, figures[-1])
    return figures


def command_parser():
    result = parser(
        Config(),
        __doc__.split("\n")[0],
        "results/imdb",
        choices={
            "schedule": ("constant", "cosine"),
            "keep": ("end", "start"),
            "strategy": ("none", "mirrored", "multiworker"),
        },
        helps={
            "vocabulary": "token ids, padding and the out-of-vocabulary "
            "id (shared by the rarer words) included",
            "length": "tokens per review (shorter ones padded at the end "
            "and masked)",
            "keep": "a longer review's last or first tokens",
            "embedding": "embedding width",
            "embedding_dropout": "SpatialDropout1D rate on the embeddings",
            "dropout": "the recurrent layer's input dropout",
            "recurrent_dropout": "the recurrent layer's recurrent dropout",
            "epochs": "training epochs",
            "batch_size": "reviews per training step",
            "learning_rate": "Adam's (initial) learning rate",
            "schedule": "constant, or cosine decay to zero over the budget",
            "validation": "training reviews held out to choose the best epoch",
            "models": "GatedLSTM, GatedGRU, LSTM, GRU, SimpleRNN",
            "train_split": "the tfds training split (e.g. 'train[:1000]')",
            "test_split": "the tfds test split",
            "strategy": "TensorFlow's data-parallel strategy, if any",
            "seed": "one seed for every model",
        },
    )
    result.add_argument(
        "--data-dir",
        default=None,
        help="tensorflow-datasets' data folder (default: TFDS_DATA_DIR, "
        "else tfds's own)",
    )
    result.add_argument("--all", action="store_true", help="add SimpleRNN")
    result.add_argument(
        "--tokens-only",
        action="store_true",
        help="write the output folder's tokens.npz and stop (a machine "
        "without TensorFlow or a network trains from a copy of it)",
    )
    return result


def splits(data: dict, config: Config) -> dict:
    """Training and validation reviews (the validation ones cut from the
    training split at random), and the test reviews."""
    rng = np.random.default_rng(config.seed)
    order = rng.permutation(len(data["x_train"]))
    valid, train = order[: config.validation], order[config.validation :]
    return {
        "train": (data["x_train"][train], data["y_train"][train]),
        "validation": (data["x_train"][valid], data["y_train"][valid]),
        "test": (data["x_test"], data["y_test"]),
    }


def train_one(model, text, parts, config, output, backup, verbose) -> dict:
    """Trains one model, keeps its best-validation epoch in
    output/models/<model>.keras, and evaluates that on the test reviews."""
    x_train, y_train = parts["train"]
    keras.utils.set_random_seed(config.seed)
    with strategy_scope(config.strategy):
        net = build_text_model(
            model,
            text,
            config.units,
            config.embedding,
            config.embedding_dropout,
            config.dropout,
            learning_rate(config, -(-len(x_train) // config.batch_size)),
            config.seed,
            config.recurrent_dropout,
        )
    timer = EpochTimer()
    best = output / "models" / f"{model}.keras"
    best.parent.mkdir(parents=True, exist_ok=True)
    history = net.fit(
        x_train,
        y_train,
        validation_data=parts["validation"],
        epochs=config.epochs,
        batch_size=config.batch_size,
        callbacks=[
            keras.callbacks.BackupAndRestore(str(backup)),
            keras.callbacks.ModelCheckpoint(
                str(best), monitor="val_accuracy", save_best_only=True
            ),
            timer,
        ],
        verbose=verbose,
    )
    restored = keras.saving.load_model(best)
    _, accuracy = restored.evaluate(*parts["test"], batch_size=256, verbose=0)
    return {
        "task": "imdb",
        "length": config.length,
        "metric": "test accuracy (best validation epoch)",
        "value": float(accuracy),
        "baseline": 0.5,
        "params": int(net.count_params()),
        "recurrent_params": int(net.get_layer("recurrent").count_params()),
        "seconds_per_epoch": (
            float(np.median(timer.seconds)) if timer.seconds else None
        ),
        "epoch_seconds": timer.seconds,
        "epochs": config.epochs,
        "seed": config.seed,
        "history": {
            k: [float(v) for v in vs] for k, vs in history.history.items()
        },
    }


def what_it_shows(runs) -> list[str]:
    """Each gated layer against its built-in twin, same seed and budget."""
    by_model = {r["model"]: r for r in runs}
    lines = []
    for gated, builtin in (("GatedLSTM", "LSTM"), ("GatedGRU", "GRU")):
        a, b = by_model.get(gated), by_model.get(builtin)
        if a and b:
            lines.append(
                f"- {gated} {a['value']:.2%} against {builtin} "
                f"{b['value']:.2%} (difference {a['value'] - b['value']:+.2%}"
                f"); {a['seconds_per_epoch']:.1f} against "
                f"{b['seconds_per_epoch']:.1f} s per epoch (median)."
            )
    lines.append("- One seed per model: a single run, not an interval.")
    return lines


def write_page(store, config: Config, output: Path, data) -> str:
    plots.save_figure(
        learning_curves(store.runs), output / "learning_curves.png"
    )
    figures, words = gate_figures(output, data)
    if words:
        store.data["gate_words"] = words
        store.save()
    else:  # --report without the model: what the run recorded
        words = store.data.get("gate_words", "")
        names = ("review_positive", "review_negative", "saturation")
        figures = [output / f"{n}.png" for n in names]
        figures = [p for p in figures if p.exists()]
    columns = [
        "model",
        "value",
        "params",
        "recurrent_params",
        "seconds_per_epoch",
        "epochs",
    ]
    lines = report.opening(
        "IMDB: gated layers against the built-ins", store.data
    )
    lines += [
        f"Config: {config}.",
        "",
        "value = test accuracy of the best-validation-accuracy epoch on the "
        "test reviews.",
        "",
        report.table(store.runs, columns),
        "## What this shows",
        "",
        *what_it_shows(store.runs),
        "",
        "![learning curves](learning_curves.png)",
        "",
    ]
    if words:
        lines += [
            "## Which words open and close the GatedLSTM's gates",
            "",
            words,
        ]
        lines += [f"![{p.stem}]({p.name})" for p in figures]
    return report.save(output / "summary.md", lines)


def main(argv=None):
    args = command_parser().parse_args(argv)
    output = Path(args.output)
    if args.report:
        store = ResultsStore.load(output)
        config = Config(**store.config)
        cache = output / "tokens.npz"
        data = np.load(cache) if cache.exists() else None
        if data is not None:
            data = {**data, "vocabulary": list(data["vocabulary"])}
        print(write_page(store, config, output, data))
        return
    config = config_from(args, Config())
    if args.all and config.models == DEFAULT_MODELS:
        config.models = DEFAULT_MODELS + ["SimpleRNN"]
    check_model_names(config.models)
    text = TextConfig(config.vocabulary, config.length, config.keep)
    data = imdb_arrays(
        text,
        cache=output / "tokens.npz",
        data_dir=args.data_dir,
        train_split=config.train_split,
        test_split=config.test_split,
    )
    if args.tokens_only:
        print(f"wrote {output / 'tokens.npz'}")
        return
    store = ResultsStore(
        output, "imdb", config, args.fresh, command_line("imdb", argv)
    )
    parts = splits(data, config)
    print(
        f"IMDB: {len(parts['train'][0])} training, "
        f"{len(parts['validation'][0])} validation, "
        f"{len(data['x_test'])} test reviews on {store.data['device']}"
    )
    run_plan(
        store,
        [{"model": model} for model in config.models],
        lambda keys: train_one(
            keys["model"],
            text,
            parts,
            config,
            output,
            backup_folder(output, keys),
            2 if args.quiet else "auto",
        ),
        lambda run: (
            f"test accuracy {run['value']:.4f}, "
            f"{run['seconds_per_epoch']:.1f} s/epoch"
        ),
    )
    print(write_page(store, config, output, data))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
