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

__all__ = ["gold_outcomes", "ScoreModel", "fit_scores", "annotator_scores", "SCORE_COLUMNS", "judgement_credit",
           "consensus_by", "scores_by", "consistency", "label_skill",
           "LABEL_SKILL_COLUMNS"]

#: Most pseudo-counts one judgement's consensus evidence may add to the prior.
PSEUDO_PER_JUDGEMENT = 10.0

#: The prior mean is kept in [PRIOR_CLIP, 1 - PRIOR_CLIP] (a line may overshoot 0 or 1).
PRIOR_CLIP = 0.002

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
        return np.clip(np.where(np.isnan(mu), pooled, mu), PRIOR_CLIP, 1 - PRIOR_CLIP)


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
    elif np.isfinite(c).any():  # too little gold to calibrate: take the consensus skill as it stands
        slope, intercept = 1.0, 0.0
    else:
        slope, intercept = 0.0, pooled
    model = ScoreModel(task, intercept, slope, max_kappa, int(use.sum()))
    g = n > 0
    if g.sum() >= 3:
        kappa = _moment_strength(n[g], k[g], model.prior_mean(c[g]))
    else:
        kappa = min_kappa
    return ScoreModel(task, intercept, slope, float(np.clip(kappa, min_kappa, max_kappa)), model.n_annotators_with_gold)


LABEL_SKILL_COLUMNS = ["task", "annotator_id", "label", "weight", "n_expected", "n_gold", "k_gold",
                       "consensus_recall", "prior_mean", "prior_strength", "skill", "ci_low", "ci_high"]


def _beta_quantiles(mean: np.ndarray, var: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided quantiles of the Beta with this mean and variance (moment matched)."""
    m = np.clip(mean, 1e-9, 1 - 1e-9)
    v = np.clip(var, 1e-12, m * (1 - m) * (1 - 1e-9))
    nu = m * (1 - m) / v - 1
    q = (1 - level) / 2
    return stats.beta.ppf(q, m * nu, (1 - m) * nu), stats.beta.ppf(1 - q, m * nu, (1 - m) * nu)


def label_skill(table: pd.DataFrame, fit: object, outcomes: pd.DataFrame | None = None, *,
                level: float = 0.9) -> pd.DataFrame:
    """Per annotator and true label: recall with an interval (``LABEL_SKILL_COLUMNS``); see :func:`_label_skill`.

    Examples
    --------
    >>> from labkit.schema import conform_labels
    >>> from labkit.stats.truth import fit_consensus
    >>> t = conform_labels(pd.DataFrame({"item_id": list("aabbcc"), "annotator_id": list("xyxyxy"),
    ...                                  "label": list("yyyynn")})).table
    >>> ls = label_skill(t, fit_consensus(t))
    >>> sorted(ls["label"].unique()), bool(ls.groupby("annotator_id")["weight"].sum().round(9).eq(1).all())
    (['n', 'y'], True)
    """
    return _label_skill(table, fit, outcomes, level=level)[LABEL_SKILL_COLUMNS]


def _label_skill(table: pd.DataFrame, fit: object, outcomes: pd.DataFrame | None = None, *,
                 level: float = 0.9) -> pd.DataFrame:
    """Per annotator and true label: recall (how often they give the right label on items whose truth is it).

    Evidence per (task, annotator, label ``c``):

    * consensus: the diagonal ``confusion[j, c, c]`` of the consensus fit (``fit.confusion``, already shrunk
      toward the crowd by the model), resting on ``n_expected``, the expected number of their judgements
      whose true label is ``c`` (sum of ``fit.posteriors`` of ``c`` over the items they labelled);
    * gold: ``k_gold`` right of ``n_gold`` judgements on gold items whose gold label is ``c``
      (``outcomes`` from :func:`gold_outcomes`).

    Combined per label as in :func:`fit_scores`: across the task's annotators and labels, gold recall is
    regressed on the consensus recall (one line per task: that line is the prior mean), the spread of each
    label's gold recall around it gives that label's prior strength (moments), the consensus evidence worth
    at most ``PSEUDO_PER_JUDGEMENT`` pseudo-counts per expected judgement; ``skill`` is the
    posterior mean of ``Beta(kappa mu + k, kappa (1 - mu) + n - k)`` and the interval its quantiles. A
    label with gold from fewer than three annotators cannot calibrate the consensus: its recall is the
    consensus recall, worth one pseudo-count per expected judgement. ``weight`` is the label's share of
    the task's judgements (``n_expected`` summed over annotators, normalised), the weight
    :func:`annotator_scores` gives it: the score is accuracy on an item drawn from the task's label mix, so
    a person is neither helped nor hurt by the mix of items they happened to be given.
    """
    if not 0 < level < 1:
        raise ParameterError(f"level must lie in (0, 1), got {level}")
    t = table[table["source"].astype(str) != "model"] if "source" in table.columns else table
    tasks = t["task"].astype(str) if "task" in t.columns else pd.Series("default", index=t.index)
    if outcomes is None:
        outcomes = pd.DataFrame(columns=["task", "annotator_id", "gold_label", "correct"])
    q = (1 - level) / 2
    frames = []
    for task, post in fit.posteriors.items():  # type: ignore[attr-defined]
        task = str(task)
        ann, err = fit.confusion[task]  # type: ignore[attr-defined]
        labels = [str(c) for c in post.columns]
        K = len(labels)
        ann = pd.Index(np.asarray(ann).astype(str))
        sub = t[(tasks == task).to_numpy()]
        rows = post.index.astype(str).get_indexer(sub["item_id"].astype(str))
        P = np.where(rows[:, None] >= 0, post.to_numpy()[np.maximum(rows, 0)], np.nan)
        who = ann.get_indexer(sub["annotator_id"].astype(str))
        ok = (who >= 0) & (rows >= 0)
        n_exp = np.zeros((len(ann), K))
        np.add.at(n_exp, who[ok], P[ok])
        recall = np.einsum("jcc->jc", np.asarray(err, dtype=float)) if K else np.zeros((len(ann), 0))
        o = outcomes[outcomes["task"].astype(str) == task] if len(outcomes) else outcomes
        n_g = np.zeros((len(ann), K))
        k_g = np.zeros((len(ann), K))
        if len(o):
            j = ann.get_indexer(o["annotator_id"].astype(str))
            c = pd.Index(labels).get_indexer(o["gold_label"].astype(str))
            use = (j >= 0) & (c >= 0)
            np.add.at(n_g, (j[use], c[use]), 1.0)
            np.add.at(k_g, (j[use], c[use]), o["correct"].to_numpy(bool)[use].astype(float))
        # the task's label mix, the same for everyone: nobody's score depends on which items they were given
        pool = n_exp.sum(axis=0) / max(n_exp.sum(), 1e-12)
        weight = np.broadcast_to(pool[None, :], n_exp.shape)
        # one calibration line for the task (gold recall on consensus recall, over every annotator and
        # label), the spread around it per label
        joint = fit_scores(n_g.ravel(), k_g.ravel(), recall.ravel(), task=task)
        for ci, lab in enumerate(labels):
            mu = joint.prior_mean(recall[:, ci])
            g_ = n_g[:, ci] > 0
            if g_.sum() >= 3:
                kap = float(np.clip(_moment_strength(n_g[g_, ci], k_g[g_, ci], mu[g_]), 2.0, 500.0))
                kappa = np.maximum(np.minimum(kap, PSEUDO_PER_JUDGEMENT * n_exp[:, ci]), 2.0)
            else:  # too little gold on this label to weigh the consensus: it counts what it rests on
                kappa = np.maximum(n_exp[:, ci], 2.0)
            a = kappa * mu + k_g[:, ci]
            b = kappa * (1 - mu) + n_g[:, ci] - k_g[:, ci]
            frames.append(pd.DataFrame({
                "task": task, "annotator_id": ann, "label": lab, "weight": weight[:, ci],
                "n_expected": n_exp[:, ci], "n_gold": n_g[:, ci].astype(np.int64),
                "k_gold": k_g[:, ci].astype(np.int64), "consensus_recall": recall[:, ci], "prior_mean": mu,
                "prior_strength": kappa, "skill": a / (a + b),
                "ci_low": stats.beta.ppf(q, a, b), "ci_high": stats.beta.ppf(1 - q, a, b),
                "_var": a * b / ((a + b) ** 2 * (a + b + 1))}))
    if not frames:
        return pd.DataFrame(columns=LABEL_SKILL_COLUMNS + ["_var"])
    return pd.concat(frames, ignore_index=True).sort_values(["task", "annotator_id", "label"], ignore_index=True)


def _per_label_scores(table: pd.DataFrame, fit: object, outcomes: pd.DataFrame, level: float) -> pd.DataFrame:
    """Score = sum over true labels of (the label's share of the task) x (the person's recall on it)."""
    ls = _label_skill(table, fit, outcomes, level=level)
    ls = ls.assign(wm=ls["weight"] * ls["skill"], wv=ls["weight"] ** 2 * ls["_var"],
                   wp=ls["weight"] * ls["prior_mean"])
    g = ls.groupby(["task", "annotator_id"], sort=True).agg(
        score=("wm", "sum"), var=("wv", "sum"), prior_mean=("wp", "sum"),
        prior_strength=("prior_strength", "sum")).reset_index()
    return g


def _moment_strength(n: np.ndarray, k: np.ndarray, mu: np.ndarray) -> float:
    """Prior strength from the spread around the line: residual variance minus binomial noise (moments)."""
    y = k / n
    resid = np.average((y - mu) ** 2, weights=n)
    noise = np.average(mu * (1 - mu) / n, weights=n)
    between = max(resid - noise, 1e-6)
    return float(np.average(mu * (1 - mu), weights=n) / between - 1)


def annotator_scores(table: pd.DataFrame, gold: pd.DataFrame | None = None, *, fit: object | None = None,
                     level: float = 0.9, outcomes: pd.DataFrame | None = None,
                     consensus: pd.DataFrame | None = None, per_label: bool = True) -> pd.DataFrame:
    """Score every annotator per task from gold and consensus skill; ``SCORE_COLUMNS``.

    By default (``per_label``) the score is built label by label (:func:`label_skill`): the person's recall
    on each true label, from the consensus fit's confusion and their gold on that label, shrunk toward the
    pool, weighted by the task's label mix (the share of its judgements whose truth is that label); the
    interval is the moment-matched Beta of that weighted sum. Gold on one label therefore says nothing about another (a
    person who always says "yes" is right on every "yes" item, and that is not evidence on the "no" items).
    With ``consensus`` given (a window or slice, :func:`consensus_by`) or ``per_label=False``, the score is
    the one-number version: gold accuracy against the consensus skill (:func:`fit_scores`).

    Parameters
    ----------
    table : DataFrame
        The canonical label table (every judgement; consensus is fitted on all of it).
    gold : DataFrame, optional
        Gold table (``labkit.schema.read_gold``). Without it the scores are the consensus evidence alone.
    fit : ConsensusFit, optional
        A fit from :func:`labkit.stats.truth.fit_consensus` to reuse (fitted here when not given).
    level : float
        Two-sided interval level (``ci_low`` is the ``(1 - level) / 2`` quantile).
    outcomes : DataFrame, optional
        Gold outcomes to use instead of all of ``gold`` (for instance only the first half of each person's).
    consensus : DataFrame, optional
        Consensus evidence to use instead of ``fit.skill`` (``task, annotator_id, n_judgements, accuracy``),
        for instance :func:`consensus_by` for one time window, read from the same fit's posteriors.
    """
    if not 0 < level < 1:
        raise ParameterError(f"level must lie in (0, 1), got {level}")
    if fit is None:
        from labkit.stats.truth import fit_consensus

        fit = fit_consensus(table)
    skill = (fit.skill if consensus is None else consensus).copy()  # type: ignore[attr-defined]
    skill["annotator_id"] = skill["annotator_id"].astype(str)
    skill["task"] = skill["task"].astype(str)
    if outcomes is None:
        outcomes = gold_outcomes(table, gold) if gold is not None else pd.DataFrame(
            columns=["task", "annotator_id", "gold_label", "correct"])
    agg = (outcomes.groupby(["task", "annotator_id"], observed=True)["correct"].agg(["size", "sum"])
           .rename(columns={"size": "n_gold", "sum": "k_gold"}).reset_index())
    agg["task"] = agg["task"].astype(str)
    agg["annotator_id"] = agg["annotator_id"].astype(str)
    df = skill.merge(agg, on=["task", "annotator_id"], how="outer")
    df["n_gold"] = df["n_gold"].fillna(0).astype(np.int64)
    df["k_gold"] = df["k_gold"].fillna(0).astype(np.int64)
    df["n_judgements"] = df["n_judgements"].fillna(0).astype(np.int64)
    labelled = per_label and consensus is None and ("gold_label" in outcomes.columns or not len(outcomes))
    per = _per_label_scores(table, fit, outcomes, level) if labelled else None
    out = []
    q = (1 - level) / 2
    for task, d in df.groupby("task", sort=True):
        model = fit_scores(d["n_gold"].to_numpy(), d["k_gold"].to_numpy(), d["accuracy"].to_numpy(), task=str(task))
        mu = model.prior_mean(d["accuracy"].to_numpy())
        # the consensus evidence is worth at most PSEUDO_PER_JUDGEMENT pseudo-counts per judgement it rests on
        kappa = np.maximum(np.minimum(model.kappa, PSEUDO_PER_JUDGEMENT * d["n_judgements"].to_numpy(float)), 2.0)
        a = kappa * mu + d["k_gold"].to_numpy()
        b = kappa * (1 - mu) + d["n_gold"].to_numpy() - d["k_gold"].to_numpy()
        score, lo, hi = a / (a + b), stats.beta.ppf(q, a, b), stats.beta.ppf(1 - q, a, b)
        if per is not None:
            pt = per[per["task"] == str(task)].set_index("annotator_id").reindex(d["annotator_id"].astype(str))
            has = pt["score"].notna().to_numpy()  # annotators the fit knows; the others keep the one-number score
            lo_l, hi_l = _beta_quantiles(pt["score"].to_numpy(float), pt["var"].to_numpy(float), level)
            score = np.where(has, pt["score"].to_numpy(float), score)
            lo = np.where(has, lo_l, lo)
            hi = np.where(has, hi_l, hi)
            mu = np.where(has, pt["prior_mean"].to_numpy(float), mu)
            kappa = np.where(has, pt["prior_strength"].to_numpy(float), kappa)
        out.append(pd.DataFrame({
            "task": str(task), "annotator_id": d["annotator_id"].to_numpy(),
            "n_gold": d["n_gold"].to_numpy(), "k_gold": d["k_gold"].to_numpy(),
            "gold_accuracy": np.divide(d["k_gold"].to_numpy(), d["n_gold"].to_numpy(),
                                       out=np.full(len(d), np.nan), where=d["n_gold"].to_numpy() > 0),
            "n_judgements": d["n_judgements"].to_numpy(), "consensus_accuracy": d["accuracy"].to_numpy(),
            "prior_mean": mu, "prior_strength": kappa, "score": score, "ci_low": lo, "ci_high": hi}))
    res = pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=SCORE_COLUMNS)
    return res[SCORE_COLUMNS].sort_values(["task", "annotator_id"], ignore_index=True)


def judgement_credit(table: pd.DataFrame, fit: object) -> pd.Series:
    """Per human judgement: the consensus posterior probability that its label is the true one.

    Read from ``fit.posteriors`` (the same numbers ``fit.skill`` averages); NaN where the item or label
    is not in the fit.
    """
    t = table[table["source"].astype(str) != "model"] if "source" in table.columns else table
    out = pd.Series(np.nan, index=t.index, dtype=float)
    tasks = t["task"].astype(str) if "task" in t.columns else pd.Series("default", index=t.index)
    for task, post in fit.posteriors.items():  # type: ignore[attr-defined]
        m = (tasks == str(task)).to_numpy()
        if not m.any():
            continue
        sub = t[m]
        rows = post.index.astype(str).get_indexer(sub["item_id"].astype(str))
        cols = pd.Index(post.columns.astype(str)).get_indexer(sub["label"].astype(str))
        ok = (rows >= 0) & (cols >= 0)
        vals = np.full(len(sub), np.nan)
        vals[ok] = post.to_numpy()[rows[ok], cols[ok]]
        out[sub.index] = vals
    return out


def consensus_by(table: pd.DataFrame, fit: object, by: str | None) -> pd.DataFrame:
    """Consensus accuracy per (task, annotator[, group]) from one fit's posteriors (``by``: a column or None)."""
    t = table[table["source"].astype(str) != "model"] if "source" in table.columns else table
    credit = judgement_credit(t, fit)
    d = pd.DataFrame({"task": t["task"].astype(str) if "task" in t.columns else "default",
                      "annotator_id": t["annotator_id"].astype(str), "credit": credit})
    keys = ["task", "annotator_id"]
    if by is not None:
        d[by] = _group_values(t, by)
        keys.append(by)
    g = d.dropna(subset=["credit"]).groupby(keys, observed=True)["credit"].agg(["size", "mean"]).reset_index()
    return g.rename(columns={"size": "n_judgements", "mean": "accuracy"})


def _group_values(t: pd.DataFrame, by: str) -> pd.Series:
    if by in ("week", "month"):
        if "created_at" not in t.columns or t["created_at"].isna().all():
            return pd.Series("all", index=t.index)
        ts = t["created_at"].dt.tz_convert(None)
        return ts.dt.to_period("W" if by == "week" else "M").astype(str).where(t["created_at"].notna(), "unknown")
    if by not in t.columns:
        raise ParameterError(f"cannot break scores down by {by!r}: the table has no such column")
    return t[by].astype(str).where(t[by].notna(), "unknown")


def scores_by(table: pd.DataFrame, gold: pd.DataFrame | None, by: str, *, fit: object | None = None,
              level: float = 0.9) -> pd.DataFrame:
    """Scores per annotator and group (``label``, ``slice``, ``guideline_version``, ``week``, ``month``).

    One consensus fit for the whole table; each group's scores are shrunk toward that group's pool. For
    ``label`` the group is the label the annotator gave (how often their "X" is right).
    """
    if fit is None:
        from labkit.stats.truth import fit_consensus

        fit = fit_consensus(table)
    t = table[table["source"].astype(str) != "model"] if "source" in table.columns else table
    groups = _group_values(t, by)
    outs = gold_outcomes(t.assign(_g=groups), gold) if gold is not None else None
    cons = consensus_by(t, fit, by)
    frames = []
    for val in sorted(pd.unique(groups)):
        o = outs[outs["_g"] == val] if outs is not None else None
        c = cons[cons[by] == val].drop(columns=[by])
        if c.empty:
            continue
        s = annotator_scores(t[(groups == val).to_numpy()], fit=fit, level=level,
                             outcomes=o if o is not None else pd.DataFrame(columns=["task", "annotator_id", "correct"]),
                             consensus=c)
        frames.append(s.assign(**{by: val}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=SCORE_COLUMNS + [by])


def consistency(table: pd.DataFrame, gold: pd.DataFrame | None, *, fit: object | None = None, by: str = "week",
                n_boot: int = 500, seed: int = 0) -> pd.DataFrame:
    """Spread of each annotator's windowed score: SD across windows with a bootstrap interval over windows.

    Also ``active_share`` (timeliness: share of windows since their first in which they worked, with a
    Wilson interval). Annotators active in fewer than two windows get NaN spread.
    """
    from labkit.stats.scoring import wilson_interval

    s = scores_by(table, gold, by, fit=fit)
    rng = np.random.default_rng(seed)
    windows = sorted(pd.unique(s[by]))
    pos = {w: i for i, w in enumerate(windows)}
    rows = []
    for (task, a), d in s.groupby(["task", "annotator_id"], sort=True):
        v = d["score"].to_numpy(float)
        first = min(pos[w] for w in d[by])
        span = len(windows) - first
        lo_a, hi_a = wilson_interval(len(d), span)
        lo, hi = float(lo_a), float(hi_a)
        if len(v) >= 2:
            boots = rng.choice(v, size=(n_boot, len(v)), replace=True).std(axis=1, ddof=1)
            sd, b_lo, b_hi = float(v.std(ddof=1)), float(np.quantile(boots, 0.05)), float(np.quantile(boots, 0.95))
        else:
            sd = b_lo = b_hi = float("nan")
        rows.append({"task": task, "annotator_id": a, "n_windows": len(v), "score_sd": sd, "sd_low": b_lo,
                     "sd_high": b_hi, "active_share": len(d) / span, "active_low": lo, "active_high": hi})
    return pd.DataFrame(rows)
