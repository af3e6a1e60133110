"""What GateRecorder and GatePlotter add to an IMDB-sized epoch.

    python -m experiments.callback_cost [--repeats 2]

Trains Embedding(20000, 128, masked) + GatedLSTM(64) + Dense on 25,000
random token sequences of length 200 (the size of an IMDB epoch) for one
epoch, alternately without callbacks and with GateRecorder(probe) and
GatePlotter(probe, tokens) on a 64-sequence probe, both firing every epoch
(the default), and reports the epoch times and the overhead. The data are
random because only the cost is measured. Writes results/callback_cost/.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from experiments._results import ResultsStore, atomic_write_text, markdown_table
from keras_gates import GatedLSTM, GatePlotter, GateRecorder


@dataclass
class Config:
    sequences: int = 25_000
    length: int = 200
    vocabulary: int = 20_000
    embedding: int = 128
    units: int = 64
    batch_size: int = 64
    probe: int = 64
    repeats: int = 2
    seed: int = 0


def model(config: Config):
    net = keras.Sequential(
        [
            keras.Input((config.length,), dtype="int32"),
            keras.layers.Embedding(
                config.vocabulary, config.embedding, mask_zero=True
            ),
            GatedLSTM(config.units, name="lstm"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    net.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    return net


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default="results/callback_cost")
    parser.add_argument("--repeats", type=int, default=Config.repeats)
    parser.add_argument("--sequences", type=int, default=Config.sequences)
    args = parser.parse_args(argv)
    config = Config(repeats=args.repeats, sequences=args.sequences)
    store = ResultsStore(args.output, "callback_cost", config, fresh=True)
    rng = np.random.default_rng(config.seed)
    x = rng.integers(2, config.vocabulary, (config.sequences, config.length))
    lengths = rng.integers(config.length // 4, config.length + 1, len(x))
    x[np.arange(config.length)[None] >= lengths[:, None]] = 0  # end padding
    x = x.astype("int32")
    y = rng.integers(0, 2, len(x)).astype("float32")
    probe = x[: config.probe]
    tokens = [f"w{t}" for t in probe[0]]
    net = model(config)
    net.fit(x[:256], y[:256], epochs=1, verbose=0)  # trace once, untimed
    times = {"without callbacks": [], "with GateRecorder + GatePlotter": []}
    with tempfile.TemporaryDirectory() as folder:
        for repeat in range(config.repeats):
            for name in times:
                callbacks = []
                if name.startswith("with"):
                    callbacks = [
                        GateRecorder(probe, path=Path(folder) / "gates.npz"),
                        GatePlotter(
                            probe, Path(folder) / "figs", tokens=tokens
                        ),
                    ]
                start = time.perf_counter()
                net.fit(
                    x,
                    y,
                    epochs=1,
                    batch_size=config.batch_size,
                    callbacks=callbacks,
                    verbose=0,
                )
                seconds = time.perf_counter() - start
                times[name].append(seconds)
                print(
                    f"repeat {repeat + 1}: {name}: {seconds:.1f} s", flush=True
                )
    base = float(np.median(times["without callbacks"]))
    rows = []
    for name, values in times.items():
        median = float(np.median(values))
        row = {
            "model": "GatedLSTM(64)",
            "task": name,
            "metric": "seconds per epoch (median)",
            "value": median,
            "all": values,
            "overhead": median / base - 1,
            "seed": config.seed,
        }
        store.add(row)
        rows.append(row)
    text = (
        "# Cost of GateRecorder + GatePlotter on an IMDB-sized epoch\n\n"
        f"Device: {store.data['device']}. Config: {config}.\n\n"
        + markdown_table(rows, ["task", "value", "all", "overhead"])
    )
    atomic_write_text(Path(args.output) / "summary.md", text)
    print(text)


if __name__ == "__main__":
    main()
