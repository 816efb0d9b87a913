"""Annotator scores from all their work: gold accuracy plus consensus skill, shrunk toward the pool.

Evidence per annotator (and task):

* gold: ``k`` correct of ``n`` judgements on gold items (exact outcomes);
* everything else: the default consensus model's skill, read from
  :func:`labkit.stats.truth.fit_consensus` (``.skill``), never from a second estimator.

The two are combined by empirical Bayes. Across the annotators of a task, the accuracy on gold is
regressed on the consensus skill (weighted by gold volume); that calibrated line is each person's prior
mean, so the consensus evidence says *where* a person probably is, corrected for how the consensus model
over- or under-states accuracy on this program. The prior's strength is the pool's between-annotator
spread around that line (method of moments: residual variance minus binomial noise), so a pool where the
consensus predicts gold accuracy well gives the consensus evidence many pseudo-counts, and a pool where it
does not gives it few. Each person's posterior is then ``Beta(kappa mu_j + k_j, kappa (1 - mu_j) + n_j - k_j)``.
People with little work are neither punished nor crowned: with no gold they sit at their calibrated
prior, with a wide interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from labkit.errors import ParameterError

__all__ = ["gold_outcomes", "ScoreModel", "fit_scores", "annotator_scores", "SCORE_COLUMNS"]

SCORE_COLUMNS = ["task", "annotator_id", "n_gold", "k_gold", "gold_accuracy", "n_judgements",
                 "consensus_accuracy", "prior_mean", "prior_strength", "score", "ci_low", "ci_high"]


def gold_outcomes(table: pd.DataFrame, gold: pd.DataFrame) -> pd.DataFrame:
    """One row per human judgement on a gold item: the judgement's columns plus ``correct`` (bool).

    Rows keep the table's order (``order`` = position in the table) so "first half" means first made when
    there are no timestamps.
    """
    t = table
    if "source" in t.columns:
        t = t[t["source"].astype(str) != "model"]
    t = t.assign(order=np.arange(len(t)))
    g = gold[["item_id", "task", "label"]].rename(columns={"label": "gold_label"})
    g = g.assign(item_id=g["item_id"].astype(str), task=g["task"].astype(str))
    left = t.assign(item_id=t["item_id"].astype(str), task=t["task"].astype(str) if "task" in t.columns else "default")
    m = left.merge(g, on=["item_id", "task"], how="inner")
    m["correct"] = m["label"].astype(str).to_numpy() == m["gold_label"].astype(str).to_numpy()
    m["annotator_id"] = m["annotator_id"].astype(str)
    sort = ["created_at", "order"] if "created_at" in m.columns and m["created_at"].notna().all() else ["order"]
    return m.sort_values(sort, kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class ScoreModel:
    """The pool-level fit for one task: prior mean ``intercept + slope * consensus_accuracy``, strength ``kappa``."""

    task: str
    intercept: float
    slope: float
    kappa: float
    n_annotators_with_gold: int

    def prior_mean(self, consensus_accuracy: np.ndarray) -> np.ndarray:
        c = np.asarray(consensus_accuracy, dtype=float)
        mu = self.intercept + self.slope * np.where(np.isnan(c), np.nan, c)
        pooled = self.intercept + self.slope * np.nanmean(c) if np.isfinite(c).any() else self.intercept
        return np.clip(np.where(np.isnan(mu), pooled, mu), 0.02, 0.98)


def fit_scores(n_gold: np.ndarray, k_gold: np.ndarray, consensus_accuracy: np.ndarray, *, task: str = "default",
               min_kappa: float = 2.0, max_kappa: float = 500.0) -> ScoreModel:
    """Fit the calibrated prior (line and strength) across annotators by weighted least squares and moments.

    Parameters
    ----------
    n_gold, k_gold : arrays
        Gold judgements and correct ones per annotator.
    consensus_accuracy : array
        The consensus model's skill per annotator (NaN when unknown).

    Examples
    --------
    >>> m = fit_scores(np.array([50, 50, 50, 50]), np.array([45, 40, 30, 25]), np.array([.9, .8, .6, .5]))
    >>> round(m.slope, 3), round(m.intercept, 3)
    (1.0, 0.0)
    """
    n = np.asarray(n_gold, dtype=float)
    k = np.asarray(k_gold, dtype=float)
    c = np.asarray(consensus_accuracy, dtype=float)
    if n.shape != k.shape or n.shape != c.shape:
        raise ParameterError("n_gold, k_gold and consensus_accuracy must have the same length")
    if np.any(k > n) or np.any(k < 0):
        raise ParameterError("k_gold must lie between 0 and n_gold")
    use = (n > 0) & np.isfinite(c)
    pooled = float(k[n > 0].sum() / n[n > 0].sum()) if (n > 0).any() else 0.5
    if use.sum() >= 3 and np.ptp(c[use]) > 1e-9:
        w = n[use]
        x, y = c[use], k[use] / n[use]
        xm, ym = np.average(x, weights=w), np.average(y, weights=w)
        slope = float(np.sum(w * (x - xm) * (y - ym)) / np.sum(w * (x - xm) ** 2))
        slope = float(np.clip(slope, 0.0, 2.0))
        intercept = float(ym - slope * xm)
    else:
        slope, intercept = 0.0, pooled
    model = ScoreModel(task, intercept, slope, max_kappa, int(use.sum()))
    g = n > 0
    if g.sum() >= 3:
        mu = model.prior_mean(c[g])
        y = k[g] / n[g]
        w = n[g]
        resid = np.average((y - mu) ** 2, weights=w)
        noise = np.average(mu * (1 - mu) / n[g], weights=w)
        between = max(resid - noise, 1e-6)
        kappa = float(np.average(mu * (1 - mu), weights=w) / between - 1)
    else:
        kappa = min_kappa
    return ScoreModel(task, intercept, slope, float(np.clip(kappa, min_kappa, max_kappa)), model.n_annotators_with_gold)


def annotator_scores(table: pd.DataFrame, gold: pd.DataFrame | None = None, *, fit: object | None = None,
                     level: float = 0.9, outcomes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Score every annotator per task from gold and consensus skill; ``SCORE_COLUMNS`` plus the interval level.

    Parameters
    ----------
    table : DataFrame
        The canonical label table (every judgement; consensus is fitted on all of it).
    gold : DataFrame, optional
        Gold table (``labkit.schema.read_gold``). Without it the scores are the calibrated consensus skill
        with the pool-average prior strength.
    fit : ConsensusFit, optional
        A fit from :func:`labkit.stats.truth.fit_consensus` to reuse (fitted here when not given).
    level : float
        Two-sided interval level (``ci_low`` is the ``(1 - level) / 2`` posterior quantile).
    outcomes : DataFrame, optional
        Gold outcomes to use instead of all of ``gold`` (for instance only the first half of each person's).
    """
    if not 0 < level < 1:
        raise ParameterError(f"level must lie in (0, 1), got {level}")
    if fit is None:
        from labkit.stats.truth import fit_consensus

        fit = fit_consensus(table)
    skill = fit.skill.copy()  # type: ignore[attr-defined]
    skill["annotator_id"] = skill["annotator_id"].astype(str)
    skill["task"] = skill["task"].astype(str)
    if outcomes is None:
        outcomes = gold_outcomes(table, gold) if gold is not None else pd.DataFrame(
            columns=["task", "annotator_id", "correct"])
    agg = (outcomes.groupby(["task", "annotator_id"], observed=True)["correct"].agg(["size", "sum"])
           .rename(columns={"size": "n_gold", "sum": "k_gold"}).reset_index())
    agg["task"] = agg["task"].astype(str)
    agg["annotator_id"] = agg["annotator_id"].astype(str)
    df = skill.merge(agg, on=["task", "annotator_id"], how="outer")
    df["n_gold"] = df["n_gold"].fillna(0).astype(np.int64)
    df["k_gold"] = df["k_gold"].fillna(0).astype(np.int64)
    df["n_judgements"] = df["n_judgements"].fillna(0).astype(np.int64)
    out = []
    for task, d in df.groupby("task", sort=True):
        model = fit_scores(d["n_gold"].to_numpy(), d["k_gold"].to_numpy(), d["accuracy"].to_numpy(), task=str(task))
        mu = model.prior_mean(d["accuracy"].to_numpy())
        a = model.kappa * mu + d["k_gold"].to_numpy()
        b = model.kappa * (1 - mu) + d["n_gold"].to_numpy() - d["k_gold"].to_numpy()
        q = (1 - level) / 2
        out.append(pd.DataFrame({
            "task": str(task), "annotator_id": d["annotator_id"].to_numpy(),
            "n_gold": d["n_gold"].to_numpy(), "k_gold": d["k_gold"].to_numpy(),
            "gold_accuracy": np.divide(d["k_gold"].to_numpy(), d["n_gold"].to_numpy(),
                                       out=np.full(len(d), np.nan), where=d["n_gold"].to_numpy() > 0),
            "n_judgements": d["n_judgements"].to_numpy(), "consensus_accuracy": d["accuracy"].to_numpy(),
            "prior_mean": mu, "prior_strength": model.kappa, "score": a / (a + b),
            "ci_low": stats.beta.ppf(q, a, b), "ci_high": stats.beta.ppf(1 - q, a, b)}))
    res = pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=SCORE_COLUMNS)
    return res[SCORE_COLUMNS].sort_values(["task", "annotator_id"], ignore_index=True)
