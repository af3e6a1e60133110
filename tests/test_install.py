"""The library as users install it: what it imports, what it still loads,
and the README's examples.

The library needs keras and numpy only; matplotlib (the plots extra) is
imported when a figure is drawn, TensorFlow only by the TensorBoard edge.
The wheel itself, installed into fresh virtual environments with only
keras and one backend, is tested by `tests/wheel_check.py` from .ci/run.
"""

import ast
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_gates
from keras_gates import Chrono, GatedGRU, GatedGRUCell, GatedLSTM, GatedLSTMCell
from tests.helpers import KERAS_VERSION, version

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
LIBRARY = ROOT / "keras_gates"
# The only module that may import TensorFlow: the TensorBoard edge.
TENSORFLOW_EDGE = {"keras_gates/tensorboard.py"}


def module_level_imports(path: Path) -> set:
    """Top-level packages imported when `path` is imported (not inside
    functions)."""
    tree = ast.parse(path.read_text("utf-8"))
    found = set()
    for node in tree.body:
        if isinstance(node, ast.If):  # `if TYPE_CHECKING:` imports nothing
            continue
        for inner in ast.walk(node):
            if isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef)):
                break
            if isinstance(inner, ast.Import):
                found |= {a.name.split(".")[0] for a in inner.names}
            elif isinstance(inner, ast.ImportFrom) and inner.level == 0:
                found.add(inner.module.split(".")[0])
    return found


def test_the_library_imports_only_keras_numpy_and_the_standard_library():
    allowed = {"keras", "numpy", "keras_gates", "__future__"}
    allowed |= set(sys.stdlib_module_names)
    seen = {}
    for path in sorted(LIBRARY.rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        extra = module_level_imports(path) - allowed
        if name in TENSORFLOW_EDGE:
            extra -= {"tensorflow"}
        if extra:
            seen[name] = sorted(extra)
    assert seen == {}


def test_the_check_sees_a_module_level_import(tmp_path):
    """The scan above, on planted modules: an import at the top, in a
    class body or a try block counts; one inside a function does not."""
    module = tmp_path / "m.py"
    module.write_text(
        "import os\ntry:\n    import matplotlib.pyplot\nexcept ImportError:\n"
        "    pass\nclass A:\n    from tensorflow import nn\n"
        "def f():\n    import scipy\n"
    )
    assert module_level_imports(module) == {"os", "matplotlib", "tensorflow"}


def test_registered_names_are_those_of_0_1_0():
    names = {
        cls: keras.saving.get_registered_name(cls)
        for cls in (GatedLSTM, GatedGRU, GatedLSTMCell, GatedGRUCell, Chrono)
    }
    assert names == {
        GatedLSTM: "keras_gates>GatedLSTM",
        GatedGRU: "keras_gates>GatedGRU",
        GatedLSTMCell: "keras_gates>GatedLSTMCell",
        GatedGRUCell: "keras_gates>GatedGRUCell",
        Chrono: "keras_gates>Chrono",
    }


def test_a_model_saved_by_0_1_0_loads_with_its_numbers():
    """tests/data/saved_0_1_0.keras was written by keras_gates 0.1.0 (its
    modules then at the package's top level; tests/data/
    make_saved_0_1_0.py): a Bidirectional GatedLSTM, a cifg LSTM with
    peepholes and Chrono, an MGU and a GRU with reset_after=False."""
    saved_with = json.loads(
        zipfile.ZipFile(DATA / "saved_0_1_0.keras").read("metadata.json")
    )["keras_version"]
    if KERAS_VERSION < version(saved_with):
        pytest.skip(
            f"saved by keras {saved_with}, whose files keras "
            f"{keras.__version__} does not read"
        )
    model = keras.saving.load_model(DATA / "saved_0_1_0.keras")
    x = np.load(DATA / "saved_0_1_0_inputs.npy")
    expected = np.load(DATA / "saved_0_1_0_outputs.npy")
    got = keras.ops.convert_to_numpy(model(x))
    np.testing.assert_allclose(got, expected, atol=1e-5)
    cifg = model.get_layer("cifg")
    assert (cifg.variant, cifg.peepholes) == ("cifg", True)
    assert isinstance(cifg.bias_initializer, Chrono)
    assert model.get_layer("mgu").variant == "mgu"
    assert model.get_layer("gru").cell.reset_after is False


NO_EXTRAS = """
import sys

# TensorFlow and matplotlib made to look uninstalled: `import` raises
# ModuleNotFoundError and `importlib.util.find_spec` answers None.
sys.modules["tensorflow"] = sys.modules["matplotlib"] = None
import os
import tempfile

import keras
import numpy as np

import keras_gates
from keras_gates import GatedLSTM, GatePlotter, GateRecorder, convert
from keras_gates import extract_gates, plots, stats, viewer

folder = tempfile.mkdtemp()
x = np.random.default_rng(0).normal(size=(64, 10, 3)).astype("float32")
y = (x[:, 0, :1] > 0).astype("float32")
model = keras.Sequential(
    [keras.Input((10, 3)), GatedLSTM(4, name="lstm"), keras.layers.Dense(1)]
)
model.compile("adam", "mse")
recorder = GateRecorder(x[:4], path=os.path.join(folder, "g.npz"))
history = model.fit(x, y, epochs=2, verbose=0, callbacks=[recorder])
gates = extract_gates(model, x[:2])["lstm"]
assert np.isfinite(stats.gate_summary("forget", gates["forget"])["mean"])
viewer.write_html(gates, None, os.path.join(folder, "page.html"))
assert os.path.getsize(os.path.join(folder, "page.html")) > 10_000
builtin = keras.Sequential([keras.Input((10, 3)), keras.layers.GRU(3)])
assert set(extract_gates(convert(builtin), x[:2])) == {"gru"}
for draw in (
    lambda: plots.gate_heatmap(gates),
    lambda: GatePlotter(x[:4], folder),
):
    try:
        draw()
    except ImportError as error:
        print("refused:", error)
print("history", len(history.history["loss"]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_the_library_works_without_tensorflow_and_matplotlib(backend):
    """On JAX and PyTorch, with TensorFlow and matplotlib made to look
    uninstalled: training with GateRecorder, extraction, statistics,
    convert and the viewer work; plots and GatePlotter fail naming the
    extra to install."""
    import importlib.util

    if importlib.util.find_spec(backend) is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must have {backend} (see .ci/run)")
        pytest.skip(f"{backend} is not installed")
    result = subprocess.run(
        [sys.executable, "-c", NO_EXTRAS],
        cwd=ROOT,
        env={**os.environ, "KERAS_BACKEND": backend},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    refusals = re.findall(r"^refused: (.*)$", result.stdout, re.M)
    assert refusals == [
        "keras_gates.plots draws with matplotlib, which is not installed: "
        "pip install 'keras_gates[plots]'",
        "GatePlotter draws with matplotlib, which is not installed: "
        "pip install 'keras_gates[plots]'",
    ]
    assert "history 2" in result.stdout


def readme_python_blocks() -> list:
    text = (ROOT / "README.md").read_text("utf-8")
    return re.findall(r"```python\n(.*?)```", text, re.S)


def test_the_readme_has_its_examples():
    blocks = readme_python_blocks()
    assert len(blocks) >= 3
    assert "extract_gates" in blocks[0]


@pytest.mark.slow
def test_the_readme_examples_run(tmp_path):
    """The README's python blocks, in order, in one fresh process in an
    empty folder: the front door's code runs as printed, and the first
    example's model learns (its last accuracy, printed, above 0.9)."""
    code = "\n".join(readme_python_blocks())
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    accuracy = float(result.stdout.split()[0])
    assert accuracy > 0.9
    assert (tmp_path / "forget.png").stat().st_size > 10_000
    assert keras_gates.__version__ == "0.1.0"


def test_no_experiment_imports_another_experiment():
    """Experiments share code through `experiments/_*.py` only."""
    crossings = {}
    for path in sorted((ROOT / "experiments").glob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "experiments":
                    names = [a.name for a in node.names]
                elif node.module.startswith("experiments."):
                    names = [node.module.split(".")[1]]
            elif isinstance(node, ast.Import):
                names = [
                    a.name.split(".")[1]
                    for a in node.names
                    if a.name.startswith("experiments.")
                ]
            shared = [n for n in names if not n.startswith("_")]
            if shared:
                crossings.setdefault(path.name, []).extend(shared)
    assert crossings == {}
