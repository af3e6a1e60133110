"""Reading a trained model: `extract_gates`, `GateExtractor`, `convert`,
and statistics of gate arrays (`stats`, numpy only)."""

from keras_gates.inspection import stats
from keras_gates.inspection.extract import GateExtractor, convert, extract_gates

__all__ = ["GateExtractor", "convert", "extract_gates", "stats"]
