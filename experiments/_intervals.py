"""Means and 95% intervals over seeds, and verdicts decided from them.

The interval is Student's t: mean +- t(0.975, n - 1) * sd / sqrt(n), with
the sample standard deviation (ddof 1). With one seed there is no
interval, and a verdict says so. Two cells differ only when their
intervals do not overlap; otherwise the verdict is "not resolved at N
seeds". Paired comparisons (the same seeds on both sides) use the
interval of the per-seed differences.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# t(0.975, df) for df = 1..30; larger df use the normal 1.96.
_T975 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
)

METHOD = "95% t-interval over seeds (mean +- t * sd / sqrt(n))"


def t_critical(df: int) -> float:
    if df < 1:
        raise ValueError(f"df must be at least 1, got {df}")
    return _T975[df - 1] if df <= len(_T975) else 1.96


@dataclass(frozen=True)
class Interval:
    """The mean of `n` values and its 95% interval (None for n = 1)."""

    n: int
    mean: float
    low: float | None
    high: float | None

    def overlaps(self, other: Interval) -> bool:
        if None in (self.low, self.high, other.low, other.high):
            return True
        return not (self.high < other.low or other.high < self.low)

    def text(self, digits: int = 3) -> str:
        if self.low is None:
            return f"{self.mean:.{digits}f} (1 seed, no interval)"
        return (
            f"{self.mean:.{digits}f} [{self.low:.{digits}f}, "
            f"{self.high:.{digits}f}]"
        )


def interval(values: Sequence[float]) -> Interval:
    values = [float(v) for v in values]
    if not values:
        raise ValueError("interval needs at least one value")
    n = len(values)
    mean = sum(values) / n
    if n == 1:
        return Interval(1, mean, None, None)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_critical(n - 1) * sd / math.sqrt(n)
    return Interval(n, mean, mean - half, mean + half)


def compare(
    name_a: str, a: Interval, name_b: str, b: Interval, higher=True
) -> str:
    """Says which is better when the intervals are apart, else "not
    resolved at N seeds"."""
    if a.overlaps(b):
        return (
            f"{name_a} and {name_b} not resolved at {min(a.n, b.n)} "
            f"seed{'s' if min(a.n, b.n) > 1 else ''}"
        )
    better = (a.mean > b.mean) == higher
    first, second = (name_a, name_b) if better else (name_b, name_a)
    return f"{first} better than {second}"


def paired(differences: Sequence[float]) -> str:
    """The interval of per-seed differences, and whether it excludes 0."""
    found = interval(differences)
    if all(d == 0.0 for d in differences):
        return f"identical on all {found.n} seeds"
    if found.low is None:
        return f"difference {found.mean:+.4f} (1 seed, no interval)"
    verdict = (
        "no difference resolved"
        if found.low <= 0.0 <= found.high
        else "different"
    )
    return (
        f"difference {found.mean:+.4f} [{found.low:+.4f}, "
        f"{found.high:+.4f}] over {found.n} seeds: {verdict}"
    )


def paired_verdict(differences: Sequence[float], higher: bool = True):
    """(interval of the per-seed differences a - b, verdict for a): "better"
    or "worse" (by `higher`) only when the interval excludes 0; otherwise
    "identical on N seeds", "1 seed: +d, not resolved" or "not resolved
    at N seeds"."""
    found = interval(differences)
    if all(d == 0.0 for d in differences):
        return found, f"identical on {found.n} seeds"
    if found.low is None:
        return found, f"1 seed: {found.mean:+.4f}, not resolved"
    if found.low <= 0.0 <= found.high:
        return found, f"not resolved at {found.n} seeds"
    return found, "better" if (found.mean > 0) == higher else "worse"
