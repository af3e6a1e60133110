"""The one place that knows gate names, their order and how they are packed.

Keras stores an LSTM's four gates side by side in one kernel, in the order
input, forget, candidate (Keras calls it "c"), output; a GRU's three in the
order update (z), reset (r), candidate (h). Every slice in keras_gates goes
through the constants and functions here, so nobody re-slices by offsets.

When a gated layer is asked for its gates, its cell returns them packed into
one tensor per step, `[gate_0 | gate_1 | ...]` along the last axis, because
`keras.layers.RNN` needs a single output of fixed size. `unpack` turns that
back into a dict of named `(batch, time, units)` tensors.

GRU convention: Keras's update gate `z` is the fraction of the *old* state
that is kept, `h_t = z * h_{t-1} + (1 - z) * candidate`. The article "A
visual guide to LSTM and GRU" (and Cho et al. 2014 in some write-ups) calls
`1 - z` the update gate: the fraction of *new* information let in. Every
"update" value in keras_gates is Keras's `z`; `article_update(z)` converts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# Order of the gate blocks inside Keras's kernel, recurrent_kernel and bias.
LSTM_WEIGHT_GATES = ("input", "forget", "candidate", "output")
GRU_WEIGHT_GATES = ("update", "reset", "candidate")

# What a gated layer records at every step, in packing order.
LSTM_GATES = LSTM_WEIGHT_GATES + ("cell", "hidden")
GRU_GATES = GRU_WEIGHT_GATES + ("hidden",)
# A layer-normalised LSTM (`layer_norm=True`) also records LN(c), the
# normalised cell state its output reads, beside the cell state.
LAYER_NORM_LSTM_GATES = LSTM_WEIGHT_GATES + (
    "cell",
    "normalized_cell",
    "hidden",
)
# Every name a gated layer may record.
ALL_GATES = frozenset(LAYER_NORM_LSTM_GATES) | frozenset(GRU_GATES)

# The recorded states (not gates): saturation and gate statistics skip them.
STATES = frozenset({"cell", "normalized_cell", "hidden"})

# Value range of each recorded quantity with the default activations;
# saturation statistics only make sense for the (0, 1) gates.
SIGMOID_GATES = frozenset({"input", "forget", "output", "update", "reset"})

# Every gate name, in the order figures and tables list them.
DISPLAY_ORDER = (
    "input",
    "forget",
    "update",
    "reset",
    "candidate",
    "output",
    "cell",
    "normalized_cell",
    "hidden",
)

# Labels for figures; the update gate's states Keras's convention.
GATE_LABELS = {
    "input": "input gate i",
    "forget": "forget gate f",
    "candidate": "candidate g",
    "output": "output gate o",
    "cell": "cell state c",
    "normalized_cell": "normalised cell state LN(c)",
    "hidden": "hidden state h",
    "update": "update gate z (Keras: share of old state kept;\n"
    "the article's update gate is 1 - z)",
    "reset": "reset gate r",
}


# Variants (Greff et al. 2017, "LSTM: A Search Space Odyssey"; Zhou et al.
# 2016, the minimal gated unit). Each maps to the weight blocks it keeps,
# in Keras's order; a gate without a block is returned as a constant or
# as a function of another gate (`TIED_GATES`). "standard" is Keras's
# layer: Greff's "NP" (no peepholes); his "vanilla" is standard with
# `peepholes=True`.
LSTM_VARIANTS = {
    "standard": LSTM_WEIGHT_GATES,
    "nig": ("forget", "candidate", "output"),  # no input gate: i = 1
    "nfg": ("input", "candidate", "output"),  # no forget gate: f = 1
    "nog": ("input", "forget", "candidate"),  # no output gate: o = 1
    "niaf": LSTM_WEIGHT_GATES,  # no input activation: g linear
    "noaf": LSTM_WEIGHT_GATES,  # no output activation: h = o * c
    "cifg": ("input", "candidate", "output"),  # forget = 1 - input
    "fgr": LSTM_WEIGHT_GATES,  # full gate recurrence: i, f, o <- i, f, o
}
GRU_VARIANTS = {
    "standard": GRU_WEIGHT_GATES,
    # The minimal gated unit: one gate. Its block is Keras's update gate z
    # (the share of the old state kept); the reset gate is tied to it,
    # r = 1 - z, which is Zhou et al.'s forget gate f (the article's
    # update gate, the share of new information let in).
    "mgu": ("update", "candidate"),
}
VARIANTS = {"lstm": LSTM_VARIANTS, "gru": GRU_VARIANTS}

# Gates a variant has no block for but computes from another gate:
# (variant, gate) -> the gate it is `1 - ` of.
TIED_GATES = {("cifg", "forget"): "input", ("mgu", "reset"): "update"}

# The LSTM's sigmoid gates: those a peephole (Gers & Schmidhuber 2000)
# or the full gate recurrence (fgr) feeds, in this order.
LSTM_SIGMOID_GATES = ("input", "forget", "output")


def check_variant(kind: str, variant) -> str:
    """`variant` if `kind` has it, else a ValueError naming the choices."""
    choices = VARIANTS[kind]
    if not isinstance(variant, str) or variant not in choices:
        raise ValueError(
            f"variant must be one of {sorted(choices)} for a "
            f"{kind.upper()}, got {variant!r}"
        )
    return variant


def weight_gates(kind: str, variant: str = "standard") -> tuple[str, ...]:
    """The gate blocks of `kernel`, `recurrent_kernel` and `bias`, in
    order, for `kind`'s `variant`."""
    return VARIANTS[kind][check_variant(kind, variant)]


def peephole_gates(variant: str) -> tuple[str, ...]:
    """The LSTM gates that get a peephole weight with `peepholes=True`:
    the sigmoid gates the variant computes (a tied or constant gate has
    none), in the order the cell creates their weights."""
    blocks = weight_gates("lstm", variant)
    return tuple(gate for gate in LSTM_SIGMOID_GATES if gate in blocks)


def gate_names(kind: str, layer_norm: bool = False) -> tuple[str, ...]:
    """Recorded gate names for `kind` (`"lstm"` or `"gru"`), in packing
    order; a layer-normalised LSTM adds `normalized_cell`."""
    if kind == "lstm":
        return LAYER_NORM_LSTM_GATES if layer_norm else LSTM_GATES
    if kind == "gru":
        return GRU_GATES
    raise ValueError(f"kind must be 'lstm' or 'gru', got {kind!r}")


# keras is imported inside the tensor functions so that the constants above
# can be read by numpy-only modules (stats, plots) without loading keras.


def split_blocks(x, names: Sequence[str], axis: int = -1) -> dict:
    """Splits `x` into `len(names)` equal blocks along `axis`, by name."""
    from keras import ops

    return dict(zip(names, ops.split(x, len(names), axis=axis), strict=True))


def join_blocks(blocks: Mapping, names: Sequence[str], axis: int = -1):
    """Concatenates `blocks[name]` for each name, in order, along `axis`."""
    from keras import ops

    return ops.concatenate([blocks[name] for name in names], axis=axis)


def unpack(packed, kind: str, layer_norm: bool = False) -> dict:
    """Splits a packed `(..., n * units)` gate tensor into named tensors.

    Args:
        packed: the cell's packed output, `(batch, time, n * units)` for a
            sequence or `(batch, n * units)` for one step.
        kind: `"lstm"` or `"gru"`.
        layer_norm: whether the cell is layer-normalised.

    Returns:
        `{name: (..., units)}` for every name in `gate_names(kind,
        layer_norm)`.
    """
    return split_blocks(packed, gate_names(kind, layer_norm))


def article_update(update):
    """Keras's GRU update gate `z` in the article's convention, `1 - z`."""
    return 1.0 - update
