"""Changing a gate to see what it does: `intervene` and its edits.

    hold = Clamp(0.0, units=[3], steps=slice(5, None))
    outputs = intervene(model, x, {"lstm": {"forget": hold}})

runs `model` on `x` with unit 3's forget gate held at 0 from step 5 on.
The edit happens inside the recurrence: the cell state at step t is
computed from the edited forget gate, and every later step, gate and layer
follows from it.

Every edit is, at each selected (sequence, step, unit), an affine change
of the value v the cell has just computed, `a * v + b`:

    Clamp(value)              a = 0, b = value
    Scale(factor)             a = factor, b = 0
    MeanAblate(reference)     a = 0, b = the gate's mean over `reference`
                              (every sequence and valid step), per unit
    Patch(source)             a = 0, b = the value the same gate takes when
                              the model runs on `source` (activation
                              patching; `source` has the inputs' shape)

Elsewhere a = 1, b = 0. The gates are the names of
`gate_layout.gate_names` (LSTM: input, forget, candidate, output, cell,
with `layer_norm=True` normalized_cell, hidden; GRU: update, reset,
candidate, hidden), edited in the order the cell
computes them. A tied gate (cifg's forget, the MGU's reset) is computed
from its partner before either is edited.

References:
    Meng et al. 2022, "Locating and Editing Factual Associations in GPT"
    (causal tracing); Lakretz et al. 2019, "The emergence of number and
    syntax units in LSTM language models" (unit ablation).
"""

from __future__ import annotations

import dataclasses
import weakref

import keras
import numpy as np

from keras_gates import _autodiff
from keras_gates.inspection.extract import (
    GateExtractor,
    _recurrent_layers,
    convert,
    copy_weights,
)


@dataclasses.dataclass(frozen=True)
class Edit:
    """Where an edit applies: `units` (None for all; indices, a slice or a
    boolean `(units,)` mask) and `steps` (None for all; indices or a slice
    over time, in the input's order, or a boolean `(batch, time)` mask)."""

    units: object = None
    steps: object = None

    def affine(self, gate, path, shape, read):
        """`(a, b)`, each `shape` `(batch, time, units)`, outside the
        selection (1, 0)."""
        raise NotImplementedError

    def _selection(self, shape) -> np.ndarray:
        batch, time, units = shape
        unit_mask = _index_mask("units", self.units, units)
        if isinstance(self.steps, np.ndarray) and self.steps.ndim == 2:
            steps = np.asarray(self.steps)
            if steps.dtype != bool or steps.shape != (batch, time):
                raise ValueError(
                    f"steps as an array must be a boolean (batch, time) = "
                    f"{(batch, time)} mask, got {steps.dtype} "
                    f"{steps.shape}"
                )
            step_mask = steps
        else:
            step_mask = np.broadcast_to(
                _index_mask("steps", self.steps, time), (batch, time)
            )
        return step_mask[:, :, None] & unit_mask[None, None, :]

    def _replace(self, shape, values):
        chosen = self._selection(shape)
        values = np.broadcast_to(np.asarray(values, "float64"), shape)
        # Masked steps of a reference have no value (NaN): left unedited.
        chosen = chosen & ~np.isnan(values)
        a = np.where(chosen, 0.0, 1.0)
        b = np.where(chosen, np.nan_to_num(values), 0.0)
        return a, b


@dataclasses.dataclass(frozen=True)
class Clamp(Edit):
    """Holds the gate at `value`."""

    value: float = 0.0

    def __init__(self, value: float, units=None, steps=None):
        object.__setattr__(self, "value", _number("value", value))
        object.__setattr__(self, "units", units)
        object.__setattr__(self, "steps", steps)

    def affine(self, gate, path, shape, read):
        return self._replace(shape, self.value)


@dataclasses.dataclass(frozen=True)
class Scale(Edit):
    """Multiplies the gate by `factor`."""

    factor: float = 1.0

    def __init__(self, factor: float, units=None, steps=None):
        object.__setattr__(self, "factor", _number("factor", factor))
        object.__setattr__(self, "units", units)
        object.__setattr__(self, "steps", steps)

    def affine(self, gate, path, shape, read):
        chosen = self._selection(shape)
        return np.where(chosen, self.factor, 1.0), np.zeros(shape)


@dataclasses.dataclass(frozen=True, eq=False)
class MeanAblate(Edit):
    """Replaces the gate by its mean over `reference_inputs` (every
    sequence and valid step), unit by unit."""

    reference_inputs: object = None

    def __init__(self, reference_inputs, units=None, steps=None):
        object.__setattr__(self, "reference_inputs", reference_inputs)
        object.__setattr__(self, "units", units)
        object.__setattr__(self, "steps", steps)

    def affine(self, gate, path, shape, read):
        values = read(self.reference_inputs)[path][gate]
        mean = np.nanmean(values.astype("float64"), axis=(0, 1))
        return self._replace(shape, mean[None, None, :])


@dataclasses.dataclass(frozen=True, eq=False)
class Patch(Edit):
    """Replaces the gate by the value it takes when the model runs on
    `source_inputs` (same shape as the inputs): activation patching."""

    source_inputs: object = None

    def __init__(self, source_inputs, units=None, steps=None):
        object.__setattr__(self, "source_inputs", source_inputs)
        object.__setattr__(self, "units", units)
        object.__setattr__(self, "steps", steps)

    def affine(self, gate, path, shape, read):
        values = read(self.source_inputs)[path][gate]
        if values.shape != shape:
            raise ValueError(
                f"Patch: source_inputs give {path!r} {gate} gates of shape "
                f"{values.shape}, the inputs {shape}; pass source inputs "
                "of the inputs' shape"
            )
        return self._replace(shape, values)


class _Intervention:
    """What one gated layer applies during `intervene`'s call."""

    def __init__(self, edits, with_gates=True):
        self.edits = edits  # {gate: (a, b)} tensors, or None
        self.with_gates = with_gates  # whether to step and keep the gates
        self.gates = None  # the edited run's gates, after the call


def _number(name, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    return float(value)


def _index_mask(name, index, size) -> np.ndarray:
    """A boolean `(size,)` mask from None, an int, indices, a slice or a
    boolean mask."""
    if index is None:
        return np.ones(size, bool)
    if isinstance(index, slice):
        mask = np.zeros(size, bool)
        mask[index] = True
        return mask
    array = np.asarray(index)
    if array.dtype == bool:
        if array.shape != (size,):
            raise ValueError(
                f"{name} as a boolean mask must have shape ({size},), got "
                f"{array.shape}"
            )
        return array
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(
            f"{name} must be None, indices, a slice or a boolean mask, got "
            f"{index!r}"
        )
    array = np.atleast_1d(array)
    if array.size and (array.max() >= size or array.min() < -size):
        raise ValueError(f"{name} {index!r} is out of range for {size} {name}")
    mask = np.zeros(size, bool)
    mask[array] = True
    return mask


class EditedRun:
    """A gated copy of `model` that runs with edits: `(outputs, gates)`
    for `{layer_path: {gate: (a, b)}}` tensors (private; `intervene` and
    the attributions use it)."""

    _made = weakref.WeakKeyDictionary()  # model -> its EditedRun

    def __init__(self, model):
        self.model = model
        self.extractor = GateExtractor(model)
        self.twin = convert(model)
        self.layers = dict(_recurrent_layers(self.twin))
        self._reads = {}
        self._shapes = {}
        self._compiled = {}

    @classmethod
    def of(cls, model) -> EditedRun:
        """The model's EditedRun, made once (a copy and a probe model cost
        graph constructions) and given the model's current weights."""
        run = cls._made.get(model)
        if run is None:
            run = cls._made[model] = cls(model)
        else:
            copy_weights(model, run.twin)
        run._reads = {}
        return run

    def read(self, inputs) -> dict:
        """The unedited gates on `inputs` (kept per inputs object)."""
        key = id(inputs)
        if key not in self._reads:
            self._reads[key] = (inputs, self.extractor(inputs))
        return self._reads[key][1]

    def shapes(self, inputs) -> dict:
        """`{layer_path: (batch, time, units)}` for `inputs`, read once
        per structure of input shapes."""
        key = tuple(
            (tuple(np.shape(x)), str(getattr(x, "dtype", "")))
            for x in keras.tree.flatten(inputs)
        )
        if key not in self._shapes:
            self._shapes[key] = {
                path: gates["hidden"].shape
                for path, gates in self.read(inputs).items()
            }
        return self._shapes[key]

    def compiled(self, inputs, tables: dict, return_gates: bool):
        """`self(inputs, tables)` compiled as `predict` is; the gates only
        where `return_gates`."""
        if return_gates not in self._compiled:

            def call(inputs, tables):
                return self(inputs, tables, with_gates=return_gates)

            self._compiled[return_gates] = _autodiff.compiled(self.twin, call)
        inputs = keras.tree.map_structure(keras.ops.convert_to_tensor, inputs)
        return self._compiled[return_gates](inputs, tables)

    def gate_names(self, path):
        if path not in self.layers:
            raise ValueError(
                f"edits names layer {path!r}; the model's recurrent layers "
                f"are {sorted(self.layers)}"
            )
        return self.layers[path].cell.gate_names

    def check_gate(self, path, gate):
        names = self.gate_names(path)
        if gate not in names:
            raise ValueError(
                f"edits[{path!r}] names gate {gate!r}; a "
                f"{self.layers[path].cell.kind.upper()} has {names}"
            )

    def __call__(self, inputs, tables: dict, with_gates: bool = True):
        for path, layer in self.layers.items():
            layer._intervention = _Intervention(tables.get(path), with_gates)
        try:
            outputs = self.twin(inputs, training=False)
            gates = {}
            if with_gates:
                gates = {
                    path: layer._intervention.gates
                    for path, layer in self.layers.items()
                }
        finally:
            for layer in self.layers.values():
                layer._intervention = None
        return outputs, gates


def intervene(model, inputs, edits: dict, *, return_gates: bool = False):
    """Runs `model` on `inputs` with gates replaced as `edits` says.

    Args:
        model: a built Sequential or functional model with LSTM/GRU layers
            (built-in or gated; inside `Bidirectional` and nested models
            too). It is not changed: the run uses a gated copy
            (`convert`).
        inputs: what `model` takes.
        edits: `{layer_path: {gate: Edit}}`, layer paths as
            `extract_gates` names them (`"lstm"`, `"bi/backward"`,
            `"encoder/gru"`), gates as `gate_layout.gate_names` names them.
        return_gates: also return every recurrent layer's gates in the
            edited run.

    Returns:
        The model's outputs as numpy arrays (the structure the model
        returns); with `return_gates`, `(outputs, gates)` where `gates` is
        `{layer_path: {gate: (batch, time, units) array}}`, NaN at masked
        steps, as `extract_gates` returns them.

    Example:

    >>> model = keras.Sequential([keras.Input((6, 2)), GatedLSTM(4,
    ...     name="lstm"), keras.layers.Dense(1)])
    >>> x = np.ones((3, 6, 2), "float32")
    >>> out = intervene(model, x, {"lstm": {"forget": Clamp(0.0)}})
    >>> out.shape
    (3, 1)
    """
    if not isinstance(edits, dict):
        raise TypeError(
            f"edits must be a dict {{layer_path: {{gate: edit}}}}, got "
            f"{type(edits).__name__}"
        )
    run = EditedRun.of(model)
    shapes = run.shapes(inputs)
    tables = {}
    for path, gate_edits in edits.items():
        run.gate_names(path)
        table = {}
        for gate, edit in dict(gate_edits).items():
            run.check_gate(path, gate)
            if not isinstance(edit, Edit):
                raise TypeError(
                    f"edits[{path!r}][{gate!r}] must be a Clamp, Scale, "
                    f"MeanAblate or Patch, got {type(edit).__name__}"
                )
            a, b = edit.affine(gate, path, shapes[path], run.read)
            dtype = run.layers[path].compute_dtype
            table[gate] = (
                keras.ops.convert_to_tensor(a, dtype),
                keras.ops.convert_to_tensor(b, dtype),
            )
        tables[path] = table
    outputs, gates = run.compiled(inputs, tables, return_gates)
    outputs = keras.tree.map_structure(keras.ops.convert_to_numpy, outputs)
    if not return_gates:
        return outputs
    return outputs, {
        path: {
            name: keras.ops.convert_to_numpy(value)
            for name, value in layer_gates.items()
        }
        for path, layer_gates in gates.items()
    }
