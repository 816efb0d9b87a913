"""The statistics a calibration session shows, taken from :mod:`labkit.stats`.

A session's answers are a tiny table (a few participants x a few dozen items); this module adapts it
to the canonical shape (``item_id, annotator_id, label``) and asks :mod:`labkit.stats` for
Krippendorff's alpha, Fleiss' kappa and pairwise agreement, with bootstrap intervals over items, and
for Wilson intervals on accuracies. Nothing is re-implemented here except the one-line per-item
disagreement used for ranking.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

NAN = float("nan")


def _canonical(table: pd.DataFrame, rater: str) -> pd.DataFrame:
    return pd.DataFrame({"item_id": table["item_id"].astype(str).to_numpy(),
                         "annotator_id": table[rater].astype(str).to_numpy(),
                         "label": table["label"].astype(str).to_numpy()})


def agreement(table: pd.DataFrame, *, rater: str = "participant", ci: float | None = None, n_boot: int = 500,
              seed: int = 0) -> dict[str, Any]:
    """Group agreement on a table of answers (one row per item and rater).

    Returns a dict with ``alpha`` (Krippendorff, nominal), ``kappa`` (Fleiss), ``pairwise_agreement``,
    ``alpha_ci_low``/``alpha_ci_high`` (percentile bootstrap over items when ``ci`` is given, else
    NaN) and ``items_with_two_or_more``. Every value is NaN when no item has two answers.

    Examples
    --------
    >>> df = pd.DataFrame({"item_id": [1, 1, 2, 2, 3, 3], "participant": list("ababab"),
    ...                    "label": ["x", "x", "y", "y", "x", "y"]})
    >>> round(agreement(df)["alpha"], 4)   # 1 - D_o/D_e = 1 - 2/3.6
    0.4444
    """
    out = {"alpha": NAN, "kappa": NAN, "pairwise_agreement": NAN, "alpha_ci_low": NAN, "alpha_ci_high": NAN,
           "answers": int(len(table)), "items_with_two_or_more": 0}
    if table.empty:
        return out
    from labkit.stats.agreement import fleiss_kappa, krippendorff_alpha, percent_agreement
    from labkit.stats.counts import as_label_table

    t = _canonical(table, rater)
    out["items_with_two_or_more"] = int((t.groupby("item_id").size() >= 2).sum())
    if out["items_with_two_or_more"] == 0:
        return out
    t = as_label_table(t)  # conform once; the three statistics below take it as it is
    a = krippendorff_alpha(t, "nominal", ci=ci, n_boot=n_boot, seed=seed)
    out.update(alpha=float(a.value), alpha_ci_low=float(a.ci_low), alpha_ci_high=float(a.ci_high))
    out["kappa"] = float(fleiss_kappa(t).value)
    out["pairwise_agreement"] = float(percent_agreement(t).value)
    return out


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of ``successes / n`` (NaNs when ``n == 0``), from :mod:`labkit.stats`.

    Examples
    --------
    >>> tuple(round(x, 4) for x in wilson_interval(8, 10))
    (0.4902, 0.9433)
    """
    if n <= 0:
        return (NAN, NAN)
    from labkit.stats.scoring import wilson_interval as wi

    lo, hi = wi(successes, n, ci=level)
    return (float(lo), float(hi))


def item_disagreement(labels: Sequence[str]) -> float:
    """``1 - share of the most frequent label`` among one item's answers (0 when all agree).

    >>> item_disagreement(["a", "a", "b", "c"])
    0.5
    """
    if not len(labels):
        return NAN
    _, counts = np.unique(np.asarray(labels, dtype=object).astype(str), return_counts=True)
    return float(1.0 - counts.max() / counts.sum())

