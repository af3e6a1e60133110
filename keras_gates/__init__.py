"""keras_gates: Keras 3 LSTM and GRU layers whose gates you can read.

The rooms: `layers` (the cells and their wrappers), `engine` (which path
runs a sequence; the bridge to Keras's internals), `inspection` (reading a
trained model, statistics), `viz` (figures, the HTML viewer), `callbacks`
(fit-time glue), `tasks` (synthetic long-dependency tasks, numpy) and
`gate_layout` (gate names and block order). This module only re-exports.
"""

import sys as _sys

from keras_gates import gate_layout, tasks
from keras_gates.callbacks import (
    GatePlotter,
    GateRecorder,
    load_gate_history,
)
from keras_gates.inspection import (
    Clamp,
    GateExtractor,
    MeanAblate,
    Patch,
    Scale,
    convert,
    extract_gates,
    gate_gradients,
    integrated_gradients,
    intervene,
    memory_contributions,
    stats,
)
from keras_gates.layers import (
    Chrono,
    GatedGRU,
    GatedGRUCell,
    GatedLSTM,
    GatedLSTMCell,
)
from keras_gates.viz import plots, viewer

# The module paths of 0.1.0 (`from keras_gates.plots import gate_heatmap`)
# still import: the modules now live in their rooms.
for _name, _module in {
    "plots": plots,
    "stats": stats,
    "viewer": viewer,
}.items():
    _sys.modules[f"{__name__}.{_name}"] = _module
del _name, _module

__version__ = "0.1.0"

__all__ = [
    "Chrono",
    "Clamp",
    "MeanAblate",
    "Patch",
    "Scale",
    "gate_gradients",
    "integrated_gradients",
    "intervene",
    "memory_contributions",
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
    "tasks",
    "viewer",
]
