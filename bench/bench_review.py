"""Review routing: ranking quality against the peers, reviewer effort, spot checks, blind audit, speed.

    python bench/bench_review.py [--quick]

1. recall@10% / ceiling per public dataset (tests/data/public/*): of the gold items whose labkit
   consensus label is wrong, the share found in the first 10% of gold items by queue rank, over its
   ceiling min(1, k / errors); ties count by their expectation (labkit.review.evaluate). labkit's queue
   beside peer scores computed in this run: vote agreement and entropy, crowd-kit DS / GLAD / MACE
   posteriors (1 - posterior of labkit's consensus label, and 1 - max posterior), cleanlab CROWDLAB
   (1 - consensus_quality_score), cleanlab annotator agreement and ActiveLab (label-only pred_probs:
   smoothed vote shares).
2. Reviewer effort: items reviewed to catch 80% of consensus errors, labkit vs a Label Studio-style
   policy (every item whose pairwise agreement is below a threshold, plus a 5% random spot check; the
   cheapest threshold that reaches 80%).
3. Spot checks: CUSUM false alarms, power and delay on simulated streams (0.95 -> 0.85).
4. Blind audit: coverage of the 95% interval over simulated runs.
5. Planning 1M judgements, whole process (`labkit review plan` in a fresh process, CSV in, CSV out).
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, tiled_program  # noqa: E402

warnings.filterwarnings("ignore")
QUICK = "--quick" in sys.argv


def peer_scores(t: pd.DataFrame, items: pd.Index, labels: list[str], cons: np.ndarray) -> dict[str, np.ndarray]:
    from cleanlab.multiannotator import get_active_learning_scores, get_label_quality_multiannotator
    from crowdkit.aggregation import GLAD, MACE, DawidSkene

    n = len(items)
    ci = pd.Index(labels).get_indexer(cons)
    rows = np.arange(n)
    df = pd.DataFrame({"task": t["item_id"].astype(str), "worker": t["annotator_id"].astype(str),
                       "label": t["label"].astype(str)})
    V = pd.crosstab(df["task"], df["label"]).reindex(index=items, columns=labels, fill_value=0).to_numpy(float)
    share = V / V.sum(1, keepdims=True)
    out = {"vote agreement": 1 - share[rows, ci],
           "vote entropy": -(np.where(share > 0, share * np.log(np.where(share > 0, share, 1)), 0)).sum(1)}
    for name, model in (("crowd-kit DS", DawidSkene(n_iter=100)), ("crowd-kit GLAD", GLAD()), ("crowd-kit MACE", MACE())):
        if QUICK and name == "crowd-kit GLAD":
            continue
        p = model.fit_predict_proba(df).reindex(index=items, columns=labels).fillna(0).to_numpy()
        out[name] = 1 - p[rows, ci]
        out[name + " (max)"] = 1 - p.max(1)
    # cleanlab on the wide matrix, label-only pred_probs (smoothed vote shares)
    ann = pd.Index(sorted(df["worker"].unique()))
    wide = np.full((n, len(ann)), np.nan)
    d = df[df["task"].isin(items)].drop_duplicates(["task", "worker"], keep="last")
    wide[items.get_indexer(d["task"]), ann.get_indexer(d["worker"])] = pd.Index(labels).get_indexer(d["label"])
    keep = (~np.isnan(wide)).sum(0) > 0
    wide_df = pd.DataFrame(wide[:, keep])
    pp = (V + 1) / (V + 1).sum(1, keepdims=True)
    try:
        res = get_label_quality_multiannotator(wide_df, pp, verbose=False)
        lq = res["label_quality"]
        out["cleanlab CROWDLAB"] = 1 - lq["consensus_quality_score"].to_numpy()
        out["cleanlab agreement"] = 1 - lq["annotator_agreement"].to_numpy()
        al, _ = get_active_learning_scores(wide_df, pp)
        out["cleanlab ActiveLab"] = 1 - al
    except Exception as exc:  # a peer that cannot run on a dataset is reported, not hidden
        print(f"  cleanlab failed: {exc.__class__.__name__}: {exc}")
    return out


def ranking_table() -> pd.DataFrame:
    from labkit.io import load_labels
    from labkit.review import plan_review
    from labkit.review.evaluate import recall_ratio
    from labkit.schema import read_gold

    rows = {}
    for d in sorted((ROOT / "tests" / "data" / "public").glob("*/")):
        if not (d / "gold.csv").exists():
            continue
        t = load_labels(d / "long.csv")
        g = read_gold(d / "gold.csv")
        plan = plan_review(t, budget_fraction=1.0)
        q = plan.queue
        task = q["task"].iloc[0]
        post = plan.fit.posteriors[task]
        gold = pd.Series(g["label"].astype(str).to_numpy(), index=g["item_id"].astype(str))
        gold = gold[gold.index.isin(q["item_id"])]
        items = pd.Index(gold.index)
        qi = q.set_index("item_id").loc[items]
        err = qi["consensus_label"].to_numpy() != gold.to_numpy()
        score = -qi["rank"].to_numpy(float)
        r = {"items": len(items), "errors": int(err.sum()), "labkit": recall_ratio(score, err)}
        for name, s in peer_scores(t, items, [str(c) for c in post.columns], qi["consensus_label"].to_numpy()).items():
            r[name] = recall_ratio(s, err)
        rows[d.name] = r
        print(f"  {d.name}: done", flush=True)
    return pd.DataFrame(rows).T


def effort_table() -> pd.DataFrame:
    from labkit.io import load_labels
    from labkit.review import plan_review
    from labkit.review.evaluate import items_for_recall
    from labkit.schema import read_gold

    rows = {}
    for d in sorted((ROOT / "tests" / "data" / "public").glob("*/")):
        t = load_labels(d / "long.csv")
        g = read_gold(d / "gold.csv")
        q = plan_review(t, budget_fraction=1.0).queue
        gold = pd.Series(g["label"].astype(str).to_numpy(), index=g["item_id"].astype(str))
        gold = gold[gold.index.isin(q["item_id"])]
        qi = q.set_index("item_id").loc[gold.index]
        err = qi["consensus_label"].to_numpy() != gold.to_numpy()
        n = len(err)
        need = 0.8 * err.sum()
        ours = items_for_recall(-qi["rank"].to_numpy(float), err)
        agree = 1 - qi["p_vote"].to_numpy()  # share of votes for the consensus label = pairwise-agreement proxy
        best = None
        for thr in np.unique(np.concatenate([agree, [1.0 + 1e-9]])):
            below = agree < thr
            rest = ~below
            # the 5% random spot check of the rest: expected errors caught = 5% of the rest's errors
            caught = err[below].sum() + 0.05 * err[rest].sum()
            cost = below.sum() + int(np.ceil(0.05 * rest.sum()))
            if caught + 1e-9 >= need:
                best = cost if best is None else min(best, cost)
        rows[d.name] = {"items": n, "errors": int(err.sum()), "labkit items for 80%": ours,
                        "Label Studio-style items for 80%": best if best is not None else float("nan"),
                        "saving": (1 - ours / best) if best else float("nan")}
    return pd.DataFrame(rows).T


def audit_table() -> pd.DataFrame:
    from labkit.review.audit import calibrate_threshold, simulate_blind_coverage, simulate_detection

    n_sim = 500 if QUICK else 4000
    rows = []
    for rate, cons, window in ((0.085, False, 1000), (0.05, True, 500)):
        d = calibrate_threshold(gold_rate=rate, use_consensus=cons, n_sim=n_sim, seed=0)
        drop = simulate_detection(d, window=window, n_sim=n_sim, seed=1)
        good = simulate_detection(d, drop=False, n_sim=n_sim, seed=2)
        rows.append({"design": f"CUSUM gold {rate:.1%}" + (" + consensus" if cons else ""), "threshold": d.threshold,
                     "false alarm (good, 2000 items)": good["false_alarm"], f"power within {window}": drop["power"],
                     "median delay": drop["median_delay"], "p90 delay": drop["p90_delay"], "simulations": n_sim})
    # Label Studio's documented default: pause when accuracy over the last 10 gold items < 95%
    rng = np.random.default_rng(3)
    sims = 500 if QUICK else 4000
    wrong = rng.random((sims, 100)) > 0.95
    win = np.lib.stride_tricks.sliding_window_view(wrong, 10, axis=1).sum(2)
    rows.append({"design": "Label Studio default (95% of last 10 gold)", "threshold": float("nan"),
                 "false alarm (good, 2000 items)": float((win >= 1).any(1).mean()),
                 "power within 1000": float("nan"), "median delay": float("nan"), "p90 delay": float("nan"),
                 "simulations": sims, "note": "good annotator paused within 100 gold items"})
    cov = simulate_blind_coverage(n_runs=200 if QUICK else 1000)
    rows.append({"design": "blind audit 95% interval", "coverage": cov["coverage"], "mean width": cov["mean_width"],
                 "simulations": cov["n_runs"]})
    return pd.DataFrame(rows)


def speed() -> dict[str, float]:
    rows = 100_000 if QUICK else 1_000_000
    big = tiled_program(rows)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "labels.csv"
        big.to_csv(src, index=False)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "labkit", "review", "plan", str(src), "--budget-hours", "100",
                        "--out", str(Path(tmp) / "q.csv"), "--json"], check=True, env=env, capture_output=True)
        whole = time.perf_counter() - t0
    return {"judgements": rows, "whole process s": whole}


def main() -> int:
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 40)
    print(f"load: {os.getloadavg()}")
    r = ranking_table()
    peers = [c for c in r.columns if c not in ("items", "errors", "labkit")]
    r["best peer"] = r[peers].max(1)
    r["best peer name"] = r[peers].idxmax(1)
    print("\nrecall@10% / ceiling (expected over ties) per dataset")
    print(r.T.to_string(float_format=lambda x: f"{x:.3f}"))
    print("\nmean over datasets:")
    print(r[["labkit"] + peers].mean().sort_values(ascending=False).to_string(float_format=lambda x: f"{x:.3f}"))
    print(f"labkit - best peer per dataset: {dict((k, round(v, 3)) for k, v in (r['labkit'] - r['best peer']).items())}")
    print("\nreviewer effort to catch 80% of consensus errors (gold items)")
    print(effort_table().to_string(float_format=lambda x: f"{x:.3f}"))
    print("\nspot checks and blind audit (simulated)")
    print(audit_table().to_string(float_format=lambda x: f"{x:.3f}"))
    s = speed()
    print(f"\nplanning {s['judgements']:,} judgements, whole process (CSV in, queue CSV out): {s['whole process s']:.1f} s")
    print(f"load: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
