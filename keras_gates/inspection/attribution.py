"""Which gate values an output depends on: gradients and integrated
gradients with respect to every gate of a recurrent layer, every step.

Both differentiate through the recurrence itself: a gate's value at step
t is an input of step t and, through the cell state, of every later step,
so its gradient counts every path from it to the output. They run on a
gated copy of the model (`intervene`'s mechanism: the gradient with
respect to a shift added to the gate as it is computed), on every backend.

References:
    Sundararajan, Taly & Yan 2017, "Axiomatic Attribution for Deep
    Networks" (integrated gradients); Arras et al. 2017, "Explaining
    Recurrent Neural Network Predictions in Sentiment Analysis" (LRP for
    LSTMs, which splits the relevance at the cell's sums instead).
"""

from __future__ import annotations

import keras
import numpy as np

from keras_gates import _autodiff
from keras_gates.inspection.interventions import EditedRun


def _scalar(target, outputs):
    """The summed target: per-sequence outputs are independent, so the
    gradient of the sum is each sequence's own gradient."""
    if target is None:
        chosen = outputs
    elif callable(target):
        chosen = target(outputs)
    else:
        chosen = outputs[..., int(target)]
    return keras.ops.sum(chosen)


def _check_target(target):
    if target is not None and not callable(target):
        if isinstance(target, bool) or not isinstance(
            target, (int, np.integer)
        ):
            raise TypeError(
                "target must be None (the sum of the outputs), the index of "
                f"an output unit or a callable, got {target!r}"
            )


def gate_gradients(
    model, inputs, layer_path: str, target=None, gates=None
) -> dict:
    """The gradient of an output with respect to a layer's gates.

    Args:
        model: a built model with LSTM/GRU layers (built-in or gated).
        inputs: what `model` takes.
        layer_path: the layer, as `extract_gates` names it.
        target: what to differentiate: None (the sum of the model's
            outputs), the index of an output unit (last axis), or a
            callable from the outputs to a tensor (summed).
        gates: the gates to differentiate with respect to (default all of
            `gate_layout.gate_names` for the layer).

    Returns:
        `{gate: (batch, time, units) array}`: d target / d gate value at
        each step, in the input's time order, counting every path through
        later steps; 0 at masked steps.
    """
    _check_target(target)
    run = EditedRun.of(model)
    names = run.gate_names(layer_path)
    gates = list(names if gates is None else gates)
    for gate in gates:
        run.check_gate(layer_path, gate)
    shape = run.shapes(inputs)[layer_path]
    dtype = run.layers[layer_path].compute_dtype
    ones = keras.ops.ones(shape, dtype)

    def function(shifts):
        table = {
            gate: (ones, shift)
            for gate, shift in zip(gates, shifts, strict=True)
        }
        outputs, _ = run(inputs, {layer_path: table})
        return _scalar(target, outputs)

    zeros = [np.zeros(shape, dtype) for _ in gates]
    _, grads = _autodiff.value_and_gradients(function, zeros)
    return dict(zip(gates, grads, strict=True))


def integrated_gradients(
    model,
    inputs,
    layer_path: str,
    gate: str,
    baseline=0.0,
    steps: int = 32,
    target=None,
) -> dict:
    """Integrated gradients of an output over one gate's values.

    Along the straight path from `baseline` to the gate's actual values
    (every step and unit of the layer at once, the gate held at the path's
    value while everything else runs on), the gradient is averaged at
    `steps` midpoints and multiplied by `actual - baseline`.

    Args:
        model, inputs, layer_path, target: as for `gate_gradients`.
        gate: the gate, as `gate_layout.gate_names` names it.
        baseline: a number, or an array broadcastable to `(batch, time,
            units)`.
        steps: the number of points on the path.

    Returns:
        `{"attributions": (batch, time, units), "output": F(actual),
        "baseline_output": F(baseline), "gap": sum(attributions) -
        (F(actual) - F(baseline))}` with F the summed target; `gap` is the
        completeness error, which shrinks as `steps` grows. Masked steps
        get 0.
    """
    _check_target(target)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    run = EditedRun.of(model)
    run.check_gate(layer_path, gate)
    actual = run.read(inputs)[layer_path][gate].astype("float64")
    valid = ~np.isnan(actual)
    actual = np.nan_to_num(actual)
    start = np.broadcast_to(np.asarray(baseline, "float64"), actual.shape)
    dtype = run.layers[layer_path].compute_dtype
    held = keras.ops.convert_to_tensor(np.where(valid, 0.0, 1.0), dtype)

    def value_at(alpha):
        point = start + alpha * (actual - start)
        return np.where(valid, point, 0.0).astype(dtype)

    def function(arguments):
        outputs, _ = run(inputs, {layer_path: {gate: (held, arguments[0])}})
        return _scalar(target, outputs)

    total = np.zeros(actual.shape)
    for k in range(steps):
        _, (grad,) = _autodiff.value_and_gradients(
            function, [value_at((k + 0.5) / steps)]
        )
        total += grad
    attributions = np.where(valid, (actual - start) * total / steps, 0.0)
    ends = [
        float(
            keras.ops.convert_to_numpy(
                function([keras.ops.convert_to_tensor(value_at(a))])
            )
        )
        for a in (1.0, 0.0)
    ]
    return {
        "attributions": attributions,
        "output": ends[0],
        "baseline_output": ends[1],
        "gap": float(attributions.sum() - (ends[0] - ends[1])),
    }
