"""Auto-accept thresholds with a finite-sample guarantee: Learn-then-Test with exact binomial p-values.

The risk of a threshold ``t`` is the error rate of the labels it accepts,
:math:`R(t) = P(\\text{model label wrong} \\mid \\text{confidence} \\ge t)`. Learn-then-Test (Angelopoulos,
Bates, Candes, Jordan & Lei 2021, arXiv:2110.01052) turns the choice of ``t`` into multiple testing: for each
``t`` on a fixed, descending grid test :math:`H_t: R(t) > \\alpha` with a valid p-value on a calibration set of
human-verified items, and keep the thresholds whose nulls are rejected while controlling the family-wise error
rate at ``delta``. Then, with probability at least ``1 - delta`` over the calibration set, every kept threshold
has :math:`R(t) \\le \\alpha`.

p-value: given the ``n`` calibration items a threshold accepts (they are i.i.d. draws from the accepted
population), their errors ``k`` are Binomial(n, R(t)), so :math:`p = P(\\mathrm{Bin}(n, \\alpha) \\le k)` (exact
binomial, :func:`binomial_pvalue`; equal to ``scipy.stats.binomtest(k, n, alpha, alternative="less")``).

Family-wise control: fixed-sequence testing down the grid (stop at the first threshold not rejected). Groups
(per label or per slice) each get ``delta / G`` (Bonferroni), so all groups hold together; then every group's
accepted error is at most ``alpha`` and so is that of their union. Several candidate schemes (global, per label,
per slice) split ``delta`` between them (global ``delta / 2``, the rest shared), so the guarantee holds for
whichever scheme is then picked (the one accepting most calibration items).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import bdtr

from labkit.errors import LabkitError, ParameterError

__all__ = ["binomial_pvalue", "min_calibration_size", "fixed_sequence", "Policy", "fit_policy", "textbook_policy",
           "naive_policy", "start_size", "InsufficientCalibration", "DEFAULT_GRID", "SCHEMES"]

#: Descending threshold grid (fixed before seeing any data): 1.000, 0.995, ..., 0.000.
DEFAULT_GRID: np.ndarray = np.round(np.linspace(1.0, 0.0, 201), 3)
SCHEMES = ("global", "label", "slice")


class InsufficientCalibration(LabkitError):
    """The calibration set is too small to certify any threshold at the requested target and delta."""


def binomial_pvalue(k: Any, n: Any, alpha: float) -> np.ndarray:
    """Exact binomial p-value for :math:`H_0: R > \\alpha` after ``k`` errors in ``n``: :math:`P(\\mathrm{Bin}(n,\\alpha) \\le k)`.

    Vectorised over ``k`` and ``n``; ``n = 0`` gives 1 (no evidence).

    >>> float(binomial_pvalue(0, 45, 0.05))  # doctest: +ELLIPSIS
    0.0994...
    """
    if not 0 < alpha < 1:
        raise ParameterError(f"target error must lie in (0, 1), got {alpha!r}")
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        p = np.where(n > 0, bdtr(np.minimum(k, n), np.maximum(n, 1), alpha), 1.0)
    return np.clip(p, 0.0, 1.0)


def min_calibration_size(alpha: float, delta: float) -> int:
    """Fewest accepted calibration items that can certify ``alpha`` at ``delta``: all correct and
    :math:`(1-\\alpha)^n \\le \\delta`, i.e. :math:`n \\ge \\ln\\delta / \\ln(1-\\alpha)`."""
    _check(alpha, delta)
    n = math.ceil(math.log(delta) / math.log1p(-alpha) - 1e-12)
    return max(n, 1)


def _check(alpha: float, delta: float) -> None:
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise ParameterError(f"target error must lie in (0, 1), got {alpha!r}")
    if not (isinstance(delta, (int, float)) and 0 < delta < 1):
        raise ParameterError(f"delta must lie in (0, 1), got {delta!r}")


def _counts(conf: np.ndarray, wrong: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Accepted items n(t) and errors k(t) at each grid threshold (confidence >= t)."""
    order = np.argsort(-conf, kind="stable")
    c = conf[order]
    cum = np.concatenate([[0], np.cumsum(wrong[order])])
    n = np.searchsorted(-c, -grid, side="right")  # number with c >= t
    return n.astype(np.int64), cum[n].astype(np.int64)


@functools.lru_cache(maxsize=4096)
def start_size(alpha: float, delta: float) -> int:
    """Accepted calibration items at which this policy starts its sequence: the fewest for which a batch with
    half the target error passes the exact test at ``delta`` with probability >= 1/2 (a count, chosen before
    any label is seen; the textbook method starts at :func:`min_calibration_size`). A group with fewer than
    twice this many calibration items starts at half its size (never below :func:`min_calibration_size`)."""
    from labkit.automation.monitor import audit_sample_size

    return max(min_calibration_size(alpha, delta), audit_sample_size(alpha, delta, alpha / 2, power=0.5))


def fixed_sequence(conf: Any, wrong: Any, alpha: float, delta: float, grid: np.ndarray | None = None, *,
                   start_at_min_size: bool = True, start_at: int | None = None) -> dict[str, Any]:
    """Fixed-sequence Learn-then-Test over a descending ``grid``: the lowest certified threshold.

    Thresholds are tested from the top of the grid down and the sequence stops at the first p-value above
    ``delta``. With ``start_at_min_size`` the sequence starts at the first threshold accepting at least
    :func:`min_calibration_size` items (above it no outcome could be rejected); the rule reads confidences only.

    Returns ``threshold`` (``inf``: accept nothing), ``n``, ``k``, ``p_value`` at it, and the arrays ``grid``,
    ``n_grid``, ``k_grid``, ``p_grid``.
    """
    _check(alpha, delta)
    g = DEFAULT_GRID if grid is None else np.asarray(grid, dtype=np.float64)
    if g.size and np.any(np.diff(g) >= 0):
        raise ParameterError("the threshold grid must be strictly descending")
    c = np.asarray(conf, dtype=np.float64)
    w = np.asarray(wrong, dtype=np.float64)
    n, k = _counts(c, w, g)
    p = binomial_pvalue(k, n, alpha)
    first = start_at if start_at is not None else (min_calibration_size(alpha, delta) if start_at_min_size else 0)
    start = int(np.searchsorted(n, first, side="left"))
    best = -1
    for j in range(start, g.size):  # grid sizes are ~200: a Python loop is not the cost
        if p[j] > delta:
            break
        best = j
    out: dict[str, Any] = {"grid": g, "n_grid": n, "k_grid": k, "p_grid": p}
    if best < 0:
        out.update(threshold=math.inf, n=0, k=0, p_value=float("nan"))
    else:
        out.update(threshold=float(g[best]), n=int(n[best]), k=int(k[best]), p_value=float(p[best]))
    return out


@dataclass
class Policy:
    """An auto-accept policy: a threshold per group (``inf``: that group is never auto-accepted).

    ``scheme`` is ``global`` (one threshold), ``label`` (per proposed label), ``slice``, or ``naive``.
    ``groups`` is one row per group: group, n_calibration, threshold, n_accepted, errors, p_value, delta.
    """

    scheme: str
    target_error: float
    delta: float
    thresholds: dict[str, float]
    groups: pd.DataFrame
    n_calibration: int
    method: str = "ltt"
    candidates: pd.DataFrame = field(default_factory=pd.DataFrame)
    guarantee: str = ""

    @property
    def policy_id(self) -> str:
        """Short content hash of the policy (method, scheme, target, delta, thresholds)."""
        blob = json.dumps({"m": self.method, "s": self.scheme, "a": self.target_error, "d": self.delta,
                           "t": {k: (None if math.isinf(v) else v) for k, v in sorted(self.thresholds.items())}},
                          sort_keys=True)
        return f"{self.method}-{self.scheme}-" + hashlib.sha256(blob.encode()).hexdigest()[:10]

    def _codes(self, labels: Any, slices: Any) -> tuple[np.ndarray, list[str]]:
        """Integer codes and their group names (hash-based factorize: fast on millions of rows)."""
        vals = labels if self.scheme == "label" else slices
        codes, uniq = pd.factorize(np.asarray(vals, dtype=object), use_na_sentinel=True)
        names = ["(none)" if (u is None or (isinstance(u, float) and math.isnan(u))) else str(u) for u in uniq]
        if (codes < 0).any():
            codes = np.where(codes < 0, len(names), codes)
            names.append("(none)")
        return codes, names

    def group_of(self, labels: Any = None, slices: Any = None, n: int | None = None) -> np.ndarray:
        """The group key of each row under this policy's scheme."""
        if self.scheme in ("label", "slice"):
            codes, names = self._codes(labels, slices)
            return np.asarray(names, dtype=object)[codes] if names else np.zeros(0, dtype=object)
        m = len(labels) if labels is not None else (len(slices) if slices is not None else int(n or 0))
        return np.full(m, "all", dtype=object)

    def threshold_of(self, labels: Any = None, slices: Any = None, n: int | None = None) -> np.ndarray:
        """Each row's threshold (``inf`` for groups not certified or not seen in calibration)."""
        if self.scheme in ("global", "naive"):
            m = len(labels) if labels is not None else (len(slices) if slices is not None else int(n or 0))
            return np.full(m, self.thresholds.get("all", math.inf))
        codes, names = self._codes(labels, slices)
        vals = np.array([self.thresholds.get(x, math.inf) for x in names] + [math.inf])
        return vals[codes]

    def accept(self, conf: Any, labels: Any = None, slices: Any = None) -> np.ndarray:
        """Boolean mask: confidence at or above the row's threshold (NaN confidence is never accepted)."""
        c = np.asarray(conf, dtype=np.float64)
        t = self.threshold_of(labels, slices, len(c))
        with np.errstate(invalid="ignore"):
            return np.asarray(c >= t)

    def to_dict(self) -> dict[str, Any]:
        return {"policy_id": self.policy_id, "method": self.method, "scheme": self.scheme,
                "target_error": self.target_error, "delta": self.delta, "n_calibration": self.n_calibration,
                "thresholds": {k: (None if math.isinf(v) else v) for k, v in self.thresholds.items()},
                "guarantee": self.guarantee}


def _scheme(scheme: str, conf: np.ndarray, wrong: np.ndarray, keys: np.ndarray, alpha: float, delta: float,
            grid: np.ndarray | None, powered_start: bool) -> tuple[dict[str, float], pd.DataFrame]:
    uniq = sorted(set(keys.tolist()))
    d = delta / max(len(uniq), 1)
    rows, th = [], {}
    for gkey in uniq:
        m = keys == gkey
        r = fixed_sequence(conf[m], wrong[m], alpha, d, grid,
                           start_at=max(min(start_size(alpha, d), int(m.sum()) // 2), min_calibration_size(alpha, d))
                           if powered_start else None)
        th[gkey] = r["threshold"]
        rows.append({"group": gkey, "n_calibration": int(m.sum()), "threshold": r["threshold"], "n_accepted": r["n"],
                     "errors": r["k"], "p_value": r["p_value"], "delta": d})
    return th, pd.DataFrame(rows, columns=["group", "n_calibration", "threshold", "n_accepted", "errors",
                                           "p_value", "delta"])


def _inputs(conf: Any, correct: Any) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(conf, dtype=np.float64)
    y = np.asarray(correct)
    if c.shape != y.shape or c.ndim != 1:
        raise ParameterError(f"confidence and correct must be 1-d arrays of one length, got {c.shape} and {y.shape}")
    if np.isnan(c).any():
        raise ParameterError("calibration confidence has missing values")
    return c, 1.0 - y.astype(np.float64)


def fit_policy(conf: Any, correct: Any, *, target_error: float, delta: float, labels: Any = None, slices: Any = None,
               grouping: str = "auto", grid: np.ndarray | None = None, powered_start: bool = True) -> Policy:
    """Learn-then-Test auto-accept policy on a calibration set.

    Parameters
    ----------
    conf, correct : the model's confidence and whether its label matched the reference, per calibration item.
    target_error, delta : guarantee: error rate of accepted labels <= target_error with probability >= 1 - delta.
    labels, slices : the model's proposed label and the item's slice, per item (enable those schemes).
    grouping : ``auto`` (global, label and slice as candidates; global gets delta/2, the others share the
        rest; the scheme accepting most calibration items wins), or one of ``global``, ``label``, ``slice``
        (that scheme alone at the full delta).

    Raises
    ------
    InsufficientCalibration
        when the calibration set has fewer items than :func:`min_calibration_size` needs at the full delta.
    """
    _check(target_error, delta)
    c, wrong = _inputs(conf, correct)
    n_min = min_calibration_size(target_error, delta)
    if c.size < n_min:
        raise InsufficientCalibration(
            f"calibration set too small: {c.size} model-labelled items with a reference; certifying an error rate "
            f"of {target_error:g} at delta {delta:g} needs at least {n_min} (all correct), more when some are wrong")
    avail: dict[str, np.ndarray] = {"global": np.full(c.size, "all", dtype=object)}
    if labels is not None and len(set(np.asarray(labels, dtype=object).tolist())) > 1:
        avail["label"] = np.asarray(labels, dtype=object).astype(str)
    if slices is not None and len(set(pd.Series(slices, dtype=object).fillna("(none)").tolist())) > 1:
        avail["slice"] = np.asarray(pd.Series(slices, dtype=object).fillna("(none)"), dtype=object).astype(str)
    if grouping == "auto":
        others = [s for s in avail if s != "global"]
        weights = {"global": 1.0} if not others else {"global": 0.5, **{s: 0.5 / len(others) for s in others}}
    elif grouping in SCHEMES:
        if grouping not in avail:
            raise ParameterError(f"grouping {grouping!r} needs at least two distinct {grouping}s in the calibration set")
        weights = {grouping: 1.0}
    else:
        raise ParameterError(f"grouping must be auto, global, label or slice, got {grouping!r}")
    results, cand = {}, []
    for s, w in weights.items():
        keys = avail[s]
        th, table = _scheme(s, c, wrong, keys, target_error, delta * w, grid, powered_start)
        pol = Policy(s, target_error, delta, th, table, int(c.size))
        share = float(pol.accept(c, avail.get("label"), avail.get("slice")).mean())
        results[s] = pol
        cand.append({"scheme": s, "delta": delta * w, "groups": len(th), "calibration_accepted_share": share})
    cands = pd.DataFrame(cand)
    best = str(cands.sort_values("calibration_accepted_share", ascending=False, kind="stable")["scheme"].iloc[0])
    pol = results[best]
    pol.candidates = cands
    pol.guarantee = (f"With probability >= {1 - delta:.0%} over the calibration set ({c.size} items), the error rate of "
                     f"auto-accepted labels is <= {target_error:g} (Learn-then-Test, fixed-sequence, exact binomial; "
                     f"{best} scheme, delta split over {len(weights)} candidate scheme(s) and {len(pol.thresholds)} group(s)).")
    return pol


def textbook_policy(conf: Any, correct: Any, *, target_error: float, delta: float,
                    grid: np.ndarray | None = None) -> Policy:
    """The textbook baseline: one global threshold, fixed-sequence Learn-then-Test with the exact binomial test."""
    _check(target_error, delta)
    c, wrong = _inputs(conf, correct)
    th, table = _scheme("global", c, wrong, np.full(c.size, "all", dtype=object), target_error, delta, grid, False)
    return Policy("global", target_error, delta, th, table, int(c.size), method="textbook")


def naive_policy(target_error: float) -> Policy:
    """The naive baseline: accept when the stated confidence is at least ``1 - target_error`` (no guarantee)."""
    return Policy("naive", target_error, float("nan"), {"all": 1.0 - target_error}, pd.DataFrame(), 0, method="naive",
                  guarantee="none: trusts the model's stated confidence")
