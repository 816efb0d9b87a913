"""The default consensus model with and without its second strength, on programs whose confusions depend on the class.

``python bench/bench_class_dependent.py``: 24 generated programs (dense: 1,500 items, 8 of 50 annotators each;
sparse: 3,000 items, 3 judgements from 1,500 annotators with Zipf activity; 4 and 5 labels; three seeds each),
where classes differ in difficulty (a logit offset per class), annotators in skill (a logit offset per annotator),
10% answer at random, and mistakes either spread evenly over the wrong labels (``idio`` 0) or mostly go to one
wrong label of the annotator's own per class (``idio`` 0.8). None of them comes from the model's prior. Prints the
accuracy on gold of labkit's default (the nested prior: right shares and wrong labels' pattern shrunk by separately
fitted strengths), of the same model with one strength for both (``se = s``: the Dirichlet prior, the default
before), of labkit's majority vote and of crowd-kit's DawidSkene, all in the same run.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")

from labkit.stats import robust  # noqa: E402
from labkit.stats.consensus import majority_vote  # noqa: E402
from labkit.stats.truth import fit_consensus  # noqa: E402


def program(K: int, seed: int, kind: str, idio: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    if kind == "dense":
        I, J, r = 1500, 50, 8
        ann = np.argsort(rng.random((I, J)), axis=1)[:, :r]
    else:
        I, J, r = 3000, 1500, 3
        w = 1 / np.arange(1, J + 1) ** 0.8
        ann = rng.choice(J, size=(I, r), p=w / w.sum())
    truth = rng.integers(0, K, I)
    cls = rng.normal(0, 0.7, K)                                   # class difficulty
    skill = rng.normal(1.5, 0.8, J)                               # annotator skill
    acc = 1 / (1 + np.exp(-(skill[:, None] + cls[None, :])))       # [annotator, class]
    fav = rng.integers(1, K, (J, K))                              # each annotator's favourite wrong label per class
    conf = np.zeros((J, K, K))
    for k in range(K):
        wrong = np.full((J, K), (1 - idio) / (K - 1))
        wrong[np.arange(J), (k + fav[:, k]) % K] += idio
        wrong[:, k] = 0
        wrong /= wrong.sum(axis=1, keepdims=True)
        conf[:, k, :] = (1 - acc[:, k])[:, None] * wrong
        conf[:, k, k] = acc[:, k]
    conf[rng.random(J) < 0.1] = 1.0 / K
    P = conf[ann, truth[:, None]]                                  # [item, judgement, label]
    lab = (P.cumsum(axis=2) < rng.random((I, r, 1))).sum(axis=2).clip(0, K - 1)
    t = pd.DataFrame({"item_id": np.repeat(np.arange(I), r).astype(str), "annotator_id": ann.ravel().astype(str),
                      "label": lab.ravel().astype(str)})
    return t, pd.DataFrame({"item_id": np.arange(I).astype(str), "label": truth.astype(str)})


def accuracy(labels: pd.Series, gold: pd.DataFrame) -> float:
    g = gold.set_index("item_id")["label"]
    return float((labels.reindex(g.index).astype(str) == g).mean())


def main() -> None:
    from crowdkit.aggregation import DawidSkene as CkDS

    nested = robust.eb_strengths

    def tied(C: np.ndarray, prior: np.ndarray, lo: float = 0.1, hi: float = 1000.0,
             spread: robust._CountSpread | None = None) -> tuple[float, float]:
        v = robust.eb_strength(C, prior, lo, hi, spread)
        return v, v

    cols = ["default (s, se)", "one strength", "labkit mv", "ck DS"]
    print(f"{'program':28s}" + "".join(f"{c:>17s}" for c in cols))
    rows = []
    for kind in ("dense", "sparse"):
        for K in (4, 5):
            for idio in (0.0, 0.8):
                for seed in (1, 2, 3):
                    t, g = program(K, 1000 + seed, kind, idio)
                    row = []
                    for fn in (nested, tied):
                        robust.eb_strengths = fn
                        try:
                            row.append(accuracy(fit_consensus(t).consensus.set_index("item_id")["label"], g))
                        finally:
                            robust.eb_strengths = nested
                    row.append(accuracy(majority_vote(t).set_index("item_id")["label"], g))
                    df = t.rename(columns={"item_id": "task", "annotator_id": "worker"})
                    lab = CkDS(n_iter=100).fit_predict(df)
                    lab.index = lab.index.astype(str)
                    row.append(accuracy(lab, g))
                    rows.append(row)
                    print(f"{kind} K={K} idio={idio} seed={seed}".ljust(28) + "".join(f"{v:>17.4f}" for v in row),
                          flush=True)
    m = np.mean(rows, axis=0)
    print(f"{'mean':28s}" + "".join(f"{v:>17.4f}" for v in m))
    d = np.array(rows)[:, 0] - np.array(rows)[:, 1]
    print(f"default minus one strength: better on {(d > 0).sum()}, worse on {(d < 0).sum()}, same on {(d == 0).sum()}")


if __name__ == "__main__":
    main()
