"""Sampling k distinct items per row without replacement, in memory proportional to rows x k.

Drawing k items without replacement is the same as drawing with replacement and keeping the
first k distinct ones. Both the synthetic generator (weighted draws) and the test negatives
(uniform draws that skip a user's positives) sample this way, so neither ever builds a
users x items array: rows short of k after a round draw again, and the few rows that are still
short after `MAX_ROUNDS` (k close to everything they may draw) get an exact fallback.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

MAX_ROUNDS = 64

Draw = Callable[[np.ndarray, int], np.ndarray]  # (row indices, n) -> (rows, n) draws, -1 = rejected
Exact = Callable[[np.ndarray], np.ndarray]  # row indices -> (rows, k) distinct items


def first_distinct(draws: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row of (rows, n) draws, its first k distinct items in draw order (-1 skipped), and how many."""
    rows, n = draws.shape
    width = int(draws.max()) + 1 if draws.size else 1
    keys = np.where(draws >= 0, np.arange(rows)[:, None] * width + draws, -1).ravel()
    _, first = np.unique(keys, return_index=True)
    first = np.sort(first[keys[first] >= 0])  # row-major positions: by row, then in draw order
    row_of = first // n
    counts = np.bincount(row_of, minlength=rows)
    rank = np.arange(len(first)) - np.repeat(np.cumsum(counts) - counts, counts)
    keep = rank < k
    result = np.full((rows, k), -1, dtype=np.int64)
    result[row_of[keep], rank[keep]] = draws.ravel()[first[keep]]
    return result, np.minimum(counts, k)


def sample_distinct(n_rows: int, k: int, draw: Draw, exact: Exact) -> np.ndarray:
    """(n_rows, k) distinct items per row: repeated rounds of 2k draws, `exact` for the stragglers."""
    rows = np.arange(n_rows)
    draws = draw(rows, 2 * k)
    chosen, found = first_distinct(draws, k)
    pending = np.flatnonzero(found < k)
    draws = draws[pending]
    for _ in range(MAX_ROUNDS):
        if len(pending) == 0:
            return chosen
        draws = np.concatenate([draws, draw(pending, 2 * k)], axis=1)
        chosen[pending], found = first_distinct(draws, k)
        pending, draws = pending[found < k], draws[found < k]
    if len(pending):
        chosen[pending] = exact(pending)
    return chosen
