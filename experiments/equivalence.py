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

import argparse
from dataclasses import dataclass

import keras
import numpy as np

from experiments._results import ResultsStore, atomic_write_text, markdown_table
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default="results/equivalence")
    parser.add_argument("--fresh", action="store_true")
    args = parser.parse_args(argv)
    config = Config()
    keras.utils.set_random_seed(config.seed)
    store = ResultsStore(args.output, "equivalence", config, fresh=args.fresh)
    for kind in ("LSTM", "GRU"):
        for name, options in OPTIONS.items():
            if store.find(model=kind, task=name):
                continue
            numbers = measure(kind, options, config)
            store.add(
                {"model": kind, "task": name, "seed": config.seed, **numbers}
            )
            print(f"{kind:4s} {name:20s} {numbers}", flush=True)
    table = markdown_table(
        store.runs,
        [
            "model",
            "task",
            "output_max_abs_diff",
            "gradient_max_abs_diff",
            "gradient_max_abs",
        ],
    )
    summary = (
        "# GatedLSTM/GatedGRU vs keras.layers.LSTM/GRU (copied weights)\n\n"
        f"Device: {store.data['device']}; backend "
        f"{store.data['versions']['backend']}, keras "
        f"{store.data['versions']['keras']}. Inputs: {config}.\n"
        "Masks padded at the end for half the batch, in front for the "
        "other half.\n\n" + table
    )
    atomic_write_text(store.folder / "summary.md", summary)
    print(table)


if __name__ == "__main__":
    main()
