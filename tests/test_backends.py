"""The layer tests again on Keras's PyTorch and JAX backends.

Keras picks its backend once per process, so each backend runs the layer
test modules in a subprocess. The subprocesses start as soon as the
session has collected this module, and the tests here, which wait for
them, run last (`tests/conftest.py`): the subprocesses run beside the
TensorFlow tests instead of after them. A backend whose package is
missing is skipped, except in CI (CI=true), where a skipped backend would
hide a failure.
"""

import importlib.util
import os
import subprocess
import sys
import tempfile
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
    "tests/test_zoneout_dropconnect.py",
    "tests/test_layer_norm.py",
]
BACKENDS = ["torch", "jax"]
ROOT = Path(__file__).resolve().parents[1]


def start(backend: str):
    """The layer tests on `backend` in a subprocess, or None when the
    backend is not installed."""
    if importlib.util.find_spec(backend) is None:
        return None
    env = {**os.environ, "KERAS_BACKEND": backend}
    # Files, not pipes: a long failure report must not block the child.
    output = tempfile.TemporaryFile(mode="w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        + LAYER_TESTS,
        cwd=ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
    )
    process.output = output
    return process


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_layer_suite_passes_on_backend(backend, request):
    runs = getattr(request.config, "backend_runs", {})
    process = runs[backend] if backend in runs else start(backend)
    if process is None:
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"CI must run the layer tests on {backend}: pip install "
                f"{backend} (see .ci/run)"
            )
        pytest.skip(f"{backend} is not installed")
    process.wait()
    process.output.seek(0)
    report = process.output.read()
    assert process.returncode == 0, report[-7000:]
