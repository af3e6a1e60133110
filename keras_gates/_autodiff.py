"""The edge where each backend's own machinery is called: gradients and
compiled functions, one call per backend.

Keras has no public backend-neutral gradient function, nor a public way to
compile a function that calls a model, nor a way for a layer to learn that
XLA is compiling it; each backend's own (TensorFlow's GradientTape,
tf.function and XLA context, torch.autograd, jax.grad and jax.jit) is
imported here, only when that backend runs.
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
