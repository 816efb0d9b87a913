"""Helpers shared by the benchmarks (not a benchmark: ``bench/run.py`` runs ``bench_*.py`` only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def tiled_program(rows: int) -> pd.DataFrame:
    """The sample program repeated with item ids suffixed ``#k`` until it holds ``rows`` judgements."""
    from labkit.io import load_labels
    from labkit.schema import finalize_labels

    base = load_labels(ROOT / "sample" / "labels.csv")
    copies = int(np.ceil(rows / len(base)))
    items = base["item_id"].astype(str).to_numpy().astype(str)
    parts = []
    for k in range(copies):
        part = base.copy()
        part["item_id"] = np.char.add(items, f"#{k}")
        parts.append(part)
    big = pd.concat(parts, ignore_index=True).iloc[:rows].reset_index(drop=True)
    for c in ("task", "label", "guideline_version", "annotator_id", "slice", "source", "stage"):
        big[c] = big[c].astype(base[c].dtype)
    big["item_id"] = big["item_id"].astype("category")
    return finalize_labels(big)


def public_fit(d: Path) -> dict:
    """One public dataset (``tests/data/public/NAME``): its judgements ``table``, the human label-stage ones
    ``human``, the default consensus ``fit`` and its ``task``, the review planner's indicators ``ind`` and the
    ``gold`` labels of the items the indicators cover (a Series by item id, the last row of a repeated id)."""
    from labkit.io import load_labels
    from labkit.review.planner import _is, error_indicators
    from labkit.schema import read_gold
    from labkit.stats.truth import fit_consensus

    t = load_labels(d / "long.csv")
    human = t[_is(t["stage"], "label") & _is(t["source"], "human")]
    fit = fit_consensus(human)
    task = next(iter(fit.posteriors))
    ind = error_indicators(human, fit, task)
    g = read_gold(d / "gold.csv")
    gold = pd.Series(g["label"].astype(str).to_numpy(), index=g["item_id"].astype(str))
    gold = gold[~gold.index.duplicated(keep="last")]
    return {"table": t, "human": human, "fit": fit, "task": task, "ind": ind, "gold": gold[gold.index.isin(ind.index)]}
