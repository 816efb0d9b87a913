"""A/B tests of reward schemes: clustered assignment, power with clustering and unequal volume, analysis.

* :func:`assign`: each annotator to an arm by a keyed hash of (experiment salt, annotator id): stable,
  independent of row order and of who else is in the program.
* :func:`power` / :func:`mde`: the judgement-level difference in means between two arms of annotators with
  intra-cluster correlation ``icc`` and cluster sizes of mean ``mean_size`` and coefficient of variation
  ``cv``; the variance is inflated by the design effect ``1 + ((1 + cv^2) * mean_size - 1) * icc``
  (Eldridge, Ashby and Kerry 2006) and the test uses Student's t with ``clusters - 2`` degrees of freedom.
* :func:`analyze`: OLS of the outcome on the arm with a cluster-robust (CR1, annotator-clustered) standard
  error and a t interval with ``G - 1`` degrees of freedom, as ``statsmodels``' ``cov_type="cluster"``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from labkit.errors import ParameterError

__all__ = ["assign", "design_effect", "power", "mde", "analyze", "ABResult", "simulate_experiment"]


def assign(annotator_ids: Sequence[str] | pd.Series, arms: Sequence[str] = ("control", "treatment"), *,
           salt: str = "labkit-ab") -> pd.Series:
    """Arm per annotator from a SHA-256 of ``salt:annotator_id`` (deterministic; same id, same arm)."""
    if len(arms) < 2:
        raise ParameterError("an experiment needs at least two arms")
    ids = pd.Index(pd.unique(pd.Series(annotator_ids).astype(str)))
    idx = [int(hashlib.sha256(f"{salt}:{a}".encode()).hexdigest()[:12], 16) % len(arms) for a in ids]
    return pd.Series([arms[i] for i in idx], index=ids, name="arm")


def design_effect(mean_size: float, icc: float, cv: float = 0.0) -> float:
    """Variance inflation of a judgement-level mean from clustering: ``1 + ((1 + cv^2) m - 1) icc``.

    >>> round(design_effect(20, 0.05, 0.0), 10)
    1.95
    """
    if mean_size < 1 or not 0 <= icc <= 1 or cv < 0:
        raise ParameterError("need mean_size >= 1, 0 <= icc <= 1 and cv >= 0")
    return 1.0 + ((1.0 + cv * cv) * mean_size - 1.0) * icc


def _se(clusters: int, mean_size: float, icc: float, cv: float, sd: float) -> float:
    per_arm = clusters / 2 * mean_size
    return float(sd * np.sqrt(design_effect(mean_size, icc, cv) * 2 / per_arm))


def power(effect: float, *, clusters: int, mean_size: float, icc: float, cv: float = 0.0, sd: float = 0.5,
          alpha: float = 0.05) -> float:
    """Power of a two-sided test of ``effect`` with ``clusters`` annotators split evenly over two arms.

    ``sd`` is the outcome's judgement-level standard deviation (``sqrt(p (1 - p))`` for accuracy).
    """
    if clusters < 4:
        raise ParameterError("a clustered test needs at least 4 annotators")
    se = _se(clusters, mean_size, icc, cv, sd)
    df = clusters - 2
    t = stats.t.ppf(1 - alpha / 2, df)
    nc = abs(effect) / se
    return float(stats.nct.sf(t, df, nc) + stats.nct.cdf(-t, df, nc))


def mde(*, clusters: int, mean_size: float, icc: float, cv: float = 0.0, sd: float = 0.5, alpha: float = 0.05,
        target_power: float = 0.8) -> float:
    """Smallest effect detected with ``target_power`` (bisection on :func:`power`)."""
    lo, hi = 0.0, 10 * sd
    for _ in range(80):
        mid = (lo + hi) / 2
        if power(mid, clusters=clusters, mean_size=mean_size, icc=icc, cv=cv, sd=sd, alpha=alpha) < target_power:
            lo = mid
        else:
            hi = mid
    return hi


@dataclass(frozen=True)
class ABResult:
    effect: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    n_clusters: int
    n_obs: int
    mean_control: float
    mean_treatment: float
    p_permutation: float = float("nan")

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def analyze(frame: pd.DataFrame, *, outcome: str = "y", arm: str = "arm", cluster: str = "annotator_id",
            treatment: str = "treatment", alpha: float = 0.05, vcov: str = "CR2",
            df_method: str = "bm", n_perm: int = 999, seed: int = 0) -> ABResult:
    """Difference in mean outcome (treatment minus control) with an annotator-clustered interval.

    ``vcov="CR2"`` (default) is Bell and McCaffrey's bias-reduced sandwich, which keeps the false
    positive rate near ``alpha`` with tens of clusters of unequal size; ``"CR1"`` is the Stata/statsmodels
    sandwich (``G/(G-1) (n-1)/(n-k)`` scaling), which over-rejects there. CR2 uses t with Bell and
    McCaffrey's degrees of freedom (``df_method="bm"``, default) or ``G - 1`` (``"g-1"``); CR1 uses ``G - 1``.
    ``p_permutation`` (``n_perm`` re-randomizations of the arms over annotators; 0 to skip) is the test to
    decide on: its size is exact by construction, where the sandwich's is only approximately ``alpha``.
    """
    if df_method not in ("bm", "g-1"):
        raise ParameterError(f"df_method must be bm or g-1, got {df_method!r}")
    if vcov not in ("CR1", "CR2"):
        raise ParameterError(f"vcov must be CR1 or CR2, got {vcov!r}")
    for c in (outcome, arm, cluster):
        if c not in frame.columns:
            raise ParameterError(f"the experiment table has no {c!r} column")
    y = frame[outcome].to_numpy(dtype=float)
    x = (frame[arm].astype(str) == treatment).to_numpy(dtype=float)
    if x.min() == x.max():
        raise ParameterError("both arms need judgements to compare")
    g = pd.factorize(frame[cluster].astype(str))[0]
    n, G = len(y), int(g.max()) + 1
    X = np.column_stack([np.ones(n), x])
    XtX_inv = np.linalg.inv(X.T @ X)
    beta = XtX_inv @ X.T @ y
    u = y - X @ beta
    k = 2
    df = float(G - 1)
    if vcov == "CR1":
        S = np.zeros((G, 2))
        np.add.at(S, g, X * u[:, None])
        V = G / (G - 1) * (n - 1) / (n - k) * XtX_inv @ (S.T @ S) @ XtX_inv
    else:
        order = np.argsort(g, kind="stable")
        bounds = np.flatnonzero(np.diff(g[order])) + 1
        meat = np.zeros((2, 2))
        ell = XtX_inv[:, 1]  # (X'X)^-1 l for the arm coefficient
        Gm = np.zeros((n, G)) if df_method == "bm" else None
        for gi, idx in enumerate(np.split(order, bounds)):
            Xg, ug = X[idx], u[idx]
            U, sv, Vt = np.linalg.svd(Xg, full_matrices=False)
            keep = sv > 1e-10 * sv.max()
            U, sv, Vt = U[:, keep], sv[keep], Vt[keep]
            B = (sv[:, None] * Vt) @ XtX_inv @ (Vt.T * sv[None, :])  # H_gg = U B U'
            w, Q = np.linalg.eigh(np.eye(len(sv)) - B)
            root = Q @ np.diag(1 / np.sqrt(np.maximum(w, 1e-12))) @ Q.T
            Uu = U.T @ ug
            adj = ug - U @ Uu + U @ (root @ Uu)  # (I - H_gg)^(-1/2) u_g
            s_g = Xg.T @ adj
            meat += np.outer(s_g, s_g)
            if Gm is not None:
                v = Xg @ ell
                Uv = U.T @ v
                Gm[idx, gi] = v - U @ Uv + U @ (root @ Uv)  # A_g X_g (X'X)^-1 l
        V = XtX_inv @ meat @ XtX_inv
        if Gm is not None:  # Bell-McCaffrey degrees of freedom (Imbens and Kolesar 2016): G = (I - H) [A_g X_g (X'X)^-1 l]
            Gm = Gm - X @ (XtX_inv @ (X.T @ Gm))
            M = Gm.T @ Gm
            df = float(np.trace(M) ** 2 / np.sum(M * M))
    se = float(np.sqrt(V[1, 1]))
    t = stats.t.ppf(1 - alpha / 2, df)
    stat = beta[1] / se if se > 0 else np.inf
    p = float(2 * stats.t.sf(abs(stat), df))
    p_perm = permutation_p(y, x, g, n_perm=n_perm, seed=seed) if n_perm else float("nan")
    return ABResult(float(beta[1]), se, float(beta[1] - t * se), float(beta[1] + t * se), p, G, n,
                    float(beta[0]), float(beta[0] + beta[1]), p_perm)


def permutation_p(y: np.ndarray, x: np.ndarray, g: np.ndarray, *, n_perm: int = 999, seed: int = 0) -> float:
    """Randomization p-value: the arms re-drawn over annotators (same number treated), difference in means.

    Exact in size under the sharp null whatever the clustering or volume, because the test re-does the
    experiment's own assignment (annotators, not judgements, are permuted).
    """
    G = int(g.max()) + 1
    sums = np.bincount(g, weights=y, minlength=G)
    sizes = np.bincount(g, minlength=G).astype(float)
    arm = np.zeros(G)
    arm[g[x == 1]] = 1.0
    k = int(arm.sum())
    rng = np.random.default_rng(seed)
    perms = np.argsort(rng.random((n_perm, G)), axis=1) < k  # each row: k treated annotators
    tot_s, tot_n = sums.sum(), sizes.sum()

    def diff(mask: np.ndarray) -> np.ndarray:
        st, nt = mask @ sums, mask @ sizes
        return st / nt - (tot_s - st) / (tot_n - nt)

    obs = abs(float(diff(arm[None, :].astype(bool))[0]))
    ge = int(np.sum(np.abs(diff(perms)) >= obs - 1e-12))
    return (1 + ge) / (1 + n_perm)


def simulate_experiment(rng: np.random.Generator, *, clusters: int, mean_size: float, cv: float, icc: float,
                        base: float, effect: float) -> pd.DataFrame:
    """One simulated experiment: gamma cluster sizes (mean, CV), beta-distributed accuracy per annotator."""
    shape = 1 / (cv * cv) if cv > 0 else None
    sizes = (np.maximum(1, np.round(rng.gamma(shape, mean_size / shape, clusters))).astype(int) if shape
             else np.full(clusters, int(round(mean_size))))
    arms = np.array(["control", "treatment"])[rng.permutation(np.arange(clusters) % 2)]
    rows = []
    for j in range(clusters):
        p = base + (effect if arms[j] == "treatment" else 0.0)
        if icc > 0:
            s = 1 / icc - 1
            pj = rng.beta(p * s, (1 - p) * s)
        else:
            pj = p
        rows.append(pd.DataFrame({"annotator_id": f"a{j}", "arm": arms[j],
                                  "y": rng.random(sizes[j]) < pj}))
    return pd.concat(rows, ignore_index=True)
