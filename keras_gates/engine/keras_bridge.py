"""The one bridge to Keras's undocumented behaviour.

Everything else in keras_gates uses the public `keras` API and `keras.ops`.
What follows leans on how Keras 3 works inside, as read in its source
(3.6.0 to 3.15.1); the tests in `tests/test_keras_bridge.py` run each piece
on the installed Keras and say which one broke, and on which version.

Relied on:
1. `keras.layers.LSTM.inner_loop` / `keras.layers.GRU.inner_loop`, called
   on a view (`builtin_kernel`), read only `view.cell.{kernel,
   recurrent_kernel, bias, activation, recurrent_activation, reset_after,
   get_dropout_mask}` and `view.{use_cudnn, dropout, recurrent_dropout,
   return_sequences, go_backwards, unroll}`, may set `view.supports_jit`,
   and return `(last, outputs, states)` of the backend's fused function.
   A view that lacks an attribute Keras reads fails with a message naming
   the Keras version (`View`).
2. With `use_cudnn=True` they raise a `ValueError` from their own body
   (not from an op they call) when the backend's fused function refuses
   (it raises `NotImplementedError`) or recurrent dropout is on. That
   ValueError is recognised by where it was raised (`_raised_by`), not by
   its text.
3. `keras.layers.RNN.inner_loop`, called on a view (`rnn_loop`), reads
   `view.{cell, go_backwards, unroll, zero_output_for_mask,
   return_sequences, stateful}` and runs `backend.rnn` over `view.cell`.
4. Whether Keras would use an accelerator: `keras.distribution.
   list_devices()` on TensorFlow and JAX; on PyTorch, which has no
   `distribution`, the device Keras puts new tensors on (`accelerator`).
5. `keras.layers.LSTM`/`GRU.__init__` set `supports_jit = False` on
   TensorFlow when cuDNN can run (`builtin_supports_jit`).
6. `keras.layers.RNN.call` draws its cell's dropout masks before the loop
   (and clears them after) when the cell is a `DropoutRNNCell`, the mixin
   of Keras's own cells (not exported; found among `keras.layers.
   LSTMCell`'s bases); that is what keeps a JAX scan free of seed
   updates. Our cells take the same mixin (`DropoutRNNCell`).
7. A layer records each call on symbolic tensors as an inbound node
   (`layer._inbound_nodes[k].input_tensors`), and a functional model the
   keys of the nodes in its graph (`model._nodes`, keys
   `f"{id(layer)}_ib-{k}"`); a layer shared by two models (a head
   swapped on a trained body) has a node in each, and a nested model's
   public `input` is its own `keras.Input`, not what it was called with
   (`call_inputs`).
8. `keras.layers.Bidirectional` (3.15 and later) runs both directions in
   one fused call (`backend.bidirectional_lstm` / `_gru`, cuDNN on a
   PyTorch or JAX GPU) when its `_can_attempt_fused_lstm(mask,
   initial_state)` / `_can_attempt_fused_gru` say so, and those accept
   only `keras.layers.LSTM` / `GRU` instances. `fuse_bidirectional` wraps
   them, once, so that they also accept two gated layers of the same kind
   under Keras's own conditions and ours (`fusable_pair`); the fused call
   (`_call_fused_lstm` / `_gru`) then reads `forward_layer.unroll` and
   `{forward,backward}_layer.cell.{units, kernel, recurrent_kernel, bias,
   activation, recurrent_activation}`, which the gated layers have in
   Keras's layout. On an older Keras, without those methods, nothing is
   wrapped.
"""

from __future__ import annotations

import keras
from keras import ops


def _dropout_mixin():
    """Keras's `DropoutRNNCell`, found among the bases of its public
    `LSTMCell` (it is not exported)."""
    for base in keras.layers.LSTMCell.__mro__:
        if base.__name__ == "DropoutRNNCell":
            return base
    return None


class _DropoutMasks:
    """Stand-in where Keras has no `DropoutRNNCell`: the same cached masks,
    so the cells work alone; `keras.layers.RNN` then does not pre-draw
    them (JAX training with dropout needs a Keras that has the mixin)."""

    def get_dropout_mask(self, step_input):
        if getattr(self, "_dropout_mask", None) is None and self.dropout:
            self._dropout_mask = self._create_dropout_mask(
                step_input, self.dropout
            )
        return getattr(self, "_dropout_mask", None)

    def get_recurrent_dropout_mask(self, step_input):
        mask = getattr(self, "_recurrent_dropout_mask", None)
        if mask is None and self.recurrent_dropout:
            self._recurrent_dropout_mask = self._create_dropout_mask(
                step_input, self.recurrent_dropout
            )
        return getattr(self, "_recurrent_dropout_mask", None)

    def reset_dropout_mask(self):
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self):
        self._recurrent_dropout_mask = None


DropoutRNNCell = _dropout_mixin() or _DropoutMasks


class View:
    """A stand-in for a built-in layer or cell, with only the attributes
    given. Reading any other fails at once, naming the Keras version: that
    Keras reads something keras_gates does not hand it."""

    def __init__(self, what: str, **attributes):
        self.__dict__.update(attributes)
        self.__dict__["_what"] = what

    def __getattr__(self, name):
        raise AttributeError(
            f"keras {keras.__version__}: {self._what} reads {name!r}, which "
            "keras_gates' view does not have; this Keras release is not "
            "supported by keras_gates' bridge (keras_gates/engine/"
            "keras_bridge.py)"
        )


def call_inputs(layer, model=None):
    """What `layer` was called with in `model`'s graph (default, or where
    the model does not say: its first call): a tensor, or a list of
    them."""
    nodes = getattr(layer, "_inbound_nodes", None)
    if not nodes:
        return layer.input
    keys = getattr(model, "_nodes", None) or ()
    mine = [
        node
        for index, node in enumerate(nodes)
        if f"{id(layer)}_ib-{index}" in keys
    ]
    tensors = list((mine or nodes)[0].input_tensors)
    return tensors[0] if len(tensors) == 1 else tensors


def builtin_class(kind: str):
    return keras.layers.LSTM if kind == "lstm" else keras.layers.GRU


def _raised_by(error: BaseException, function) -> bool:
    """Whether `error` was raised in `function`'s own body, not in
    anything it called."""
    trace = error.__traceback__
    if trace is None:
        return False
    while trace.tb_next is not None:
        trace = trace.tb_next
    return trace.tb_frame.f_code is function.__code__


def builtin_kernel(
    cell,
    sequences,
    state0,
    mask,
    training,
    *,
    input_mask,
    full,
    go_backwards,
    unroll,
    supports_jit,
    fall_back,
):
    """`(last, outputs, states)` of the built-in's own `inner_loop` with its
    fused function (cuDNN on a GPU), on a view of the gated `cell` with the
    built-in's attributes. When the fused function refuses: None with
    `fall_back`, else the built-in's own ValueError.

    `input_mask`: the one input dropout mask `(batch, features)` to apply,
    or None."""
    builtin = builtin_class(cell.kind)
    view = View(
        f"{builtin.__name__}.inner_loop",
        cell=View(
            f"{builtin.__name__}.inner_loop (the cell)",
            kernel=cell.kernel,
            recurrent_kernel=cell.recurrent_kernel,
            bias=cell.bias,
            activation=cell.activation,
            recurrent_activation=cell.recurrent_activation,
            reset_after=getattr(cell, "reset_after", True),
            get_dropout_mask=lambda _: input_mask,
        ),
        # True: when the fused function refuses, the built-in raises
        # instead of falling back to its own loop through `super()`, which
        # a view cannot take.
        use_cudnn=True,
        dropout=cell.dropout if input_mask is not None else 0.0,
        recurrent_dropout=cell.recurrent_dropout,
        return_sequences=full,
        go_backwards=go_backwards,
        unroll=unroll,
        supports_jit=supports_jit,
    )
    try:
        last, outputs, states = builtin.inner_loop(
            view, sequences, state0, mask, training
        )
    except ValueError as error:
        if not (fall_back and _raised_by(error, builtin.inner_loop)):
            raise
        return None
    return last, outputs, list(states)


def rnn_loop(
    step,
    sequences,
    state0,
    mask,
    *,
    go_backwards,
    unroll,
    zero_output_for_mask,
    return_sequences,
    stateful,
):
    """`(last, outputs, states)` of Keras's step loop
    (`keras.layers.RNN.inner_loop`) over `step(inputs, states) -> (output,
    new_states)`."""
    view = View(
        "RNN.inner_loop",
        cell=step,
        go_backwards=go_backwards,
        unroll=unroll,
        zero_output_for_mask=zero_output_for_mask,
        return_sequences=return_sequences,
        stateful=stateful,
    )
    return keras.layers.RNN.inner_loop(view, sequences, state0, mask)


def accelerator(like=None) -> bool:
    """Whether Keras sees a GPU or TPU (the tests replace this).

    `keras.distribution.list_devices` where the backend has it
    (TensorFlow, JAX); on PyTorch, where it has none, the device of `like`
    (Keras puts tensors on the GPU when there is one)."""
    distribution = getattr(keras, "distribution", None)
    try:
        devices = distribution.list_devices()
    except (AttributeError, NotImplementedError):
        device = getattr(like, "device", None)
        if getattr(device, "type", None) is None:
            # No tensor (a shape, a KerasTensor): where Keras puts new ones.
            device = getattr(ops.zeros(()), "device", None)
        return getattr(device, "type", "cpu") not in ("cpu", "meta")
    return any(not str(d).lower().startswith("cpu") for d in devices)


def default_activations(cell) -> bool:
    """tanh and sigmoid, the activations every fused function computes."""
    return cell.activation in (
        keras.activations.tanh,
        ops.tanh,
    ) and cell.recurrent_activation in (keras.activations.sigmoid, ops.sigmoid)


def builtin_supports_jit(cell, unroll, use_cudnn) -> bool:
    """`supports_jit` as `keras.layers.LSTM`/`GRU.__init__` set it: False on
    TensorFlow when cuDNN can run (its arguments allow it and Keras sees an
    accelerator) and `use_cudnn` is not False, since cuDNN ops do not
    compile under XLA."""
    if keras.backend.backend() != "tensorflow" or use_cudnn is False:
        return True
    arguments_allow = (
        cell.is_standard
        and default_activations(cell)
        and not unroll
        and cell.use_bias
        and getattr(cell, "reset_after", True)
    )
    return not (arguments_allow and accelerator())


def fusable_pair(bidirectional, kind: str, mask, initial_state) -> bool:
    """Whether Keras's fused bidirectional call may run a pair of gated
    layers of `kind` ("lstm" or "gru"): Keras's conditions for its own
    layers (no mask, not stateful, the whole initial state or none, cuDNN
    allowed, no dropout, equal units, the same activations, biases,
    `reset_after` for the GRU, built), and ours: Keras's equations (no
    variant, peepholes, layer normalisation, zoneout or DropConnect), no
    gates asked for and no intervention in place."""
    pair = (bidirectional.forward_layer, bidirectional.backward_layer)
    if mask is not None or bidirectional.stateful:
        return False
    if initial_state is not None and len(initial_state) != (
        4 if kind == "lstm" else 2
    ):
        return False
    for layer in pair:
        cell = getattr(layer, "cell", None)
        if (
            getattr(cell, "kind", None) != kind
            or not hasattr(layer, "_intervention")
            or layer._intervention is not None
            or cell.return_gates
            or not cell.is_standard
            or layer.use_cudnn not in (True, "auto")
            or cell.dropout
            or cell.recurrent_dropout
            or not cell.use_bias
            or not getattr(cell, "reset_after", True)
            or not layer.built
        ):
            return False
    forward, backward = (layer.cell for layer in pair)
    return (
        forward.units == backward.units
        and forward.activation is backward.activation
        and forward.recurrent_activation is backward.recurrent_activation
    )


def fuse_bidirectional() -> None:
    """Lets `keras.layers.Bidirectional` fuse gated layers (item 8)."""
    wrapper = keras.layers.Bidirectional
    for kind in ("lstm", "gru"):
        name = f"_can_attempt_fused_{kind}"
        original = getattr(wrapper, name, None)
        if original is None or getattr(original, "_keras_gates", False):
            continue

        def can_attempt(
            self, mask, initial_state=None, *, _o=original, _k=kind
        ):
            return _o(self, mask, initial_state) or fusable_pair(
                self, _k, mask, initial_state
            )

        can_attempt._keras_gates = True
        setattr(wrapper, name, can_attempt)
