"""Means, intervals and verdicts over seeds."""

import math

import numpy as np
import pytest

from experiments._intervals import (
    Interval,
    compare,
    interval,
    paired,
    t_critical,
)


def test_t_critical_values_are_students():
    stats = pytest.importorskip("scipy.stats")
    for df in range(1, 31):
        assert t_critical(df) == pytest.approx(stats.t.ppf(0.975, df), abs=6e-4)
    assert t_critical(200) == 1.96
    with pytest.raises(ValueError, match="df must be at least 1, got 0"):
        t_critical(0)


def test_an_interval_by_hand():
    # mean 2, sd 1 (ddof 1), n = 3: half width 4.303 / sqrt(3).
    found = interval([1.0, 2.0, 3.0])
    half = 4.303 / math.sqrt(3)
    assert (found.n, found.mean) == (3, 2.0)
    assert found.low == pytest.approx(2 - half)
    assert found.high == pytest.approx(2 + half)
    assert found.text(2) == f"2.00 [{2 - half:.2f}, {2 + half:.2f}]"


def test_one_seed_has_no_interval_and_resolves_nothing():
    one = interval([0.9])
    assert (one.low, one.high) == (None, None)
    assert one.text() == "0.900 (1 seed, no interval)"
    other = interval([0.1, 0.11, 0.12])
    assert compare("A", one, "B", other) == "A and B not resolved at 1 seed"
    with pytest.raises(ValueError, match="at least one value"):
        interval([])


def test_verdicts_follow_the_intervals():
    high = Interval(5, 0.9, 0.85, 0.95)
    low = Interval(5, 0.6, 0.5, 0.7)
    near = Interval(5, 0.8, 0.7, 0.86)
    assert compare("A", high, "B", low) == "A better than B"
    assert compare("A", low, "B", high) == "B better than A"
    assert compare("A", low, "B", high, higher=False) == "A better than B"
    assert compare("A", high, "B", near) == "A and B not resolved at 5 seeds"


def test_paired_differences():
    assert paired([0.0, 0.0, 0.0]) == "identical on all 3 seeds"
    assert paired([0.1]).endswith("(1 seed, no interval)")
    assert paired([0.10, 0.12, 0.11, 0.13]).endswith("different")
    assert paired([0.1, -0.1, 0.05]).endswith("no difference resolved")
    rng = np.random.default_rng(0)
    values = rng.normal(0.3, 0.05, 8)
    text = paired(values)
    found = interval(values)
    assert f"[{found.low:+.4f}, {found.high:+.4f}] over 8 seeds" in text
