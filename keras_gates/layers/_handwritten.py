"""The recurrence with a hand-written backward pass, for the PyTorch backend.

Private. On PyTorch every op of the step loop is a Python-dispatched kernel
and, when training, an autograd node; the step-by-step loop spends more time
in that bookkeeping than in arithmetic. Here the forward loop runs without
autograd and `keras.ops.custom_gradient` supplies the gradient: one reverse
loop over the steps (small elementwise ops and one matmul per step), then
the recurrent kernel's gradient as one matmul over every step at once.
Computing the backward coefficients for all steps at once, in big tensors,
was slower on a CPU than step by step: every new (time, batch, n) tensor is
a fresh allocation.

Only the common case: inputs already projected (`x W + b`, see
`_engine.PROJECT_BEFORE_LOOP`), no mask, no recurrent dropout, tanh/sigmoid,
the GRU with `reset_after=True`. The engine picks this path and checks the
conditions (`_engine.choose`); the same numbers as the cell's step to
float32 round-off (tested, values and gradients).

Each function returns one tensor, since PyTorch's custom gradient takes one
upstream gradient: with gates, the packed gates of every step (the cell's
`return_gates` layout); without, every step's output `h` followed, as one
extra step, by the final cell state (LSTM) - the caller slices them apart.

The loops are Python loops over the (known) number of steps: written for
eager PyTorch (`torch.compile` traces them too). The tests also run them
eagerly on TensorFlow and JAX, where the wrapper does not use them.
"""

from __future__ import annotations

from keras import ops


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


def lstm(xp, h0, c0, recurrent_kernel, with_gates):
    """LSTM over `xp` `(batch, time, 4 units)` (projected, bias included).

    Returns `(batch, time, 6 units)` packed `[i|f|g|o|c|h]` with gates,
    else `(batch, time + 1, units)`: every `h`, then the final `c`.
    """

    @ops.custom_gradient
    def run(xp, h0, c0, kernel):
        xs = _time_major(xp)
        steps, n = xs.shape[0], h0.shape[-1]
        h, c = h0, c0
        sigmoids, candidates, cells, tanh_cells, outputs = [], [], [], [], []
        for t in range(steps):
            z = xs[t] + h @ kernel
            s = ops.sigmoid(z)  # i, f, o (its g block is not used)
            g = ops.tanh(z[:, 2 * n : 3 * n])
            c = s[:, n : 2 * n] * c + s[:, :n] * g
            tanh_c = ops.tanh(c)
            h = s[:, 3 * n :] * tanh_c
            sigmoids.append(s)
            candidates.append(g)
            cells.append(c)
            tanh_cells.append(tanh_c)
            outputs.append(h)
        if with_gates:
            s_all = ops.stack(sigmoids)
            h_all = ops.stack(outputs)
            result = ops.concatenate(
                [
                    s_all[..., : 2 * n],
                    ops.stack(candidates),
                    s_all[..., 3 * n :],
                    ops.stack(cells),
                    h_all,
                ],
                axis=-1,
            )
        else:
            result = ops.stack([*outputs, c])
            h_all = result[:steps]

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            up = _time_major(upstream)
            if with_gates:
                up_i, up_f, up_g, up_o, up_c, up_h = (
                    up[..., k * n : (k + 1) * n] for k in range(6)
                )
                dc = ops.zeros_like(c0)
            else:
                up_h, dc = up, up[steps]
            kernel_t = ops.transpose(kernel)
            dh = ops.zeros_like(h0)
            dzs = [None] * steps
            for t in reversed(range(steps)):
                s, g, tanh_c = sigmoids[t], candidates[t], tanh_cells[t]
                i, f, o = s[:, :n], s[:, n : 2 * n], s[:, 3 * n :]
                dh = dh + up_h[t]
                if with_gates:
                    dc = dc + up_c[t]
                dc = dc + dh * o * (1.0 - tanh_c * tanh_c)
                di = dc * g
                df = dc * (cells[t - 1] if t else c0)
                dg = dc * i
                d_o = dh * tanh_c
                if with_gates:
                    di, df = di + up_i[t], df + up_f[t]
                    dg, d_o = dg + up_g[t], d_o + up_o[t]
                dz = ops.concatenate([di, df, dg, d_o], axis=-1)
                sigmoid_slope = s * (1.0 - s)
                slope = ops.concatenate(
                    [
                        sigmoid_slope[:, : 2 * n],
                        1.0 - g * g,
                        sigmoid_slope[:, 3 * n :],
                    ],
                    axis=-1,
                )
                dz = dz * slope
                dc = dc * f
                dh = dz @ kernel_t
                dzs[t] = dz
            dz_all = ops.stack(dzs)
            d_kernel = _recurrent_kernel_gradient(h0, h_all, dz_all)
            return _time_major(dz_all), dh, dc, d_kernel

        return _time_major(result), grad

    return run(xp, h0, c0, recurrent_kernel)


def gru(xp, h0, recurrent_kernel, recurrent_bias, with_gates):
    """GRU (`reset_after=True`) over `xp` `(batch, time, 3 units)`
    (projected, input bias included); `recurrent_bias` may be None.

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
        h = h0
        update_resets, keeps, candidates, inners, outputs = [], [], [], [], []
        for t in range(steps):
            x = xs[t]
            inner = h @ kernel
            if has_bias:
                inner = inner + bias
            zr = ops.sigmoid(x[:, : 2 * n] + inner[:, : 2 * n])
            z = zr[:, :n]
            keep = 1.0 - z
            hh = ops.tanh(x[:, 2 * n :] + zr[:, n:] * inner[:, 2 * n :])
            h = z * h + keep * hh
            update_resets.append(zr)
            keeps.append(keep)
            candidates.append(hh)
            inners.append(inner)
            outputs.append(h)
        h_all = ops.stack(outputs)
        if with_gates:
            result = ops.concatenate(
                [ops.stack(update_resets), ops.stack(candidates), h_all],
                axis=-1,
            )
        else:
            result = h_all

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            up = _time_major(upstream)
            if with_gates:
                up_z, up_r, up_hh, up_h = (
                    up[..., k * n : (k + 1) * n] for k in range(4)
                )
            else:
                up_h = up
            kernel_t = ops.transpose(kernel)
            dh = ops.zeros_like(h0)
            dxs, d_inners = [None] * steps, [None] * steps
            for t in reversed(range(steps)):
                zr, hh, keep = update_resets[t], candidates[t], keeps[t]
                h_prev = outputs[t - 1] if t else h0
                dh = dh + up_h[t]
                dhh = dh * keep
                dz = dh * (h_prev - hh)
                if with_gates:
                    dhh, dz = dhh + up_hh[t], dz + up_z[t]
                da = dhh * (1.0 - hh * hh)
                dr = da * inners[t][:, 2 * n :]
                if with_gates:
                    dr = dr + up_r[t]
                d_zr = ops.concatenate([dz, dr], axis=-1) * zr * (1.0 - zr)
                dxs[t] = ops.concatenate([d_zr, da], axis=-1)
                d_inners[t] = ops.concatenate([d_zr, da * zr[:, n:]], axis=-1)
                dh = dh * zr[:, :n] + d_inners[t] @ kernel_t
            d_inner_all = ops.stack(d_inners)
            d_kernel = _recurrent_kernel_gradient(h0, h_all, d_inner_all)
            d_bias = ops.sum(d_inner_all, axis=(0, 1))
            return _time_major(ops.stack(dxs)), dh, d_kernel, d_bias

        return _time_major(result), grad

    return run(xp, h0, recurrent_kernel, recurrent_bias)
