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

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from experiments import _report as report
from experiments._runner import (
    open_store,
    parser,
)
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


def data(config: Config):
    """Random token sequences of random lengths (padded at the end) and
    labels: only the cost is measured."""
    rng = np.random.default_rng(config.seed)
    x = rng.integers(2, config.vocabulary, (config.sequences, config.length))
    lengths = rng.integers(config.length // 4, config.length + 1, len(x))
    x[np.arange(config.length)[None] >= lengths[:, None]] = 0
    return x.astype("int32"), rng.integers(0, 2, len(x)).astype("float32")


def epoch_times(config: Config) -> dict:
    """Seconds per epoch, without callbacks and with both, interleaved."""
    x, y = data(config)
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
                times[name].append(time.perf_counter() - start)
                print(
                    f"repeat {repeat + 1}: {name}: {times[name][-1]:.1f} s",
                    flush=True,
                )
    return times


def rows_of(times: dict, config: Config) -> list[dict]:
    base = float(np.median(times["without callbacks"]))
    return [
        {
            "model": "GatedLSTM(64)",
            "task": name,
            "metric": "seconds per epoch (median)",
            "value": float(np.median(values)),
            "all": values,
            "overhead": float(np.median(values)) / base - 1,
            "seed": config.seed,
        }
        for name, values in times.items()
    ]


def write_page(store, config: Config) -> str:
    base, timed = store.runs
    lines = report.opening(
        "Cost of GateRecorder + GatePlotter on an IMDB-sized epoch", store.data
    )
    lines += [
        f"Config: {config}. `value`: the median of the epochs in `all`; "
        "`overhead`: relative to the median without callbacks.",
        "",
        report.table(store.runs, ["task", "value", "all", "overhead"]),
        "## What this shows",
        "",
        f"- Recording and plotting the gates of a {config.probe}-sequence "
        f"probe every epoch changed the median epoch time by "
        f"{timed['overhead']:+.1%} ({base['value']:.1f} s to "
        f"{timed['value']:.1f} s), over {config.repeats} interleaved "
        "repeats.",
        f"- Single epochs ranged over {min(base['all']):.1f}-"
        f"{max(base['all']):.1f} s without callbacks and "
        f"{min(timed['all']):.1f}-{max(timed['all']):.1f} s with them: a "
        "difference inside that spread is noise, not a cost.",
    ]
    return report.save(store.folder / "summary.md", lines)


def main(argv=None):
    args = parser(
        Config(), __doc__.split("\n")[0], "results/callback_cost"
    ).parse_args(argv)
    # Timings are not resumable: a run starts over.
    store, config = open_store(args, Config(), "callback_cost", argv, True)
    if not args.report:
        for row in rows_of(epoch_times(config), config):
            store.add(row)
    print(write_page(store, config))


if __name__ == "__main__":
    main()
