"""keras_gates: Keras 3 LSTM and GRU layers whose gates you can read."""

from keras_gates import gate_layout, plots, stats, viewer
from keras_gates.callbacks import (
    GatePlotter,
    GateRecorder,
    load_gate_history,
)
from keras_gates.extract import GateExtractor, convert, extract_gates
from keras_gates.gated_gru import GatedGRU, GatedGRUCell
from keras_gates.gated_lstm import GatedLSTM, GatedLSTMCell
from keras_gates.initializers import Chrono

__version__ = "0.1.0"

__all__ = [
    "Chrono",
    "GatePlotter",
    "GateRecorder",
    "GatedGRU",
    "GatedGRUCell",
    "GatedLSTM",
    "GatedLSTMCell",
    "GateExtractor",
    "convert",
    "extract_gates",
    "gate_layout",
    "load_gate_history",
    "plots",
    "stats",
    "viewer",
]
