"""The layers: the cells' equations as pure steps, their whole-sequence
forms (gate recovery, the hand-written backward pass), the `RNN`
wrappers and the initialisers."""

from keras_gates.layers.gated_gru import GatedGRU, GatedGRUCell
from keras_gates.layers.gated_lstm import GatedLSTM, GatedLSTMCell
from keras_gates.layers.initializers import Chrono

__all__ = ["Chrono", "GatedGRU", "GatedGRUCell", "GatedLSTM", "GatedLSTMCell"]
