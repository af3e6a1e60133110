"""GatedGRUCell and GatedGRU: Keras's GRU with every gate visible."""

from __future__ import annotations

import keras
from keras import ops

from keras_gates.gate_layout import (
    GRU_WEIGHT_GATES,
    split_blocks,
)
from keras_gates.layers import _handwritten
from keras_gates.layers._gated_rnn import (
    GatedCell,
    GatedRNN,
    _unedited,
    cut_to_blocks,
    zoned,
)
from keras_gates.layers.initializers import Chrono


@keras.saving.register_keras_serializable(package="keras_gates")
class GatedGRUCell(GatedCell):
    """One GRU step whose gates can be returned (Cho et al. 2014).

    With Keras's weights `kernel` (W), `recurrent_kernel` (U) and `bias`,
    gates in the order z, r, h, sigma = `recurrent_activation` and
    tanh = `activation`. With `reset_after=True` (Keras's default, the
    cuDNN-compatible form) the bias is `(2, 3 * units)`: an input bias b and
    a recurrent bias b':

        z  = sigma(x W_z + b_z + h_tm1 U_z + b'_z)     update gate
        r  = sigma(x W_r + b_r + h_tm1 U_r + b'_r)     reset gate
        hh = tanh(x W_h + b_h + r * (h_tm1 U_h + b'_h))  candidate
        h  = z * h_tm1 + (1 - z) * hh

    With `reset_after=False` (Cho et al.'s original) there is one bias and
    `hh = tanh(x W_h + b_h + (r * h_tm1) U_h)`.

    Convention: Keras's `z` is the share of the *old* state that is kept.
    The article "A visual guide to LSTM and GRU" calls `1 - z` the update
    gate (the share of new information let in). Every `update` value that
    keras_gates returns or plots is Keras's `z`;
    `keras_gates.gate_layout.article_update` converts.

    Args:
        units: positive int, size of h.
        activation: for the candidate. Default `"tanh"`.
        recurrent_activation: for z and r. Default `"sigmoid"`.
        use_bias: bool, default True.
        kernel_initializer: default `"glorot_uniform"`.
        recurrent_initializer: default `"orthogonal"`.
        bias_initializer: default `"zeros"`.
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint: as Keras.
        dropout: float in [0, 1), default 0, on the inputs.
        recurrent_dropout: float in [0, 1), default 0, on h_tm1.
        reset_after: bool, default True (see above).
        seed: int or None, seeds the dropout masks.
        return_gates: bool, default False. If True the step's output is
            `[z | r | hh | h]` packed along the last axis (see
            `keras_gates.gate_layout`) instead of `h`.
        variant: `"standard"` (default, the equations above) or `"mgu"`,
            the minimal gated unit (Zhou et al. 2016): one gate, whose
            weights are the update gate's (blocks z, h), and the reset gate
            tied to it, `r = 1 - z`; `1 - z` is Zhou et al.'s forget gate
            f, so `h = (1 - f) * h_tm1 + f * hh` and the candidate reads
            `f * (h_tm1 U_h + b'_h)` (`reset_after`) or `(f * h_tm1) U_h`.
            `Chrono` sets the update block, as for the GRU.
        zoneout: float in [0, 1), default 0 (Krueger et al. 2017): in
            training each unit keeps its previous h with probability p at
            each step, `h = d * h_tm1 + (1 - d) * (z * h_tm1 + (1 - z) *
            hh)`, d ~ Bernoulli(p); at inference d = p.
        recurrent_dropconnect: float in [0, 1), default 0: DropConnect on
            the recurrent kernel, one mask per call (see `GatedLSTMCell`).
        layer_norm: bool, default False. If True, Ba, Kiros & Hinton's
            (2016) layer normalisation carried over to the GRU: the input
            and the recurrent summed inputs each normalised as one vector
            with its own gain and bias (`input_gamma`, `input_beta`,
            `recurrent_gamma`, `recurrent_beta`, one entry per kernel
            column, starting at 1 and 0), before the biases:

                a_x = LN(x W) + b
                reset_after:  a_h = LN(h_tm1 U) + b'   (z, r, h together)
                    hh = tanh(a_x_h + r * a_h_h)
                otherwise:    a_h = LN(h_tm1 U_zr)      (z and r together)
                    hh = tanh(a_x_h + LN((r * h_tm1) U_h))   (own slice)

            LN as for `GatedLSTMCell`. The GRU has no cell state, so its
            gates are the usual four. Combines with `"mgu"`, zoneout and
            DropConnect.

    Call arguments:
        inputs: `(batch, features)`.
        states: `[h_tm1]`, `(batch, units)`.
        training: bool, whether dropout is applied.

    Returns:
        `(output, [h])`: output is `h`, `(batch, units)`, or the packed gates
        `(batch, 4 * units)` with `return_gates=True`.

    Example:

    >>> layer = keras.layers.RNN(GatedGRUCell(4))
    >>> layer(np.ones((2, 5, 3))).shape
    (2, 4)

    References:
        Cho et al. 2014, "Learning Phrase Representations using RNN
        Encoder-Decoder for Statistical Machine Translation".
    """

    kind = "gru"
    handwritten_variants = frozenset(_handwritten.GRU_FORMS)
    weight_gates = GRU_WEIGHT_GATES

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        reset_after=True,
        seed=None,
        return_gates=False,
        implementation=2,
        variant="standard",
        zoneout=0.0,
        recurrent_dropconnect=0.0,
        layer_norm=False,
        **kwargs,
    ):  # pragma: no mutate block (Keras reads __init__'s argspec)
        if not isinstance(reset_after, bool):
            raise TypeError(
                f"reset_after must be True or False, got {reset_after!r}"
            )
        super().__init__(
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
            variant=variant,
            zoneout=zoneout,
            recurrent_dropconnect=recurrent_dropconnect,
            layer_norm=layer_norm,
            **kwargs,
        )
        self.reset_after = reset_after
        self.state_size = self.units
        self.state_names = ("h",)  # `initial_state`'s entries, for errors

    def build(self, input_shape):
        input_dim = input_shape[-1]
        width = len(self.weight_gates) * self.units
        self.kernel = self.add_weight(
            shape=(input_dim, width),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, width),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(2, width) if self.reset_after else (width,),
                name="bias",
                initializer=self._bias_initializer(),
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None
        self.build_layer_norm()

    def _bias_initializer(self):
        """As given, except Chrono for a variant with fewer blocks: drawn
        for the standard layout and cut to the blocks kept."""
        base, gates = self.bias_initializer, self.weight_gates
        if gates == GRU_WEIGHT_GATES or not isinstance(base, Chrono):
            return base
        return cut_to_blocks(base, self.units, GRU_WEIGHT_GATES, gates)

    # The biases are added in `recur`, split once per step as Keras splits
    # them, so that their gradients sum in the same order.
    projection_has_bias = False

    def input_bias(self):
        return self._biases()[0]

    def _biases(self):
        """(input bias, recurrent bias or None)."""
        if not self.use_bias:
            return None, None
        if not self.reset_after:
            return self.bias, None
        rows = ops.split(self.bias, 2, axis=0)
        return ops.squeeze(rows[0], axis=0), ops.squeeze(rows[1], axis=0)

    def handwritten(self, x, states, with_gates, symbolic=False, chunk=0):
        packed = _handwritten.gru(
            x,
            states[0],
            self.recurrent_kernel.value,
            self._biases()[1],
            with_gates,
            symbolic=symbolic,
            tied_reset=_handwritten.GRU_FORMS[self.variant],
            chunk=chunk,
        )
        last = packed[:, -1]
        if with_gates:
            last = last[:, 3 * self.units :]
        return packed, [last]

    def recur(
        self, x, states, recurrent_masks, x_has_bias, edit=None, zone=None
    ):
        edit = edit or _unedited
        h_tm1 = states[0] if isinstance(states, (list, tuple)) else states
        input_bias, recurrent_bias = self._biases()
        if input_bias is not None and not x_has_bias:
            x = ops.add(x, input_bias)  # as Keras: see GatedLSTMCell.recur
        blocks = self.weight_gates
        gated = tuple(gate for gate in blocks if gate != "candidate")
        x = split_blocks(x, blocks)
        if self.reset_after:
            inner = self.recurrent_projection(h_tm1, recurrent_masks)
            if recurrent_bias is not None:
                inner = inner + recurrent_bias  # `+=` in Keras
            inner = split_blocks(inner, blocks)
            z, r = self._update_reset(x, inner)
            z, r = edit("update", z), edit("reset", r)
            hh = self.activation(x["candidate"] + r * inner["candidate"])
        else:
            inner = self.recurrent_projection(h_tm1, recurrent_masks, gated)
            inner = split_blocks(inner, gated)
            kernels = split_blocks(self.dropped_recurrent_kernel(), blocks)
            z, r = self._update_reset(x, inner)
            z, r = edit("update", z), edit("reset", r)
            h_c = h_tm1 * recurrent_masks[-1] if recurrent_masks else h_tm1
            reset_term = ops.matmul(r * h_c, kernels["candidate"])
            if self.layer_norm:
                reset_term = self.normalize(
                    reset_term, "recurrent", ("candidate",)
                )
            hh = self.activation(x["candidate"] + reset_term)
        hh = edit("candidate", hh)
        h = z * h_tm1 + (1.0 - z) * hh
        if zone is not None:  # zoneout (Krueger et al. 2017)
            h = zoned(zone[0], h_tm1, h)
        h = edit("hidden", h)
        gates = {"update": z, "reset": r, "candidate": hh, "hidden": h}
        new_states = [h] if isinstance(states, (list, tuple)) else h
        return h, new_states, gates

    def _update_reset(self, x, inner):
        """z and r from the projected input and recurrent blocks; a gate
        without a block is tied to the other (`gate_layout.TIED_GATES`)."""
        sigma = self.recurrent_activation
        z = sigma(x["update"] + inner["update"])
        if "reset" in x:
            return z, sigma(x["reset"] + inner["reset"])
        return z, 1.0 - z

    def recover(self, x, h_prev, initial_state, valid, recurrent_masks):
        """Every step's gates at once, given every step's previous output
        (see `GatedLSTMCell.recover`): the GRU's gates depend on the input
        and the previous output only, so this is `recur` on whole sequences.
        """
        _, _, gates = self.recur(
            x, [h_prev], recurrent_masks, self.projection_has_bias
        )
        del gates["hidden"]
        return gates

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}


@keras.saving.register_keras_serializable(package="keras_gates")
class GatedGRU(GatedRNN):
    """Drop-in `keras.layers.GRU` that can also return its gates.

    Same arguments, defaults, weights (`kernel`, `recurrent_kernel`, `bias`,
    gates in the order z, r, h; bias `(2, 3 * units)` when `reset_after`)
    and numbers as `keras.layers.GRU` after
    `gated.set_weights(builtin.get_weights())`. The equations, and the
    update-gate convention (Keras's z keeps the old state; the article's
    update gate is 1 - z), are those of `GatedGRUCell`.

    Args:
        units: positive int.
        activation, recurrent_activation, use_bias, kernel_initializer,
        recurrent_initializer, bias_initializer, kernel_regularizer,
        recurrent_regularizer, bias_regularizer, activity_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint, dropout,
        recurrent_dropout, seed, reset_after (default True): as
            `keras.layers.GRU`.
        return_sequences, return_state, go_backwards, stateful, unroll:
            bools, default False, as `keras.layers.GRU`.
        use_cudnn: "auto" (default), True or False: as `GatedLSTM`.
        return_gates: bool, default False: also return the gates.
        recover_gates: "auto" (default), True or False: as `GatedLSTM`.
        variant: `"standard"` (default: exactly `keras.layers.GRU`) or
            `"mgu"`, the minimal gated unit (see `GatedGRUCell`): its
            `reset` gate is returned as `1 - update`. It does not run the
            fused kernel; it runs the hand-written backward pass where the
            standard layer does (PyTorch; XLA, gates on), else Keras's loop.
        zoneout, recurrent_dropconnect: see `GatedGRUCell`; they run
            Keras's loop too.
        layer_norm: bool, default False: layer normalisation (see
            `GatedGRUCell`); Keras's loop, gates recoverable.
        zero_output_for_mask, implementation: as `keras.layers.GRU`.

    Call arguments:
        sequences: `(batch, time, features)`.
        initial_state: optional `h_0`, `(batch, units)`.
        mask: optional `(batch, time)` booleans, as Keras.
        training: bool.

    Returns:
        `outputs` (`(batch, time, units)` or `(batch, units)`), with
        `return_state` `(outputs, h)`; with `return_gates=True` a dict is
        appended, `(outputs, gates)` or `(outputs, h, gates)`, holding
        `update` (Keras's z), `reset`, `candidate` and `hidden`, each
        `(batch, time, units)` for every step in the input's time order;
        NaN at masked steps.

    Example:

    >>> layer = GatedGRU(8, return_gates=True)
    >>> outputs, gates = layer(np.ones((2, 5, 3), "float32"))
    >>> outputs.shape, gates["update"].shape
    ((2, 8), (2, 5, 8))

    References:
        Cho et al. 2014, "Learning Phrase Representations using RNN
        Encoder-Decoder for Statistical Machine Translation".
        Chung et al. 2014, "Empirical Evaluation of Gated Recurrent Neural
        Networks on Sequence Modeling".
    """

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        reset_after=True,
        use_cudnn="auto",
        return_gates=False,
        variant="standard",
        zoneout=0.0,
        recurrent_dropconnect=0.0,
        layer_norm=False,
        **kwargs,
    ):  # pragma: no mutate block (Keras reads __init__'s argspec)
        cell = GatedGRUCell(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            reset_after=reset_after,
            seed=seed,
            return_gates=return_gates,
            variant=variant,
            zoneout=zoneout,
            recurrent_dropconnect=recurrent_dropconnect,
            layer_norm=layer_norm,
            implementation=kwargs.pop("implementation", 2),
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="gru_cell",
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            use_cudnn=use_cudnn,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )

    reset_after = property(lambda self: self.cell.reset_after)
