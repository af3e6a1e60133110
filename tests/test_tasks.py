"""The synthetic tasks: what they hold, and their chance baselines."""

import numpy as np
import pytest

from keras_gates import tasks


def test_agreement_answer_is_only_in_the_first_token():
    rng = np.random.default_rng(0)
    x, y = tasks.agreement(20000, 30, rng, noun_rate=0.3)
    assert x.shape == (20000, 32) and x.dtype == np.int32
    assert (x[:, -1] == tasks.VERB).all()
    plural_subject = np.isin(x[:, 0], tasks._PLURAL)
    np.testing.assert_array_equal(plural_subject, y == 1)
    # Following the most recent noun is a coin flip, as the issue demands.
    assert abs(tasks.most_recent_noun_accuracy(x[:4000], y[:4000]) - 0.5) < 0.03
    # Clause nouns are independent of the subject.
    clause_plural = np.isin(x[:, 1:-1], tasks._PLURAL).mean(axis=1)
    gap = clause_plural[y == 1].mean() - clause_plural[y == 0].mean()
    assert abs(gap) < 0.005
    noun_rate = np.isin(
        x[:, 1:-1], np.r_[tasks._SINGULAR, tasks._PLURAL]
    ).mean()
    assert abs(noun_rate - 0.3) < 0.01
    words = tasks.agreement_tokens(x[0])
    assert words[-1] == "<verb>" and len(words) == 32


def test_adding_baseline_is_one_sixth():
    x, y = tasks.adding(200000, 50, np.random.default_rng(1))
    assert x.shape == (200000, 50, 2)
    assert (x[..., 1].sum(axis=1) == 2).all()
    assert (x[:, :25, 1].sum(axis=1) == 1).all()
    marked = (x[..., 0] * x[..., 1]).sum(axis=1)
    np.testing.assert_allclose(marked, y, rtol=1e-5)
    mse_of_one = np.mean((y - 1.0) ** 2)
    assert abs(mse_of_one - 1 / 6) < 0.003
    assert tasks.get_task("adding").baseline(50) == pytest.approx(1 / 6)


def test_copy_memory_layout_and_memoryless_baseline():
    T = 30
    x, y = tasks.copy_memory(500, T, np.random.default_rng(2))
    assert x.shape == y.shape == (500, T + 20)
    np.testing.assert_array_equal(y[:, -10:], x[:, :10])
    assert (x[:, T + 9] == tasks.COPY_DELIMITER).all()
    assert (y[:, : T + 10] == 0).all()
    # Blank for T + 10 steps, then uniform over the 8 symbols.
    probabilities = np.zeros((T + 20, 10))
    probabilities[: T + 10, 0] = 1.0
    probabilities[T + 10 :, 1:9] = 1 / 8
    ce = -np.log(probabilities[np.arange(T + 20), y]).mean()
    assert ce == pytest.approx(tasks.get_task("copy").baseline(T))
    assert ce == pytest.approx(10 * np.log(8) / (T + 20))


def test_temporal_order_classes():
    x, y = tasks.temporal_order(8000, 100, np.random.default_rng(3))
    relevant = np.isin(x, (5, 6))
    assert (relevant.sum(axis=1) == 2).all()
    first = np.argmax(relevant, axis=1)
    assert first.min() >= 10 and first.max() <= 20
    assert np.bincount(y).min() > 1800  # four balanced classes
    symbols = x[relevant].reshape(-1, 2) - 5
    np.testing.assert_array_equal(2 * symbols[:, 0] + symbols[:, 1], y)


def test_splits_are_seeded_and_distinct():
    a = tasks.make_splits("adding", 20, sizes=(10, 5, 5), seed=4)
    b = tasks.make_splits("adding", 20, sizes=(10, 5, 5), seed=4)
    np.testing.assert_array_equal(a["test"][0], b["test"][0])
    assert not np.array_equal(a["train"][0][:5], a["test"][0])


def test_unknown_task_lists_the_valid_ones():
    with pytest.raises(
        ValueError, match="valid tasks: adding, agreement, copy"
    ):
        tasks.get_task("parity")


def _numbers(x):
    """Per clause token: 1 plural noun, 0 singular noun, -1 not a noun
    (from the vocabulary's words, not the package's id ranges)."""
    words = np.array(tasks.AGREEMENT_VOCABULARY)[x]
    singular = np.isin(words, tasks.SINGULAR_NOUNS)
    plural = np.isin(words, tasks.PLURAL_NOUNS)
    return np.where(plural, 1, np.where(singular, 0, -1))


@pytest.mark.parametrize("k", [0, 1, 3, 6])
def test_attractor_sentences_have_exactly_k_attractors_nearest_the_verb(k):
    rng = np.random.default_rng(k)
    x, y = tasks.agreement_attractors(400, 40, rng, k, noun_rate=0.2)
    assert x.shape == (400, 42) and x.dtype == np.int32
    numbers = _numbers(x)
    # The subject opens the sentence and gives the label; <verb> ends it.
    assert np.array_equal(numbers[:, 0], y.astype(int))
    assert np.all(x[:, -1] == tasks.VERB)
    for row, label in zip(numbers[:, 1:-1], y.astype(int), strict=True):
        nouns = row[row >= 0]
        assert np.sum(nouns != label) == k
        # The attractors are the last k nouns: after them, none agrees.
        assert np.all(nouns[len(nouns) - k :] != label)
        assert np.all(nouns[: len(nouns) - k] == label)
    # Both numbers of subject appear; guessing the last noun is right
    # exactly when there is no attractor.
    assert 0.4 < y.mean() < 0.6
    assert tasks.most_recent_noun_accuracy(x, y) == (1.0 if k == 0 else 0.0)


def test_attractor_sentences_get_nouns_when_the_clause_has_too_few():
    rng = np.random.default_rng(0)
    x, y = tasks.agreement_attractors(50, 12, rng, 3, noun_rate=0.0)
    numbers = _numbers(x)[:, 1:-1]
    assert np.all((numbers >= 0).sum(axis=1) == 3)
    assert np.all(numbers[numbers >= 0].reshape(50, 3) != y[:, None])


@pytest.mark.parametrize("k", [-1, 13])
def test_attractor_count_outside_the_clause_is_refused(k):
    with pytest.raises(ValueError, match=f"attractors must be .* got {k}"):
        tasks.agreement_attractors(4, 12, np.random.default_rng(0), k)
