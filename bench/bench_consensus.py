"""The default consensus model beside majority vote, Dawid-Skene, GLAD and MACE: accuracy, calibration, time.

``python bench/bench_consensus.py [--quick]``

1. Accuracy on gold and expected calibration error (10 bins) of the confidence on gold, on every public
   dataset and on generated programs of varied sparsity (dense: 10 judgements per annotator-heavy item;
   sparse: ~3 judgements per annotator with Zipf activity; 2 and 5 labels; 10% spammers), for labkit's
   default (robust, calibrated with gold cross-fitted), labkit mv and ds, and crowd-kit's MajorityVote,
   DawidSkene, GLAD and MACE run in the same process. crowd-kit's confidence is its posterior (or vote share).
2. Time of ``labkit consensus`` as a whole process on 1M (and, without --quick, 10M) judgements from Parquet,
   with peak RSS, beside crowd-kit's DawidSkene on the same table in the same run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
warnings.filterwarnings("ignore")

from labkit.stats.consensus import DawidSkene, majority_vote  # noqa: E402
from labkit.stats.truth import fit_consensus  # noqa: E402

PUBLIC = ROOT / "tests" / "data" / "public"
NAMES = ["snow2008_rte", "snow2008_temp", "snow2008_wsd", "welinder2010_bluebirds", "zhou2012_dog",
         "zheng2017_d_product"]


def ece(conf: np.ndarray, correct: np.ndarray) -> float:
    bins = np.clip((conf * 10).astype(int), 0, 9)
    return float(sum(abs(conf[bins == b].mean() - correct[bins == b].mean()) * (bins == b).mean()
                     for b in range(10) if (bins == b).any()))


def generated(kind: str, K: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    from test_consensus_robust import sparse_program

    if kind == "sparse":
        return sparse_program(K=K, seed=seed)
    rng = np.random.default_rng(seed)
    I, J, r = 2000, 60, 7
    ann = np.argsort(rng.random((I, J)), axis=1)[:, :r]
    truth = rng.integers(0, K, I)
    skill = np.clip(rng.beta(6, 2, J), 0.4, 0.99)
    spam = rng.random(J) < 0.1
    right = rng.random((I, r)) < skill[ann]
    lab = np.where(right, truth[:, None], (truth[:, None] + rng.integers(1, K, (I, r))) % K)
    lab = np.where(spam[ann], rng.integers(0, K, (I, r)), lab)
    t = pd.DataFrame({"item_id": np.repeat(np.arange(I), r).astype(str), "annotator_id": ann.ravel().astype(str),
                      "label": lab.ravel().astype(str)})
    return t, pd.DataFrame({"item_id": np.arange(I).astype(str), "label": truth.astype(str)})


def score(labels: pd.Series, conf: pd.Series, gold: pd.DataFrame) -> tuple[float, float]:
    g = gold.set_index("item_id")["label"].astype(str)
    idx = [i for i in labels.index.astype(str) if i in g.index]
    lab = labels.astype(str).reindex(idx).to_numpy()
    correct = (lab == g.reindex(idx).to_numpy()).astype(float)
    return float(correct.mean()), ece(conf.reindex(idx).to_numpy(float), correct)


def accuracy_table(quick: bool) -> None:
    from crowdkit.aggregation import GLAD, MACE, MajorityVote
    from crowdkit.aggregation import DawidSkene as CkDS

    sets = []
    for name in NAMES if not quick else NAMES[:3]:
        t = pd.read_csv(PUBLIC / name / "long.csv", dtype=str)
        g = pd.read_csv(PUBLIC / name / "gold.csv", dtype=str).rename(columns={"gold": "label"})
        sets.append((name, t, g))
    for kind in ("dense", "sparse"):
        for K in (2, 5):
            t, g = generated(kind, K, seed=100 + K)
            sets.append((f"generated {kind} K={K}", t, g))
    cols = ["labkit default", "labkit mv", "labkit ds", "ck MV", "ck DS", "ck GLAD", "ck MACE"]
    print("accuracy on gold (ECE of confidence on gold)")
    print(f"{'dataset':26s}" + "".join(f"{c:>17s}" for c in cols))
    means = {c: [] for c in cols}
    for name, t, g in sets:
        row = {}
        f = fit_consensus(t, gold=g).consensus.set_index("item_id")
        row["labkit default"] = score(f["label"], f["confidence"], g)
        m = majority_vote(t).set_index("item_id")
        row["labkit mv"] = score(m["label"], m["confidence"], g)
        d = DawidSkene().fit_predict(t).set_index("item_id")
        row["labkit ds"] = score(d["label"], d["confidence"], g)
        df = t.rename(columns={"item_id": "task", "annotator_id": "worker"})[["task", "worker", "label"]]
        for c, model in (("ck MV", MajorityVote()), ("ck DS", CkDS(n_iter=100)), ("ck GLAD", GLAD(n_iter=100)),
                         ("ck MACE", MACE(n_iter=100, random_state=0))):
            try:
                lab = model.fit_predict(df)
                probs = getattr(model, "probas_", None)
                conf = probs.max(axis=1) if probs is not None else pd.Series(1.0, index=lab.index)
                lab.index = lab.index.astype(str)
                conf.index = conf.index.astype(str)
                row[c] = score(lab, conf, g)
            except Exception as exc:  # a peer failing is reported, not hidden
                print(f"  {c} failed on {name}: {type(exc).__name__}: {exc}")
                row[c] = (float("nan"), float("nan"))
        for c in cols:
            means[c].append(row[c][0])
        print(f"{name:26s}" + "".join(f"{row[c][0]:>9.3f} ({row[c][1]:.3f})" for c in cols), flush=True)
    print(f"{'mean accuracy':26s}" + "".join(f"{np.nanmean(means[c]):>17.3f}" for c in cols))


def timing(quick: bool) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from _common import tiled_program

    sizes = [1_000_000] if quick else [1_000_000, 10_000_000]
    print(f"\nlabkit consensus, whole process (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "labels.parquet"
            t = tiled_program(n)
            t.to_parquet(path)
            t0 = time.perf_counter()
            out = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-m", "labkit.cli", "consensus",
                                  str(path), "--json"], capture_output=True, text=True,
                                 env=dict(os.environ, PYTHONPATH=str(ROOT)))
            wall = time.perf_counter() - t0
            rss = int(out.stderr.strip().splitlines()[-1]) / 1024 if out.stderr.strip() else float("nan")
            print(f"  {n:>11,} judgements: labkit default {wall:6.2f} s, peak {rss:6.0f} MB (exit {out.returncode})",
                  flush=True)
            from crowdkit.aggregation import DawidSkene as CkDS

            df = t.rename(columns={"item_id": "task", "annotator_id": "worker"})[["task", "worker", "label"]]
            df = df.astype(str)
            t0 = time.perf_counter()
            CkDS(n_iter=100).fit_predict(df)
            print(f"  {n:>11,} judgements: crowd-kit DawidSkene (in process, table in memory) {time.perf_counter() - t0:6.2f} s",
                  flush=True)


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    accuracy_table(quick)
    timing(quick)
