"""The edge where each backend's own machinery is called: gradients and
compiled functions, one call per backend.

Keras has no public backend-neutral gradient function, nor a public way to
compile a function that calls a model, nor a way for a layer to learn that
XLA or torch.compile is compiling it, or to compile a piece of its own
call apart; each backend's own (TensorFlow's GradientTape, tf.function and
XLA context, torch.autograd, torch.compile and torch.compiler, jax.grad
and jax.jit) is imported here, only when that backend runs.
"""

from __future__ import annotations

import keras
import numpy as np


def value_and_gradients(function, arguments: list):
    """`(function(arguments), [d function / d argument])` as numpy, for a
    `function` of a list of float tensors that returns a scalar tensor."""
    backend = keras.backend.backend()
    arguments = [keras.ops.convert_to_tensor(a) for a in arguments]
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            for argument in arguments:
                tape.watch(argument)
            value = function(arguments)
        grads = tape.gradient(value, arguments)
        grads = [
            tf.zeros_like(a) if g is None else g
            for a, g in zip(arguments, grads, strict=True)
        ]
    elif backend == "torch":
        import torch

        arguments = [a.detach().requires_grad_(True) for a in arguments]
        value = function(arguments)
        grads = torch.autograd.grad(value, arguments, allow_unused=True)
        grads = [
            torch.zeros_like(a) if g is None else g
            for a, g in zip(arguments, grads, strict=True)
        ]
    elif backend == "jax":
        import jax

        value, grads = jax.value_and_grad(function)(arguments)
    else:  # pragma: no cover - Keras has no other backend today
        raise NotImplementedError(
            f"gradients on the {backend!r} backend are not supported"
        )
    return (
        float(keras.ops.convert_to_numpy(value)),
        [np.asarray(keras.ops.convert_to_numpy(g)) for g in grads],
    )


def compiled(model, function):
    """`function(*arguments)`, a function that calls `model` and returns
    tensors, compiled as Keras compiles `predict`: a `tf.function` on
    TensorFlow, `jax.jit` on JAX (the model's variables passed in at each
    call, so later weights are seen), as it is on torch (Keras's torch
    `predict` runs eagerly too). A new structure of arguments traces
    anew."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(function, reduce_retracing=True)
    if backend == "jax":
        import jax

        def pure(values, arguments):
            mapping = list(zip(model.variables, values, strict=True))
            with keras.StatelessScope(state_mapping=mapping):
                return function(*arguments)

        jitted = jax.jit(pure)
        return lambda *arguments: jitted(
            [variable.value for variable in model.variables], arguments
        )
    return function


def xla_tracing() -> bool:
    """Whether TensorFlow is tracing the current call for XLA.

    Keras keeps `jit_compile` on the model's trainer, out of a layer's
    sight; `tf.function(jit_compile=True)` (which Keras's trainer uses)
    traces inside an `XLAControlFlowContext`, and TensorFlow's own
    `control_flow_util.GraphOrParentsInXlaContext` finds it from any graph
    nested in that function. False on the other backends (JAX's loops are
    linear in the length under XLA; PyTorch has none), and if TensorFlow
    moves the function (tested)."""
    if keras.backend.backend() != "tensorflow":
        return False
    try:
        from tensorflow.python.framework import ops as tf_ops
        from tensorflow.python.ops import control_flow_util
    except ImportError:
        return False
    find = getattr(control_flow_util, "GraphOrParentsInXlaContext", None)
    if find is None:
        return False
    return bool(find(tf_ops.get_default_graph()))


def rematerialised_loop(step, sequences, state0, closed=(), bind=None):
    """Keras's step loop for a graph compiler, without a gradient through
    the loop: `(outputs, states)`, `outputs` `(batch, time, width)` every
    step's output of `step(inputs_t, states) -> (output, new_states)` over
    `sequences` `(batch, time, features)` (a known length), `states` the
    last.

    TensorFlow only (the engine asks for it under XLA): the gradient of
    Keras's loop goes through TensorLists, which XLA rebuilds densely at
    every step (a cost that grows with the length squared). Here the
    forward loop keeps each step's input states, and the gradient is a
    second loop that recomputes each step under a `tf.GradientTape` and
    takes that step's gradient (inputs, states and every variable the step
    reads), as `tf.custom_gradient` asks. A tensor the step closes over
    would get no gradient: `closed` are those made from weights outside
    the loop (DropConnect's masked kernel), passed in as inputs, and
    `bind(tensors)` makes the step read the given ones in their place and
    returns those it read before.
    """
    import tensorflow as tf

    steps = sequences.shape[1]
    xs = tf.transpose(sequences, [1, 0, 2])
    count, closed = len(state0), list(closed)

    @tf.custom_gradient
    def run(xs, *inputs):
        state0, inner = list(inputs[:count]), list(inputs[count:])
        if inner:
            bind(inner)

        def forward(t, states, outputs, kept):
            output, new = step(xs[t], list(states))
            kept = [
                each.write(t, s) for each, s in zip(kept, states, strict=True)
            ]
            return t + 1, list(new), outputs.write(t, output), kept

        _, last, outputs, kept = tf.while_loop(
            lambda t, *_: t < steps,
            forward,
            (
                tf.constant(0),
                list(state0),
                tf.TensorArray(xs.dtype, size=steps),
                [tf.TensorArray(s.dtype, size=steps) for s in state0],
            ),
            maximum_iterations=steps,
        )
        kept = [each.stack() for each in kept]
        outputs = outputs.stack()

        def grad(d_outputs, *d_last, variables=None):
            variables = list(variables or ())
            if d_outputs is None:
                d_outputs = tf.zeros_like(outputs)
            # The caller has unbound them since: bound for the recompute.
            before = bind(inner) if inner else []
            wanted = inner + variables

            def backward(k, d_states, d_xs, d_wanted):
                t = steps - 1 - k
                x, previous = xs[t], [each[t] for each in kept]
                with tf.GradientTape() as tape:
                    tape.watch([x, *previous, *inner])
                    output, new = step(x, previous)
                found = tape.gradient(
                    [output, *new],
                    [x, *previous, *wanted],
                    output_gradients=[d_outputs[t], *d_states],
                    unconnected_gradients=tf.UnconnectedGradients.ZERO,
                )
                d_wanted = [
                    total + each
                    for total, each in zip(
                        d_wanted, found[1 + count :], strict=True
                    )
                ]
                return (
                    k + 1,
                    list(found[1 : 1 + count]),
                    d_xs.write(t, found[0]),
                    d_wanted,
                )

            _, d_state0, d_xs, d_wanted = tf.while_loop(
                lambda k, *_: k < steps,
                backward,
                (
                    tf.constant(0),
                    [
                        tf.zeros_like(s) if d is None else d
                        for s, d in zip(last, d_last, strict=True)
                    ],
                    tf.TensorArray(xs.dtype, size=steps),
                    [tf.zeros_like(v) for v in wanted],
                ),
                maximum_iterations=steps,
            )
            if inner:
                bind(before)
            d_inner, d_variables = (
                d_wanted[: len(inner)],
                d_wanted[len(inner) :],
            )
            return [d_xs.stack(), *d_state0, *d_inner], d_variables

        return [outputs, *last], grad

    outputs, *states = run(xs, *state0, *closed)
    return tf.transpose(outputs, [1, 0, 2]), states


def torch_compiling() -> bool:
    """Whether `torch.compile` is tracing the current call (Keras's
    `jit_compile=True` on PyTorch). False on the other backends."""
    if keras.backend.backend() != "torch":
        return False
    import torch

    return torch.compiler.is_compiling()


def compiled_region(function):
    """`function` compiled on its own by `torch.compile` (one trace for
    every call with inputs of the same kind); `function` itself on the
    other backends. Made once, outside any compiled function; called
    inside `untraced` (a compiled caller would trace through it)."""
    if keras.backend.backend() != "torch":
        return function
    import torch

    return torch.compile(function)


def untraced(function):
    """`function` left out of any `torch.compile` that calls it
    (`torch.compiler.disable`: the caller's graph stops there and calls it
    as Python; a `compiled_region` inside still compiles); `function`
    itself on the other backends. Made once, outside any compiled
    function."""
    if keras.backend.backend() != "torch":
        return function
    import torch

    return torch.compiler.disable(function)
