"""The text of the character-level experiment: the Python standard
library's own source, which every machine with Python has.

- `corpus(...)`: the interpreter's top-level `*.py` library files in sorted
  order, split by position into training, validation and held-out test
  files, with the Python version and a SHA-256 of the text, so that a run
  names exactly what it read.
- `VOCABULARY`, `encode`: a fixed alphabet (printable ASCII, newline, tab
  and one symbol for everything else), the same on every machine.
- `NGram`: an interpolated Witten-Bell character n-gram model, the
  baseline, vectorised with numpy.
- `text_features`: per-character facts from Python's `tokenize` (inside a
  string, inside a comment, bracket depth, indentation, column), the
  features Karpathy et al. (2015) found single LSTM cells tracking.
"""

from __future__ import annotations

import hashlib
import io
import platform
import sysconfig
import tokenize
from pathlib import Path

import numpy as np

OTHER = "\x7f"  # stands for every character outside the alphabet
VOCABULARY = "\n\t" + "".join(chr(c) for c in range(32, 127)) + OTHER
_INDEX = {c: i for i, c in enumerate(VOCABULARY)}
STRING_TYPES = {
    tokenize.STRING,
    *(
        getattr(tokenize, name)
        for name in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END")
        if hasattr(tokenize, name)
    ),
}
FEATURES = (
    "inside a string",
    "inside a comment",
    "bracket depth",
    "indentation",
    "column",
)


def encode(text: str) -> np.ndarray:
    """Characters -> int32 ids in `VOCABULARY` (others -> OTHER)."""
    other = _INDEX[OTHER]
    return np.fromiter(
        (_INDEX.get(c, other) for c in text), "int32", count=len(text)
    )


def library_files(root=None) -> list[Path]:
    """The top-level `*.py` files of the running interpreter's standard
    library, sorted by name."""
    root = Path(root or sysconfig.get_paths()["stdlib"])
    return sorted(root.glob("*.py"), key=lambda p: p.name)


def corpus(
    train_chars: int, test_chars: int, validation_chars: int, root=None
) -> dict:
    """Training, validation and test text from the library's files.

    Every tenth file (positions 9, 19, ...) is held out for test, the
    files at positions 4, 14, ... for validation, the rest train; each
    part is its files joined in order and cut to its size.

    Returns:
        `{"train", "validation", "test"}` texts, `"test_files"` (names, for
        the analysis), `"files"` (counts per part), `"python"` (version),
        `"sha256"` (of the three texts as used).
    """
    files = library_files(root)
    if not files:
        raise FileNotFoundError(f"no *.py files in {root!r}")
    parts = {"train": [], "validation": [], "test": []}
    for position, path in enumerate(files):
        part = {9: "test", 4: "validation"}.get(position % 10, "train")
        parts[part].append(path)
    sizes = {
        "train": train_chars,
        "validation": validation_chars,
        "test": test_chars,
    }
    texts = {part: _read(paths)[: sizes[part]] for part, paths in parts.items()}
    digest = hashlib.sha256()
    for part in ("train", "validation", "test"):
        digest.update(texts[part].encode("utf-8", "replace"))
    return {
        **texts,
        "test_files": [str(p) for p in parts["test"]],
        "files": {part: len(paths) for part, paths in parts.items()},
        "python": platform.python_version(),
        "sha256": digest.hexdigest(),
    }


def _read(paths) -> str:
    return "\n".join(p.read_text("utf-8", errors="replace") for p in paths)


# -- the n-gram baseline ---------------------------------------------------


class NGram:
    """Interpolated Witten-Bell character n-gram model.

    P_n(w | h) = (c(h, w) + N(h) P_{n-1}(w | h')) / (c(h) + N(h)), where
    h is the last n - 1 characters, h' the last n - 2, c counts in the
    training text and N(h) is the number of distinct characters seen after
    h; P_0 is uniform over the alphabet. A context never seen falls back
    to the shorter one.

    Args:
        ids: the training text as ids (`encode`).
        order: n, the number of characters in a window (1: unigram).
    """

    def __init__(self, ids: np.ndarray, order: int):
        if order < 1:
            raise ValueError(f"order must be at least 1, got {order}")
        self.order = order
        self.size = len(VOCABULARY)
        ids = np.asarray(ids, "int64")
        self.tables = [self._table(ids, n) for n in range(1, order + 1)]

    def _codes(self, ids, n, stop=None):
        """Code of the context of length n - 1 ending before each position
        i >= n - 1 (positions from n - 1 to `stop`)."""
        stop = len(ids) if stop is None else stop
        code = np.zeros(stop - (n - 1), "int64")
        for k in range(n - 1):
            code = code * self.size + ids[k : stop - (n - 1) + k]
        return code

    def _table(self, ids, n):
        context = self._codes(ids, n)
        pair = context * self.size + ids[n - 1 :]
        contexts, context_counts = np.unique(context, return_counts=True)
        pairs, pair_counts = np.unique(pair, return_counts=True)
        followers = np.bincount(
            np.searchsorted(contexts, pairs // self.size),
            minlength=len(contexts),
        )
        return contexts, context_counts, followers, pairs, pair_counts

    def probabilities(self, ids: np.ndarray) -> np.ndarray:
        """P(ids[i] | the characters before it) for every i (the first
        characters use the context they have)."""
        ids = np.asarray(ids, "int64")
        p = np.full(len(ids), 1.0 / self.size)
        for n, table in enumerate(self.tables, start=1):
            contexts, counts, followers, pairs, pair_counts = table
            padded = np.concatenate([np.zeros(n - 1, "int64"), ids])
            context = self._codes(padded, n)
            pair = context * self.size + ids
            where = np.clip(np.searchsorted(contexts, context), 0, None)
            where = np.minimum(where, len(contexts) - 1)
            seen = contexts[where] == context
            at = np.minimum(np.searchsorted(pairs, pair), len(pairs) - 1)
            c_hw = np.where(pairs[at] == pair, pair_counts[at], 0)
            c_h = np.where(seen, counts[where], 0)
            n_h = np.where(seen, followers[where], 0)
            known = seen & (np.arange(len(ids)) >= n - 1)
            mixed = (c_hw + n_h * p) / np.maximum(c_h + n_h, 1)
            p = np.where(known, mixed, p)
        return p

    def bits_per_character(self, ids: np.ndarray) -> float:
        return float(-np.log2(self.probabilities(ids)).mean())


# -- features of the text ----------------------------------------------------


def text_features(source: str) -> dict[str, np.ndarray]:
    """Per character of `source`: inside a string literal (0/1), inside a
    comment (0/1), bracket depth (brackets opened before it and not yet
    closed; a closing bracket counts outside), indentation (leading
    blanks of its line) and column (position in its line).

    Raises:
        tokenize.TokenError or SyntaxError when `source` is not Python.
    """
    length = len(source)
    lines = source.splitlines(keepends=True)
    starts = np.concatenate([[0], np.cumsum([len(line) for line in lines])])
    string = np.zeros(length, "float32")
    comment = np.zeros(length, "float32")
    delta = np.zeros(length + 1, "float32")
    readline = io.StringIO(source).readline
    for token in tokenize.generate_tokens(readline):
        begin = int(starts[token.start[0] - 1] + token.start[1])
        end = int(starts[token.end[0] - 1] + token.end[1])
        if token.type in STRING_TYPES:
            string[begin:end] = 1.0
        elif token.type == tokenize.COMMENT:
            comment[begin:end] = 1.0
        elif token.type == tokenize.OP and token.string in "([{":
            delta[begin + 1] += 1.0
        elif token.type == tokenize.OP and token.string in ")]}":
            delta[begin] -= 1.0
    indentation = np.zeros(length, "float32")
    column = np.zeros(length, "float32")
    for line, start in zip(lines, starts, strict=False):
        blanks = len(line) - len(line.lstrip(" \t"))
        indentation[start : start + len(line)] = blanks
        column[start : start + len(line)] = np.arange(len(line))
    return {
        "inside a string": string,
        "inside a comment": comment,
        "bracket depth": np.cumsum(delta[:length]),
        "indentation": indentation,
        "column": column,
    }


def excerpt(source: str, chars: int) -> str:
    """The first lines of `source` that fit in `chars` characters (at
    least one line)."""
    cut = source.rfind("\n", 0, chars)
    return source[: cut + 1] if cut > 0 else source[:chars]
