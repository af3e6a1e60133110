"""The layer tests again on Keras's PyTorch and JAX backends.

Keras picks its backend once per process, so each backend runs the layer
test modules in a subprocess. The subprocesses start as soon as the
session has collected this module (under pytest-xdist, in its first
worker, and a test on any worker reads their files), and the tests here,
last, only wait for them (`tests/conftest.py`): the subprocesses run
beside the TensorFlow tests instead of after them. A
backend whose package is missing is skipped, except in CI (CI=true),
where a skipped backend would hide a failure.
"""

import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
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


def shared_folder(config):
    """Under pytest-xdist, the folder where the suites started by the first
    worker write their output and exit status for a test on any worker;
    None outside xdist."""
    worker = getattr(config, "workerinput", None)
    if worker is None:
        return None
    return run_folder(worker["testrunuid"])


def run_folder(testrunuid: str) -> Path:
    """The shared folder of the xdist run `testrunuid`."""
    return Path(tempfile.gettempdir()) / f"keras_gates_backends_{testrunuid}"


def start(backend: str, shared=None):
    """The layer tests on `backend` in a subprocess, or None when the
    backend is not installed. With `shared` (`shared_folder`), its output
    goes to `<backend>.log` there and, once it ends, its exit status to
    `<backend>.status` (written by a thread of this process)."""
    if importlib.util.find_spec(backend) is None:
        return None
    env = {**os.environ, "KERAS_BACKEND": backend}
    if shared is not None and backend == "jax":
        # XLA's compile cache (tests/conftest.py) where the run's end
        # removes it.
        env["KERAS_GATES_JAX_CACHE"] = str(shared / "jax-cache")
    # Files, not pipes: a long failure report must not block the child.
    if shared is None:
        output = tempfile.TemporaryFile(mode="w+")
    else:
        shared.mkdir(exist_ok=True)
        output = open(shared / f"{backend}.log", "w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        + LAYER_TESTS,
        cwd=ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
        # Its own process group, so that stopping it also stops any
        # process it started.
        start_new_session=True,
    )
    process.output = output
    process.reporter = None
    if shared is not None:

        def report_status():
            status = process.wait()
            written = shared / f"{backend}.status.part"
            written.write_text(str(status))
            written.replace(shared / f"{backend}.status")

        process.reporter = threading.Thread(target=report_status, daemon=True)
        process.reporter.start()
    return process


def stop(process):
    """Stops a suite and any process it started."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def finished(process):
    """`(exit status, output)` of a suite this process started."""
    process.wait()
    with process.output:
        process.output.seek(0)
        return process.returncode, process.output.read()


def finished_elsewhere(backend, shared, minutes=60):
    """`(exit status, output)` of a suite another worker started."""
    status = shared / f"{backend}.status"
    deadline = time.monotonic() + 60 * minutes
    while not status.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"the {backend} suite did not end in {minutes} min")
        time.sleep(1)
    return int(status.read_text()), (shared / f"{backend}.log").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_layer_suite_passes_on_backend(backend, request):
    runs = getattr(request.config, "backend_runs", {})
    shared = shared_folder(request.config)
    if backend in runs:
        process = runs[backend]
    elif shared is not None and (shared / f"{backend}.log").exists():
        returncode, report = finished_elsewhere(backend, shared)
        assert returncode == 0, report[-7000:]
        return
    else:
        process = start(backend)
    if process is None:
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"CI must run the layer tests on {backend}: pip install "
                f"{backend} (see .ci/run)"
            )
        pytest.skip(f"{backend} is not installed")
    returncode, report = finished(process)
    assert returncode == 0, report[-7000:]
