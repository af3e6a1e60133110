"""The layer tests again on Keras's PyTorch and JAX backends.

Keras picks its backend once per process, so each backend runs the layer
test modules in a subprocess. A backend whose package is missing is skipped,
except in CI (CI=true), where a skipped backend would hide a failure.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

LAYER_TESTS = [
    "tests/test_equivalence.py",
    "tests/test_gated_lstm.py",
    "tests/test_gated_gru.py",
    "tests/test_gates_out.py",
    "tests/test_extract.py",
    "tests/test_variants.py",
    "tests/test_keras_bridge.py",
    "tests/test_errors.py",
    "tests/test_keras_own_tests.py",
    "tests/test_interventions.py",
    "tests/test_attribution.py",
]
ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_layer_suite_passes_on_backend(backend):
    if importlib.util.find_spec(backend) is None:
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"CI must run the layer tests on {backend}: pip install "
                f"{backend} (see .ci/run)"
            )
        pytest.skip(f"{backend} is not installed")
    env = {**os.environ, "KERAS_BACKEND": backend}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        + LAYER_TESTS,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
