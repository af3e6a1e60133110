"""The distribution, as a user installs it: `python -m tests.wheel_check`.

Builds the wheel and the sdist (`python -m build`), then for each backend
(JAX, PyTorch) makes a fresh virtual environment outside the project,
installs the wheel with only keras and that backend, and checks:

1. installing pulled no TensorFlow and no matplotlib;
2. a GatedLSTM trains, its gates are extracted, a viewer page is written
   (its script and style read from inside the installed wheel), a saved
   model reloads with equal outputs, and at the end neither `tensorflow`
   nor `matplotlib` is in `sys.modules`;
3. with the plots extra added, the README's python examples run.

Too slow for the test suite (each environment installs its backend);
.ci/run runs it. Exits non-zero on the first failure.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = {"jax": ["jax[cpu]"], "torch": ["torch==2.13.0"]}

USE = """
import os, sys, tempfile
import keras, numpy as np
import keras_gates
from keras_gates import GatedLSTM, extract_gates, viewer

assert "site-packages" in keras_gates.__file__, keras_gates.__file__
folder = tempfile.mkdtemp()
x = np.random.default_rng(0).normal(size=(128, 12, 3)).astype("float32")
y = (x[:, 0, :1] > 0).astype("float32")
model = keras.Sequential([keras.Input((12, 3)), GatedLSTM(8, name="lstm"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile("adam", "binary_crossentropy")
loss = model.fit(x, y, epochs=3, verbose=0).history["loss"]
assert loss[-1] < loss[0], loss
gates = extract_gates(model, x[:2])["lstm"]
assert gates["forget"].shape == (2, 12, 8)
page = os.path.join(folder, "page.html")
viewer.write_html(gates, None, page)
text = open(page, encoding="utf-8").read()
assert "<script>" in text and "<style>" in text and len(text) > 10_000
path = os.path.join(folder, "model.keras")
model.save(path)
again = keras.saving.load_model(path)
np.testing.assert_allclose(
    keras.ops.convert_to_numpy(again(x[:4])),
    keras.ops.convert_to_numpy(model(x[:4])), atol=1e-6)
left = [m for m in ("tensorflow", "matplotlib") if m in sys.modules]
assert left == [], left
print("used", keras.backend.backend(), keras.__version__)
"""


def run(command, **kwargs):
    shown = [str(part).splitlines()[0][:60] for part in command]
    print("$", " ".join(shown), flush=True)
    return subprocess.run(command, check=True, text=True, **kwargs)


def readme_code() -> str:
    text = (ROOT / "README.md").read_text("utf-8")
    return "\n".join(re.findall(r"```python\n(.*?)```", text, re.S))


def build(outdir: Path) -> tuple[Path, Path]:
    run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", outdir],
        cwd=ROOT,
        capture_output=True,
    )
    wheel = next(outdir.glob("keras_gates-*.whl"))
    sdist = next(outdir.glob("keras_gates-*.tar.gz"))
    return wheel, sdist


def check_wheel_contents(wheel: Path) -> None:
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "keras_gates/viz/_viewer.js",
        "keras_gates/viz/_viewer.css",
        "keras_gates/engine/keras_bridge.py",
    ):
        assert needed in names, f"{needed} is not in {wheel.name}"
    assert not any(n.startswith(("experiments/", "tests/")) for n in names)


def check_backend(backend: str, wheel: Path, work: Path) -> None:
    venv = work / f"venv-{backend}"
    run([sys.executable, "-m", "venv", venv])
    python = venv / "bin" / "python"
    pip = [python, "-m", "pip", "install", "-q"]
    run(pip + [f"keras_gates @ {wheel.as_uri()}", *BACKENDS[backend]])
    listed = run(
        [python, "-m", "pip", "list", "--format=freeze"], capture_output=True
    ).stdout.lower()
    for absent in ("tensorflow", "matplotlib"):
        assert f"\n{absent}==" not in f"\n{listed}", f"{absent} was installed"
    env = {"KERAS_BACKEND": backend, "PATH": "/usr/bin:/bin", "HOME": str(work)}
    result = run([python, "-c", USE], cwd=work, env=env, capture_output=True)
    print(result.stdout.strip())
    run(pip + [f"keras_gates[plots] @ {wheel.as_uri()}"])
    example = work / f"readme-{backend}"
    example.mkdir()
    result = run(
        [python, "-c", readme_code()],
        cwd=example,
        env=env,
        capture_output=True,
    )
    print("README example:", result.stdout.split()[0], "accuracy")
    assert (example / "forget.png").exists()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS
    )
    args = parser.parse_args(argv)
    start = time.time()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        wheel, sdist = build(work / "dist")
        print("built", wheel.name, sdist.name)
        check_wheel_contents(wheel)
        for backend in args.backends:
            try:
                check_backend(backend, wheel, work)
            except subprocess.CalledProcessError as error:
                print(error.stdout or "", error.stderr or "", file=sys.stderr)
                raise
    print(f"wheel check passed in {time.time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
