"""How well a review ranking finds consensus errors: recall at a review fraction, its ceiling, effort curves.

Ties are scored by their expectation under a random order: when the cut at ``k`` items falls inside
a group of equal scores, that group contributes its errors times the share of it that fits. So a score
that ties everything earns the random-review recall, never a lucky input order.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["recall_at", "recall_ratio", "items_for_recall", "caught_curve"]


def _expected_hits(score: np.ndarray, err: np.ndarray, k: int) -> float:
    if k <= 0:
        return 0.0
    s = np.asarray(score, dtype=np.float64)
    e = np.asarray(err, dtype=bool)
    order = np.argsort(-s, kind="stable")
    s, e = s[order], e[order]
    if k >= len(s):
        return float(e.sum())
    edge = s[k - 1]
    above = s > edge
    group = s == edge
    taken = k - int(above.sum())
    return float(e[above].sum() + e[group].sum() * taken / max(int(group.sum()), 1))


def recall_at(score: Any, err: Any, fraction: float = 0.1) -> float:
    """Share of the errors among the first ``ceil(fraction * n)`` items by ``score`` (higher first)."""
    e = np.asarray(err, dtype=bool)
    if e.sum() == 0:
        return float("nan")
    k = math.ceil(fraction * len(e) - 1e-9)
    return _expected_hits(np.asarray(score), e, k) / float(e.sum())


def recall_ratio(score: Any, err: Any, fraction: float = 0.1) -> float:
    """:func:`recall_at` divided by its ceiling ``min(1, k / errors)``."""
    e = np.asarray(err, dtype=bool)
    if e.sum() == 0:
        return float("nan")
    k = math.ceil(fraction * len(e) - 1e-9)
    return recall_at(score, e, fraction) / min(1.0, k / float(e.sum()))


def items_for_recall(score: Any, err: Any, target: float = 0.8) -> int:
    """Fewest items, taken by ``score``, whose expected recall reaches ``target``."""
    e = np.asarray(err, dtype=bool)
    need = target * e.sum()
    lo, hi = 0, len(e)
    while lo < hi:  # expected hits grow with k
        mid = (lo + hi) // 2
        if _expected_hits(np.asarray(score), e, mid) + 1e-9 >= need:
            hi = mid
        else:
            lo = mid + 1
    return lo


def caught_curve(score: Any, err: Any, steps: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """(items reviewed, expected errors caught) at ``steps`` evenly spaced cut points."""
    e = np.asarray(err, dtype=bool)
    ks = np.unique(np.linspace(0, len(e), steps + 1).astype(int))
    return ks, np.array([_expected_hits(np.asarray(score), e, int(k)) for k in ks])
