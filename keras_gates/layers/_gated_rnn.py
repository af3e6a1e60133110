"""What GatedLSTM and GatedGRU share: the cell's plumbing and the wrapper.

Private: the public classes live in `gated_lstm.py` and `gated_gru.py`.
"""

from __future__ import annotations

import dataclasses

import keras
from keras import ops

from keras_gates import _validation as check
from keras_gates.engine import keras_bridge
from keras_gates.engine import sequence as _engine
from keras_gates.gate_layout import (
    check_variant,
    gate_names,
    join_blocks,
    split_blocks,
    weight_gates,
)


def _unedited(name, value):
    return value


def cut_to_blocks(initializer, units, standard, kept):
    """An initializer that draws `initializer` for the standard layout
    (`standard` blocks of `units` along the last axis) and keeps the
    `kept` blocks: how a variant with fewer blocks takes a whole-bias
    initializer such as Chrono."""

    def cut(shape, *args, **kwargs):
        full = initializer(
            (*shape[:-1], len(standard) * units), *args, **kwargs
        )
        return join_blocks(split_blocks(full, standard), kept)

    return cut


keras_bridge.fuse_bidirectional()


class GatedCell(keras.layers.Layer, keras_bridge.DropoutRNNCell):
    """Base of the gated cells: arguments, dropout masks, input projection.

    Subclasses set `kind` ("lstm" or "gru"), build the weights and implement
    `recur(x, states, recurrent_masks, x_has_bias) -> (h, new_states,
    gates)`, the pure step, where `x` is the projected input `inputs @
    kernel`, with the input bias when `x_has_bias` (otherwise `recur` adds
    it where Keras does), `recover` (every step's gates from the output
    sequence, for `recover_gates`) and `handwritten` (the whole sequence with a
    hand-written backward pass). Which of them runs is decided in
    `_engine`, never here. `weight_gates`, the gate blocks of the kernel in
    Keras's order, come from `gate_layout` for the cell's `variant`.
    """

    kind: str = ""
    # The variants `handwritten` computes (see `layers._handwritten`).
    handwritten_variants: frozenset = frozenset()

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
        variant="standard",
        peepholes=False,
        zoneout=0.0,
        recurrent_dropconnect=0.0,
        layer_norm=False,
        **kwargs,
    ):
        units = check.positive_int("units", units)
        check.boolean("layer_norm", layer_norm)
        zoneout_rates = _zoneout_rates(self.kind, zoneout)
        recurrent_dropconnect = check.rate(
            "recurrent_dropconnect", recurrent_dropconnect
        )
        variant = check_variant(self.kind, variant)
        check.boolean("peepholes", peepholes)
        if peepholes and self.kind != "lstm":
            raise ValueError(
                f"peepholes=True is for the LSTM (they read its cell state); "
                f"a {self.kind.upper()} has none"
            )
        activation = check.activation("activation", activation)
        recurrent_activation = check.activation(
            "recurrent_activation", recurrent_activation
        )
        dropout = check.rate("dropout", dropout)
        recurrent_dropout = check.rate("recurrent_dropout", recurrent_dropout)
        check.boolean("use_bias", use_bias)
        check.boolean("return_gates", return_gates)
        # Keras 3 accepts any value and runs 1 gate by gate, anything else
        # as one matrix; Keras 2 saved models carry 0.
        check.one_of("implementation", implementation, (0, 1, 2))
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
        self.layer_norm = layer_norm
        self.output_size = (
            units * len(self.gate_names) if return_gates else units
        )
        self.variant = variant
        self.peepholes = peepholes
        # (p_h,) for the GRU, (p_h, p_c) for the LSTM; `zoneout` as given.
        self.zoneout_rates = zoneout_rates
        self.zoneout = (
            zoneout_rates[0]
            if len(set(zoneout_rates)) == 1
            else list(zoneout_rates)
        )
        self.recurrent_dropconnect = recurrent_dropconnect
        # The recurrent kernel with DropConnect's mask applied, set while a
        # training call runs (`use_kernel_mask`): multiplied once per call,
        # not at every step.
        self._dropped_kernel = None
        self.weight_gates = weight_gates(self.kind, variant)
        if self.implementation == 1:
            # Keras's cells' name for "one dropout mask per gate".
            self.dropout_mask_count = len(self.weight_gates)

    @property
    def gate_names(self) -> tuple[str, ...]:
        """What the cell records, in packing order (`gate_layout`)."""
        return gate_names(self.kind, self.layer_norm)

    @property
    def has_zoneout(self) -> bool:
        return any(self.zoneout_rates)

    @property
    def _plain_step(self) -> bool:
        """No option that adds to the variant's step: peepholes, zoneout,
        DropConnect, layer normalisation."""
        return not (
            self.peepholes
            or self.has_zoneout
            or self.recurrent_dropconnect
            or self.layer_norm
        )

    @property
    def is_standard(self) -> bool:
        """Whether these are Keras's equations: the variant the built-in's
        fused kernel and the hand-written backward pass compute."""
        return self.variant == "standard" and self._plain_step

    @property
    def has_handwritten(self) -> bool:
        """Whether `handwritten` computes this cell: the standard cell or a
        variant the hand-written pass knows (`handwritten_variants`), with
        no peepholes, zoneout, DropConnect or layer normalisation."""
        return self.variant in self.handwritten_variants and self._plain_step

    @property
    def recoverable(self) -> bool:
        """Whether every step's gates follow from the inputs and the output
        sequence alone (`recover`): not when a gate reads the previous
        step's cell state (peepholes) or gates (fgr), nor with zoneout or
        DropConnect, which change the step in training."""
        return (
            not self.peepholes
            and self.variant != "fgr"
            and not self.has_zoneout
            and not self.recurrent_dropconnect
        )

    def options_text(self) -> str:
        """The arguments that make the cell non-standard, for errors."""
        found = [f"variant={self.variant!r}", f"peepholes={self.peepholes}"]
        if self.has_zoneout:
            found.append(f"zoneout={self.zoneout!r}")
        if self.recurrent_dropconnect:
            found.append(f"recurrent_dropconnect={self.recurrent_dropconnect}")
        if self.layer_norm:
            found.append("layer_norm=True")
        return ", ".join(found)

    # -- layer normalisation (Ba, Kiros & Hinton 2016) -----------------------

    # Added to the variance, as `keras.layers.LayerNormalization`'s default.
    layer_norm_epsilon = 1e-3

    def build_layer_norm(self, extra=()):
        """The gains (ones) and biases (zeros) of the normalisations:
        `input_gamma`/`input_beta` and `recurrent_gamma`/`recurrent_beta`
        over the weight blocks, then each name of `extra` over the units
        (the LSTM's `cell`). Called at the end of `build`."""
        self.norm_weights = {}
        if not self.layer_norm:
            return
        width = len(self.weight_gates) * self.units
        for name, size in [("input", width), ("recurrent", width)] + [
            (name, self.units) for name in extra
        ]:
            self.norm_weights[name] = tuple(
                self.add_weight(
                    shape=(size,),
                    name=f"{name}_{part}",
                    initializer=initializer,
                )
                for part, initializer in (("gamma", "ones"), ("beta", "zeros"))
            )

    def normalize(self, value, name, gates=None):
        """`value` layer-normalised over its last axis with the gain and
        bias `name` (see `build_layer_norm`); `gates`: the weight blocks
        `value` holds, when not all (their slices of the gain and bias)."""
        gamma, beta = self.norm_weights[name]
        if gates is not None and tuple(gates) != self.weight_gates:
            gamma = join_blocks(split_blocks(gamma, self.weight_gates), gates)
            beta = join_blocks(split_blocks(beta, self.weight_gates), gates)
        mean = ops.mean(value, axis=-1, keepdims=True)
        centred = value - mean
        variance = ops.mean(ops.square(centred), axis=-1, keepdims=True)
        scaled = centred * ops.rsqrt(variance + self.layer_norm_epsilon)
        return scaled * gamma + beta

    # -- what training draws: DropConnect and zoneout ------------------------

    def draw_kernel_mask(self):
        """DropConnect (Wan et al. 2013; Merity et al. 2018): one mask on
        the recurrent kernel per call, scaled by 1 / (1 - p) as Keras's
        dropout scales; None when `recurrent_dropconnect` is 0."""
        if not self.recurrent_dropconnect:
            return None
        ones = ops.ones(self.recurrent_kernel.shape, self.compute_dtype)
        return keras.random.dropout(
            ones, self.recurrent_dropconnect, seed=self.seed_generator
        )

    def draw_zoneout_masks(self, shape):
        """Zoneout (Krueger et al. 2017): per state (h, then the LSTM's c),
        True where a unit keeps its previous value at a step, with
        probability p; `shape` is `(batch, units)` for one step or
        `(batch, time, units)` for a sequence."""
        return [
            keras.random.uniform(shape, seed=self.seed_generator) < rate
            for rate in self.zoneout_rates
        ]

    def get_recurrent_dropout_mask(self, step_input):
        # `keras.layers.RNN` asks for this before its loop (outside JAX's
        # scan): the DropConnect mask is drawn there too.
        masks = super().get_recurrent_dropout_mask(step_input)
        if self.recurrent_dropconnect and self._standalone_mask is None:
            self._standalone_mask = self.draw_kernel_mask()
        return masks

    def reset_recurrent_dropout_mask(self):
        super().reset_recurrent_dropout_mask()
        self._standalone_mask = None

    _standalone_mask = None

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
        input_masks = recurrent_masks = None
        if self.dropout:
            input_masks = self._create_dropout_mask(step_inputs, self.dropout)
        if self.recurrent_dropout:
            recurrent_masks = self._create_dropout_mask(
                state, self.recurrent_dropout
            )
        return input_masks, recurrent_masks

    def _create_dropout_mask(self, step_input, rate):
        """`DropoutRNNCell`'s draw, always as a list: one mask, or one per
        gate (`dropout_mask_count`)."""
        count = getattr(self, "dropout_mask_count", None) or 1
        ones = ops.ones_like(step_input)
        return [
            keras.random.dropout(ones, rate, seed=self.seed_generator)
            for _ in range(count)
        ]

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
        if self.layer_norm:
            x = self.normalize(x, "input")
        if with_bias is None:
            with_bias = self.projection_has_bias
        if self.use_bias and with_bias:
            x = ops.add(x, self.input_bias())
        return x

    def use_kernel_mask(self, mask):
        """Until called again with None: the steps read the recurrent
        kernel times DropConnect's `mask` (None: the kernel itself)."""
        self._dropped_kernel = (
            None if mask is None else self.recurrent_kernel * mask
        )

    def weight_tensors(self):
        """The tensors made from weights outside the steps that the steps
        read (DropConnect's masked kernel while a training call runs), for
        a loop that must pass them in to give them a gradient
        (`use_weight_tensors`)."""
        return [] if self._dropped_kernel is None else [self._dropped_kernel]

    def use_weight_tensors(self, tensors):
        """The steps read `tensors` as `weight_tensors()` (empty: the
        weights themselves); returns what they read before."""
        before = self.weight_tensors()
        self._dropped_kernel = tensors[0] if tensors else None
        return before

    def dropped_recurrent_kernel(self):
        """The recurrent kernel this call reads: with DropConnect's mask
        while a training call runs."""
        if self._dropped_kernel is None:
            return self.recurrent_kernel
        return self._dropped_kernel

    def recurrent_projection(self, h_tm1, recurrent_masks, gates=None):
        """`h_tm1 @ recurrent_kernel` for `gates` (default: all)."""
        gates = self.weight_gates if gates is None else gates
        kernel = self.dropped_recurrent_kernel()
        if gates != self.weight_gates:
            kernels = split_blocks(kernel, self.weight_gates)
            kernel = join_blocks(kernels, gates)
        if recurrent_masks is not None:
            recurrent_masks = recurrent_masks[: len(gates)]
        z = self._per_gate_matmul(h_tm1, kernel, gates, recurrent_masks)
        if self.layer_norm:
            z = self.normalize(z, "recurrent", gates)
        return z

    def _per_gate_matmul(self, x, kernel, gates, masks):
        """`x @ kernel`, gate by gate where Keras does it gate by gate.

        Keras's implementation 1 (forced by recurrent dropout) multiplies
        each gate's block separately, with its own dropout mask; doing the
        same keeps the float32 results identical.
        """
        if self.implementation != 1:
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

    # -- the step ------------------------------------------------------------

    def call(self, inputs, states, training=False):
        """One step, as `keras.layers.RNN` runs a cell: in training, the
        dropout masks the RNN drew before the loop (or, for a cell called
        alone, drawn now and kept until `reset_dropout_mask`), as Keras's
        own cells do."""
        input_masks = recurrent_masks = None
        zone = None
        if training:
            input_masks = self.get_dropout_mask(inputs)
            recurrent_masks = self.get_recurrent_dropout_mask(states[0])
            kernel_mask = self._standalone_mask
            if self.recurrent_dropconnect and kernel_mask is None:
                kernel_mask = self.draw_kernel_mask()
            self.use_kernel_mask(kernel_mask)
            if self.has_zoneout:
                # Drawn at every step: a cell alone in keras.layers.RNN
                # trains with zoneout on TensorFlow and torch (JAX's scan
                # cannot draw inside the loop; GatedLSTM/GatedGRU can).
                h_tm1 = (
                    states[0] if isinstance(states, (list, tuple)) else states
                )
                zone = self.draw_zoneout_masks(ops.shape(h_tm1))
        elif self.has_zoneout:
            zone = list(self.zoneout_rates)
        x = self.project_inputs(inputs, input_masks)
        try:
            h, new_states, gates = self.recur(
                x, states, recurrent_masks, self.projection_has_bias, zone=zone
            )
        finally:
            self.use_kernel_mask(None)
        if self.return_gates:
            return join_blocks(gates, self.gate_names), new_states
        return h, new_states

    def recur(
        self, x, states, recurrent_masks, x_has_bias, edit=None, zone=None
    ):
        """One step. `edit(name, value) -> value`, when given, replaces each
        gate and state as soon as it is computed (what comes after reads the
        edited value): interventions. `zone`: None, or per state (h, then
        the LSTM's c) what share of the previous value it keeps: a
        boolean mask in training (True: keep), the zoneout rate at
        inference (`zoned`)."""
        raise NotImplementedError

    def handwritten(self, x, states, with_gates, symbolic=False, chunk=0):
        """The whole sequence at once: `x` `(batch, time, ...)` projected
        inputs (bias included) in processing order -> `(outputs, new_states)`
        as the step loop would give them: outputs `(batch, time, units)`,
        or the packed gates with `with_gates`. `symbolic`: the loop as one
        `keras.ops.fori_loop` (for a graph compiler), not a Python loop;
        `chunk`: the Python loop compiled `chunk` steps at a time, outside
        the caller's `torch.compile` (see `layers._handwritten`)."""
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
        # Only when set: the standard layer's config stays Keras's own.
        if self.variant != "standard":
            config["variant"] = self.variant
        if self.peepholes:
            config["peepholes"] = True
        if self.has_zoneout:
            config["zoneout"] = self.zoneout
        if self.recurrent_dropconnect:
            config["recurrent_dropconnect"] = self.recurrent_dropconnect
        if self.layer_norm:
            config["layer_norm"] = True
        return {**super().get_config(), **config}


def zoned(keep, previous, new):
    """Zoneout's state: `previous` where `keep` (a boolean mask, in
    training) holds, else `new`; with `keep` a rate (inference), the
    expectation `keep * previous + (1 - keep) * new`."""
    if isinstance(keep, float):
        return new + keep * (previous - new)
    # One select: fewer ops per step than the mix (TensorFlow's loop pays
    # per op), and the same as the mix for 0/1 draws.
    return ops.where(keep, previous, new)


def _zoneout_rates(kind: str, zoneout) -> tuple:
    """`zoneout` as one rate per state: `(p_h,)` for the GRU, `(p_h, p_c)`
    for the LSTM (a single rate for both)."""
    states = ("h", "c") if kind == "lstm" else ("h",)
    if isinstance(zoneout, (list, tuple)):
        if len(zoneout) != len(states):
            raise ValueError(
                f"zoneout must be a rate or one rate per state "
                f"{states} of the {kind.upper()}, got {zoneout!r}"
            )
        return tuple(check.rate("zoneout", rate) for rate in zoneout)
    rate = check.rate("zoneout", zoneout)
    return (rate,) * len(states)


def _cell_property(name):
    return property(
        lambda self: getattr(self.cell, name),
        doc=f"The cell's `{name}` (read-only).",
    )


class GatedRNN(keras.layers.RNN):
    """Base of GatedLSTM and GatedGRU: `keras.layers.RNN` plus gates out.

    How a call runs (the built-in's fused kernel, Keras's loop, the
    hand-written backward pass, gates stepped or recovered) is decided and
    done in `_engine`; this class arranges what the call returns.
    """

    def __init__(
        self,
        cell: GatedCell,
        *,
        return_sequences,
        return_state,
        go_backwards,
        stateful,
        unroll,
        use_cudnn,
        recover_gates="auto",
        **kwargs,
    ):
        # No defaults but recover_gates's: the public layers pass every
        # argument, with the defaults users see in their own signatures.
        for name, value in (
            ("return_sequences", return_sequences),
            ("return_state", return_state),
            ("go_backwards", go_backwards),
            ("stateful", stateful),
            ("unroll", unroll),
        ):
            check.boolean(name, value)
        check.one_of("recover_gates", recover_gates, ("auto", True, False))
        check.one_of("use_cudnn", use_cudnn, ("auto", True, False))
        if use_cudnn is True and not cell.is_standard:
            raise ValueError(
                f"use_cudnn=True runs the built-in's fused kernel, which "
                f"computes the standard cell only; got "
                f"{cell.options_text()}: pass use_cudnn='auto' or False"
            )
        if recover_gates is True and not cell.recoverable:
            reason = (
                "a gate reads the previous step's cell state or gates"
                if cell.peepholes or cell.variant == "fgr"
                else "training draws masks inside the step"
            )
            raise ValueError(
                f"recover_gates=True computes the gates from the output "
                f"sequence, but with {cell.options_text()} {reason}; pass "
                "recover_gates='auto' or False (gates stepped)"
            )
        if use_cudnn is True and cell.return_gates and recover_gates is False:
            raise ValueError(
                "use_cudnn=True runs the fused kernel, which cannot emit "
                "gates step by step, but return_gates=True was given with "
                "recover_gates=False; pass recover_gates='auto' or True "
                "(gates recovered after the kernel) or use_cudnn='auto'"
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
        # Set by `keras_gates.intervene` around one call: the edits to
        # apply, and where the edited run's gates go.
        self._intervention = None
        # As the built-in sets it: its fused TensorFlow kernel (cuDNN) does
        # not compile under XLA, so `jit_compile="auto"` turns XLA off.
        if not keras_bridge.builtin_supports_jit(cell, unroll, use_cudnn):
            self.supports_jit = False

    @property
    def return_gates(self) -> bool:
        return self.cell.return_gates

    def build(self, sequences_shape, initial_state_shape=None):
        check.sequence_input(self.name, sequences_shape)
        super().build(sequences_shape, initial_state_shape)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        intervention = self._intervention
        result = _engine.run(
            self,
            sequences,
            initial_state,
            mask,
            training,
            gates=self.return_gates
            or (intervention is not None and intervention.with_gates),
            edits=None if intervention is None else intervention.edits,
        )
        if intervention is not None and intervention.with_gates:
            intervention.gates = {
                name: self._to_input_order(result.gates[name], mask)
                for name in self.cell.gate_names
            }
        output = result.outputs if self.return_sequences else result.last
        if not self.return_gates:
            if self.return_state:
                return (output, *result.states)
            return output
        return self._with_gates(output, result.gates, result.states, mask)

    def sequence_plan(
        self, sequences, mask=None, jit_compile=None, *, xla=None
    ) -> str:
        """Which path a call on `sequences` (an array, or just its shape)
        would take, in words: "kernel" (the built-in's fused function,
        cuDNN on a GPU; it may still refuse at run time and fall back),
        "handwritten" (" as one loop": `keras.ops.fori_loop`, under XLA;
        " in chunks of K": K steps per `torch.compile`d chunk, under
        PyTorch's compiler) or "loop" (", rematerialised": a per-step
        gradient, under XLA), and how gates come ("stepped" or
        "recovered").

        `jit_compile`: whether the call runs inside a compiled step, as
        Keras's `jit_compile=True` compiles it (XLA on TensorFlow,
        `torch.compile` on PyTorch; JAX's steps are always compiled and
        plan as they do outside); None, as this call sees it (never,
        outside a compiled function). `xla`: the same, TensorFlow's name
        for it, kept for older code. For benchmarks and debugging; see
        `_engine`."""
        if not hasattr(sequences, "shape"):
            sequences = keras.KerasTensor(tuple(sequences))
        facts = _engine.facts_of(self, sequences, mask, self.return_gates)
        for name, value in (("jit_compile", jit_compile), ("xla", xla)):
            if value is not None:
                check.boolean(f"{self.name}: sequence_plan's {name}", value)
        if jit_compile is not None and xla is not None and jit_compile != xla:
            raise ValueError(
                f"{self.name}: sequence_plan got jit_compile={jit_compile} "
                f"and xla={xla}; expected one of them (xla is the older "
                "name of jit_compile)."
            )
        compiled = jit_compile if jit_compile is not None else xla
        if compiled is not None:
            backend = keras.backend.backend()
            facts = dataclasses.replace(
                facts,
                xla=compiled and backend == "tensorflow",
                compiling=compiled and backend == "torch",
            )
        plan = _engine.choose(facts)
        path = plan.sequence
        if plan.symbolic:
            path = f"{path} as one loop"
        chunk = _engine.chunk_length(plan, sequences.shape[1])
        if chunk:
            path = f"{path} in chunks of {chunk}"
        if plan.remat:
            path = f"{path}, rematerialised"
        if plan.try_kernel:
            path = f"kernel, else {path}"
        if plan.gates != _engine.NONE:
            path = f"{path}; gates {plan.gates}"
        return path

    def packed_gates(self, sequences, mask=None):
        """Every step's packed gates, as the stepped loop leaves them.

        `(batch, time, n * units)` in processing order (reversed with
        `go_backwards`), blocks in the cell's `gate_names` order,
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
        return _engine.packed_gates(self, sequences, mask)

    def _with_gates(self, outputs, gates, states, mask):
        gates = {
            name: self._to_input_order(gates[name], mask)
            for name in self.cell.gate_names
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
            sizes = self.cell.state_size
            sizes = [sizes] if isinstance(sizes, int) else sizes
            result += [(batch, size) for size in sizes]
        if self.return_gates:
            result.append(
                {name: (batch, time, units) for name in self.cell.gate_names}
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
    variant = _cell_property("variant")
    peepholes = _cell_property("peepholes")
    zoneout = _cell_property("zoneout")
    recurrent_dropconnect = _cell_property("recurrent_dropconnect")
    layer_norm = _cell_property("layer_norm")
