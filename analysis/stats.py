"""Small exact statistics for findings on a few dozen flights: Fisher's exact test and a permutation test.

Both are written out here (a few lines each) so that a reader can check them by hand and the build needs no
statistics library. Random draws use a fixed seed, so two builds of the same data print the same p-value.

>>> round(fisher_exact(3, 0, 0, 5), 4)  # 3 of 3 before, 0 of 5 after: two-sided p
0.0179
>>> fisher_exact(1, 1, 1, 1)
1.0
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from math import comb

__all__ = ["fisher_exact", "permutation_p", "SEED"]

SEED = 20081210  # fixed: builds are reproducible


def fisher_exact(a: int, b: int, c: int, d: int) -> float:
    """Two-sided p-value of Fisher's exact test for the 2x2 table [[a, b], [c, d]].

    Sums the probabilities (hypergeometric, margins fixed) of every table at most as probable as the observed one.
    """
    row1, row2, col1 = a + b, c + d, a + c
    n = row1 + row2
    total = comb(n, col1)

    def prob(x: int) -> float:
        return comb(row1, x) * comb(row2, col1 - x) / total

    lo, hi = max(0, col1 - row2), min(row1, col1)
    observed = prob(a)
    p = sum(prob(x) for x in range(lo, hi + 1) if prob(x) <= observed * (1 + 1e-9))
    return min(1.0, round(p, 12))


def permutation_p(
    observed: float, draw: Callable[[random.Random], float], n: int = 10000, seed: int = SEED
) -> float:
    """One-sided p-value that a random draw is at most ``observed`` (add-one estimate: (k + 1) / (n + 1)).

    ``draw(rng)`` computes the statistic once for random data. A small statistic is the "extreme" end (e.g. a mean
    distance in days to the nearest event).
    """
    rng = random.Random(seed)
    k = sum(1 for _ in range(n) if draw(rng) <= observed)
    return (k + 1) / (n + 1)


def mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")
