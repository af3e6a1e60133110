"""The recurrence with a hand-written backward pass: PyTorch, and
TensorFlow under XLA.

Private. Two costs of autodiff through a step loop make this worth
having. On PyTorch every op of the loop is a Python-dispatched kernel and,
when training, an autograd node; the step-by-step loop spends more time in
that bookkeeping than in arithmetic. On TensorFlow under XLA, the gradient
of Keras's loop goes through TensorLists (the per-step outputs, the
inputs read step by step), which XLA turns into whole-sequence buffers
rebuilt at every step: the time grows with T squared, and with the width of
what each step returns (the packed gates are 6 units wide).

Here the forward loop runs without autodiff and `keras.ops.custom_gradient`
supplies the gradient: one reverse loop over the steps (small elementwise
ops and one matmul per step), then the recurrent kernel's gradient as one
matmul over every step at once. Computing the backward coefficients for
all steps at once, in big tensors, was slower on a CPU than step by step:
every new (time, batch, n) tensor is a fresh allocation.

Three loops run the same steps (`_lstm_step`, `_lstm_step_back`, and the
GRU's), through `_scan`: a Python loop over the (known) number of steps,
for eager PyTorch; `chunk`, the same loop `chunk` steps at a time, each
chunk compiled once by `torch.compile` and called again for the next
(`_autodiff.compiled_region`), the whole pass and its gradient outside
the caller's `torch.compile` (Keras's `jit_compile=True` on PyTorch),
which would otherwise trace every step: a compile that grew with the
length; `symbolic=True`, `keras.ops.fori_loop` over preallocated `(time,
batch, n)` buffers written with `keras.ops.slice_update` (XLA's in-place
dynamic update), for a graph compiler: one step in the graph, whatever
the length.

Only the common case: inputs already projected (`x W + b`, see
`_engine.PROJECT_BEFORE_LOOP`), no mask, no recurrent dropout, tanh/sigmoid,
the GRU with `reset_after=True`; the standard cells and the variants whose
step reads only the previous `h` and `c` (`LSTM_FORMS`: a gate constant,
tied or linear; `GRU_FORMS`: the MGU), not peepholes or fgr, zoneout,
DropConnect or layer normalisation. The engine picks this path and checks
the conditions (`_engine.choose`); the same numbers as the cell's step to
float32 round-off (tested, values and gradients, every loop, every
variant).

Each function returns one tensor, since PyTorch's custom gradient takes one
upstream gradient: with gates, the packed gates of every step (the cell's
`return_gates` layout); without, every step's output `h` followed, as one
extra step, by the final cell state (LSTM) - the caller slices them apart.
"""

from __future__ import annotations

import dataclasses
import functools

from keras import ops

from keras_gates import _autodiff
from keras_gates.gate_layout import (
    LSTM_VARIANTS,
    LSTM_WEIGHT_GATES,
    TIED_GATES,
    weight_gates,
)


def _time_major(x):
    """`(batch, time, ...)` <-> `(time, batch, ...)`, a view. The loops
    index steps along axis 0 and stack time-major: contiguous, 2.4x faster
    than stacking along axis 1 (200 steps of (64, 192))."""
    return ops.swapaxes(x, 0, 1)


def _recurrent_kernel_gradient(h0, h_all, d_all):
    """Sum over steps t of `h_(t-1)^T d_t`, the previous output against the
    gradient of the recurrent term: `h0` `(batch, n)`, `h_all` and `d_all`
    stacked time-major `(time, batch, .)`. Two matmuls over views, no copy
    of the steps."""

    def flat(x):
        return ops.reshape(x, (-1, x.shape[-1]))

    first = ops.matmul(ops.transpose(h0), d_all[0])
    rest = ops.matmul(ops.transpose(flat(h_all[:-1])), flat(d_all[1:]))
    return first + rest


def _steps(step, static, consts, carry, sequences, reverse=False, lists=False):
    """A Python loop of `step` over every step of `sequences` (see
    `_scan`)."""
    count = _length(sequences[0])
    order = range(count - 1, -1, -1) if reverse else range(count)
    # Every step's inputs split apart at once: one call per sequence, not
    # one indexing per sequence and step.
    inputs = list(zip(*(_unstacked(s) for s in sequences), strict=True))
    kept = []
    for t in order:
        carry, outputs = step(static, consts, carry, inputs[t])
        kept.append(outputs)
    if reverse:
        kept.reverse()
    by_output = (list(each) for each in zip(*kept, strict=True))
    if lists:
        return carry, tuple(by_output)
    return carry, tuple(ops.stack(each) for each in by_output)


def _length(steps):
    """How many steps: a list's, or a time-major tensor's (known) first
    axis."""
    return len(steps) if isinstance(steps, list) else steps.shape[0]


def _unstacked(steps):
    """A time-major tensor's steps as a list (a list as it is)."""
    return steps if isinstance(steps, list) else ops.unstack(steps)


def _stacked(steps):
    """A list of steps as one time-major tensor (a tensor as it is)."""
    return ops.stack(steps) if isinstance(steps, list) else steps


@functools.cache
def _chunk():
    """`_steps` for a chunk of steps: traced once by `torch.compile`,
    called for every chunk of the same length. Made at the first chunk
    (inside `_call_untraced`, where no compiler traces), not at import."""
    return _autodiff.compiled_region(_steps)


def _call(function, *arguments, **options):
    return function(*arguments, **options)


_call_untraced = _autodiff.untraced(_call)


def _pass(run, chunk, *arguments):
    """`run(*arguments)` (a forward pass returning `(result, grad)`) with
    its gradient (`keras.ops.custom_gradient`). With `chunk`, the pass and
    its gradient run outside the caller's `torch.compile`
    (`_autodiff.untraced`), which would otherwise trace every step and
    every chunk: the forward pass from the caller, the gradient from the
    autograd engine's own call later."""
    if not chunk:
        return ops.custom_gradient(run)(*arguments)

    def forward(*arguments):
        result, grad = run(*arguments)

        def outside(*args, upstream=None):
            return _call_untraced(grad, *args, upstream=upstream)

        return result, outside

    return _call_untraced(ops.custom_gradient(forward), *arguments)


def _scan(
    step,
    static,
    consts,
    carry,
    sequences,
    widths,
    *,
    symbolic=False,
    chunk=0,
    reverse=False,
    lists=False,
):
    """`step(static, consts, carry, inputs) -> (carry, outputs)` over the
    steps of `sequences` (time-major tensors; `inputs` holds step t of
    each), in reverse order when `reverse`: `(carry, outputs)`, the last
    carry and each output stacked time-major in step order. `static`:
    hashable settings; `consts`: tensors every step reads; `widths`: each
    output's last axis.

    `symbolic`: one `keras.ops.fori_loop` writing preallocated buffers.
    Else a Python loop; with `chunk`, `chunk` steps at a time through
    `_autodiff.compiled_region` (a compiler traces one chunk and calls it
    again for the next, instead of unrolling every step; the caller keeps
    `chunk` below the length, `engine.sequence.chunk_length`). `lists`:
    the Python loop's outputs left as lists of steps (the other loops
    stack them)."""
    steps = _length(sequences[0])
    if symbolic:
        return _scan_symbolic(
            step, static, consts, carry, sequences, widths, reverse, steps
        )
    if not chunk:
        return _steps(step, static, consts, carry, sequences, reverse, lists)
    starts = list(range(0, steps, chunk))
    if reverse:
        starts.reverse()
    pieces = []
    for start in starts:
        part = tuple(s[start : start + chunk] for s in sequences)
        if start + chunk <= steps:
            # Copies: a view's offset into the whole sequence would make
            # the compiler compile the first chunk and the others apart.
            run, part = _chunk(), tuple(ops.copy(s) for s in part)
        else:
            # A shorter last chunk runs uncompiled: a second compile for a
            # few steps would cost more than it saves.
            run = _steps
        carry, outputs = run(step, static, consts, carry, part, reverse)
        pieces.append(outputs)
    if reverse:
        pieces.reverse()
    return carry, tuple(
        ops.concatenate(list(each), axis=0)
        for each in zip(*pieces, strict=True)
    )


def _scan_symbolic(
    step, static, consts, carry, sequences, widths, reverse, steps
):
    """`_scan` as one `fori_loop` over `(time, batch, width)` buffers
    written with `slice_update` (XLA's in-place dynamic update)."""
    like = carry[0]
    batch = ops.shape(like)[0]
    buffers = tuple(ops.zeros((steps, batch, w), like.dtype) for w in widths)

    def body(k, state):
        carry, buffers = state
        t = steps - 1 - k if reverse else k
        inputs = tuple(ops.take(s, t, axis=0) for s in sequences)
        carry, outputs = step(static, consts, carry, inputs)
        buffers = tuple(
            ops.slice_update(b, (t, 0, 0), ops.expand_dims(o, 0))
            for b, o in zip(buffers, outputs, strict=True)
        )
        return carry, buffers

    return ops.fori_loop(0, steps, body, (carry, buffers))


def _shifted(first, steps):
    """`steps` (a list, or `(time, batch, n)`) one step later: `first`,
    then every step but the last (each step's previous state)."""
    if isinstance(steps, list):
        return [first, *steps[:-1]]
    return ops.concatenate([ops.expand_dims(first, 0), steps[:-1]], axis=0)


@dataclasses.dataclass(frozen=True)
class LSTMForm:
    """Which of the LSTM's equations a cell computes: the standard one
    (Keras's) or one of Greff et al.'s variants without peepholes or gate
    recurrence (`gate_layout.LSTM_VARIANTS`).

    `blocks`: the kernel's gate blocks, in order; a sigmoid gate without a
    block is 1, or `1 - i` for the forget gate when `tied_forget` (cifg).
    `linear_candidate`: g is its pre-activation (niaf). `linear_output`:
    h = o * c (noaf)."""

    blocks: tuple = LSTM_WEIGHT_GATES
    tied_forget: bool = False
    linear_candidate: bool = False
    linear_output: bool = False

    # Each block's place in `blocks`, found once, not at every step (a
    # field set once: `functools.cached_property` takes a lock, which
    # `torch.compile` cannot trace).
    position: dict = dataclasses.field(
        init=False, compare=False, hash=False, repr=False
    )

    def __post_init__(self):
        places = {name: k for k, name in enumerate(self.blocks)}
        object.__setattr__(self, "position", places)

    def block(self, x, name, n):
        """Gate `name`'s units of `x` (last axis packed as `blocks`), or
        None when the form has no block for it."""
        k = self.position.get(name)
        if k is None:
            return None
        return x[..., k * n : (k + 1) * n]


STANDARD_LSTM = LSTMForm()


def _sigmoid_gates(s, n, form):
    """i, f and o from the sigmoids of every block, each None where the
    variant's gate is the constant 1."""
    i, f, o = (form.block(s, name, n) for name in ("input", "forget", "output"))
    if f is None and form.tied_forget:
        f = 1.0 - i
    return i, f, o


def _lstm_step(x, h, c, kernel, n, form=STANDARD_LSTM):
    """One step: `(s, g, c, tanh_c, h)`, `s` the sigmoid of every block
    (its g block is not used); `tanh_c` is c itself for `linear_output`."""
    z = x + h @ kernel
    s = ops.sigmoid(z)
    g = form.block(z, "candidate", n)
    if not form.linear_candidate:
        g = ops.tanh(g)
    i, f, o = _sigmoid_gates(s, n, form)
    c = (c if f is None else f * c) + (g if i is None else i * g)
    tanh_c = c if form.linear_output else ops.tanh(c)
    return s, g, c, tanh_c, tanh_c if o is None else o * tanh_c


def _lstm_step_back(
    dh, dc, up, s, g, c_prev, tanh_c, kernel_t, n, form=STANDARD_LSTM
):
    """One step back: the gradients reaching the previous step's `(h,
    c)`, and the step's pre-activation gradient `dz`. `up`: this step's
    upstream gradients `(h, i, f, g, o, c)`, the gates' None without
    gates. A constant gate's gradient goes nowhere; cifg's forget
    gradient reaches the input gate with its sign flipped."""
    up_h, up_i, up_f, up_g, up_o, up_c = up
    i, f, o = _sigmoid_gates(s, n, form)
    dh = dh + up_h
    if up_c is not None:
        dc = dc + up_c
    d_out = dh if o is None else dh * o
    if not form.linear_output:
        d_out = d_out * (1.0 - tanh_c * tanh_c)
    dc = dc + d_out
    # The gradient of each gate the step computes (a tied forget gate's
    # too), before its activation.
    d = {}
    if i is not None:
        d["input"] = dc * g
    if f is not None:
        d["forget"] = dc * c_prev
    d["candidate"] = dc if i is None else dc * i
    if o is not None:
        d["output"] = dh * tanh_c
    if up_i is not None:
        for name, extra in zip(
            ("input", "forget", "candidate", "output"),
            (up_i, up_f, up_g, up_o),
            strict=True,
        ):
            if name in d:
                d[name] = d[name] + extra
    if form.tied_forget:
        d["input"] = d["input"] - d["forget"]
    dz = ops.concatenate([d[name] for name in form.blocks], axis=-1)
    dz = dz * _lstm_slope(s, g, n, form)
    return dz @ kernel_t, dc if f is None else dc * f, dz


def _lstm_slope(s, g, n, form):
    """Each block's activation slope at this step: `s (1 - s)` for the
    sigmoid blocks (in runs, sliced once), `1 - g^2` or 1 for g."""
    sigmoid_slope = s * (1.0 - s)
    k = form.position["candidate"]
    pieces = [sigmoid_slope[:, : k * n]] if k else []
    pieces.append(ops.ones_like(g) if form.linear_candidate else 1.0 - g * g)
    if k + 1 < len(form.blocks):
        pieces.append(sigmoid_slope[:, (k + 1) * n :])
    return ops.concatenate(pieces, axis=-1)


def _blocks(x, n, count):
    """`x`'s last axis as `count` units-wide blocks."""
    return tuple(x[:, k * n : (k + 1) * n] for k in range(count))


def _lstm_forward(static, consts, carry, inputs):
    """`_scan`'s step forward: `(h, c)` -> every value the way back
    reads."""
    n, form = static
    s, g, c, tanh_c, h = _lstm_step(inputs[0], *carry, consts[0], n, form)
    return (h, c), (s, g, c, tanh_c, h)


def _lstm_backward(static, consts, carry, inputs):
    """`_scan`'s step back: `(dh, dc)` -> the step's `dz`. The upstream
    gradient is packed as the gates are (`[i|f|g|o|c|h]`) with gates,
    else the step's `h` alone."""
    n, form, with_gates = static
    up, s, g, c_prev, tanh_c = inputs
    if with_gates:
        i, f, g_up, o, c_up, h_up = _blocks(up, n, 6)
        up = (h_up, i, f, g_up, o, c_up)
    else:
        up = (up,) + (None,) * 5
    dh, dc, dz = _lstm_step_back(
        *carry, up, s, g, c_prev, tanh_c, consts[0], n, form
    )
    return (dh, dc), (dz,)


def lstm(
    xp,
    h0,
    c0,
    recurrent_kernel,
    with_gates,
    symbolic=False,
    form=None,
    chunk=0,
):
    """LSTM over `xp` `(batch, time, blocks * units)` (projected, bias
    included); `form` (an `LSTMForm`, default the standard cell) says
    which equations; `symbolic` and `chunk`: how the loops run (`_scan`).

    Returns `(batch, time, 6 units)` packed `[i|f|g|o|c|h]` with gates,
    else `(batch, time + 1, units)`: every `h`, then the final `c`.
    """

    form = form or STANDARD_LSTM
    width = len(form.blocks)
    loops = {"symbolic": symbolic, "chunk": chunk}

    def run(xp, h0, c0, kernel):
        xs = _time_major(xp)
        steps, n = xs.shape[0], h0.shape[-1]
        (_, c), kept = _scan(
            _lstm_forward,
            (n, form),
            (kernel,),
            (h0, c0),
            (xs,),
            (width * n, n, n, n, n),
            lists=True,
            **loops,
        )
        # Lists of steps on the Python loop: stacked only where needed.
        s_all, g_all, c_all, tanh_c_all, h_all = kept
        h_all = _stacked(h_all)
        if with_gates:
            g_all = _stacked(g_all)
            i, f, o = _sigmoid_gates(_stacked(s_all), n, form)
            ones = ops.ones_like(g_all)
            result = ops.concatenate(
                [
                    ones if i is None else i,
                    ones if f is None else f,
                    g_all,
                    ones if o is None else o,
                    _stacked(c_all),
                    h_all,
                ],
                axis=-1,
            )
        else:
            result = ops.concatenate([h_all, ops.expand_dims(c, 0)], axis=0)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            up = _time_major(upstream)
            if with_gates:
                dc = ops.zeros_like(c0)
            else:
                up, dc = up[:steps], up[steps]
            (dh, dc), (dz_all,) = _scan(
                _lstm_backward,
                (n, form, with_gates),
                (ops.transpose(kernel),),
                (ops.zeros_like(h0), dc),
                (up, s_all, g_all, _shifted(c0, c_all), tanh_c_all),
                (width * n,),
                reverse=True,
                **loops,
            )
            d_kernel = _recurrent_kernel_gradient(h0, h_all, dz_all)
            return _time_major(dz_all), dh, dc, d_kernel

        return _time_major(result), grad

    return _pass(run, chunk, xp, h0, c0, recurrent_kernel)


def _gru_step(x, h, kernel, bias, n, tied_reset=False):
    """One step (`reset_after`): `(zr, keep, hh, inner_h, h)`, `zr` the
    update and reset gates (the update gate alone when `tied_reset`, the
    MGU, whose r = 1 - z = `keep`), `keep = 1 - z`, `inner_h` the
    recurrent term of the candidate before the reset gate scales it."""
    gated = n if tied_reset else 2 * n
    inner = h @ kernel
    if bias is not None:
        inner = inner + bias
    zr = ops.sigmoid(x[:, :gated] + inner[:, :gated])
    z = zr[:, :n]
    keep = 1.0 - z
    r = keep if tied_reset else zr[:, n:]
    inner_h = inner[:, gated:]
    hh = ops.tanh(x[:, gated:] + r * inner_h)
    return zr, keep, hh, inner_h, z * h + keep * hh


def _gru_step_back(
    dh, up, zr, keep, hh, inner_h, h_prev, kernel_t, n, tied_reset=False
):
    """One step back: the gradient reaching the previous step's `h`, and
    the step's gradients of the projected input and of the recurrent term
    `h U + b`. `up`: this step's upstream gradients `(h, z, r, hh)`, the
    gates' None without gates. With `tied_reset` the reset gradient
    reaches the update gate with its sign flipped."""
    up_h, up_z, up_r, up_hh = up
    dh = dh + up_h
    dhh = dh * keep
    dz = dh * (h_prev - hh)
    if up_z is not None:
        dhh, dz = dhh + up_hh, dz + up_z
    da = dhh * (1.0 - hh * hh)
    dr = da * inner_h
    if up_r is not None:
        dr = dr + up_r
    if tied_reset:
        d_zr, r = (dz - dr) * zr * keep, keep
    else:
        d_zr = ops.concatenate([dz, dr], axis=-1) * zr * (1.0 - zr)
        r = zr[:, n:]
    dx = ops.concatenate([d_zr, da], axis=-1)
    d_inner = ops.concatenate([d_zr, da * r], axis=-1)
    return dh * zr[:, :n] + d_inner @ kernel_t, dx, d_inner


def _gru_forward(static, consts, carry, inputs):
    """`_scan`'s step forward: `(h,)` -> every value the way back
    reads (`consts`: the kernel, and the recurrent bias if any)."""
    n, tied_reset = static
    bias = consts[1] if len(consts) > 1 else None
    step = _gru_step(inputs[0], carry[0], consts[0], bias, n, tied_reset)
    return (step[-1],), step


def _gru_backward(static, consts, carry, inputs):
    """`_scan`'s step back: `(dh,)` -> the step's gradients of the
    projected input and of the recurrent term. The upstream gradient is
    packed as the gates are (`[z|r|hh|h]`) with gates, else the step's
    `h` alone."""
    n, tied_reset, with_gates = static
    up, *kept = inputs
    if with_gates:
        z, r, hh, h = _blocks(up, n, 4)
        up = (h, z, r, hh)
    else:
        up = (up, None, None, None)
    dh, dx, d_inner = _gru_step_back(
        carry[0], up, *kept, consts[0], n, tied_reset
    )
    return (dh,), (dx, d_inner)


def gru(
    xp,
    h0,
    recurrent_kernel,
    recurrent_bias,
    with_gates,
    symbolic=False,
    tied_reset=False,
    chunk=0,
):
    """GRU (`reset_after=True`) over `xp` `(batch, time, 3 units)`
    (projected, input bias included); `recurrent_bias` may be None. With
    `tied_reset`, the MGU (`gate_layout.GRU_VARIANTS`): two blocks, the
    update gate's and the candidate's, and r = 1 - z. `symbolic` and
    `chunk`: how the loops run (`_scan`).

    Returns `(batch, time, 4 units)` packed `[z|r|hh|h]` with gates, else
    `(batch, time, units)`, every `h`.
    """
    has_bias = recurrent_bias is not None
    if not has_bias:
        recurrent_bias = ops.zeros((recurrent_kernel.shape[-1],), xp.dtype)
    loops = {"symbolic": symbolic, "chunk": chunk}

    def run(xp, h0, kernel, bias):
        xs = _time_major(xp)
        n = h0.shape[-1]
        consts = (kernel, bias) if has_bias else (kernel,)
        gated = n if tied_reset else 2 * n
        _, kept = _scan(
            _gru_forward,
            (n, tied_reset),
            consts,
            (h0,),
            (xs,),
            (gated, n, n, n, n),
            lists=True,
            **loops,
        )
        # Lists of steps on the Python loop: stacked only where needed.
        zr_all, keep_all, hh_all, inner_h_all, h_list = kept
        h_all = _stacked(h_list)
        if with_gates:
            gates = [zr_all, keep_all] if tied_reset else [zr_all]
            result = ops.concatenate(
                [*map(_stacked, gates), _stacked(hh_all), h_all], axis=-1
            )
        else:
            result = h_all

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            width = gated + n
            (dh,), (dx_all, d_inner_all) = _scan(
                _gru_backward,
                (n, tied_reset, with_gates),
                (ops.transpose(kernel),),
                (ops.zeros_like(h0),),
                (
                    _time_major(upstream),
                    zr_all,
                    keep_all,
                    hh_all,
                    inner_h_all,
                    _shifted(h0, h_list),
                ),
                (width, width),
                reverse=True,
                **loops,
            )
            d_kernel = _recurrent_kernel_gradient(h0, h_all, d_inner_all)
            d_bias = ops.sum(d_inner_all, axis=(0, 1))
            return _time_major(dx_all), dh, d_kernel, d_bias

        return _time_major(result), grad

    return _pass(run, chunk, xp, h0, recurrent_kernel, recurrent_bias)


def _lstm_form(variant):
    return LSTMForm(
        blocks=weight_gates("lstm", variant),
        tied_forget=TIED_GATES.get((variant, "forget")) == "input",
        linear_candidate=variant == "niaf",
        linear_output=variant == "noaf",
    )


# The variants each function computes: the LSTM's forms by variant (not
# fgr, whose gates read the previous step's gates), the GRU's
# `tied_reset` by variant.
LSTM_FORMS = {
    variant: _lstm_form(variant)
    for variant in LSTM_VARIANTS
    if variant != "fgr"
}
GRU_FORMS = {"standard": False, "mgu": True}
