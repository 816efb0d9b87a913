r"""The default consensus model: Dawid-Skene with annotator confusions shrunk toward the pool.

Textbook Dawid-Skene (:class:`labkit.stats.consensus.DawidSkene`) estimates one confusion matrix per
annotator from that annotator's judgements alone. In a sparse crowd (most annotators with a handful of
judgements) those matrices are noise, EM trusts them, and the consensus can fall below majority vote.
Here each annotator's confusion row for true class :math:`k` gets a Dirichlet prior worth :math:`s`
judgements, centred on a prior mean :math:`\bar\theta_{jk\cdot}`:

.. math:: \theta_{jk\cdot} = \frac{C_{jk\cdot} + s\,\bar\theta_{jk\cdot}}{C_{jk} + s}

where :math:`C_{jkl}` is the expected number of judgements of annotator :math:`j` with label :math:`l`
on items of true class :math:`k` (the M-step counts). Two prior means are fitted. **One-coin**: the
annotator's own accuracy :math:`a_j`, shrunk toward the crowd's by :math:`s_a` judgements, on the diagonal for
every class, the crowd's pooled confusion (renormalized) off it. **Two-way**: the diagonal moved by each class's
difficulty on the log-odds scale, :math:`\operatorname{logit} \bar\theta_{jkk} = \operatorname{logit} a_j +
\operatorname{logit} \mathrm{acc}_k - \operatorname{logit} \mathrm{acc}` (the crowd's pooled right share on
class :math:`k` against its overall one), the same off it. One accuracy for every class fails where classes
differ in difficulty (a sparse crowd with a hard class: 0.9 to 1.9 points under majority vote); two-way there is
right, but on RTE it costs 0.7 points. So the default (``prior="auto"``) fits both, each from the vote shares,
and keeps two-way only when its held-out judgement likelihood (:func:`_heldout_rows`) is better at
the 5% level in a paired test over items (:func:`_family_test`, after Vuong 1989); one-coin, the simpler,
stays otherwise. ``prior="one-coin"``, ``"two-way"`` or ``"pooled"`` (the crowd's pooled confusion itself)
fit one family. With more than two labels the
Dirichlet gets one more degree of freedom (:func:`eb_strengths`): it factors into a Beta prior on the row's right
share and a Dirichlet on how the wrong judgements spread over the wrong labels, and each factor gets its own
strength, :math:`s` for the right share and :math:`s_e` for the wrong labels' pattern,

.. math:: \theta_{jkk} = \frac{C_{jkk} + s\,\bar\theta_{jkk}}{C_{jk} + s}, \qquad
   \theta_{jkl} = (1 - \theta_{jkk})\,\frac{C_{jkl} + s_e\,\bar\theta_{jkl}}
   {C_{jk} - C_{jkk} + s_e (1 - \bar\theta_{jkk})} \quad (l \ne k)

(:math:`s_e = s` is the Dirichlet above; with two labels the second factor is empty). Annotators whose right
shares differ from class to class but whose mistakes follow the crowd's pattern get a small :math:`s` and a
large :math:`s_e` (zhou2012_dog: 5.5 and 32.5, where one strength fits 7.8). An annotator with little
work sits near the prior; one with much work keeps their own confusion. The strengths are estimated from
the data by **empirical Bayes**: each annotator's confusion counts are modelled as Dirichlet-multinomial
around the prior mean (:func:`eb_strength`), their right/wrong counts as beta-binomial around the crowd's
accuracy (:func:`eb_accuracy_strength`), both likelihoods averaged over the truths' posterior (the EM
objective for a strength: the likelihood of the expected counts would see the annotators as more alike than
they are and over-shrink wherever the truths are uncertain, :class:`_CountSpread`), and EM and the estimates
alternate (from :math:`s = 32`,
warm-started, until :math:`s` moves by less than 5%, at most 6 rounds). Heterogeneous annotators with
plenty of work give a small :math:`s`; a sparse crowd gives a large one, where the model approaches a
skill-weighted vote instead of trusting three judgements per person. EM runs once per distinct judgement
row, weighted by the items that share it (exact). Nothing random: the same data, ids renamed or rows
reordered, give the same labels and confidences.

Confidence: Dawid-Skene posteriors assume annotators err independently given the truth; when errors are
correlated (hard items fool everyone) the posterior is overconfident. With gold, the winning label's
probability is recalibrated on the gold items by the average of an isotonic and a Platt map of its
log-odds, **cross-fitted** (each gold item's calibrated confidence comes from a map fitted on the other
folds' gold items; non-gold items use the map fitted on all gold), so the calibration measured on gold is
honest (:func:`calibrate_on_gold`). Without gold the posterior is tempered by the exponent that maximizes
the held-out judgement likelihood (a weaker, label-only correction that cannot see correlated errors; the
fit says which one was used).

References: Dawid & Skene (1979), doi:10.2307/2346806; shrinkage of per-worker confusions toward a
community confusion follows Venanzi et al. (2014), "Community-based Bayesian aggregation models for
crowdsourcing", WWW, doi:10.1145/2566486.2567989.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from labkit.errors import ParameterError
from labkit.stats.consensus import squarem_point
from labkit.stats.counts import CountTables

__all__ = ["RobustDawidSkene", "ConvergenceWarning", "eb_strength", "eb_strengths"]


class ConvergenceWarning(UserWarning):
    """EM stopped at its iteration cap before reaching the tolerance."""


@dataclass
class _Fit:
    T: np.ndarray            # items x classes posteriors
    logtheta: np.ndarray     # [true, annotator, observed]
    logpi: np.ndarray
    C: np.ndarray            # M-step counts [true, annotator, observed]
    prior: np.ndarray        # prior means [true, annotator, observed]
    n_iter: int
    converged: bool
    heldout: float = float("nan")
    extra: dict[str, Any] = field(default_factory=dict)


def _prior_means(C3: np.ndarray, sa: float, classes: bool = False) -> np.ndarray:
    """Each annotator's prior confusion: a one-coin matrix with their own (shrunk) accuracy on the diagonal
    and the crowd's pooled confusion, renormalized, off it (``sa <= 0``: the pooled confusion itself for every
    annotator). ``classes``: the two-way prior, the diagonal moved on the log-odds scale by each class's
    difficulty, ``logit a[k, j] = logit a[j] + logit acc[k] - logit acc`` (``acc[k]``: the crowd's pooled right
    share on class ``k``, ``acc``: over all classes). ``C3[k, j, l]``: expected counts."""
    if sa <= 0:  # pooled rows: the crowd's confusion for every annotator
        K, J = C3.shape[0], C3.shape[1]
        pooled = C3.sum(axis=1) + 1e-3
        pooled /= pooled.sum(axis=1, keepdims=True)
        return np.broadcast_to(pooled[:, None, :], (K, J, K)).copy()
    K = C3.shape[0]
    pooled = C3.sum(axis=1) + 1e-3                                   # [true, observed]
    off = pooled.copy()
    off[np.arange(K), np.arange(K)] = 0.0
    off /= np.maximum(off.sum(axis=1, keepdims=True), 1e-12)
    right = np.einsum("kjk->j", C3)
    total = C3.sum(axis=(0, 2))
    acc_pool = float(right.sum() / max(total.sum(), 1e-12))
    a = (right + sa * acc_pool) / (total + sa)                        # [annotator]
    if classes and K > 1:
        raw = C3.sum(axis=1)                                               # the same counts as acc_pool's
        acc_k = np.clip(np.diag(raw) / np.maximum(raw.sum(axis=1), 1e-12), 1e-6, 1 - 1e-6)
        a0 = float(np.clip(acc_pool, 1e-6, 1 - 1e-6))
        d = np.log(acc_k / (1 - acc_k)) - np.log(a0 / (1 - a0))         # [true]: class difficulty, log-odds
        ac = np.clip(a, 1e-12, 1 - 1e-12)
        akj = 1.0 / (1.0 + np.exp(-(np.log(ac / (1 - ac))[None, :] + d[:, None])))     # [true, annotator]
    else:
        akj = np.broadcast_to(a[None, :], (K, len(a)))
    prior = (1.0 - akj)[:, :, None] * off[:, None, :]
    prior[np.arange(K), :, np.arange(K)] = akj
    if K == 1:
        prior[:] = 1.0
    return prior


def _argmin_log(nll: Any, lo: float, hi: float, xatol: float = 1e-3) -> float:
    """Golden-section search of ``nll(log s)`` on ``[log lo, log hi]`` (deterministic, ~20 evaluations, no
    scipy.optimize import: that module alone costs half a second of start-up). Returns ``s``."""
    a, b = float(np.log(lo)), float(np.log(hi))
    g = (np.sqrt(5.0) - 1.0) / 2.0
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = nll(c), nll(d)
    while b - a > xatol:
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = nll(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = nll(d)
    return float(np.exp(c if fc <= fd else d))


def eb_accuracy_strength(C3: np.ndarray, lo: float = 0.5, hi: float = 1000.0,
                         spread: _CountSpread | None = None) -> float:
    """Beta-binomial empirical Bayes for how much the crowd's accuracy is worth in judgements (sa).

    ``spread`` (from the same fit): maximize the beta-binomial likelihood of the right/wrong counts averaged
    over the truths' posterior (the EM objective for ``sa``) instead of the likelihood of the expected counts
    (see :class:`_CountSpread`)."""
    from scipy.special import betaln, gammaln

    right = np.einsum("kjk->j", C3)
    total = C3.sum(axis=(0, 2))
    keep = total > 0
    r, n = right[keep], total[keep]
    m = float(np.clip(r.sum() / max(n.sum(), 1e-12), 1e-3, 1 - 1e-3))

    def nll(log_s: float) -> float:
        sv = float(np.exp(log_s))
        a, b = sv * m, sv * (1 - m)
        if spread is None:
            return -float((betaln(r + a, n - r + b) - betaln(a, b)).sum())
        v = (spread.right.lgamma_gain(np.array([[a]]))[0] + spread.right.lgamma_gain(np.array([[b]]), True)[0]
             - gammaln(total + sv) + gammaln(sv))
        return -float(v[keep].sum())

    return _argmin_log(nll, lo, hi)


def _trigamma(x: np.ndarray) -> np.ndarray:
    """The trigamma function for ``x > 0``: the recurrence ``psi1(x) = psi1(x + 1) + 1 / x**2`` up to 6, then the
    asymptotic series to ``x**-9`` (relative error under 1e-8; a test checks it against scipy's
    ``polygamma(1, x)``, which costs four times as much and ran in every strength fit's inner loop)."""
    y = np.array(x, dtype=np.float64)
    out = np.zeros_like(y)
    for _ in range(6):
        lo = y < 6.0
        if not lo.any():
            break
        out[lo] += 1.0 / (y[lo] * y[lo])
        y[lo] += 1.0
    inv = 1.0 / y
    i2 = inv * inv
    out += inv + 0.5 * i2 + inv * i2 * (1.0 / 6.0 - i2 * (1.0 / 30.0 - i2 * (1.0 / 42.0 - i2 / 30.0)))
    return out


_EXACT_MAX = 32   # counts summing at most this many judgements: exact Poisson-binomial; more: second order
_POISSON_X = np.arange(41.0)


class _Spread:
    """The distribution of counts that are sums of independent Bernoulli judgements (a Poisson-binomial per
    cell and slice), enough to take ``E[log Gamma(X + a) - log Gamma(a)]``: exact (the distribution by
    dynamic programming) for cells of at most ``_EXACT_MAX`` judgements, the second-order expansion
    ``log Gamma(mu + a) + var/2 * trigamma(mu + a)`` above (a Poisson sum where ``mu + a < 1``, where that
    expansion does not hold). ``mu``, ``var``: [slice, cell] means and variances; ``cell``, ``mult``: every
    judgement's cell and how many judgements it stands for; ``probs(keep)``: the success probabilities
    [slice, entry] of the judgements ``keep`` selects."""

    def __init__(self, mu: np.ndarray, var: np.ndarray, cell: np.ndarray, mult: np.ndarray,
                 probs: Callable[[np.ndarray], np.ndarray]):
        S, ncells = mu.shape
        m = np.bincount(cell, weights=mult, minlength=ncells)
        self.mu, self.var, self.m = mu, var, m
        self.shape = (S, ncells)
        small = (m > 0) & (m <= _EXACT_MAX)
        keep = small[cell]
        c = np.repeat(cell[keep], mult[keep])
        Pe = np.repeat(probs(keep), mult[keep], axis=1)
        order = np.argsort(c, kind="stable")
        c, Pe = c[order], Pe[:, order]
        pos = np.arange(len(c)) - np.searchsorted(c, np.arange(ncells))[c]
        # per bucket of cells (m in (width/2, width]): P(X > t) and P(m - X > t), t = 0..width-1, since
        # E[log Gamma(X + a) - log Gamma(a)] = sum_t P(X > t) log(a + t)
        self.buckets: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        width = 1
        while width <= _EXACT_MAX:
            ids = np.where(small & (m > width // 2) & (m <= width))[0]
            if len(ids):
                slot = np.full(ncells, -1)
                slot[ids] = np.arange(len(ids))
                e = slot[c] >= 0
                Pm = np.zeros((S, len(ids), width))
                Pm[:, slot[c[e]], pos[e]] = Pe[:, e]
                pmf = np.zeros((S, len(ids), width + 1))
                pmf[:, :, 0] = 1.0
                for t in range(width):   # add one Bernoulli (padding adds p = 0: nothing)
                    p = Pm[:, :, t:t + 1]
                    pmf[:, :, 1:] = pmf[:, :, 1:] * (1 - p) + pmf[:, :, :-1] * p
                    pmf[:, :, :1] *= 1 - p
                sf = 1.0 - np.cumsum(pmf, axis=2)[:, :, :-1]                 # P(X > t)
                # P(m - X > t) = P(X < m - t) = cdf(m - t - 1), zero where m - t - 1 < 0
                cdf = np.cumsum(pmf, axis=2)
                idx = m[ids][:, None].astype(np.int64) - 1 - np.arange(width)[None, :]
                sfc = np.where(idx >= 0, np.take_along_axis(cdf, np.maximum(idx, 0)[None, :, :].repeat(S, 0),
                                                            axis=2), 0.0)
                self.buckets.append((ids, np.maximum(sf, 0.0), sfc, np.arange(width, dtype=np.float64)))
            width *= 2
        self.big = np.where(m > _EXACT_MAX)[0]

    def lgamma_gain(self, a: np.ndarray, complement: bool = False) -> np.ndarray:
        """``E[log Gamma(X + a) - log Gamma(a)]`` per (slice, cell) (``complement``: of ``m - X``); ``a``
        broadcasts to [slice, cell]. Cells with no judgement: 0."""
        from scipy.special import gammaln

        a = np.broadcast_to(a, self.shape)
        out = np.zeros(self.shape)
        for ids, sf, sfc, ts in self.buckets:
            out[:, ids] = ((sfc if complement else sf) * np.log(a[:, ids][:, :, None] + ts)).sum(axis=2)
        b = self.big
        if len(b):
            mu = np.maximum(self.m[b][None, :] - self.mu[:, b] if complement else self.mu[:, b], 0.0)
            ab = a[:, b]
            with np.errstate(invalid="ignore", divide="ignore"):  # mu + ab = 0: inf * 0, replaced just below
                d = gammaln(mu + ab) + 0.5 * self.var[:, b] * _trigamma(mu + ab)
            tiny = (mu + ab) < 1.0
            if tiny.any():
                mt, at = mu[tiny], ab[tiny]
                lp = (_POISSON_X[None, :] * np.log(np.maximum(mt, 1e-300))[:, None] - mt[:, None]
                      - gammaln(_POISSON_X + 1.0)[None, :])
                d[tiny] = (np.exp(lp) * gammaln(_POISSON_X[None, :] + at[:, None])).sum(axis=1)
            out[:, b] = d - gammaln(ab)
        return out


@dataclass
class _CountSpread:
    """How uncertain the M-step counts are. The counts ``C[k, j, l]`` are expectations over the truths'
    posterior; the strengths' likelihoods (Dirichlet-multinomial, beta-binomial) of those expectations see
    annotators as more alike than they are (an average varies less than what it averages), so the
    strengths come out too large wherever the truths are uncertain (sparse crowds: ``sa`` 60-70 instead of
    about 10 on the generated sparse programs with two labels). The EM objective for a strength is the
    likelihood averaged over the posterior instead; with the items independent under the posterior, every
    count is a sum of independent Bernoulli judgements, so the average is a sum of ``E log Gamma`` terms of
    Poisson-binomial counts (:class:`_Spread`). ``cells``: (annotator, label) x true class;
    ``rows``: annotator x true class; ``right``: each annotator's right count; ``diag`` and ``wrong`` (more
    than two labels): annotator x true class, the judgements with the true class's label and with another."""
    cells: _Spread
    rows: _Spread
    right: _Spread
    diag: _Spread | None = None
    wrong: _Spread | None = None


def _count_spread(f: _Fit, coo: tuple[np.ndarray, np.ndarray, np.ndarray], A2T: Any, w: np.ndarray | None,
                  J: int, K: int) -> _CountSpread:
    """The :class:`_CountSpread` of a fit: means from its counts, variances from one sparse product
    (``A2T``: the judgement matrix with squared entries, transposed; a repeated judgement is one
    Bernoulli counted twice), exact distributions for the annotators with few judgements."""
    row, col, mult = coo
    T = f.T
    Q = T * (1.0 - T)
    if w is not None:
        Q = Q * w[None, :]
    V3 = (A2T @ np.ascontiguousarray(Q.T)).reshape(J, K, K).transpose(2, 0, 1)      # [true, annotator, obs]
    C3 = f.C
    ann = col // K

    def truth(keep: np.ndarray) -> np.ndarray:             # [true class, judgement]: the item's posterior
        return _cols(T, row[keep])

    def given(keep: np.ndarray) -> np.ndarray:             # [1, judgement]: the posterior of the label given
        return T[col[keep] % K, row[keep]][None, :]

    cells = _Spread(C3.reshape(K, J * K), V3.reshape(K, J * K), col, mult, truth)
    rows = _Spread(C3.sum(axis=2), V3.sum(axis=2), ann, mult, truth)
    right = _Spread(np.einsum("kjk->j", C3)[None, :], np.einsum("kjk->j", V3)[None, :], ann, mult, given)
    diag = wrong = None
    if K > 2:
        kk = np.arange(K)
        lab = col % K

        def label_is_truth(equal: bool) -> Callable[[np.ndarray], np.ndarray]:
            def probs(keep: np.ndarray) -> np.ndarray:     # [true class, judgement]: that class, label (not) equal
                P = _cols(T, row[keep])
                P *= (lab[keep][None, :] == kk[:, None]) == equal
                return P
            return probs

        diag = _Spread(C3[kk, :, kk], V3[kk, :, kk], ann, mult, label_is_truth(True))
        wrong = _Spread(C3.sum(axis=2) - C3[kk, :, kk], V3.sum(axis=2) - V3[kk, :, kk], ann, mult,
                        label_is_truth(False))
    return _CountSpread(cells, rows, right, diag, wrong)


def _row_patterns(A: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray] | None:
    """Items whose judgement rows are identical (same annotators, same labels, same multiplicities) have the
    same posterior under any Dawid-Skene model, so EM runs once per distinct row, weighted by how many items
    share it. Returns ``(representative item per pattern, pattern of every item)``, or None when fewer than
    a tenth of the items repeat another's row. Exact: rows are grouped by a 64-bit sum of fixed random
    keys and every grouped row is then compared with its representative entry by entry (any hash collision
    falls back to no grouping). ``A`` must be canonical (sorted indices, no duplicates)."""
    I, M = A.shape
    if I < 2 or A.nnz == 0:
        return None
    nnz = np.diff(A.indptr)
    rng = np.random.default_rng(20260612)
    h = rng.integers(1, np.iinfo(np.int64).max, size=M + 1, dtype=np.int64).astype(np.uint64)
    cs = np.zeros(A.nnz + 1, np.uint64)
    np.cumsum(h[A.indices] * A.data.astype(np.uint64), out=cs[1:])    # wraps modulo 2**64: intended
    key = cs[A.indptr[1:]] - cs[A.indptr[:-1]] + h[M] * nnz.astype(np.uint64)
    order = np.argsort(key, kind="stable")
    k0 = key[order]
    new = np.ones(I, bool)
    new[1:] = k0[1:] != k0[:-1]
    if new.sum() > 0.9 * I:
        return None
    grp = np.cumsum(new) - 1
    inv = np.empty(I, np.int64)
    inv[order] = grp
    reps = order[new]              # the sort is stable: the lowest item index of each group
    # verify entry by entry that every row equals its representative's
    rep = reps[inv]
    if (nnz[rep] != nnz).any():
        return None
    row = np.repeat(np.arange(I), nnz)
    q = A.indptr[rep][row] + (np.arange(A.nnz) - A.indptr[row])
    if (A.indices[q] != A.indices).any() or (A.data[q] != A.data).any():
        return None
    return reps, inv


def _confusion_log(C3: np.ndarray, prior: np.ndarray, s: float, se: float) -> np.ndarray:
    """Log posterior-mean confusions ``[true, annotator, observed]`` under the nested prior (:func:`eb_strengths`):
    the right share of row ``k`` shrunk toward the prior's diagonal by ``s`` judgements, the wrong labels' shares
    toward the prior's off-diagonal by ``se (1 - prior[k, j, k])``. ``se == s`` (and any ``se`` with two labels,
    where the wrong label is the other one) is the Dirichlet prior ``s * prior``."""
    K = C3.shape[0]
    if se == s or K <= 2:
        # + 1e-300: a cell with no count and no prior mass gets log 1e-300, not -inf (no effect elsewhere)
        return np.log(C3 + s * prior + 1e-300) - np.log(C3.sum(axis=2) + s)[:, :, None]
    kk = np.arange(K)
    right, n = C3[kk, :, kk], C3.sum(axis=2)                           # [true, annotator]
    a = prior[kk, :, kk]
    acc = (right + s * a) / (n + s)
    e = se * (1.0 - a)                                                 # the wrong labels' prior, in judgements
    off = prior / np.maximum(1.0 - a, 1e-300)[:, :, None]
    th = (1.0 - acc)[:, :, None] * (C3 + e[:, :, None] * off) / np.maximum(n - right + e, 1e-300)[:, :, None]
    th[kk, :, kk] = acc
    return np.log(th + 1e-300)


def _em(A: sp.csr_matrix, AT: Any, N: np.ndarray, I: int, J: int, K: int, s: float, tol: float,
        max_iter: int, T0: np.ndarray | None = None, sa: float = 16.0, w: np.ndarray | None = None,
        se: float | None = None, classes: bool = False) -> _Fit:
    """EM at a fixed prior strength, accelerated by SQUAREM (Varadhan & Roland 2008,
    doi:10.1111/j.1467-9469.2007.00585.x): extrapolate along two EM steps and keep the result only when the
    penalized log-likelihood does not drop. Posteriors are kept classes x items (``T[k, i]``), so every
    per-item reduction runs over contiguous rows; ``AT`` is the CSC transpose of ``A`` (the M-step scatters
    into the small (annotator, label) side). No BLAS call in the loop (a loaded machine makes threaded BLAS
    slower than plain loops). ``se``: the strength of the wrong labels' prior (None: ``s``, the Dirichlet);
    ``classes``: the two-way prior mean (:func:`_prior_means`)."""
    se_ = s if se is None else se
    if T0 is not None:
        T = T0
    else:
        m = N.sum(axis=1)
        T = np.ascontiguousarray((N / np.where(m > 0, m, 1.0)[:, None]).T)
    state: dict[str, np.ndarray] = {}
    logI = np.log(I + K)
    wk = None if w is None else w[None, :]

    def step(T: np.ndarray) -> tuple[np.ndarray, float]:
        Tw = T if wk is None else T * wk
        C = AT @ np.ascontiguousarray(Tw.T)                           # [(annotator, observed), true]
        C3 = C.reshape(J, K, K).transpose(2, 0, 1)                    # [true, annotator, observed]
        prior = _prior_means(C3, sa, classes)
        logtheta = _confusion_log(C3, prior, s, se_)
        logpi = np.log(Tw.sum(axis=1) + 1.0) - logI
        W = np.ascontiguousarray(logtheta.transpose(1, 2, 0).reshape(J * K, K))   # [(j, l), true]
        L = np.ascontiguousarray((A @ W).T)                            # [true, item]
        L += logpi[:, None]
        mx = L.max(axis=0)
        L -= mx
        np.exp(L, out=L)
        z = L.sum(axis=0)
        L /= z
        ll = float(np.log(z).sum() + mx.sum() if w is None else (w * (np.log(z) + mx)).sum()) \
            + float((s * prior * logtheta).sum())
        state.update(C3=C3, prior=prior, logtheta=logtheta, logpi=logpi)
        return L, ll

    def moved(T1: np.ndarray, T: np.ndarray) -> float:
        if not T.size:
            return 0.0
        d = T1 - T
        return max(float(d.max()), -float(d.min()))

    converged, evals = False, 0
    while evals < max_iter:
        T1, _ = step(T)
        evals += 1
        if moved(T1, T) < tol:
            T, converged = T1, True
            break
        if evals + 2 > max_iter:
            T = T1
            continue
        T2, _ = step(T1)
        evals += 1
        Tx = squarem_point(T, T1, T2, axis=0, weights=wk)
        if Tx is None:
            T = T2
            continue
        T3, _ = step(Tx)
        evals += 1
        # keep the extrapolation when it is nearer the fixed point than plain EM got (its residual, one EM
        # step's move, is smaller). The penalized likelihood is no merit function here: the prior means are
        # themselves estimated from the counts, so EM need not increase it, and near the optimum a
        # likelihood test rejects every extrapolation.
        T = T3 if moved(T3, Tx) <= moved(T2, T1) else T2
    if not state:  # max_iter validated >= 1
        step(T)
    # parameters consistent with the returned posteriors
    step(T)
    return _Fit(T=T, logtheta=state["logtheta"], logpi=state["logpi"], C=np.ascontiguousarray(state["C3"]),
                prior=state["prior"], n_iter=evals, converged=converged)


def eb_strength(C: np.ndarray, prior: np.ndarray, lo: float = 0.1, hi: float = 1000.0,
                spread: _CountSpread | None = None) -> float:
    """The prior strength s maximizing the Dirichlet-multinomial likelihood of the annotators' confusion counts.

    ``C[k, j, l]`` are (expected) counts of annotator ``j`` saying ``l`` on class ``k``; each row ``C[k, j]`` is
    modelled as DirMult(s * prior[k, j]). Heterogeneous annotators with evidence give a small ``s`` (trust each
    one's own confusion); a sparse crowd, whose per-annotator counts cannot tell annotators apart, gives a
    large ``s`` (lean on the pool). ``spread`` (from the same fit): the likelihood averaged over the truths'
    posterior, the EM objective for ``s`` (:class:`_CountSpread`), instead of the likelihood of the expected
    counts.
    """
    from scipy.special import gammaln

    n = C.sum(axis=2)
    keep = n > 0
    prior = np.maximum(prior, 1e-300)  # a cell with no prior mass (and no count) adds 0, not inf - inf
    K, J = C.shape[0], C.shape[1]

    def nll(log_s: float) -> float:
        sv = float(np.exp(log_s))
        a = sv * prior
        if spread is None:
            v = gammaln(sv) - gammaln(n + sv) + (gammaln(C + a) - gammaln(a)).sum(axis=2)
        else:
            v = (spread.cells.lgamma_gain(a.reshape(K, J * K)).reshape(K, J, K).sum(axis=2)
                 - spread.rows.lgamma_gain(np.array([[sv]])))
        return -float(v[keep].sum())

    return _argmin_log(nll, lo, hi)


def eb_strengths(C: np.ndarray, prior: np.ndarray, lo: float = 0.1, hi: float = 1000.0,
                 spread: _CountSpread | None = None) -> tuple[float, float]:
    """Two strengths ``(s, se)`` for a nested prior on each confusion row: how much annotators' right shares
    differ from the prior's diagonal, and how much their wrong labels' pattern differs from the prior's
    off-diagonal.

    A Dirichlet ``DirMult(s * prior[k, j])`` row factors exactly into a beta-binomial for the right count
    (``Beta(s a, s (1 - a))``, ``a = prior[k, j, k]``) and a Dirichlet-multinomial for the wrong labels among
    themselves (``DirMult(s (1 - a) * off)``), one strength for both. Here each factor gets its own: ``s`` is
    fitted to the beta-binomial, ``se`` to the wrong labels' Dirichlet-multinomial (concentration
    ``se (1 - a) * off``). The Dirichlet (:func:`eb_strength`) is the case ``se == s``, so the fitted pair's
    marginal likelihood is never below it. Annotators whose right shares vary from class to class but whose
    mistakes follow the crowd's pattern get a small ``s`` and a large ``se``. With two labels the wrong label
    is the other one, the second factor is empty and this is :func:`eb_strength` (``se = s``). ``spread``: the
    likelihoods averaged over the truths' posterior, as in :func:`eb_strength`.
    """
    from scipy.special import gammaln

    K, J = C.shape[0], C.shape[1]
    if K <= 2 or (spread is not None and (spread.wrong is None or spread.diag is None)):
        v = eb_strength(C, prior, lo, hi, spread)
        return v, v
    kk = np.arange(K)
    n = C.sum(axis=2)
    right = C[kk, :, kk]
    wrong = n - right
    a = np.clip(prior[kk, :, kk], 1e-12, 1.0 - 1e-12)                 # [true, annotator]
    off = np.maximum(prior / (1.0 - a)[:, :, None], 1e-300)
    diag = np.zeros((K, J, K), bool)
    diag[kk, :, kk] = True
    keep, keep_w = n > 0, wrong > 0

    def nll_right(log_s: float) -> float:
        sv = float(np.exp(log_s))
        if spread is None:
            v = (gammaln(right + sv * a) - gammaln(sv * a) + gammaln(wrong + sv * (1 - a)) - gammaln(sv * (1 - a))
                 + gammaln(sv) - gammaln(n + sv))
        else:
            assert spread.wrong is not None and spread.diag is not None
            v = (spread.diag.lgamma_gain(sv * a) + spread.wrong.lgamma_gain(sv * (1 - a))
                 - spread.rows.lgamma_gain(np.array([[sv]])))
        return -float(v[keep].sum())

    def nll_wrong(log_s: float) -> float:
        e = float(np.exp(log_s)) * (1 - a)                              # [true, annotator]
        c = e[:, :, None] * off
        if spread is None:
            g = gammaln(C + c) - gammaln(c)
            g[diag] = 0.0
            v = g.sum(axis=2) + gammaln(e) - gammaln(wrong + e)
        else:
            assert spread.wrong is not None
            g = spread.cells.lgamma_gain(np.where(diag, 1.0, c).reshape(K, J * K)).reshape(K, J, K)
            g[diag] = 0.0
            v = g.sum(axis=2) - spread.wrong.lgamma_gain(e)
        return -float(v[keep_w].sum())

    s_right = _argmin_log(nll_right, lo, hi)
    s_wrong = _argmin_log(nll_wrong, lo, hi) if keep_w.any() else s_right
    return s_right, s_wrong


def _cols(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``a[:, idx]`` as a C-contiguous array, one row at a time (``take(axis=1)`` and fancy indexing are slower
    on a few long rows, and fancy indexing returns a strided array)."""
    out = np.empty((a.shape[0], len(idx)), dtype=a.dtype)
    for k in range(a.shape[0]):
        np.take(a[k], idx, out=out[k])
    return out


def _heldout_loglik(f: _Fit, s: float | tuple[float, float], A: sp.csr_matrix, w: np.ndarray | None) -> float:
    """Leave-one-judgement-out log-likelihood per judgement: each judgement is predicted from its item's
    posterior without it and its annotator's confusion re-estimated without it (shrunk as fitted; ``s``: the
    Dirichlet strength, or the nested prior's ``(s, se)``, :func:`eb_strengths`, where the held-out judgement's
    share of its annotator's right count, wrong count and label cell is removed before shrinking each factor)."""
    return _per_judgement(_heldout_rows(f, s, A), A, w)


def _per_judgement(rows: np.ndarray, A: sp.csr_matrix, w: np.ndarray | None) -> float:
    """Per-row sums (:func:`_heldout_rows`) as a mean per judgement: rows weighted by the items they stand for."""
    wr = np.ones(A.shape[0]) if w is None else w
    n = float((np.asarray(A.sum(axis=1)).ravel() * wr).sum())      # the judgements the rows stand for
    return float((wr * rows).sum() / max(n, 1e-12))


def _heldout_rows(f: _Fit, s: float | tuple[float, float], A: sp.csr_matrix) -> np.ndarray:
    """:func:`_heldout_loglik`'s terms summed per judgement row (one item of each distinct row): the held-out
    log-likelihood of each item's judgements, what :func:`_family_test` pairs between two fits."""
    K = f.C.shape[0]
    s, se = s if isinstance(s, tuple) else (s, s)
    Ac = A.tocoo()
    r, c = Ac.row, Ac.col
    f32 = np.float32    # [true, judgement] arrays: half the memory traffic; the sums below are float64

    def at(table: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return _cols(np.ascontiguousarray(table.reshape(K, -1), dtype=f32), idx)

    # the item's posterior without the judgement: its posterior divided by the judgement's factor, renormalized
    Ti = at(f.T, r)
    lp = Ti / np.maximum(at(np.exp(f.logtheta), c), f32(1e-30))
    lp /= np.maximum(lp.sum(axis=0), f32(1e-30))
    ann = c // max(K, 1)
    if se != s and K > 2:  # the nested prior: each factor shrunk without the held-out judgement
        kk = np.arange(K)
        is_right = (c % K)[None, :] == kk[:, None]
        n = at(f.C.sum(axis=2), ann) - Ti
        right = at(f.C[kk, :, kk], ann) - is_right * Ti
        a = at(f.prior[kk, :, kk], ann)
        acc = (right + f32(s) * a) / (n + f32(s))
        e = f32(se) * (1 - a)
        off = at(f.prior, c) / np.maximum(1 - a, f32(1e-30))
        th = (1 - acc) * (at(f.C, c) - Ti + e * off) / np.maximum(n - right + e, f32(1e-30))
        th = np.where(is_right, acc, th)
    else:  # the Dirichlet: (C - own + s prior) / (n - own + s)
        th = at(f.C + s * f.prior, c)
        th -= Ti
        Ti -= f32(s)
        den = at(f.C.sum(axis=2), ann)
        den -= Ti
        th /= den
    np.maximum(th, f32(1e-12), out=th)
    lp *= th
    like = lp.sum(axis=0, dtype=np.float64)
    return np.bincount(r, weights=Ac.data * np.log(np.maximum(like, 1e-300)), minlength=A.shape[0])


_FAMILIES = ("one-coin", "two-way", "pooled")
_Z_SWITCH = 1.959964   # two-sided 5% critical value of the standard normal (Vuong 1989)


def _family_test(one: np.ndarray, two: np.ndarray, w: np.ndarray | None) -> dict[str, float]:
    """Paired test of two fits' held-out judgement likelihoods, item by item (:func:`_heldout_rows`), after
    Vuong (1989), "Likelihood ratio tests for model selection and non-nested hypotheses", Econometrica,
    doi:10.2307/1912557: ``z`` is the mean per-item gain of ``two`` over ``one`` divided by its standard error
    (items weighted by how many share a judgement row). Items, not judgements, are the units: an item's
    judgements share its posterior. ``gain``: the total in nats."""
    d = two - one
    wr = np.ones(len(d)) if w is None else w
    n = float(wr.sum())
    if n <= 1:
        return {"gain": float((wr * d).sum()), "z": 0.0, "items": n}
    mu = float((wr * d).sum()) / n
    sd = float(np.sqrt((wr * (d - mu) ** 2).sum() / (n - 1)))
    z = mu * np.sqrt(n) / sd if sd > 0 else (0.0 if mu == 0 else float(np.sign(mu)) * np.inf)
    return {"gain": mu * n, "z": float(z), "items": n}


class RobustDawidSkene:
    """Dawid-Skene with empirical-Bayes shrinkage of annotator confusions (see the module docstring).

    Parameters
    ----------
    strength : the prior strength in judgements (both factors of the nested prior); None (default): ``s`` and
        ``s_e`` estimated by empirical Bayes (:func:`eb_strengths`).
    tol : stop when no posterior moves by more than this in one EM step.
    max_iter : EM iteration cap per round; ``converged_`` is False (and a :class:`ConvergenceWarning` is
        issued) when the last round hit it.
    prior : the prior family (:func:`_prior_means`): "one-coin" (the annotator's own shrunk accuracy on the
        diagonal, the pooled confusion off it), "two-way" (that accuracy moved on the log-odds scale by each
        class's difficulty), "pooled" (the crowd's pooled confusion), or "auto" (default: fit one-coin and
        two-way, keep two-way only when its held-out judgement likelihood is better at the 5% level,
        :func:`_family_test`; ``heldout_`` and ``family_test_`` say what was measured).

    Attributes (after :meth:`fit_counts`)
    -------------------------------------
    posteriors_ : items x labels DataFrame; strength_ : the s used (the right shares'); error_strength_ : s_e
    (the wrong labels' pattern; equal to s with two labels); strength_path_ : s per round;
    errors_ : [annotator, true, observed] confusion; priors_ ; converged_ ; n_iter_ (EM steps, all rounds);
    logjoint_ (items x K log joint).
    """

    def __init__(self, strength: float | None = None, tol: float = 1e-4, max_iter: int = 500, sa: float | None = None,
                 prior: str = "auto"):
        self.prior = prior
        self.strength = strength
        self.sa = sa
        self.tol = tol
        self.max_iter = max_iter

    def fit_counts(self, ct: CountTables) -> RobustDawidSkene:
        if self.strength is not None and not (isinstance(self.strength, (int, float)) and self.strength > 0):
            raise ParameterError(f"strength must be a positive number or None, got {self.strength!r}")
        if not (isinstance(self.tol, (int, float)) and self.tol > 0):
            raise ParameterError(f"tol must be a positive number, got {self.tol!r}")
        if self.prior not in _FAMILIES + ("auto",):
            raise ParameterError(f"prior must be 'auto', 'one-coin', 'two-way' or 'pooled', got {self.prior!r}")
        if not (isinstance(self.max_iter, (int, np.integer)) and self.max_iter >= 1):
            raise ParameterError(f"max_iter must be a positive integer, got {self.max_iter!r}")
        I, J, K = ct.n_items, ct.n_annotators, ct.n_labels
        col = ct.annotator.astype(np.int64) * K + ct.label
        A = sp.csr_matrix((np.ones(ct.n_judgements), (ct.item, col)), shape=(I, J * K))
        A.sum_duplicates()
        N = ct.counts().astype(np.float64)
        w, inv = None, None
        pat = _row_patterns(A)
        if pat is not None:  # EM over distinct judgement rows, weighted by how many items share each
            reps, inv = pat
            A, N = A[reps], N[reps]
            w = np.bincount(inv).astype(np.float64)
        AT = A.T  # CSC: the M-step scatters into the small side
        U = A.shape[0]
        args = (A, AT, N, U, J, K, w)
        family = "one-coin" if self.prior == "auto" else self.prior
        test = self.prior == "auto" and ct.n_judgements > 0 and K > 1
        # with a family test, both fits stop at the strengths' rough tolerance and only the kept one is polished
        rough = test and self.strength is None
        f, s, se, sa, path, total = self._fit_family(*args, family=family, fit_s=ct.n_judgements > 0,
                                                     polish=not rough)
        self.heldout_, self.family_test_ = {}, {}
        if test:
            # class difficulty in the prior only where held-out judgements say so
            g = self._fit_family(*args, family="two-way", fit_s=True, polish=not rough)
            total += g[5]
            one, two = _heldout_rows(f, (s, se), A), _heldout_rows(g[0], (g[1], g[2]), A)
            self.heldout_ = {"one-coin": _per_judgement(one, A, w), "two-way": _per_judgement(two, A, w)}
            self.family_test_ = _family_test(one, two, w)
            if self.family_test_["z"] > _Z_SWITCH:
                f, s, se, sa, path = g[0], g[1], g[2], g[3], g[4]
                family = "two-way"
            if rough:
                f = self._polish(f, args, s, se, sa, family == "two-way")
                total += f.n_iter
        self.prior_family_ = family
        if not f.converged:
            warnings.warn(f"consensus EM for task {ct.task!r} stopped at its cap of {self.max_iter} iterations before "
                          f"reaching tol {self.tol:g}", ConvergenceWarning, stacklevel=2)
        self.strength_ = s
        self.error_strength_ = se
        self.accuracy_strength_ = sa
        self.strength_path_ = path
        self.converged_ = f.converged
        self.n_iter_ = total
        self.task_ = ct.task
        self.annotators_ = ct.annotators
        self.errors_ = np.exp(f.logtheta).transpose(1, 0, 2)
        self.priors_ = pd.Series(np.exp(f.logpi), index=ct.labels, name="prior")
        lj = A @ np.ascontiguousarray(f.logtheta.transpose(1, 2, 0).reshape(J * K, K)) + f.logpi
        # the distinct judgement rows, the items each stands for, their log joint and representative items:
        # what :meth:`temper` and the skill table sum over
        self._patterns = (A, np.ones(U) if w is None else w, lj, None if pat is None else pat[0])
        if inv is not None:
            f.T = _cols(f.T, inv)
            lj = lj[inv]
        self.posteriors_ = pd.DataFrame(f.T.T, index=pd.Index(ct.items, name="item_id"), columns=ct.labels)
        self.logjoint_ = lj
        self._fit = f
        return self

    def _fit_family(self, A: sp.csr_matrix, AT: Any, N: np.ndarray, U: int, J: int, K: int, w: np.ndarray | None,
                    *, family: str, fit_s: bool, polish: bool = True) -> tuple[_Fit, float, float, float, list[float], int]:
        """EM alternating with the empirical-Bayes strengths, for one prior family (:func:`_prior_means`):
        one-coin, two-way or pooled, each from the same start (the vote shares, ``s = 32``): starting one
        family from another's posteriors or strengths hands on a collapse (a two-way fit started from a
        collapsed one-coin fit's posteriors, or from its strengths, collapsed too: 0.5860 or 0.5865 against 0.7915
        from the common start, ``test_hard_frequent_class_where_one_coin_collapses...``); ``polish``:
        finish at the requested tolerance (False: at the rough one the strengths were fitted at,
        :meth:`_polish` later). Returns the fit, the strengths ``s`` and ``se`` (:func:`eb_strengths`), ``sa``,
        the path of ``s``, the EM steps."""
        pooled, classes = family == "pooled", family == "two-way"
        s = float(self.strength) if self.strength is not None else 32.0
        se = s
        sa = 0.0 if pooled else (16.0 if self.sa is None else float(self.sa))
        total = 0
        rough = max(float(self.tol), 1e-3) if self.strength is None else float(self.tol)
        f = _em(A, AT, N, U, J, K, s, rough, int(self.max_iter), sa=sa, w=w, se=se, classes=classes)
        total += f.n_iter
        path = [s]
        # the strengths are fitted to the likelihood averaged over the truths' posterior (_CountSpread)
        Ac = A.tocoo()
        coo = (Ac.row, Ac.col, np.rint(Ac.data * (1.0 if w is None else w[Ac.row])).astype(np.int64))
        A2 = A.copy()
        A2.data = A2.data * A2.data
        A2T = A2.T
        if self.strength is None and fit_s:
            for _ in range(6):
                sp_ = _count_spread(f, coo, A2T, w, J, K)
                if self.sa is None and not pooled:
                    sa = eb_accuracy_strength(f.C, spread=sp_)
                s_new, se_new = eb_strengths(f.C, _prior_means(f.C, sa, classes), spread=sp_)
                path.append(s_new)
                moved = max(abs(np.log(s_new / s)), abs(np.log(se_new / se))) > np.log(1.05)
                s, se = s_new, se_new
                f = _em(A, AT, N, U, J, K, s, rough, int(self.max_iter), T0=f.T, sa=sa, w=w, se=se, classes=classes)
                total += f.n_iter
                if not moved:
                    break
            if polish:  # the estimates of s are settled: polish at the requested tolerance
                f = self._polish(f, (A, AT, N, U, J, K, w), s, se, sa, classes)
                total += f.n_iter
        if pooled:  # the skill table still needs how much the crowd's accuracy is worth
            sa = eb_accuracy_strength(f.C, spread=_count_spread(f, coo, A2T, w, J, K))
        return f, s, se, sa, path, total

    def _polish(self, f: _Fit, args: tuple[Any, ...], s: float, se: float, sa: float, classes: bool) -> _Fit:
        """EM from ``f`` at the requested tolerance, the strengths fixed."""
        A, AT, N, U, J, K, w = args
        return _em(A, AT, N, U, J, K, s, float(self.tol), int(self.max_iter), T0=f.T, sa=sa, w=w, se=se,
                   classes=classes)

    def temper(self, ct: CountTables, grid: tuple[float, ...] = (1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 6.0),
               stop_early: bool = True) -> float:
        """The exponent 1/t for the posteriors that maximizes the held-out judgement likelihood (label-only).

        Each judgement is predicted from its item's posterior without it, tempered:
        ``P_t(k) ~ exp((logjoint[i, k] - log theta[k, j, l]) / t)``, scored by ``log sum_k P_t(k) theta[k, j, l]``.
        ``stop_early``: stop at the first grid point that scores lower than the best so far (the score was
        unimodal along the grid on all 40 bench sets, public and generated; a test checks that the whole grid
        gives the same answer on the public datasets). Most tasks stop after two points instead of seven.
        """
        K = ct.n_labels
        A, w, lj, _ = self._patterns       # judgement rows (distinct ones, with the items they stand for)
        Ac = A.tocoo()
        wr = Ac.data * w[Ac.row]           # judgements each (row, annotator-label) entry stands for
        lt = self._fit.logtheta                                      # [true, annotator, observed]
        # take(axis=1) keeps [true, judgement] C-contiguous (fancy indexing a[:, idx] would not, and every
        # reduction over the true class would then stride)
        own = _cols(lt.reshape(K, -1), Ac.col)
        X0 = _cols(np.ascontiguousarray(lj.T), Ac.row)
        X0 -= own
        X0 -= X0.max(axis=0)                                         # <= 0: the tempered softmax needs no shift
        X0 = X0.astype(np.float32)
        np.exp(own, out=own)
        th = own.astype(np.float32)
        best_t, best_ll = 1.0, -np.inf
        for t in grid:
            P = X0 * np.float32(1.0 / t)
            np.exp(P, out=P)
            z = P.sum(axis=0, dtype=np.float64)
            P *= th
            num = P.sum(axis=0, dtype=np.float64)
            ll = float((wr * (np.log(np.maximum(num, 1e-300)) - np.log(z))).sum())
            if ll > best_ll + 1e-9:
                best_t, best_ll = t, ll
            elif stop_early and ll < best_ll - 1e-9:
                break
        return best_t


class _Isotonic:
    """Increasing step fit of y on x (scipy's pool-adjacent-violators), linear between fitted points,
    clipped at the ends and to [lo, 1]."""

    def __init__(self, x: np.ndarray, y: np.ndarray, lo: float):
        from scipy.optimize import isotonic_regression

        xs, inv = np.unique(np.asarray(x, dtype=np.float64), return_inverse=True)
        w = np.bincount(inv).astype(np.float64)
        ym = np.bincount(inv, weights=np.asarray(y, dtype=np.float64)) / w
        self.x = xs
        self.y = np.clip(isotonic_regression(ym, weights=w, increasing=True).x, lo, 1.0)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(x, dtype=np.float64), self.x, self.y)


class _Platt:
    """Logistic map of the winner's log-odds (Platt 1999; with the posterior's own log-odds as the score this is
    temperature scaling plus a bias): two parameters, fitted by damped Newton steps on the log loss with a small
    ridge (finite even when the gold is separable), bounded below by ``lo``."""

    def __init__(self, x: np.ndarray, y: np.ndarray, lo: float):
        z = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        self.scale = max(float(np.abs(z).max()) if z.size else 1.0, 1e-12)
        z = z / self.scale                     # parameters on a unit scale: the ridge means the same everywhere
        lam = 1e-3 * max(len(z), 1)

        def loss(b: np.ndarray) -> float:
            u = z * b[0] + b[1]
            return float((np.logaddexp(0.0, u) - y * u).sum() + 0.5 * lam * (b * b).sum())

        beta = np.array([0.0, 0.0])
        cur = loss(beta)
        for _ in range(100):
            p = 1.0 / (1.0 + np.exp(-(z * beta[0] + beta[1])))
            r = p - y
            g = np.array([(r * z).sum(), r.sum()]) + lam * beta
            q = p * (1 - p)
            H = np.array([[(q * z * z).sum() + lam, (q * z).sum()], [(q * z).sum(), q.sum() + lam]])
            d = np.linalg.solve(H, g)
            t = 1.0
            while t > 1e-8:
                new = loss(beta - t * d)
                if new <= cur:
                    break
                t /= 2
            beta, step = beta - t * d, float(np.abs(t * d).max())
            cur = min(cur, new)
            if step < 1e-10:
                break
        self.beta, self.lo = beta, lo

    def predict(self, x: np.ndarray) -> np.ndarray:
        u = np.asarray(x, dtype=np.float64) / self.scale * self.beta[0] + self.beta[1]
        return np.clip(1.0 / (1.0 + np.exp(-u)), self.lo, 1.0)


class _Blend:
    """Isotonic regression shrunk halfway toward Platt's map: monotone, less step noise than isotonic alone."""

    def __init__(self, x: np.ndarray, y: np.ndarray, lo: float):
        self.a, self.b = _Isotonic(x, y, lo), _Platt(x, y, lo)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return 0.5 * (self.a.predict(x) + self.b.predict(x))


def _folds(score: np.ndarray, order_key: np.ndarray, folds: int) -> np.ndarray:
    """Deterministic folds: ranks by score (then ``order_key``), dealt round-robin."""
    order = np.lexsort((order_key, score))
    fold = np.empty(len(score), np.int64)
    fold[order] = np.arange(len(score)) % folds
    return fold


def calibrate_on_gold(score: np.ndarray, correct: np.ndarray, gold_idx: np.ndarray, *, folds: int = 5,
                      n_classes: int = 2) -> tuple[np.ndarray, np.ndarray, str]:
    """Calibration of winner confidences on gold items, cross-fitted.

    ``score``: per item, the winner's log-odds under the model (any increasing function of the raw confidence
    works; the log-odds keeps apart the posteriors that floating point rounds to 1); ``correct``: 1 where the
    winner equals gold (on ``gold_idx``). The map is the average of an isotonic regression (monotone steps:
    flexible, noisy on little gold) and Platt's logistic map of the score (two parameters: smooth, possibly too
    rigid). Picking one of them by cross-validation was tried and rejected: on a hundred gold items the pick
    itself is noise (it changed from fold to fold and doubled the error it was meant to reduce).
    Returns ``(calibrated confidence for every item, the cross-fitted calibrated confidence of the gold items,
    the map's name)``: each gold item's value comes from the map fitted on the gold items of the other folds,
    so no gold item's own label informs its own confidence; every other item gets the map fitted on all gold.
    Folds are deterministic (rank order of the score, then item position, dealt round-robin). Bounded below by
    1/K (the winner is at least as likely as a uniform guess).
    """
    lo = 1.0 / max(n_classes, 1)
    score = np.asarray(score, dtype=np.float64)
    x, y = score[gold_idx], np.asarray(correct, dtype=np.float64)
    out = _Blend(x, y, lo).predict(score)
    fold = _folds(x, np.asarray(gold_idx), folds)
    crossed = np.empty(len(gold_idx))
    for f in range(folds):
        test = fold == f
        if not test.any() or test.all():
            crossed[test] = out[gold_idx[test]]
            continue
        crossed[test] = _Blend(x[~test], y[~test], lo).predict(x[test])
    out[gold_idx] = crossed
    return out, crossed, "blend"
