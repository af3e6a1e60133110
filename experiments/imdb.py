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

import argparse
import os
import shutil
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
from matplotlib.figure import Figure

from experiments._results import (
    Progress,
    ResultsStore,
    atomic_write_text,
    markdown_table,
)
from keras_gates import extract_gates, plots
from keras_gates.datasets import TextConfig, imdb_arrays
from keras_gates.training import MODELS, EpochTimer, check_model_names

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


def build_model(
    model: str,
    text: TextConfig,
    units: int = 64,
    embedding: int = 128,
    embedding_dropout: float = 0.3,
    dropout: float = 0.2,
    learning_rate=1e-3,
    seed: int = 0,
    recurrent_dropout: float = 0.0,
) -> keras.Model:
    """Embedding (masked) -> dropout -> one recurrent layer -> Dense.

    `learning_rate` is a float or a `keras.optimizers.schedules` schedule.
    """
    check_model_names([model])
    inputs = keras.Input((text.length,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(
        text.vocabulary, embedding, mask_zero=True, name="embedding"
    )(inputs)
    x = keras.layers.SpatialDropout1D(embedding_dropout, seed=seed)(x)
    options = {"dropout": dropout, "seed": seed, "name": "recurrent"}
    if recurrent_dropout:
        options["recurrent_dropout"] = recurrent_dropout
    x = MODELS[model](units, **options)(x)
    outputs = keras.layers.Dense(1, "sigmoid", name="sentiment")(x)
    net = keras.Model(inputs, outputs, name=f"imdb_{model}")
    net.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    return net


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
            axis.plot(epochs, history[f"val_{key}"], label=run["model"],
                      **style, **marker)  # fmt: skip
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
    return markdown_table(rows, ["gate", "words (mean over units)"])


def gate_figures(output: Path, data: dict, config: Config) -> tuple[list, str]:
    path = output / "models" / "GatedLSTM.keras"
    if not path.exists():
        return [], ""
    net = keras.saving.load_model(path)
    vocabulary = data["vocabulary"]
    x_test, y_test = data["x_test"], data["y_test"]
    lengths = (x_test > 0).sum(axis=1)
    figures = []
    # One positive and one negative review, each the first of its class
    # whose length is closest to 35 words: readable at README size.
    picks = []
    for label in (1, 0):
        of_label = np.where(y_test == label)[0]
        if of_label.size:
            picks.append(int(of_label[np.argmin(abs(lengths[of_label] - 35))]))
    probs = net.predict(x_test[picks], verbose=0)[:, 0]
    gates = extract_gates(net, x_test[picks])["recurrent"]
    for k, (index, p) in enumerate(zip(picks, probs, strict=True)):
        n = int(lengths[index])
        words = [vocabulary[t] for t in x_test[index, :n]]
        review = {g: v[k, :n] for g, v in gates.items()}
        label = "positive" if y_test[index] else "negative"
        figure = plots.gate_heatmap(
            review,
            tokens=words,
            names=("input", "forget", "output", "cell"),
            title=f"GatedLSTM on test review {index} ({label}; model says "
            f"{p:.2f} positive)",
        )
        figures.append(output / f"review_{label}.png")
        plots.save_figure(figure, figures[-1])
    sample = x_test[:2000]
    all_gates = extract_gates(net, sample)["recurrent"]
    figure = plots.saturation(
        all_gates, title="GatedLSTM on 2,000 test reviews: gate saturation"
    )
    figures.append(output / "saturation.png")
    plots.save_figure(figure, figures[-1])
    return figures, word_table(all_gates, sample, vocabulary)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--output", default="results/imdb")
    parser.add_argument("--all", action="store_true", help="add SimpleRNN")
    parser.add_argument("--models", nargs="+", default=None)
    parser.add_argument("--epochs", type=int, default=Config.epochs)
    parser.add_argument("--length", type=int, default=Config.length)
    parser.add_argument("--vocabulary", type=int, default=Config.vocabulary)
    parser.add_argument("--train-split", default=Config.train_split)
    parser.add_argument("--test-split", default=Config.test_split)
    parser.add_argument("--validation", type=int, default=Config.validation)
    parser.add_argument("--units", type=int, default=Config.units)
    parser.add_argument("--embedding", type=int, default=Config.embedding)
    parser.add_argument(
        "--strategy",
        choices=("none", "mirrored", "multiworker"),
        default="none",
    )
    parser.add_argument("--seed", type=int, default=Config.seed)
    parser.add_argument(
        "--embedding-dropout", type=float, default=Config.embedding_dropout
    )
    parser.add_argument("--dropout", type=float, default=Config.dropout)
    parser.add_argument(
        "--recurrent-dropout", type=float, default=Config.recurrent_dropout
    )
    parser.add_argument(
        "--learning-rate", type=float, default=Config.learning_rate
    )
    parser.add_argument(
        "--schedule", choices=("constant", "cosine"), default=Config.schedule
    )
    parser.add_argument("--batch-size", type=int, default=Config.batch_size)
    parser.add_argument(
        "--keep",
        choices=("end", "start"),
        default=Config.keep,
        help="which tokens of a long review to keep",
    )
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    models = args.models or DEFAULT_MODELS + (["SimpleRNN"] if args.all else [])
    config = Config(
        vocabulary=args.vocabulary,
        length=args.length,
        epochs=args.epochs,
        units=args.units,
        embedding=args.embedding,
        validation=args.validation,
        models=check_model_names(models),
        train_split=args.train_split,
        test_split=args.test_split,
        strategy=args.strategy,
        seed=args.seed,
        embedding_dropout=args.embedding_dropout,
        dropout=args.dropout,
        recurrent_dropout=args.recurrent_dropout,
        learning_rate=args.learning_rate,
        schedule=args.schedule,
        batch_size=args.batch_size,
        keep=args.keep,
    )
    output = Path(args.output)
    text = TextConfig(config.vocabulary, config.length, config.keep)
    data = imdb_arrays(
        text,
        cache=output / "tokens.npz",
        data_dir=args.data_dir,
        train_split=config.train_split,
        test_split=config.test_split,
    )
    store = ResultsStore(output, "imdb", config, fresh=args.fresh)
    if args.fresh:
        shutil.rmtree(output / "backup", ignore_errors=True)
    rng = np.random.default_rng(config.seed)
    order = rng.permutation(len(data["x_train"]))
    valid, train = order[: config.validation], order[config.validation :]
    x_train, y_train = data["x_train"][train], data["y_train"][train]
    x_val, y_val = data["x_train"][valid], data["y_train"][valid]
    print(
        f"IMDB: {len(train)} training, {len(valid)} validation, "
        f"{len(data['x_test'])} test reviews on {store.data['device']}"
    )
    progress = Progress(len(config.models))
    for model in config.models:
        if store.find(model=model):
            progress.step(f"{model}: done before")
            continue
        keras.utils.set_random_seed(config.seed)
        with strategy_scope(config.strategy):
            net = build_model(
                model, text, config.units, config.embedding,
                config.embedding_dropout, config.dropout,
                learning_rate(config, -(-len(train) // config.batch_size)),
                config.seed, config.recurrent_dropout,
            )  # fmt: skip
        timer = EpochTimer()
        best = output / "models" / f"{model}.keras"
        best.parent.mkdir(parents=True, exist_ok=True)
        backup = output / "backup" / model
        history = net.fit(
            x_train,
            y_train,
            validation_data=(x_val, y_val),
            epochs=config.epochs,
            batch_size=config.batch_size,
            callbacks=[
                keras.callbacks.BackupAndRestore(str(backup)),
                keras.callbacks.ModelCheckpoint(
                    str(best), monitor="val_accuracy", save_best_only=True
                ),
                timer,
            ],
            verbose=2 if args.quiet else "auto",
        )
        restored = keras.saving.load_model(best)
        _, accuracy = restored.evaluate(
            data["x_test"], data["y_test"], batch_size=256, verbose=0
        )
        run = {
            "model": model,
            "task": "imdb",
            "length": config.length,
            "metric": "test accuracy (best validation epoch)",
            "value": float(accuracy),
            "baseline": 0.5,
            "params": int(net.count_params()),
            "recurrent_params": int(net.get_layer("recurrent").count_params()),
            "seconds_per_epoch": float(np.median(timer.seconds))
            if timer.seconds
            else None,
            "epoch_seconds": timer.seconds,
            "epochs": config.epochs,
            "seed": config.seed,
            "history": {
                k: [float(v) for v in vs] for k, vs in history.history.items()
            },
        }
        store.add(run)
        shutil.rmtree(backup, ignore_errors=True)
        progress.step(
            f"{model}: test accuracy {accuracy:.4f}, "
            f"{run['seconds_per_epoch']:.1f} s/epoch"
        )
    runs = store.runs
    plots.save_figure(learning_curves(runs), output / "learning_curves.png")
    figures, words = gate_figures(output, data, config)
    columns = ["model", "value", "params", "recurrent_params",
               "seconds_per_epoch", "epochs"]  # fmt: skip
    text_out = (
        "# IMDB: gated layers against the built-ins\n\n"
        f"Device: {store.data['device']}; versions: {store.data['versions']}."
        f"\nConfig: {config}.\n\n"
        "value = test accuracy of the best-validation-accuracy epoch on the "
        f"{len(data['x_test'])} test reviews.\n\n"
        + markdown_table(runs, columns)
        + "\n![learning curves](learning_curves.png)\n\n"
    )
    if words:
        text_out += (
            "## Which words open and close the GatedLSTM's gates\n\n"
            + words
            + "\n"
            + "\n".join(f"![{p.stem}]({p.name})" for p in figures)
            + "\n"
        )
    atomic_write_text(output / "summary.md", text_out)
    print(text_out)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
