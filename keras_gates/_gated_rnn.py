"""What GatedLSTM and GatedGRU share: the cell's plumbing and the wrapper.

Private: the public classes live in `gated_lstm.py` and `gated_gru.py`.
"""

from __future__ import annotations

import contextlib

import keras
from keras import ops

from keras_gates import _validation as check
from keras_gates.gate_layout import (
    gate_names,
    join_blocks,
    split_blocks,
    unpack,
)

# Whether the wrapper multiplies every step's input by the kernel in one
# matmul before the loop, per backend. Measured (training step, batch 64,
# 200 steps, 128 -> 64, 2-core CPU): on TensorFlow it was slower (31 vs
# 22 ms) and it rounds differently from Keras, whose TensorFlow loop
# projects inside the step; on JAX (jit) slower too (LSTM 44.2 vs 42.1 ms,
# GRU 34.4 vs 34.9); on PyTorch, where every op in the loop is a
# Python-dispatched kernel, faster (LSTM 13%, GRU 18% less time).
PROJECT_BEFORE_LOOP = {"tensorflow": False, "torch": True, "jax": False}


@contextlib.contextmanager
def _temporarily(*changes):
    """Within: for each `(obj, {name: value})`, `obj`'s attributes set to
    the values; restored after.

    One context for every change: PyTorch's compiler (`jit_compile=True`
    on the torch backend) failed on a `with` of several context managers.
    """
    saved = [
        (obj, {name: getattr(obj, name) for name in values})
        for obj, values in changes
    ]
    for obj, values in changes:
        for name, value in values.items():
            setattr(obj, name, value)
    try:
        yield
    finally:
        for obj, values in reversed(saved):
            for name, value in values.items():
                setattr(obj, name, value)


def _over_time(masks):
    """Per-sequence dropout masks `(batch, n)` -> `(batch, 1, n)`, to
    multiply a whole `(batch, time, n)` sequence."""
    return None if masks is None else [ops.expand_dims(m, 1) for m in masks]


class GatedCell(keras.layers.Layer):
    """Base of the gated cells: arguments, dropout masks, input projection.

    Subclasses set `kind` ("lstm" or "gru"), `weight_gates` (the gate blocks
    of the kernel, in Keras's order), build the weights and implement
    `recur(x, states, recurrent_masks) -> (h, new_states, gates)`, where `x`
    is the projected input `inputs @ kernel` (plus the input bias when
    `projection_has_bias`; otherwise `recur` adds it where Keras does),
    `recover` (every step's gates from the output sequence, for
    `recover_gates`) and `fused` (the whole sequence with a hand-written
    backward pass, see `can_fuse`).
    """

    kind: str = ""
    weight_gates: tuple[str, ...] = ()

    def __init__(
        self,
        units,
        activation,
        recurrent_activation,
        use_bias,
        kernel_initializer,
        recurrent_initializer,
        bias_initializer,
        kernel_regularizer,
        recurrent_regularizer,
        bias_regularizer,
        kernel_constraint,
        recurrent_constraint,
        bias_constraint,
        dropout,
        recurrent_dropout,
        seed,
        return_gates,
        implementation,
        **kwargs,
    ):
        units = check.positive_int("units", units)
        activation = check.activation("activation", activation)
        recurrent_activation = check.activation(
            "recurrent_activation", recurrent_activation
        )
        dropout = check.rate("dropout", dropout)
        recurrent_dropout = check.rate("recurrent_dropout", recurrent_dropout)
        check.boolean("use_bias", use_bias)
        check.boolean("return_gates", return_gates)
        check.one_of("implementation", implementation, (1, 2))
        super().__init__(**kwargs)
        self.units = units
        self.activation = activation
        self.recurrent_activation = recurrent_activation
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(
            recurrent_initializer
        )
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(
            recurrent_regularizer
        )
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.recurrent_constraint = keras.constraints.get(recurrent_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.dropout = dropout
        self.recurrent_dropout = recurrent_dropout
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)
        self.return_gates = return_gates
        # Keras switches to per-gate dropout masks whenever recurrent dropout
        # is on; we follow it so that a shared seed draws the same masks.
        self.implementation = 1 if recurrent_dropout else implementation
        self.output_size = (
            units * len(gate_names(self.kind)) if return_gates else units
        )
        # Set by the wrapper around its loop (see `GatedRNN.call`).
        self._sequence_masks = None
        self._step_mask = None
        self._projected = False

    # -- pieces the wrapper uses -------------------------------------------

    # Whether `project_inputs` adds the input bias. The LSTM adds it after
    # the recurrent term instead, where Keras does, so that float32 sums
    # round the same way and training follows the built-in bit for bit.
    projection_has_bias = True

    def input_bias(self):
        return self.bias

    def draw_dropout_masks(self, step_inputs, state):
        """Draws input and recurrent dropout masks, in Keras's order.

        Keras's RNN draws them once per call, before the loop, whether or not
        it is training; doing the same keeps a seeded GatedLSTM's masks, and
        so its numbers, equal to a seeded `keras.layers.LSTM`'s.

        Returns:
            `(input_masks, recurrent_masks)`: each a list of 1 (one mask for
            all gates) or one mask per gate, or None when that rate is 0.
        """
        count = len(self.weight_gates) if self.implementation == 1 else 1

        def draw(like, rate):
            ones = ops.ones_like(like)
            return [
                keras.random.dropout(ones, rate, seed=self.seed_generator)
                for _ in range(count)
            ]

        input_masks = draw(step_inputs, self.dropout) if self.dropout else None
        recurrent_masks = (
            draw(state, self.recurrent_dropout)
            if self.recurrent_dropout
            else None
        )
        return input_masks, recurrent_masks

    def project_inputs(self, inputs, input_masks=None, with_bias=None):
        """`inputs @ kernel` (+ the input bias, see `projection_has_bias`).

        Args:
            inputs: `(batch, features)`, one step, or `(batch, time,
                features)` for the whole sequence before the loop.
            input_masks: None, or the masks of `draw_dropout_masks`, each
                `(batch, features)` (`(batch, 1, features)` for a sequence):
                one for all gates or one per gate.
            with_bias: add the input bias; default `projection_has_bias`.
        """
        x = self._per_gate_matmul(
            inputs, self.kernel, self.weight_gates, input_masks
        )
        if with_bias is None:
            with_bias = self.projection_has_bias
        if self.use_bias and with_bias:
            x = ops.add(x, self.input_bias())
        return x

    def recurrent_projection(self, h_tm1, recurrent_masks, gates=None):
        """`h_tm1 @ recurrent_kernel` for `gates` (default: all)."""
        gates = self.weight_gates if gates is None else gates
        kernel = self.recurrent_kernel
        if gates != self.weight_gates:
            kernels = split_blocks(kernel, self.weight_gates)
            kernel = join_blocks(kernels, gates)
        if recurrent_masks is not None:
            recurrent_masks = recurrent_masks[: len(gates)]
        return self._per_gate_matmul(h_tm1, kernel, gates, recurrent_masks)

    def _per_gate_matmul(self, x, kernel, gates, masks):
        """`x @ kernel`, gate by gate where Keras does it gate by gate.

        Keras's implementation 1 (forced by recurrent dropout) multiplies
        each gate's block separately, with its own dropout mask; doing the
        same keeps the float32 results identical.
        """
        if self.implementation == 2:
            if masks is not None:
                x = x * masks[0]
            return ops.matmul(x, kernel)
        masks = [None] * len(gates) if masks is None else masks
        kernels = split_blocks(kernel, gates)
        return join_blocks(
            {
                gate: ops.matmul(x if mask is None else x * mask, kernels[gate])
                for gate, mask in zip(gates, masks, strict=True)
            },
            gates,
        )

    def sequence_masks(
        self, input_masks, recurrent_masks, step_mask=None, projected=False
    ):
        """The change (for `_temporarily`) under which every step uses
        these masks (one draw per sequence).

        `step_mask` None: the backend's loop applies the time-step mask.
        "carry" or "zero": each step's input ends with one extra feature,
        1.0 for a valid step and 0.0 for a masked one, and the cell applies
        the mask itself: states carried over, the hidden block carried
        ("carry") or zeroed ("zero", Keras's `zero_output_for_mask`).
        `projected`: the step inputs are already `project_inputs` of the
        step, input bias included (see `PROJECT_BEFORE_LOOP`).
        """
        return self, {
            "_sequence_masks": (input_masks, recurrent_masks),
            "_step_mask": step_mask,
            "_projected": projected,
        }

    # -- the step ------------------------------------------------------------

    def __call__(self, *args, **kwargs):
        # Inside GatedRNN's loop the wrapper's own __call__ has already
        # converted the inputs and entered the autocast scope, so each step
        # skips Layer.__call__'s bookkeeping; in eager PyTorch that
        # bookkeeping, paid once per timestep, dominated the step time.
        if self._sequence_masks is not None and self.built:
            return self.call(*args, **kwargs)
        return super().__call__(*args, **kwargs)

    def call(self, inputs, states, training=False):
        if self._sequence_masks is not None:
            input_masks, recurrent_masks = self._sequence_masks
        elif training:
            # Used on its own in keras.layers.RNN, the cell cannot hold a
            # mask across steps: each step draws fresh dropout masks.
            input_masks, recurrent_masks = self.draw_dropout_masks(
                inputs, states[0]
            )
        else:
            input_masks = recurrent_masks = None
        step_mask = None
        if self._step_mask is not None:
            step_mask = ops.greater(inputs[:, -1:], 0.5)
            inputs = inputs[:, :-1]
        if self._projected:
            x = inputs
        else:
            x = self.project_inputs(inputs, input_masks)
        h, new_states, gates = self.recur(x, states, recurrent_masks)
        if step_mask is not None:
            states = (
                list(states) if isinstance(states, (list, tuple)) else [states]
            )
            new_states = [
                ops.where(step_mask, new, old)
                for new, old in zip(new_states, states, strict=True)
            ]
            held = ops.zeros_like(h) if self._step_mask == "zero" else states[0]
            h = gates["hidden"] = ops.where(step_mask, h, held)
        if self.return_gates:
            return join_blocks(gates, gate_names(self.kind)), new_states
        return h, new_states

    def recur(self, x, states, recurrent_masks):
        raise NotImplementedError

    def can_fuse(self) -> bool:
        """Whether, inside the wrapper's loop, `fused` may run the whole
        sequence (see `_fused`): projected inputs, no step mask, no
        recurrent dropout, Keras's default activations."""
        # `_projected` is only set together with `_sequence_masks`.
        return (
            self._projected
            and self._step_mask is None
            and self._sequence_masks[1] is None
            and self.implementation == 2
            and self.activation is keras.activations.tanh
            and self.recurrent_activation is keras.activations.sigmoid
        )

    def fused(self, x, states):
        """The whole sequence at once: `x` `(batch, time, ...)` projected
        inputs in processing order -> `(outputs (batch, time, output_size),
        new_states)`, as the step loop would give them."""
        raise NotImplementedError

    def get_initial_state(self, batch_size=None):
        sizes = self.state_size
        sizes = [sizes] if isinstance(sizes, int) else sizes
        return [
            ops.zeros((batch_size, size), dtype=self.compute_dtype)
            for size in sizes
        ]

    def get_config(self):
        config = {
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "recurrent_activation": keras.activations.serialize(
                self.recurrent_activation
            ),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(
                self.kernel_initializer
            ),
            "recurrent_initializer": keras.initializers.serialize(
                self.recurrent_initializer
            ),
            "bias_initializer": keras.initializers.serialize(
                self.bias_initializer
            ),
            "kernel_regularizer": keras.regularizers.serialize(
                self.kernel_regularizer
            ),
            "recurrent_regularizer": keras.regularizers.serialize(
                self.recurrent_regularizer
            ),
            "bias_regularizer": keras.regularizers.serialize(
                self.bias_regularizer
            ),
            "kernel_constraint": keras.constraints.serialize(
                self.kernel_constraint
            ),
            "recurrent_constraint": keras.constraints.serialize(
                self.recurrent_constraint
            ),
            "bias_constraint": keras.constraints.serialize(
                self.bias_constraint
            ),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
            "return_gates": self.return_gates,
            "implementation": self.implementation,
        }
        return {**super().get_config(), **config}


def _cell_property(name):
    return property(
        lambda self: getattr(self.cell, name),
        doc=f"The cell's `{name}` (read-only).",
    )


class GatedRNN(keras.layers.RNN):
    """Base of GatedLSTM and GatedGRU: `keras.layers.RNN` plus gates out."""

    def __init__(
        self,
        cell: GatedCell,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        use_cudnn="auto",
        recover_gates=False,
        **kwargs,
    ):
        for name, value in (
            ("recover_gates", recover_gates),
            ("return_sequences", return_sequences),
            ("return_state", return_state),
            ("go_backwards", go_backwards),
            ("stateful", stateful),
            ("unroll", unroll),
        ):
            check.boolean(name, value)
        check.one_of("use_cudnn", use_cudnn, ("auto", True, False))
        if use_cudnn is True:
            raise ValueError(
                "use_cudnn=True was requested, but keras_gates layers have no "
                "cuDNN path; pass use_cudnn='auto' (the default) or False"
            )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            **kwargs,
        )
        self.use_cudnn = use_cudnn
        self.recover_gates = recover_gates

    @property
    def return_gates(self) -> bool:
        return self.cell.return_gates

    def build(self, sequences_shape, initial_state_shape=None):
        check.sequence_input(self.name, sequences_shape)
        super().build(sequences_shape, initial_state_shape)

    def _full_result(self, **more):
        """The change (for `_temporarily`) under which the RNN returns the
        whole sequence and the final states (and `more`)."""
        return self, {"return_sequences": True, "return_state": True, **more}

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if not self.return_gates:
            return self._loop(sequences, initial_state, mask, training)
        if self.recover_gates:
            gates, states = self._recovered_gates(
                sequences, initial_state, mask, training
            )
        else:
            with _temporarily(self._full_result()):
                packed, *states = self._loop(
                    sequences, initial_state, mask, training
                )
            gates = unpack(packed, self.cell.kind)
        return self._with_gates(gates, states, mask)

    # `recover_gates` (with return_gates=True): instead of a loop that
    # emits (batch, 6 x units) gates per step, run the loop with gates off
    # and then compute every step's gates at once from the inputs and the
    # output sequence (`cell.recover`): one batched matmul, and for the
    # LSTM cell state a linear recurrence solved by doubling. Measured
    # (training step with every gate in the loss, 2-core CPU): under XLA on
    # TensorFlow the step-by-step loop grew with the square of the length
    # (LSTM 64 x 200: 224 ms, 32 x 500: 1893 ms) and recovery did not (77,
    # 236 ms); without XLA, and on JAX and PyTorch, the loop was faster
    # (TensorFlow 33 vs 79 ms, JAX 71 vs 98, PyTorch 81 vs 115). Hence off
    # by default.

    def _recovered_gates(self, sequences, initial_state, mask, training):
        """Gates in processing order, and the final states."""
        cell = self.cell
        masks = self._dropout_masks(sequences, training)
        initial_state = self._initial_states(sequences, initial_state)
        # The loop returns outputs only, carried over masked steps.
        with _temporarily(
            self._full_result(zero_output_for_mask=False),
            (self.cell, {"return_gates": False}),
        ):
            carried, *states = self._loop(
                sequences, initial_state, mask, training, masks
            )
        valid = None
        if mask is not None:
            valid = ops.expand_dims(ops.cast(mask, "bool"), -1)
        if self.go_backwards:
            sequences = ops.flip(sequences, axis=1)
            valid = None if valid is None else ops.flip(valid, axis=1)
        input_masks, recurrent_masks = (_over_time(m) for m in masks)
        h_prev = ops.concatenate(
            [ops.expand_dims(initial_state[0], 1), carried[:, :-1]], axis=1
        )
        gates = cell.recover(
            cell.project_inputs(sequences, input_masks),
            h_prev,
            initial_state,
            valid,
            recurrent_masks,
        )
        if valid is not None and self.zero_output_for_mask:
            carried = ops.where(valid, carried, ops.zeros_like(carried))
        gates["hidden"] = carried
        return gates, states

    def _initial_states(self, sequences, initial_state):
        """The states the loop starts from, as `keras.layers.RNN` picks
        them: given, carried (stateful) or zeros."""
        if initial_state is None:
            if self.stateful:
                # Copies: the loop assigns the new states to these variables,
                # and a tensor converted from a variable may follow it.
                initial_state = [ops.copy(state) for state in self.states]
            else:
                initial_state = self.get_initial_state(
                    batch_size=ops.shape(sequences)[0]
                )
        if not isinstance(initial_state, (list, tuple)):
            initial_state = [initial_state]
        return [
            ops.convert_to_tensor(state, dtype=self.cell.compute_dtype)
            for state in initial_state
        ]

    def packed_gates(self, sequences, mask=None):
        """Every step's packed gates, as the loop leaves them.

        `(batch, time, n * units)` in processing order (reversed with
        `go_backwards`), blocks in `gate_layout.gate_names(kind)` order,
        masked steps not yet set to NaN. `GateExtractor` splits, reorders
        and masks this in numpy, which is cheaper than doing it per gate in
        the graph. Needs `return_gates=True`.
        """
        if not self.return_gates:
            raise ValueError(
                "packed_gates needs a layer with return_gates=True"
            )
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        with _temporarily(self._full_result()):
            packed, *_ = self._loop(sequences, None, mask, False)
        return packed

    def _dropout_masks(self, sequences, training):
        """(input masks, recurrent masks), drawn as Keras draws them: once
        per call, training or not (so that a seeded layer's draws follow
        Keras's), and then kept only when training."""
        cell = self.cell
        if not (cell.dropout or cell.recurrent_dropout):
            return None, None
        batch_size = ops.shape(sequences)[0]
        masks = cell.draw_dropout_masks(
            sequences[:, 0, :],
            ops.zeros((batch_size, cell.units), dtype=sequences.dtype),
        )
        return masks if training else (None, None)

    def _loop(self, sequences, initial_state, mask, training, masks=None):
        """keras.layers.RNN's loop, with dropout masks drawn as Keras does
        (or `masks`, already drawn)."""
        check.sequence_input(
            self.name, sequences.shape, self.cell.kernel.shape[0]
        )
        cell = self.cell
        if masks is None:
            masks = self._dropout_masks(sequences, training)
        input_masks, recurrent_masks = masks
        backend = keras.backend.backend()
        projected = PROJECT_BEFORE_LOOP.get(backend, False)
        if projected:
            sequences = cell.project_inputs(
                sequences, _over_time(input_masks), with_bias=True
            )
        step_mask = None
        if mask is not None and cell.return_gates:
            # The step output (packed gates) is wider than the state, and
            # JAX's masked scan carries the first state as the previous
            # output; so the cell applies the mask, carried in the inputs.
            step_mask = "zero" if self.zero_output_for_mask else "carry"
            flags = ops.cast(ops.expand_dims(mask, -1), sequences.dtype)
            sequences = ops.concatenate([sequences, flags], axis=-1)
            mask = None
        # On PyTorch, Keras's unrolled loop (a plain Python loop over the
        # steps) has less per-step bookkeeping than its general one: the
        # same numbers, 17-28% less time for a forward pass, 1-5% for a
        # training step (batch 64, 200 steps, 128 -> 64, 2-core CPU). Its
        # mask flip for go_backwards is broken, so not there.
        unroll = self.unroll or (
            backend == "torch"
            and sequences.shape[1] is not None
            and not (mask is not None and self.go_backwards)
        )
        with _temporarily(
            cell.sequence_masks(
                input_masks, recurrent_masks, step_mask, projected
            ),
            (self, {"unroll": unroll}),
        ):
            return super().call(sequences, initial_state, mask, training)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        # On PyTorch, the recurrence with a hand-written backward pass
        # (`_fused`) where the cell allows it. Measured (batch 64, 200
        # steps, 128 -> 64, 2-core CPU): see the README's speed section.
        cell = self.cell
        if mask is None and sequences.shape[1] and cell.can_fuse():
            if self.go_backwards:
                sequences = ops.flip(sequences, axis=1)
            if self.stateful:
                # Copies: the layer assigns its new states in place to the
                # variables these came from, before the backward pass.
                initial_state = [ops.copy(state) for state in initial_state]
            outputs, states = cell.fused(sequences, list(initial_state))
            return outputs[:, -1], outputs, states
        return super().inner_loop(sequences, initial_state, mask, training)

    def _with_gates(self, gates, states, mask):
        # The hidden block is exactly what keras.layers.RNN would return.
        outputs = gates["hidden"] if self.return_sequences else states[0]
        gates = {
            name: self._to_input_order(gates[name], mask)
            for name in gate_names(self.cell.kind)
        }
        if self.return_state:
            return (outputs, *states, gates)
        return outputs, gates

    def _to_input_order(self, gate, mask):
        """Time in input order; NaN where the input step was masked."""
        if self.go_backwards:
            gate = ops.flip(gate, axis=1)
        if mask is not None:
            keep = ops.expand_dims(ops.cast(mask, "bool"), -1)
            gate = ops.where(keep, gate, ops.full_like(gate, float("nan")))
        return gate

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch, time = sequences_shape[0], sequences_shape[1]
        units = self.cell.units
        output = (
            (batch, time, units) if self.return_sequences else (batch, units)
        )
        result = [output]
        if self.return_state:
            result += [(batch, units)] * len(self.state_size)
        if self.return_gates:
            result.append(
                {
                    name: (batch, time, units)
                    for name in gate_names(self.cell.kind)
                }
            )
        return tuple(result) if len(result) > 1 else output

    def get_config(self):
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell_config.pop(key, None)
        config = {
            **super().get_config(),
            **cell_config,
            "activity_regularizer": keras.regularizers.serialize(
                self.activity_regularizer
            ),
            "use_cudnn": self.use_cudnn,
            "recover_gates": self.recover_gates,
        }
        del config["cell"]
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    units = _cell_property("units")
    activation = _cell_property("activation")
    recurrent_activation = _cell_property("recurrent_activation")
    use_bias = _cell_property("use_bias")
    kernel_initializer = _cell_property("kernel_initializer")
    recurrent_initializer = _cell_property("recurrent_initializer")
    bias_initializer = _cell_property("bias_initializer")
    kernel_regularizer = _cell_property("kernel_regularizer")
    recurrent_regularizer = _cell_property("recurrent_regularizer")
    bias_regularizer = _cell_property("bias_regularizer")
    kernel_constraint = _cell_property("kernel_constraint")
    recurrent_constraint = _cell_property("recurrent_constraint")
    bias_constraint = _cell_property("bias_constraint")
    dropout = _cell_property("dropout")
    recurrent_dropout = _cell_property("recurrent_dropout")
    seed = _cell_property("seed")
    implementation = _cell_property("implementation")
