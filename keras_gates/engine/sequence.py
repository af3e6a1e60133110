"""The sequence engine: the one place that decides how a gated layer runs
a sequence, and runs it.

Private: `GatedLSTM`/`GatedGRU` call `run` and `packed_gates`; the cells
are pure steps (inputs, states, weights -> output, states, gates) and read
no flag set from here.

Where each path lives:
    "kernel"       the built-in's fused function (cuDNN on a GPU), reached
                   through `keras.layers.LSTM.inner_loop` /
                   `keras.layers.GRU.inner_loop` called on a view of the
                   gated layer: the very code the built-in runs, with the
                   built-in's weights, dropout mask and flags (`_kernel`,
                   through `keras_bridge`).
    "handwritten"  `layers._handwritten.lstm` / `.gru`: the recurrence in
                   a Python loop with a hand-written backward pass
                   (PyTorch), the cell's `handwritten` method.
    "loop"         Keras's step loop (`keras.layers.RNN.inner_loop`) over
                   the cell's step (`_Step`).
Gates, when wanted, come either "stepped" (the loop emits every step's
packed gates) or "recovered" (a gates-off pass by one of the paths above,
then the cell's `recover` computes every step's gates at once from the
inputs and the output sequence).

The rules, as `choose` applies them (first matching row wins; `kernel
wanted` means `use_cudnn` is True, or it is "auto" and Keras sees an
accelerator, the cell is the standard one (no variant, no peepholes),
there is no recurrent dropout, no input dropout with
`implementation=1` (one mask per gate, which a fused function cannot
apply), the backend has the built-in's fused function for this cell, and,
on TensorFlow, there is no mask; `XLA` means TensorFlow is tracing the
call for XLA (`jit_compile=True`) and the layer does not ask `unroll=True`;
`hand-written applies` is the list under (*)):

    | gates | recover_gates | kernel wanted | sequence pass               |
    |-------|---------------|---------------|-----------------------------|
    | off   | -             | yes           | kernel, else (*)            |
    | off   | -             | no            | (*)                         |
    | on    | True          | yes, no mask  | kernel + recovery           |
    | on    | True          | otherwise     | (*) gates off + recovery    |
    | on    | "auto"        | yes, no mask  | kernel + recovery           |
    | on    | "auto"        | XLA, hand-written applies | (**) gates stepped |
    | on    | "auto"        | XLA, rematerialisable | (***) gates stepped |
    | on    | "auto"        | XLA, recoverable cell | (*) gates off + recovery |
    | on    | "auto"        | otherwise     | (*) gates stepped           |
    | on    | False         | XLA, hand-written applies | (**) gates stepped |
    | on    | False         | XLA, rematerialisable | (***) gates stepped |
    | on    | False         | -             | (*) gates stepped           |

    (*) "handwritten" when the backend is in `HANDWRITTEN_BACKENDS`
        (PyTorch) and the hand-written pass applies: the cell is one it
        computes (`cell.has_handwritten`: the standard cell, or a variant
        without peepholes or gate recurrence - nig, nfg, nog, niaf, noaf,
        cifg, the MGU - and no zoneout, DropConnect or layer
        normalisation), the time length is known, there is no mask, no
        recurrent dropout, implementation != 1, tanh/sigmoid activations
        and (GRU) `reset_after`; else "loop".
        Under `torch.compile` (`jit_compile=True` on PyTorch) the pass
        runs outside the compiled step, its loop compiled `CHUNK_STEPS`
        steps at a time (`Plan.chunk`; a sequence no longer than that is
        traced whole).
    (**) "handwritten" as one `keras.ops.fori_loop` (`Plan.symbolic`).
    (***) "loop", rematerialised (`Plan.remat`): the cell's step in a
        while loop whose gradient is a second loop that recomputes each
        step and takes its gradient (`_autodiff.rematerialised_loop`),
        where the length is known, there is no mask and the weights are
        read in their own dtype (not mixed precision): peepholes, fgr,
        zoneout, DropConnect (its masked kernel, made once outside the
        loop, passed in), layer normalisation, recurrent dropout, other
        activations.

Why XLA has rows of its own: the gradient of Keras's loop goes through
TensorLists, which XLA turns into whole-sequence buffers rebuilt at every
step, so a gates-on training step stepped by Keras's loop grew 10x for 4x
the steps (batch 16, 24 -> 48 units, T = 100 -> 400) and cost 6-14x the
built-in; the hand-written pass has no gradient through its loop (about
the built-in's cost and growth, docs/benchmark), and neither has the
rematerialised loop, which recomputes each step once more: gates on,
batch 64, T = 200, 128 -> 64 units, it took peepholes, fgr, zoneout,
DropConnect and layer normalisation from 2.1-8.2x the standard layer
(stepped by Keras's loop; layer normalisation recovered) to 1.2-1.8x
(docs/variant_speed/tensorflow-jit, two runs on one machine, the same
day), and layer normalisation ran 2-3x faster stepped this way than
recovered; gates off it is no faster than Keras's loop (0.9-1.3x its
time), so gates off keeps Keras's loop. Recovery keeps only the outputs
(one unit wide, not the packed gates) in Keras's loop.

"kernel, else": the built-in's fused function may still refuse at run time
(`NotImplementedError` inside the backend); then, as for the built-in,
`use_cudnn=True` raises the built-in's error and "auto" falls back to (*).
`use_cudnn=True` with gates stepped, or with a variant, and
`recover_gates=True` with a cell whose gates read the previous step's
cell state or gates (peepholes, fgr; `cell.recoverable`) are refused when
the layer is made.

The loop's other settings: inputs are projected (`x @ kernel + b`) before
the loop where `PROJECT_BEFORE_LOOP` says so, and always for the
hand-written pass; on PyTorch Keras's unrolled
loop runs (less per-step bookkeeping; not with a mask and `go_backwards`,
whose mask flip it gets wrong); with gates stepped and a mask, the step
applies the mask itself (the mask rides as one extra input feature),
because JAX's masked scan carries the first state as the previous output
and the packed gates are wider than the state.
"""

from __future__ import annotations

import dataclasses

import keras
from keras import ops

from keras_gates import _autodiff
from keras_gates import _validation as check
from keras_gates.engine import keras_bridge
from keras_gates.gate_layout import join_blocks, split_blocks

# Whether the inputs are multiplied by the kernel in one matmul before the
# loop, per backend. On a CPU this was slower on TensorFlow (and rounds
# differently from Keras, whose TensorFlow loop projects inside the step)
# and on JAX under jit; faster on PyTorch, where every op in the loop is a
# Python-dispatched kernel. Speeds: docs/benchmark.
PROJECT_BEFORE_LOOP = {"tensorflow": False, "torch": True, "jax": False}

# Backends where the hand-written backward pass (`layers._handwritten`)
# replaces Keras's loop where it applies. Speeds: docs/benchmark.
HANDWRITTEN_BACKENDS = frozenset({"torch"})

# The built-in's fused function per backend and cell, in Keras 3.
BUILTIN_KERNELS = {
    "tensorflow": frozenset({"lstm", "gru"}),
    "torch": frozenset({"lstm", "gru"}),
    "jax": frozenset({"lstm", "gru"}),
}

# Under torch.compile, the hand-written pass's steps per compiled chunk:
# the compiler traces one chunk and calls it again, where it would unroll
# every step (a compile that grew with the length). On a CPU (LSTM, batch
# 64, T = 200, 64 units, gates in the loss) chunks of 10 stepped slower
# and chunks of 50 compiled longer than chunks of 25.
CHUNK_STEPS = 25

KERNEL, HANDWRITTEN, LOOP = "kernel", "handwritten", "loop"

NONE, STEPPED, RECOVERED = "none", "stepped", "recovered"


@dataclasses.dataclass(frozen=True)
class Facts:
    """What the rules read: the call's and the layer's settings."""

    backend: str
    accelerator: bool
    kind: str  # "lstm" or "gru"
    gates: bool  # gates wanted
    recover_gates: object  # True, False or "auto"
    use_cudnn: object  # True, False or "auto"
    mask: bool
    known_length: bool
    go_backwards: bool
    unroll: bool
    recurrent_dropout: bool
    per_gate_dropout: bool  # implementation 1 draws one input mask per gate
    implementation: int
    default_activations: bool
    reset_after: bool  # always True for the LSTM
    standard: bool  # Keras's equations: no variant, no peepholes
    xla: bool = False  # TensorFlow tracing for XLA (jit_compile=True)
    recoverable: bool = True  # `cell.recoverable`
    handwritten_cell: bool = True  # `cell.has_handwritten`
    autocast: bool = False  # weights read in another dtype (mixed precision)
    compiling: bool = False  # torch.compile tracing (jit_compile=True)


@dataclasses.dataclass(frozen=True)
class Plan:
    """How one call runs (see the module's table)."""

    try_kernel: bool  # first the built-in's fused function
    sequence: str  # the path when there is no kernel, or it refuses
    gates: str  # NONE, STEPPED or RECOVERED
    project: bool  # inputs projected before the loop
    unroll: bool  # Keras's unrolled loop
    symbolic: bool = False  # the hand-written loop as one fori_loop
    remat: bool = False  # Keras's loop, rematerialised (under XLA)
    chunk: int = 0  # the hand-written Python loop compiled this many steps
    # at a time (0: every step traced)


def wants_kernel(facts: Facts) -> bool:
    """Whether the built-in's fused function is asked first."""
    if facts.use_cudnn is True:
        return True
    return (
        facts.use_cudnn == "auto"
        and facts.accelerator
        and not facts.recurrent_dropout
        and not facts.per_gate_dropout
        and facts.standard
        and facts.kind in BUILTIN_KERNELS.get(facts.backend, ())
        and not (facts.backend == "tensorflow" and facts.mask)
    )


def handwritten_applies(facts: Facts) -> bool:
    """Whether the hand-written backward pass covers this call."""
    return (
        facts.handwritten_cell
        and facts.known_length
        and not facts.mask
        and not facts.recurrent_dropout
        and facts.implementation != 1
        and facts.default_activations
        and facts.reset_after
    )


def choose(facts: Facts) -> Plan:
    """The plan for one call: the module's table, row by row."""
    kernel = wants_kernel(facts)
    applies = handwritten_applies(facts)
    # Under XLA Keras's loop is a while loop unless the layer unrolls it.
    xla_loop = facts.xla and not facts.unroll
    symbolic = xla_loop and applies
    # Keras's loop with a per-step gradient (`remat`); not where Keras
    # casts the weights as the layer reads them (mixed precision): the
    # gradient's recompute runs outside the layer's call, uncast.
    remat = (
        xla_loop
        and not applies
        and facts.known_length
        and not facts.mask
        and not facts.autocast
    )
    if not facts.gates:
        gates = NONE
    elif facts.recover_gates is True:
        gates = RECOVERED
    elif facts.recover_gates == "auto" and kernel and not facts.mask:
        gates = RECOVERED
    elif (
        facts.recover_gates == "auto"
        and xla_loop
        and not symbolic
        and not remat
        and facts.recoverable
    ):
        gates = RECOVERED
    else:
        gates = STEPPED
    try_kernel = kernel and (
        gates == NONE or (gates == RECOVERED and not facts.mask)
    )
    symbolic = symbolic and gates == STEPPED
    handwritten = symbolic or (
        applies and facts.backend in HANDWRITTEN_BACKENDS
    )
    unroll = facts.unroll or (
        facts.backend == "torch"
        and facts.known_length
        and not (facts.mask and facts.go_backwards)
    )
    remat = remat and gates == STEPPED
    chunked = handwritten and not symbolic and facts.compiling
    return Plan(
        try_kernel=try_kernel,
        sequence=HANDWRITTEN if handwritten else LOOP,
        gates=gates,
        project=PROJECT_BEFORE_LOOP.get(facts.backend, False) or handwritten,
        unroll=unroll,
        symbolic=symbolic,
        remat=remat,
        chunk=CHUNK_STEPS if chunked else 0,
    )


def chunk_length(plan: Plan, steps) -> int:
    """The steps per compiled chunk for a sequence of `steps` steps: 0
    (every step traced by the caller's compiler, as cheaply as it would
    trace one chunk) where the plan has no chunks or the sequence is no
    longer than one."""
    return plan.chunk if steps is not None and 0 < plan.chunk < steps else 0


def facts_of(layer, sequences, mask, gates: bool) -> Facts:
    cell = layer.cell
    return Facts(
        backend=keras.backend.backend(),
        accelerator=keras_bridge.accelerator(sequences),
        kind=cell.kind,
        gates=gates,
        recover_gates=layer.recover_gates,
        use_cudnn=layer.use_cudnn,
        mask=mask is not None,
        known_length=sequences.shape[1] is not None,
        go_backwards=layer.go_backwards,
        unroll=layer.unroll,
        recurrent_dropout=bool(cell.recurrent_dropout),
        per_gate_dropout=bool(cell.dropout) and cell.implementation == 1,
        implementation=cell.implementation,
        default_activations=keras_bridge.default_activations(cell),
        reset_after=getattr(cell, "reset_after", True),
        standard=cell.is_standard,
        xla=_autodiff.xla_tracing(),
        recoverable=cell.recoverable,
        handwritten_cell=cell.has_handwritten,
        autocast=layer.compute_dtype != layer.variable_dtype,
        compiling=_autodiff.torch_compiling(),
    )


# -- running a plan -----------------------------------------------------


@dataclasses.dataclass
class Result:
    """What a pass returns. `outputs`: every step's output `(batch, time,
    units)` in the order the path returns it (processing order, except
    JAX's fused LSTM with `go_backwards`, which returns input order, as
    the built-in does), or the last output as `(batch, 1, units)` when the
    whole sequence was not asked for. `gates`: None, or the named gates in
    processing order, `hidden` included (its masked steps not yet NaN)."""

    last: object
    outputs: object
    states: list
    gates: dict | None
    path: str
    packed: object = None  # the stepped loop's packed gates


def run(
    layer,
    sequences,
    initial_state,
    mask,
    training,
    *,
    gates,
    plan=None,
    edits=None,
):
    """Runs `layer` over `sequences` (the layer's `call`, minus the
    arrangement of what it returns). Updates stateful states.

    `edits`: None, or `{gate: (a, b)}`, each `(batch, time, units)` in the
    input's time order: the step replaces that gate's value v by `a * v +
    b` as soon as it is computed (interventions; Keras's loop, gates
    stepped where `gates`)."""
    cell = layer.cell
    check.sequence_input(layer.name, sequences.shape, cell.kernel.shape[0])
    if layer.unroll and sequences.shape[1] is None:
        raise ValueError(
            f"{layer.name}: unroll=True needs a known number of timesteps, "
            f"got inputs of shape {tuple(sequences.shape)}; pass "
            "keras.Input(shape=(time, features)) with a fixed time"
        )
    if mask is not None:
        check.sequence_mask(layer.name, mask.shape, sequences.shape)
    if plan is None:
        plan = choose(facts_of(layer, sequences, mask, gates))
    if edits is not None:
        # Edits ride as extra input features through Keras's loop.
        plan = dataclasses.replace(
            plan,
            try_kernel=False,
            sequence=LOOP,
            gates=STEPPED if gates else NONE,
        )
    masks = dropout_masks(layer, sequences, training)
    kernel_mask, zone = training_draws(layer, sequences, training)
    state0 = initial_states(layer, sequences, initial_state)
    full = layer.return_sequences or plan.gates == RECOVERED
    result = None
    if plan.try_kernel:
        result = _kernel(layer, sequences, state0, mask, training, masks, full)
    if result is None:
        # The masked kernel is computed here, once, outside the loop.
        layer.cell.use_kernel_mask(kernel_mask)
        try:
            result = _sequence(
                layer,
                plan,
                sequences,
                state0,
                mask,
                masks,
                full=full,
                edits=edits,
                zone=zone,
            )
        finally:
            layer.cell.use_kernel_mask(None)
    if plan.gates == RECOVERED:
        result.gates = _recover(layer, sequences, state0, mask, masks, result)
    dtype = layer.compute_dtype
    result.last = ops.cast(result.last, dtype)
    result.outputs = ops.cast(result.outputs, dtype)
    result.states = [ops.cast(s, dtype) for s in result.states]
    if layer.stateful:
        for variable, state in zip(layer.states, result.states, strict=True):
            variable.assign(state)
    return result


def packed_gates(layer, sequences, mask):
    """Every step's packed gates, in processing order, masked steps not
    yet NaN: recovered from the kernel's outputs where the plan asks the
    kernel and recovers, else from the stepped loop."""
    check.sequence_input(
        layer.name, sequences.shape, layer.cell.kernel.shape[0]
    )
    plan = choose(facts_of(layer, sequences, mask, True))
    masks = dropout_masks(layer, sequences, False)
    state0 = initial_states(layer, sequences, None)
    if plan.try_kernel and plan.gates == RECOVERED:
        # Where the kernel runs (an accelerator), recovery from its outputs
        # is far faster than a stepped loop.
        result = _kernel(layer, sequences, state0, mask, False, masks, True)
        if result is not None:
            gates = _recover(layer, sequences, state0, mask, masks, result)
            return join_blocks(gates, layer.cell.gate_names)
    plan = dataclasses.replace(plan, try_kernel=False, gates=STEPPED)
    _, zone = training_draws(layer, sequences, False)
    result = _sequence(
        layer, plan, sequences, state0, mask, masks, full=True, zone=zone
    )
    return result.packed


def dropout_masks(layer, sequences, training):
    """(input masks, recurrent masks), drawn as Keras draws them: once per
    call, training or not (so that a seeded layer's draws follow Keras's),
    and then kept only when training."""
    cell = layer.cell
    if not (cell.dropout or cell.recurrent_dropout):
        return None, None
    batch_size = ops.shape(sequences)[0]
    masks = cell.draw_dropout_masks(
        sequences[:, 0, :],
        ops.zeros((batch_size, cell.units), dtype=sequences.dtype),
    )
    return masks if training else (None, None)


def training_draws(layer, sequences, training):
    """`(kernel mask, zone)`: the recurrent kernel's DropConnect mask
    (training; else None) and what zoneout keeps of each state: per state a
    `(batch, time, units)` boolean mask in training, the rate at inference, or
    None without zoneout. Drawn before the loop, after the dropout masks,
    so that JAX's scan draws nothing."""
    cell = layer.cell
    kernel_mask = cell.draw_kernel_mask() if training else None
    zone = None
    if cell.has_zoneout:
        if training:
            shape = (*ops.shape(sequences)[:2], cell.units)
            zone = cell.draw_zoneout_masks(shape)
        else:
            zone = list(cell.zoneout_rates)
    return kernel_mask, zone


def initial_states(layer, sequences, initial_state):
    """The states a pass starts from, as `keras.layers.RNN` picks them:
    given, carried (stateful) or zeros."""
    if initial_state is None:
        if layer.stateful:
            batch = sequences.shape[0]
            expected = layer.states[0].shape[0]
            if batch is not None and expected is not None and batch != expected:
                raise ValueError(
                    f"{layer.name} is stateful: the batch size of the input "
                    f"sequences must be the size of its states, {expected}; "
                    f"got {batch}"
                )
            # Copies: the pass assigns the new states to these variables,
            # and a tensor converted from a variable may follow it.
            initial_state = [ops.copy(state) for state in layer.states]
        else:
            initial_state = layer.get_initial_state(
                batch_size=ops.shape(sequences)[0]
            )
    if not isinstance(initial_state, (list, tuple)):
        initial_state = [initial_state]
    sizes = layer.cell.state_size
    sizes = [sizes] if isinstance(sizes, int) else list(sizes)
    check.initial_states(
        layer.name,
        initial_state,
        layer.cell.state_names,
        sequences.shape[0],
        sizes,
    )
    return [
        ops.convert_to_tensor(state, dtype=layer.cell.compute_dtype)
        for state in initial_state
    ]


def over_time(masks):
    """Per-sequence dropout masks `(batch, n)` -> `(batch, 1, n)`, to
    multiply a whole `(batch, time, n)` sequence."""
    return None if masks is None else [ops.expand_dims(m, 1) for m in masks]


def _kernel(layer, sequences, state0, mask, training, masks, full):
    """The built-in's fused function (`keras_bridge.builtin_kernel`); None
    when it refuses and `use_cudnn` is "auto"."""
    cell = layer.cell
    input_masks = masks[0]
    if input_masks is not None and len(input_masks) > 1:
        # use_cudnn=True (with "auto" the plan never gets here).
        raise ValueError(
            f"{layer.name}: use_cudnn=True cannot run implementation=1 "
            f"with dropout={cell.dropout}: it draws one input dropout mask "
            "per gate, and the fused kernel takes one masked sequence; "
            "use implementation=2 or use_cudnn='auto'"
        )
    ran = keras_bridge.builtin_kernel(
        cell,
        sequences,
        state0,
        mask,
        training,
        input_mask=None if input_masks is None else input_masks[0],
        full=full,
        go_backwards=layer.go_backwards,
        unroll=layer.unroll,
        supports_jit=layer.supports_jit,
        fall_back=layer.use_cudnn is not True,
    )
    if ran is None:
        return None
    last, outputs, states = ran
    return Result(last, outputs, states, None, KERNEL)


class _Step:
    """One step of `cell` with this call's settings: a pure function of
    `(inputs, states)` for Keras's loop, every setting an argument.

    `step_mask` None: the loop applies the time-step mask. "carry" or
    "zero": each step's input ends with one extra feature, 1.0 for a valid
    step and 0.0 for a masked one, and the step applies the mask itself:
    states carried over, the hidden block carried ("carry") or zeroed
    ("zero", Keras's `zero_output_for_mask`). `projected`: the step inputs
    are already `project_inputs` of the step, input bias included.
    """

    def __init__(
        self,
        cell,
        masks,
        projected,
        step_mask,
        with_gates,
        edited=(),
        zone=None,
    ):
        self.cell = cell
        self.input_masks, self.recurrent_masks = masks
        self.projected = projected
        self.step_mask = step_mask
        self.with_gates = with_gates
        self.edited = tuple(edited)
        # Zoneout: the rates (inference), or the number of 0/1 masks that
        # ride as the last input features before the mask flag (training).
        self.zone = zone

    def __call__(self, inputs, states):
        cell = self.cell
        step_mask = None
        if self.step_mask is not None:
            step_mask = ops.greater(inputs[:, -1:], 0.5)
            inputs = inputs[:, :-1]
        zone = self.zone
        if isinstance(zone, int):
            width = zone * cell.units
            inputs, packed = inputs[:, :-width], inputs[:, -width:] > 0.5
            zone = ops.split(packed, zone, axis=-1) if zone > 1 else [packed]
        inputs, edit = self._edit_of(inputs)
        if self.projected:
            x, x_has_bias = inputs, True
        else:
            x = cell.project_inputs(inputs, self.input_masks)
            x_has_bias = cell.projection_has_bias
        h, new_states, gates = cell.recur(
            x, states, self.recurrent_masks, x_has_bias, edit=edit, zone=zone
        )
        if step_mask is not None:
            new_states = [
                ops.where(step_mask, new, old)
                for new, old in zip(new_states, states, strict=True)
            ]
            held = ops.zeros_like(h) if self.step_mask == "zero" else states[0]
            h = gates["hidden"] = ops.where(step_mask, h, held)
        if self.with_gates:
            return join_blocks(gates, cell.gate_names), new_states
        return h, new_states

    def _edit_of(self, inputs):
        """The step's inputs without the edit features, and the edit: `(a,
        b)` per edited gate, the last `2 * units` features each."""
        if not self.edited:
            return inputs, None
        width = 2 * len(self.edited) * self.cell.units
        inputs, packed = inputs[:, :-width], inputs[:, -width:]
        parts = ops.split(packed, 2 * len(self.edited), axis=-1)
        table = {
            name: (parts[2 * k], parts[2 * k + 1])
            for k, name in enumerate(self.edited)
        }

        def edit(name, value):
            if name not in table:
                return value
            scale, shift = table[name]
            return scale * value + shift

        return inputs, edit


def _sequence(
    layer, plan, sequences, state0, mask, masks, *, full, edits=None, zone=None
):
    """The handwritten or loop path; gates stepped when the plan says;
    `edits` and `zone` (see `run`, `training_draws`) on the loop path
    only."""
    cell = layer.cell
    input_masks, recurrent_masks = masks
    with_gates = plan.gates == STEPPED
    if plan.project:
        sequences = cell.project_inputs(
            sequences, over_time(input_masks), with_bias=True
        )
    if plan.sequence == HANDWRITTEN:
        if layer.go_backwards:
            sequences = ops.flip(sequences, axis=1)
        if layer.stateful:
            # Copies: the layer assigns its new states in place to the
            # variables these came from, before the backward pass.
            state0 = [ops.copy(state) for state in state0]
        outputs, states = cell.handwritten(
            sequences,
            list(state0),
            with_gates,
            symbolic=plan.symbolic,
            chunk=chunk_length(plan, sequences.shape[1]),
        )
        last, path = outputs[:, -1], HANDWRITTEN
    else:
        edited = tuple(edits or ())
        if edited:
            pieces = [
                ops.cast(part, sequences.dtype)
                for name in edited
                for part in edits[name]
            ]
            sequences = ops.concatenate([sequences, *pieces], axis=-1)
        step_zone = zone
        if zone is not None and not isinstance(zone[0], float):
            # Training's zoneout masks ride as features, after the edits.
            pieces = [ops.cast(part, sequences.dtype) for part in zone]
            sequences = ops.concatenate([sequences, *pieces], axis=-1)
            step_zone = len(zone)
        step_mask = None
        zero_output = layer.zero_output_for_mask
        if plan.gates == RECOVERED:
            # Recovery needs the output carried over masked steps.
            zero_output = False
        if mask is not None and with_gates:
            step_mask = "zero" if zero_output else "carry"
            flags = ops.cast(ops.expand_dims(mask, -1), sequences.dtype)
            sequences = ops.concatenate([sequences, flags], axis=-1)
            mask = None
        step = _Step(
            cell,
            (input_masks, recurrent_masks),
            plan.project,
            step_mask,
            with_gates,
            edited,
            step_zone,
        )
        if plan.remat:
            if layer.go_backwards:
                sequences = ops.flip(sequences, axis=1)
            outputs, states = _autodiff.rematerialised_loop(
                step,
                sequences,
                list(state0),
                closed=cell.weight_tensors(),
                bind=cell.use_weight_tensors,
            )
            last = outputs[:, -1]
            if not (full or with_gates):
                outputs = ops.expand_dims(last, 1)
        else:
            last, outputs, states = keras_bridge.rnn_loop(
                step,
                sequences,
                state0,
                mask,
                go_backwards=layer.go_backwards,
                unroll=plan.unroll,
                zero_output_for_mask=zero_output,
                return_sequences=full or with_gates,
                stateful=layer.stateful,
            )
        path = LOOP
    gates = packed = None
    if with_gates:
        packed = outputs
        gates = split_blocks(packed, cell.gate_names)
        outputs = gates["hidden"]
        last = states[0]
    return Result(last, outputs, list(states), gates, path, packed)


def _recover(layer, sequences, state0, mask, masks, result):
    """Every step's gates from a gates-off pass's outputs (processing
    order), as `cell.recover` computes them."""
    cell = layer.cell
    carried = result.outputs
    if result.path == KERNEL and layer.go_backwards:
        if keras.backend.backend() == "jax" and cell.kind == "lstm":
            # JAX's fused LSTM returns input order; back to processing.
            carried = ops.flip(carried, axis=1)
    valid = None
    if mask is not None:
        valid = ops.expand_dims(ops.cast(mask, "bool"), -1)
    if layer.go_backwards:
        sequences = ops.flip(sequences, axis=1)
        valid = None if valid is None else ops.flip(valid, axis=1)
    input_masks, recurrent_masks = (over_time(m) for m in masks)
    h_prev = ops.concatenate(
        [ops.expand_dims(state0[0], 1), carried[:, :-1]], axis=1
    )
    gates = cell.recover(
        cell.project_inputs(sequences, input_masks),
        h_prev,
        state0,
        valid,
        recurrent_masks,
    )
    if valid is not None and layer.zero_output_for_mask:
        zeros = ops.zeros_like(carried)
        result.outputs = ops.where(valid, carried, zeros)
        carried = result.outputs
    gates["hidden"] = carried
    return gates
