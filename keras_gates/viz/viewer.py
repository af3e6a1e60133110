"""Self-contained HTML pages for looking at gates in a browser.

`write_html(gates, tokens, path)` writes one file (data, script and style
inline: no server, no network) in which a person can pick a gate and a
unit and see the text coloured by it, hover a token for every gate of that
unit at that step, click a units x time overview to pick a unit, select a
span of tokens to rank the units that are on inside it and off outside it
(LSTMVis's "match", Strobelt et al. 2018), and switch between sequences.

Values are stored as 8-bit codes on a fixed range per gate and unit: 0..254
spread evenly over `[low, high]`, 255 for a masked (NaN) step. The sigmoid
gates use [0, 1]; the other quantities (candidate, cell, hidden) a range
symmetric around 0 that covers every value of that unit, so a unit whose
cell state stays small is still drawn in full colour. The error is at most
`(high - low) / 508`: 0.002 for a gate.
Sixteen sequences of 500 steps of a 128-unit LSTM's six quantities make a
page of about 8 MB.

numpy and the standard library only (see DESIGN.md).
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from keras_gates.files import atomic_write_text
from keras_gates.gate_layout import (
    ALL_GATES,
    DISPLAY_ORDER,
    GATE_LABELS,
    SIGMOID_GATES,
)

# Code 255 marks a masked step; 0..254 are values.
LEVELS = 254
MASKED = 255

# Colour scales as (position in [0, 1], (r, g, b)) stops, interpolated
# linearly per channel and rounded to the nearest integer. "gate" (values
# in [0, 1]) runs from white to dark blue; "signed" (symmetric around 0)
# from blue through white to red.
SCALES = {
    "gate": (
        (0.0, (255, 255, 255)),
        (0.5, (107, 174, 214)),
        (1.0, (8, 48, 107)),
    ),
    "signed": (
        (0.0, (33, 102, 172)),
        (0.5, (247, 247, 247)),
        (1.0, (178, 24, 43)),
    ),
}

GRU_NOTE = (
    "update is Keras's z, the share of the old state kept: "
    "h = z * h_prev + (1 - z) * candidate; the article's update gate is 1 - z"
)


def scale_of(name: str) -> str:
    return "gate" if name in SIGMOID_GATES else "signed"


def value_range(name: str, values: np.ndarray) -> tuple[np.ndarray, ...]:
    """`(low, high)`, one value per unit (the last axis): [0, 1] for a
    sigmoid gate whose values lie there, otherwise symmetric around 0 and
    covering every finite value of the unit (at least 1e-6)."""
    values = np.asarray(values, "float64")
    units = values.shape[-1]
    flat = values.reshape(-1, units)
    finite = np.isfinite(flat)
    inside = np.where(finite, (flat >= 0.0) & (flat <= 1.0), True).all()
    if name in SIGMOID_GATES and inside:
        return np.zeros(units), np.ones(units)
    reach = np.where(finite, np.abs(flat), 0.0).max(axis=0, initial=0.0)
    reach = np.where(finite.any(axis=0), reach, 1.0)
    reach = np.maximum(reach, 1e-6)
    return -reach, reach


def quantize(values: np.ndarray, low, high) -> np.ndarray:
    """Values -> uint8 codes: 0..254 over [low, high] (per unit when they
    are arrays over the last axis), 255 for NaN."""
    values = np.asarray(values, "float64")
    codes = np.rint((values - low) / (np.asarray(high) - low) * LEVELS)
    codes = np.clip(np.nan_to_num(codes, nan=MASKED), 0, LEVELS)
    codes[np.isnan(values)] = MASKED
    return codes.astype("uint8")


def dequantize(codes: np.ndarray, low, high) -> np.ndarray:
    """uint8 codes -> float values (NaN for 255), as the page reads them."""
    codes = np.asarray(codes)
    values = low + codes.astype("float64") / LEVELS * (np.asarray(high) - low)
    return np.where(codes == MASKED, np.nan, values)


def colour_at(scale: str, position: float) -> tuple[int, int, int]:
    """The colour the page paints at `position` in [0, 1] of `scale`."""
    stops = SCALES[scale]
    position = min(max(position, 0.0), 1.0)
    for (p0, c0), (p1, c1) in zip(stops, stops[1:], strict=False):
        if position <= p1:
            share = (position - p0) / (p1 - p0)
            return tuple(
                int(np.floor(a + (b - a) * share + 0.5))
                for a, b in zip(c0, c1, strict=True)
            )
    return stops[-1][1]


def _as_sequences(gates: Mapping) -> dict:
    """{name: float32 (batch, time, units)}, one sequence made a batch."""
    if not isinstance(gates, Mapping) or not gates:
        raise TypeError(
            "gates must be a dict of gate arrays such as return_gates or "
            f"extract_gates give, got {type(gates).__name__}"
        )
    known = ALL_GATES
    arrays = {}
    for name, values in gates.items():
        if name not in known:
            raise ValueError(
                f"gates has an unknown gate {name!r}; expected names from "
                f"{sorted(known)}"
            )
        values = np.asarray(values, "float32")
        if values.ndim == 2:
            values = values[None]
        if values.ndim != 3:
            raise ValueError(
                f"gates[{name!r}] must be (batch, time, units) or (time, "
                f"units), got shape {values.shape}"
            )
        arrays[name] = values
    shapes = {values.shape for values in arrays.values()}
    if len(shapes) != 1:
        raise ValueError(
            f"every gate must have the same shape, got "
            f"{ {name: v.shape for name, v in arrays.items()} }"
        )
    return arrays


def _several_layers(gates) -> bool:
    return (
        isinstance(gates, Mapping)
        and bool(gates)
        and all(isinstance(v, Mapping) for v in gates.values())
    )


def _layers_data(gates, tokens, title, names, gate, unit, extras, start):
    """Several layers' page data: each layer's as one layer's page has
    it, under `"layers"`; the page opens at layer `start` (a path)."""
    paths = [str(path) for path in gates]
    if start is None:
        start = paths[0]
    if start not in paths:
        raise ValueError(f"layer must be one of {paths}, got {start!r}")
    extras = extras or {}
    unknown = sorted(set(extras) - set(paths))
    if unknown:
        raise ValueError(
            f"layers names {unknown}, which are not among the gates' "
            f"layers {paths}; give {{layer_path: {{name: array}}}}"
        )
    found, shapes = [], {}
    for path, layer_gates in gates.items():
        first = str(path) == start
        data = page_data(
            layer_gates,
            tokens,
            title=title,
            sequence_names=names,
            gate=gate if first else None,
            unit=unit if first else 0,
            layers=extras.get(path),
        )
        data["name"] = str(path)
        shapes[str(path)] = (len(data["sequences"]), data["time"])
        found.append(data)
    if len(set(shapes.values())) != 1:
        raise ValueError(
            "every layer must have the same sequences and steps, got "
            f"(sequences, steps) {shapes}"
        )
    index = paths.index(start)
    return {
        "title": title,
        "layers": found,
        "start": {**found[index]["start"], "layer": index},
        "sequences": [
            {"name": s["name"], "tokens": s["tokens"]}
            for s in found[index]["sequences"]
        ],
    }


def _extra_layers(layers, arrays: dict) -> dict:
    """`layers` as float32 `(batch, time, units)` arrays of the gates'
    shape, under names that are not gates'."""
    if layers is None:
        return {}
    if not isinstance(layers, Mapping):
        raise TypeError(
            "layers must be a dict {name: (batch, time, units) array}, got "
            f"{type(layers).__name__}"
        )
    shape = next(iter(arrays.values())).shape
    found = {}
    for name, values in layers.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"layers' names must be strings, got {name!r}")
        if name in ALL_GATES:
            raise ValueError(
                f"layers[{name!r}] has a gate's name; name it after what "
                "it shows, e.g. 'memory left at the last step'"
            )
        values = np.asarray(values, "float32")
        if values.ndim == 2:
            values = values[None]
        if values.shape != shape:
            raise ValueError(
                f"layers[{name!r}] must have the gates' shape {shape}, got "
                f"{values.shape}"
            )
        found[name] = values
    return found


def _token_lists(tokens, batch: int, time: int) -> list[list[str]]:
    """One list of `time` strings per sequence."""
    if tokens is None:
        return [[str(t) for t in range(time)] for _ in range(batch)]
    tokens = list(tokens)
    if tokens and all(isinstance(t, str) for t in tokens):
        tokens = [tokens] if batch == 1 else tokens
        if batch != 1:
            raise ValueError(
                f"tokens is one list of strings but gates hold {batch} "
                "sequences; pass one list of tokens per sequence"
            )
    if len(tokens) != batch:
        raise ValueError(
            f"tokens has {len(tokens)} sequences but gates hold {batch}"
        )
    lists = []
    for index, sequence in enumerate(tokens):
        sequence = [str(t) for t in sequence]
        if len(sequence) != time:
            raise ValueError(
                f"tokens[{index}] has {len(sequence)} tokens but the "
                f"sequences have {time} steps; pass one token per step"
            )
        lists.append(sequence)
    return lists


def page_data(
    gates: Mapping,
    tokens=None,
    *,
    title: str = "Gates",
    sequence_names: Sequence[str] | None = None,
    gate: str | None = None,
    unit: int = 0,
    layers: Mapping | None = None,
    layer: str | None = None,
) -> dict:
    """What the page embeds: ranges, scales, labels, tokens and, per
    sequence and gate, the base64 of its `(time, units)` uint8 codes; for
    several layers (`{layer_path: gates}`), one such dict per layer under
    `"layers"`, and which to show first."""
    if _several_layers(gates):
        return _layers_data(
            gates, tokens, title, sequence_names, gate, unit, layers, layer
        )
    if layer is not None:
        raise ValueError(
            f"layer={layer!r} needs gates of several layers ({{layer_path: "
            "gates}}, as extract_gates gives them); these are one layer's"
        )
    arrays = _as_sequences(gates)
    batch, time, units = next(iter(arrays.values())).shape
    names = [name for name in DISPLAY_ORDER if name in arrays]
    labels = {name: GATE_LABELS[name].replace("\n", " ") for name in names}
    for name, values in _extra_layers(layers, arrays).items():
        arrays[name] = values
        names.append(name)
        labels[name] = name
    token_lists = _token_lists(tokens, batch, time)
    if sequence_names is None:
        sequence_names = [f"sequence {index}" for index in range(batch)]
    if len(sequence_names) != batch:
        raise ValueError(
            f"sequence_names has {len(sequence_names)} names for {batch} "
            "sequences"
        )
    if gate is None:
        gate = "cell" if "cell" in names else names[0]
    if gate not in names:
        raise ValueError(f"gate must be one of {names}, got {gate!r}")
    if not (isinstance(unit, int) and 0 <= unit < units):
        raise ValueError(f"unit must be an int in [0, {units}), got {unit!r}")
    gru = "update" in arrays
    ranges = {name: value_range(name, arrays[name]) for name in names}
    codes = {name: quantize(arrays[name], *ranges[name]) for name in names}
    return {
        "title": title,
        "units": units,
        "time": time,
        "levels": LEVELS,
        "masked": MASKED,
        "gates": names,
        "labels": labels,
        "ranges": {
            name: [[float(v) for v in bound] for bound in ranges[name]]
            for name in names
        },
        "scales": {name: scale_of(name) for name in names},
        "stops": SCALES,
        "note": GRU_NOTE if gru else "",
        "start": {"gate": gate, "unit": unit, "sequence": 0},
        "sequences": [
            {
                "name": str(sequence_names[index]),
                "tokens": token_lists[index],
                "codes": {
                    name: base64.b64encode(
                        np.ascontiguousarray(codes[name][index]).tobytes()
                    ).decode("ascii")
                    for name in names
                },
            }
            for index in range(batch)
        ],
    }


def _asset(name: str) -> str:
    return resources.files("keras_gates.viz").joinpath(name).read_text("utf-8")


def render(data: dict) -> str:
    """The page as one string of HTML."""
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        f"<title>{html.escape(data['title'])}</title>\n"
        f"<style>\n{_asset('_viewer.css')}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(data['title'])}</h1>\n"
        f"<script id='gate-data' type='application/json'>{payload}</script>\n"
        f"<script>\n{_asset('_viewer.js')}</script>\n</body>\n</html>\n"
    )


def write_html(
    gates: Mapping,
    tokens,
    path,
    *,
    title: str = "Gates",
    sequence_names: Sequence[str] | None = None,
    gate: str | None = None,
    unit: int = 0,
    layers: Mapping | None = None,
    layer: str | None = None,
) -> Path:
    """Writes a self-contained gate viewer page for one layer's gates.

    Args:
        gates: `{name: (batch, time, units)}` (or `(time, units)` for one
            sequence), as `return_gates=True` or `extract_gates` give
            them; NaN marks a masked step. Or several layers' gates on the
            same sequences, `{layer_path: {name: array}}` as
            `extract_gates` returns them: the page then has a layer menu.
        tokens: what each step shows: one list of strings for one
            sequence, one list per sequence, or None for step numbers.
        path: the `.html` file to write (written atomically).
        title: the page's title.
        sequence_names: one name per sequence for the sequence menu.
        gate, unit: what the page shows first (default: the cell state,
            or the first gate, and unit 0). A link can ask for others:
            `page.html#gate=forget&unit=17&sequence=2`.
        layers: more quantities of the gates' shape to show beside them,
            `{name: (batch, time, units)}`, on a scale symmetric around 0:
            what each step left in the memory (`memory_contributions(...)
            ["steps"]`), a gate's attribution (`gate_gradients`,
            `integrated_gradients`). For several layers, `{layer_path:
            {name: array}}`.
        layer: for several layers, the layer path the page shows first
            (`#layer=2` in a link picks the third).

    Returns:
        The path written.

    Example:
        >>> layer = GatedLSTM(8, return_gates=True)
        >>> _, gates = layer(x)                         # x: (2, 5, 3)
        >>> write_html(gates, [list("hello"), list("world")], "gates.html")
    """
    data = page_data(
        gates,
        tokens,
        title=title,
        sequence_names=sequence_names,
        gate=gate,
        unit=unit,
        layers=layers,
        layer=layer,
    )
    return _write(path, render(data))


def _write(path, page: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, page)
    return path


class Shown:
    """A viewer page shown inline in a notebook (Jupyter, JupyterLab, VS
    Code, Colab): the page in its own sandboxed frame, so that two viewers
    in one notebook do not share a script or a style, and nothing is
    fetched. `save(path)` writes the same page as `write_html`."""

    def __init__(self, page: str, height: int):
        self.page = page
        self.height = height

    def _repr_html_(self) -> str:
        return (
            f'<iframe srcdoc="{html.escape(self.page, quote=True)}" '
            'sandbox="allow-scripts" loading="eager" '
            f'style="width: 100%; height: {self.height}px; border: 1px solid '
            '#ccc;" title="gate viewer"></iframe>'
        )

    def save(self, path) -> Path:
        return _write(path, self.page)


def show(
    gates: Mapping,
    tokens=None,
    *,
    title: str = "Gates",
    sequence_names: Sequence[str] | None = None,
    gate: str | None = None,
    unit: int = 0,
    layers: Mapping | None = None,
    layer: str | None = None,
    height: int = 760,
) -> Shown:
    """The viewer of `write_html`, inline: the last expression of a
    notebook cell (or `IPython.display.display(show(...))`) draws it.

    Arguments as for `write_html`; `height`: the frame's height in pixels.

    Example:
        >>> gates = extract_gates(model, x[:4])["lstm"]
        >>> show(gates, tokens)        # in a notebook cell
    """
    if isinstance(height, bool) or not isinstance(height, int) or height < 100:
        raise ValueError(
            f"height must be a number of pixels of at least 100, got {height!r}"
        )
    data = page_data(
        gates,
        tokens,
        title=title,
        sequence_names=sequence_names,
        gate=gate,
        unit=unit,
        layers=layers,
        layer=layer,
    )
    return Shown(render(data), height)
