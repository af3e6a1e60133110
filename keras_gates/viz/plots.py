"""Figures of gates from plain arrays: matplotlib only, headless, no keras.

Each function returns a `matplotlib.figure.Figure` built without pyplot
(so nothing opens a window and nothing leaks between calls); save it with
`fig.savefig("name.png")`. Gate arrays are `(time, units)` or
`(batch, time, units)` (then `example` picks the sequence); NaN entries
(masked steps) are drawn blank and skipped by statistics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from keras_gates.files import atomic_path
from keras_gates.gate_layout import (
    DISPLAY_ORDER,
    GATE_LABELS,
    SIGMOID_GATES,
    STATES,
)
from keras_gates.inspection.stats import quantiles, saturation_per_unit

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def require_matplotlib(user: str = "keras_gates.plots") -> None:
    """Imports matplotlib, or fails naming the extra that installs it.

    matplotlib is imported on first use, never by `import keras_gates`,
    so that the layers and the viewer work without the plots extra."""
    try:
        import matplotlib.figure  # noqa: F401
    except ImportError as error:
        raise ImportError(
            f"{user} draws with matplotlib, which is not installed: "
            "pip install 'keras_gates[plots]'"
        ) from error


def _new_figure(**kwargs) -> Figure:
    """A pyplot-free Figure."""
    require_matplotlib()
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _ordered(names):
    known = [n for n in DISPLAY_ORDER if n in names]
    return known + sorted(n for n in names if n not in DISPLAY_ORDER)


def _one_sequence(values, example: int) -> np.ndarray:
    values = np.asarray(values, dtype="float32")
    if values.ndim == 3:
        if not 0 <= example < values.shape[0]:
            raise ValueError(
                f"example must be in [0, {values.shape[0]}), got {example}"
            )
        values = values[example]
    if values.ndim != 2:
        raise ValueError(
            "gate arrays must be (time, units) or (batch, time, units), got "
            f"shape {values.shape}"
        )
    return values


_COLOUR_LABELS = {
    "candidate": "candidate (-1..1)",
    "cell": "cell state",
    "normalized_cell": "normalised cell state",
    "hidden": "hidden (-1..1)",
    **{name: "0 shut .. 1 open" for name in SIGMOID_GATES},
}


def _colour_scale(name: str, values: np.ndarray):
    if name in SIGMOID_GATES:
        return "viridis", 0.0, 1.0
    if name in ("candidate", "hidden"):
        return "RdBu_r", -1.0, 1.0
    bound = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1
    bound = max(bound, 1e-6)
    return "RdBu_r", -bound, bound


def gate_heatmap(
    gates: Mapping[str, np.ndarray],
    tokens: Sequence[str] | None = None,
    example: int = 0,
    names: Sequence[str] | None = None,
    title: str | None = None,
    max_units: int = 48,
    max_time: int = 120,
) -> Figure:
    """Each gate as a units x time heatmap for one sequence.

    Args:
        gates: `{gate: array}` for one layer, arrays `(time, units)` or
            `(batch, time, units)`.
        tokens: optional labels of the timesteps (words, symbols), one per
            step, drawn on the time axis.
        example: which sequence of a batch to draw.
        names: gates to draw, default all, in the layout's order (gates
            first, then cell and hidden state).
        title: figure title.
        max_units: above this many units the most variable ones are shown
            (the same units in every row), with a note saying so.
        max_time: above this many steps, time is averaged in equal blocks,
            with a note saying so.

    Returns:
        A Figure with one row per gate and a colour bar each: 0..1 for the
        sigmoid gates, -1..1 for candidate and hidden state, symmetric for
        the cell state.
    """
    if not isinstance(gates, Mapping) or not gates:
        raise ValueError(
            "gates must be a non-empty dict {gate: array}, got "
            f"{type(gates).__name__}"
        )
    names = _ordered(gates) if names is None else list(names)
    missing = [n for n in names if n not in gates]
    if missing:
        raise ValueError(
            f"names {missing} are not in gates (it has {sorted(gates)})"
        )
    arrays = {n: _one_sequence(gates[n], example) for n in names}
    time, units = next(iter(arrays.values())).shape
    if tokens is not None and len(tokens) != time:
        raise ValueError(
            f"tokens has {len(tokens)} entries but the sequence has {time} "
            "timesteps: pass one token per step"
        )
    notes = []
    unit_index = np.arange(units)
    if units > max_units:
        spread = sum(
            np.nan_to_num(np.nanstd(a, axis=0)) for a in arrays.values()
        )
        unit_index = np.sort(np.argsort(spread)[::-1][:max_units])
        notes.append(f"showing the {max_units} most variable of {units} units")
    block = int(np.ceil(time / max_time)) if time > max_time else 1
    if block > 1:
        notes.append(f"time averaged in blocks of {block} steps")

    def prepare(values):
        values = values[:, unit_index]
        if block > 1:
            padded = np.full(
                (int(np.ceil(time / block)) * block, values.shape[1]), np.nan
            )
            padded[:time] = values
            with np.errstate(invalid="ignore"), _quiet_nan_mean():
                values = np.nanmean(
                    padded.reshape(-1, block, values.shape[1]), axis=1
                )
        return values.T  # units x time

    shown_time = int(np.ceil(time / block))
    width = min(16.0, max(8.0, 0.12 * shown_time + 3.0))
    row_height = min(2.8, max(1.6, 0.04 * len(unit_index) + 1.0))
    extra = 0.9 if tokens is not None else 0.3
    figure = _new_figure(
        figsize=(width, row_height * len(names) + 1.0 + extra),
        layout="constrained",
    )
    # Not sharex: shared axes lay out every sibling's tick labels (up to 80
    # tokens each) for each axis, which made the figure take seconds to
    # save; every panel spans the same steps, and only the last is labelled.
    axes = figure.subplots(len(names), 1, squeeze=False)[:, 0]
    for axis in axes[:-1]:
        axis.set_xticks([])
    for axis, name in zip(axes, names, strict=True):
        values = prepare(arrays[name])
        cmap, vmin, vmax = _colour_scale(name, values)
        image = axis.imshow(
            values,
            aspect="auto",
            interpolation="nearest",
            cmap=cmap,
            vmin=vmin,
            vmax=vmax,
        )
        axis.set_ylabel("unit")
        axis.set_title(GATE_LABELS.get(name, name), loc="left", fontsize=11)
        # Label rows with the real unit numbers, also after subsampling.
        rows = np.unique(np.linspace(0, len(unit_index) - 1, 6).astype(int))
        axis.set_yticks(rows, [str(unit_index[r]) for r in rows])
        colorbar = figure.colorbar(image, ax=axis, pad=0.01, fraction=0.03)
        colorbar.set_label(_COLOUR_LABELS.get(name, "value"), fontsize=9)
    last = axes[-1]
    if tokens is not None:
        labels = [str(t) for t in tokens][::block]
        step = max(1, int(np.ceil(len(labels) / 80)))
        positions = np.arange(0, len(labels), step)
        last.set_xticks(positions, [labels[p] for p in positions])
        last.tick_params(axis="x", labelrotation=90, labelsize=8)
        last.set_xlabel(
            "input token" + (" (first of each block)" if block > 1 else "")
        )
    else:
        ticks = last.get_xticks()
        ticks = [t for t in ticks if 0 <= t < shown_time]
        last.set_xticks(ticks, [str(int(t * block)) for t in ticks])
        last.set_xlabel("time step")
    heading = title or "Gates over time"
    if notes:
        heading += "\n(" + "; ".join(notes) + ")"
    figure.suptitle(heading, fontsize=13)
    return figure


class _quiet_nan_mean:
    """Silences numpy's 'Mean of empty slice' for all-masked blocks."""

    def __enter__(self):
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("ignore", category=RuntimeWarning)

    def __exit__(self, *exc):
        self._catch.__exit__(*exc)


def saturation(
    gates: Mapping[str, np.ndarray],
    title: str | None = None,
    low: float = 0.1,
    high: float = 0.9,
) -> Figure:
    """Karpathy et al.'s saturation plot: one dot per unit, per gate.

    x: the fraction of (sequence, step) entries where the unit's gate is
    left-saturated (< low, shut); y: right-saturated (> high, open). Units
    in the lower-left corner act as gates that vary with the input; units
    near the axes are mostly shut or mostly open.

    Args:
        gates: `{gate: (batch, time, units) or (time, units)}`; only the
            sigmoid gates (input, forget, output, update, reset) are drawn.
        title: figure title.
        low, high: thresholds, default 0.1 and 0.9.
    """
    names = [n for n in _ordered(gates) if n in SIGMOID_GATES]
    if not names:
        raise ValueError(
            "saturation needs at least one sigmoid gate (input, forget, "
            f"output, update, reset); got {sorted(gates)}"
        )
    figure = _new_figure(figsize=(4.2 * len(names), 4.9), layout="constrained")
    axes = figure.subplots(1, len(names), squeeze=False)[0]
    for axis, name in zip(axes, names, strict=True):
        left, right = saturation_per_unit(gates[name], low, high)
        axis.plot([0, 1], [1, 0], color="0.7", linewidth=1, zorder=1)
        axis.scatter(left, right, s=22, alpha=0.75, zorder=2, label="one unit")
        axis.set_xlim(-0.03, 1.03)
        axis.set_ylim(-0.03, 1.03)
        axis.set_aspect("equal")
        axis.set_title(GATE_LABELS.get(name, name), fontsize=11)
        axis.set_xlabel(f"fraction of steps shut (< {low})")
        axis.set_ylabel(f"fraction of steps open (> {high})")
        axis.grid(alpha=0.3)
    axes[0].legend(loc="upper right", fontsize=9)
    figure.suptitle(title or "Gate saturation per unit", fontsize=13)
    return figure


def gate_evolution(
    history: Mapping[str, Sequence[np.ndarray]],
    epochs: Sequence[int] | None = None,
    title: str | None = None,
) -> Figure:
    """How each gate's distribution moves from epoch to epoch.

    Args:
        history: `{gate: [array for epoch 0, array for epoch 1, ...]}` (any
            array shapes; NaN skipped), or `{gate: array}` whose first axis
            is the epoch.
        epochs: the epoch numbers (1-based as Keras prints them), default
            1, 2, ...
        title: figure title.

    Returns:
        A Figure with one panel per gate: the median, the 25-75% and the
        5-95% bands of the gate's values against the epoch.
    """
    names = [n for n in _ordered(history) if n not in STATES]
    if not names:
        raise ValueError(
            f"history must map gate names to per-epoch arrays, got "
            f"{sorted(history)}"
        )
    count = len(history[names[0]])
    epochs = list(range(1, count + 1)) if epochs is None else list(epochs)
    if len(epochs) != count:
        raise ValueError(
            f"epochs has {len(epochs)} entries but history has {count} epochs"
        )
    columns = 2 if len(names) == 4 else min(len(names), 3)
    rows = int(np.ceil(len(names) / columns))
    figure = _new_figure(
        figsize=(4.6 * columns, 3.4 * rows + 0.6), layout="constrained"
    )
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for axis, name in zip(axes, names, strict=False):
        q = np.array([quantiles(values) for values in history[name]])
        axis.fill_between(
            epochs, q[:, 0], q[:, 4], color="C0", alpha=0.15, label="5-95%"
        )
        axis.fill_between(
            epochs, q[:, 1], q[:, 3], color="C0", alpha=0.35, label="25-75%"
        )
        axis.plot(epochs, q[:, 2], color="C0", marker="o", label="median")
        axis.xaxis.set_major_locator(_integer_ticks())
        axis.set_title(GATE_LABELS.get(name, name), fontsize=11)
        axis.set_xlabel("epoch")
        axis.set_ylabel("gate value")
        if name in SIGMOID_GATES:
            axis.set_ylim(0, 1)
        axis.grid(alpha=0.3)
    for axis in axes[len(names) :]:
        axis.set_visible(False)
    axes[0].legend(fontsize=9, loc="best")
    figure.suptitle(title or "Gate distributions over training", fontsize=13)
    return figure


def save_figure(figure: Figure, path, dpi: int = 110) -> None:
    """Writes `figure` as PNG to `path` atomically (temp file + rename)."""
    with atomic_path(path, suffix=".png") as tmp:
        figure.savefig(tmp, dpi=dpi, bbox_inches="tight")


def metric_vs_length(
    runs: Sequence[Mapping],
    metric: str,
    baseline: Mapping[int, float] | None = None,
    title: str | None = None,
    higher_is_better: bool = True,
) -> Figure:
    """A task's metric against the dependency length, one line per model.

    Args:
        runs: dicts with "model", "length", "value" and optionally "init";
            one line per (model, init). Several runs of one line at one
            length (seeds) are drawn as faint dots, the line through their
            mean.
        metric: y-axis label, e.g. "test accuracy".
        baseline: optional `{length: chance value}`, drawn dashed.
        title: figure title.
        higher_is_better: noted in the axis label.
    """
    figure = _new_figure(figsize=(7.5, 4.8), layout="constrained")
    axis = figure.subplots()
    lines: dict = {}
    for run in runs:
        label = run["model"]
        if run.get("init") not in (None, "default"):
            label += f" ({run['init']})"
        lines.setdefault(label, {}).setdefault(run["length"], []).append(
            run["value"]
        )
    markers = "osD^vP*X"
    for i, (label, by_length) in enumerate(sorted(lines.items())):
        xs = sorted(by_length)
        ys = [float(np.mean(by_length[x])) for x in xs]
        seeds = max(len(values) for values in by_length.values())
        # Built-in and gated twins often coincide: draw the built-in hollow
        # and dashed under the gated one, so both stay visible.
        gated = label.startswith("Gated")
        (line,) = axis.plot(
            xs,
            ys,
            marker=markers[i % len(markers)],
            markersize=6 if gated else 11,
            markerfacecolor=None if gated else "none",
            linestyle="-" if gated else "--",
            linewidth=1.6 if gated else 2.4,
            label=label if seeds == 1 else f"{label}, mean of {seeds} seeds",
            alpha=0.9,
        )
        if seeds > 1:
            dots = [(x, v) for x in xs for v in by_length[x]]
            axis.scatter(
                *zip(*dots, strict=True),
                s=14,
                color=line.get_color(),
                alpha=0.3,
                zorder=1,
            )
    if baseline:
        xs = sorted(baseline)
        axis.plot(
            xs,
            [baseline[x] for x in xs],
            linestyle="--",
            color="black",
            label="chance baseline",
        )
    axis.set_xlabel("dependency length T (steps)")
    direction = "higher is better" if higher_is_better else "lower is better"
    axis.set_ylabel(f"{metric} ({direction})")
    if not higher_is_better:
        axis.set_yscale("log")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=9, loc="best")
    axis.set_title(title or f"{metric} against dependency length")
    return figure


def unit_trace(
    gates: Mapping[str, np.ndarray],
    unit: int,
    labels: Sequence,
    label_names: Mapping = None,
    tokens: Sequence[str] | None = None,
    names: Sequence[str] = ("cell", "forget", "input"),
    title: str | None = None,
) -> Figure:
    """One unit's gates over time for several sequences, coloured by label.

    Args:
        gates: `{gate: (batch, time, units)}`.
        unit: the unit to follow.
        labels: one label per sequence (e.g. 0 singular, 1 plural).
        label_names: `{label: legend text}`.
        tokens: optional time-axis labels (shown when they fit).
        names: the gates to draw, one panel each.
        title: figure title.
    """
    label_names = label_names or {}
    labels = list(labels)
    names = [n for n in names if n in gates]
    figure = _new_figure(
        figsize=(10, 2.6 * len(names) + 0.8), layout="constrained"
    )
    axes = figure.subplots(len(names), 1, sharex=True, squeeze=False)[:, 0]
    colours = {}
    for axis, name in zip(axes, names, strict=True):
        values = np.asarray(gates[name], dtype="float32")[:, :, unit]
        for row, label in zip(values, labels, strict=True):
            colour = colours.setdefault(label, f"C{len(colours)}")
            axis.plot(row, color=colour, alpha=0.55, linewidth=1.2)
        axis.set_ylabel(GATE_LABELS.get(name, name).split("(")[0].strip())
        if name in SIGMOID_GATES:
            axis.set_ylim(-0.02, 1.02)
        axis.grid(alpha=0.3)
    handles = [
        axes[0].plot([], [], color=c, label=str(label_names.get(k, k)))[0]
        for k, c in colours.items()
    ]
    axes[0].legend(handles=handles, fontsize=9, loc="best")
    last = axes[-1]
    if tokens is not None and len(tokens) <= 40:
        last.set_xticks(range(len(tokens)), list(tokens))
        last.tick_params(axis="x", labelrotation=90, labelsize=8)
        last.set_xlabel("input token")
    else:
        last.set_xlabel("time step")
    figure.suptitle(title or f"Unit {unit} over time", fontsize=13)
    return figure


def _integer_ticks():
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)
