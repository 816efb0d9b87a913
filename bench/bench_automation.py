"""Automation benchmark: the guarantee over 500 seeds per setting beside the textbook method and the naive
threshold, and planning over 1M model labels.

    python bench/bench_automation.py [--quick]

Part 1: :func:`labkit.automation.experiment.run` (target error 0.1, delta 0.1, 3000 calibration items per seed,
true error of accepted labels on a 400k-item population): per setting and method, seeds where the error of
accepted labels exceeds the target, mean accepted share, and seeds where this policy accepts at least as much as
the textbook method. Part 2: ``make_plan`` on a label table of 1M model pre-labels (plus human judgements on 2%
of the items and 5000 gold items), beside the textbook fit and the naive threshold on the same arrays.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def part1(seeds: int) -> None:
    from labkit.automation.experiment import run

    t0 = time.perf_counter()
    r = run(seeds=seeds, target_error=0.1, delta=0.1)
    dt = time.perf_counter() - t0
    print(f"\nGuarantee: {seeds} seeds per setting, target 0.1, delta 0.1 (allowed: <= {0.1 + 0.01:.0%} of seeds)  [{dt:.1f} s]")
    print(f"{'setting':<15}{'method':<10}{'exceed':>8}{'share':>8}{'mean err':>10}{'seeds >= textbook':>19}")
    for st in r["setting"].unique():
        tb = r[(r["setting"] == st) & (r["method"] == "textbook")]["accepted_share"].to_numpy()
        for m in ("ltt", "textbook", "naive"):
            d = r[(r["setting"] == st) & (r["method"] == m)]
            ge = float((d["accepted_share"].to_numpy() >= tb).mean())
            print(f"{st:<15}{m:<10}{d['exceeds'].mean():>8.1%}{d['accepted_share'].mean():>8.1%}"
                  f"{d['error'].mean():>10.3f}{ge:>19.0%}")


def part2(n: int) -> None:
    from labkit.automation import synthetic
    from labkit.automation.ltt import naive_policy, textbook_policy
    from labkit.automation.plan import make_plan
    from labkit.schema import conform_gold, finalize_labels

    rng = np.random.default_rng(0)
    b = synthetic.generate("slice_wrong", n, rng)
    ids = np.char.add("i", np.arange(n).astype(str))
    truth = np.where(b.correct, b.label, "other")
    model = pd.DataFrame({"item_id": ids, "annotator_id": "m-1", "task": "t", "label": b.label, "confidence": b.conf,
                          "source": "model", "stage": "label", "slice": b.slice})
    hi = rng.choice(n, n // 50, replace=False)
    human = pd.DataFrame({"item_id": np.repeat(ids[hi], 3), "annotator_id": np.tile(["h1", "h2", "h3"], len(hi)),
                          "task": "t", "label": np.repeat(truth[hi], 3), "confidence": np.nan, "source": "human",
                          "stage": "label", "slice": np.repeat(b.slice[hi], 3)})
    table = pd.concat([model, human], ignore_index=True)
    for c in ("item_id", "annotator_id", "task", "label", "source", "stage", "slice"):
        table[c] = table[c].astype("category")
    table["guideline_version"] = pd.Categorical([None] * len(table))
    table["created_at"] = pd.NaT
    table["duration_s"] = np.nan
    table = finalize_labels(table)
    gi = rng.choice(n, 5000, replace=False)
    gold = conform_gold(pd.DataFrame({"item_id": ids[gi], "task": "t", "label": truth[gi]}))
    t0 = time.perf_counter()
    plan, pol, _ = make_plan(table, gold, target_error=0.1, delta=0.1)
    t_plan = time.perf_counter() - t0
    conf, correct = b.conf[gi], b.correct[gi]
    t0 = time.perf_counter()
    tb = textbook_policy(conf, correct, target_error=0.1, delta=0.1)
    acc_tb = tb.accept(b.conf)
    t_tb = time.perf_counter() - t0
    t0 = time.perf_counter()
    acc_nv = naive_policy(0.1).accept(b.conf)
    t_nv = time.perf_counter() - t0
    print(f"\nPlanning over {n:,} model labels ({len(table):,} judgements, 5,000 gold; target 5 s)")
    print(f"{'what':<58}{'seconds':>9}{'accepted':>10}")
    print(f"{'labkit make_plan (fit ' + pol.scheme + ' LTT, consensus, human wins, provenance)':<58}{t_plan:>9.2f}{plan['accepted'].mean():>10.1%}")
    print(f"{'textbook LTT fit + apply (arrays only)':<58}{t_tb:>9.2f}{acc_tb.mean():>10.1%}")
    print(f"{'naive threshold apply (arrays only)':<58}{t_nv:>9.2f}{acc_nv.mean():>10.1%}")


def main() -> None:
    quick = "--quick" in sys.argv
    print("load:", os.getloadavg())
    part1(50 if quick else 500)
    part2(20_000)  # warm-up: imports and first calls (its table is printed too)
    part2(100_000 if quick else 1_000_000)


if __name__ == "__main__":
    main()
