"""`python -m keras_gates.view`: pages for a saved model, and its errors."""

import json
import re
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_gates import GatedGRU, extract_gates, viewer
from keras_gates.view import main

LINES = ["the dog runs home", "a cat sat", "the cats run fast and far"]


def page_data(path):
    text = path.read_text("utf-8")
    found = re.search(
        r"<script id='gate-data' type='application/json'>(.*?)</script>",
        text,
        re.S,
    )
    return json.loads(found.group(1).replace("<\\/", "</"))


def decoded(data, sequence, gate):
    import base64

    codes = np.frombuffer(
        base64.b64decode(data["sequences"][sequence]["codes"][gate]), "uint8"
    ).reshape(data["time"], data["units"])
    low, high = (np.array(b) for b in data["ranges"][gate])
    values = low + codes / viewer.LEVELS * (high - low)
    return np.where(codes == viewer.MASKED, np.nan, values)


@pytest.fixture
def text_model(tmp_path):
    vectorize = keras.layers.TextVectorization(
        max_tokens=40, output_sequence_length=7
    )
    vectorize.adapt(LINES)
    text = keras.Input((), dtype="string")
    x = keras.layers.Embedding(40, 5, mask_zero=True)(vectorize(text))
    x = keras.layers.Bidirectional(
        keras.layers.LSTM(3, return_sequences=True), name="bi"
    )(x)
    x = GatedGRU(4, name="gru")(x)
    model = keras.Model(text, keras.layers.Dense(1)(x), name="reviews")
    path = tmp_path / "reviews.keras"
    model.save(path)
    return path


def test_a_text_model_gets_a_page_per_layer_with_its_own_words(
    text_model, tmp_path
):
    lines = tmp_path / "lines.txt"
    lines.write_text("the dog sat\nzebras run far\n")
    out = tmp_path / "pages"
    assert (
        main([str(text_model), "--text", str(lines), "--output", str(out)]) == 0
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "all_layers.html", "bi__backward.html", "bi__forward.html",
        "gru.html", "index.html",
    ]  # fmt: skip
    index = (out / "index.html").read_text()
    together = page_data(out / "all_layers.html")
    assert [layer["name"] for layer in together["layers"]] == [
        "bi/forward", "bi/backward", "gru",
    ]  # fmt: skip
    for name in ("all_layers.html", "bi__backward.html", "bi__forward.html",
                 "gru.html"):  # fmt: skip
        assert f"href='{name}'" in index
    model = keras.saving.load_model(text_model)
    expected = extract_gates(model, np.array(["the dog sat", "zebras run far"]))
    data = page_data(out / "gru.html")
    words = [s["tokens"] for s in data["sequences"]]
    assert words == [
        ["the", "dog", "sat", "", "", "", ""],
        ["[UNK]", "run", "far", "", "", "", ""],
    ]
    for name in ("gru", "bi/backward"):
        data = page_data(out / (name.replace("/", "__") + ".html"))
        for gate, values in expected[name].items():
            for sequence in range(2):
                got = decoded(data, sequence, gate)
                want = values[sequence]
                np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
                step = np.nanmax(np.abs(want)) / 127 + 1 / 254
                np.testing.assert_allclose(
                    np.nan_to_num(got), np.nan_to_num(want), atol=step
                )


def test_token_ids_and_json_tokens(tmp_path):
    model = keras.Sequential(
        [
            keras.Input((5,), dtype="int32"),
            keras.layers.Embedding(6, 3),
            keras.layers.LSTM(2, name="lstm"),
        ],
        name="chars",
    )
    model.save(tmp_path / "chars.keras")
    x = np.array([[1, 2, 3, 4, 5], [5, 4, 3, 2, 1]])
    np.save(tmp_path / "x.npy", x)
    (tmp_path / "t.json").write_text(json.dumps([list("abcde"), list("edcba")]))
    out = tmp_path / "out"
    assert main([
        str(tmp_path / "chars.keras"), "--inputs", str(tmp_path / "x.npy"),
        "--tokens", str(tmp_path / "t.json"), "--output", str(out),
    ]) == 0  # fmt: skip
    data = page_data(out / "lstm.html")
    assert [s["tokens"] for s in data["sequences"]] == [
        list("abcde"),
        list("edcba"),
    ]
    cell = extract_gates(model, x)["lstm"]["cell"]
    np.testing.assert_allclose(
        decoded(data, 1, "cell"), cell[1], atol=np.abs(cell).max() / 127
    )


def _error(capsys, argv) -> str:
    assert main([str(a) for a in argv]) == 2
    return capsys.readouterr().err.strip()


def test_mistakes_are_named(tmp_path, capsys, text_model):
    plain = keras.Sequential(
        [keras.Input((4, 3)), keras.layers.Dense(2)], name="plain"
    )
    plain.save(tmp_path / "plain.keras")
    seq = keras.Sequential(
        [keras.Input((4, 3)), keras.layers.GRU(2, name="gru")], name="seq"
    )
    seq.save(tmp_path / "seq.keras")
    (tmp_path / "junk.keras").write_text("not a model")
    np.save(tmp_path / "x.npy", np.zeros((2, 5, 3), "float32"))
    np.save(tmp_path / "ints.npy", np.zeros((2, 4, 3), "complex64"))
    np.save(tmp_path / "ok.npy", np.zeros((2, 4, 3), "float32"))
    out = tmp_path / "out"
    prefix = "python -m keras_gates.view: error: "
    message = _error(
        capsys, [tmp_path / "junk.keras", "--inputs", tmp_path / "x.npy",
                 "--output", out],
    )  # fmt: skip
    assert message.startswith(
        f"{prefix}MODEL '{tmp_path / 'junk.keras'}' is not a Keras model "
        "that keras.saving.load_model can read"
    )
    assert _error(
        capsys, [tmp_path / "seq.keras", "--inputs", tmp_path / "x.npy",
                 "--output", out],
    ) == (
        f"{prefix}--inputs '{tmp_path / 'x.npy'}' has shape (2, 5, 3); the "
        "model takes (sequences, 4, 3)"
    )  # fmt: skip
    assert _error(
        capsys, [tmp_path / "seq.keras", "--inputs", tmp_path / "ints.npy",
                 "--output", out],
    ) == (
        f"{prefix}--inputs '{tmp_path / 'ints.npy'}' has dtype complex64; "
        "the model takes float32"
    )  # fmt: skip
    message = _error(
        capsys, [tmp_path / "plain.keras", "--inputs", tmp_path / "ok.npy",
                 "--output", out],
    )  # fmt: skip
    assert message.startswith(f"{prefix}model 'plain' has no LSTM or GRU layer")
    assert _error(
        capsys, [tmp_path / "seq.keras", "--text", tmp_path / "x.npy",
                 "--output", out],
    ) == (
        f"{prefix}--text needs a model that starts with a TextVectorization "
        "or StringLookup layer; 'seq' starts with GRU: pass --inputs"
    )  # fmt: skip
    assert not out.exists()


def test_the_command_runs_as_a_module(tmp_path, text_model):
    lines = tmp_path / "lines.txt"
    lines.write_text("a dog\n")
    done = subprocess.run(
        [sys.executable, "-m", "keras_gates.view", str(text_model), "--text",
         str(lines), "--output", str(tmp_path / "o")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout.splitlines()[-1]
        == f"index: {tmp_path / 'o' / 'index.html'}"
    )
