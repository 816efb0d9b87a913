"""How quality moves: the measures of :mod:`labkit.stats` per time window and per guideline version.

:func:`drift` gives one row per group (a day, a week starting on Monday UTC, a month, or a guideline
version) with volume, agreement (with a bootstrap interval), accuracy on gold (with a Wilson
interval), the label distribution's Jensen-Shannon distance to the whole program's and to the
previous group's, and median duration. Judgements without ``created_at`` are left out of time
windows and counted in ``drift(...).attrs["n_without_time"]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from labkit.errors import ParameterError
from labkit.stats.agreement import Level, _window, agreement_by
from labkit.stats.counts import CountTables, as_label_table, resolve_task
from labkit.stats.scoring import join_gold, wilson_interval

__all__ = ["drift", "label_distribution", "js_distance", "DRIFT_BY"]

DRIFT_BY = ("day", "week", "month", "guideline_version")


def js_distance(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon distance (base 2, in [0, 1]) between rows of two distributions (NaN for an empty row)."""
    p = np.atleast_2d(np.asarray(p, dtype=np.float64))
    q = np.atleast_2d(np.asarray(q, dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = p / p.sum(axis=1, keepdims=True)
        q = q / q.sum(axis=1, keepdims=True)
        m = (p + q) / 2

        def kl(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return np.where(a > 0, a * np.log2(a / b), 0.0).sum(axis=1)
        d = (kl(p, m) + kl(q, m)) / 2
    return np.sqrt(np.clip(d, 0.0, 1.0))


def _groups(table: pd.DataFrame, by: str) -> tuple[pd.DataFrame, pd.Series]:
    if by in ("day", "week", "month"):
        table = table.loc[table["created_at"].notna()]
        return table, _window(table, by)
    if by == "guideline_version":
        g = table["guideline_version"]
        if g.isna().any():
            g = g.cat.add_categories(["(none)"]).fillna("(none)")
        return table, g
    raise ParameterError(f"by must be one of {', '.join(DRIFT_BY)}, got {by!r}")


def label_distribution(table: pd.DataFrame, by: str = "week", *, task: str | None = None,
                       source: str | None = "human") -> pd.DataFrame:
    """Share of each label per group (rows: groups, columns: labels)."""
    table = as_label_table(table)
    task = resolve_task(table, task)
    ct = CountTables.from_labels(table, task=task, source=source)
    sub = table.iloc[ct.rows]
    sub, g = _groups(sub, by)
    keep = ct.rows.size == len(sub)
    lab = ct.label if keep else ct.labels.get_indexer(sub["label"].astype(str))
    codes = g.cat.codes.to_numpy()
    G, K = len(g.cat.categories), ct.n_labels
    M = np.bincount(codes.astype(np.int64) * K + lab, minlength=G * K).reshape(G, K).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        M = M / M.sum(axis=1, keepdims=True)
    return pd.DataFrame(M, index=pd.Index(g.cat.categories.astype(str), name=by), columns=ct.labels)


def drift(table: pd.DataFrame, gold: pd.DataFrame | None = None, by: str = "week", *, metric: str = "krippendorff",
          level: Level = "nominal", ci: float | None = None, n_boot: int = 200, seed: int | None = 0,
          task: str | None = None, source: str | None = "human") -> pd.DataFrame:
    """Quality per time window or guideline version.

    Returns
    -------
    DataFrame, one row per group in time (or version) order: ``by``, n_judgements, n_items,
    n_annotators, agreement, agreement_ci_low, agreement_ci_high, agreement_reason, gold_n, accuracy,
    accuracy_ci_low, accuracy_ci_high (Wilson 95%), js_to_overall, js_to_previous, median_duration_s.
    """
    if by not in DRIFT_BY:
        raise ParameterError(f"by must be one of {', '.join(DRIFT_BY)}, got {by!r}")
    table = as_label_table(table)
    task = resolve_task(table, task)
    ag = agreement_by(table, by=by, metric=metric, level=level, ci=ci, n_boot=n_boot, seed=seed, task=task, source=source)
    ct = CountTables.from_labels(table, task=task, source=source)
    sub_all = table.iloc[ct.rows]
    n_without_time = int(sub_all["created_at"].isna().sum()) if by in ("day", "week", "month") else 0
    sub, g = _groups(sub_all, by)
    pos = np.flatnonzero(sub_all["created_at"].notna().to_numpy()) if by in ("day", "week", "month") else np.arange(len(sub_all))
    codes = g.cat.codes.to_numpy().astype(np.int64)
    names = g.cat.categories.astype(str)
    G, K = len(names), ct.n_labels
    item, ann, lab = ct.item[pos], ct.annotator[pos], ct.label[pos]
    n_j = np.bincount(codes, minlength=G)

    def n_unique(x: np.ndarray, size: int) -> np.ndarray:
        u = np.unique(codes * size + x)
        return np.bincount(u // size, minlength=G)
    out = pd.DataFrame({by: names, "n_judgements": n_j, "n_items": n_unique(item, max(ct.n_items, 1)),
                        "n_annotators": n_unique(ann, max(ct.n_annotators, 1))})
    agi = ag.set_index(by)
    out["agreement"] = agi["value"].reindex(names).to_numpy()
    out["agreement_ci_low"] = agi["ci_low"].reindex(names).to_numpy()
    out["agreement_ci_high"] = agi["ci_high"].reindex(names).to_numpy()
    out["agreement_reason"] = agi["reason"].reindex(names).fillna("").to_numpy()
    if gold is not None:
        j = join_gold(table, gold, task=task, source=source)
        gcode = j.gold[j.ct.item][pos]
        labj = j.ct.label[pos]
        on = gcode >= 0
        gn = np.bincount(codes, weights=on, minlength=G)
        gc = np.bincount(codes, weights=on & (labj == gcode), minlength=G)
        lo, hi = wilson_interval(gc, gn)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["gold_n"] = gn.astype(np.int64)
            out["accuracy"] = np.where(gn > 0, gc / gn, np.nan)
        out["accuracy_ci_low"], out["accuracy_ci_high"] = lo, hi
    else:
        out["gold_n"] = 0
        out["accuracy"] = out["accuracy_ci_low"] = out["accuracy_ci_high"] = np.nan
    M = np.bincount(codes * K + lab, minlength=G * K).reshape(G, K).astype(np.float64)
    overall = M.sum(axis=0, keepdims=True)
    out["js_to_overall"] = js_distance(M, np.repeat(overall, G, axis=0)) if G else []
    prev = np.vstack([np.full((1, K), np.nan), M[:-1]]) if G else M
    jp = js_distance(M, np.where(np.isnan(prev), 1.0, prev)) if G else np.array([])
    if G:
        jp[0] = np.nan
    out["js_to_previous"] = jp
    dur = sub["duration_s"].to_numpy(dtype=np.float64)
    med = pd.Series(dur).groupby(codes).median() if len(dur) else pd.Series(dtype=float)
    out["median_duration_s"] = med.reindex(range(G)).to_numpy()
    out = out.loc[out["n_judgements"] > 0].reset_index(drop=True)
    if by == "guideline_version":
        from labkit.guidelines.model import SemVer

        def key(v: str) -> Any:
            try:
                return (0, SemVer.parse(v))
            except Exception:
                return (1, v)
        out = out.iloc[sorted(range(len(out)), key=lambda i: key(out[by].iloc[i]))].reset_index(drop=True)
    out.attrs["n_without_time"] = n_without_time
    out.attrs["task"] = task
    return out
