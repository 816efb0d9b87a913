"""How few items could ANY label-only review ranking need to catch 80% of the consensus errors? (issue 17)

    python bench/review_effort_bound.py                    # all six public datasets
    python bench/review_effort_bound.py zhou2012_dog       # one or more datasets by name
    python bench/review_effort_bound.py --repeats 3 --folds 5 --no-refit

A feasibility bound, not a ranking labkit ships. For every public dataset with gold (tests/data/public), a
supervised model of "the default consensus label is wrong" is trained *on the gold itself* from label-only
features of each item:

* ``aggregate``: the default consensus's indicators (``labkit.review.planner.error_indicators``: p_model,
  p_skill, p_loo, p_vote and the two ranking features), the consensus posterior of every label, its margin
  (top minus second), the vote count of every label, the number of votes and the consensus label (one-hot);
* ``+ who``: the same plus who voted what: the annotator x label indicators (annotator j said label l on this
  item) and, per annotator, +1 / -1 for a vote for / against the consensus label (0: did not label it).

Two models, hyper-parameters fixed a priori or chosen inside the training part only: an L2 logistic
regression on standardised features, its C chosen by 5-fold inner cross-validation on log loss
(``LogisticRegressionCV``), and a gradient-boosted tree model (``HistGradientBoostingClassifier``,
200 trees of at most 15 leaves, learning rate 0.05, min 10 items per leaf, L2 1.0; not tuned).

Measured: items, taken in order of the model's score, needed to catch 80% of the consensus errors
(``labkit.review.evaluate.items_for_recall``, ties at their expectation), with the scores

* **out of fold**: K-fold cross-fitted (default 10 folds, stratified by error, repeated with seeds 0..R-1):
  each item's score comes from a model that never saw its label. This is *generous* to learning from review
  outcomes: each item is ranked by a model trained on the truth of 90% of the other items, far more than a
  review queue has seen when it must rank them;
* **in sample**: trained and scored on every item (an optimistic ceiling; the model has seen each answer).

Beside them: the Label Studio-style policy (best-case threshold) and the target (30% fewer items than it),
labkit's static queue (default weights), and the in-sample "pattern oracle" (items ranked by the true
error rate of their (consensus label, vote count of every label) pattern).

Refit (``--no-refit`` skips it): after reviewing the first n items of labkit's static queue, the consensus
is fitted again with the reviewed items' truth known. ``fit_consensus(gold=...)`` uses gold only to calibrate
confidence (the labels come from the judgements), so it cannot change a label; the refit that can is a
semi-supervised Dawid-Skene (here: textbook EM, smoothing 0.01, the reviewed items' class posteriors clamped
to their truth, so the annotators' confusions are learned from them too). Reported: consensus errors left
among the unreviewed items, without and with the refit. This does not redefine the effort target.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, public_fit  # noqa: E402

warnings.filterwarnings("ignore")


def _datasets(names: list[str]) -> list[Path]:
    ds = [d for d in sorted((ROOT / "tests" / "data" / "public").glob("*/")) if (d / "gold.csv").exists()]
    return [d for d in ds if not names or d.name in names]


def load(d: Path) -> dict:
    """Judgements, the default consensus fit, its indicators and the gold of one dataset."""
    from labkit.review.planner import plan_review

    data = public_fit(d)
    data["queue"] = plan_review(data["table"], budget_fraction=1.0, fit=data["fit"]).queue
    return data


def features(data: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.Index]:
    """(aggregate features, who-voted-what columns, errors, items) over the gold items.

    Who voted what: annotator x label indicators, and per annotator +1 / -1 when they voted for / against the
    consensus label (0 when they did not label the item)."""
    ind, gold, fit, task, human = data["ind"], data["gold"], data["fit"], data["task"], data["human"]
    post = fit.posteriors[task]
    labels = pd.Index(post.columns.astype(str))
    items = pd.Index(gold.index)
    pos = ind.index.get_indexer(items)
    P = post.to_numpy(float)[pos]
    srt = np.sort(P, 1)
    margin = srt[:, -1] - (srt[:, -2] if P.shape[1] > 1 else 0.0)
    df = pd.DataFrame({"item": human["item_id"].astype(str).to_numpy(),
                       "ann": human["annotator_id"].astype(str).to_numpy(),
                       "label": human["label"].astype(str).to_numpy()})
    df = df[df["item"].isin(items)]
    V = pd.crosstab(df["item"], df["label"]).reindex(index=items, columns=labels, fill_value=0).to_numpy(float)
    cons = ind["consensus_label"].to_numpy().astype(str)[pos]
    C = (cons[:, None] == labels.to_numpy().astype(str)[None, :]).astype(float)
    agg = np.column_stack([ind[["p_model", "p_skill", "p_loo", "p_vote", "_x0", "_x1"]].to_numpy(float)[pos], P,
                           margin, V, V.sum(1), C])
    df["col"] = df["ann"] + "=" + df["label"]
    cols = pd.Index(sorted(df["col"].unique()))
    W = np.zeros((len(items), len(cols)))
    W[items.get_indexer(df["item"]), cols.get_indexer(df["col"])] = 1.0
    # who agreed with the consensus (+1) or not (-1): lets a linear model weigh an annotator's dissent
    agree = (df["label"].to_numpy() == cons[items.get_indexer(df["item"])]).astype(float) * 2 - 1
    anns = pd.Index(sorted(df["ann"].unique()))
    A = np.zeros((len(items), len(anns)))
    A[items.get_indexer(df["item"]), anns.get_indexer(df["ann"])] = agree
    err = cons != gold.to_numpy().astype(str)
    return agg, np.hstack([W, A]), err, items


def _models() -> dict:
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "logistic (L2, inner-CV C)": lambda seed: make_pipeline(
            StandardScaler(), LogisticRegressionCV(Cs=np.logspace(-4, 2, 13), cv=5, scoring="neg_log_loss",
                                                   max_iter=5000)),
        "gradient boosting": lambda seed: HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=10, l2_regularization=1.0,
            early_stopping=False, random_state=seed),
        "random forest": lambda seed: RandomForestClassifier(
            n_estimators=500, min_samples_leaf=3, max_features="sqrt", n_jobs=1, random_state=seed),
    }


def _grid() -> dict:
    """Gradient-boosting variants for ``--grid``: the best of them is chosen on the dataset's own gold (optimistic)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    out = {}
    for lr, it, leaves, leaf in ((0.02, 300, 4, 20), (0.05, 100, 4, 20), (0.05, 300, 8, 10), (0.1, 100, 31, 5),
                                 (0.02, 500, 15, 30), (0.05, 200, 2, 10)):
        out[f"boosting lr {lr}, {it} trees, {leaves} leaves, leaf {leaf}"] = (
            lambda seed, lr=lr, it=it, leaves=leaves, leaf=leaf: HistGradientBoostingClassifier(
                max_iter=it, learning_rate=lr, max_leaf_nodes=leaves, min_samples_leaf=leaf, l2_regularization=1.0,
                early_stopping=False, random_state=seed))
    return out


def oof_scores(make, X: np.ndarray, y: np.ndarray, folds: int, seed: int) -> np.ndarray:
    from sklearn.model_selection import StratifiedKFold

    out = np.zeros(len(y))
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y):
        m = make(seed).fit(X[tr], y[tr])
        out[te] = m.predict_proba(X[te])[:, 1]
    return out


def pattern_oracle(agg_counts: np.ndarray, cons: np.ndarray, err: np.ndarray) -> np.ndarray:
    """In sample: each item scored by the true error rate of its (consensus label, vote count of every label)
    pattern."""
    key = pd.Series([f"{c}|{tuple(v)}" for c, v in zip(cons, agg_counts)])
    rate = pd.Series(err.astype(float)).groupby(key).transform("mean")
    return rate.to_numpy()


def _ds(V3: np.ndarray, known: np.ndarray, truth_idx: np.ndarray, iters: int = 200) -> np.ndarray:
    """Textbook Dawid-Skene posteriors; items with ``known`` have their posterior clamped to ``truth_idx``.

    ``V3[i, j, l]`` = 1 when annotator j said l on item i (dense; the public datasets are small)."""
    n, J, K = V3.shape
    T = V3.sum(1)
    T = T / np.maximum(T.sum(1, keepdims=True), 1e-12)
    clamp = np.zeros((n, K))
    clamp[np.flatnonzero(known), truth_idx[known]] = 1.0
    T[known] = clamp[known]
    for _ in range(iters):
        pi = T.mean(0) + 1e-9
        E = np.einsum("ik,ijl->jkl", T, V3) + 0.01
        E /= E.sum(2, keepdims=True)
        L = np.log(pi)[None, :] + np.einsum("ijl,jkl->ik", V3, np.log(E))
        L -= L.max(1, keepdims=True)
        T1 = np.exp(L)
        T1 /= T1.sum(1, keepdims=True)
        T1[known] = clamp[known]
        if np.abs(T1 - T).max() < 1e-7:
            T = T1
            break
        T = T1
    return T


def _vote_tensor(data: dict) -> tuple[np.ndarray, pd.Index, pd.Index]:
    """(items x annotators x labels indicator tensor, all items, labels) of the human judgements."""
    human, task = data["human"], data["task"]
    labels = pd.Index(data["fit"].posteriors[task].columns.astype(str))
    df = pd.DataFrame({"item": human["item_id"].astype(str).to_numpy(),
                       "ann": human["annotator_id"].astype(str).to_numpy(),
                       "label": human["label"].astype(str).to_numpy()}).drop_duplicates(["item", "ann"], keep="last")
    all_items = pd.Index(sorted(df["item"].unique()))
    anns = pd.Index(sorted(df["ann"].unique()))
    V3 = np.zeros((len(all_items), len(anns), len(labels)))
    V3[all_items.get_indexer(df["item"]), anns.get_indexer(df["ann"]), labels.get_indexer(df["label"])] = 1.0
    return V3, all_items, labels


def sequential_semisupervised(data: dict, items: pd.Index, err: np.ndarray, batch_fraction: float = 0.05) -> int:
    """Items to 80% recall when review goes in batches of 5% and, after each batch, the open items are ranked by
    a semi-supervised Dawid-Skene refit (the reviewed items clamped to their truth): the posterior mass off the
    default consensus label. The first batch is labkit's static queue; truth is read only once reviewed."""
    from labkit.review.evaluate import items_for_recall

    V3, all_items, labels = _vote_tensor(data)
    gold = data["gold"]
    gpos = all_items.get_indexer(items)
    truth_idx = np.zeros(len(all_items), dtype=np.int64)
    cons_idx = labels.get_indexer(data["ind"]["consensus_label"].astype(str).loc[items])
    q = data["queue"]
    first = q[q["item_id"].isin(items)]["item_id"].astype(str).to_numpy()
    size = int(np.ceil(batch_fraction * len(items)))
    known = np.zeros(len(all_items), bool)
    order: list[int] = []  # positions in items
    pos_of = pd.Series(np.arange(len(items)), index=items)
    score = None
    while len(order) < len(items):
        if score is None:
            take = [int(pos_of[i]) for i in first[:size]]
        else:
            s = score.copy()
            s[order] = -np.inf
            take = [int(i) for i in np.argsort(-s, kind="stable")[:min(size, len(items) - len(order))]]
        order.extend(take)
        known[gpos[take]] = True
        truth_idx[gpos[take]] = labels.get_indexer(gold.iloc[take].astype(str))  # revealed now
        T = _ds(V3, known, truth_idx)[gpos]
        score = 1.0 - T[np.arange(len(items)), cons_idx]
    rank = np.empty(len(items))
    rank[order] = -np.arange(len(items), dtype=float)
    return items_for_recall(rank, err)


def refit_table(data: dict, items: pd.Index, err: np.ndarray, ns: list[int]) -> list[dict]:
    """Errors left in the unreviewed gold items after reviewing the first n of labkit's static queue."""
    from labkit.stats.truth import fit_consensus

    human, gold, task = data["human"], data["gold"], data["task"]
    q = data["queue"]
    order = q[q["item_id"].isin(items)]["item_id"].astype(str).to_numpy()  # queue order over the gold items
    V3, all_items, labels = _vote_tensor(data)
    gpos = all_items.get_indexer(items)
    truth_idx = np.zeros(len(all_items), dtype=np.int64)
    truth_idx[gpos] = labels.get_indexer(gold.loc[items].astype(str))
    base = _ds(V3, np.zeros(len(all_items), bool), truth_idx)
    rows = []
    for n in ns:
        reviewed = set(order[:n])
        open_ = ~items.isin(list(reviewed))
        known = np.zeros(len(all_items), bool)
        known[all_items.get_indexer(list(reviewed))] = True
        T = _ds(V3, known, truth_idx)
        ds_lab = labels.to_numpy()[T.argmax(1)][gpos]
        base_lab = labels.to_numpy()[base.argmax(1)][gpos]
        g = gold.loc[items].astype(str).to_numpy()
        gtab = pd.DataFrame({"item_id": list(reviewed), "task": task,
                             "label": gold.loc[list(reviewed)].astype(str).to_numpy()})
        fc = fit_consensus(human, gold=gtab) if n else data["fit"]
        fc_cons = fc.consensus.set_index(fc.consensus["item_id"].astype(str))["label"].astype(str)
        rows.append({"reviewed": n, "errors caught by review": int(err[~open_].sum()),
                     "left open (default consensus)": int(err[open_].sum()),
                     "left open (fit_consensus with gold=reviewed)": int((fc_cons.loc[items].to_numpy()[open_]
                                                                          != g[open_]).sum()),
                     "left open (textbook DS, no clamp)": int((base_lab[open_] != g[open_]).sum()),
                     "left open (semi-supervised DS, reviewed clamped)": int((ds_lab[open_] != g[open_]).sum()),
                     "open items": int(open_.sum())})
    return rows


def main() -> int:
    from labkit.review.evaluate import items_for_recall, label_studio_items

    ap = argparse.ArgumentParser()
    ap.add_argument("datasets", nargs="*")
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-refit", action="store_true")
    ap.add_argument("--grid", action="store_true", help="also six boosting variants (best chosen on the gold)")
    ap.add_argument("--curve", action="store_true", help="out-of-fold items at 2, 5, 10 and 20 folds (more data)")
    ap.add_argument("--no-models", action="store_true", help="only the baselines and the refit")
    a = ap.parse_args()
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 40)
    print(f"start {time.strftime('%H:%M:%S', time.gmtime())} UTC, load {os.getloadavg()}", flush=True)
    models = _models()
    summary = []
    for d in _datasets(a.datasets):
        t0 = time.perf_counter()
        data = load(d)
        agg, W, err, items = features(data)
        n_lab = data["fit"].posteriors[data["task"]].shape[1]
        counts = agg[:, 6 + n_lab + 1: 6 + n_lab + 1 + n_lab]
        cons = data["ind"]["consensus_label"].astype(str).loc[items].to_numpy()
        ls = label_studio_items(data["table"], items, err)
        q = data["queue"].set_index("item_id").loc[items]
        row = {"dataset": d.name, "items": len(items), "errors": int(err.sum()), "Label Studio-style": ls,
               "target (<=)": int(np.floor(0.7 * ls)) if np.isfinite(ls) else np.nan,
               "labkit static": items_for_recall(-q["rank"].to_numpy(float), err),
               "pattern oracle (in sample)": items_for_recall(pattern_oracle(counts, cons, err), err)}
        print(f"\n{d.name}: {len(items)} gold items, {int(err.sum())} consensus errors, {agg.shape[1]} aggregate "
              f"and {W.shape[1]} who-voted-what columns", flush=True)
        fits = not a.no_models and err.sum() >= a.folds
        if not a.no_models and not fits:
            print(f"  {int(err.sum())} consensus errors: fewer than {a.folds} folds, no model fitted", flush=True)
        for fname, X in (("aggregate", agg), ("+ who", np.hstack([agg, W]))):
            for mname, make in (models if fits else {}).items():
                key = f"{mname}, {fname}"
                oof = [items_for_recall(oof_scores(make, X, err, a.folds, seed), err) for seed in range(a.repeats)]
                ins = items_for_recall(make(0).fit(X, err).predict_proba(X)[:, 1], err)
                row[f"{key}: out of fold mean"] = float(np.mean(oof))
                row[f"{key}: out of fold min"] = int(np.min(oof))
                row[f"{key}: in sample"] = ins
                print(f"  {key}: out of fold {oof} (mean {np.mean(oof):.1f}); in sample {ins}", flush=True)
        if a.grid and fits:
            X = np.hstack([agg, W])
            for gname, make in _grid().items():
                oof = [items_for_recall(oof_scores(make, X, err, a.folds, seed), err) for seed in range(a.repeats)]
                row[f"{gname}, + who: out of fold mean"] = float(np.mean(oof))
                print(f"  {gname}, + who: out of fold {oof} (mean {np.mean(oof):.1f})", flush=True)
        if a.curve and fits:  # the training part grows from 50% (2 folds) to 95% (20 folds) of the items
            for fname, X in (("aggregate", agg), ("+ who", np.hstack([agg, W]))):
                for mname, make in models.items():
                    pts = {k: float(np.mean([items_for_recall(oof_scores(make, X, err, k, seed), err)
                                             for seed in range(a.repeats)])) for k in (2, 5, 10, 20)}
                    print(f"  learning curve {mname}, {fname} (folds: mean items): {pts}", flush=True)
        summary.append(row)
        print(f"  {d.name} took {time.perf_counter() - t0:.0f} s, load {os.getloadavg()}", flush=True)
        if not a.no_refit:
            ns = sorted({0, int(0.1 * len(items)), int(0.25 * len(items)), int(0.5 * len(items)),
                         int(row["target (<=)"]) if np.isfinite(row["target (<=)"]) else 0,
                         int(row["labkit static"])})
            print(pd.DataFrame(refit_table(data, items, err, ns)).to_string(index=False), flush=True)
            row["sequential, semi-supervised DS ranking"] = sequential_semisupervised(data, items, err)
            print(f"  sequential review ranked by a semi-supervised DS refit: "
                  f"{row['sequential, semi-supervised DS ranking']} items", flush=True)
    s = pd.DataFrame(summary).set_index("dataset").T
    print("\nitems to catch 80% of the consensus errors (gold items; out of fold: "
          f"{a.folds}-fold, {a.repeats} seeds)")
    print(s.to_string(float_format=lambda x: f"{x:.1f}"))
    print(f"end {time.strftime('%H:%M:%S', time.gmtime())} UTC, load {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
