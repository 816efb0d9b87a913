"""How well a review ranking finds consensus errors: recall at a review fraction, its ceiling, effort curves.

Ties are scored by their expectation under a random order: when the cut at ``k`` items falls inside
a group of equal scores, that group contributes its errors times the share of it that fits. So a score
that ties everything earns the random-review recall, never a lucky input order.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["recall_at", "recall_ratio", "items_for_recall", "caught_curve", "sequential_review",
           "pairwise_agreement", "label_studio_items"]


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


def sequential_review(table: pd.DataFrame, truth: pd.Series, *, task: str | None = None,
                      batch_fraction: float = 0.05, batch: int | None = None, weights: Any = None,
                      fit: Any = None, reviewer: str = "simulated-reviewer") -> pd.DataFrame:
    """Simulate batched review that learns from its own outcomes, honestly.

    Plans review of ``table`` (:func:`labkit.review.planner.plan_review`, ``--fraction 1``), reviews the first
    ``batch`` open items that have a known true label in ``truth`` (item_id -> label; default batch:
    ``ceil(batch_fraction x len(truth))``), adds their outcomes to the table as ``stage=review`` rows (the
    way a user imports review outcomes), plans again, and so on until every item of ``truth`` is reviewed.
    The truth of an item is read only once that item is reviewed, so the order never depends on the truth
    of items not yet reviewed. The consensus fit is made once (review rows do not enter it).

    Returns one row per reviewed item in review order: ``order`` (1-based), ``batch`` (1-based),
    ``item_id``, ``consensus_label``, ``true_label`` and ``error`` (consensus differs from the truth).
    """
    from labkit.io.base import concat_labels
    from labkit.review.planner import _is, plan_review
    from labkit.schema import conform_labels
    from labkit.stats.truth import fit_consensus

    if fit is None:
        fit = fit_consensus(table[_is(table["stage"], "label") & _is(table["source"], "human")])
    if task is None:
        if len(fit.posteriors) != 1:
            raise ValueError(f"the table has {len(fit.posteriors)} tasks; name one with task=")
        task = next(iter(fit.posteriors))
    truth = truth.copy()
    truth.index = truth.index.astype(str)
    truth = truth[~truth.index.duplicated(keep="last")]
    size = batch if batch is not None else max(1, math.ceil(batch_fraction * len(truth) - 1e-9))
    if size < 1:
        raise ValueError(f"batch must be >= 1, got {size}")
    done: set[str] = set()
    order: list[tuple[int, str, str, str]] = []
    reviews: list[pd.DataFrame] = []
    current = table
    round_no = 0
    while True:
        q = plan_review(current, budget_fraction=1.0, weights=weights, fit=fit).queue
        q = q[(q["task"].astype(str) == task) & q["item_id"].isin(truth.index) & ~q["item_id"].isin(done)]
        if q.empty:
            break
        round_no += 1
        take = q.iloc[:size]
        ids = take["item_id"].astype(str).to_list()
        revealed = truth.loc[ids].astype(str)  # the truth of the items reviewed now, and of no other
        for i, c, lab in zip(ids, take["consensus_label"].astype(str), revealed):
            order.append((round_no, i, c, lab))
        done.update(ids)
        rows = pd.DataFrame({"item_id": ids, "annotator_id": reviewer, "label": revealed.to_list(), "task": task,
                             "stage": "review"})
        reviews = [concat_labels([*reviews, conform_labels(rows).table])]
        current = concat_labels([table, reviews[0]])
    out = pd.DataFrame(order, columns=["batch", "item_id", "consensus_label", "true_label"])
    out.insert(0, "order", np.arange(1, len(out) + 1))
    out["error"] = out["consensus_label"] != out["true_label"]
    return out


def pairwise_agreement(table: pd.DataFrame, items: pd.Index) -> np.ndarray:
    """Label Studio's agreement of each of ``items``: the share of pairs of its annotations that agree
    (1 with fewer than two annotations)."""
    df = pd.DataFrame({"item": table["item_id"].astype(str), "label": table["label"].astype(str)})
    V = pd.crosstab(df["item"], df["label"]).reindex(index=items, fill_value=0).to_numpy(float)
    n = V.sum(1)
    return np.divide((V * (V - 1)).sum(1), n * (n - 1), out=np.ones(len(n)), where=n > 1)


def label_studio_items(table: pd.DataFrame, items: pd.Index, err: Any, target: float = 0.8) -> float:
    """Items a Label Studio-style policy reviews to catch ``target`` of the errors (expected): every item whose
    pairwise agreement is below a threshold, plus a 5% random spot check of the rest; the cheapest threshold,
    chosen knowing ``err`` (the policy's best case). NaN when no threshold reaches ``target``."""
    e = np.asarray(err, dtype=bool)
    agree = pairwise_agreement(table, items)
    need = target * e.sum()
    best = None
    for thr in np.unique(np.concatenate([agree, [1.0 + 1e-9]])):
        below = agree < thr
        rest = ~below
        caught = e[below].sum() + 0.05 * e[rest].sum()
        cost = below.sum() + int(np.ceil(0.05 * rest.sum()))
        if caught + 1e-9 >= need:
            best = cost if best is None else min(best, cost)
    return float(best) if best is not None else float("nan")
