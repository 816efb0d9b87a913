"""How far to trust the simulator on a program: fit on half the items, predict the other half.

Protocol (``labkit simulate check``), per split (5 by default, seeded):

1. split the gold items of the task at random into two halves;
2. fit the model on the first half's judgements (truth: their gold);
3. truth curve: on the second half, majority-vote accuracy against gold when each item keeps ``k`` of its
   recorded labels drawn without replacement (``k = 1 .. K``, where K is the 10th percentile of labels per
   item, so nearly every item takes part at every k). The subsampling is exact: the expectation over every
   k-subset of the item's labels (multivariate hypergeometric), not a few random draws; a tie credits what
   a random tie-break would on average (:func:`labkit.simulate.engine.mv_credit`, the rule of the
   predictions too);
4. predicted curve: majority-vote accuracy of ``n_sim`` simulated items with ``k`` labels each, drawn as the
   engine draws them: a first-half item (its class, easiness, wrong-label profile), annotators from the
   people who labeled it (then by activity), labels from the model, its easiness spread scaled as
   :func:`choose_item_scale` chooses on the first half alone (as :func:`labkit.simulate.model.fit_program` does);
5. error: mean absolute difference over k, in accuracy points; averaged over the splits.

The same protocol scores three independence baselines fitted on the same half, in the same run, on the
same simulated items, annotators and random numbers (common random numbers: only the label model
differs): the equal-skill generator (every annotator right with the half's overall accuracy, wrong labels
uniform: the generic generators' model), a gold-fitted pooled per-class confusion (every annotator alike)
and a gold-fitted per-annotator confusion (Dawid-Skene's generative model with gold truth, shrunk toward
the pool). None models item difficulty, so they over-predict what extra labels buy where errors are
correlated.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from labkit.errors import ParameterError
from labkit.simulate.engine import draw_assigned, mv_credit
from labkit.simulate.model import assignment, fit_task_arrays

__all__ = ["check", "truth_curve", "subsample_credit", "choose_item_scale", "scaled_easiness", "BASELINES", "SCALES"]

BASELINES = ("equal skill", "pooled confusion", "annotator confusion")
# candidate amounts of item-difficulty structure (multiples of the fitted easiness spread), chosen per program
SCALES = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5)
MIN_SCALE_ITEMS = 40  # items with gold needed to choose the scale by cross-validation
MAX_SCALE_ITEMS = 5000  # beyond it, a seeded sample of the items with gold (the choice needs no more)
_EXACT_LIMIT = 50_000  # count vectors to enumerate per (item counts, k); beyond it, Monte Carlo subsamples


def _compositions(k: int, caps: tuple[int, ...]) -> np.ndarray:
    """Every vector x with 0 <= x <= caps and sum(x) == k (one per row)."""
    rows: list[tuple[int, ...]] = []

    def rec(i: int, left: int, acc: tuple[int, ...]) -> None:
        if i == len(caps) - 1:
            if left <= caps[i]:
                rows.append(acc + (left,))
            return
        rest = sum(caps[i + 1:])
        for x in range(max(0, left - rest), min(left, caps[i]) + 1):
            rec(i + 1, left - x, acc + (x,))

    rec(0, k, ())
    return np.array(rows, dtype=np.int64).reshape(-1, len(caps))


@lru_cache(maxsize=65536)
def _exact(counts: tuple[int, ...], k: int) -> tuple[float, ...]:
    """For each class z: the chance that majority vote over a random k-subset of ``counts`` names z."""
    X = _compositions(k, counts)
    c = np.asarray(counts)
    lw = (np.array([[math.lgamma(a + 1) for a in counts]]) - _lgam(X) - _lgam(c[None, :] - X)).sum(1)
    lw -= math.lgamma(c.sum() + 1) - math.lgamma(k + 1) - math.lgamma(c.sum() - k + 1)
    w = np.exp(lw)
    mx = X.max(1, keepdims=True)
    top = (X == mx) & (mx > 0)
    return tuple(float(v) for v in (w[:, None] * top / top.sum(1, keepdims=True)).sum(0))


def _lgam(a: np.ndarray) -> np.ndarray:
    from scipy.special import gammaln

    return np.asarray(gammaln(a + 1.0))


def subsample_credit(counts: np.ndarray, z: int, k: int, rng: np.random.Generator | None = None,
                     reps: int = 400) -> float:
    """Expected majority-vote credit of class ``z`` when ``k`` of an item's labels (``counts`` per class) are
    kept, drawn without replacement: exact where the count vectors to enumerate are few (always for two or
    three classes), else the mean over ``reps`` random subsets."""
    c = tuple(int(x) for x in counts)
    if k > sum(c):
        raise ParameterError(f"cannot keep {k} of {sum(c)} labels")
    if math.comb(k + len(c) - 1, len(c) - 1) <= _EXACT_LIMIT:
        return _exact(c, k)[z]
    rng = rng if rng is not None else np.random.default_rng(0)
    labels = np.repeat(np.arange(len(c)), c)
    C = np.stack([np.bincount(rng.choice(labels, k, replace=False), minlength=len(c)) for _ in range(reps)])
    return float(mv_credit(C, np.full(reps, z)).mean())


def truth_curve(counts: np.ndarray, truth: np.ndarray, ks: list[int],
                rng: np.random.Generator | None = None) -> dict[int, float]:
    """Majority-vote accuracy when each item (row of ``counts``) keeps k of its recorded labels, for each k
    (items with fewer than k labels are left out at that k)."""
    n = counts.sum(1)
    out: dict[int, float] = {}
    for k in ks:
        keep = np.where(n >= k)[0]
        out[k] = float(np.mean([subsample_credit(counts[i], int(truth[i]), k, rng) for i in keep])) if len(keep) else \
            float("nan")
    return out


def _labels(P: np.ndarray, U: np.ndarray) -> np.ndarray:
    """Labels by inversion: ``P`` (n, k, K) probabilities, ``U`` (n, k) uniforms (shared across methods)."""
    cum = np.cumsum(P, axis=2)
    return (U[:, :, None] > cum[:, :, :-1]).sum(axis=2)


def _ks(n_per: np.ndarray) -> list[int]:
    """k = 1 .. K, K the 10th percentile of labels per item (so nearly every item takes part at every k)."""
    return list(range(1, max(1, int(np.percentile(n_per, 10))) + 1))


def _predict(pool_items: np.ndarray, truth: np.ndarray, ptr: np.ndarray, assigned: np.ndarray, p_ann: np.ndarray,
             ks: list[int], n_sim: int, rng: np.random.Generator, n_labels: int,
             methods: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]]) -> dict[str, dict[int, float]]:
    """Majority-vote accuracy at each k of items drawn from ``pool_items`` (annotators as the engine draws them),
    for each label model in ``methods`` (``(pick, z, ann) -> P`` of shape (n, k, K)), on the same simulated
    items, annotators and uniforms (common random numbers: only the label model differs)."""
    K = n_labels
    preds: dict[str, dict[int, float]] = {name: {} for name in methods}
    for k in ks:
        n = max(1000, min(n_sim, (40 * n_sim) // (4 * k)))  # fewer items at large k: the same cost per k
        pick = pool_items[rng.integers(0, len(pool_items), n)]
        z = truth[pick]
        ann = draw_assigned(ptr, assigned, pick, k, p_ann, rng)
        U = rng.random((n, k))
        rows = np.repeat(np.arange(n), k)
        for name, probs in methods.items():
            C = np.zeros((n, K))
            np.add.at(C, (rows, _labels(probs(pick, z, ann), U).ravel()), 1.0)
            preds[name][k] = float(mv_credit(C, z).mean())
    return preds


def _item_model(th: np.ndarray, be: np.ndarray, W: np.ndarray
                ) -> Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """labkit's label model: right with sigma(theta[ann, z] + beta[item]), else a label from the item's profile."""
    def probs(pick: np.ndarray, z: np.ndarray, ann: np.ndarray) -> np.ndarray:
        n, k = ann.shape
        p = 1.0 / (1.0 + np.exp(-(th[ann, z[:, None]] + be[pick][:, None])))
        P = (1 - p)[:, :, None] * W[pick][:, None, :]
        P[np.arange(n)[:, None], np.arange(k)[None, :], z[:, None]] += p
        return P
    return probs


def _class_model(M: np.ndarray) -> Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """An independence baseline: every annotator's label drawn from row ``z`` of the confusion ``M``."""
    return lambda pick, z, ann: np.broadcast_to(M[z][:, None, :], ann.shape + (M.shape[1],))


def _annotator_model(conf: np.ndarray) -> Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """The per-annotator confusion baseline: annotator ``j``'s label drawn from ``conf[j, z]``."""
    return lambda pick, z, ann: conf[ann, z[:, None]]


def scaled_easiness(th: np.ndarray, be: np.ndarray, item: np.ndarray, annotator: np.ndarray, truth: np.ndarray,
                    scale: float) -> np.ndarray:
    """Item easiness with ``scale`` times its spread: ``scale * beta + c``, the offset ``c`` keeping the mean
    predicted accuracy of the fitted judgements (items with a truth) where it was. ``scale`` 1 is the fit."""
    if scale == 1.0:
        return be
    m = truth[item] >= 0
    base = th[annotator[m], truth[item[m]]]
    bi = be[item[m]]
    if not len(bi):
        return scale * be
    target = float(np.mean(1.0 / (1.0 + np.exp(-(base + bi)))))
    lo, hi = -30.0, 30.0
    for _ in range(60):  # bisection: the mean accuracy rises with c
        mid = 0.5 * (lo + hi)
        if float(np.mean(1.0 / (1.0 + np.exp(-(base + scale * bi + mid))))) < target:
            lo = mid
        else:
            hi = mid
    return scale * be + 0.5 * (lo + hi)


def choose_item_scale(item: np.ndarray, annotator: np.ndarray, label: np.ndarray, truth: np.ndarray, *,
                      n_items: int, n_annotators: int, n_labels: int, scales: tuple[float, ...] = SCALES,
                      folds: int = 2, repeats: int = 3, n_sim: int = 10000, seed: int = 0,
                      min_items: int = MIN_SCALE_ITEMS, max_items: int = MAX_SCALE_ITEMS) -> dict[str, Any]:
    """How much item-difficulty structure to simulate, chosen by cross-validation on the history alone.

    The items with a ``truth`` (gold) are split ``folds`` ways (``repeats`` times, seeded); the model is fitted
    on all folds but one and predicts the majority-vote accuracy curve of the left-out fold's items (new items,
    as in :func:`check`), once per candidate ``scale`` of the fitted easiness (:func:`scaled_easiness`: 0 is
    no item effect, 1 the fit as it is, above 1 a wider spread), on common random numbers. The scale with the
    smallest mean absolute error over the left-out folds is chosen only if it beats scale 1 by more than one
    standard error of the paired difference (else scale 1): on a small history the folds' errors are mostly
    split noise. With fewer than ``min_items`` such items the fit is kept as it is (scale 1); beyond
    ``max_items``, a seeded sample of them is used.
    """
    if folds < 2 or repeats * folds < 2:
        raise ParameterError(f"choose_item_scale needs at least 2 folds, got {folds}")
    gold = np.where(truth >= 0)[0]
    if len(gold) < min_items:
        return {"scale": 1.0, "reason": f"{len(gold)} items with gold (fewer than {min_items}): scale 1, not chosen",
                "mae_by_scale": {}}
    if len(gold) > max_items:
        gold = np.sort(np.random.default_rng([seed, 19]).choice(gold, max_items, replace=False))
    K, J = n_labels, n_annotators
    on = np.zeros(n_items, bool)
    on[gold] = True
    keep = on[item]  # only these items' judgements take part (the same results, less work on a large history)
    item, annotator, label = item[keep], annotator[keep], label[keep]
    counts = np.zeros((n_items, K), np.int64)
    np.add.at(counts, (item, label), 1)
    ptr, assigned = assignment(item, annotator, n_items)
    ks = _ks(counts.sum(1)[gold])
    err: dict[float, list[float]] = {sc: [] for sc in scales}
    for r in range(repeats):
        rng = np.random.default_rng([seed, 19, r])
        parts = np.array_split(rng.permutation(gold), folds)
        for f in range(folds):
            held = np.sort(parts[f])
            fit_items = np.sort(np.concatenate([parts[g] for g in range(folds) if g != f]))
            tr = np.full(n_items, -1, np.int64)
            tr[fit_items] = truth[fit_items]
            fit = fit_task_arrays(item, annotator, label, tr, n_items=n_items, n_annotators=J, n_labels=K)
            m = tr[item] >= 0
            act = np.bincount(annotator[m], minlength=J).astype(np.float64)
            true_curve = truth_curve(counts[held], truth[held], ks, rng)
            methods = {sc: _item_model(fit["theta"], scaled_easiness(fit["theta"], fit["beta"], item, annotator, tr, sc),
                                       fit["wrong"]) for sc in scales}
            preds = _predict(fit_items, truth, ptr, assigned, act / act.sum(), ks, n_sim, rng, K,
                             {str(sc): fn for sc, fn in methods.items()})
            for sc in scales:
                err[sc].append(100.0 * float(np.mean([abs(preds[str(sc)][k] - true_curve[k]) for k in ks])))
    mae = {sc: float(np.mean(e)) for sc, e in err.items()}
    best = min(scales, key=lambda sc: (round(mae[sc], 9), abs(sc - 1.0)))
    # one-standard-error rule: keep the fit as it is (scale 1) unless another scale's error is lower by more than
    # the standard error of the paired difference over the left-out folds (a small history cannot tell more)
    d = np.asarray(err[1.0]) - np.asarray(err[best])
    if best != 1.0 and d.mean() <= d.std(ddof=1) / math.sqrt(len(d)):
        best = 1.0
    return {"scale": float(best), "reason": f"cross-validated on {len(gold)} items with gold ({repeats} x {folds} folds)",
            "mae_by_scale": {str(sc): round(v, 4) for sc, v in mae.items()}}


def check(table: pd.DataFrame, gold: pd.DataFrame, *, task: str | None = None, splits: int = 5,
          n_sim: int = 40000, seed: int = 0) -> dict[str, Any]:
    """The fidelity protocol above on ``table`` and ``gold``; returns per-method errors and the curves."""
    from labkit.stats.counts import CountTables, as_label_table, resolve_task
    from labkit.stats.scoring import gold_for_task

    if splits < 1:
        raise ParameterError(f"splits must be at least 1, got {splits}")
    table = as_label_table(table)
    if "stage" in table.columns:
        table = table[table["stage"].astype(str) == "label"]
    task = resolve_task(table, task)
    g = gold_for_task(gold, task)
    gmap = pd.Series(g["label"].astype(str).to_numpy(), index=g["item_id"].astype(str).to_numpy())
    gmap = gmap[~gmap.index.duplicated(keep="last")]
    ct = CountTables.from_labels(table, task=task, source="human")
    extra = sorted(set(gmap) - set(map(str, ct.labels)))
    if extra:  # gold labels nobody gave still need a class (the rule of labkit.stats.scoring.join_gold)
        ct = CountTables.from_labels(table, task=task, source="human", labels=list(map(str, ct.labels)) + extra)
    labels = [str(x) for x in ct.labels]
    K, J = len(labels), ct.n_annotators
    truth_all = pd.Index(labels).get_indexer(gmap.reindex(np.asarray(ct.items).astype(str)).fillna("\0").to_numpy())
    gold_items = np.where(truth_all >= 0)[0]
    if len(gold_items) < 20:
        raise ParameterError(f"task {task!r}: {len(gold_items)} items have gold; the check needs at least 20")
    it, an, lab = ct.item.astype(np.int64), ct.annotator.astype(np.int64), ct.label.astype(np.int64)
    counts = np.zeros((ct.n_items, K), np.int64)
    np.add.at(counts, (it, lab), 1)
    ptr, assigned = assignment(it, an, ct.n_items)
    ks = _ks(counts.sum(1)[gold_items])
    names = ("labkit",) + BASELINES
    errors: dict[str, list[float]] = {name: [] for name in names}
    curves = []
    scales: list[float] = []
    for s in range(splits):
        rng = np.random.default_rng([seed, s])
        perm = rng.permutation(gold_items)
        half = len(perm) // 2
        train, test = np.sort(perm[:half]), np.sort(perm[half:])
        truth_tr = np.full(ct.n_items, -1, np.int64)
        truth_tr[train] = truth_all[train]
        m = truth_tr[it] >= 0
        act = np.bincount(an[m], minlength=J).astype(np.float64)
        p_ann = act / act.sum()
        true_curve = truth_curve(counts[test], truth_all[test], ks, rng)
        fit = fit_task_arrays(it, an, lab, truth_tr, n_items=ct.n_items, n_annotators=J, n_labels=K)
        # how much item structure to simulate: chosen on the training half alone, as fit_program chooses it
        scale = choose_item_scale(it, an, lab, truth_tr, n_items=ct.n_items, n_annotators=J, n_labels=K,
                                  seed=seed)["scale"]
        scales.append(scale)
        th = fit["theta"]
        be = scaled_easiness(th, fit["beta"], it, an, truth_tr, scale)
        zt, lt = truth_tr[it[m]], lab[m]
        pooled = np.full((K, K), 0.5)
        np.add.at(pooled, (zt, lt), 1.0)
        pooled /= pooled.sum(1, keepdims=True)
        conf = np.zeros((J, K, K))
        np.add.at(conf, (an[m], zt, lt), 1.0)
        conf = (conf + 2.0 * pooled[None]) / (conf.sum(2, keepdims=True) + 2.0)  # shrunk toward the pool
        acc = float((zt == lt).mean())
        equal = np.full((K, K), (1.0 - acc) / max(K - 1, 1))
        np.fill_diagonal(equal, acc if K > 1 else 1.0)

        methods = {"labkit": _item_model(th, be, fit["wrong"]), "equal skill": _class_model(equal),
                   "pooled confusion": _class_model(pooled), "annotator confusion": _annotator_model(conf)}
        preds = _predict(train, truth_all, ptr, assigned, p_ann, ks, n_sim, rng, K, methods)
        for name, pr in preds.items():
            errors[name].append(100.0 * float(np.mean([abs(pr[k] - true_curve[k]) for k in ks])))
        curves.append({"split": s, "k": ks, "truth": [true_curve[k] for k in ks], "item_scale": scale,
                       **{name: [pr[k] for k in ks] for name, pr in preds.items()}})
    mae = {name: float(np.mean(v)) for name, v in errors.items()}
    best_name = min(BASELINES, key=lambda b: mae[b])
    return {"task": task, "splits": splits, "k": ks, "n_gold_items": int(len(gold_items)),
            "mae_points": mae, "mae_by_split": errors, "best_baseline": best_name,
            "best_baseline_points": mae[best_name], "labkit_better_than_baselines": mae["labkit"] < mae[best_name],
            "item_scale_by_split": scales, "curves": curves}
