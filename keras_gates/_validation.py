"""Argument checks that name the argument, the value and what was expected."""

from __future__ import annotations

import numbers

import keras


def positive_int(name: str, value) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value <= 0
    ):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def rate(name: str, value) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not 0.0 <= value < 1.0
    ):
        raise ValueError(f"{name} must be a float in [0, 1), got {value!r}")
    return float(value)


def activation(name: str, value):
    try:
        return keras.activations.get(value)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"{name} must be the name of a Keras activation (e.g. 'tanh', "
            f"'sigmoid'), a callable or None, got {value!r}"
        ) from error


def one_of(name: str, value, allowed: tuple):
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def boolean(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def sequence_input(layer_name: str, shape, expected_features=None) -> None:
    """Checks a recurrent layer's input shape at the point of the call."""
    if len(shape) != 3:
        raise ValueError(
            f"{layer_name} expects inputs of shape (batch, time, features), "
            f"got a {len(shape)}-D input of shape {tuple(shape)}"
        )
    if shape[1] == 0:
        raise ValueError(
            f"{layer_name} needs at least one timestep, got inputs of shape "
            f"{tuple(shape)} (time 0)"
        )
    if (
        expected_features is not None
        and shape[-1] is not None
        and shape[-1] != expected_features
    ):
        raise ValueError(
            f"{layer_name} was built for {expected_features} input features, "
            f"got inputs of shape {tuple(shape)}"
        )


def _dims_agree(a, b) -> bool:
    return a is None or b is None or a == b


def sequence_mask(layer_name: str, mask_shape, inputs_shape) -> None:
    """A time-step mask is `(batch, time)`, the inputs' first two sizes."""
    expected = tuple(inputs_shape[:2])
    if len(mask_shape) != 2 or not all(
        _dims_agree(m, i) for m, i in zip(mask_shape, expected, strict=True)
    ):
        raise ValueError(
            f"{layer_name}: mask must have shape (batch, time) = {expected}, "
            f"the first two sizes of the inputs {tuple(inputs_shape)}; got a "
            f"mask of shape {tuple(mask_shape)}"
        )


def initial_states(layer_name: str, states, names, batch, sizes) -> None:
    """`initial_state` is one `(batch, size)` tensor per state, in order."""
    shapes = [(batch, size) for size in sizes]
    if len(set(sizes)) == 1:
        expected = f"(batch, units) = {shapes[0]}"
        each = f"each of shape {expected}"
        listed = ", ".join(names)
    else:
        expected = None
        each = "of shapes (batch, size)"
        listed = ", ".join(
            f"{n} {shape}" for n, shape in zip(names, shapes, strict=True)
        )
    if len(states) != len(names):
        what = (
            f"1 tensor ({names[0]}) of shape {expected}"
            if len(names) == 1
            else f"{len(names)} tensors ({listed}), {each}"
        )
        raise ValueError(
            f"{layer_name}: initial_state must be {what}; got "
            f"{len(states)} tensors"
        )
    for name, state, (rows, size) in zip(names, states, shapes, strict=True):
        shape = tuple(getattr(state, "shape", ()))
        if len(shape) != 2 or not (
            _dims_agree(shape[0], rows) and _dims_agree(shape[1], size)
        ):
            wanted = expected or f"(batch, size) = {(rows, size)}"
            raise ValueError(
                f"{layer_name}: initial_state {name} must have shape "
                f"{wanted}; got {shape}"
            )
