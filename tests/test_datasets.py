"""The IMDB pipeline: mocked tfds for the plumbing, the real copy for one
slow integration test."""

import os
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow_datasets as tfds

from experiments._data import TextConfig, imdb, imdb_arrays, load_text

SHARED = Path(__file__).resolve().parents[2] / "shared" / "tensorflow_datasets"


def test_pipeline_tokenises_pads_and_batches():
    config = TextConfig(vocabulary=50, length=12)
    with tfds.testing.mock_data(num_examples=40):
        train, test, vocabulary = imdb(config, batch_size=8)
        x, y = next(iter(train))
    assert x.shape == (8, 12) and x.dtype == "int32"
    assert set(np.unique(y.numpy())) <= {0.0, 1.0}
    assert vocabulary[:2] == ["", "[UNK]"] and len(vocabulary) <= 50
    assert np.asarray(x).max() < 50


def test_keep_end_keeps_the_last_tokens_and_pads_at_the_end():
    import tensorflow as tf

    from experiments import _data as datasets

    text = tf.data.Dataset.from_tensor_slices(
        ["one two three four five six", "seven"]
    )
    for keep, first_row in (("end", [3, 4, 5, 6]), ("start", [1, 2, 3, 4])):
        config = TextConfig(vocabulary=20, length=4, keep=keep)
        layer = datasets.vectorizer(text, config)
        ids = datasets._tokens(layer, config)(
            tf.constant(["one two three four five six", "seven"])
        ).numpy()
        words = np.array(layer.get_vocabulary())
        expected = ["one", "two", "three", "four", "five", "six"]
        assert list(words[ids[0]]) == [expected[i - 1] for i in first_row]
        assert list(ids[1][1:]) == [0, 0, 0]  # padded at the end, masked


def test_npz_cache_is_reused_only_for_the_same_settings(tmp_path, capsys):
    cache = tmp_path / "imdb.npz"
    with tfds.testing.mock_data(num_examples=30):
        first = imdb_arrays(TextConfig(vocabulary=40, length=10), cache)
        assert cache.exists()
        again = imdb_arrays(TextConfig(vocabulary=40, length=10), cache)
        np.testing.assert_array_equal(first["x_train"], again["x_train"])
        assert "rebuilding" not in capsys.readouterr().out
        other = imdb_arrays(TextConfig(vocabulary=40, length=7), cache)
    assert "rebuilding" in capsys.readouterr().out
    assert other["x_train"].shape[1] == 7
    assert first["x_train"].shape == (30, 10)


def test_missing_data_names_the_way_out(tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "empty"))

    def offline(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr(tfds, "load", offline)
    with pytest.raises(RuntimeError, match="TFDS_DATA_DIR.*--data-dir"):
        load_text("train")


def _real_data_dir():
    data_dir = os.environ.get("TFDS_DATA_DIR")
    if data_dir and (Path(data_dir) / "imdb_reviews").exists():
        return data_dir
    if (SHARED / "imdb_reviews").exists():
        return str(SHARED)
    if os.environ.get("CI") == "true":
        pytest.fail("CI needs the IMDB copy: set TFDS_DATA_DIR")
    pytest.skip("no prepared imdb_reviews (set TFDS_DATA_DIR)")


@pytest.mark.slow
def test_one_epoch_on_2000_real_reviews_beats_chance():
    data_dir = _real_data_dir()
    config = TextConfig(vocabulary=5000, length=120)
    arrays = imdb_arrays(
        config,
        data_dir=data_dir,
        train_split="train[:1000]+train[-1000:]",
        test_split="test[:500]+test[-500:]",
    )
    assert arrays["x_train"].shape == (2000, 120)
    assert 0.4 < arrays["y_train"].mean() < 0.6
    from experiments._training import build_text_model as build_model

    keras.utils.set_random_seed(0)
    model = build_model("GatedLSTM", config, units=32, embedding=32)
    model.fit(arrays["x_train"], arrays["y_train"], epochs=2, batch_size=32,
              verbose=0)  # fmt: skip
    _, accuracy = model.evaluate(arrays["x_test"], arrays["y_test"], verbose=0)
    assert accuracy > 0.65
