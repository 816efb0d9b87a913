"""How far to trust the simulator on a program: fit on half the items, predict the other half.

Protocol (``labkit simulate check``), per split (5 by default, seeded):

1. split the gold items of the task at random into two halves;
2. fit the model on the first half's judgements (truth: their gold);
3. truth curve: on the second half, majority-vote accuracy against gold when each item keeps ``k`` of its
   recorded labels drawn without replacement (``k = 1 .. K``, where K is the 10th percentile of labels per
   item, so nearly every item takes part at every k), averaged over ``reps`` subsamples; ties credit
   what a random tie-break would on average;
4. predicted curve: the simulator's majority-vote accuracy with ``k`` labels per item;
5. error: mean absolute difference over k, in accuracy points.

The same protocol scores two independence baselines fitted on the same half, in the same run: a
gold-fitted model with per-class pooled confusions (every annotator alike) and a per-annotator
confusion model (Dawid-Skene's generative model with gold truth), both drawing annotators by activity.
Both leave out item difficulty, so both over-predict what extra labels buy where errors are correlated.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from labkit.errors import ParameterError
from labkit.simulate.engine import _draw_annotators, mv_credit
from labkit.simulate.model import fit_task_arrays

__all__ = ["check", "truth_curve"]


def truth_curve(N_items_labels: list[np.ndarray], truth: np.ndarray, K: int, ks: list[int], reps: int,
                rng: np.random.Generator) -> dict[int, float]:
    """MV accuracy when each item keeps k of its recorded labels (``N_items_labels[i]``: label codes)."""
    out: dict[int, float] = {}
    n = np.array([len(x) for x in N_items_labels])
    for k in ks:
        keep = np.where(n >= k)[0]
        acc = []
        for _ in range(reps):
            C = np.zeros((len(keep), K))
            for row, i in enumerate(keep):
                s = rng.choice(N_items_labels[i], k, replace=False)
                C[row] = np.bincount(s, minlength=K)
            acc.append(mv_credit(C, truth[keep]).mean())
        out[k] = float(np.mean(acc))
    return out


def _predict(label_prob: Any, items: np.ndarray, truth: np.ndarray, p_ann: np.ndarray, K: int, ks: list[int],
             n_sim: int, rng: np.random.Generator) -> dict[int, float]:
    """MV accuracy with k labels per simulated item; ``label_prob(item_idx, ann) -> (n, k, K)`` probabilities."""
    out: dict[int, float] = {}
    for k in ks:
        pick = items[rng.integers(0, len(items), n_sim)]
        z = truth[pick]
        ann = _draw_annotators(p_ann, n_sim, k, rng)
        P = label_prob(pick, ann)
        cum = np.cumsum(P, axis=2)
        u = rng.random((n_sim, k))
        lab = (u[:, :, None] > cum[:, :, :-1]).sum(axis=2)
        C = np.zeros((n_sim, K))
        np.add.at(C, (np.repeat(np.arange(n_sim), k), lab.ravel()), 1.0)
        out[k] = float(mv_credit(C, z).mean())
    return out


def check(table: pd.DataFrame, gold: pd.DataFrame, *, task: str | None = None, splits: int = 5, reps: int = 10,
          n_sim: int = 20000, seed: int = 0) -> dict[str, Any]:
    """The fidelity protocol above on ``table`` and ``gold``; returns per-method errors and the curves."""
    from labkit.stats.counts import CountTables, as_label_table, resolve_task
    from labkit.stats.scoring import gold_for_task

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
    order = np.argsort(it, kind="stable")
    bounds = np.searchsorted(it[order], np.arange(ct.n_items + 1))
    per_item = [lab[order[bounds[i]:bounds[i + 1]]] for i in range(ct.n_items)]
    n_per = np.array([len(x) for x in per_item])
    kmax = max(1, int(np.percentile(n_per[gold_items], 10)))
    ks = list(range(1, kmax + 1))
    errors: dict[str, list[float]] = {"labkit": [], "pooled confusion": [], "annotator confusion": []}
    curves = []
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
        true_curve = truth_curve([per_item[i] for i in test], truth_all[test], K, ks, reps, rng)
        fit = fit_task_arrays(it, an, lab, truth_tr, n_items=ct.n_items, n_annotators=J, n_labels=K)
        th, be, W = fit["theta"], fit["beta"], fit["wrong"]

        def labkit_prob(pick: np.ndarray, ann: np.ndarray, th: np.ndarray = th, be: np.ndarray = be,
                        W: np.ndarray = W) -> np.ndarray:
            z = truth_all[pick]
            p = 1.0 / (1.0 + np.exp(-(th[ann, z[:, None]] + be[pick][:, None])))
            P = (1 - p)[:, :, None] * W[pick][:, None, :]
            P[np.arange(len(pick))[:, None], np.arange(ann.shape[1])[None, :], z[:, None]] += p
            return P

        pooled = np.full((K, K), 0.5)
        np.add.at(pooled, (truth_tr[it[m]], lab[m]), 1.0)
        pooled /= pooled.sum(1, keepdims=True)
        conf = np.full((J, K, K), 0.0)
        np.add.at(conf, (an[m], truth_tr[it[m]], lab[m]), 1.0)
        conf = (conf + 2.0 * pooled[None]) / (conf.sum(2, keepdims=True) + 2.0)  # shrunk toward the pool

        def pooled_prob(pick: np.ndarray, ann: np.ndarray, pooled: np.ndarray = pooled) -> np.ndarray:
            return np.broadcast_to(pooled[truth_all[pick]][:, None, :], ann.shape + (K,))

        def ann_prob(pick: np.ndarray, ann: np.ndarray, conf: np.ndarray = conf) -> np.ndarray:
            return conf[ann, truth_all[pick][:, None]]

        preds = {name: _predict(fn, train, truth_all, p_ann, K, ks, n_sim, rng)
                 for name, fn in (("labkit", labkit_prob), ("pooled confusion", pooled_prob),
                                  ("annotator confusion", ann_prob))}
        for name, pr in preds.items():
            errors[name].append(100.0 * float(np.mean([abs(pr[k] - true_curve[k]) for k in ks])))
        curves.append({"split": s, "k": ks, "truth": [true_curve[k] for k in ks],
                       **{name: [pr[k] for k in ks] for name, pr in preds.items()}})
    mae = {name: float(np.mean(v)) for name, v in errors.items()}
    best_baseline = min(v for n, v in mae.items() if n != "labkit")
    return {"task": task, "splits": splits, "k": ks, "n_gold_items": int(len(gold_items)),
            "mae_points": mae, "mae_by_split": errors, "best_baseline_points": best_baseline,
            "labkit_better_than_baselines": mae["labkit"] < best_baseline, "curves": curves}
