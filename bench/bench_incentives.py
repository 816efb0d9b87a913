"""Incentives bench: credentials, scores and A/B tests on the public datasets and simulated programs.

``python bench/bench_incentives.py [--quick]`` prints three tables:

1. Credentials (tau = 0.8): precision and false denial per dataset and pooled, on both splits (the first
   half of each annotator's gold judgements decides / half the gold items decide), labkit's rule beside
   Label Studio's "10 of 10 first ground truth" rule and a flat Beta posterior rule, all in the same run;
   the volume-tertile gap in false denial.
2. Scores: Spearman correlation with gold accuracy on the checking half, labkit's score (deciding half of
   the gold plus consensus) and labkit's consensus-only score beside crowd-kit Dawid-Skene's skill.
3. A/B: realised false positive rate over null experiments (1000; --quick 200) and predicted vs
   simulated power at three effect sizes.
"""

from __future__ import annotations

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
from labkit.incentives.scores import annotator_scores, gold_outcomes  # noqa: E402
from labkit.io import load_labels  # noqa: E402
from labkit.schema import read_gold  # noqa: E402
from labkit.stats.truth import fit_consensus  # noqa: E402


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
        for split in ("judgements", "items"):
            cred_rows.append(E.evaluate(t, g, split=split, fit=fit).assign(dataset=d.name, split=split))
        out = gold_outcomes(t, g)
        decide, check = E.split_outcomes(out, "judgements")
        truth = check.groupby("annotator_id")["correct"].agg(["mean", "size"])
        truth = truth[truth["size"] >= 5]["mean"]
        lk = annotator_scores(t, fit=fit, outcomes=decide).set_index("annotator_id")["score"]
        lk0 = annotator_scores(t, fit=fit).set_index("annotator_id")["score"]
        ck = crowdkit_skill(t)
        ids = truth.index
        spear.append({"dataset": d.name, "annotators": len(ids),
                      "labkit (half gold + consensus)": stats.spearmanr(lk.reindex(ids), truth).statistic,
                      "labkit (consensus only)": stats.spearmanr(lk0.reindex(ids), truth).statistic,
                      "crowd-kit DS skill": stats.spearmanr(ck.reindex(ids), truth).statistic})
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
    print("Credentials, tau=0.8 (precision / false denial)")
    print(pd.DataFrame(tab).to_string(index=False))
    print("\nSpearman with accuracy on the checking half of each annotator's gold (annotators with >= 5)")
    print(pd.DataFrame(spear).round(3).to_string(index=False))

    if "--ab-only" not in argv:
        pass
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
