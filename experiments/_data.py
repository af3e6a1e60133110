"""IMDB reviews through tensorflow-datasets: the TensorFlow edge.

`imdb(...)` reads `imdb_reviews` with `tfds.load`, tokenises inside the
tf.data pipeline with `keras.layers.TextVectorization`, batches and
prefetches. `imdb_arrays(...)` materialises the tokens into numpy arrays
and caches them in one `.npz`, so that a run on the JAX or PyTorch backend
(or a machine without TensorFlow) needs no tfds at all.

The data directory comes from the `data_dir` argument, else the
`TFDS_DATA_DIR` environment variable, else tfds's default (where it
downloads the data set as usual).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from keras_gates.files import atomic_path

CACHE_VERSION = 1


@dataclass(frozen=True)
class TextConfig:
    """How reviews become token ids.

    Attributes:
        vocabulary: size of the vocabulary, padding (0) and OOV (1) included.
        length: tokens per review.
        keep: "end" keeps a long review's last `length` tokens (its verdict
            is usually at the end), "start" its first; either way short
            reviews are padded with 0 at the end, which the model masks.
    """

    vocabulary: int = 20_000
    length: int = 200
    keep: str = "end"

    def __post_init__(self):
        if self.keep not in ("end", "start"):
            raise ValueError(
                f"keep must be 'end' or 'start', got {self.keep!r}"
            )
        for name in ("vocabulary", "length"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(
                    f"{name} must be a positive integer, got {value!r}"
                )


def _data_dir(data_dir):
    return data_dir or os.environ.get("TFDS_DATA_DIR") or None


def load_text(split: str, data_dir=None):
    """`tf.data.Dataset` of (text, label) for an `imdb_reviews` split."""
    import tensorflow_datasets as tfds

    data_dir = _data_dir(data_dir)
    try:
        return tfds.load(
            "imdb_reviews",
            split=split,
            as_supervised=True,
            data_dir=data_dir,
            shuffle_files=False,
        )
    except Exception as error:
        raise RuntimeError(
            f"could not load imdb_reviews split {split!r} from "
            f"{data_dir or 'the tfds default folder'} ({type(error).__name__}:"
            f" {str(error).splitlines()[0][:200]}). On a machine without "
            "network access point TFDS_DATA_DIR (or --data-dir) at a folder "
            "that holds imdb_reviews prepared by tensorflow-datasets."
        ) from error


def _standardize(text):
    import tensorflow as tf

    text = tf.strings.lower(text)
    text = tf.strings.regex_replace(text, "<br\\s*/?>", " ")
    return tf.strings.regex_replace(text, "[^a-z0-9' ]", " ")


def vectorizer(train_text, config: TextConfig):
    """A TextVectorization adapted on the training texts."""
    import keras

    layer = keras.layers.TextVectorization(
        max_tokens=config.vocabulary,
        standardize=_standardize,
        ragged=True,
    )
    layer.adapt(train_text.batch(512))
    return layer


def _tokens(layer, config: TextConfig):
    import tensorflow as tf

    def tokenize(text):
        ragged = layer(text)
        if config.keep == "end":
            ragged = ragged[:, -config.length :]
        else:
            ragged = ragged[:, : config.length]
        return tf.cast(
            ragged.to_tensor(0, shape=[None, config.length]), "int32"
        )

    return tokenize


def imdb(
    config: TextConfig = TextConfig(),
    batch_size: int = 64,
    data_dir=None,
    train_split: str = "train",
    test_split: str = "test",
    shuffle_seed: int | None = 0,
):
    """Tokenised, batched, prefetched IMDB train and test pipelines.

    Args:
        config: vocabulary size, length and which end of a long review to
            keep.
        batch_size: int.
        data_dir: tfds data folder; default `TFDS_DATA_DIR`, else tfds's.
        train_split, test_split: tfds split strings, e.g. "train[:2000]".
        shuffle_seed: seed of the training set's shuffle; None: no shuffle.

    Returns:
        `(train, test, vocabulary)`: two `tf.data.Dataset`s of
        `(tokens int32 (batch, length), label float32 (batch,))` and the
        vocabulary list (index = token id).
    """
    import tensorflow as tf

    train_text = load_text(train_split, data_dir)
    test_text = load_text(test_split, data_dir)
    layer = vectorizer(train_text.map(lambda text, label: text), config)
    tokenize = _tokens(layer, config)

    def pipeline(dataset, shuffle):
        if shuffle and shuffle_seed is not None:
            dataset = dataset.shuffle(25_000, seed=shuffle_seed)
        dataset = dataset.batch(batch_size).map(
            lambda text, label: (tokenize(text), tf.cast(label, "float32")),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        return dataset.prefetch(tf.data.AUTOTUNE)

    return (
        pipeline(train_text, True),
        pipeline(test_text, False),
        layer.get_vocabulary(),
    )


def _fingerprint(config: TextConfig, splits) -> str:
    text = json.dumps(
        {"config": asdict(config), "splits": splits, "version": CACHE_VERSION},
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def imdb_arrays(
    config: TextConfig = TextConfig(),
    cache=None,
    data_dir=None,
    train_split: str = "train",
    test_split: str = "test",
) -> dict:
    """Token arrays, read from (or written to) an `.npz` cache.

    A cache made with another vocabulary, length, `keep` or split is
    detected (its fingerprint differs) and rebuilt, never reused. Reading a
    valid cache needs neither TensorFlow nor tfds.

    Returns:
        `{"x_train", "y_train", "x_test", "y_test", "vocabulary"}`.
    """
    splits = [train_split, test_split]
    fingerprint = _fingerprint(config, splits)
    if cache is not None and Path(cache).exists():
        with np.load(cache, allow_pickle=False) as stored:
            if str(stored["fingerprint"]) == fingerprint:
                return {
                    key: stored[key]
                    for key in ("x_train", "y_train", "x_test", "y_test")
                } | {"vocabulary": [str(w) for w in stored["vocabulary"]]}
        print(
            f"{cache} was made with other settings (not {asdict(config)}, "
            f"splits {splits}): rebuilding it"
        )
    train, test, vocabulary = imdb(
        config,
        batch_size=1024,
        data_dir=data_dir,
        train_split=train_split,
        test_split=test_split,
        shuffle_seed=None,
    )
    arrays = {}
    for name, dataset in (("train", train), ("test", test)):
        xs, ys = [], []
        for x, y in dataset:
            xs.append(np.asarray(x))
            ys.append(np.asarray(y))
        arrays[f"x_{name}"] = np.concatenate(xs).astype("int32")
        arrays[f"y_{name}"] = np.concatenate(ys).astype("float32")
    if cache is not None:
        cache = Path(cache)
        with atomic_path(cache, suffix=".npz") as tmp:
            np.savez_compressed(
                tmp,
                fingerprint=np.array(fingerprint),
                vocabulary=np.array(vocabulary),
                **arrays,
            )
    return arrays | {"vocabulary": vocabulary}
