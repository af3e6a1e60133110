"""How far apart are GatedLSTM/GatedGRU and keras.layers.LSTM/GRU?

    python -m experiments.equivalence [--output results/equivalence]

For each layer and a set of options it builds a small model around the
built-in layer and the same model around the gated layer with copied
weights, then reports the largest absolute difference of the outputs and
of the gradients of every weight (read off one SGD step with learning rate
1, so the measurement needs no backend-specific autodiff), on float32
inputs with masks padded on either side.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from experiments import _report as report
from experiments._runner import (
    command,
    run_plan,
)
from keras_gates import convert

OPTIONS = {
    "default": {},
    "return_sequences": {"return_sequences": True},
    "go_backwards": {"go_backwards": True, "return_sequences": True},
    "dropout (training)": {"dropout": 0.2, "recurrent_dropout": 0.2, "seed": 1},
}


@dataclass
class Config:
    batch: int = 16
    time: int = 50
    vocabulary: int = 30
    embedding: int = 16
    units: int = 32
    seed: int = 0


def build(kind: str, options: dict, config: Config):
    layer_class = {"LSTM": keras.layers.LSTM, "GRU": keras.layers.GRU}[kind]
    model = keras.Sequential(
        [
            keras.Input((config.time,), dtype="int32"),
            keras.layers.Embedding(
                config.vocabulary, config.embedding, mask_zero=True
            ),
            layer_class(config.units, **options),
        ]
    )
    if options.get("return_sequences"):
        model.add(keras.layers.GlobalAveragePooling1D())
    model.add(keras.layers.Dense(1))
    return model


def one_step_gradients(model, x, y):
    before = [w.copy() for w in model.get_weights()]
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
    model.train_on_batch(x, y)
    return [b - a for b, a in zip(before, model.get_weights(), strict=True)]


def measure(kind: str, options: dict, config: Config) -> dict:
    rng = np.random.default_rng(config.seed)
    x = rng.integers(1, config.vocabulary, (config.batch, config.time))
    lengths = rng.integers(config.time // 4, config.time + 1, config.batch)
    steps = np.arange(config.time)
    half = config.batch // 2  # first half padded at the end, rest in front
    x[:half][steps[None] >= lengths[:half, None]] = 0
    x[half:][steps[None] < config.time - lengths[half:, None]] = 0
    y = rng.normal(size=(config.batch, 1)).astype("float32")

    builtin = build(kind, options, config)
    gated = convert(builtin)
    training = "dropout" in str(options)
    out_builtin = keras.ops.convert_to_numpy(builtin(x, training=training))
    out_gated = keras.ops.convert_to_numpy(gated(x, training=training))
    grads_builtin = one_step_gradients(builtin, x, y)
    grads_gated = one_step_gradients(gated, x, y)
    return {
        "output_max_abs_diff": float(np.abs(out_builtin - out_gated).max()),
        "gradient_max_abs_diff": float(
            max(
                np.abs(a - b).max()
                for a, b in zip(grads_builtin, grads_gated, strict=True)
            )
        ),
        "gradient_max_abs": float(max(np.abs(g).max() for g in grads_builtin)),
    }


COLUMNS = [
    "model",
    "task",
    "output_max_abs_diff",
    "gradient_max_abs_diff",
    "gradient_max_abs",
]


def what_it_shows(runs) -> list[str]:
    """Equal outputs, and how far the gradients are apart relative to
    their size."""
    outputs = max(r["output_max_abs_diff"] for r in runs)
    gradients = max(r["gradient_max_abs_diff"] for r in runs)
    largest = max(r["gradient_max_abs"] for r in runs)
    exact = [
        f"{r['model']} {r['task']}"
        for r in runs
        if r["output_max_abs_diff"] == r["gradient_max_abs_diff"] == 0
    ]
    return [
        f"- Largest output difference: {outputs:.2g}; largest weight-"
        f"gradient difference: {gradients:.2g}, against gradients up to "
        f"{largest:.2g}.",
        "- Bit for bit equal, outputs and gradients: "
        f"{', '.join(exact) or 'none'}.",
    ]


def write_page(store, config: Config) -> str:
    lines = report.opening(
        "GatedLSTM/GatedGRU against keras.layers.LSTM/GRU (copied weights)",
        store.data,
    )
    lines += [
        f"Inputs: {config}. Masks padded at the end for half the batch, in "
        "front for the other half; gradients of every weight from one SGD "
        "step with learning rate 1.",
        "",
        report.table(store.runs, COLUMNS),
        "## What this shows",
        "",
        *what_it_shows(store.runs),
    ]
    return report.save(store.folder / "summary.md", lines)


def run_all(store, config, output, args):
    keras.utils.set_random_seed(config.seed)
    plan = [
        {"model": kind, "task": name}
        for kind in ("LSTM", "GRU")
        for name in OPTIONS
    ]
    run_plan(
        store,
        plan,
        lambda keys: {
            "seed": config.seed,
            **measure(keys["model"], OPTIONS[keys["task"]], config),
        },
        lambda run: (
            f"outputs {run['output_max_abs_diff']:.2g}, "
            f"gradients {run['gradient_max_abs_diff']:.2g}"
        ),
    )


def main(argv=None):
    command(
        argv,
        Config(),
        "equivalence",
        __doc__.split("\n")[0],
        run_all,
        lambda store, config, output: write_page(store, config),
    )


if __name__ == "__main__":
    main()
