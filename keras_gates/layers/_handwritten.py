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

Two loops run the same steps (`_lstm_step`, `_lstm_step_back`, and the
GRU's): `symbolic=False`, a Python loop over the (known) number of steps,
written for eager PyTorch (`torch.compile` traces it too);
`symbolic=True`, `keras.ops.fori_loop` over preallocated `(time, batch,
n)` buffers written with `keras.ops.slice_update` (XLA's in-place dynamic
update), for a graph compiler: one step in the graph, whatever the length.

Only the common case: inputs already projected (`x W + b`, see
`_engine.PROJECT_BEFORE_LOOP`), no mask, no recurrent dropout, tanh/sigmoid,
the GRU with `reset_after=True`; the standard cells and the variants whose
step reads only the previous `h` and `c` (`LSTM_FORMS`: a gate constant,
tied or linear; `GRU_FORMS`: the MGU), not peepholes or fgr, zoneout,
DropConnect or layer normalisation. The engine picks this path and checks
the conditions (`_engine.choose`); the same numbers as the cell's step to
float32 round-off (tested, values and gradients, both loops, every
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


class _Record:
    """What the forward loop keeps of every step, per name, for the
    backward loop: Python lists (`symbolic=False`) or `(time, batch, n)`
    buffers written in place (`symbolic=True`)."""

    def __init__(self, symbolic, steps, like, widths):
        self.symbolic = symbolic
        if symbolic:
            batch = ops.shape(like)[0]
            self.data = {
                name: ops.zeros((steps, batch, width), like.dtype)
                for name, width in widths.items()
            }
        else:
            self.data = {name: [] for name in widths}

    def write(self, data, t, values):
        """`data` with step `t`'s `values` (a dict by name) added."""
        if not self.symbolic:
            for name, value in values.items():
                data[name].append(value)
            return data
        return {
            name: ops.slice_update(
                data[name], (t, 0, 0), ops.expand_dims(values[name], 0)
            )
            for name in data
        }


def _stacked(steps):
    """A record's steps as one time-major tensor."""
    return ops.stack(steps) if isinstance(steps, list) else steps


def _at(steps, t):
    """Step `t` of a record (a list, or a time-major tensor; `t` an int
    or a scalar tensor)."""
    return steps[t] if isinstance(t, int) else ops.take(steps, t, axis=0)


def _previous(steps, t, first):
    """Step `t - 1` of a record, or `first` at t = 0."""
    if isinstance(t, int):
        return steps[t - 1] if t else first
    return ops.where(t > 0, _at(steps, ops.maximum(t - 1, 0)), first)


def _loop(symbolic, steps, body, carry, reverse=False):
    """`body(t, carry) -> carry` for t over the steps (in reverse order
    when `reverse`): a Python loop, or `keras.ops.fori_loop`."""
    if not symbolic:
        order = reversed(range(steps)) if reverse else range(steps)
        for t in order:
            carry = body(t, carry)
        return carry
    if reverse:
        return ops.fori_loop(
            0, steps, lambda k, c: body(steps - 1 - k, c), carry
        )
    return ops.fori_loop(0, steps, body, carry)


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

    @functools.cached_property
    def position(self) -> dict:
        """Each block's place in `blocks`, found once, not at every step."""
        return {name: k for k, name in enumerate(self.blocks)}

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


def _upstream(up, t, n, blocks, with_gates):
    """Step `t`'s upstream gradient, split into `blocks` units-wide blocks
    with gates (the packed layout), else `(h, None, ...)`."""
    step = _at(up, t)
    if not with_gates:
        return (step,) + (None,) * (blocks - 1)
    return tuple(step[:, k * n : (k + 1) * n] for k in range(blocks))


def lstm(xp, h0, c0, recurrent_kernel, with_gates, symbolic=False, form=None):
    """LSTM over `xp` `(batch, time, blocks * units)` (projected, bias
    included); `form` (an `LSTMForm`, default the standard cell) says
    which equations.

    Returns `(batch, time, 6 units)` packed `[i|f|g|o|c|h]` with gates,
    else `(batch, time + 1, units)`: every `h`, then the final `c`.
    """

    form = form or STANDARD_LSTM
    width = len(form.blocks)

    @ops.custom_gradient
    def run(xp, h0, c0, kernel):
        xs = _time_major(xp)
        steps, n = xs.shape[0], h0.shape[-1]
        record = _Record(
            symbolic,
            steps,
            h0,
            {"s": width * n, "g": n, "c": n, "tanh_c": n, "h": n},
        )

        def forward(t, carry):
            h, c, data = carry
            s, g, c, tanh_c, h = _lstm_step(_at(xs, t), h, c, kernel, n, form)
            kept = {"s": s, "g": g, "c": c, "tanh_c": tanh_c, "h": h}
            return h, c, record.write(data, t, kept)

        _, c, kept = _loop(symbolic, steps, forward, (h0, c0, record.data))
        if with_gates:
            h_all, g_all = _stacked(kept["h"]), _stacked(kept["g"])
            i, f, o = _sigmoid_gates(_stacked(kept["s"]), n, form)
            ones = ops.ones_like(g_all)
            result = ops.concatenate(
                [
                    ones if i is None else i,
                    ones if f is None else f,
                    g_all,
                    ones if o is None else o,
                    _stacked(kept["c"]),
                    h_all,
                ],
                axis=-1,
            )
        elif symbolic:
            h_all = kept["h"]
            result = ops.concatenate([h_all, ops.expand_dims(c, 0)], axis=0)
        else:
            result = ops.stack([*kept["h"], c])
            h_all = result[:steps]

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            up = _time_major(upstream)
            if with_gates:
                # Packed as [i|f|g|o|c|h]; the step takes (h, i, f, g, o, c).
                def upstream_at(t):
                    i, f, g, o, c, h = _upstream(up, t, n, 6, True)
                    return h, i, f, g, o, c

                dc = ops.zeros_like(c0)
            else:

                def upstream_at(t):
                    return _upstream(up, t, n, 6, False)

                dc = up[steps]
            kernel_t = ops.transpose(kernel)
            back = _Record(symbolic, steps, h0, {"dz": width * n})

            def backward(t, carry):
                dh, dc, data = carry
                dh, dc, dz = _lstm_step_back(
                    dh,
                    dc,
                    upstream_at(t),
                    _at(kept["s"], t),
                    _at(kept["g"], t),
                    _previous(kept["c"], t, c0),
                    _at(kept["tanh_c"], t),
                    kernel_t,
                    n,
                    form,
                )
                return dh, dc, back.write(data, t, {"dz": dz})

            dh, dc, data = _loop(
                symbolic,
                steps,
                backward,
                (ops.zeros_like(h0), dc, back.data),
                reverse=True,
            )
            dz_all = data["dz"] if symbolic else ops.stack(data["dz"][::-1])
            d_kernel = _recurrent_kernel_gradient(h0, h_all, dz_all)
            return _time_major(dz_all), dh, dc, d_kernel

        return _time_major(result), grad

    return run(xp, h0, c0, recurrent_kernel)


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


def gru(
    xp,
    h0,
    recurrent_kernel,
    recurrent_bias,
    with_gates,
    symbolic=False,
    tied_reset=False,
):
    """GRU (`reset_after=True`) over `xp` `(batch, time, 3 units)`
    (projected, input bias included); `recurrent_bias` may be None. With
    `tied_reset`, the MGU (`gate_layout.GRU_VARIANTS`): two blocks, the
    update gate's and the candidate's, and r = 1 - z.

    Returns `(batch, time, 4 units)` packed `[z|r|hh|h]` with gates, else
    `(batch, time, units)`, every `h`.
    """
    has_bias = recurrent_bias is not None
    if not has_bias:
        recurrent_bias = ops.zeros((recurrent_kernel.shape[-1],), xp.dtype)

    @ops.custom_gradient
    def run(xp, h0, kernel, bias):
        xs = _time_major(xp)
        steps, n = xs.shape[0], h0.shape[-1]
        bias = bias if has_bias else None
        gated = n if tied_reset else 2 * n
        names = {"zr": gated, "keep": n, "hh": n, "inner_h": n, "h": n}
        record = _Record(symbolic, steps, h0, names)

        def forward(t, carry):
            h, data = carry
            step = _gru_step(_at(xs, t), h, kernel, bias, n, tied_reset)
            h = step[-1]
            return h, record.write(data, t, dict(zip(names, step, strict=True)))

        _, kept = _loop(symbolic, steps, forward, (h0, record.data))
        h_all = _stacked(kept["h"])
        if with_gates:
            gates = [_stacked(kept["zr"])]
            if tied_reset:
                gates.append(_stacked(kept["keep"]))
            result = ops.concatenate(
                [*gates, _stacked(kept["hh"]), h_all], axis=-1
            )
        else:
            result = h_all

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            up = _time_major(upstream)
            kernel_t = ops.transpose(kernel)
            width = gated + n
            back = _Record(symbolic, steps, h0, {"dx": width, "d_inner": width})

            def backward(t, carry):
                dh, data = carry
                if with_gates:
                    z, r, hh, h = _upstream(up, t, n, 4, True)
                    up_t = (h, z, r, hh)
                else:
                    up_t = _upstream(up, t, n, 4, False)
                dh, dx, d_inner = _gru_step_back(
                    dh,
                    up_t,
                    _at(kept["zr"], t),
                    _at(kept["keep"], t),
                    _at(kept["hh"], t),
                    _at(kept["inner_h"], t),
                    _previous(kept["h"], t, h0),
                    kernel_t,
                    n,
                    tied_reset,
                )
                return dh, back.write(data, t, {"dx": dx, "d_inner": d_inner})

            dh, data = _loop(
                symbolic,
                steps,
                backward,
                (ops.zeros_like(h0), back.data),
                reverse=True,
            )
            dx_all, d_inner_all = (
                data[name] if symbolic else ops.stack(data[name][::-1])
                for name in ("dx", "d_inner")
            )
            d_kernel = _recurrent_kernel_gradient(h0, h_all, d_inner_all)
            d_bias = ops.sum(d_inner_all, axis=(0, 1))
            return _time_major(dx_all), dh, d_kernel, d_bias

        return _time_major(result), grad

    return run(xp, h0, recurrent_kernel, recurrent_bias)


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
