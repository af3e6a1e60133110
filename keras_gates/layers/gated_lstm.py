"""GatedLSTMCell and GatedLSTM: Keras's LSTM with every gate visible."""

from __future__ import annotations

import keras
from keras import ops

from keras_gates.gate_layout import (
    LSTM_SIGMOID_GATES,
    LSTM_WEIGHT_GATES,
    TIED_GATES,
    join_blocks,
    peephole_gates,
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
class GatedLSTMCell(GatedCell):
    """One LSTM step whose gates can be returned (Hochreiter 1997).

    The equations, with Keras's weights `kernel` (W), `recurrent_kernel` (U)
    and `bias` (b), each holding the four gates in the order i, f, g (Keras's
    "c"), o, and sigma = `recurrent_activation`, tanh = `activation`:

        i = sigma(x W_i + h_tm1 U_i + b_i)     input gate
        f = sigma(x W_f + h_tm1 U_f + b_f)     forget gate
        g = tanh(x W_g + h_tm1 U_g + b_g)      candidate
        o = sigma(x W_o + h_tm1 U_o + b_o)     output gate
        c = f * c_tm1 + i * g                  cell state
        h = o * tanh(c)                        hidden state / output

    Args:
        units: positive int, size of h and c.
        activation: for g and for the cell state. Default `"tanh"`.
        recurrent_activation: for i, f and o. Default `"sigmoid"`.
        use_bias: bool, default True.
        kernel_initializer: default `"glorot_uniform"`.
        recurrent_initializer: default `"orthogonal"`.
        bias_initializer: default `"zeros"`.
        unit_forget_bias: bool, default True: add 1 to the forget bias at
            initialisation (Jozefowicz et al. 2015), as Keras does.
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint: as Keras.
        dropout: float in [0, 1), default 0: fraction of the input units
            dropped; one mask per sequence (per gate when
            `recurrent_dropout` is set), as Keras.
        recurrent_dropout: float in [0, 1), default 0, the same for h_tm1.
        seed: int or None, seeds the dropout masks.
        return_gates: bool, default False. If True the step's output is
            `[i | f | g | o | c | h]` packed along the last axis (see
            `keras_gates.gate_layout`) instead of `h`.
        variant: `"standard"` (default, the equations above) or one of
            Greff et al.'s variants; a gate it removes has no weights and
            is returned as its constant value:
            `"nig"` no input gate (i = 1); `"nfg"` no forget gate (f = 1);
            `"nog"` no output gate (o = 1); `"niaf"` no input activation
            (g = x W_g + h_tm1 U_g + b_g, linear); `"noaf"` no output
            activation (h = o * c); `"cifg"` coupled input and forget gates
            (f = 1 - i, no forget weights); `"fgr"` full gate recurrence
            (i, f and o each also get `[i | f | o]` of the previous step
            through a `gate_kernel` of shape `(3 * units, 3 * units)`,
            initialised to zeros; the previous gates are a third state).
        peepholes: bool, default False. If True the sigmoid gates also see
            the cell state (Gers & Schmidhuber 2000): `p_i * c_tm1` and
            `p_f * c_tm1` are added inside i and f, `p_o * c` inside o,
            with one weight of shape `(units,)` per sigmoid gate the
            variant computes (`gate_layout.peephole_gates`), named
            `input_peephole`, `forget_peephole` and `output_peephole` as in
            TensorFlow's `PeepholeLSTMCell`, initialised to zeros.
            Greff's "vanilla" LSTM is `peepholes=True`; his "NP" is the
            default. `recurrent_regularizer` and `recurrent_constraint`
            also apply to `gate_kernel` and the peepholes.
        zoneout: float in [0, 1), or `(p_h, p_c)`, default 0 (Krueger et
            al. 2017): in training each unit keeps its previous h (c) with
            probability p_h (p_c) at each step, one draw per sequence, step
            and unit:

                c = d_c * c_tm1 + (1 - d_c) * (f * c_tm1 + i * g)
                h = d_h * h_tm1 + (1 - d_h) * o * tanh(f * c_tm1 + i * g)

            with d ~ Bernoulli(p); at inference d = p, the expectation.
        recurrent_dropconnect: float in [0, 1), default 0: DropConnect on
            the recurrent kernel (Wan et al. 2013), as AWD-LSTM (Merity et
            al. 2018) draws it: in training U is replaced by U * M / (1 - p),
            M ~ Bernoulli(1 - p), one mask per call (per batch), the same at
            every step. Drawn with `seed` after the dropout masks, before
            the zoneout masks.
        layer_norm: bool, default False. If True, layer normalisation as Ba,
            Kiros & Hinton (2016) define it for the LSTM: the input and the
            recurrent summed inputs of all gates, each normalised as one
            vector with its own gain and bias, and the cell state
            normalised before the output's activation:

                a = LN(x W; g_x, b_x) + LN(h_tm1 U; g_h, b_h) + b
                c = f * c_tm1 + i * g            (i, f, g, o from a)
                n = LN(c; g_c, b_c)
                h = o * tanh(n)

            with LN(v; g, b) = (v - mean(v)) / sqrt(var(v) + 1e-3) * g + b
            over the last axis (the epsilon of
            `keras.layers.LayerNormalization`). The weights `input_gamma`,
            `input_beta`, `recurrent_gamma`, `recurrent_beta` (all blocks)
            and `cell_gamma`, `cell_beta` (units) start at 1 and 0. The
            state carried is c; n is returned as `normalized_cell`. A
            peephole on o reads c; `"noaf"` outputs `o * n`. Combines with
            every variant, peepholes, zoneout and DropConnect.

    With `unit_forget_bias`, the forget block's bias starts at 1; with
    `"cifg"` the input block's starts at -1 instead (so that f = 1 - i
    starts where the standard forget gate does). `Chrono` sets, for a
    variant with fewer blocks, the blocks the variant keeps.

    Call arguments:
        inputs: `(batch, features)`.
        states: `[h_tm1, c_tm1]`, each `(batch, units)` (with `"fgr"`
            also the previous `[i | f | o]`, `(batch, 3 * units)`).
        training: bool, whether dropout is applied.

    Returns:
        `(output, [h, c])`: output is `h`, `(batch, units)`, or the packed
        gates `(batch, 6 * units)` with `return_gates=True` (`7 * units`
        with `layer_norm`: `[i | f | g | o | c | n | h]`).

    Used on its own inside `keras.layers.RNN`, the cell draws new dropout
    masks at every step; `GatedLSTM` draws them once per sequence, as Keras.

    Example:

    >>> cell = GatedLSTMCell(4)
    >>> layer = keras.layers.RNN(cell)
    >>> layer(np.ones((2, 5, 3))).shape
    (2, 4)

    References:
        Hochreiter & Schmidhuber 1997, "Long Short-Term Memory".
        Gers, Schmidhuber & Cummins 2000, "Learning to Forget".
    """

    kind = "lstm"
    handwritten_variants = frozenset(_handwritten.LSTM_FORMS)
    weight_gates = LSTM_WEIGHT_GATES

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_gates=False,
        implementation=2,
        variant="standard",
        peepholes=False,
        zoneout=0.0,
        recurrent_dropconnect=0.0,
        layer_norm=False,
        **kwargs,
    ):  # pragma: no mutate block (Keras reads __init__'s argspec)
        if not isinstance(unit_forget_bias, bool):
            raise TypeError(
                f"unit_forget_bias must be True or False, got "
                f"{unit_forget_bias!r}"
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
            peepholes=peepholes,
            zoneout=zoneout,
            recurrent_dropconnect=recurrent_dropconnect,
            layer_norm=layer_norm,
            **kwargs,
        )
        if unit_forget_bias and isinstance(self.bias_initializer, Chrono):
            raise ValueError(
                "bias_initializer=Chrono(...) sets the whole LSTM bias, "
                "forget gate included: pass unit_forget_bias=False with it"
            )
        self.unit_forget_bias = unit_forget_bias
        self.state_size = [self.units, self.units]
        # `initial_state`'s entries, named in errors.
        self.state_names = ("h", "c")
        if self.variant == "fgr":
            self.state_size.append(len(LSTM_SIGMOID_GATES) * self.units)
            self.state_names = ("h", "c", "previous gates")

    def build(self, input_shape):
        input_dim = input_shape[-1]
        blocks = len(self.weight_gates)
        self.kernel = self.add_weight(
            shape=(input_dim, blocks * self.units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, blocks * self.units),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(blocks * self.units,),
                name="bias",
                initializer=self._bias_initializer(),
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None
        self.gate_kernel = None
        # One weight per gate, not one split at every step: on PyTorch every
        # op in the loop costs a Python dispatch.
        self.peephole_weights = {
            gate: self.add_weight(
                shape=(self.units,),
                name=f"{gate}_peephole",
                initializer="zeros",
                regularizer=self.recurrent_regularizer,
                constraint=self.recurrent_constraint,
            )
            for gate in (peephole_gates(self.variant) if self.peepholes else ())
        }
        if self.variant == "fgr":
            size = len(LSTM_SIGMOID_GATES) * self.units
            self.gate_kernel = self.add_weight(
                shape=(size, size),
                name="gate_kernel",
                initializer="zeros",
                regularizer=self.recurrent_regularizer,
                constraint=self.recurrent_constraint,
            )
        self.build_layer_norm(extra=("cell",))

    def _bias_initializer(self):
        if self.weight_gates != LSTM_WEIGHT_GATES:
            return self._variant_bias_initializer()
        if not self.unit_forget_bias:
            return self.bias_initializer
        units, base = self.units, self.bias_initializer

        def initializer(_, *args, **kwargs):
            # i | f | (g, o): the blocks, and the draws, in Keras's order.
            return ops.concatenate(
                [
                    base((units,), *args, **kwargs),
                    keras.initializers.Ones()((units,), *args, **kwargs),
                    base((2 * units,), *args, **kwargs),
                ]
            )

        return initializer

    def _variant_bias_initializer(self):
        """The bias of a variant with fewer blocks: Chrono drawn for the
        standard layout and cut to the blocks kept; otherwise block by
        block, the forget block (or, for cifg, the input block) set by
        `unit_forget_bias`."""
        units, base, gates = (
            self.units,
            self.bias_initializer,
            self.weight_gates,
        )
        if isinstance(base, Chrono):
            return cut_to_blocks(base, units, LSTM_WEIGHT_GATES, gates)
        tied_to = TIED_GATES.get((self.variant, "forget"))

        def block(gate, *args, **kwargs):
            if self.unit_forget_bias and gate == "forget":
                return keras.initializers.Ones()((units,), *args, **kwargs)
            if self.unit_forget_bias and gate == tied_to:
                # f = 1 - i starts at sigmoid(1), as a standard forget gate.
                ones = keras.initializers.Ones()((units,), *args, **kwargs)
                return -ones
            return base((units,), *args, **kwargs)

        def initializer(_, *args, **kwargs):
            return ops.concatenate(
                [block(gate, *args, **kwargs) for gate in gates]
            )

        return initializer

    @property
    def projection_has_bias(self):
        # Keras adds the bias to the input term only in implementation 1.
        return self.implementation == 1

    def recur(
        self, x, states, recurrent_masks, x_has_bias, edit=None, zone=None
    ):
        edit = edit or _unedited
        h_tm1, c_tm1 = states[0], states[1]
        z = self._preactivations(x, h_tm1, recurrent_masks, x_has_bias)
        if self.variant == "fgr":
            z = self._add_gate_recurrence(z, states[2])
        i, f, g = self._input_side(z, c_tm1)
        i, f = edit("input", i), edit("forget", f)
        g = edit("candidate", g)
        if zone is None:
            c = c_new = edit("cell", f * c_tm1 + i * g)
        else:
            # Zoneout: the state keeps a share of its previous value; the
            # output reads the new value (Krueger et al. 2017, eq. 5-6).
            c_new = f * c_tm1 + i * g
            c = edit("cell", zoned(zone[1], c_tm1, c_new))
        o = edit("output", self._output_gate(z, c_new))
        gates = {
            "input": i,
            "forget": f,
            "candidate": g,
            "output": o,
            "cell": c,
        }
        if self.layer_norm:
            c_new = edit("normalized_cell", self.normalize(c_new, "cell"))
            gates["normalized_cell"] = c_new
        h = o * (c_new if self.variant == "noaf" else self.activation(c_new))
        if zone is not None:
            h = zoned(zone[0], h_tm1, h)
        h = gates["hidden"] = edit("hidden", h)
        new_states = [h, c]
        if self.variant == "fgr":
            new_states.append(join_blocks(gates, LSTM_SIGMOID_GATES))
        return h, new_states, gates

    def handwritten(self, x, states, with_gates, symbolic=False, chunk=0):
        h0, c0 = states
        units = self.units
        packed = _handwritten.lstm(
            x,
            h0,
            c0,
            self.recurrent_kernel.value,
            with_gates,
            symbolic,
            form=_handwritten.LSTM_FORMS[self.variant],
            chunk=chunk,
        )
        if with_gates:
            last = packed[:, -1]
            return packed, [
                last[:, 5 * units :],
                last[:, 4 * units : 5 * units],
            ]
        return packed[:, :-1], [packed[:, -2], packed[:, -1]]

    def _preactivations(self, x, h_tm1, recurrent_masks, x_has_bias):
        """`{block: x W + h_tm1 U + b}` for the variant's blocks, from the
        projected input (with the input bias when `x_has_bias`) and the
        previous output: one step `(batch, units)`, or every step at once
        `(batch, time, units)` (see `recover`)."""
        # ops.add, as Keras writes it: `tensor + variable` reads the bias
        # through another path and its gradient rounds differently.
        z = ops.add(x, self.recurrent_projection(h_tm1, recurrent_masks))
        if self.use_bias and not x_has_bias:
            z = ops.add(z, self.bias)
        return split_blocks(z, self.weight_gates)

    def _add_gate_recurrence(self, z, gates_tm1):
        """fgr: `[i | f | o]` of the previous step, through `gate_kernel`,
        added inside i, f and o."""
        extra = split_blocks(
            ops.matmul(gates_tm1, self.gate_kernel), LSTM_SIGMOID_GATES
        )
        return {
            gate: z[gate] + extra[gate] if gate in extra else z[gate]
            for gate in z
        }

    def _input_side(self, z, c_tm1):
        """i, f and g of the variant (peepholes read `c_tm1`)."""
        if self.peepholes:
            weights = self.peephole_weights
            z = dict(z)
            for gate in ("input", "forget"):
                if gate in weights:
                    z[gate] = z[gate] + weights[gate] * c_tm1
        sigma = self.recurrent_activation
        g = z["candidate"]
        if self.variant != "niaf":
            g = self.activation(g)
        i = sigma(z["input"]) if "input" in z else ops.ones_like(g)
        if "forget" in z:
            f = sigma(z["forget"])
        elif TIED_GATES.get((self.variant, "forget")) == "input":
            f = 1.0 - i
        else:
            f = ops.ones_like(g)
        return i, f, g

    def _output_gate(self, z, c):
        """o of the variant (a peephole reads the new cell state `c`)."""
        if "output" not in z:
            return ops.ones_like(c)
        pre = z["output"]
        if self.peepholes:
            pre = pre + self.peephole_weights["output"] * c
        return self.recurrent_activation(pre)

    def recover(self, x, h_prev, initial_state, valid, recurrent_masks):
        """Every step's gates at once, given every step's previous output.

        Args:
            x: `(batch, time, n * units)`, the projected inputs.
            h_prev: `(batch, time, units)`, the output before each step.
            initial_state: `[h0, c0]`.
            valid: None, or `(batch, time, 1)` bool, False at masked steps
                (their cell state is carried over).
            recurrent_masks: as for `recur`, each `(batch, 1, units)`.

        Returns:
            The cell's `gate_names` except `hidden`. The cell state
            is the linear recurrence `c_t = f_t c_(t-1) + i_t g_t`, solved
            by `cell_states`. Not for peepholes or fgr, whose gates read
            the previous step's cell state or gates (`recoverable`).
        """
        z = self._preactivations(
            x, h_prev, recurrent_masks, self.projection_has_bias
        )
        i, f, g = self._input_side(z, None)
        written = i * g
        if valid is not None:
            f_kept = ops.where(valid, f, ops.ones_like(f))
            written = ops.where(valid, written, ops.zeros_like(written))
        else:
            f_kept = f
        c = cell_states(f_kept, written, initial_state[1])
        o = self._output_gate(z, c)
        gates = {
            "input": i,
            "forget": f,
            "candidate": g,
            "output": o,
            "cell": c,
        }
        if self.layer_norm:
            gates["normalized_cell"] = self.normalize(c, "cell")
        return gates

    def get_config(self):
        return {
            **super().get_config(),
            "unit_forget_bias": self.unit_forget_bias,
        }


def cell_states(f, w, c0):
    """Every step's cell state of the linear recurrence `c_t = f_t
    c_(t-1) + w_t` from `c0`: `f`, `w` `(batch, time, units)`, `c0`
    `(batch, units)`.

    A scan: by doubling (Hillis and Steele 1986), with a hand-written
    gradient, when the length is known when the graph is built;
    `keras.ops.associative_scan` computes the same, but under XLA on
    TensorFlow it failed on odd lengths, so it is used, with autodiff, only
    when the length is unknown. The gradient is the same
    recurrence run backwards: `l_t = dc_t + f_(t+1) l_(t+1)`, then `df_t =
    l_t c_(t-1)`, `dw_t = l_t` and `dc0 = f_0 l_0`; one reverse scan instead
    of autodiff through every round of the forward one. On PyTorch (T =
    200) the LSTM's recovery and its gradient run 117 kernels instead of
    155: on a GPU in eager mode each is a launch, which is what it costs.
    """
    if f.shape[1] is None:
        kept, added = _associative_affine_scan(f, w)
        return kept * ops.expand_dims(c0, 1) + added
    return _known_length_cell_states(f, w, c0)


@ops.custom_gradient
def _known_length_cell_states(f, w, c0):
    kept, added = _doubling_affine_scan(f, w)
    c = kept * ops.expand_dims(c0, 1) + added

    def grad(*args, upstream=None):
        if upstream is None:
            (upstream,) = args
        f_next = _shifted(f, 1, ops.zeros_like(f[:, :1]), reverse=True)
        _, later = _doubling_affine_scan(
            f_next, upstream, reverse=True, final_a=False
        )
        c_prev = ops.concatenate([ops.expand_dims(c0, 1), c[:, :-1]], axis=1)
        return later * c_prev, later, f[:, 0] * later[:, 0]

    return c, grad


def _associative_affine_scan(a, b):
    def compose(earlier, later):
        return earlier[0] * later[0], later[0] * earlier[1] + later[1]

    kept, added = ops.associative_scan(compose, (a, b), axis=1)
    # TensorFlow's scan loses the static shape.
    return ops.reshape(kept, ops.shape(a)), ops.reshape(added, ops.shape(b))


def _doubling_affine_scan(a, b, reverse=False, final_a=True):
    """Prefix compositions of `c -> a_t c + b_t` along axis 1: `(A, B)`
    with `c_t = A_t c_0 + B_t` (suffix compositions from the last step
    when `reverse`). Hillis and Steele: log2(time) rounds of whole-tensor
    ops; each step composes with the one `shift` steps before it, or with
    the identity (a = 1, b = 0) where there is none. `A` is complete only
    with `final_a`, which costs the last round's product."""
    time = a.shape[1]
    # The identity's blocks, sliced at each round (views, no new kernel;
    # `ops.pad` would cost more than the arithmetic on eager PyTorch).
    ones, zeros = ops.ones_like(a), ops.zeros_like(b)
    shift = 1
    while shift < time:
        # `a` composed before `b` is updated, from the same round's `a`.
        a_new = a
        if final_a or 2 * shift < time:
            a_new = a * _shifted(a, shift, ones, reverse)
        b = a * _shifted(b, shift, zeros, reverse) + b
        a = a_new
        shift *= 2
    return a, b


def _shifted(x, shift, fill, reverse):
    """`x` moved `shift` steps later along axis 1 (earlier when
    `reverse`), the steps left empty taken from `fill`."""
    if reverse:
        return ops.concatenate([x[:, shift:], fill[:, :shift]], axis=1)
    return ops.concatenate([fill[:, :shift], x[:, :-shift]], axis=1)


@keras.saving.register_keras_serializable(package="keras_gates")
class GatedLSTM(GatedRNN):
    """Drop-in `keras.layers.LSTM` that can also return its gates.

    Same arguments, defaults, weights (`kernel`, `recurrent_kernel`, `bias`,
    gates in the order i, f, c, o) and numbers as `keras.layers.LSTM`: after
    `gated.set_weights(builtin.get_weights())` the two agree to float32
    round-off, with masks, dropout (same `seed`), `go_backwards`, `stateful`
    and `unroll` included. The equations are those of `GatedLSTMCell`.

    Args:
        units: positive int.
        activation, recurrent_activation, use_bias, kernel_initializer,
        recurrent_initializer, bias_initializer, unit_forget_bias,
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        activity_regularizer, kernel_constraint, recurrent_constraint,
        bias_constraint, dropout, recurrent_dropout, seed: as
            `keras.layers.LSTM` (defaults: tanh, sigmoid, True,
            glorot_uniform, orthogonal, zeros, True, None..., 0.0, 0.0, None).
        return_sequences: bool, default False: return h at every step.
        return_state: bool, default False: also return the final h and c.
        go_backwards: bool, default False: process the sequence in reverse.
        stateful: bool, default False: carry the final states to the next
            batch.
        unroll: bool, default False.
        use_cudnn: "auto" (default), True or False, as the built-in: with
            gates off (or recovered), "auto" runs the built-in's own fused
            kernel (cuDNN) where Keras sees an accelerator and the
            arguments allow it, True demands it (failing as the built-in
            fails without it), False never uses it.
        return_gates: bool, default False. If True the layer also returns
            a dict of gates for every timestep (see Returns).
        recover_gates: "auto" (default), True or False. With
            `return_gates=True`, True runs the sequence with gates off and
            computes every step's gates after it, in one batched pass,
            instead of emitting them step by step: the same gates (1e-5),
            much faster when training under XLA (`jit_compile=True` on
            TensorFlow) and the only way gates come with the fused kernel
            on a GPU; slower elsewhere. "auto" recovers when the fused
            kernel runs the gates-off pass and steps otherwise.
        variant: `"standard"` (default: exactly `keras.layers.LSTM`) or
            one of Greff et al.'s variants `"nig"`, `"nfg"`, `"nog"`,
            `"niaf"`, `"noaf"`, `"cifg"`, `"fgr"` (see `GatedLSTMCell`).
            A removed gate has no weights and is returned as its constant
            (1 for nig/nfg/nog; 1 - input for cifg's forget gate).
        peepholes: bool, default False: add peephole connections (see
            `GatedLSTMCell`). Variants and peepholes do not run the fused
            kernel; the hand-written backward pass (PyTorch; XLA, gates on)
            computes every variant but fgr, without peepholes; the others
            run Keras's loop, their gates stepped unless they can be
            recovered (not with peepholes or fgr).
        zoneout: float or `(p_h, p_c)`, default 0; recurrent_dropconnect:
            float, default 0: zoneout (Krueger et al. 2017) and DropConnect
            on the recurrent kernel (AWD-LSTM), see `GatedLSTMCell`. They
            run Keras's loop with the gates stepped, and combine with the
            variants and peepholes.
        layer_norm: bool, default False: layer normalisation (Ba et al.
            2016, see `GatedLSTMCell`); the gates also hold
            `normalized_cell`. Runs Keras's loop; its gates can be
            recovered.
        zero_output_for_mask, implementation: as `keras.layers.LSTM`.

    Call arguments:
        sequences: `(batch, time, features)`.
        initial_state: optional `[h_0, c_0]`, each `(batch, units)` (with
            `variant="fgr"` also the previous `[i | f | o]`).
        mask: optional `(batch, time)` booleans; False steps are skipped
            (states carried over), as Keras.
        training: bool.

    Returns:
        `outputs`: `(batch, time, units)` with `return_sequences`, else
        `(batch, units)`; with `return_state`, `(outputs, h, c)`. With
        `return_gates=True`, a dict `gates` is appended:
        `(outputs, gates)` or `(outputs, h, c, gates)`, where `gates` holds
        `input`, `forget`, `candidate`, `output`, `cell` (with `layer_norm`
        also `normalized_cell`, the LN(c) the output reads) and `hidden`, each
        `(batch, time, units)`, for every timestep whatever
        `return_sequences` says, in the *input's* time order even with
        `go_backwards` (Keras returns `outputs` in processing order there,
        and so do we). Masked steps have no gates: their entries are NaN,
        so `np.nanmean` and the plots skip them.

    Example:

    >>> layer = GatedLSTM(8, return_gates=True)
    >>> outputs, gates = layer(np.ones((2, 5, 3), "float32"))
    >>> outputs.shape, gates["forget"].shape
    ((2, 8), (2, 5, 8))

    References:
        Hochreiter & Schmidhuber 1997, "Long Short-Term Memory".
        Karpathy, Johnson & Fei-Fei 2015, "Visualizing and Understanding
        Recurrent Networks".
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
        unit_forget_bias=True,
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
        use_cudnn="auto",
        return_gates=False,
        variant="standard",
        peepholes=False,
        zoneout=0.0,
        recurrent_dropconnect=0.0,
        layer_norm=False,
        **kwargs,
    ):  # pragma: no mutate block (Keras reads __init__'s argspec)
        cell = GatedLSTMCell(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            return_gates=return_gates,
            variant=variant,
            peepholes=peepholes,
            zoneout=zoneout,
            recurrent_dropconnect=recurrent_dropconnect,
            layer_norm=layer_norm,
            implementation=kwargs.pop("implementation", 2),
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="lstm_cell",
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

    unit_forget_bias = property(lambda self: self.cell.unit_forget_bias)
