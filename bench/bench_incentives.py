"""Incentives bench: credentials, scores and A/B tests on the public datasets and simulated programs.

``python bench/bench_incentives.py [--quick] [--no-ab] [--grid]`` prints three tables (``--no-ab``: the
first two only, ~30 s; ``--grid``: also labkit's rule along its confidence level):

1. Credentials (tau = 0.8): precision and false denial per dataset and pooled, on both splits (the first
   half of each annotator's gold judgements decides / half the gold items decide), labkit's rule beside
   Label Studio's "10 of 10 first ground truth" rule and a flat Beta posterior rule, all in the same run;
   the volume-tertile gap in false denial.
2. Scores: Spearman correlation with gold accuracy beside crowd-kit Dawid-Skene's skill (which sees no
   gold), two honest protocols: (a) labkit's score without gold vs accuracy on all the gold; (b) labkit's
   score with the deciding half of the gold vs accuracy on the held-out half, on both splits.
3. A/B: realised false positive rate over null experiments (1000; --quick 200) and predicted vs
   simulated power at three effect sizes.
"""

from __future__ import annotations

import functools
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labkit.incentives import evaluate as E  # noqa: E402
from labkit.incentives.abtest import analyze, power, simulate_experiment  # noqa: E402
from labkit.incentives.credentials import DEFAULT_CONFIDENCE  # noqa: E402
from labkit.incentives.scores import annotator_scores, gold_outcomes  # noqa: E402
from labkit.io import load_labels  # noqa: E402
from labkit.schema import read_gold  # noqa: E402
from labkit.stats.truth import fit_consensus  # noqa: E402

GRID = (0.7, 0.75, 0.8, 0.85, 0.9)


def crowdkit_skill(table: pd.DataFrame) -> pd.Series:
    from crowdkit.aggregation import DawidSkene

    df = pd.DataFrame({"task": table["item_id"].astype(str), "worker": table["annotator_id"].astype(str),
                       "label": table["label"].astype(str)})
    ds = DawidSkene(n_iter=100).fit(df)
    err, pri = ds.errors_, ds.priors_
    out = {}
    for w in err.index.get_level_values(0).unique():
        e = err.loc[w]
        out[w] = float(sum(pri[c] * e.loc[c, c] for c in pri.index if c in e.index and c in e.columns))
    return pd.Series(out)


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    t0 = time.perf_counter()
    cred_rows, spear = [], []
    for d in sorted(p for p in (ROOT / "tests/data/public").iterdir() if p.is_dir()):
        t = load_labels(str(d / "long.csv"))
        g = read_gold(d / "gold.csv")
        fit = fit_consensus(t)
        rules = dict(E.RULES) | ({f"labkit@{c}": functools.partial(E.rule_labkit, confidence=c)
                                  for c in GRID} if "--grid" in argv else {})
        for split in ("judgements", "items"):
            cred_rows.append(E.evaluate(t, g, split=split, fit=fit, rules=rules).assign(dataset=d.name, split=split))
        out = gold_outcomes(t, g)
        ck = crowdkit_skill(t)
        # (a) labkit's score without gold (consensus only) against accuracy on all the gold
        full = out.groupby("annotator_id")["correct"].agg(["mean", "size"])
        full = full[full["size"] >= 10]["mean"]
        lk0 = annotator_scores(t, fit=fit).set_index("annotator_id")["score"]
        row = {"dataset": d.name, "(a) n": len(full),
               "(a) labkit, no gold": stats.spearmanr(lk0.reindex(full.index), full).statistic,
               "(a) crowd-kit DS": stats.spearmanr(ck.reindex(full.index), full).statistic}
        # (b) labkit's score with the deciding half of the gold against accuracy on the checking half
        for split in ("judgements", "items"):
            decide, check = E.split_outcomes(out, split)
            truth = check.groupby("annotator_id")["correct"].agg(["mean", "size"])
            truth = truth[truth["size"] >= 5]["mean"]
            ids = truth.index
            lk = annotator_scores(t, fit=fit, outcomes=decide).set_index("annotator_id")["score"]
            one = annotator_scores(t, fit=fit, outcomes=decide, per_label=False).set_index("annotator_id")["score"]
            s = split[:5]
            row |= {f"(b) {s} n": len(ids),
                    f"(b) {s} labkit": stats.spearmanr(lk.reindex(ids), truth).statistic,
                    f"(b) {s} one-number": stats.spearmanr(one.reindex(ids), truth).statistic,
                    f"(b) {s} crowd-kit DS": stats.spearmanr(ck.reindex(ids), truth).statistic}
        spear.append(row)
    rows = pd.concat(cred_rows)
    tab = []
    for split in ("judgements", "items"):
        r = rows[rows["split"] == split]
        for name, dd in list(r.groupby("dataset")) + [("POOLED", r)]:
            s = E.summarize(dd).set_index("rule")
            tab.append({"split": split, "dataset": name,
                        **{f"{k} P/FD": f"{s.loc[k, 'precision']:.2f}/{s.loc[k, 'false_denial']:.2f}"
                           for k in ("labkit", "label_studio_10of10", "beta_flat")},
                        "labkit tertile gap": round(float(s.loc["labkit", "tertile_gap"]), 3)})
    pd.set_option("display.width", 200)
    print(f"Credentials, tau=0.8 (precision / false denial); labkit at its default confidence {DEFAULT_CONFIDENCE}")
    print(pd.DataFrame(tab).to_string(index=False))
    if "--grid" in argv:
        grid = []
        for split in ("judgements", "items"):
            s = E.summarize(rows[rows["split"] == split]).set_index("rule")
            grid += [{"split": split, "confidence": c, "precision": s.loc[f"labkit@{c}", "precision"],
                      "false denial": s.loc[f"labkit@{c}", "false_denial"],
                      "tertile gap": s.loc[f"labkit@{c}", "tertile_gap"]} for c in GRID]
        print("\nlabkit's rule along its confidence (pooled)")
        print(pd.DataFrame(grid).round(3).to_string(index=False))
    sp = pd.DataFrame(spear)
    print("\nScores: Spearman correlation with gold accuracy. (a) labkit's score without gold vs accuracy on all "
          "the gold (annotators with >= 10); (b) labkit's score with the deciding half of the gold (per label, "
          "and the one-number score) vs accuracy on the checking half (annotators with >= 5), per split")
    print(sp.round(3).to_string(index=False))
    met = [(sp["(a) labkit, no gold"] >= sp["(a) crowd-kit DS"]).sum()] + [
        (sp[f"(b) {s} labkit"] >= sp[f"(b) {s} crowd-kit DS"]).sum() for s in ("judge", "items")]
    print(f"labkit >= crowd-kit DS on (a) {met[0]}/6, (b) judgements {met[1]}/6, (b) items {met[2]}/6 datasets")

    if "--no-ab" in argv:
        print(f"\n{time.perf_counter() - t0:.0f} s")
        return 0
    n_null = 200 if quick else 1000
    n_pow = 150 if quick else 500
    kw = dict(clusters=60, mean_size=30, cv=0.8, icc=0.05)
    rng = np.random.default_rng(2026)
    rej = np.zeros(3)
    for i in range(n_null):
        f = simulate_experiment(rng, **kw, base=0.8, effect=0.0)
        a = analyze(f, seed=i)
        rej += [a.p_permutation < 0.05, a.p_value < 0.05, analyze(f, vcov="CR1", n_perm=0).p_value < 0.05]
    ab = [{"effect": 0.0, "predicted": 0.05, "simulated, permutation (labkit's test)": rej[0] / n_null,
           "simulated, CR2 t": rej[1] / n_null, "simulated, CR1 t (statsmodels' sandwich)": rej[2] / n_null,
           "runs": n_null}]
    for eff in (0.03, 0.05, 0.08):
        pred = power(eff, **kw, sd=float(np.sqrt((0.8 + eff / 2) * (0.2 - eff / 2))))
        rng = np.random.default_rng(int(eff * 1000))
        sims = [analyze(simulate_experiment(rng, **kw, base=0.8, effect=eff), seed=i) for i in range(n_pow)]
        ab.append({"effect": eff, "predicted": pred,
                   "simulated, permutation (labkit's test)": np.mean([s.p_permutation < 0.05 for s in sims]),
                   "simulated, CR2 t": np.mean([s.p_value < 0.05 for s in sims]), "runs": n_pow})
    print(f"\nA/B tests: {kw['clusters']} annotators, mean {kw['mean_size']} gold judgements, CV {kw['cv']}, "
          f"ICC {kw['icc']}, alpha 0.05")
    print(pd.DataFrame(ab).round(3).to_string(index=False))
    print(f"\n{time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
