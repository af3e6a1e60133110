import os
import shutil
import tempfile
import uuid

import keras
import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

if keras.backend.backend() == "torch":
    import torch

    # On a GPU PyTorch lets cuDNN use TensorFloat-32 by default (about 1e-4
    # off float32), which no 1e-5 comparison survives; the tests compare
    # float32 arithmetic. (JAX's equivalent: JAX_DEFAULT_MATMUL_PRECISION=
    # highest.)
    torch.backends.cudnn.allow_tf32 = False

if keras.backend.backend() == "jax":
    import jax

    # JAX compiles each eager `lax.scan` again for every new layer, though
    # most tests build the same few programs; XLA's persistent cache
    # compiles each once (a third off the JAX layer suite on two cores).
    # Its folder: KERAS_GATES_JAX_CACHE where the backend suites name one
    # (in their run's shared folder, removed at the end even when a suite
    # is killed), else one of this session's own, removed when it ends.
    # The folder is made first: pointed at one it had to make itself, JAX
    # filled the cache and the tests got no faster (measured).
    _JAX_CACHE = os.environ.get("KERAS_GATES_JAX_CACHE")
    _JAX_CACHE_OWNED = not _JAX_CACHE
    if _JAX_CACHE_OWNED:
        _JAX_CACHE = tempfile.mkdtemp(prefix="keras_gates_jax_cache_")
    os.makedirs(_JAX_CACHE, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", _JAX_CACHE)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def pytest_unconfigure(config):
    if keras.backend.backend() == "jax" and _JAX_CACHE_OWNED:
        shutil.rmtree(_JAX_CACHE, ignore_errors=True)


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(1234)
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend {keras.backend.backend()}"


def _xdist_worker(config):
    """pytest-xdist's name for this worker ("gw0", ...), None outside
    xdist."""
    return getattr(config, "workerinput", {}).get("workerid")


def pytest_configure(config):
    """Under pytest-xdist the controller picks the run's id itself (xdist
    would otherwise make one it keeps to itself), so that it knows the
    folder the workers share (`test_backends.shared_folder`) and can
    remove it at the end."""
    xdist = hasattr(config.option, "testrunuid")
    if xdist and _xdist_worker(config) is None:
        config.option.testrunuid = config.option.testrunuid or uuid.uuid4().hex


def pytest_collection_modifyitems(session, config, items):
    """The other backends' suites last: they run in the background from
    the start (below), and their tests only wait for them."""
    items.sort(key=lambda item: item.nodeid.startswith("tests/test_backends"))


def pytest_collection_finish(session):
    """Starts the PyTorch and JAX layer suites (tests/test_backends.py) as
    soon as they are collected, so that they run beside the TensorFlow
    tests; their tests wait for them. Under pytest-xdist only the first
    worker starts them, writing to a folder every worker reads."""
    worker = _xdist_worker(session.config)
    if worker not in (None, "gw0"):
        return
    wanted = {
        item.callspec.params["backend"]
        for item in session.items
        if item.nodeid.startswith("tests/test_backends.py")
        and hasattr(item, "callspec")
    }
    if not wanted:
        return
    from tests import test_backends

    shared = test_backends.shared_folder(session.config)
    session.config.backend_runs = {
        backend: test_backends.start(backend, shared)
        for backend in sorted(wanted)
    }


def pytest_sessionfinish(session, exitstatus):
    """Stops the suites a stopped session no longer waits for; under
    xdist, lets them end, since a test on another worker may wait."""
    from tests import test_backends

    worker = _xdist_worker(session.config)
    uid = getattr(session.config.option, "testrunuid", None)
    if worker is None and uid:
        # The controller ends after every worker, whose suites have ended.
        shutil.rmtree(test_backends.run_folder(uid), ignore_errors=True)
    wait = worker is not None and exitstatus != pytest.ExitCode.INTERRUPTED
    for process in getattr(session.config, "backend_runs", {}).values():
        if process is None:
            continue
        if process.poll() is None and not wait:
            test_backends.stop(process)
        process.wait()
        if process.reporter is not None:
            process.reporter.join()
        process.output.close()


# -- a headless Chromium for the viewer's tests -----------------------------


def _chromium():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return None, "selenium is not installed (pip install selenium)"
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (binary and driver):
        return None, (
            "no chromium/chromedriver (apt-get install chromium "
            "chromium-driver)"
        )
    options = Options()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1300,1000",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options), ""


@pytest.fixture(scope="module")
def browser():
    driver, why = _chromium()
    if driver is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the viewer's browser tests need a browser: {why}")
        pytest.skip(why)
    yield driver
    driver.quit()
