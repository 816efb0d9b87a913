"""The seeded experiment behind the guarantee tests and ``bench/bench_automation.py``.

For each setting of :mod:`labkit.automation.synthetic` and each seed: draw a calibration set, fit this policy
(``auto`` grouping), the textbook method (one global LTT threshold, full delta) and the naive threshold, and
measure on a large fixed population of the same setting the true error rate of what each accepts (the mean of
``1 - P(correct)`` over accepted items, so no test-set noise) and the share it accepts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from labkit.automation import synthetic
from labkit.automation.ltt import fit_policy, naive_policy, textbook_policy

__all__ = ["run"]


def run(settings: tuple[str, ...] = synthetic.SETTINGS, seeds: int = 100, *, target_error: float = 0.1,
        delta: float = 0.1, n_calibration: int = 3000, n_population: int = 400_000) -> pd.DataFrame:
    """One row per (setting, seed, method): threshold scheme, accepted share and true error of accepted labels."""
    rows = []
    for si, st in enumerate(settings):
        pop = synthetic.generate(st, n_population, np.random.default_rng(10_000_000 + si))
        codes = {k: pd.factorize(v) for k, v in (("label", pop.label), ("slice", pop.slice))}
        order = np.argsort(-pop.conf, kind="stable")
        cum_err = np.concatenate([[0.0], np.cumsum(1.0 - pop.p_correct[order])])
        desc = -pop.conf[order]
        for seed in range(seeds):
            cal = synthetic.generate(st, n_calibration, np.random.default_rng(seed))
            pols = {"ltt": fit_policy(cal.conf, cal.correct, target_error=target_error, delta=delta,
                                      labels=cal.label, slices=cal.slice),
                    "textbook": textbook_policy(cal.conf, cal.correct, target_error=target_error, delta=delta),
                    "naive": naive_policy(target_error)}
            for m, p in pols.items():
                if p.scheme in ("global", "naive"):  # one threshold: prefix sums over the sorted population
                    n = int(np.searchsorted(desc, -p.thresholds["all"], side="right"))
                    share, err = n / n_population, (float(cum_err[n] / n) if n else 0.0)
                else:
                    c, uniq = codes[p.scheme]
                    thr = np.array([p.thresholds.get(str(u), np.inf) for u in uniq])[c]
                    acc = pop.conf >= thr
                    share = float(acc.mean())
                    err = float(1.0 - pop.p_correct[acc].mean()) if acc.any() else 0.0
                rows.append({"setting": st, "seed": seed, "method": m, "scheme": p.scheme,
                             "accepted_share": share, "error": err, "exceeds": err > target_error})
    return pd.DataFrame(rows)
