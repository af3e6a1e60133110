"""experiments.imdb at toy size on mocked data: outputs, resume, mirrored."""

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow_datasets as tfds

from experiments import imdb

TOY = ["--epochs", "3", "--length", "12", "--vocabulary", "60", "--units",
       "4", "--embedding", "8", "--validation", "16", "--quiet",
       "--models", "GatedLSTM", "LSTM"]  # fmt: skip


@pytest.mark.slow
def test_imdb_writes_results_and_resumes_after_a_crash(tmp_path, monkeypatch):
    out = tmp_path / "imdb"
    crashed = []

    class CrashOnce(imdb.EpochTimer):
        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)
            if epoch == 1 and not crashed:
                crashed.append(epoch)
                raise RuntimeError("killed")

    monkeypatch.setattr(imdb, "EpochTimer", CrashOnce)
    with tfds.testing.mock_data(num_examples=64):
        with pytest.raises(RuntimeError, match="killed"):
            imdb.main([*TOY, "--output", str(out)])
        assert (out / "backup" / "GatedLSTM").exists()
        imdb.main([*TOY, "--output", str(out)])
    data = json.loads((out / "results.json").read_text())
    runs = {r["model"]: r for r in data["runs"]}
    assert set(runs) == {"GatedLSTM", "LSTM"}
    # The resumed run trained only the epoch it had not finished.
    assert len(runs["GatedLSTM"]["epoch_seconds"]) == 1
    assert len(runs["LSTM"]["epoch_seconds"]) == 3
    assert not (out / "backup" / "GatedLSTM").exists()
    tokens = np.load(out / "tokens.npz")
    best = keras.saving.load_model(out / "models" / "GatedLSTM.keras")
    _, accuracy = best.evaluate(tokens["x_test"], tokens["y_test"], verbose=0)
    assert accuracy == pytest.approx(runs["GatedLSTM"]["value"], abs=1e-6)
    outputs = ["learning_curves.png", "review_positive.png", "summary.md"]
    for name in outputs + ["review_negative.png", "saturation.png"]:
        assert (out / name).exists(), name
    # --report writes the same page from results.json, without training
    # and, once the model and tokens are gone, from what the run recorded.
    page = (out / "summary.md").read_text()
    assert "## Which words open and close the GatedLSTM's gates" in page
    imdb.main(["--report", "--output", str(out)])
    assert (out / "summary.md").read_text() == page
    (out / "models" / "GatedLSTM.keras").unlink()
    (out / "tokens.npz").unlink()
    imdb.main(["--report", "--output", str(out)])
    assert (out / "summary.md").read_text() == page


def test_tokens_only_writes_the_cache_and_trains_nothing(tmp_path):
    out = tmp_path / "imdb"
    with tfds.testing.mock_data(num_examples=64):
        imdb.main([*TOY, "--tokens-only", "--output", str(out)])
    with np.load(out / "tokens.npz") as tokens:
        assert tokens["x_train"].shape == (64, 12)
        assert tokens["x_test"].shape == (64, 12)
    assert sorted(p.name for p in out.iterdir()) == ["tokens.npz"]


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    script = f"""
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import tensorflow_datasets as tfds
from experiments import imdb
with tfds.testing.mock_data(num_examples=64):
    imdb.main({TOY[:-4]!r} + ["--epochs", "1", "--strategy", "mirrored",
              "--models", "GatedGRU", "--output", {str(tmp_path)!r}])
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "MirroredStrategy over 2 devices" in result.stdout
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["runs"][0]["model"] == "GatedGRU"


def test_cosine_schedule_decays_to_zero_over_the_budget():
    config = imdb.Config(learning_rate=2e-3, epochs=3, schedule="cosine")
    schedule = imdb.learning_rate(config, steps_per_epoch=10)
    rates = [float(schedule(step)) for step in (0, 15, 30)]
    np.testing.assert_allclose(rates, [2e-3, 1e-3, 0.0], atol=1e-9)
    constant = imdb.Config(learning_rate=5e-4, schedule="constant")
    assert imdb.learning_rate(constant, 10) == 5e-4
    with pytest.raises(ValueError, match="schedule must be .* 'linear'"):
        imdb.learning_rate(imdb.Config(schedule="linear"), 10)
