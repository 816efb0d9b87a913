"""labkit.incentives.abtest: assignment, design effect and power, cluster-robust analysis (statsmodels oracle)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import linalg, stats

from labkit.errors import ParameterError
from labkit.incentives.abtest import analyze, assign, design_effect, mde, power, simulate_experiment


def test_assignment_is_deterministic_and_order_free() -> None:
    ids = [f"w{i}" for i in range(2000)]
    a = assign(ids, salt="pilot")
    b = assign(list(reversed(ids))[:700], salt="pilot")
    assert (a.reindex(b.index) == b).all()
    assert abs((a == "treatment").mean() - 0.5) < 0.04
    c = assign(ids, salt="another")
    assert 0.4 < (a != c).mean() < 0.6
    with pytest.raises(ParameterError, match="at least two arms"):
        assign(ids, ["only"])


def test_design_effect_and_mde_inverse() -> None:
    assert design_effect(20, 0.05, 0.0) == pytest.approx(1.95)
    assert design_effect(20, 0.05, 1.0) == pytest.approx(1 + (2 * 20 - 1) * 0.05)
    m = mde(clusters=60, mean_size=40, icc=0.05, cv=0.7, sd=0.4)
    assert power(m, clusters=60, mean_size=40, icc=0.05, cv=0.7, sd=0.4) == pytest.approx(0.8, abs=1e-6)
    # with no clustering the power is the two-sample t test's (noncentral t)
    n = 200
    se = 0.4 * np.sqrt(2 / (n / 2 * 10))
    t = stats.t.ppf(0.975, n - 2)
    expect = stats.nct.sf(t, n - 2, 0.05 / se) + stats.nct.cdf(-t, n - 2, 0.05 / se)
    assert power(0.05, clusters=n, mean_size=10, icc=0.0, sd=0.4) == pytest.approx(expect)


def _frame(seed: int = 3) -> pd.DataFrame:
    return simulate_experiment(np.random.default_rng(seed), clusters=30, mean_size=20, cv=0.9, icc=0.1, base=0.7,
                               effect=0.05).assign(y=lambda f: f["y"].astype(float))


def test_cr1_matches_statsmodels_cluster_ols() -> None:
    sm = pytest.importorskip("statsmodels.api")
    f = _frame()
    r = analyze(f, vcov="CR1")
    X = sm.add_constant((f["arm"] == "treatment").astype(float).to_numpy())
    groups = pd.factorize(f["annotator_id"])[0]
    res = sm.OLS(f["y"].to_numpy(), X).fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
    assert r.effect == pytest.approx(res.params[1], rel=1e-10)
    assert r.se == pytest.approx(res.bse[1], rel=1e-8)
    lo, hi = res.conf_int(0.05)[1]
    assert (r.ci_low, r.ci_high) == pytest.approx((lo, hi), rel=1e-8)
    assert r.p_value == pytest.approx(res.pvalues[1], rel=1e-6)


def test_cr2_matches_a_dense_bell_mccaffrey_computation() -> None:
    f = _frame(4)
    r = analyze(f, vcov="CR2")
    y = f["y"].to_numpy()
    X = np.column_stack([np.ones(len(f)), (f["arm"] == "treatment").to_numpy(float)])
    bread = np.linalg.inv(X.T @ X)
    u = y - X @ (bread @ X.T @ y)
    meat = np.zeros((2, 2))
    for _, idx in f.groupby("annotator_id").indices.items():
        Xg = X[idx]
        A = linalg.inv(linalg.sqrtm(np.eye(len(idx)) - Xg @ bread @ Xg.T)).real
        s = Xg.T @ A @ u[idx]
        meat += np.outer(s, s)
    V = bread @ meat @ bread
    assert r.se == pytest.approx(np.sqrt(V[1, 1]), rel=1e-8)


def test_null_false_positive_rate_seeded() -> None:
    """200 seeded null experiments: rejections within a 99.9% binomial band around 5% (1000 runs: bench)."""
    rng = np.random.default_rng(11)
    res = [analyze(simulate_experiment(rng, clusters=40, mean_size=25, cv=0.8, icc=0.05, base=0.8, effect=0.0),
                   seed=i) for i in range(200)]
    lo, hi = stats.binom.ppf([0.0005, 0.9995], 200, 0.05)
    assert lo <= sum(r.p_permutation < 0.05 for r in res) <= hi
    assert lo <= sum(r.p_value < 0.05 for r in res) <= hi


def test_permutation_p_against_full_enumeration() -> None:
    """Six annotators, three treated: the 20 assignments enumerated by hand give the exact p-value."""
    from itertools import combinations

    from labkit.incentives.abtest import permutation_p

    rng = np.random.default_rng(0)
    sizes = [3, 5, 2, 8, 4, 6]
    g = np.repeat(np.arange(6), sizes)
    y = rng.random(len(g))
    x = np.isin(g, [0, 2, 3]).astype(float)

    def diff(treated: tuple[int, ...]) -> float:
        m = np.isin(g, treated)
        return float(y[m].mean() - y[~m].mean())

    obs = abs(diff((0, 2, 3)))
    exact = np.mean([abs(diff(c)) >= obs - 1e-12 for c in combinations(range(6), 3)])
    approx = permutation_p(y, x, g, n_perm=20000, seed=1)
    assert approx == pytest.approx(exact, abs=0.015)


def test_predicted_power_close_to_simulated_at_one_effect() -> None:
    """Power 0.5-ish: 200 seeded runs, within 3 binomial SEs of the prediction (three effects: bench)."""
    rng = np.random.default_rng(12)
    kw = dict(clusters=40, mean_size=25, cv=0.8, icc=0.05)
    eff = 0.06
    pred = power(eff, **kw, sd=np.sqrt((0.8 + eff / 2) * (0.2 - eff / 2)))
    rej = sum(analyze(simulate_experiment(rng, **kw, base=0.8, effect=eff)).p_value < 0.05 for _ in range(200))
    assert abs(rej / 200 - pred) < 3 * np.sqrt(pred * (1 - pred) / 200)


def test_analyze_refuses_one_arm() -> None:
    f = _frame().assign(arm="control")
    with pytest.raises(ParameterError, match="both arms need judgements"):
        analyze(f)


def test_incentives_doctests() -> None:
    import doctest
    import importlib

    for name in ("abtest", "credentials", "scores"):
        mod = importlib.import_module(f"labkit.incentives.{name}")
        res = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert res.failed == 0, name
    assert res.attempted >= 1
