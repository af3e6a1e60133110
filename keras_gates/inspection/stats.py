"""Gate statistics on plain numpy arrays (no keras).

Saturation follows Karpathy, Johnson & Fei-Fei 2015 ("Visualizing and
Understanding Recurrent Networks"): a gate value below 0.1 is
left-saturated (the gate is shut), above 0.9 right-saturated (wide open).
NaN entries (masked timesteps) are skipped everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from keras_gates.gate_layout import SIGMOID_GATES, STATES

LOW, HIGH = 0.1, 0.9


def _valid(values) -> np.ndarray:
    values = np.asarray(values, dtype="float32")
    return values[~np.isnan(values)]


def gate_summary(name: str, values, low=LOW, high=HIGH) -> dict[str, float]:
    """Mean and std of one gate; saturated fractions for (0, 1) gates.

    Args:
        name: the gate's name (decides whether saturation applies).
        values: array of any shape; NaN entries are ignored.
        low, high: saturation thresholds.

    Returns:
        `{"mean", "std"}` plus `{"left_saturated", "right_saturated"}` (the
        fraction of values < low and > high) for sigmoid gates. All NaN if
        every value is masked.
    """
    valid = _valid(values)
    if valid.size == 0:
        summary = {"mean": float("nan"), "std": float("nan")}
    else:
        summary = {"mean": float(valid.mean()), "std": float(valid.std())}
    if name in SIGMOID_GATES:
        size = max(valid.size, 1)
        summary["left_saturated"] = float((valid < low).sum() / size)
        summary["right_saturated"] = float((valid > high).sum() / size)
    return summary


def log_statistics(
    gates: Mapping[str, Mapping[str, np.ndarray]], low=LOW, high=HIGH
) -> dict[str, float]:
    """Flat Keras-log entries for every layer and gate.

    Args:
        gates: `{layer_path: {gate: array}}`, as `extract_gates` returns.

    Returns:
        `{"gates/<layer>/<gate>_<stat>": float}`, e.g.
        `gates/lstm/forget_mean`, `gates/lstm/forget_right_saturated`.
        Cell and hidden states are left out: they are states, not gates.
    """
    logs = {}
    for layer, layer_gates in gates.items():
        for gate, values in layer_gates.items():
            if gate in STATES:
                continue
            for stat, value in gate_summary(gate, values, low, high).items():
                logs[f"gates/{layer}/{gate}_{stat}"] = value
    return logs


def saturation_per_unit(values, low=LOW, high=HIGH):
    """Per unit, the fraction of (batch, time) entries < low and > high.

    Args:
        values: `(batch, time, units)` or `(time, units)`; NaN is skipped.

    Returns:
        `(left, right)`, each `(units,)`.
    """
    values = np.asarray(values, dtype="float32")
    values = values.reshape(-1, values.shape[-1])
    valid = ~np.isnan(values)
    count = np.maximum(valid.sum(axis=0), 1)
    with np.errstate(invalid="ignore"):
        left = ((values < low) & valid).sum(axis=0) / count
        right = ((values > high) & valid).sum(axis=0) / count
    return left, right


def quantiles(values, qs=(0.05, 0.25, 0.5, 0.75, 0.95)) -> np.ndarray:
    """The `qs` quantiles of the non-NaN values (NaN if there are none)."""
    valid = _valid(values)
    if valid.size == 0:
        return np.full(len(qs), np.nan)
    return np.quantile(valid, qs)


def class_separation(values, labels) -> np.ndarray:
    """How well each unit tells two classes apart at each step.

    d' = |mean_1 - mean_0| / pooled std, per (time, unit).

    Args:
        values: `(batch, time, units)`, e.g. the cell state.
        labels: `(batch,)` of 0/1.

    Returns:
        `(time, units)` array of d'.
    """
    values = np.asarray(values, dtype="float64")
    labels = np.asarray(labels).astype(bool)
    if labels.all() or not labels.any():
        raise ValueError("labels must contain both classes")
    one, zero = values[labels], values[~labels]
    pooled = np.sqrt(0.5 * (one.var(axis=0) + zero.var(axis=0))) + 1e-9
    return np.abs(one.mean(axis=0) - zero.mean(axis=0)) / pooled
