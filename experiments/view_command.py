"""`python -m keras_gates.view` on two saved models, and how fast its pages
open.

    python -m experiments.view_command

Makes two saved models and runs the command on each, as a user would:

- an IMDB sentiment model that starts with a `TextVectorization` layer
  (TextVectorization -> Embedding (masked) -> GatedLSTM(64) -> Dense),
  trained for `--epochs` on `--train-reviews` reviews (tensorflow-datasets'
  `imdb_reviews`), given `--text`: `--reviews` test reviews, one per line;
- the two-layer character-level GatedLSTM of `experiments.char_lm`
  (128 units per layer; trained weights from `--char-weights` when the
  file exists, else as initialised), given `--inputs`: `--analysis-files`
  held-out excerpts of 1500 characters of the standard library, and
  `--tokens`: their characters (JSON).

Times the command (a fresh process: Python, Keras, the model's load and
the extraction) and opens every page it wrote in headless Chromium
(`--loads` times each), from the start of navigation to the viewer on
screen. Writes results/view_command/: results.json and summary.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from experiments import _char_data as text
from experiments import _report as report
from experiments._browser import measure
from experiments._char_model import analysis_texts, build_model, load
from experiments._runner import (
    open_store,
    parser,
)
from keras_gates import GatedLSTM


@dataclass
class Config:
    train_reviews: int = 5000
    epochs: int = 2
    reviews: int = 8
    length: int = 200
    analysis_files: int = 4  # held-out excerpts for the char_lm model
    analysis_chars: int = 1500
    char_weights: str = "results/char_lm_ablation/models/GatedLSTM-0.weights.h5"
    loads: int = 5
    seed: int = 0


def imdb_model(config: Config, folder: Path) -> tuple[Path, Path]:
    """The saved IMDB model and a text file of test reviews."""
    from experiments._data import load_text

    keras.utils.set_random_seed(config.seed)
    import tensorflow as tf

    # ASCII only: Keras 3.15 saves a TextVectorization vocabulary one term
    # a line, and a term holding a Unicode line separator comes back as
    # two, which fails to load ("repeated terms").
    def ascii_only(text, label):
        return tf.strings.regex_replace(text, "[^\\x00-\\x7f]", " "), label

    train = load_text(f"train[:{config.train_reviews}]").map(ascii_only)
    vectorize = keras.layers.TextVectorization(
        max_tokens=20_000, output_sequence_length=config.length
    )
    vectorize.adapt(train.map(lambda text, _: text).batch(256))
    reviews = keras.Input((), dtype="string")
    x = keras.layers.Embedding(20_000, 32, mask_zero=True)(vectorize(reviews))
    x = GatedLSTM(64, name="lstm")(x)
    outputs = keras.layers.Dense(1, "sigmoid")(x)
    model = keras.Model(reviews, outputs, name="imdb")
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    model.fit(train.batch(64), epochs=config.epochs, shuffle=False, verbose=2)
    path = folder / "imdb.keras"
    model.save(path)
    test = load_text(f"test[:{config.reviews}]").map(ascii_only)
    lines = [
        " ".join(t.numpy().decode("utf-8").replace("<br />", " ").split())
        for t, _ in test
    ]
    reviews_path = folder / "reviews.txt"
    reviews_path.write_text("\n".join(lines) + "\n", "utf-8")
    return path, reviews_path


@dataclass
class CharSize:
    """The char_lm model's size, as `experiments.char_lm` trains it."""

    units: int = 128
    embedding: int = 32
    learning_rate: float = 2e-3
    seed: int = 0


def char_model(config: Config, folder: Path) -> tuple:
    """The saved char_lm model, its inputs and tokens files, and whether
    it has trained weights."""
    weights = Path(config.char_weights)
    trained = weights.is_file()
    size = CharSize()
    model = (
        load("GatedLSTM", size, weights)
        if trained
        else build_model("GatedLSTM", size)
    )
    path = folder / "char_lm.keras"
    model.save(path)
    data = text.corpus(1_000, 200_000, 1_000)
    chosen = analysis_texts(data, config)
    # The model has no mask: every excerpt cut to the shortest's length.
    shortest = min(len(e["text"]) for e in chosen)
    ids = np.stack([text.encode(e["text"][:shortest]) for e in chosen])
    inputs, tokens = folder / "excerpts.npy", folder / "characters.json"
    np.save(inputs, ids.astype("int32"))
    tokens.write_text(json.dumps([list(e["text"][:shortest]) for e in chosen]))
    return path, inputs, tokens, trained


def run_command(arguments: list[str]) -> tuple[float, list[Path]]:
    """Seconds the command took, and the pages it wrote."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "keras_gates.view", *arguments],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"keras_gates.view failed: {done.stderr[-2000:]}")
    output = Path(arguments[arguments.index("--output") + 1])
    return seconds, sorted(output.glob("*.html"))


def measure_pages(pages, loads) -> list[dict]:
    rows = []
    for page in pages:
        if page.name == "index.html":
            continue
        found, browser_name = measure(page, loads)
        shown = [load["shown"] for load in found]
        rows.append(
            {
                "page": page.name,
                "MB": page.stat().st_size / 1e6,
                "shown ms (median)": float(np.median(shown)),
                "shown ms (max)": float(np.max(shown)),
                "browser": browser_name,
            }
        )
    return rows


def write_page(store, config: Config, output: Path) -> str:
    lines = report.opening(
        "python -m keras_gates.view on saved models", store.data
    )
    for run in store.runs:
        lines += [
            f"## {run['model']}",
            "",
            run["about"],
            "",
            f"`{run['command']}` took {run['seconds']:.1f} s (a fresh "
            "process: Python, Keras, loading the model, extracting the "
            "gates, writing the pages). Each page opened "
            f"{config.loads} times in headless {run['pages'][0]['browser']}"
            "; `shown`: from the start of navigation to the first frame "
            "with the viewer built.",
            "",
            report.table(
                run["pages"],
                ["page", "MB", "shown ms (median)", "shown ms (max)"],
            ),
        ]
    slowest = max(p["shown ms (max)"] for r in store.runs for p in r["pages"])
    lines += [
        "## What this shows",
        "",
        f"- The slowest page of {sum(len(r['pages']) for r in store.runs)} "
        f"was on screen {slowest:.0f} ms after navigation (slowest load), "
        f"against 2 s: {'under' if slowest < 2000 else 'over'}.",
        "",
    ]
    return report.save(output / "summary.md", lines)


def main(argv=None):
    args = parser(
        Config(), "The view command on saved models", "results/view_command"
    ).parse_args(argv)
    output = Path(args.output)
    store, config = open_store(args, Config(), "view_command", argv, fresh=True)
    if not args.report:
        with tempfile.TemporaryDirectory() as folder:
            folder = Path(folder)
            model, reviews = imdb_model(config, folder)
            arguments = [
                str(model),
                "--text",
                str(reviews),
                "--output",
                str(folder / "imdb_pages"),
            ]
            seconds, pages = run_command(arguments)
            store.add(
                {
                    "model": "IMDB, TextVectorization -> GatedLSTM(64)",
                    "about": f"Trained for {config.epochs} epoch(s) on "
                    f"{config.train_reviews} reviews; {config.reviews} test "
                    f"reviews, {config.length} tokens each (padded).",
                    "command": "python -m keras_gates.view imdb.keras "
                    "--text reviews.txt --output imdb_pages",
                    "seconds": seconds,
                    "pages": measure_pages(pages, config.loads),
                }
            )
            model, inputs, tokens, trained = char_model(config, folder)
            arguments = [
                str(model),
                "--inputs",
                str(inputs),
                "--tokens",
                str(tokens),
                "--output",
                str(folder / "char_pages"),
            ]
            seconds, pages = run_command(arguments)
            store.add(
                {
                    "model": "char_lm, two GatedLSTM(128) layers",
                    "about": (
                        "Weights trained by experiments.char_lm_ablation "
                        "(seed 0)"
                        if trained
                        else "Untrained weights (no trained file found)"
                    )
                    + f"; {config.analysis_files} held-out excerpts of up "
                    f"to {config.analysis_chars} characters.",
                    "command": "python -m keras_gates.view char_lm.keras "
                    "--inputs excerpts.npy --tokens characters.json "
                    "--output char_pages",
                    "seconds": seconds,
                    "pages": measure_pages(pages, config.loads),
                }
            )
    print(write_page(store, config, output))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
