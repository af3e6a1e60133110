"""The character-level language model of `experiments.char_lm`, shared
with `experiments.char_lm_ablation`: its windows, model, training, score,
and the units whose state tracks a feature of the code."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from experiments import _char_data as text
from experiments._training import EpochTimer
from keras_gates import GatedGRU, GatedLSTM, extract_gates

LAYERS = {"GatedLSTM": GatedLSTM, "GatedGRU": GatedGRU}


@dataclass
class ModelConfig:
    """The model, its training and its text, as every char_lm experiment
    sets them; each experiment's Config adds its own fields."""

    units: int = 128
    embedding: int = 32
    length: int = 100
    batch_size: int = 32
    steps: int = 4000
    steps_per_epoch: int = 400
    learning_rate: float = 2e-3
    train_chars: int = 3_000_000
    validation_chars: int = 100_000
    test_chars: int = 200_000
    analysis_files: int = 6
    analysis_chars: int = 1500


STATE = {"GatedLSTM": "cell", "GatedGRU": "hidden"}

# -- data and model ------------------------------------------------------


class Windows(keras.utils.PyDataset):
    """Batches of random windows of the training text: inputs are
    `length` characters, targets the same shifted by one. Batch i of epoch
    e is drawn from a generator seeded with (seed, e, i)."""

    def __init__(self, ids, config):
        super().__init__()
        self.ids, self.config, self.epoch = ids, config, 0

    def __len__(self):
        return self.config.steps_per_epoch

    def __getitem__(self, index):
        config = self.config
        rng = np.random.default_rng([config.seed, self.epoch, index])
        starts = rng.integers(
            0, len(self.ids) - config.length - 1, config.batch_size
        )
        window = starts[:, None] + np.arange(config.length + 1)
        chunk = self.ids[window]
        return chunk[:, :-1], chunk[:, 1:]

    def on_epoch_end(self):
        self.epoch += 1


def build_model(name: str, config, options=None) -> keras.Model:
    """Embedding, two `name` layers (with the layer arguments `options`)
    and the next character's logits; seeded by `config.seed`."""
    keras.utils.set_random_seed(config.seed)
    layer = LAYERS[name]
    options = options or {}
    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(len(text.VOCABULARY), config.embedding),
            layer(
                config.units, return_sequences=True, name="layer_1", **options
            ),
            layer(
                config.units, return_sequences=True, name="layer_2", **options
            ),
            keras.layers.Dense(len(text.VOCABULARY), name="next_character"),
        ],
        name=name,
    )
    model.compile(
        keras.optimizers.Adam(config.learning_rate, clipnorm=1.0),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def bits_per_character(model, ids, length=256, context=128, batch=32):
    """Mean -log2 P(next character) over `ids`, in windows of `length`
    that overlap by `context`: every character but the first few is
    predicted from at least `context` characters before it."""
    starts = range(0, max(len(ids) - length - 1, 0) + 1, length - context)
    windows = np.stack([ids[s : s + length + 1] for s in starts])
    nats = []
    for first in range(0, len(windows), batch):
        chunk = windows[first : first + batch]
        logits = model.predict_on_batch(chunk[:, :-1]).astype("float64")
        logits -= logits.max(-1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        picked = np.take_along_axis(log_p, chunk[:, 1:, None], -1)[..., 0]
        # The first window scores every step; the others only the steps
        # the previous window did not reach.
        nats.append(picked[0] if first == 0 else picked[0, context:])
        nats.extend(row[context:] for row in picked[1:])
    return float(-np.concatenate(nats).mean() / np.log(2.0))


class ValidationBits(keras.callbacks.Callback):
    """Bits per character on the validation text after every epoch."""

    def __init__(self, ids):
        super().__init__()
        self.ids, self.history = ids, []

    def on_epoch_end(self, epoch, logs=None):
        self.history.append(bits_per_character(self.model, self.ids))


def corpus_for(store, config) -> tuple[dict, list[dict]]:
    """The text of `config` and its analysis excerpts; records which text
    (Python version, sha256, files) in the store."""
    data = text.corpus(
        config.train_chars, config.test_chars, config.validation_chars
    )
    store.data["text"] = {k: data[k] for k in ("python", "sha256", "files")}
    return data, analysis_texts(data, config)


# -- what the cells do ---------------------------------------------------


def analysis_texts(data: dict, config) -> list[dict]:
    """Excerpts of the first held-out files that tokenize, each with its
    per-character features."""
    found = []
    for name in data["test_files"]:
        source = Path(name).read_text("utf-8", errors="replace")
        try:
            features = text.text_features(source)
        except (SyntaxError, text.tokenize.TokenError):
            continue
        part = text.excerpt(source, config.analysis_chars)
        found.append(
            {
                "file": Path(name).name,
                "text": part,
                "features": {k: v[: len(part)] for k, v in features.items()},
            }
        )
        if len(found) == config.analysis_files:
            break
    return found


def joined(padded: dict, excerpts) -> dict:
    """{layer: {gate: (steps, units)}}: the excerpts one after the other,
    from `padded_gates`'s arrays."""
    return {
        layer: {
            gate: np.concatenate(
                [values[i, : len(e["text"])] for i, e in enumerate(excerpts)]
            )
            for gate, values in gates.items()
        }
        for layer, gates in padded.items()
    }


def correlations(states: np.ndarray, feature: np.ndarray) -> np.ndarray:
    """Pearson r of every unit's state (steps, units) with a feature."""
    x = states - states.mean(0)
    y = feature - feature.mean()
    spread = np.sqrt((x**2).sum(0) * (y**2).sum())
    return (x * y[:, None]).sum(0) / np.where(spread > 0, spread, np.inf)


def best_units(gates: dict, excerpts, state: str) -> dict:
    """{feature: {layer, unit, r}}: the unit with the largest |r|."""
    features = {
        name: np.concatenate([e["features"][name] for e in excerpts])
        for name in text.FEATURES
    }
    best = {}
    for name, feature in features.items():
        candidates = []
        for layer, values in gates.items():
            r = correlations(values[state], feature)
            unit = int(np.argmax(np.abs(r)))
            candidates.append((abs(r[unit]), layer, unit, float(r[unit])))
        _, layer, unit, r = max(candidates)
        best[name] = {"layer": layer, "unit": unit, "r": r}
    return best


def padded_gates(model, excerpts) -> dict:
    """{layer: {gate: (excerpts, longest, units)}}, NaN after each end."""
    longest = max(len(e["text"]) for e in excerpts)
    found: dict = {}
    for index, item in enumerate(excerpts):
        ids = text.encode(item["text"])[None]
        for layer, gates in extract_gates(model, ids).items():
            for gate, values in gates.items():
                array = found.setdefault(layer, {}).setdefault(
                    gate,
                    np.full(
                        (len(excerpts), longest, values.shape[-1]),
                        np.nan,
                        "float32",
                    ),
                )
                array[index, : values.shape[1]] = values[0]
    return found


def train(name, data, config, backup, verbose, options=None):
    """The model `name` (layer arguments `options`) trained on
    `data["train"]` as `config` says, resuming from `backup`; `(model,
    seconds per epoch, validation bits after each epoch)`."""
    model = build_model(name, config, options)
    timer = EpochTimer()
    validation = ValidationBits(text.encode(data["validation"]))
    model.fit(
        Windows(text.encode(data["train"]), config),
        epochs=config.steps // config.steps_per_epoch,
        callbacks=[
            keras.callbacks.BackupAndRestore(str(backup)),
            timer,
            validation,
        ],
        verbose=verbose,
    )
    return model, timer.seconds, validation.history


def load(name, config, weights, options=None) -> keras.Model:
    """The model `name` with the weights saved in `weights`."""
    model = build_model(name, config, options)
    model.optimizer.build(model.trainable_variables)  # saved with it
    model.load_weights(weights)
    return model
