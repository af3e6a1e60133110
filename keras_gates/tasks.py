"""Synthetic long-dependency tasks: seeded numpy generators, no keras.

Each task makes `(x, y)` for any length T from a numpy Generator, and knows
its chance-level baseline. `make_splits` draws train/validation/test splits
from one seed.

- `agreement`: the article's "The dog which ran away from home has
  returned": a subject noun (singular or plural) opens the sequence, a
  clause of T tokens follows, and the model predicts the verb's number at
  the final `<verb>` token. Clause nouns of either number appear at
  `noun_rate`, drawn independently of the subject, so nothing but the first
  token tells the answer; a model that follows the most recent noun scores
  50%.
- `adding` (Hochreiter & Schmidhuber 1997; Le et al. 2015): two channels,
  values U[0, 1] and a marker channel with one 1 in each half; the target
  is the sum of the two marked values. Predicting 1 always has MSE 1/6.
- `copy` (Arjovsky, Shah & Bengio 2016): 10 symbols from 8, T blanks with a
  delimiter, and the model must output the 10 symbols at the end. The
  memoryless baseline's cross-entropy is 10 ln(8) / (T + 20).
- `temporal_order` (Hochreiter & Schmidhuber 1997, task 6a): distractor
  symbols with two relevant symbols, X or Y, one early and one in the
  middle; the class is their order (XX, XY, YX, YY). Chance: 25%.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# -- agreement ---------------------------------------------------------------

SINGULAR_NOUNS = (
    "dog", "cat", "boy", "girl", "bird", "man", "car", "key", "song", "tree"
)  # fmt: skip
PLURAL_NOUNS = tuple(n + "s" for n in SINGULAR_NOUNS[:5]) + (
    "men", "cars", "keys", "songs", "trees"
)  # fmt: skip
FILLERS = (
    "which", "ran", "away", "from", "home", "and", "the", "near", "old",
    "with", "that", "saw", "a", "big", "by", "on", "quickly", "it", "over",
    "after",
)  # fmt: skip
AGREEMENT_VOCABULARY = (
    ("<pad>",) + SINGULAR_NOUNS + PLURAL_NOUNS + FILLERS + ("<verb>",)
)
_SINGULAR = np.arange(1, 1 + len(SINGULAR_NOUNS))
_PLURAL = _SINGULAR[-1] + 1 + np.arange(len(PLURAL_NOUNS))
_FILLER = _PLURAL[-1] + 1 + np.arange(len(FILLERS))
VERB = len(AGREEMENT_VOCABULARY) - 1


def agreement(n: int, length: int, rng, noun_rate: float = 0.2):
    """Subject-verb agreement across a clause of `length` tokens.

    Returns:
        x: int32 `(n, length + 2)`: subject, clause, `<verb>`.
        y: float32 `(n,)`: 1 if the subject is plural.
    """
    plural = rng.integers(0, 2, n)
    subject = np.where(plural, rng.choice(_PLURAL, n), rng.choice(_SINGULAR, n))
    is_noun = rng.random((n, length)) < noun_rate
    noun_plural = rng.integers(0, 2, (n, length)).astype(bool)
    nouns = np.where(
        noun_plural,
        rng.choice(_PLURAL, (n, length)),
        rng.choice(_SINGULAR, (n, length)),
    )
    clause = np.where(is_noun, nouns, rng.choice(_FILLER, (n, length)))
    x = np.concatenate(
        [subject[:, None], clause, np.full((n, 1), VERB)], axis=1
    )
    return x.astype("int32"), plural.astype("float32")


def agreement_attractors(
    n: int, length: int, rng, attractors: int, noun_rate: float = 0.2
):
    """Agreement sentences with exactly `attractors` attractors.

    An attractor (Linzen, Dupoux & Goldberg 2016) is a noun between the
    subject and the verb whose number differs from the subject's. Here the
    attractors are the last `attractors` nouns of the clause, the ones
    nearest the verb, and every other clause noun has the subject's number:
    a model that follows the most recent noun is right with 0 attractors
    and wrong with any. Nouns appear at `noun_rate` as in `agreement`;
    a sentence with fewer nouns than attractors gets more, at random
    clause positions.

    Returns:
        x: int32 `(n, length + 2)`: subject, clause, `<verb>`.
        y: float32 `(n,)`: 1 if the subject is plural.
    """
    if not 0 <= attractors <= length:
        raise ValueError(
            f"attractors must be between 0 and the length ({length}), got "
            f"{attractors}"
        )
    x, y = agreement(n, length, rng, noun_rate)
    plural = y.astype(bool)
    is_noun = np.isin(x[:, 1:-1], _SINGULAR) | np.isin(x[:, 1:-1], _PLURAL)
    for row in range(n):
        missing = attractors - int(is_noun[row].sum())
        if missing > 0:
            free = np.flatnonzero(~is_noun[row])
            is_noun[row, rng.choice(free, missing, replace=False)] = True
        positions = np.flatnonzero(is_noun[row])
        number = np.full(len(positions), plural[row])
        number[len(positions) - attractors :] = not plural[row]
        words = np.where(
            number,
            rng.choice(_PLURAL, len(positions)),
            rng.choice(_SINGULAR, len(positions)),
        )
        x[row, 1 + positions] = words
    return x, y


def agreement_tokens(sequence) -> list[str]:
    """The words of one agreement sequence."""
    return [AGREEMENT_VOCABULARY[int(t)] for t in sequence]


def most_recent_noun_accuracy(x, y) -> float:
    """Accuracy of guessing the number of the last noun before `<verb>`."""
    guesses = []
    for row in x:
        nouns = [t for t in row[:-1] if t in _SINGULAR or t in _PLURAL]
        guesses.append(float(nouns[-1] in _PLURAL))
    return float(np.mean(np.array(guesses) == y))


# -- adding, copy, temporal order --------------------------------------------


def adding(n: int, length: int, rng):
    """The adding problem: x `(n, length, 2)` float32, y `(n,)`."""
    if length < 2:
        raise ValueError(f"length must be at least 2, got {length}")
    values = rng.random((n, length))
    markers = np.zeros((n, length))
    half = length // 2
    first = rng.integers(0, half, n)
    second = rng.integers(half, length, n)
    markers[np.arange(n), first] = 1.0
    markers[np.arange(n), second] = 1.0
    y = values[np.arange(n), first] + values[np.arange(n), second]
    x = np.stack([values, markers], axis=-1)
    return x.astype("float32"), y.astype("float32")


COPY_SYMBOLS, COPY_BLANK, COPY_DELIMITER = 8, 0, 9


def copy_memory(n: int, length: int, rng):
    """Copy memory with T = `length` blanks.

    Returns:
        x: int32 `(n, length + 20)`: 10 symbols (1..8), `length - 1` blanks,
            the delimiter (9), 10 blanks.
        y: int32 `(n, length + 20)`: `length + 10` blanks, then the symbols.
    """
    symbols = rng.integers(1, COPY_SYMBOLS + 1, (n, 10))
    x = np.zeros((n, length + 20), "int32")
    y = np.zeros((n, length + 20), "int32")
    x[:, :10] = symbols
    x[:, length + 9] = COPY_DELIMITER
    y[:, -10:] = symbols
    return x, y


TEMPORAL_SYMBOLS = ("<pad>", "a", "b", "c", "d", "X", "Y", "B", "E")


def temporal_order(n: int, length: int, rng):
    """Temporal order, 4 classes: x int32 `(n, length)`, y int32 `(n,)`."""
    if length < 10:
        raise ValueError(f"length must be at least 10, got {length}")
    x = rng.integers(1, 5, (n, length))  # distractors a..d
    x[:, 0], x[:, -1] = 7, 8  # B ... E
    first = rng.integers(int(0.1 * length), int(0.2 * length) + 1, n)
    second = rng.integers(int(0.5 * length), int(0.6 * length) + 1, n)
    which = rng.integers(0, 2, (n, 2))  # 0: X, 1: Y
    x[np.arange(n), first] = 5 + which[:, 0]
    x[np.arange(n), second] = 5 + which[:, 1]
    y = 2 * which[:, 0] + which[:, 1]
    return x.astype("int32"), y.astype("int32")


# -- the registry ------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """A task: how to make data and what chance looks like.

    Attributes:
        name: registry key.
        kind: "binary", "regression", "classes" (one label per sequence) or
            "sequence" (one label per step).
        vocabulary: number of token ids (0 for real-valued inputs).
        features: input features when real-valued.
        classes: output classes ("classes", "sequence").
        metric: the headline metric, "accuracy" or "mse" or "cross_entropy".
        higher_is_better: for the headline metric.
    """

    name: str
    kind: str
    vocabulary: int
    features: int
    classes: int
    metric: str
    higher_is_better: bool

    def make(self, n: int, length: int, rng, **options):
        return _GENERATORS[self.name](n, length, rng, **options)

    def baseline(self, length: int) -> float:
        """Chance level of the headline metric at this length."""
        if self.name == "agreement":
            return 0.5
        if self.name == "adding":
            return 1.0 / 6.0
        if self.name == "copy":
            return 10 * np.log(COPY_SYMBOLS) / (length + 20)
        return 0.25


_GENERATORS = {
    "agreement": agreement,
    "adding": adding,
    "copy": copy_memory,
    "temporal_order": temporal_order,
}
TASKS = {
    "agreement": Task(
        "agreement", "binary", len(AGREEMENT_VOCABULARY), 0, 2,
        "accuracy", True,
    ),
    "adding": Task("adding", "regression", 0, 2, 1, "mse", False),
    "copy": Task("copy", "sequence", 10, 0, 10, "cross_entropy", False),
    "temporal_order": Task(
        "temporal_order", "classes", len(TEMPORAL_SYMBOLS), 0, 4,
        "accuracy", True,
    ),
}  # fmt: skip


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise ValueError(
            f"unknown task {name!r}; valid tasks: {', '.join(sorted(TASKS))}"
        )
    return TASKS[name]


def make_splits(task, length: int, sizes=(4000, 500, 1000), seed=0, **options):
    """Train, validation and test `(x, y)` pairs from one seed.

    Args:
        task: a `Task` or its name.
        length: T, the dependency distance.
        sizes: `(train, validation, test)` sizes.
        seed: int.
        **options: task options, e.g. `noun_rate` for agreement.

    Returns:
        `{"train": (x, y), "validation": (x, y), "test": (x, y)}`.
    """
    task = get_task(task) if isinstance(task, str) else task
    rng = np.random.default_rng(seed)
    return {
        split: task.make(size, length, rng, **options)
        for split, size in zip(
            ("train", "validation", "test"), sizes, strict=True
        )
    }
