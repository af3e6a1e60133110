"""Gate viewer pages for a saved model, from the command line.

    python -m keras_gates.view MODEL.keras --inputs X.npy --output DIR
    python -m keras_gates.view MODEL.keras --inputs X.npy \\
        --tokens TOKENS.json --output DIR
    python -m keras_gates.view MODEL.keras --text REVIEWS.txt --output DIR

loads a model saved with `model.save` (built-in or gated LSTM/GRU layers,
inside Bidirectional and nested models too), extracts every recurrent
layer's gates on the inputs and writes one viewer page per layer and an
index page that links them.

Inputs: `--inputs` a `.npy` array of what the model takes (token ids or
features, `(sequences, time[, features])`); or, for a model that starts
with a `TextVectorization` or `StringLookup` layer, `--text`: a text file,
one sequence per line, whose tokens the pages show as the model's own
vocabulary reads them. Tokens for `--inputs`: `--tokens`, a JSON list of
one list of strings per sequence, or a text file with one line per
sequence and its tokens separated by spaces; without it, step numbers.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from pathlib import Path

import numpy as np

from keras_gates.files import atomic_write_text


class ViewError(Exception):
    """A mistake in the command's arguments or files, said to the user."""


def _load_model(path: Path):
    import keras

    import keras_gates  # noqa: F401  (registers the gated layers)

    if not path.is_file():
        raise ViewError(f"MODEL {str(path)!r}: no such file")
    try:
        return keras.saving.load_model(path)
    except Exception as error:  # noqa: BLE001 - any reason it cannot load
        raise ViewError(
            f"MODEL {str(path)!r} is not a Keras model that "
            f"keras.saving.load_model can read (a .keras file saved with "
            f"model.save): {type(error).__name__}: {error}"
        ) from None


def _text_layer(model):
    """The model's first layer after its input if it turns text into
    token ids (TextVectorization, StringLookup), else None."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        kinds = (keras.layers.TextVectorization, keras.layers.StringLookup)
        return layer if isinstance(layer, kinds) else None
    return None


def _read_text(path: Path, model):
    """(inputs, tokens) from one sequence per line of `path`."""
    import keras

    layer = _text_layer(model)
    if layer is None:
        raise ViewError(
            f"--text needs a model that starts with a TextVectorization or "
            f"StringLookup layer; {model.name!r} starts with "
            f"{type(model.layers[0]).__name__}: pass --inputs"
        )
    if not path.is_file():
        raise ViewError(f"--text {str(path)!r}: no such file")
    lines = [line for line in path.read_text("utf-8").splitlines() if line]
    if not lines:
        raise ViewError(f"--text {str(path)!r} has no lines of text")
    vocabulary = [str(word) for word in layer.get_vocabulary()]
    if isinstance(layer, keras.layers.TextVectorization):
        inputs = np.array(lines)
        ids = np.asarray(keras.ops.convert_to_numpy(layer(inputs)))
    else:  # StringLookup: the line's words are its tokens
        words = [line.split() for line in lines]
        longest = max(len(w) for w in words)
        inputs = np.array([w + [""] * (longest - len(w)) for w in words])
        ids = np.asarray(keras.ops.convert_to_numpy(layer(inputs)))
    tokens = [[vocabulary[int(i)] for i in row] for row in ids]
    return inputs, tokens


def _read_inputs(path: Path, model) -> np.ndarray:
    if not path.is_file():
        raise ViewError(f"--inputs {str(path)!r}: no such file")
    try:
        inputs = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as error:
        raise ViewError(
            f"--inputs {str(path)!r} is not a .npy array: {error}"
        ) from None
    if len(model.inputs) != 1:
        raise ViewError(
            f"the model takes {len(model.inputs)} inputs; the command reads "
            "one array (use keras_gates.extract_gates in Python)"
        )
    spec = model.inputs[0]
    expected = tuple(spec.shape)
    fits = len(inputs.shape) == len(expected) and all(
        want is None or want == got
        for want, got in zip(expected, inputs.shape, strict=True)
    )
    if not fits:
        raise ViewError(
            f"--inputs {str(path)!r} has shape {inputs.shape}; the model "
            f"takes {_shape_text(expected)}"
        )
    wanted = np.dtype(str(spec.dtype)) if spec.dtype != "string" else None
    if wanted is None or not np.can_cast(inputs.dtype, wanted, "same_kind"):
        raise ViewError(
            f"--inputs {str(path)!r} has dtype {inputs.dtype}; the model "
            f"takes {spec.dtype}"
        )
    return inputs.astype(wanted)


def _shape_text(shape) -> str:
    names = ["sequences"] + [str(d) if d else "any" for d in shape[1:]]
    return "(" + ", ".join(names) + ")"


def _read_tokens(path: Path, batch: int, time: int) -> list:
    if not path.is_file():
        raise ViewError(f"--tokens {str(path)!r}: no such file")
    text = path.read_text("utf-8")
    if path.suffix == ".json":
        tokens = json.loads(text)
    else:
        tokens = [line.split(" ") for line in text.splitlines()]
    if len(tokens) != batch or any(len(row) != time for row in tokens):
        lengths = sorted({len(row) for row in tokens})
        raise ViewError(
            f"--tokens {str(path)!r} has {len(tokens)} sequences of "
            f"{lengths} tokens; the inputs have {batch} sequences of {time} "
            "steps"
        )
    return [[str(t) for t in row] for row in tokens]


def _page_name(layer_path: str) -> str:
    return layer_path.replace("/", "__") + ".html"


def write_pages(model, inputs, tokens, output: Path) -> dict:
    """One viewer page per recurrent layer and `index.html`; returns
    `{layer_path: page path}`."""
    from keras_gates.inspection.extract import extract_gates
    from keras_gates.viz import viewer

    try:
        gates = extract_gates(model, inputs)
    except ValueError as error:
        raise ViewError(str(error)) from None
    pages = {}
    rows = []
    for layer_path, layer_gates in gates.items():
        batch, time, units = layer_gates["hidden"].shape
        page = viewer.write_html(
            layer_gates,
            tokens,
            output / _page_name(layer_path),
            title=f"{model.name}: {layer_path}",
        )
        pages[layer_path] = page
        kind = "LSTM" if "forget" in layer_gates else "GRU"
        rows.append(
            f"<tr><td><a href='{html.escape(page.name)}'>"
            f"{html.escape(layer_path)}</a></td><td>{kind}</td>"
            f"<td>{units}</td><td>{time}</td><td>{batch}</td></tr>"
        )
    together = ""
    if len(gates) > 1:
        try:
            viewer.write_html(
                gates,
                tokens,
                output / "all_layers.html",
                title=f"{model.name}: every recurrent layer",
            )
            together = (
                "<p><a href='all_layers.html'>every layer in one page</a> "
                "(pick the layer as you pick the gate)</p>\n"
            )
        except ValueError:  # layers over different steps: one page each
            pass
    title = html.escape(f"{model.name}: gates of every recurrent layer")
    atomic_write_text(
        output / "index.html",
        "<!DOCTYPE html>\n<html lang='en'>\n<head><meta charset='utf-8'>"
        f"<title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n"
        + together
        + "<table>\n<tr><th>layer</th><th>cell</th><th>units</th>"
        "<th>steps</th><th>sequences</th></tr>\n"
        + "\n".join(rows)
        + "\n</table>\n</body>\n</html>\n",
    )
    return pages


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m keras_gates.view",
        description="Gate viewer pages for every recurrent layer of a "
        "saved Keras model.",
    )
    parser.add_argument("model", type=Path, help="a .keras file")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--inputs", type=Path, help="a .npy array")
    source.add_argument(
        "--text", type=Path, help="a text file, one sequence per line"
    )
    parser.add_argument(
        "--tokens",
        type=Path,
        help="a .json list of token lists, or one line of space-separated "
        "tokens per sequence",
    )
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        model = _load_model(args.model)
        if args.text is not None:
            if args.tokens is not None:
                raise ViewError(
                    "--tokens goes with --inputs; with --text the tokens "
                    "come from the model's vocabulary"
                )
            inputs, tokens = _read_text(args.text, model)
        else:
            inputs = _read_inputs(args.inputs, model)
            tokens = None
            if args.tokens is not None:
                tokens = _read_tokens(args.tokens, *inputs.shape[:2])
        pages = write_pages(model, inputs, tokens, args.output)
    except ViewError as error:
        print(f"python -m keras_gates.view: error: {error}", file=sys.stderr)
        return 2
    for layer_path, page in pages.items():
        print(f"{layer_path}: {page}")
    print(f"index: {args.output / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
