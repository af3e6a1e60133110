"""What an intervention costs against a forward pass.

    python -m experiments.intervention_cost

A GatedLSTM model (batch 64, 200 steps, 128 features -> 64 units -> one
output) timed, interleaved, median of `--repeats`: its forward pass
(`predict_on_batch`), `intervene` with a Clamp on two units' forget gate
at one step, and `extract_gates`. Writes results/intervention_cost/:
results.json and summary.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from experiments import _report as report
from experiments._runner import (
    command,
)
from experiments._timing import time_interleaved
from keras_gates import Clamp, GatedLSTM, GateExtractor, intervene


@dataclass
class Config:
    batch: int = 64
    time: int = 200
    features: int = 128
    units: int = 64
    repeats: int = 10
    warmup: int = 2
    seed: int = 0


def measure(config: Config) -> list[dict]:
    keras.utils.set_random_seed(config.seed)
    model = keras.Sequential(
        [
            keras.Input((config.time, config.features)),
            GatedLSTM(config.units, name="lstm"),
            keras.layers.Dense(1),
        ]
    )
    rng = np.random.default_rng(config.seed)
    x = rng.normal(size=(config.batch, config.time, config.features))
    x = x.astype("float32")
    edit = {"lstm": {"forget": Clamp(0.0, units=[0, 1], steps=[1])}}
    extractor = GateExtractor(model)
    functions = {
        "forward pass (predict_on_batch)": lambda: model.predict_on_batch(x),
        "intervene (Clamp, 2 units, 1 step)": lambda: intervene(model, x, edit),
        "extract_gates (GateExtractor)": lambda: extractor(x),
    }
    times = time_interleaved(functions, config.repeats, config.warmup)
    forward = times["forward pass (predict_on_batch)"]
    return [
        {"model": name, "ms": ms, "ratio": ms / forward}
        for name, ms in times.items()
    ]


def write_page(store, config: Config, output: Path) -> str:
    lines = report.opening("What an intervention costs", store.data)
    lines += [
        f"GatedLSTM({config.units}) on {config.batch} x {config.time} x "
        f"{config.features} inputs, one Dense output; median of "
        f"{config.repeats} interleaved calls after {config.warmup} warm-up "
        "calls. `ratio`: against the forward pass.",
        "",
        report.table(store.runs, ["model", "ms", "ratio"]),
    ]
    return report.save(output / "summary.md", lines)


def run_all(store, config, output, args):
    for row in measure(config):
        store.add(row)


def main(argv=None):
    # Timings are not resumable: a run starts over.
    command(
        argv,
        Config(),
        "intervention_cost",
        "What an intervention costs",
        run_all,
        write_page,
        fresh=True,
    )


if __name__ == "__main__":
    main()
