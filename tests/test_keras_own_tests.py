"""Keras's own tests of its recurrent layers, with the gated ones swapped in.

`lstm_test.py`, `gru_test.py`, `bidirectional_test.py` and
`stacked_rnn_cells_test.py` ship inside the installed keras wheel. Each is
run here as Keras wrote it, except that the `layers` it reads has
`GatedLSTM`, `GatedGRU`, `GatedLSTMCell` and `GatedGRUCell` in place of
`LSTM`, `GRU`, `LSTMCell` and `GRUCell`: a drop-in replacement passes the
built-in's own tests (their golden numbers included), on every backend
(tests/test_backends.py). The few that test something other than the
layer's numbers are listed in `NOT_FOR_GATED_LAYERS` with the reason.
"""

import types
from pathlib import Path

import keras
import pytest
from keras.src import layers as keras_layers
from keras.src import testing

from keras_gates import GatedGRU, GatedGRUCell, GatedLSTM, GatedLSTMCell

KERAS_TESTS = Path(keras.__file__).parent / "src" / "layers" / "rnn"
FILES = [
    "lstm_test",
    "gru_test",
    "bidirectional_test",
    "stacked_rnn_cells_test",
]
SWAPS = {
    "LSTM": GatedLSTM,
    "GRU": GatedGRU,
    "LSTMCell": GatedLSTMCell,
    "GRUCell": GatedGRUCell,
}
# "<file>.<class>.<test>" -> why it does not apply to the gated layers.
NOT_FOR_GATED_LAYERS = {
    "bidirectional_test.SimpleRNNTest.test_fused_lstm_eligibility": (
        "Keras's fused Bidirectional path takes its own LSTM class only "
        "(keras_gates' speed work, not the layers' numbers)"
    ),
    "bidirectional_test.SimpleRNNTest.test_fused_gru_eligibility": (
        "Keras's fused Bidirectional path takes its own GRU class only "
        "(keras_gates' speed work, not the layers' numbers)"
    ),
}
# Keras's run_layer_test trains from a generator with shuffle=True and
# warns about it, for the built-in layers too.
pytestmark = pytest.mark.filterwarnings(
    "ignore:`shuffle=True` was passed:UserWarning"
)


def swapped_layers() -> types.ModuleType:
    swapped = types.ModuleType("keras_layers_with_gated_rnns")
    swapped.__dict__.update(vars(keras_layers))
    swapped.__dict__.update(SWAPS)
    return swapped


def load(name: str, layers: types.ModuleType) -> types.ModuleType:
    """Keras's test module `name`, its `layers` replaced by `layers`."""
    path = KERAS_TESTS / f"{name}.py"
    module = types.ModuleType(f"keras_own_{name}")
    module.__file__ = str(path)
    exec(compile(path.read_text("utf-8"), str(path), "exec"), vars(module))
    module.layers = layers
    return module


def _skip(test_class, method, reason):
    def skipped(self, *args, **kwargs):
        pytest.skip(reason)

    setattr(test_class, method, skipped)


def collect():
    """Keras's TestCase classes, renamed per file so that pytest collects
    them here."""
    if not KERAS_TESTS.joinpath("lstm_test.py").exists():
        return {}
    layers = swapped_layers()
    found = {}
    for name in FILES:
        module = load(name, layers)
        for attr, value in vars(module).items():
            if (
                isinstance(value, type)
                and issubclass(value, testing.TestCase)
                and value.__module__ == module.__name__
            ):
                for key, reason in NOT_FOR_GATED_LAYERS.items():
                    file, cls, method = key.split(".")
                    if (file, cls) == (name, attr):
                        _skip(value, method, reason)
                found[f"TestKeras_{name}_{attr}"] = value
    return found


globals().update(collect())


def test_keras_own_tests_are_found():
    """The installed keras ships its tests, and they were collected."""
    assert KERAS_TESTS.joinpath("lstm_test.py").exists()
    assert len([k for k in globals() if k.startswith("TestKeras_")]) >= 4
