"""Reading a trained model and changing it: `extract_gates`,
`GateExtractor`, `convert`, `intervene` and its edits,
`memory_contributions`, `gate_gradients`, `integrated_gradients`, and
statistics of
gate arrays (`stats`, numpy only)."""

from keras_gates.inspection import stats
from keras_gates.inspection.attribution import (
    gate_gradients,
    integrated_gradients,
)
from keras_gates.inspection.contributions import memory_contributions
from keras_gates.inspection.extract import GateExtractor, convert, extract_gates
from keras_gates.inspection.interventions import (
    Clamp,
    MeanAblate,
    Patch,
    Scale,
    intervene,
)

__all__ = [
    "Clamp",
    "GateExtractor",
    "MeanAblate",
    "Patch",
    "Scale",
    "convert",
    "extract_gates",
    "gate_gradients",
    "integrated_gradients",
    "intervene",
    "memory_contributions",
    "stats",
]
