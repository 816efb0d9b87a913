"""Layer weights of the review ranking: features, their default weights, and learning them from gold.

The ranking score is a logistic model over two item-level features read from the one consensus fit
(:func:`labkit.stats.truth.fit_consensus`; no second estimator):

* ``x_uncertain`` = the larger of the within-task percentile ranks of ``p_model`` (posterior mass off the
  consensus label) and ``p_skill`` (the same in a vote weighted by each voter's estimated accuracy): an item
  is suspect when *either* view doubts it (the model's posterior is often saturated at 0 or 1; the
  skill-weighted vote keeps those items apart);
* ``x_unstable`` = the within-task percentile rank of ``p_loo``: the largest posterior mass off the consensus
  label after leaving out any one judgement (the fit's annotator confusions, re-scored without it), i.e. how
  much the consensus hangs on a single annotator.

``p_error = expit(b0 + b1 x_uncertain + b2 x_unstable)``. :data:`DEFAULT_WEIGHTS` were learned by
:func:`learn_weights` on the six public datasets with gold in ``tests/data/public`` (each dataset weighing the
same); ``python bench/bench_review.py --learn-defaults`` prints them again, and the bench scores every dataset
with weights learned *without* it (leave one dataset out), so the quoted ranking quality is held out.
With gold (or past review outcomes) for a task, :func:`cross_fit` refines the weights on that task, shrunk
toward the defaults, and each gold item's own score comes from a fit that did not see it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["DEFAULT_WEIGHTS", "FEATURES", "rank_features", "fit_logistic", "learn_weights", "cross_fit", "expit"]

FEATURES = ("intercept", "max rank of p_model, p_skill", "rank of p_loo")

#: learned by :func:`learn_weights` on the six public datasets (``bench/bench_review.py --learn-defaults``)
DEFAULT_WEIGHTS: tuple[float, float, float] = (-5.1, 1.5, 2.7)


def expit(z: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-z)) without overflow."""
    return np.asarray(np.exp(-np.logaddexp(0.0, -np.asarray(z, dtype=np.float64))))


def _pct_rank(x: np.ndarray) -> np.ndarray:
    """Mid-rank percentile in (0, 1): ties share their average rank."""
    from scipy.stats import rankdata

    n = len(x)
    if n == 0:
        return np.zeros(0)
    return (rankdata(x, method="average") - 0.5) / n


def rank_features(p_model: np.ndarray, p_skill: np.ndarray, p_loo: np.ndarray) -> np.ndarray:
    """The (n, 2) feature matrix ``[x_uncertain, x_unstable]`` of one task's items."""
    return np.column_stack([np.maximum(_pct_rank(np.asarray(p_model, float)), _pct_rank(np.asarray(p_skill, float))),
                            _pct_rank(np.asarray(p_loo, float))])


def fit_logistic(X: np.ndarray, y: np.ndarray, *, sample_weight: np.ndarray | None = None,
                 prior: Sequence[float] | np.ndarray | None = None,
                 strength: float | Sequence[float] | np.ndarray = 1.0) -> np.ndarray:
    """Penalised logistic regression by Newton steps: ``y ~ expit(b0 + X b)``.

    The slopes are pulled toward ``prior`` (zeros when None) with an L2 penalty of ``strength`` (one number,
    or one per slope); the intercept is nearly free. Returns ``(b0, b1, ...)``.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    Xb = np.column_stack([np.ones(len(X)), X])
    d = Xb.shape[1]
    w = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    b0 = np.zeros(d) if prior is None else np.asarray(prior, dtype=np.float64).copy()
    if len(b0) != d:
        raise ValueError(f"prior has {len(b0)} weights, the model {d}")
    R = np.diag(np.concatenate([[1e-4], np.broadcast_to(np.asarray(strength, dtype=np.float64), (d - 1,))]))
    b = b0.copy()

    def objective(beta: np.ndarray) -> float:  # penalised log-likelihood
        z = Xb @ beta
        return float((w * (y * z - np.logaddexp(0.0, z))).sum() - 0.5 * (beta - b0) @ R @ (beta - b0))

    f = objective(b)
    for _ in range(100):
        p = expit(Xb @ b)
        g = Xb.T @ (w * (y - p)) - R @ (b - b0)
        H = (Xb * (w * p * (1 - p))[:, None]).T @ Xb + R
        step = np.linalg.solve(H, g)
        # step halving: a full Newton step can overshoot when the known items (nearly) separate the errors
        for _ in range(40):
            f_new = objective(b + step)
            if f_new >= f - 1e-12:
                break
            step = step / 2
        b = b + step
        f = max(f, f_new)
        if np.abs(step).max() < 1e-9:
            break
    return b


def learn_weights(datasets: Sequence[tuple[np.ndarray, np.ndarray]], *, strength: float = 1.0) -> np.ndarray:
    """Default weights from several gold-labelled tasks, each task weighing the same whatever its size.

    ``datasets``: ``(X, err)`` pairs, ``X`` from :func:`rank_features` on the task's gold items' indicators
    (ranked within the whole task) and ``err`` whether the consensus label differs from gold.
    """
    if not datasets:
        raise ValueError("learn_weights needs at least one dataset")
    Xs = [np.asarray(X, float) for X, _ in datasets]
    ys = [np.asarray(e, float) for _, e in datasets]
    ws = [np.full(len(X), 1000.0 / max(len(X), 1)) for X in Xs]
    return fit_logistic(np.vstack(Xs), np.concatenate(ys), sample_weight=np.concatenate(ws), strength=strength)


def cross_fit(X_gold: np.ndarray, err: np.ndarray, prior: Sequence[float] | np.ndarray, *, folds: int = 5,
              strength: float | Sequence[float] | np.ndarray = 20.0, min_errors: int = 20,
              seed: int = 0) -> tuple[np.ndarray, np.ndarray, bool]:
    """Task weights learned from gold, shrunk toward ``prior``, cross-fitted.

    Returns ``(beta_all, z_gold, learned)``: the weights fitted on every gold item (for the other items),
    each gold item's logit from a fit on the other folds, and whether anything was learned (a fold whose
    training part holds fewer than ``min_errors`` errors keeps ``prior``: too few errors teach only noise).
    """
    X = np.asarray(X_gold, float)
    y = np.asarray(err, bool)
    pri = np.asarray(prior, float)
    Xb = np.column_stack([np.ones(len(X)), X])
    if y.sum() < min_errors:
        return pri, Xb @ pri, False
    fold = np.random.default_rng(seed).permutation(len(y)) % folds
    z = np.zeros(len(y))
    for f in range(folds):
        tr = fold != f
        b = fit_logistic(X[tr], y[tr], prior=pri, strength=strength) if y[tr].sum() >= min_errors else pri
        z[~tr] = Xb[~tr] @ b
    return fit_logistic(X, y, prior=pri, strength=strength), z, True
