"""The review planner: rank items by expected error cost removed per reviewer minute, cut at a budget.

Layers (each item's reasons name the ones that fired):

1. **checks**: items with a failing row of a *critical* expectation in a validation result folder
   (``failures.csv`` written by ``labkit validate --out DIR``) go first, in their own tier;
2. **uncertainty**: error indicators read from the one consensus model
   (:func:`labkit.stats.truth.fit_consensus`) and the votes:

   * ``p_model`` = 1 - the consensus model's posterior of the consensus label;
   * ``p_skill`` = 1 - the posterior of the consensus label in a one-coin vote weighted by each voter's
     ``accuracy`` from ``fit.skill`` (log-odds weights ``log(acc (K-1) / (1-acc))``), so low-skill
     voters count less; this is not a second estimator: skill comes from the consensus fit;
   * ``p_loo`` = the largest posterior mass off the consensus label after leaving out any one judgement
     (the fit's own annotator confusions, re-scored);
   * ``p_vote`` = 1 - the share of votes for the consensus label (the vote margin; worded, not ranked on).

   Items are ranked by ``expit(b0 + b1 x_uncertain + b2 x_unstable)`` (:mod:`labkit.review.weights`:
   ``x_uncertain`` = max of the within-task percentile ranks of ``p_model`` and ``p_skill``, ``x_unstable`` =
   the rank of ``p_loo``; default weights learned on the public datasets with gold). With gold or past review
   outcomes the weights are refined per task, cross-fitted (see :func:`_learn_or_calibrate`). Human vs model
   pre-label disagreement (``source=model``) and too-fast judgements raise ``p_error`` by the
   ``model_disagreement`` and ``too_fast`` weights;
3. **impact**: ``expected_cost = p_error * cost``, where cost is the cost-matrix entry of reading the
   likely true label as the consensus label (default 1 off the diagonal; from a cost file or the guideline's
   ``error_costs``, :func:`costs_from_guidelines`), times a slice weight;
4. **novelty**: slices, labels and guideline versions with few reviewed items get a bonus
   ``1 + novelty / sqrt(1 + reviewed)`` (only when some review history exists).

``score = expected_cost * novelty_factor / est_minutes``; ``est_minutes`` is the task's median
review-stage ``duration_s`` (else ``minutes_per_item``).

Items with a review or adjudication outcome (``stage=review|adjudication`` rows) are known: they go last
(tier 2) with ``p_error`` and ``expected_cost`` 0, and their outcomes refine the ranking of the open items
(:func:`_learn_or_calibrate`; :func:`labkit.review.evaluate.sequential_review` simulates review in batches).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labkit.errors import InputRefused, ParameterError
from labkit.review.weights import DEFAULT_WEIGHTS, cross_fit, expit, rank_features

__all__ = ["ReviewWeights", "ReviewPlan", "plan_review", "error_indicators", "read_costs", "costs_from_guidelines",
           "read_validation_failures", "QUEUE_COLUMNS"]

QUEUE_COLUMNS = ("rank", "item_id", "task", "consensus_label", "p_error", "expected_cost", "est_minutes",
                 "score", "tier", "queued", "reasons", "p_model", "p_skill", "p_vote", "n_judgements", "slice")


@dataclass(frozen=True)
class ReviewWeights:
    """Layer weights (defaults; with gold or review outcomes ``plan_review`` learns the ranking weights per task).

    Parameters
    ----------
    model_disagreement : added share of the remaining probability when a model pre-label disagrees.
    too_fast : added share times the fraction of consensus votes that were too fast.
    fast_ratio : a judgement is too fast below this fraction of the task's median duration.
    novelty : novelty bonus scale.
    low_skill : a voter below this accuracy is named in the reasons.
    rank : weights of the uncertainty ranking (intercept, x_uncertain, x_unstable); defaults learned from the
        public datasets with gold (:mod:`labkit.review.weights`).
    learn_min_errors : gold (or reviewed) items with a consensus error a task needs before its own weights
        are learned from them (cross-fitted, shrunk toward ``rank``).
    label_offsets : when weights are learned from known items, also learn one offset per consensus label
        (a normal prior with mean 0 on the log-odds scale and precision ``label_offset_strength``, default 1,
        the unit prior of :func:`labkit.review.weights.fit_logistic`, fixed a priori): how often each consensus
        label turned out wrong. The two slopes keep their precision of 20 toward ``rank``.
    """

    model_disagreement: float = 0.2
    too_fast: float = 0.3
    fast_ratio: float = 0.25
    novelty: float = 0.25
    low_skill: float = 0.6
    rank: tuple[float, float, float] = DEFAULT_WEIGHTS
    learn_min_errors: int = 20
    label_offsets: bool = True
    label_offset_strength: float = 1.0


@dataclass
class ReviewPlan:
    """A ranked review queue: every item, best first; ``queued`` marks the ones inside the budget."""

    queue: pd.DataFrame
    budget: dict[str, Any]
    weights: ReviewWeights
    calibration: dict[str, Any] = field(default_factory=dict)
    fit: Any = None

    @property
    def queued(self) -> pd.DataFrame:
        return self.queue[self.queue["queued"]].reset_index(drop=True)

    def summary(self) -> dict[str, Any]:
        q = self.queued
        return {"items": int(len(self.queue)), "queued": int(len(q)),
                "queued_minutes": float(q["est_minutes"].sum()),
                "expected_errors_caught": float(q["p_error"].sum()),
                "expected_errors_total": float(self.queue["p_error"].sum()),
                "critical_check_items": int((self.queue["tier"] == 0).sum()),
                "already_reviewed": int((self.queue["tier"] == 2).sum()), "budget": self.budget,
                "calibration": self.calibration}


_POS_CACHE: dict[tuple[int, int], tuple[Any, pd.Index, np.ndarray]] = {}


def _index_of(s: pd.Series, index: pd.Index) -> np.ndarray:
    """Position of each value of ``s`` in ``index`` (-1 when absent), through category codes: no string pass.

    While a plan is made, the categories -> positions lookup is kept per (categories, index) pair, so the
    item ids of a million judgements are hashed once, not once per layer (:func:`plan_review` clears it).
    """
    if isinstance(s.dtype, pd.CategoricalDtype):
        key = (id(s.dtype), id(index))
        hit = _POS_CACHE.get(key)
        if hit is not None and hit[0] is s.dtype and hit[1] is index:
            pos = hit[2]
        else:
            pos = index.get_indexer(pd.Index(s.cat.categories.astype(str)))
            if len(_POS_CACHE) >= 32:
                _POS_CACHE.clear()
            _POS_CACHE[key] = (s.dtype, index, pos)
        codes = s.cat.codes.to_numpy()
        return np.where(codes >= 0, pos[np.maximum(codes, 0)] if len(pos) else -1, -1)
    return index.get_indexer(s.astype(str))


def _is(s: pd.Series, value: str) -> np.ndarray:
    """``s == value`` for a categorical or string column, without casting every row to str."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = s.cat.categories.astype(str)
        hit = np.flatnonzero(cats == value)
        return np.isin(s.cat.codes.to_numpy(), hit)
    return (s.astype(str) == value).to_numpy()


def _leave_one_out(fit: Any, task: str, ann: pd.Series, it: np.ndarray, li: np.ndarray, ci: np.ndarray,
                   P: np.ndarray) -> np.ndarray:
    """Per item, the largest posterior mass off the consensus label after leaving out any one judgement.

    Re-scores the consensus fit's own annotator confusions (``fit.confusion[task]``; class prior = mean
    posterior): log-joint = log prior + sum of log confusion[annotator, true, given]; leaving a judgement out
    subtracts its term. Items whose consensus hangs on one annotator score high. Without confusions
    (another consensus method), 0.
    """
    n, k = P.shape
    if task not in getattr(fit, "confusion", {}) or k < 2 or len(it) == 0:
        return np.zeros(n)
    anns, E = fit.confusion[task]
    ai = _index_of(ann, pd.Index(anns))
    good = ai >= 0
    it, li, ai = it[good], li[good], ai[good]
    if len(it) == 0:
        return np.zeros(n)
    logE = np.log(np.clip(np.asarray(E, dtype=np.float64), 1e-12, 1.0))
    C = logE[ai, :, li]  # judgements x true labels
    prior = np.log(np.clip(P.mean(0), 1e-9, 1.0))
    L = np.empty((n, k))
    L[:] = prior
    for j in range(k):
        L[:, j] += np.bincount(it, weights=C[:, j], minlength=n)
    X = L[it] - C
    X -= X.max(1, keepdims=True)
    np.exp(X, out=X)
    off = 1.0 - X[np.arange(len(it)), ci[it]] / X.sum(1)
    order = np.argsort(it, kind="stable")
    its = it[order]
    starts = np.flatnonzero(np.r_[True, its[1:] != its[:-1]])
    out = np.zeros(n)
    out[its[starts]] = np.maximum.reduceat(np.clip(off[order], 0.0, 1.0), starts)
    return out


def error_indicators(table: pd.DataFrame, fit: Any, task: str,
                     rank_weights: tuple[float, ...] | None = None) -> pd.DataFrame:
    """The uncertainty indicators for every item of ``task`` (index item_id).

    Columns: consensus_label, p_model, p_skill, p_vote, p_loo, n_judgements, and p_combined, the ranking
    score ``expit(b0 + b1 x_uncertain + b2 x_unstable)`` of :mod:`labkit.review.weights` (``rank_weights``,
    default :data:`labkit.review.weights.DEFAULT_WEIGHTS`).
    """
    post = fit.posteriors[task]
    labels = pd.Index(post.columns.astype(str))
    items = pd.Index(post.index.astype(str), name="item_id")
    n, k = len(items), len(labels)
    P = post.to_numpy(dtype=np.float64)
    cons = fit.consensus[_is(fit.consensus["task"], task)]
    cpos = _index_of(cons["item_id"], items)
    ci = np.full(n, -1, dtype=np.int64)
    ci[cpos[cpos >= 0]] = _index_of(cons["label"], labels)[cpos >= 0]
    ci = np.where(ci < 0, P.argmax(1), ci)
    clab = labels.to_numpy(dtype=object)[ci] if k else np.full(n, None, dtype=object)
    rows = np.arange(n)
    mask = np.ones((n, k), dtype=bool)
    mask[rows, ci] = False
    # sums of the other labels' probabilities, not 1 - p: keeps tiny error probabilities apart (no ties at 0)
    p_model = np.clip(np.where(mask, P, 0.0).sum(1), 0.0, 1.0)

    t = table[_is(table["task"], task)]
    it = _index_of(t["item_id"], items)
    li = _index_of(t["label"], labels)
    ok = (it >= 0) & (li >= 0)
    it, li = it[ok], li[ok]
    votes = np.zeros((n, k))
    np.add.at(votes, (it, li), 1.0)
    nv = votes.sum(1)
    p_vote = 1.0 - np.divide(votes[rows, ci], nv, out=np.zeros(n), where=nv > 0)

    sk = fit.skill[fit.skill["task"].astype(str) == task]
    acc = pd.Series(sk["accuracy"].to_numpy(float), index=sk["annotator_id"].astype(str))
    ai = _index_of(t["annotator_id"], pd.Index(acc.index))[ok]
    a = np.where(ai >= 0, acc.to_numpy(float)[np.maximum(ai, 0)] if len(acc) else np.nan, np.nan)
    a = np.where(np.isnan(a), 1.0 / k + 0.1, a)
    a = np.clip(a, 1.0 / k + 1e-3, 0.999)
    w = np.log(a * (k - 1) / (1 - a)) if k > 1 else np.zeros_like(a)
    W = np.zeros((n, k))
    np.add.at(W, (it, li), w)
    W -= W.max(1, keepdims=True)
    Q = np.exp(W)
    Q /= Q.sum(1, keepdims=True)
    p_skill = np.clip(np.where(mask, Q, 0.0).sum(1), 0.0, 1.0)
    p_loo = _leave_one_out(fit, task, t["annotator_id"][ok], it, li, ci, P)
    X = rank_features(p_model, p_skill, p_loo)
    b = np.asarray(rank_weights if rank_weights is not None else DEFAULT_WEIGHTS, float)
    p_comb = expit(b[0] + X @ b[1:])
    return pd.DataFrame({"consensus_label": clab, "p_model": p_model, "p_skill": p_skill, "p_vote": p_vote,
                         "p_loo": p_loo, "n_judgements": nv.astype(np.int64), "p_combined": p_comb,
                         "_x0": X[:, 0], "_x1": X[:, 1],
                         "_ci": ci}, index=items).assign(
        _alt=np.where(np.isfinite(P).all(1), _second_label(P, ci), ci))


def _second_label(P: np.ndarray, ci: np.ndarray) -> np.ndarray:
    Q = P.copy()
    Q[np.arange(len(P)), ci] = -1.0
    return Q.argmax(1) if P.shape[1] > 1 else ci


def read_costs(path: str | os.PathLike[str]) -> dict[str, pd.DataFrame]:
    """Read a cost file: CSV ``task,true_label,read_as,cost`` (task optional; missing pairs cost 1, diagonal 0)."""
    p = str(path)
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise InputRefused(p, "no such file") from None
    except Exception as exc:
        raise InputRefused(p, f"cannot read cost file ({exc.__class__.__name__}: {exc})") from None
    cols = {c.strip().lower(): c for c in df.columns}
    missing = [c for c in ("true_label", "read_as", "cost") if c not in cols]
    if missing:
        raise InputRefused(p, f"a cost file needs columns true_label, read_as, cost; missing {', '.join(missing)}")
    out: dict[str, list[tuple[str, str, float]]] = {}
    for i, row in enumerate(df.itertuples(index=False), start=2):
        r = dict(zip(df.columns, row))
        try:
            c = float(r[cols["cost"]])
        except ValueError:
            raise InputRefused(p, f"cost {r[cols['cost']]!r} is not a number", record=i, field="cost") from None
        if not math.isfinite(c) or c < 0:
            raise InputRefused(p, f"cost {c} must be a finite number >= 0", record=i, field="cost")
        task = str(r[cols["task"]]).strip() if "task" in cols else "*"
        out.setdefault(task or "*", []).append((str(r[cols["true_label"]]).strip(), str(r[cols["read_as"]]).strip(), c))
    return {t: pd.DataFrame(v, columns=["true_label", "read_as", "cost"]) for t, v in out.items()}


def costs_from_guidelines(guidelines: Any, task: str | None = None) -> dict[str, pd.DataFrame]:
    """Cost matrices from the guideline: the ``error_costs`` list of each task's newest version.

    In the version file (``guidelines/<task>/<version>.yaml``), a top-level list::

        error_costs:
          - {true_label: hate, read_as: ok, cost: 10}   # reading a hate comment as ok costs 10

    Pairs not listed cost 1 off the diagonal. Both labels must be labels of that version. Returns the same
    shape as :func:`read_costs` (task -> ``true_label, read_as, cost``); tasks without ``error_costs`` are absent.
    """
    out: dict[str, pd.DataFrame] = {}
    tasks = list(guidelines.tasks)
    for t in ([task] if task else tasks):
        if t not in tasks:
            continue
        v = guidelines.latest(t)
        raw = v.meta.get("error_costs")
        if raw is None:
            continue
        where = str(v.path or f"{t} {v.version}")
        if not isinstance(raw, list):
            raise InputRefused(where, "error_costs must be a list of {true_label, read_as, cost}", field="error_costs")
        rows = []
        names = set(v.label_names)
        for i, r in enumerate(raw):
            if not isinstance(r, dict):
                raise InputRefused(where, "an error_costs entry must be a mapping", record=i + 1, field="error_costs")
            for key in ("true_label", "read_as", "cost"):
                if key not in r:
                    raise InputRefused(where, f"error_costs entry misses {key!r}", record=i + 1, field=key)
            for key in ("true_label", "read_as"):
                if str(r[key]) not in names:
                    raise InputRefused(where, f"{key} {r[key]!r} is not a label of {t} {v.version} "
                                              f"(labels: {', '.join(v.label_names)})", record=i + 1, field=key)
            try:
                c = float(r["cost"])
            except (TypeError, ValueError):
                raise InputRefused(where, f"cost {r['cost']!r} is not a number", record=i + 1, field="cost") from None
            if not math.isfinite(c) or c < 0:
                raise InputRefused(where, f"cost {c} must be a finite number >= 0", record=i + 1, field="cost")
            rows.append((str(r["true_label"]), str(r["read_as"]), c))
        out[t] = pd.DataFrame(rows, columns=["true_label", "read_as", "cost"])
    return out


def _cost_vector(costs: dict[str, pd.DataFrame] | None, task: str, labels: pd.Index,
                 ci: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Expected cost of an error given it is one: sum_k P(k | not consensus) cost[k, consensus]."""
    k = len(labels)
    C = np.ones((k, k)) - np.eye(k)
    if costs:
        for key in ("*", task):
            if key in costs:
                for tl, ra, c in costs[key].itertuples(index=False):
                    a, b = labels.get_indexer([tl, ra])
                    if a >= 0 and b >= 0 and a != b:
                        C[a, b] = c
    rows = np.arange(len(ci))
    other = P.copy()
    other[rows, ci] = 0.0
    s = other.sum(1, keepdims=True)
    other = np.divide(other, s, out=np.full_like(other, 1.0 / max(k - 1, 1)), where=s > 1e-12)
    other[rows, ci] = 0.0
    return (other * C[:, ci].T).sum(1)


def read_validation_failures(folder: str | os.PathLike[str]) -> pd.DataFrame:
    """Failing rows of critical expectations from a ``labkit validate --out DIR`` folder (item_id, expectation)."""
    d = Path(folder)
    f = d / "failures.csv"
    if not d.is_dir():
        raise InputRefused(str(d), "validation result folder not found")
    if not f.exists():
        pq = d / "failures.parquet"
        if pq.exists():
            df = pd.read_parquet(pq)
        else:
            raise InputRefused(str(f), "no failures.csv (or failures.parquet) in the validation result folder")
    else:
        df = pd.read_csv(f, dtype=str, keep_default_na=False)
    for c in ("item_id", "severity", "expectation"):
        if c not in df.columns:
            raise InputRefused(str(f), f"missing column {c!r}", field=c)
    df = df[df["severity"].astype(str) == "critical"]
    return df[["item_id", "expectation"]].astype(str).drop_duplicates()


def _budget(n_items: int, minutes: np.ndarray, *, hours: float | None, items: int | None,
            fraction: float | None) -> tuple[np.ndarray, dict[str, Any]]:
    given = [x is not None for x in (hours, items, fraction)]
    if sum(given) != 1:
        raise ParameterError("give exactly one budget: hours, items or fraction")
    if hours is not None:
        if not (hours >= 0 and math.isfinite(hours)):
            raise ParameterError(f"budget hours must be a finite number >= 0, got {hours}")
        cum = np.cumsum(minutes)
        return cum <= hours * 60.0 + 1e-9, {"hours": hours}
    if items is not None:
        if items < 0:
            raise ParameterError(f"budget items must be >= 0, got {items}")
        return np.arange(n_items) < items, {"items": items}
    assert fraction is not None
    if not (0 <= fraction <= 1):
        raise ParameterError(f"budget fraction must be in [0, 1], got {fraction}")
    return np.arange(n_items) < math.ceil(fraction * n_items - 1e-9), {"fraction": fraction}


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-300, 1.0)
    return np.log(q) - np.log1p(-np.minimum(q, 1 - 1e-16))


def _calibrate(score: np.ndarray, err: np.ndarray) -> np.ndarray | None:
    """A one-feature logistic fit err ~ logit(score) by Newton steps; None when gold is too thin.

    Monotone in the score, so the ranking does not change; only ``p_error`` becomes a probability.
    """
    if len(err) < 20 or err.sum() < 3 or (~err).sum() < 3:
        return None
    x = _logit(score)
    X = np.column_stack([np.ones_like(x), x])
    beta = np.zeros(2)
    y = err.astype(float)
    for _ in range(100):
        p = 1 / (1 + np.exp(-(X @ beta)))
        g = X.T @ (y - p) - 1e-3 * beta
        H = (X * (p * (1 - p))[:, None]).T @ X + 1e-3 * np.eye(2)
        step = np.linalg.solve(H, g)
        beta += step
        if np.abs(step).max() < 1e-8:
            break
    if beta[1] <= 0:  # the score does not rank errors on this gold: keep it uncalibrated
        return None
    return beta


def _truth(gold: pd.DataFrame | None, review_hist: pd.DataFrame, task: str, items: pd.Index) -> pd.Series:
    """Known true labels of ``task``'s items: gold, else past review outcomes (latest adjudication, else the
    review majority, latest wins a tie). Index item_id (positions in ``items`` only)."""
    parts = []
    rt = review_hist[_is(review_hist["task"], task)] if len(review_hist) else review_hist
    if len(rt):
        rt = rt.assign(_adj=_is(rt["stage"], "adjudication"), _ord=np.arange(len(rt)))
        adj = rt[rt["_adj"]].drop_duplicates("item_id", keep="last")
        rv = rt[~rt["_adj"]].astype({"item_id": str, "label": str})
        if len(rv):
            cnt = rv.groupby(["item_id", "label"], observed=True).agg(n=("_ord", "size"), last=("_ord", "max")).reset_index()
            cnt = cnt.sort_values(["item_id", "n", "last"]).drop_duplicates("item_id", keep="last")
            parts.append(pd.Series(cnt["label"].to_numpy(), index=cnt["item_id"].to_numpy()))
        if len(adj):
            parts.append(pd.Series(adj["label"].astype(str).to_numpy(), index=adj["item_id"].astype(str).to_numpy()))
    if gold is not None and len(gold):
        if "task" in gold.columns:
            from labkit.stats.scoring import gold_for_task

            g = gold_for_task(gold, task)  # a gold file naming no task applies to every task
        else:
            g = gold
        parts.append(pd.Series(g["label"].astype(str).to_numpy(), index=g["item_id"].astype(str).to_numpy()))
    if not parts:
        return pd.Series([], dtype=object)
    s = pd.concat(parts)  # later parts win: gold over adjudication over review
    s = s[~s.index.duplicated(keep="last")]
    return s[items.get_indexer(pd.Index(s.index.astype(str))) >= 0]


def _learn_or_calibrate(ind: pd.DataFrame, truth: pd.Series, w: ReviewWeights) -> tuple[np.ndarray, dict[str, Any]]:
    """``p_error`` of every item of one task and how it was obtained.

    With enough known errors (gold or past review outcomes): the ranking weights are learned on them
    (cross-fitted; each known item's own score comes from a fit without it). With a few: the default ranking,
    calibrated by a monotone one-feature logistic fit. With none: the default ranking, its intercept shifted
    so the expected number of errors equals the consensus model's own (sum of ``p_model``); ranking unchanged.
    """
    X = ind[["_x0", "_x1"]].to_numpy(float)
    b = np.asarray(w.rank, float)
    p = ind["p_combined"].to_numpy(float)
    if len(truth):
        pos = ind.index.get_indexer(truth.index)
        err = ind["consensus_label"].to_numpy()[pos].astype(str) != truth.to_numpy().astype(str)
        info: dict[str, Any] = {"known_items": int(len(err)), "known_errors": int(err.sum())}
        # one offset per consensus label (prior 0): what the known items say about how often each label is wrong
        codes, labels = pd.factorize(ind["consensus_label"].astype(str), sort=True)
        if not w.label_offsets:
            labels = labels[:0]
        XL = np.hstack([X, np.eye(len(labels))[codes]]) if len(labels) else X
        prior = np.concatenate([b, np.zeros(XL.shape[1] - X.shape[1])])
        strength = np.concatenate([np.full(X.shape[1], 20.0), np.full(XL.shape[1] - X.shape[1], w.label_offset_strength)])
        beta, z_known, learned = cross_fit(XL[pos], err, prior, strength=strength, min_errors=w.learn_min_errors)
        if learned:
            z = beta[0] + XL @ beta[1:]
            z[pos] = z_known
            info.update({"weights": "learned (5-fold cross-fitted on the known items, shrunk toward the defaults)",
                         "intercept": float(beta[0]), "slopes": [float(x) for x in beta[1:1 + X.shape[1]]]})
            if len(labels):
                info["label_offsets"] = {str(lab): float(v) for lab, v in zip(labels, beta[1 + X.shape[1]:])}
            return expit(z), info
        cal = _calibrate(p[pos], err)
        if cal is not None:
            info.update({"weights": "defaults", "calibrated": True, "intercept": float(cal[0]), "slope": float(cal[1])})
            return expit(cal[0] + cal[1] * _logit(p)), info
        info.update({"weights": "defaults", "calibrated": False})
    else:
        info = {"weights": "defaults", "known_items": 0}
    target = float(ind["p_model"].sum())
    z = b[0] + X @ b[1:]
    if target > 0 and len(z):
        lo, hi = -50.0, 50.0
        for _ in range(60):  # the shift that makes sum(p) equal the model's expected errors
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if expit(z + mid).sum() < target else (lo, mid)
        p = expit(z + (lo + hi) / 2)
        info["intercept_shift"] = float((lo + hi) / 2)
    return p, info


def _reasons(q: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """The reasons of the ``rows`` items in words, e.g. ``the model pre-label says spam; 33% of 3 votes agree;
    consensus model gives its label 72%; the agreeing voters have low estimated skill`` ("" elsewhere)."""
    out = np.full(len(q), "", dtype=object)
    idx = np.flatnonzero(rows)
    if not len(idx):
        return out
    sub = q.iloc[idx]
    nj = sub["n_judgements"].to_numpy()
    share = 1 - sub["p_vote"].to_numpy(float)
    pm = sub["p_model"].to_numpy(float)
    low = (sub["p_skill"].to_numpy(float) - sub["p_vote"].to_numpy(float)) > 0.1
    words = []
    for crit, nov, model, fast, j, sh, m, lo in zip(sub["_crit"], sub["_nov"], sub["_model"], sub["_fast"], nj, share,
                                                    pm, low):
        parts = [crit, nov, model, fast]
        if j == 1:
            parts.append("only one judgement")
        elif j > 1 and sh < 1:
            parts.append(f"{round(sh * 100)}% of {j} votes agree")
        if m >= 0.05:
            parts.append(f"consensus model gives its label {round((1 - m) * 100)}%")
        if lo:
            parts.append("the agreeing voters have low estimated skill")
        words.append("; ".join(x for x in parts if x))
    out[idx] = words
    return out


def _rank_key(score: np.ndarray, digits: int = 12) -> np.ndarray:
    """``score`` rounded to ``digits`` significant digits, for ordering: items whose scores differ only by
    floating-point rounding (a monotone calibration of equal raw scores can split them by an ulp) stay tied
    and keep their order by item id."""
    out = np.asarray(score, dtype=float).copy()
    ok = np.isfinite(out) & (out != 0)
    mag = np.floor(np.log10(np.abs(out[ok])))
    scale = 10.0 ** (digits - 1 - mag)
    out[ok] = np.round(out[ok] * scale) / scale
    return out


def plan_review(table: pd.DataFrame, *, budget_hours: float | None = None, budget_items: int | None = None,
                budget_fraction: float | None = None, gold: pd.DataFrame | None = None,
                validation: pd.DataFrame | None = None, costs: dict[str, pd.DataFrame] | None = None,
                slice_weights: dict[str, float] | None = None, minutes_per_item: float = 1.0,
                weights: ReviewWeights | None = None, fit: Any = None) -> ReviewPlan:
    """Plan review of ``table`` (canonical labels) under one budget.

    Parameters
    ----------
    table : canonical label table; stage=label rows are judged, stage=review rows give review history.
    budget_hours, budget_items, budget_fraction : exactly one budget.
    gold : gold table (``labkit.schema.read_gold``): learns the ranking weights (or calibrates ``p_error``).
    validation : critical failing rows (:func:`read_validation_failures`): those items go first.
    costs : cost matrices (:func:`read_costs`).
    slice_weights : multiplier of the expected cost per slice (default 1).
    minutes_per_item : review minutes per item when there is no review-stage duration history.
    weights : layer weights.
    fit : a precomputed ``fit_consensus`` result on the label-stage human rows (optional).

    Returns
    -------
    ReviewPlan
    """
    from labkit.stats.truth import fit_consensus

    w = weights or ReviewWeights()
    if minutes_per_item <= 0 or not math.isfinite(minutes_per_item):
        raise ParameterError(f"minutes_per_item must be a finite number > 0, got {minutes_per_item}")
    is_label = _is(table["stage"], "label")
    is_model = _is(table["source"], "model")
    human = table[is_label & _is(table["source"], "human")]
    if len(human) == 0:
        raise ParameterError("no human label-stage judgements to plan review for")
    if fit is None:
        fit = fit_consensus(human)
    review_hist = table[_is(table["stage"], "review") | _is(table["stage"], "adjudication")]
    crit = set() if validation is None else set(validation["item_id"].astype(str))
    crit_why: dict[str, list[str]] = {}
    if validation is not None:
        for i, e in validation[["item_id", "expectation"]].astype(str).itertuples(index=False):
            crit_why.setdefault(i, []).append(e)
    _POS_CACHE.clear()
    try:
        return _plan(table, human, fit, review_hist, crit, crit_why, w, gold, costs, slice_weights, minutes_per_item,
                     is_label, is_model, budget_hours, budget_items, budget_fraction)
    finally:
        _POS_CACHE.clear()


def _plan(table: pd.DataFrame, human: pd.DataFrame, fit: Any, review_hist: pd.DataFrame, crit: set[str],
          crit_why: dict[str, list[str]], w: ReviewWeights, gold: pd.DataFrame | None,
          costs: dict[str, pd.DataFrame] | None, slice_weights: dict[str, float] | None, minutes_per_item: float,
          is_label: np.ndarray, is_model: np.ndarray, budget_hours: float | None, budget_items: int | None,
          budget_fraction: float | None) -> ReviewPlan:
    frames = []
    calib: dict[str, dict[str, Any]] = {}
    for task in fit.posteriors:
        ind = error_indicators(human, fit, task, rank_weights=w.rank)
        items = ind.index
        n = len(items)
        ht = human[_is(human["task"], task)]
        model_says = np.full(n, "", dtype=object)
        fast_words = np.full(n, "", dtype=object)
        p, calib[task] = _learn_or_calibrate(ind, _truth(gold, review_hist, task, items), w)
        # human vs model pre-label disagreement
        mt = table[is_label & is_model & _is(table["task"], task)]
        if len(mt):
            last = mt.drop_duplicates("item_id", keep="last")
            mpos = _index_of(last["item_id"], items)
            keep = mpos >= 0
            mlab = np.full(n, None, dtype=object)
            mlab[mpos[keep]] = last["label"].astype(object).to_numpy()[keep]
            dis = pd.notna(mlab) & (mlab != ind["consensus_label"].to_numpy())
            p = np.where(dis, p + w.model_disagreement * (1 - p), p)
            model_says[dis] = "the model pre-label says " + mlab[dis].astype(str)
        # too-fast judgements for the consensus label
        dur = ht["duration_s"].to_numpy(float)
        if np.isfinite(dur).any():
            med = float(np.nanmedian(dur))
            fast = np.isfinite(dur) & (dur < w.fast_ratio * med)
            if fast.any():
                it = _index_of(ht["item_id"], items)
                lab_pos = _index_of(ht["label"], pd.Index(fit.posteriors[task].columns.astype(str)))
                agrees = lab_pos == ind["_ci"].to_numpy()[np.maximum(it, 0)]
                fv = np.bincount(it[(it >= 0) & fast & agrees], minlength=n)
                cv = np.bincount(it[(it >= 0) & agrees], minlength=n)
                share = np.divide(fv, cv, out=np.zeros(n), where=cv > 0)
                p = p + w.too_fast * share * (1 - p)
                hit = share > 0
                fast_words[hit] = (fv[hit].astype(str).astype(object) + " of " + cv[hit].astype(str).astype(object)
                                   + f" votes for the consensus took under {w.fast_ratio * med:.0f}s")
        # impact
        post = fit.posteriors[task].to_numpy(float)
        cost = _cost_vector(costs, task, pd.Index(fit.posteriors[task].columns.astype(str)), ind["_ci"].to_numpy(), post)
        first = ht.drop_duplicates("item_id")
        fpos = _index_of(first["item_id"], items)
        sl_arr = np.full(n, None, dtype=object)
        ok_f = fpos >= 0
        sl_arr[fpos[ok_f]] = first["slice"].astype(object).to_numpy()[ok_f]
        sl = pd.Series(sl_arr, index=items)
        sw = np.ones(n)
        if slice_weights:
            sw = sl.map(lambda s: slice_weights.get(str(s), 1.0) if pd.notna(s) else 1.0).to_numpy(float)
        exp_cost = p * cost * sw
        # novelty: slices, guideline versions and labels with few reviewed items
        nov = np.ones(n)
        nov_words = np.full(n, "", dtype=object)
        rt = review_hist[_is(review_hist["task"], task)] if len(review_hist) else review_hist
        was_reviewed = np.zeros(n, dtype=bool)
        if len(rt):
            rpos = _index_of(rt["item_id"], items)
            was_reviewed[rpos[rpos >= 0]] = True
        if len(rt) and w.novelty > 0:
            for col in ("slice", "guideline_version"):
                vals = np.full(n, None, dtype=object)
                vals[fpos[ok_f]] = first[col].astype(object).to_numpy()[ok_f]
                codes, uniq = pd.factorize(pd.Series(vals).astype(object).where(pd.notna(vals), None))
                has = codes >= 0
                counts = np.bincount(codes[was_reviewed & has], minlength=len(uniq))
                c = np.where(has, counts[np.maximum(codes, 0)] if len(uniq) else 0, 0)
                nov *= 1 + np.where(has, w.novelty / np.sqrt(1 + c), 0.0)
                fresh = has & (c == 0)
                if fresh.any():
                    name = col.replace("_", " ")
                    said = np.array([f"{name} {u} has no reviewed items yet" for u in uniq], dtype=object)
                    add = said[codes[fresh]]
                    nov_words[fresh] = np.where(nov_words[fresh] == "", add, nov_words[fresh] + "; " + add)
            ci_t = ind["_ci"].to_numpy()
            lab_counts = np.bincount(ci_t[was_reviewed], minlength=int(ci_t.max()) + 1 if n else 0)
            nov *= 1 + w.novelty / np.sqrt(1 + lab_counts[ci_t])
        # minutes
        rd = rt["duration_s"].to_numpy(float) if len(rt) else np.zeros(0)
        rd = rd[np.isfinite(rd) & (rd > 0)]
        est = float(np.median(rd)) / 60.0 if len(rd) else minutes_per_item
        tier = np.ones(n, dtype=np.int64)
        if crit:
            cpos = items.get_indexer(pd.Index(sorted(crit)))
            tier[cpos[cpos >= 0]] = 0
        # the words of the reasons are joined after the budget cut, for the queued items only
        crit_words = np.full(n, "", dtype=object)
        for i in np.flatnonzero(tier == 0):
            crit_words[i] = "failed critical check " + ", ".join(sorted(set(crit_why.get(items[i], []))))
        # items with a review or adjudication outcome are known: reviewing them again removes no error, so they
        # go last (tier 2) with p_error and expected cost 0
        tier[was_reviewed] = 2
        p = np.where(was_reviewed, 0.0, p)
        exp_cost = np.where(was_reviewed, 0.0, exp_cost)
        crit_words[was_reviewed] = np.where(crit_words[was_reviewed] == "", "already reviewed",
                                            "already reviewed; " + crit_words[was_reviewed].astype(str))
        frames.append(pd.DataFrame({
            "item_id": items, "task": task, "consensus_label": ind["consensus_label"].to_numpy(),
            "p_error": p, "expected_cost": exp_cost, "est_minutes": est,
            "score": exp_cost * nov / est, "tier": tier,
            "p_model": ind["p_model"].to_numpy(), "p_skill": ind["p_skill"].to_numpy(),
            "p_vote": ind["p_vote"].to_numpy(), "n_judgements": ind["n_judgements"].to_numpy(),
            "slice": sl.to_numpy(), "_crit": crit_words, "_nov": nov_words, "_model": model_says,
            "_fast": fast_words}))
    q = pd.concat(frames, ignore_index=True)
    order = np.lexsort((q["item_id"].to_numpy(), -_rank_key(q["score"].to_numpy(float)), q["tier"].to_numpy()))
    q = q.iloc[order].reset_index(drop=True)
    q.insert(0, "rank", np.arange(1, len(q) + 1))
    inside, budget = _budget(len(q), q["est_minutes"].to_numpy(float), hours=budget_hours, items=budget_items,
                             fraction=budget_fraction)
    q["queued"] = inside
    q["reasons"] = _reasons(q, inside)
    return ReviewPlan(queue=q[list(QUEUE_COLUMNS)], budget=budget, weights=w, calibration=calib, fit=fit)
