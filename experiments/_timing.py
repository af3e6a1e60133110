"""Timing training steps: a model around one recurrent layer, and several
step functions timed in turn (shared by the speed experiments)."""

from __future__ import annotations

import importlib.util
import time

import keras
import numpy as np


def build(layer, shape, jit):
    batch, time_steps, features, _ = shape
    inputs = keras.Input((time_steps, features), batch_size=None)
    outputs = layer(inputs)
    gates = None
    if isinstance(outputs, (list, tuple)):
        outputs, gates = outputs
    prediction = keras.layers.Dense(1)(outputs)
    if gates is not None:
        # Gates on: every gate enters the loss (a small penalty on their
        # means), so no backend can prune their computation away.
        penalty = sum(keras.ops.mean(g, axis=(1, 2)) for g in gates.values())
        prediction = prediction + 1e-3 * keras.ops.expand_dims(penalty, -1)
    model = keras.Model(inputs, prediction)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3), loss="mse", jit_compile=jit
    )
    return model


def time_interleaved(functions: dict, repeats: int, warmup: int) -> dict:
    for function in functions.values():
        for _ in range(warmup):
            function()
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return {name: 1000 * float(np.median(t)) for name, t in times.items()}


def flush_denormals(store) -> None:
    """Denormal floats flushed to zero, as TensorFlow and XLA do on a CPU
    by default and PyTorch does not: training toward zero targets drifts
    into denormals, which a CPU computes slowly, and would time the CPU's
    denormal handling instead of the layers (docs/benchmark)."""
    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.set_flush_denormal(True)
        store.data["flush_denormal"] = True
