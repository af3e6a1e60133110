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


def compiler_room(models: int) -> None:
    """PyTorch's compiler emptied and allowed `models` more compiled
    models (Keras's `jit_compile=True` on PyTorch). Dynamo keeps the
    compiled code of a function per code object, and every Keras model's
    training step shares one (each model adds its own guarded entries);
    past `recompile_limit` entries (8 by default) it runs the step
    eagerly, silently but for a warning, so the ninth model a process
    compiled would be timed uncompiled. Nothing on the other backends."""
    if keras.backend.backend() != "torch":
        return
    import torch

    torch._dynamo.reset()
    config = torch._dynamo.config
    name = "recompile_limit" if hasattr(config, "recompile_limit") else (
        "cache_size_limit"
    )  # fmt: skip
    # A model takes one entry per frame of its step (the step is split
    # where dynamo cannot trace, e.g. at numpy inputs), a few recompiles.
    setattr(config, name, max(getattr(config, name), 8 + 4 * models))


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
