"""Review routing: ranking quality against the peers, reviewer effort, spot checks, blind audit, speed.

    python bench/bench_review.py [--quick]     # everything (--quick: no GLAD, fewer simulations, 100k rows)
    python bench/bench_review.py --speed-only  # only the 1M-judgement planning time (whole process + stages)
    python bench/bench_review.py --ranking-only  # only ranking and effort, all 15 peers (GLAD included)
    python bench/bench_review.py --learn-defaults  # re-learn labkit.review.weights.DEFAULT_WEIGHTS

1. recall@10% / ceiling per public dataset (tests/data/public/*), labkit's ranking weights learned on the
   other datasets only (leave one dataset out), and with the dataset's own gold cross-fitted: of the gold items whose labkit
   consensus label is wrong, the share found in the first 10% of gold items by queue rank, over its
   ceiling min(1, k / errors); ties count by their expectation (labkit.review.evaluate). labkit's queue
   beside peer scores computed in this run: vote agreement and entropy, crowd-kit DS / GLAD / MACE
   posteriors (1 - posterior of labkit's consensus label, and 1 - max posterior), cleanlab CROWDLAB
   (1 - consensus_quality_score), cleanlab annotator agreement and ActiveLab (label-only pred_probs:
   smoothed vote shares).
2. Reviewer effort: items reviewed to catch 80% of consensus errors, labkit vs a Label Studio-style
   policy (every item whose pairwise agreement is below a threshold, plus a 5% random spot check; the
   cheapest threshold that reaches 80%, chosen knowing the gold); and labkit adaptive: sequential review in
   batches of 5% of the items that learns from its own outcomes (labkit.review.evaluate.sequential_review:
   the truth of an item is revealed only once it is reviewed; items counted in the order reviewed).
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
from _common import ROOT, public_fit, tiled_program  # noqa: E402

warnings.filterwarnings("ignore")
QUICK = "--quick" in sys.argv
BATCH = 0.05  # adaptive review: batches of 5% of the items, fixed a priori (not tuned on any dataset)


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


def _datasets() -> list[Path]:
    return [d for d in sorted((ROOT / "tests" / "data" / "public").glob("*/")) if (d / "gold.csv").exists()]


def _gold_eval(q: pd.DataFrame, g: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    gold = pd.Series(g["label"].astype(str).to_numpy(), index=g["item_id"].astype(str))
    gold = gold[gold.index.isin(q["item_id"])]
    qi = q.set_index("item_id").loc[gold.index]
    return qi, qi["consensus_label"].to_numpy() != gold.to_numpy()


def features() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per dataset: the ranking features of its gold items (ranked within the whole task) and the errors."""
    out = {}
    for d in _datasets():
        data = public_fit(d)
        ind, gold = data["ind"], data["gold"]
        pos = ind.index.get_indexer(gold.index)
        out[d.name] = (ind[["_x0", "_x1"]].to_numpy()[pos], ind["consensus_label"].to_numpy()[pos] != gold.to_numpy())
    return out


def held_out_weights() -> dict[str, tuple[float, float, float]]:
    """Ranking weights for each dataset learned on the other public datasets only (leave one dataset out)."""
    from labkit.review.weights import learn_weights

    F = features()
    return {name: tuple(float(x) for x in learn_weights([v for k, v in F.items() if k != name])) for name in F}


def ranking_table(weights: dict[str, tuple[float, float, float]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    from labkit.io import load_labels
    from labkit.review import ReviewWeights, plan_review
    from labkit.review.evaluate import items_for_recall, label_studio_items, recall_ratio, sequential_review
    from labkit.schema import read_gold

    rows, effort = {}, {}
    for d in _datasets():
        t = load_labels(d / "long.csv")
        g = read_gold(d / "gold.csv")
        w = ReviewWeights(rank=weights[d.name])
        plan = plan_review(t, budget_fraction=1.0, weights=w)
        q = plan.queue
        task = q["task"].iloc[0]
        post = plan.fit.posteriors[task]
        qi, err = _gold_eval(q, g)
        score = -qi["rank"].to_numpy(float)
        # with gold: weights refined on this dataset's gold, cross-fitted (each gold item scored without itself)
        qg, err_g = _gold_eval(plan_review(t, budget_fraction=1.0, weights=w, gold=g, fit=plan.fit).queue, g)
        score_g = -qg["rank"].to_numpy(float)
        r = {"items": len(qi), "errors": int(err.sum()), "labkit": recall_ratio(score, err),
             "labkit + gold (cross-fitted)": recall_ratio(score_g, err_g)}
        e = {"items": len(qi), "errors": int(err.sum()), "labkit": items_for_recall(score, err),
             "labkit + gold (cross-fitted)": items_for_recall(score_g, err_g)}
        for name, s in peer_scores(t, qi.index, [str(c) for c in post.columns], qi["consensus_label"].to_numpy()).items():
            r[name] = recall_ratio(s, err)
            e[name] = items_for_recall(s, err)
        e["Label Studio-style"] = label_studio_items(t, qi.index, err)
        # sequential review in batches of 5% of the gold items, learning from its own outcomes (truth revealed
        # only for items already reviewed); the same held-out weights and consensus fit
        gl = pd.Series(g["label"].astype(str).to_numpy(), index=g["item_id"].astype(str))
        s = sequential_review(t, gl[gl.index.isin(q["item_id"])], task=task, batch_fraction=BATCH, weights=w,
                              fit=plan.fit)
        e["labkit adaptive"] = items_for_recall(-s["order"].to_numpy(float), s["error"].to_numpy())
        rows[d.name] = r
        effort[d.name] = e
        print(f"  {d.name}: done", flush=True)
    return pd.DataFrame(rows).T, pd.DataFrame(effort).T


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


_STAGES = """
import sys, time, warnings
t0 = time.perf_counter()
warnings.filterwarnings("ignore")
from labkit.io import load_labels
from labkit.review.planner import _is, plan_review
from labkit.stats.truth import fit_consensus
t1 = time.perf_counter()
t = load_labels(sys.argv[1])
t2 = time.perf_counter()
fit = fit_consensus(t[_is(t["stage"], "label") & _is(t["source"], "human")])
t3 = time.perf_counter()
plan = plan_review(t, budget_hours=100, fit=fit)
t4 = time.perf_counter()
plan.queued.to_csv(sys.argv[2], index=False)
t5 = time.perf_counter()
print(f"{t1 - t0:.2f} {t2 - t1:.2f} {t3 - t2:.2f} {t4 - t3:.2f} {t5 - t4:.2f}")
"""


def speed() -> dict[str, float]:
    """The whole `labkit review plan` process, then the same steps timed one by one in a second fresh process."""
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
        out = subprocess.run([sys.executable, "-c", _STAGES, str(src), str(Path(tmp) / "q2.csv")], check=True, env=env,
                             capture_output=True, text=True).stdout.split()
    imp, read, fit, plan, write = map(float, out[-5:])
    return {"judgements": rows, "whole process s": whole, "import s": imp, "read s": read, "consensus fit s": fit,
            "planning s": plan, "write s": write}


def print_speed() -> None:
    print(f"load before: {os.getloadavg()}")
    s = speed()
    print(f"\nplanning {s['judgements']:,} judgements, whole process (CSV in, queue CSV out): {s['whole process s']:.1f} s")
    print("  the same steps in a second fresh process: " + ", ".join(
        f"{k} {v:.1f}" for k, v in s.items() if k not in ("judgements", "whole process s")))
    print(f"load after: {os.getloadavg()}")


def main() -> int:
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 40)
    print(f"load: {os.getloadavg()}")
    ranking_only = "--ranking-only" in sys.argv
    if "--speed-only" in sys.argv:
        print_speed()
        return 0
    if "--learn-defaults" in sys.argv:
        from labkit.review.weights import learn_weights

        b = learn_weights(list(features().values()))
        print("DEFAULT_WEIGHTS learned on every public dataset:", tuple(round(float(x), 1) for x in b))
        return 0
    W = held_out_weights()
    print("ranking weights per dataset, learned without it (intercept, x_uncertain, x_unstable):")
    for k, v in W.items():
        print(f"  {k}: {tuple(round(x, 2) for x in v)}")
    r, eff = ranking_table(W)
    peers = [c for c in r.columns if c not in ("items", "errors", "labkit", "labkit + gold (cross-fitted)")]
    r["best peer"] = r[peers].max(1)
    r["best peer name"] = r[peers].idxmax(1)
    print("\nrecall@10% / ceiling (expected over ties) per dataset; labkit with weights learned without the dataset")
    print(r.T.to_string(float_format=lambda x: f"{x:.3f}"))
    print("\nmean over datasets:")
    print(r[["labkit", "labkit + gold (cross-fitted)"] + peers].mean().sort_values(ascending=False)
          .to_string(float_format=lambda x: f"{x:.3f}"))
    print(f"labkit - best peer per dataset: {dict((k, round(v, 3)) for k, v in (r['labkit'] - r['best peer']).items())}")
    print("\nreviewer effort: items (of the gold items) reviewed to catch 80% of consensus errors")
    eff["saving vs Label Studio-style"] = 1 - eff["labkit"] / eff["Label Studio-style"]
    eff["adaptive saving vs Label Studio-style"] = 1 - eff["labkit adaptive"] / eff["Label Studio-style"]
    cols = [c for c in eff.columns if c not in peers] + [c for c in peers if c in eff.columns]
    eff["best peer saving"] = 1 - eff[[c for c in peers if c in eff.columns]].min(1) / eff["Label Studio-style"]
    print(eff[cols + ["best peer saving"]].T.to_string(float_format=lambda x: f"{x:.3f}"))
    if ranking_only:
        print(f"load: {os.getloadavg()}")
        return 0
    print("\nspot checks and blind audit (simulated)")
    print(audit_table().to_string(float_format=lambda x: f"{x:.3f}"))
    print_speed()
    return 0


if __name__ == "__main__":
    sys.exit(main())
