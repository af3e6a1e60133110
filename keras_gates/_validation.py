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
    if (
        expected_features is not None
        and shape[-1] is not None
        and shape[-1] != expected_features
    ):
        raise ValueError(
            f"{layer_name} was built for {expected_features} input features, "
            f"got inputs of shape {tuple(shape)}"
        )
