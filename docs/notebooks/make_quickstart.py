"""Writes docs/notebooks/quickstart.ipynb from the cells below and runs it
with a Jupyter kernel, keeping its outputs:

    python docs/notebooks/make_quickstart.py
"""

from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).parent

CELLS = [
    (
        "markdown",
        """# keras_gates in five minutes

Train a small `GatedLSTM` on subject-verb agreement (the verb must agree
with the first word, across a clause of distractor words), watch its
gates with `GatePlotter` while it trains, look at them in the gate
viewer, and read the gates of a model built with Keras's own `LSTM`.""",
    ),
    (
        "code",
        """import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's log
from pathlib import Path

import keras
import numpy as np
from IPython.display import Image

from keras_gates import (
    GatedLSTM,
    GatePlotter,
    extract_gates,
    memory_contributions,
    viewer,
)
from keras_gates.tasks import agreement_tokens, get_task, make_splits

keras.utils.set_random_seed(0)
task = get_task("agreement")
data = make_splits("agreement", 12, sizes=(2000, 200, 200), seed=0)
(x, y), (x_val, y_val) = data["train"], data["validation"]
print(x.shape, " ".join(agreement_tokens(x[0])), "->", y[0])""",
    ),
    (
        "code",
        """model = keras.Sequential(
    [
        keras.Input((None,), dtype="int32"),
        keras.layers.Embedding(task.vocabulary, 16),
        GatedLSTM(16, name="lstm"),
        keras.layers.Dense(1, "sigmoid"),
    ]
)
model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
plotter = GatePlotter(
    x_val[:32], "quickstart_gates", tokens=agreement_tokens(x_val[0])
)
history = model.fit(
    x,
    y,
    epochs=6,
    batch_size=64,
    validation_data=(x_val, y_val),
    callbacks=[plotter],
    verbose=0,
)
accuracy = history.history["val_accuracy"][-1]
print("validation accuracy:", round(accuracy, 3))""",
    ),
    (
        "markdown",
        """`GatePlotter` drew every gate of the first validation
sentence after each epoch; here is the last one.""",
    ),
    (
        "code",
        """drawn = Path("quickstart_gates")
Image(filename=str(sorted(drawn.rglob("heatmap_epoch*.png"))[-1]))""",
    ),
    (
        "markdown",
        """The gate viewer, inline: pick a gate and a unit, hover a word
for every gate of that unit, drag over words to rank the units that are
on there. The last entry of the gate menu is what each step left in the cell
state at the verb (`memory_contributions`).""",
    ),
    (
        "code",
        """sentences = x_val[:4]
gates = extract_gates(model, sentences)["lstm"]
left = memory_contributions(gates)["steps"]
viewer.show(
    gates,
    [agreement_tokens(s) for s in sentences],
    layers={"left in the last cell state": left},
    height=640,
)""",
    ),
    (
        "markdown",
        """The same works on a model built with Keras's own layers:
`extract_gates` runs a gated copy with the same weights.""",
    ),
    (
        "code",
        """builtin = keras.Sequential(
    [
        keras.Input((None,), dtype="int32"),
        keras.layers.Embedding(task.vocabulary, 8),
        keras.layers.LSTM(8, name="plain_lstm"),
        keras.layers.Dense(1),
    ]
)
read = extract_gates(builtin, sentences)["plain_lstm"]
print({name: values.shape for name, values in read.items()})
# Untrained: Keras's unit forget bias puts every forget gate near
# sigmoid(1) = 0.73.
print("mean forget gate:", np.round(read["forget"].mean(axis=(0, 1)), 2))""",
    ),
]


def build() -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for kind, source in CELLS:
        make = (
            nbformat.v4.new_markdown_cell
            if kind == "markdown"
            else (nbformat.v4.new_code_cell)
        )
        notebook.cells.append(make(source))
    return notebook


# TensorFlow's C++ start-up log (oneDNN, CUDA not found), which it prints
# to stderr before it reads TF_CPP_MIN_LOG_LEVEL.
START_UP_LOG = (
    "WARNING: All log messages before absl",
    "I0000",
    "E0000",
    "W0000",
    "To enable the following instructions",
)


def _start_up_log_only(output) -> bool:
    if output.get("output_type") != "stream" or output.get("name") != "stderr":
        return False
    lines = [line for line in output["text"].splitlines() if line.strip()]
    return all(line.startswith(START_UP_LOG) for line in lines)


def run(notebook, folder, timeout=600):
    NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    ).execute()
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = [
                o for o in cell.outputs if not _start_up_log_only(o)
            ]
    return notebook


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        executed = run(build(), folder)
    nbformat.write(executed, HERE / "quickstart.ipynb")
    print(HERE / "quickstart.ipynb")
