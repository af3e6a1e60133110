"""Bias initialisers for long memories: Chrono (Tallec & Ollivier 2018)."""

from __future__ import annotations

import keras
from keras import ops

from keras_gates import _validation as check
from keras_gates.gate_layout import (
    GRU_WEIGHT_GATES,
    LSTM_WEIGHT_GATES,
    join_blocks,
)


@keras.saving.register_keras_serializable(package="keras_gates")
class Chrono(keras.initializers.Initializer):
    """Chrono bias initialisation: gates that remember for up to T steps.

    Tallec & Ollivier 2018 ("Can recurrent neural networks warp time?")
    draw the forget bias so that the forget gate's characteristic memory
    spans 1 to T - 1 steps:

        LSTM: b_f = log(u), b_i = -b_f, u ~ U[1, max_timesteps - 1];
              candidate and output biases 0.
        GRU:  b_z = log(u) for Keras's update gate z (the share of the old
              state kept, so z starts near 1 - 1/u), reset and candidate 0.

    It initialises the whole bias vector, so it needs the full shape: with
    an LSTM pass `unit_forget_bias=False` (Keras would otherwise call it once
    per gate block). Works with `keras.layers.LSTM`/`GRU` as well as with
    the gated layers.

    Args:
        max_timesteps: int >= 2, the longest dependency expected (T).
        cell: `"lstm"` (default) or `"gru"`: which gate layout the bias has.
        seed: int or None.

    Example:

    >>> layer = GatedLSTM(
    ...     8, unit_forget_bias=False, bias_initializer=Chrono(100))

    References:
        Tallec & Ollivier 2018, "Can recurrent neural networks warp time?",
        ICLR.
    """

    def __init__(self, max_timesteps: int, cell: str = "lstm", seed=None):
        max_timesteps = check.positive_int("max_timesteps", max_timesteps)
        if max_timesteps < 2:
            raise ValueError(
                f"max_timesteps must be at least 2, got {max_timesteps}"
            )
        check.one_of("cell", cell, ("lstm", "gru"))
        self.max_timesteps = max_timesteps
        self.cell = cell
        self.seed = seed
        self._seed_generator = keras.random.SeedGenerator(seed)

    def __call__(self, shape, dtype=None):
        gates = LSTM_WEIGHT_GATES if self.cell == "lstm" else GRU_WEIGHT_GATES
        shape = tuple(shape)
        if not shape or shape[-1] % len(gates) or len(shape) > 2:
            raise ValueError(
                f"Chrono(cell={self.cell!r}) initialises a whole "
                f"{self.cell.upper()} bias of shape ({len(gates)} * units,)"
                f"{' or (2, 3 * units)' if self.cell == 'gru' else ''}, got "
                f"shape {shape}; with an LSTM pass unit_forget_bias=False"
            )
        units = shape[-1] // len(gates)
        log_u = ops.log(
            keras.random.uniform(
                (units,),
                minval=1.0,
                maxval=float(self.max_timesteps - 1),
                seed=self._seed_generator,
                dtype=dtype,
            )
        )
        blocks = {gate: ops.zeros((units,), dtype=dtype) for gate in gates}
        if self.cell == "lstm":
            blocks["forget"], blocks["input"] = log_u, -log_u
        else:
            blocks["update"] = log_u
        bias = join_blocks(blocks, gates)
        if len(shape) == 2:
            # reset_after GRU: (input bias, recurrent bias); the input row
            # carries Chrono, the recurrent row starts at 0.
            rows = [bias] + [ops.zeros_like(bias)] * (shape[0] - 1)
            bias = ops.stack(rows)
        return bias

    def get_config(self):
        return {
            "max_timesteps": self.max_timesteps,
            "cell": self.cell,
            "seed": self.seed,
        }
