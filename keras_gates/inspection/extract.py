"""Gates out of any Keras model: `extract_gates`, `GateExtractor`, `convert`.

A model built with `keras.layers.LSTM`/`GRU` (or with the gated layers) is
opened up by building, for each recurrent layer, a gated twin with the same
configuration and weights that returns its gates, and wiring the twins into
a probe model on the same inputs. Masks flow to the twins exactly as they
flow to the original layers.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from keras_gates.engine import keras_bridge
from keras_gates.layers._gated_rnn import GatedRNN
from keras_gates.layers.gated_gru import GatedGRU
from keras_gates.layers.gated_lstm import GatedLSTM

_TWIN_CLASS = {
    keras.layers.LSTM: GatedLSTM,
    GatedLSTM: GatedLSTM,
    keras.layers.GRU: GatedGRU,
    GatedGRU: GatedGRU,
}
RECURRENT_TYPES = tuple(_TWIN_CLASS)


def is_recurrent(layer) -> bool:
    """Whether `layer` is an LSTM or GRU that keras_gates can open."""
    return isinstance(layer, RECURRENT_TYPES)


def _twin_class(layer):
    for source, twin in _TWIN_CLASS.items():
        if isinstance(layer, source):
            return twin
    raise TypeError(
        f"layer must be a keras.layers.LSTM/GRU or a GatedLSTM/GatedGRU, "
        f"got {type(layer).__name__}"
    )


def gated_twin(layer, **overrides) -> GatedRNN:
    """A GatedLSTM/GatedGRU with `layer`'s configuration and weights.

    Args:
        layer: a built `keras.layers.LSTM`, `GRU`, `GatedLSTM` or `GatedGRU`.
        **overrides: configuration entries to change, e.g.
            `return_gates=True`.
    """
    twin_class = _twin_class(layer)
    if not layer.built:
        raise ValueError(
            f"layer {layer.name!r} is not built yet: call the model on data "
            "(or build it with an input shape) before converting it"
        )
    config = {**layer.get_config(), **overrides}
    twin = twin_class.from_config(config)
    twin.build((None, None, layer.cell.kernel.shape[0]))
    twin.set_weights(layer.get_weights())
    return twin


def copy_weights(source, target) -> None:
    """`source`'s weights into `target` (a layer or model of the same
    structure), variable to variable, with no round trip through numpy."""
    for value, variable in zip(source.weights, target.weights, strict=True):
        # A copy: JAX may donate (delete) a variable's buffer.
        variable.assign(ops.copy(value.value))


def _recurrent_layers(model, prefix=""):
    """(path, layer) for every recurrent layer, recursing into sub-models."""
    for layer in model.layers:
        path = prefix + layer.name
        if is_recurrent(layer):
            yield path, layer
        elif isinstance(layer, keras.layers.Bidirectional):
            yield path + "/forward", layer.forward_layer
            yield path + "/backward", layer.backward_layer
        elif isinstance(layer, keras.Model):
            yield from _recurrent_layers(layer, path + "/")


def _sequences_and_mask(tensors):
    """A recurrent node's inputs: the sequences, and the mask if one came.

    `layer.input` lists every tensor of the layer's first call: the
    sequences first, then the initial states and the mask when the caller
    (a Sequential model, for one) passed them explicitly.
    """
    if not isinstance(tensors, (list, tuple)):
        return tensors, None
    sequences, *rest = tensors
    masks = [t for t in rest if t.dtype == "bool" and len(t.shape) == 2]
    return sequences, (masks[0] if masks else None)


class _PackedGates(keras.layers.Layer):
    """A twin's packed gates, time-major `(time, batch, n * units)`, and the
    step mask it saw `(batch, time)`, for numpy to split."""

    def __init__(self, twin, **kwargs):  # pragma: no mutate block (argspec)
        super().__init__(name=f"{twin.name}_packed", **kwargs)
        self.twin = twin
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return None  # the mask is returned as an output instead

    def call(self, sequences, mask=None):
        packed = self.twin.packed_gates(sequences, mask=mask)
        if mask is None:
            mask = ops.ones(ops.shape(sequences)[:2], dtype="bool")
        # Time-major: the backends' loops stack their steps time-major and
        # turn them batch-major at the end; swapping back lets XLA drop
        # both copies (JAX and compiled TensorFlow), which made extraction
        # faster there, and costs PyTorch only a view.
        packed = ops.swapaxes(packed, 0, 1)
        return packed, ops.cast(mask, "bool")

    def compute_output_shape(self, sequences_shape):
        blocks = len(self.twin.cell.gate_names)
        batch, time = sequences_shape[0], sequences_shape[1]
        return (time, batch, blocks * self.twin.cell.units), (batch, time)

    def compute_output_spec(self, sequences, mask=None):
        packed_shape, mask_shape = self.compute_output_shape(sequences.shape)
        return (
            keras.KerasTensor(packed_shape, dtype=self.compute_dtype),
            keras.KerasTensor(mask_shape, dtype="bool"),
        )


class GateExtractor:
    """Reads the gates of every LSTM/GRU in a model; built once, called often.

    Building the probe model costs a graph construction; calling it costs
    one forward pass of the model up to its recurrent layers. The twins'
    weights are refreshed from the model at every call, so an extractor
    made before training reads the trained gates after it.

    Args:
        model: a built Sequential or functional `keras.Model` (nested
            models and `Bidirectional` wrappers included) holding at least
            one `keras.layers.LSTM`/`GRU` or `GatedLSTM`/`GatedGRU`.

    Call arguments:
        inputs: what `model` takes (arrays, or a list/dict of them).
        batch_size: int, default 64: inputs are run in chunks of this size.

    Returns:
        `{layer_path: {gate: np.ndarray (batch, time, units)}}`, where
        `layer_path` is the layer's name, prefixed by the names of the models
        that contain it (`"encoder/lstm"`), and suffixed `/forward` or
        `/backward` inside a `Bidirectional`. Gates are in the input's time
        order; masked steps are NaN. Recurrent layers start from zero states
        (a stateful layer's carried state is not used).

    Example:

    >>> model = keras.Sequential([keras.Input((5, 3)), keras.layers.LSTM(4)])
    >>> gates = GateExtractor(model)(np.ones((2, 5, 3), "float32"))
    >>> gates[model.layers[0].name]["forget"].shape
    (2, 5, 4)
    """

    def __init__(self, model):
        if not isinstance(model, keras.Model):
            raise TypeError(
                f"model must be a keras.Model, got {type(model).__name__}"
            )
        self.model = model
        self.pairs = []  # (original layer, twin) whose weights are synced
        layers = list(_recurrent_layers(model))
        if not layers:
            raise ValueError(
                f"model {model.name!r} has no LSTM or GRU layer (looked for "
                "keras.layers.LSTM/GRU and GatedLSTM/GatedGRU, inside "
                "Bidirectional and nested models too); there are no gates to "
                "extract"
            )
        try:
            inputs = model.inputs
        except (AttributeError, ValueError):
            inputs = None
        if not inputs:
            raise ValueError(
                f"model {model.name!r} has no symbolic inputs: build it with "
                "keras.Input (or call it on data once) before extracting "
                "gates; subclassed models are not supported, call their "
                "GatedLSTM/GatedGRU layers with return_gates=True instead"
            )
        self._twins = {}  # layer path -> its gated twin
        outputs = self._gate_tensors(model, "")
        self.layer_paths = [path for path, _ in layers]
        if len(inputs) == 1:
            inputs = inputs[0]  # so that a bare array matches its structure
        self.probe = keras.Model(inputs, outputs, name=f"{model.name}_gates")

    def _twin_gates(self, layer, tensors, path):
        twin = gated_twin(
            layer,
            return_gates=True,
            return_sequences=False,
            return_state=False,
            stateful=False,
            name=f"{layer.name}_gated_twin",
        )
        self.pairs.append((layer, twin))
        self._twins[path] = twin
        sequences, mask = _sequences_and_mask(tensors)
        packed, step_mask = _PackedGates(twin)(sequences, mask=mask)
        return {"packed": packed, "mask": step_mask}

    def _gate_tensors(self, model, prefix):
        """Flat {"path|gate": tensor}, symbolic, in `model`'s own graph."""
        outputs = {}
        for layer in model.layers:
            path = prefix + layer.name
            if is_recurrent(layer):
                tensors = keras_bridge.call_inputs(layer, model)
                gates = {path: self._twin_gates(layer, tensors, path)}
            elif isinstance(layer, keras.layers.Bidirectional):
                tensors = keras_bridge.call_inputs(layer, model)
                gates = {
                    path + "/forward": self._twin_gates(
                        layer.forward_layer, tensors, path + "/forward"
                    ),
                    path + "/backward": self._twin_gates(
                        layer.backward_layer, tensors, path + "/backward"
                    ),
                }
            elif isinstance(layer, keras.Model) and any(
                True for _ in _recurrent_layers(layer)
            ):
                inner = keras.Model(
                    layer.inputs, self._gate_tensors(layer, path + "/")
                )
                outputs.update(inner(keras_bridge.call_inputs(layer, model)))
                continue
            else:
                continue
            for name, layer_gates in gates.items():
                for gate, tensor in layer_gates.items():
                    outputs[f"{name}|{gate}"] = tensor
        return outputs

    def __call__(self, inputs, batch_size: int = 64) -> dict:
        self._sync_weights()
        flat = self._run(inputs, batch_size)
        gates: dict = {}
        for path in self.layer_paths:
            twin = self._twins[path]
            packed = np.swapaxes(np.asarray(flat[f"{path}|packed"]), 0, 1)
            if twin.go_backwards:
                packed = packed[:, ::-1]
            mask = np.asarray(flat[f"{path}|mask"]).astype(bool)
            if not mask.all():
                packed = np.array(packed)  # a writable copy
                packed[~mask] = np.nan
            names = twin.cell.gate_names
            gates[path] = dict(
                zip(names, np.split(packed, len(names), axis=-1), strict=True)
            )
        return gates

    def _sync_weights(self):
        for layer, twin in self.pairs:
            copy_weights(layer, twin)

    def _run(self, inputs, batch_size):
        # predict_on_batch per chunk: `predict` costs tens of milliseconds
        # of set-up per call, more than the forward pass of a probe, and
        # would join the time-major gates along the wrong axis.
        leaves = keras.tree.flatten(inputs)
        chunks = [
            self.probe.predict_on_batch(
                keras.tree.map_structure(
                    lambda a, start=start: a[start : start + batch_size], inputs
                )
            )
            for start in range(0, leaves[0].shape[0], batch_size)
        ]
        if len(chunks) == 1:  # no copy
            return {key: np.asarray(value) for key, value in chunks[0].items()}
        return {
            # The packed gates are (time, batch, ...), the masks (batch, time).
            key: np.concatenate(
                [np.asarray(c[key]) for c in chunks],
                axis=1 if key.endswith("|packed") else 0,
            )
            for key in chunks[0]
        }


def extract_gates(model, inputs, batch_size: int = 64) -> dict:
    """Gates of every LSTM/GRU in `model` on `inputs`, as numpy arrays.

    A one-shot `GateExtractor(model)(inputs)`; build a `GateExtractor` once
    when you read gates repeatedly (it keeps its probe model).

    Args:
        model: a built Sequential or functional model with LSTM/GRU layers
            (built-in or gated; in `Bidirectional` or nested models too).
        inputs: what `model` takes.
        batch_size: int, default 64.

    Returns:
        `{layer_path: {gate: (batch, time, units) array}}`; LSTM gates
        `input`, `forget`, `candidate`, `output`, `cell`, `hidden`; GRU gates
        `update` (Keras's z, the share of the old state kept), `reset`,
        `candidate`, `hidden`. NaN at masked steps.

    Example:

    >>> model = keras.Sequential([keras.Input((5, 3)), keras.layers.GRU(4)])
    >>> gates = extract_gates(model, np.ones((2, 5, 3), "float32"))
    >>> sorted(gates[model.layers[0].name])
    ['candidate', 'hidden', 'reset', 'update']
    """
    return GateExtractor(model)(inputs, batch_size=batch_size)


def convert(model):
    """A copy of `model` whose LSTM/GRU layers are GatedLSTM/GatedGRU.

    Same architecture, configuration and weights, so the same numbers; the
    copy's recurrent layers can then be asked for their gates.

    Args:
        model: a Sequential or functional `keras.Model`.

    Returns:
        A new model of the same kind.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"model must be a keras.Model, got {type(model).__name__}"
        )
    if not any(True for _ in _recurrent_layers(model)):
        raise ValueError(
            f"model {model.name!r} has no LSTM or GRU layer to convert"
        )

    def clone(layer):
        if is_recurrent(layer):
            return gated_twin(layer)
        if isinstance(layer, keras.layers.Bidirectional):
            return keras.layers.Bidirectional(
                gated_twin(layer.forward_layer),
                backward_layer=gated_twin(layer.backward_layer),
                merge_mode=layer.merge_mode,
                name=layer.name,
            )
        return layer.__class__.from_config(layer.get_config())

    converted = keras.models.clone_model(
        model, clone_function=clone, recursive=True
    )
    converted.set_weights(model.get_weights())
    return converted
