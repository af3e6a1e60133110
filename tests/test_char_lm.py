"""The character-level experiment: its text, its baseline, its features,
and a toy run."""

import collections
import json
import math

import numpy as np
import pytest

from experiments import _char_data as text
from experiments import char_lm


def brute_force_bits(train: str, test: str, order: int) -> float:
    """Interpolated Witten-Bell over dictionaries, character by character,
    written from the formula: P_n = (c(h,w) + N(h) P_{n-1}) / (c(h) + N(h))."""
    size = len(text.VOCABULARY)
    pairs = collections.Counter()
    contexts = collections.Counter()
    followers = collections.defaultdict(set)
    for n in range(1, order + 1):
        for i in range(n - 1, len(train)):
            h = train[i - n + 1 : i]
            pairs[h, train[i]] += 1
            contexts[h] += 1
            followers[h].add(train[i])
    bits = 0.0
    for i, w in enumerate(test):
        p = 1.0 / size
        for n in range(1, order + 1):
            h = test[i - n + 1 : i]
            if i >= n - 1 and contexts[h]:
                seen = len(followers[h])
                p = (pairs[h, w] + seen * p) / (contexts[h] + seen)
        bits -= math.log2(p)
    return bits / len(test)


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_the_ngram_baseline_is_witten_bell(order):
    train = "def f(x):\n    return x + 1\n\nclass A:\n    pass\n" * 3
    test = "def g(y):\n    return y * 2\n"
    model = text.NGram(text.encode(train), order)
    assert model.bits_per_character(text.encode(test)) == pytest.approx(
        brute_force_bits(train, test, order), rel=1e-12
    )


def test_ngram_probabilities_sum_to_one_over_the_alphabet():
    model = text.NGram(text.encode("abracadabra " * 5), 3)
    context = text.encode("ab")
    total = sum(
        model.probabilities(np.append(context, w))[-1]
        for w in range(len(text.VOCABULARY))
    )
    assert total == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="order must be at least 1, got 0"):
        text.NGram(context, 0)


def test_characters_outside_the_alphabet_share_one_symbol():
    ids = text.encode("a\té€\n")
    other = len(text.VOCABULARY) - 1
    assert ids.tolist() == [text.VOCABULARY.index("a"), 1, other, other, 0]


def test_features_of_planted_code():
    source = 'x = (1, [2,\n     3])  # c\ns = "a(b"\nif x:\n    y = f(x)\n'
    found = text.text_features(source)
    as_text = {
        name: "".join(str(int(v)) for v in values)
        for name, values in found.items()
        if name != "column"
    }
    lines = (12, 14, 10, 6, 13)  # lengths, newline included
    assert found["column"].tolist() == [c for n in lines for c in range(n)]
    # x = (1, [2,$     3])  # c$s = "a(b"$if x:$    y = f(x)$
    assert as_text == {
        "inside a string": "0" * 30 + "11111" + "0" * 20,
        "inside a comment": "0" * 22 + "111" + "0" * 30,
        "bracket depth": "00000111122222222210000000000000000000000000000000001"
        "00",
        "indentation": "0" * 12 + "5" * 14 + "0" * 16 + "4" * 13,
    }


def test_features_reject_what_is_not_python():
    with pytest.raises((SyntaxError, text.tokenize.TokenError)):
        text.text_features('x = """never closed\n')


def test_the_corpus_is_the_sorted_library_split_by_position(tmp_path):
    for index in range(20):
        (tmp_path / f"m{index:02d}.py").write_text(f"# file {index}\n")
    (tmp_path / "notes.txt").write_text("not python")
    data = text.corpus(1000, 1000, 1000, root=tmp_path)
    assert data["files"] == {"train": 16, "validation": 2, "test": 2}
    assert data["test"] == "# file 9\n\n# file 19\n"
    assert data["validation"] == "# file 4\n\n# file 14\n"
    assert data["test_files"][0].endswith("m09.py")
    again = text.corpus(1000, 1000, 1000, root=tmp_path)
    assert again["sha256"] == data["sha256"]
    (tmp_path / "m03.py").write_text("# changed\n")
    assert (
        text.corpus(1000, 1000, 1000, root=tmp_path)["sha256"]
        != (data["sha256"])
    )


TOY = [
    "--steps", "40", "--steps-per-epoch", "20", "--train-chars", "100000",
    "--validation-chars", "10000", "--test-chars", "10000", "--units", "16",
    "--analysis-files", "2", "--analysis-chars", "400", "--ngram-orders",
    "1", "3", "--quiet",
]  # fmt: skip


@pytest.mark.slow
def test_char_lm_at_toy_size(tmp_path):
    out = tmp_path / "char_lm"
    char_lm.main(["--output", str(out), *TOY])
    data = json.loads((out / "results.json").read_text())
    runs = {run["model"]: run for run in data["runs"]}
    assert sorted(runs) == ["GatedGRU", "GatedLSTM", "n-gram"]
    chance = math.log2(len(text.VOCABULARY))
    ngram = runs["n-gram"]
    assert ngram["orders"]["3"]["test"] < ngram["unigram"] < chance
    for name in ("GatedLSTM", "GatedGRU"):
        run = runs[name]
        # 40 batches already beat guessing uniformly.
        assert 0 < run["value"] < chance, name
        assert len(run["validation_history"]) == 2
        for feature in text.FEATURES:
            for found in (run["best_units"], run["control_units"]):
                assert -1.0 <= found[feature]["r"] <= 1.0
            page = out / run["pages"][feature].split("#")[0]
            assert page.exists()
    summary = (out / "summary.md").read_text()
    assert "## Bits per character on held-out files" in summary
    for figure in ("learning_curves", "saturation", "features"):
        assert (out / f"{figure}.png").stat().st_size > 10_000
    assert data["text"]["sha256"] and data["text"]["python"]
    # Started again on the same folder, nothing trains again.
    before = (out / "results.json").read_text()
    char_lm.main(["--output", str(out), *TOY])
    assert (
        json.loads((out / "results.json").read_text())["runs"]
        == (json.loads(before)["runs"])
    )
    # --report rewrites the pages from the saved weights.
    for page in (out / "pages").iterdir():
        page.unlink()
    char_lm.main(["--output", str(out), "--report"])
    pages = sorted(p.name for p in (out / "pages").iterdir())
    assert pages == [
        f"{model}_layer_{n}.html"
        for model in ("GatedGRU", "GatedLSTM")
        for n in (1, 2)
    ]
    html = (out / "pages" / "GatedLSTM_layer_1.html").read_text()
    assert html.count('"name":') == 2  # the first two excerpts


def test_indentation_counts_tabs_as_blanks():
    found = text.text_features("if x:\n\t\ty = 1\n")["indentation"]
    assert found.tolist() == [0] * 6 + [2] * 8


@pytest.mark.slow
def test_char_lm_cells_at_toy_size(tmp_path):
    """Two options, two seeds: the paired differences on the page are the
    recorded runs' own, and a second start trains nothing."""
    from experiments import char_lm_cells

    out = tmp_path / "cells"
    args = ["--steps", "20", "--steps-per-epoch", "10", "--train-chars",
            "50000", "--validation-chars", "5000", "--test-chars", "5000",
            "--units", "8", "--analysis-files", "1", "--analysis-chars",
            "300", "--seeds", "2", "--options", "standard", "layer_norm",
            "--map-length", "30", "--agreement-length", "10",
            "--agreement-epochs", "1", "--agreement-train-size", "64",
            "--agreement-test-size", "32", "--agreement-units", "4",
            "--quiet", "--output", str(out)]  # fmt: skip
    char_lm_cells.main(args)
    data = json.loads((out / "results.json").read_text())
    runs = {(r["option"], r["seed"]): r for r in data["runs"]
            if r["task"] == "char_lm"}  # fmt: skip
    sentences = [r for r in data["runs"] if r["task"] == "agreement"]
    assert sorted((r["option"], r["seed"]) for r in sentences) == sorted(runs)
    assert all(0.0 <= r["value"] <= 1.0 for r in sentences)
    assert sorted(runs) == [("layer_norm", 0), ("layer_norm", 1),
                            ("standard", 0), ("standard", 1)]  # fmt: skip
    assert runs[("layer_norm", 0)]["params"] > runs[("standard", 0)]["params"]
    chance = math.log2(len(text.VOCABULARY))
    for run in runs.values():
        assert 0 < run["value"] < chance
        assert len(run["validation_history"]) == 2
        assert len(run["gradient_map"]) == 30 and run["gradient_map"][0] == 1
        for gates in run["saturation"].values():
            assert sorted(gates) == ["forget", "input", "output"]
            assert all(0.0 <= share <= 1.0 for share in gates.values())
    # The paired interval, computed here: mean +- t(0.975, 1) * sd / sqrt 2.
    gaps = [runs[("layer_norm", s)]["value"] - runs[("standard", s)]["value"]
            for s in (0, 1)]  # fmt: skip
    half = 12.706 * np.std(gaps, ddof=1) / math.sqrt(2)
    mean = np.mean(gaps)
    page = (out / "summary.md").read_text()
    assert "| `layer_norm` | " in page
    assert f"{mean:+.3f} [{mean - half:+.3f}, {mean + half:+.3f}]" in page
    assert "## Agreement at T = 10" in page
    assert (out / "char_lm_cells.png").stat().st_size > 20_000
    before = (out / "results.json").read_text()
    char_lm_cells.main(args)
    assert (
        json.loads((out / "results.json").read_text())["runs"]
        == (json.loads(before)["runs"])
    )


def test_the_gradient_map_is_the_models_own_gradient():
    """`gradient_map` against central differences of the last character's
    loss, the embedded inputs perturbed one by one."""
    import keras

    from experiments import _char_model, char_lm_cells

    config = char_lm_cells.Config(units=4, embedding=3, map_length=6,
                                  map_windows=2)  # fmt: skip
    model = _char_model.build_model("GatedLSTM", config)
    ids = np.random.default_rng(0).integers(0, len(text.VOCABULARY), 40)
    ratios = char_lm_cells.gradient_map(model, ids, config)
    starts = np.linspace(0, len(ids) - 6 - 2, 2)
    windows = np.stack([ids[int(s) : int(s) + 7] for s in starts])
    embedded = keras.ops.convert_to_numpy(model.layers[0](windows[:, :-1]))
    embedded = embedded.astype("float64")

    def loss(e):
        logits = keras.ops.convert_to_numpy(
            model.layers[3](model.layers[2](model.layers[1](e.astype("f4"))))
        ).astype("float64")[:, -1]
        logits -= logits.max(-1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        return -log_p[np.arange(2), windows[:, -1]].sum()

    grad = np.zeros_like(embedded)
    for index in np.ndindex(*embedded.shape):
        step = np.zeros_like(embedded)
        step[index] = 1e-2
        grad[index] = (loss(embedded + step) - loss(embedded - step)) / 2e-2
    norms = np.linalg.norm(grad, axis=-1).mean(0)[::-1]
    np.testing.assert_allclose(ratios, norms / norms[0], rtol=2e-2)
    assert ratios[0] == 1.0 and len(ratios) == 6
