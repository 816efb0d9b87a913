"""The default consensus model (labkit.stats.robust via labkit.stats.truth.fit_consensus)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labkit.stats.calibration import expected_calibration_error
from labkit.stats.consensus import DawidSkene, consensus_accuracy, majority_vote
from labkit.stats.counts import CountTables, as_label_table
from labkit.stats.robust import ConvergenceWarning, RobustDawidSkene, _Platt, _row_patterns, calibrate_on_gold
from labkit.stats.truth import fit_consensus

PUBLIC = Path(__file__).resolve().parent / "data" / "public"
NAMES = ["snow2008_rte", "snow2008_temp", "snow2008_wsd", "welinder2010_bluebirds", "zhou2012_dog",
         "zheng2017_d_product"]


def _public(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    t = pd.read_csv(PUBLIC / name / "long.csv", dtype=str)
    g = pd.read_csv(PUBLIC / name / "gold.csv", dtype=str).rename(columns={"gold": "label"})
    return t, g


def sparse_program(n_items: int = 3334, K: int = 2, seed: int = 0, spam: float = 0.1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """~3,000 annotators with Zipf-like activity, three judgements per item (about three per annotator),
    a tenth of them spammers answering at random."""
    rng = np.random.default_rng(seed)
    J = 3000
    w = 1 / np.arange(1, J + 1) ** 0.8
    ann = rng.choice(J, size=(n_items, 3), p=w / w.sum())
    truth = rng.integers(0, K, n_items)
    skill = np.clip(rng.beta(8, 2, J), 0.5, 0.99)
    spammer = rng.random(J) < spam
    right = rng.random((n_items, 3)) < skill[ann]
    lab = np.where(right, truth[:, None], (truth[:, None] + rng.integers(1, K, (n_items, 3))) % K)
    lab = np.where(spammer[ann], rng.integers(0, K, (n_items, 3)), lab)
    t = pd.DataFrame({"item_id": np.repeat(np.arange(n_items), 3).astype(str), "annotator_id": ann.ravel().astype(str),
                      "label": lab.ravel().astype(str)})
    return t, pd.DataFrame({"item_id": np.arange(n_items).astype(str), "label": truth.astype(str)})


def _acc(cons: pd.DataFrame, gold: pd.DataFrame) -> float:
    return float(consensus_accuracy(cons, gold)["accuracy"])


@pytest.mark.parametrize("name", NAMES)
def test_default_is_as_accurate_as_majority_vote_and_dawid_skene(name: str) -> None:
    t, g = _public(name)
    robust = _acc(fit_consensus(t).consensus, g)
    mv = _acc(majority_vote(t), g)
    ds = _acc(DawidSkene().fit_predict(t), g)
    tol = 0.01 if len(g) < 500 else 0.005   # the rule: half a point, a point under 500 gold items
    assert robust >= max(mv, ds) - tol, (robust, mv, ds)


@pytest.mark.parametrize("K", [2, 5])
def test_sparse_crowd_does_not_collapse_below_majority_vote(K: int) -> None:
    """The counter-example: textbook Dawid-Skene trusts confusions estimated from ~3 judgements each and loses
    to counting votes; the default model shrinks them and does not."""
    t, g = sparse_program(K=K)
    mv = _acc(majority_vote(t), g)
    ds = _acc(DawidSkene().fit_predict(t), g)
    robust = _acc(fit_consensus(t).consensus, g)
    assert ds < mv - 0.03          # the collapse is real on this program
    assert robust >= mv - 0.005


def _ece_oracle(conf: np.ndarray, correct: np.ndarray) -> float:
    """Expected calibration error written out item by item (10 equal-width bins, the last one closed)."""
    bins: dict[int, list[tuple[float, float]]] = {}
    for p, y in zip(conf.tolist(), correct.tolist()):
        bins.setdefault(min(int(p * 10), 9), []).append((p, y))
    return sum(abs(sum(p for p, _ in v) / len(v) - sum(y for _, y in v) / len(v)) * len(v) for v in bins.values()) / len(conf)


@pytest.mark.parametrize("name", NAMES)
def test_confidence_is_calibrated_on_gold_cross_fitted(name: str) -> None:
    t, g = _public(name)
    f = fit_consensus(t, gold=g)
    c = f.consensus.merge(g.rename(columns={"label": "gold"}), on="item_id")
    correct = (c["label"].astype(str) == c["gold"].astype(str)).to_numpy(float)
    conf = c["confidence"].to_numpy(float)
    bins = np.clip((conf * 10).astype(int), 0, 9)
    ece = sum(abs(conf[bins == b].mean() - correct[bins == b].mean()) * (bins == b).mean() for b in range(10)
              if (bins == b).any())
    raw = fit_consensus(t).consensus.merge(g.rename(columns={"label": "gold"}), on="item_id")
    assert ece <= 0.03, ece
    assert ece == pytest.approx(_ece_oracle(conf, correct), abs=1e-12)
    assert ece == pytest.approx(expected_calibration_error(conf, correct, n_bins=10), abs=1e-12)
    assert "cross-fitted" in f.info["default"]["calibration"]
    assert raw["confidence"].mean() > conf.mean()  # the raw posterior is the overconfident one


def test_cross_fitted_calibration_never_uses_an_items_own_gold() -> None:
    """A gold item's calibrated confidence must not move when only its own correctness flips."""
    rng = np.random.default_rng(3)
    conf = rng.random(200)
    correct = (rng.random(100) < 0.8).astype(float)
    gold_idx = np.arange(100)
    _, a, _ = calibrate_on_gold(conf, correct, gold_idx)
    flipped = correct.copy()
    flipped[7] = 1 - flipped[7]
    _, b, _ = calibrate_on_gold(conf, flipped, gold_idx)
    assert a[7] == b[7]
    assert not np.array_equal(a, b)  # the flip does inform the other gold items' maps


@pytest.mark.parametrize("name", ["snow2008_rte", "welinder2010_bluebirds", "zhou2012_dog"])
def test_renamed_ids_and_shuffled_rows_change_nothing(name: str) -> None:
    t, _ = _public(name)
    base = fit_consensus(t).consensus.set_index("item_id")
    rng = np.random.default_rng(11)
    perm_a = {a: f"w{rng.integers(1e9)}-{a}" for a in t["annotator_id"].unique()}
    perm_i = {i: f"x{(hash(i) % 997):03d}_{i[::-1]}" for i in t["item_id"].unique()}
    t2 = t.assign(annotator_id=t["annotator_id"].map(perm_a), item_id=t["item_id"].map(perm_i))
    t2 = t2.iloc[rng.permutation(len(t2))].reset_index(drop=True)
    other = fit_consensus(t2).consensus.set_index("item_id")
    other.index = other.index.map({v: k for k, v in perm_i.items()})
    other = other.loc[base.index]
    assert (other["label"].astype(str).to_numpy() == base["label"].astype(str).to_numpy()).all()
    assert np.allclose(other["confidence"].to_numpy(float), base["confidence"].to_numpy(float), atol=1e-9)


def test_skill_is_shrunk_with_intervals_from_the_same_model() -> None:
    t, g = _public("zhou2012_dog")
    f = fit_consensus(t)
    sk = f.skill.set_index("annotator_id")
    one = sk[sk["n_judgements"] == 1]
    many = sk[sk["n_judgements"] >= 100]
    assert len(one) and len(many)
    # one judgement: near the crowd, with a wide interval; a hundred: a narrow one
    assert one["accuracy"].between(0.5, 0.95).all()
    assert ((one["ci_high"] - one["ci_low"]) > 0.3).all() and ((many["ci_high"] - many["ci_low"]) < 0.2).all()
    assert (sk["ci_low"] <= sk["accuracy"]).all() and (sk["accuracy"] <= sk["ci_high"]).all()
    # skill ranks annotators like their accuracy on gold does
    merged = t.merge(g.rename(columns={"label": "gold"}), on="item_id")
    gacc = (merged["label"] == merged["gold"]).groupby(merged["annotator_id"]).mean()
    big = gacc[merged.groupby("annotator_id").size() >= 50]
    rho = pd.Series(sk.loc[big.index, "accuracy"].to_numpy()).corr(pd.Series(big.to_numpy()), method="spearman")
    assert rho > 0.8


def test_honest_convergence_flag_and_warning() -> None:
    t, _ = _public("snow2008_rte")
    ct = CountTables.from_labels(as_label_table(t))
    with pytest.warns(ConvergenceWarning, match="stopped at its cap of 1 iterations"):
        m = RobustDawidSkene(max_iter=1).fit_counts(ct)
    assert m.converged_ is False
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        m = RobustDawidSkene().fit_counts(ct)
    assert m.converged_ is True and m.n_iter_ < 6 * 500
    info = fit_consensus(t).info["default"]
    assert info["converged"] is True and info["method"] == "robust"


def test_platt_map_matches_scikit_learn_logistic_regression() -> None:
    """The two-parameter map is a ridge logistic regression of correctness on the (scaled) log-odds."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(5)
    x = rng.gamma(2.0, 8.0, 300)
    y = (rng.random(300) < 1 / (1 + np.exp(-(0.1 * x - 0.5)))).astype(float)
    m = _Platt(x, y, lo=0.5)
    z = (x / np.abs(x).max())[:, None]
    lam = 1e-3 * len(x)
    # scikit-learn penalizes the slope only; add the intercept as a scaled column so both are penalized alike
    ref = LogisticRegression(C=1 / lam, fit_intercept=False, tol=1e-12, max_iter=10_000).fit(
        np.column_stack([z, np.ones_like(z)]), y)
    assert m.beta[0] == pytest.approx(ref.coef_[0, 0], rel=1e-5)
    assert m.beta[1] == pytest.approx(ref.coef_[0, 1], rel=1e-5)
    assert (m.predict(x) >= 0.5).all()


def test_distinct_judgement_rows_match_a_dictionary_oracle() -> None:
    import scipy.sparse as sp

    rng = np.random.default_rng(2)
    I, M = 400, 12
    rows = rng.integers(0, I, 900)
    cols = rng.integers(0, M, 900)
    A = sp.csr_matrix((np.ones(900), (rows % 37, cols % 3)), shape=(I, M))   # many repeated rows
    A.sum_duplicates()
    reps, inv = _row_patterns(A)
    key = {i: (tuple(A.indices[A.indptr[i]:A.indptr[i + 1]]), tuple(A.data[A.indptr[i]:A.indptr[i + 1]]))
           for i in range(I)}
    first: dict[tuple, int] = {}
    for i in range(I):
        first.setdefault(key[i], i)
    assert sorted(reps.tolist()) == sorted(set(first.values()))
    assert all(reps[inv[i]] == first[key[i]] for i in range(I))
    # rows that all differ: no grouping
    B = sp.csr_matrix(np.eye(50))
    assert _row_patterns(B) is None


def test_prior_family_parameter_and_held_out_choice() -> None:
    from labkit.errors import ParameterError

    t, _ = _public("welinder2010_bluebirds")
    ct = CountTables.from_labels(as_label_table(t))
    with pytest.raises(ParameterError, match="prior must be 'auto', 'one-coin', 'two-way' or 'pooled', got 'flat'"):
        RobustDawidSkene(prior="flat").fit_counts(ct)
    auto = RobustDawidSkene().fit_counts(ct)          # the default: one-coin unless two-way wins the test
    assert auto.prior == "auto"
    assert set(auto.heldout_) == {"one-coin", "two-way"}
    z = auto.family_test_["z"]
    assert auto.prior_family_ == ("two-way" if z > 1.959964 else "one-coin")
    same = RobustDawidSkene(prior=auto.prior_family_).fit_counts(ct)
    assert np.array_equal(same.posteriors_.to_numpy().argmax(axis=1), auto.posteriors_.to_numpy().argmax(axis=1))
    assert np.allclose(same.posteriors_.to_numpy(), auto.posteriors_.to_numpy(), atol=1e-3)
    assert same.family_test_ == {} and same.heldout_ == {}
    for fam in ("one-coin", "two-way", "pooled"):
        assert RobustDawidSkene(prior=fam).fit_counts(ct).prior_family_ == fam


def test_family_test_is_a_paired_t_statistic_over_items() -> None:
    from scipy import stats

    from labkit.stats.robust import _family_test

    rng = np.random.default_rng(4)
    one, two = rng.normal(-3, 1, 400), rng.normal(-3, 1, 400) + 0.1
    got = _family_test(one, two, None)
    ref = stats.ttest_rel(two, one)
    assert got["z"] == pytest.approx(float(ref.statistic), rel=1e-10)
    assert got["gain"] == pytest.approx(float((two - one).sum()), rel=1e-12)
    # a distinct judgement row standing for w items: the same as the row repeated w times
    w = rng.integers(1, 5, 400).astype(float)
    rep = _family_test(np.repeat(one, w.astype(int)), np.repeat(two, w.astype(int)), None)
    assert _family_test(one, two, w)["z"] == pytest.approx(rep["z"], rel=1e-10)
    assert _family_test(one, one, None)["z"] == 0.0


def test_trigamma_matches_scipy() -> None:
    from scipy.special import polygamma

    from labkit.stats.robust import _trigamma

    x = np.concatenate([np.logspace(-3, 5, 2000), np.linspace(0.5, 12, 500)])
    assert np.allclose(_trigamma(x), polygamma(1, x), rtol=1e-8, atol=0)


def test_two_way_prior_mean_moves_each_class_by_its_log_odds_difficulty() -> None:
    from labkit.stats import robust

    rng = np.random.default_rng(7)
    K, J = 3, 6
    C3 = rng.integers(0, 20, (K, J, K)).astype(float)
    C3[np.arange(K), :, np.arange(K)] += 40
    sa = 5.0
    one, two = robust._prior_means(C3, sa), robust._prior_means(C3, sa, classes=True)
    pooled = C3.sum(axis=1) + 1e-3
    right, total = np.einsum("kjk->j", C3), C3.sum(axis=(0, 2))
    acc = right.sum() / total.sum()
    a = (right + sa * acc) / (total + sa)
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    for k in range(K):
        acc_k = C3[k, :, k].sum() / C3[k].sum()
        want = 1 / (1 + np.exp(-(logit(a) + logit(acc_k) - logit(acc))))
        assert np.allclose(two[k, np.arange(J), k], want, rtol=1e-12)
        assert np.allclose(one[k, np.arange(J), k], a, rtol=1e-12)
        for lab in range(K):   # the wrong labels keep the pool's pattern
            if lab != k:
                share = pooled[k, lab] / (pooled[k].sum() - pooled[k, k])
                assert np.allclose(two[k, :, lab], (1 - want) * share, rtol=1e-12)
    assert np.allclose(two.sum(axis=2), 1.0)
    # classes equally hard: the two-way prior is the one-coin prior
    C3[:] = 1.0
    C3[np.arange(K), :, np.arange(K)] = 8.0
    assert np.allclose(robust._prior_means(C3, sa, classes=True), robust._prior_means(C3, sa), rtol=1e-9)


def test_held_out_likelihood_matches_a_judgement_by_judgement_loop() -> None:
    from labkit.stats.robust import _heldout_loglik

    t, _ = _public("zhou2012_dog")   # every item has its own judgement row: the fit is item by item
    ct = CountTables.from_labels(as_label_table(t))
    m = RobustDawidSkene(prior="one-coin").fit_counts(ct)
    f, s = m._fit, m.strength_
    A, _, _, reps = m._patterns
    assert reps is None and A.shape[0] == ct.n_items
    got = _heldout_loglik(f, s, A, None)
    T = m.posteriors_.to_numpy()                 # items x K, the fitted posteriors
    lt, C, prior = f.logtheta, f.C, f.prior      # [true, annotator, observed]
    total, n = 0.0, 0
    seen: set[tuple[int, int, int]] = set()
    for i, j, lab in zip(ct.item.tolist(), ct.annotator.tolist(), ct.label.tolist()):
        if (i, j, lab) in seen:                  # duplicates count once per copy in both; none in this dataset
            continue
        seen.add((i, j, lab))
        post = T[i] / np.exp(lt[:, j, lab])     # the item's posterior without this judgement's factor
        post /= post.sum()
        theta = (C[:, j, lab] - T[i] + s * prior[:, j, lab]) / (C[:, j, :].sum(axis=1) - T[i] + s)
        total += float(np.log((post * np.maximum(theta, 1e-12)).sum()))
        n += 1
    assert got == pytest.approx(total / n, rel=1e-6)   # float32 terms, float64 sums


def _poisson_binomial_lgamma_gain(ps: np.ndarray, a: float, complement: bool = False) -> float:
    """E[log Gamma(X + a) - log Gamma(a)] for X a sum of independent Bernoulli(ps), by full convolution."""
    from scipy.special import gammaln

    pmf = np.array([1.0])
    for p in ps:
        pmf = np.convolve(pmf, [1.0 - p, p])
    x = np.arange(len(pmf), dtype=np.float64)
    if complement:
        x = len(ps) - x
    return float((pmf * gammaln(x + a)).sum() - gammaln(a))


def test_count_spread_expectations_match_full_convolution() -> None:
    """Exact (dynamic programming) for small cells, second order / Poisson above ``_EXACT_MAX``: checked against
    the full Poisson-binomial distribution, repeated judgements included."""
    from labkit.stats import robust

    rng = np.random.default_rng(3)
    ncells = 7
    sizes = [0, 1, 3, 17, 32, 90, 400]            # 90 and 400 judgements take the second-order path
    cell = np.repeat(np.arange(ncells), sizes)
    P = rng.random((2, len(cell))) ** 2
    P[1, cell == 6] *= 0.002                       # a large cell with a tiny mean: the Poisson branch
    mult = np.ones(len(cell), np.int64)
    mult[::5] = 2                                  # a judgement standing for two items
    m = np.bincount(cell, weights=mult, minlength=ncells)
    mu = np.stack([np.bincount(cell, weights=mult * P[k], minlength=ncells) for k in range(2)])
    var = np.stack([np.bincount(cell, weights=mult * P[k] * (1 - P[k]), minlength=ncells) for k in range(2)])
    spread = robust._Spread(mu, var, cell, mult, lambda keep: P[:, keep])
    a = np.array([[0.05], [3.0]]) * np.ones((2, ncells))
    for complement in (False, True):
        got = spread.lgamma_gain(a, complement)
        for k in range(2):
            for c in range(ncells):
                ps = np.repeat(P[k, cell == c], mult[cell == c])
                want = _poisson_binomial_lgamma_gain(ps, a[k, c], complement)
                if m[c] <= robust._EXACT_MAX:
                    assert got[k, c] == pytest.approx(want, abs=1e-9), (k, c, complement)
                else:
                    assert got[k, c] == pytest.approx(want, rel=2e-3, abs=2e-2), (k, c, complement)


def test_strengths_from_certain_truths_equal_the_plug_in_likelihood() -> None:
    """With every posterior at 0 or 1 the counts are certain: the averaged likelihood is the plug-in one, so
    both give the same strengths; with uncertain truths the averaged one gives less shrinkage."""
    from labkit.stats import robust

    t, _ = sparse_program(K=2, seed=102)
    ct = CountTables.from_labels(as_label_table(t))
    m = RobustDawidSkene().fit_counts(ct)
    A, w, _, reps = m._patterns
    J, K = ct.n_annotators, ct.n_labels
    Ac = A.tocoo()
    coo = (Ac.row, Ac.col, np.rint(Ac.data * (1.0 if reps is None else w[Ac.row])).astype(np.int64))
    A2 = A.copy()
    A2.data = A2.data ** 2
    f = m._fit
    hard = np.zeros_like(f.T)
    hard[f.T.argmax(axis=0), np.arange(f.T.shape[1])] = 1.0
    Tw = hard if reps is None else hard * w[None, :]
    C3 = (A.T @ Tw.T).reshape(J, K, K).transpose(2, 0, 1)
    fh = robust._Fit(T=hard, logtheta=f.logtheta, logpi=f.logpi, C=np.ascontiguousarray(C3), prior=f.prior,
                     n_iter=0, converged=True)
    sp_hard = robust._count_spread(fh, coo, A2.T, None if reps is None else w, J, K)
    sa = robust.eb_accuracy_strength(C3)
    assert robust.eb_accuracy_strength(C3, spread=sp_hard) == pytest.approx(sa, rel=1e-6)
    prior = robust._prior_means(C3, sa)
    assert robust.eb_strength(C3, prior, spread=sp_hard) == pytest.approx(robust.eb_strength(C3, prior), rel=1e-6)
    # the fitted (uncertain) posteriors: the plug-in likelihood sees the averaged counts as too alike
    sp_soft = robust._count_spread(f, coo, A2.T, None if reps is None else w, J, K)
    assert robust.eb_accuracy_strength(f.C, spread=sp_soft) < 0.5 * robust.eb_accuracy_strength(f.C)


def test_sparse_five_label_program_within_half_a_point_of_glad() -> None:
    """The generated sparse program with five labels (bench seed 105), where GLAD is the best peer: crowd-kit's
    GLAD gets 0.9154 there (measured by bench/bench_consensus.py; not run here, it takes minutes), so the
    issue's rule asks for 0.9104. The plug-in strengths (sa 8.2) gave 0.9103."""
    t, g = sparse_program(K=5, seed=105)
    fit = fit_consensus(t)
    robust = _acc(fit.consensus, g)
    assert robust >= 0.9154 - 0.005, robust
    assert robust >= _acc(majority_vote(t), g) - 0.005
    assert fit.info["default"]["accuracy_strength"] < 5.0   # the averaged likelihood: 3.7


def _nested_loglik(C: np.ndarray, prior: np.ndarray, s: float, se: float) -> float:
    """The nested prior's marginal likelihood of integer counts, from scipy's distributions: per row, a
    beta-binomial for the right count and a Dirichlet-multinomial for the wrong labels among themselves."""
    from scipy.stats import betabinom, dirichlet_multinomial

    K, J = C.shape[0], C.shape[1]
    total = 0.0
    for k in range(K):
        for j in range(J):
            n = int(C[k, j].sum())
            if n == 0:
                continue
            a = prior[k, j, k]
            total += float(betabinom.logpmf(int(C[k, j, k]), n, s * a, s * (1 - a)))
            others = [lab for lab in range(K) if lab != k]
            x = C[k, j, others].astype(int)
            if x.sum():
                alpha = se * prior[k, j, others]         # = se (1 - a) * the prior's off-diagonal shares
                total += float(dirichlet_multinomial.logpmf(x, alpha, int(x.sum())))
    return total


def test_nested_prior_factorizes_the_dirichlet_and_fits_both_strengths() -> None:
    """The Dirichlet row prior is the nested prior with equal strengths (scipy's Dirichlet-multinomial as the
    oracle); the fitted pair maximizes the nested likelihood, so it is never below the best Dirichlet."""
    from scipy.stats import dirichlet_multinomial

    from labkit.stats import robust

    rng = np.random.default_rng(8)
    K, J = 4, 30
    truth_acc = rng.beta(4, 2, (K, J))            # right shares that vary from class to class ...
    C = np.zeros((K, J, K))
    for k in range(K):
        for j in range(J):
            p = np.full(K, (1 - truth_acc[k, j]) / (K - 1))   # ... mistakes that follow one pattern
            p[k] = truth_acc[k, j]
            C[k, j] = rng.multinomial(rng.integers(5, 40), p)
    prior = robust._prior_means(C, 10.0)
    for sv in (0.7, 4.0, 30.0):
        dirichlet = sum(float(dirichlet_multinomial.logpmf(C[k, j].astype(int), sv * prior[k, j], int(C[k, j].sum())))
                        for k in range(K) for j in range(J))
        assert _nested_loglik(C, prior, sv, sv) == pytest.approx(dirichlet, rel=1e-10)
    s, se = robust.eb_strengths(C, prior)
    best = _nested_loglik(C, prior, s, se)
    for f in (0.8, 1.25):
        assert best >= _nested_loglik(C, prior, s * f, se)
        if se * f <= 1000.0:                      # the search's upper bound (mistakes here follow one pattern)
            assert best >= _nested_loglik(C, prior, s, se * f)
    tied = robust.eb_strength(C, prior)
    assert best >= _nested_loglik(C, prior, tied, tied)
    assert se > 3 * s                             # the simulated crowd: varied right shares, shared mistakes
    # two labels: one strength, the Dirichlet's
    C2 = C[:2, :, :2].copy()
    p2 = robust._prior_means(C2, 10.0)
    assert robust.eb_strengths(C2, p2) == (robust.eb_strength(C2, p2), robust.eb_strength(C2, p2))


def test_nested_confusion_is_the_product_of_the_two_posterior_means() -> None:
    from labkit.stats import robust

    rng = np.random.default_rng(4)
    K, J = 3, 5
    C = rng.random((K, J, K)) * 10
    prior = robust._prior_means(C, 5.0)
    same = robust._confusion_log(C, prior, 6.0, 6.0)
    assert np.allclose(same, np.log((C + 6.0 * prior) / (C.sum(axis=2) + 6.0)[:, :, None]))
    th = np.exp(robust._confusion_log(C, prior, 2.0, 50.0))
    assert np.allclose(th.sum(axis=2), 1.0)
    for k in range(K):
        for j in range(J):
            a = prior[k, j, k]
            acc = (C[k, j, k] + 2.0 * a) / (C[k, j].sum() + 2.0)
            assert th[k, j, k] == pytest.approx(acc, rel=1e-12)
            for lab in range(K):
                if lab != k:
                    wrong = C[k, j].sum() - C[k, j, k]
                    share = (C[k, j, lab] + 50.0 * prior[k, j, lab]) / (wrong + 50.0 * (1 - a))
                    assert th[k, j, lab] == pytest.approx((1 - acc) * share, rel=1e-12)


def test_nested_held_out_likelihood_matches_a_judgement_by_judgement_loop() -> None:
    from labkit.stats.robust import _heldout_loglik

    t, _ = _public("zhou2012_dog")   # four labels, every item its own judgement row
    ct = CountTables.from_labels(as_label_table(t))
    m = RobustDawidSkene().fit_counts(ct)
    s, se = m.strength_, m.error_strength_
    assert se > 2 * s                # the fitted pair differs here (docs/statistics.md)
    f = m._fit
    A, _, _, reps = m._patterns
    assert reps is None
    got = _heldout_loglik(f, (s, se), A, None)
    T, lt, C, prior = m.posteriors_.to_numpy(), f.logtheta, f.C, f.prior
    K = ct.n_labels
    total, n = 0.0, 0
    for i, j, lab in set(zip(ct.item.tolist(), ct.annotator.tolist(), ct.label.tolist())):
        post = T[i] / np.exp(lt[:, j, lab])     # the item's posterior without this judgement's factor
        post /= post.sum()
        theta = np.empty(K)
        for k in range(K):
            Ck = C[k, j].copy()                  # the annotator's counts on class k without this judgement
            Ck[lab] -= T[i, k]
            a = prior[k, j, k]
            acc = (Ck[k] + s * a) / (Ck.sum() + s)
            if lab == k:
                theta[k] = acc
            else:
                wrong = Ck.sum() - Ck[k]
                theta[k] = (1 - acc) * (Ck[lab] + se * prior[k, j, lab]) / (wrong + se * (1 - a))
        total += float(np.log((post * np.maximum(theta, 1e-12)).sum()))
        n += 1
    assert got == pytest.approx(total / n, rel=1e-6)   # float32 terms, float64 sums


SHAPES = {  # K, items, judgements per item, annotators, Zipf exponent (None: uniform), class sd, spam, sticky
    "k3-zipf1": dict(K=3, I=2000, r=5, J=1000, zipf=1.0, cls=1.0, spam=0.2, sticky=0.0, prior=2.0),
    "k2-asym": dict(K=2, I=4000, r=3, J=2000, zipf=0.8, cls=0.8, spam=0.1, sticky=0.0, prior=None),
    "k8-sticky": dict(K=8, I=3000, r=4, J=800, zipf=0.6, cls=0.5, spam=0.0, sticky=0.05, prior=None),
    "flat": dict(K=5, I=3000, r=3, J=1500, zipf=0.8, cls=0.0, spam=0.1, sticky=0.0, prior=None),
    "dense-hard": dict(K=4, I=1500, r=6, J=40, zipf=None, cls=1.2, spam=0.1, sticky=0.0, prior=None),
}


def shape_program(shape: str, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The programs of bench/bench_prior_family.py (see its docstring): class difficulty on the log-odds scale,
    Zipf activity, spammers, annotators giving one label to everything."""
    p = SHAPES[shape]
    K, I, r, J = p["K"], p["I"], p["r"], p["J"]
    rng = np.random.default_rng(seed)
    if p["zipf"] is None:
        ann = np.argsort(rng.random((I, J)), axis=1)[:, :r]
    else:
        w = 1 / np.arange(1, J + 1) ** p["zipf"]
        ann = np.stack([rng.choice(J, size=r, replace=False, p=w / w.sum()) for _ in range(I)])
    freq = rng.dirichlet(np.full(K, p["prior"])) if p["prior"] else np.full(K, 1.0 / K)
    truth = rng.choice(K, size=I, p=freq)
    cls = rng.normal(0, p["cls"], K) if p["cls"] > 0 else np.zeros(K)
    skill = rng.normal(1.5, 0.8, J)
    acc = 1 / (1 + np.exp(-(skill[:, None] + cls[None, :])))
    conf = np.zeros((J, K, K))
    for k in range(K):
        conf[:, k, :] = ((1 - acc[:, k]) / (K - 1))[:, None]
        conf[:, k, k] = acc[:, k]
    spam = rng.random(J) < p["spam"]
    conf[spam] = 1.0 / K
    sticky = rng.random(J) < p["sticky"]
    conf[sticky] = 0.0
    conf[sticky, :, 0] = 1.0
    P = conf[ann, truth[:, None]]
    lab = (P.cumsum(axis=2) < rng.random((I, r, 1))).sum(axis=2).clip(0, K - 1)
    t = pd.DataFrame({"item_id": np.repeat(np.arange(I), r).astype(str), "annotator_id": ann.ravel().astype(str),
                      "label": lab.ravel().astype(str), "task": "x"})
    return t, pd.DataFrame({"item_id": np.arange(I).astype(str), "label": truth.astype(str), "task": "x"})


def _class_dependent_sparse(K: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """bench/bench_class_dependent.py's sparse program with mistakes spread evenly (idio 0): 3,000 items, 3
    judgements each from 1,500 annotators with Zipf activity, a logit difficulty per class, 10% answering at random."""
    rng = np.random.default_rng(seed)
    I, J, r = 3000, 1500, 3
    w = 1 / np.arange(1, J + 1) ** 0.8
    ann = rng.choice(J, size=(I, r), p=w / w.sum())
    truth = rng.integers(0, K, I)
    cls = rng.normal(0, 0.7, K)
    skill = rng.normal(1.5, 0.8, J)
    acc = 1 / (1 + np.exp(-(skill[:, None] + cls[None, :])))
    rng.integers(1, K, (J, K))  # the bench draws each annotator's favourite wrong labels here (unused at idio 0)
    conf = np.zeros((J, K, K))
    for k in range(K):
        wrong = np.full((J, K), 1.0 / (K - 1))
        wrong[:, k] = 0
        conf[:, k, :] = (1 - acc[:, k])[:, None] * wrong
        conf[:, k, k] = acc[:, k]
    conf[rng.random(J) < 0.1] = 1.0 / K
    P = conf[ann, truth[:, None]]
    lab = (P.cumsum(axis=2) < rng.random((I, r, 1))).sum(axis=2).clip(0, K - 1)
    t = pd.DataFrame({"item_id": np.repeat(np.arange(I), r).astype(str), "annotator_id": ann.ravel().astype(str),
                      "label": lab.ravel().astype(str), "task": "x"})
    return t, pd.DataFrame({"item_id": np.arange(I).astype(str), "label": truth.astype(str), "task": "x"})


# The counter-example found after the fifth session's bench: classes of different difficulty in a sparse crowd.
# The one-coin prior mean gives an annotator one accuracy for every class and fell 0.9-1.9 points under majority
# vote on these three programs (0.8410 / 0.8340 / 0.8623 against 0.8597 / 0.8430 / 0.8790). The default now also
# fits the two-way prior (annotator skill plus class difficulty) and keeps it when held-out judgements prefer it
# at the 5% level; here they do, by a wide margin.
@pytest.mark.parametrize("K,seed,mv_ref", [(4, 3, 0.8597), (5, 2, 0.8430), (5, 3, 0.8790)])
def test_sparse_class_dependent_program_not_below_majority_vote(K: int, seed: int, mv_ref: float) -> None:
    t, g = _class_dependent_sparse(K, seed)
    fit = fit_consensus(t)
    acc = consensus_accuracy(fit.consensus, g)["accuracy"]
    mv = consensus_accuracy(majority_vote(t), g)["accuracy"]
    assert mv == pytest.approx(mv_ref, abs=5e-5)   # the bench program's value, reproduced
    assert fit.info["x"]["prior"] == "two-way"
    assert fit.info["x"]["prior_test_z"] > 3.0
    assert acc >= mv + 0.005                        # not only within the allowance: above majority vote


def test_hard_frequent_class_where_one_coin_collapses_two_way_fitted_from_scratch() -> None:
    # A shape written down before it was first run (bench/bench_prior_family.py, k3-zipf1 seed 12): the most
    # frequent class (921 of 2,000 items) is the hardest, so annotators rarely give its label. One accuracy for
    # every class cannot say so: the one-coin fit makes that class rare (prior 0.07) and falls 10 points under
    # majority vote. The first version of the family test started two-way from the one-coin fit, inherited the
    # collapse (0.586) and still won the test; both families now start from the same vote shares.
    t, g = shape_program("k3-zipf1", 12)
    ct = CountTables.from_labels(t, task="x")
    gold = g.set_index("item_id")["label"].reindex(np.asarray(ct.items).astype(str)).to_numpy()

    def acc(m: RobustDawidSkene) -> float:
        return float((np.asarray(ct.labels)[m.posteriors_.to_numpy().argmax(axis=1)] == gold).mean())

    one = RobustDawidSkene(prior="one-coin").fit_counts(ct)
    two = RobustDawidSkene(prior="two-way").fit_counts(ct)
    auto = RobustDawidSkene().fit_counts(ct)
    mv = consensus_accuracy(majority_vote(t), g)["accuracy"]
    assert mv == pytest.approx(0.674, abs=5e-4)
    assert acc(one) < mv - 0.05                       # the collapse this guards against
    assert auto.prior_family_ == "two-way" and auto.family_test_["z"] > 3
    assert acc(auto) == pytest.approx(acc(two), abs=1e-9)
    assert acc(auto) >= mv + 0.05


def test_temper_picks_the_grid_point_a_judgement_by_judgement_loop_picks() -> None:
    grid = (1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 6.0)
    for name in ("snow2008_rte", "snow2008_temp", "snow2008_wsd", "welinder2010_bluebirds", "zhou2012_dog",
                 "zheng2017_d_product"):
        t, _ = _public(name)
        ct = CountTables.from_labels(as_label_table(t))
        m = RobustDawidSkene().fit_counts(ct)
        assert m.temper(ct) == m.temper(ct, stop_early=False), name     # the early stop changes no answer
    # an independent loop on bluebirds (every item its own judgement row): the tempered held-out score per t
    t, _ = _public("welinder2010_bluebirds")
    ct = CountTables.from_labels(as_label_table(t))
    m = RobustDawidSkene().fit_counts(ct)
    lt, lj = m._fit.logtheta, m.logjoint_
    scores = []
    for tt in grid:
        total = 0.0
        for i, j, lab in zip(ct.item.tolist(), ct.annotator.tolist(), ct.label.tolist()):
            x = (lj[i] - lt[:, j, lab]) / tt
            p = np.exp(x - x.max())
            p /= p.sum()
            total += float(np.log((p * np.exp(lt[:, j, lab])).sum()))
        scores.append(total)
    assert m.temper(ct, stop_early=False) == grid[int(np.argmax(scores))]
    assert m.temper(ct) == grid[int(np.argmax(scores))]


def test_renamed_ids_and_shuffled_rows_change_nothing_where_two_way_is_kept() -> None:
    t, _ = _class_dependent_sparse(4, 3)
    base = fit_consensus(t)
    rng = np.random.default_rng(5)
    perm_a = {a: f"ann-{rng.integers(1e9)}-{a}" for a in t["annotator_id"].unique()}
    perm_i = {i: f"{i[::-1]}#{rng.integers(1e6)}" for i in t["item_id"].unique()}
    t2 = t.assign(annotator_id=t["annotator_id"].map(perm_a), item_id=t["item_id"].map(perm_i))
    t2 = t2.iloc[rng.permutation(len(t2))].reset_index(drop=True)
    other = fit_consensus(t2)
    assert base.info["x"]["prior"] == other.info["x"]["prior"] == "two-way"
    assert other.info["x"]["prior_test_z"] == pytest.approx(base.info["x"]["prior_test_z"], abs=1e-6)
    b = base.consensus.set_index("item_id")
    o = other.consensus.set_index("item_id")
    o.index = o.index.map({v: k for k, v in perm_i.items()})
    o = o.loc[b.index]
    assert (o["label"].astype(str).to_numpy() == b["label"].astype(str).to_numpy()).all()
    assert np.allclose(o["confidence"].to_numpy(float), b["confidence"].to_numpy(float), atol=1e-9)
