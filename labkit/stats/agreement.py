"""Inter-annotator agreement from item x label counts.

Every coefficient here is a function of the item x label count matrix ``N`` (``n_uc``: how many
judgements put item ``u`` in label ``c``; ``m_u`` judgements on item ``u``) built once by
:class:`~labkit.stats.counts.CountTables`, except Cohen's kappa, which needs the two raters' paired
labels. Each public function returns an :class:`AgreementResult` with the value, a percentile
bootstrap interval over items (seeded, vectorized; only when ``ci`` is given), the number of items
and of pairable judgements, and a ``reason`` when the value is NaN.

Rows: every row is one rating (duplicates and the several rows of a multi-label answer count as
separate ratings of the item), as in the public reference values. Only ``source == "human"`` rows
are raters by default (model pre-labels are not raters); pass ``source=None`` to keep both.
Items with fewer than two judgements are not pairable and are left out (they still count in
``n_items``); Gwet's AC1 uses them for its chance term, as in Gwet (2008).

>>> import pandas as pd
>>> t = pd.DataFrame({"item_id": list("aabbcc"), "annotator_id": list("xyxyxy"),
...                   "label": ["p", "p", "n", "n", "p", "n"]})
>>> round(krippendorff_alpha(t).value, 6)
0.444444
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd
import scipy.sparse as sp

from labkit.errors import ParameterError
from labkit.stats._boot import bootstrap_ci, check_ci
from labkit.stats.counts import CountTables, ItemLabelCounts, as_label_table, resolve_task

__all__ = ["AgreementResult", "krippendorff_alpha", "fleiss_kappa", "cohen_kappa", "pairwise_cohen", "gwet_ac1",
           "percent_agreement", "agreement_by", "METRICS", "LEVELS"]

Level = Literal["nominal", "ordinal", "interval", "ratio"]
LEVELS = ("nominal", "ordinal", "interval", "ratio")
METRICS = ("krippendorff", "fleiss", "cohen", "ac1", "percent")
_NO_PAIRS = "no item has two or more judgements (nothing is pairable)"
_ONE_LABEL = "only one label is used in pairable items: expected disagreement is zero, the coefficient is undefined"


@dataclass(frozen=True)
class AgreementResult:
    """One agreement coefficient.

    Attributes
    ----------
    metric : "krippendorff", "fleiss", "cohen", "ac1" or "percent".
    value : the coefficient (NaN when undefined; see ``reason``).
    ci_low, ci_high : percentile bootstrap interval over items (NaN without ``ci``).
    n_items : items with at least one judgement (Cohen: items both raters labeled once).
    n_pairable : judgements in items with two or more judgements (Krippendorff's n..).
    reason : why ``value`` is NaN, else "".
    level : Krippendorff's metric level, or the weights of a weighted Cohen's kappa.
    ci : the confidence level of the interval (None without one).
    n_boot : bootstrap replicates.
    task : the task measured.
    """

    metric: str
    value: float
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    n_items: int = 0
    n_pairable: int = 0
    reason: str = ""
    level: str | None = None
    ci: float | None = None
    n_boot: int = 0
    task: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (NaN becomes None)."""
        d = asdict(self)
        for k in ("value", "ci_low", "ci_high"):
            if isinstance(d[k], float) and math.isnan(d[k]):
                d[k] = None
        return d


def _nan(metric: str, reason: str, **kw: Any) -> AgreementResult:
    return AgreementResult(metric=metric, value=float("nan"), reason=reason, **kw)


# --------------------------------------------------------------------------- distance matrices
def _delta(level: str, labels: pd.Index, marginals: np.ndarray | None = None) -> np.ndarray:
    """Krippendorff's squared difference function delta^2_ck for the given level."""
    L = len(labels)
    if level == "nominal":
        return 1.0 - np.eye(L)
    if level == "ordinal":
        n = np.asarray(marginals, dtype=np.float64)
        cum = np.concatenate([[0.0], np.cumsum(n)])
        i = np.arange(L)
        lo = np.minimum.outer(i, i)
        hi = np.maximum.outer(i, i)
        d = cum[hi + 1] - cum[lo] - (n[:, None] + n[None, :]) / 2.0
        return d * d
    vals = pd.to_numeric(pd.Series(np.asarray(labels, dtype=object)), errors="coerce").to_numpy(dtype=float)
    if np.isnan(vals).any():
        bad = [str(x) for x, v in zip(labels, vals) if np.isnan(v)]
        raise ParameterError(f"level={level!r} needs numeric labels; not numbers: {', '.join(map(repr, bad[:5]))}")
    diff = np.subtract.outer(vals, vals)
    if level == "interval":
        return diff * diff
    if level == "ratio":
        s = np.add.outer(vals, vals)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(s == 0, 0.0, diff / np.where(s == 0, 1.0, s))
        return r * r
    raise ParameterError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")


# --------------------------------------------------------------------------- core on count matrices
Counts: TypeAlias = "sp.csr_matrix | np.ndarray | CountTables | ItemLabelCounts"


def _dense(N: Counts) -> np.ndarray:
    if isinstance(N, (CountTables, ItemLabelCounts)):
        return N.counts()
    return N.toarray() if isinstance(N, sp.spmatrix | sp.sparray) else np.asarray(N)


def _rows_m(N: Counts, Nd: np.ndarray) -> np.ndarray:
    return N.raters_per_item if isinstance(N, (CountTables, ItemLabelCounts)) else Nd.sum(axis=1)


def _weight(N: Counts) -> np.ndarray | None:
    """Multiplicity of each count row: folded rows (:class:`ItemLabelCounts`) stand for several items."""
    return N.weight.astype(np.float64) if isinstance(N, ItemLabelCounts) else None


def _wsum(x: np.ndarray, wt: np.ndarray | None) -> Any:
    """Sum over items (axis 0), each row counted ``wt`` times."""
    return x.sum(axis=0) if wt is None else wt @ x


def _pairable(N: Counts) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Dense float counts of pairable items (m_u >= 2), their m_u and row weights (None: one item per row)."""
    Nd = _dense(N)
    m = _rows_m(N, Nd)
    wt = _weight(N)
    keep = m >= 2
    P = Nd if keep.all() else Nd[keep]
    return P.astype(np.float64), m[keep].astype(np.float64), None if wt is None else wt[keep]


def _stats_value(parts: list[np.ndarray], f: Any, ci: float | None, n_boot: int,
                 seed: int | None, wt: np.ndarray | None = None) -> tuple[float, float, float]:
    """Value from column sums of the per-item statistics; the per-item matrix only for a bootstrap.
    With row weights ``wt`` (folded rows), the bootstrap draws items from the rows in proportion."""
    sums = np.concatenate([np.atleast_1d(_wsum(p, wt)) for p in parts])[None, :]
    value = float(f(sums)[0])
    if ci is None or not np.isfinite(value):
        return value, float("nan"), float("nan")
    S = np.column_stack(parts)
    lo, hi = bootstrap_ci(S, f, ci=ci, n_boot=n_boot, seed=seed, weights=wt)
    return value, lo, hi


def _alpha_sums(N: Counts, level: str, D: np.ndarray) -> tuple[np.ndarray, int] | None:
    """Column sums [sum_u d_u, n_c...] for the value alone (no bootstrap), without copying the pairable
    rows: the fast path for nominal, interval and ratio. None when nothing is pairable."""
    Nd = _dense(N)
    m = _rows_m(N, Nd)
    wt = _weight(N)
    keep = m >= 2
    if not keep.any():
        return None
    mf = m.astype(np.float64)
    w = np.zeros(len(m))
    np.divide(1.0, mf - 1.0, out=w, where=keep)
    if wt is not None:
        w *= wt
    if level == "nominal":
        d = mf * mf - np.einsum("ij,ij->i", Nd, Nd)
    else:
        d = np.einsum("ij,ij->i", Nd @ D, Nd)
    if wt is None:
        nc = Nd.sum(axis=0)
        if not keep.all():
            nc = nc - Nd[~keep].sum(axis=0)
        n_pair = int(m[keep].sum())
    else:
        nc = (wt * keep) @ Nd
        n_pair = int((m * wt)[keep].sum())
    return np.concatenate([[float(d @ w)], nc.astype(np.float64)])[None, :], n_pair


def _alpha_counts(N: Counts, labels: pd.Index, level: str, *, ci: float | None, n_boot: int,
                  seed: int | None) -> tuple[float, float, float, int, str]:
    if ci is None and level != "ordinal":
        D = _delta(level, labels)
        fast = _alpha_sums(N, level, D)
        if fast is None:
            return float("nan"), float("nan"), float("nan"), 0, _NO_PAIRS
        sums, n_pair = fast
        nc = sums[:, 1:]
        De = float(nc[0] @ D @ nc[0])
        if De <= 0:
            return float("nan"), float("nan"), float("nan"), n_pair, _ONE_LABEL
        return 1.0 - (float(nc.sum()) - 1.0) * float(sums[0, 0]) / De, float("nan"), float("nan"), n_pair, ""
    P, m, wt = _pairable(N)
    n_pair = int(m.sum()) if wt is None else int(m @ wt)
    if P.shape[0] == 0:
        return float("nan"), float("nan"), float("nan"), n_pair, _NO_PAIRS
    L = P.shape[1]
    w = 1.0 / (m - 1.0)
    if level == "ordinal":
        # o_u = (n_u n_u^T - diag(n_u)) / (m_u - 1); the ordinal distance depends on the marginals, so
        # carry the whole per-item coincidence matrix (L^2 columns).
        O_u = np.einsum("ui,uj->uij", P, P)
        idx = np.arange(L)
        O_u[:, idx, idx] -= P
        O_u *= w[:, None, None]
        parts = [O_u.reshape(len(P), L * L)]

        def f(sums: np.ndarray) -> np.ndarray:
            O = sums.reshape(-1, L, L)
            nc = O.sum(axis=2)
            n = nc.sum(axis=1)
            res = np.full(len(O), np.nan)
            for b in range(len(O)):  # one L x L distance per replicate (replicates, not rows)
                D = _delta("ordinal", labels, nc[b])
                De = nc[b] @ D @ nc[b]
                if De > 0:
                    res[b] = 1.0 - (n[b] - 1.0) * float((O[b] * D).sum()) / De
            return res
    else:
        D = _delta(level, labels)
        if level == "nominal":  # sum_{c != k} n_uc n_uk = m_u^2 - sum_c n_uc^2
            d_u = (m * m - np.einsum("ij,ij->i", P, P)) * w
        else:
            d_u = np.einsum("ij,ij->i", P @ D, P) * w  # sum_ck o_uck delta_ck (delta_cc = 0)
        parts = [d_u, P]

        def f(sums: np.ndarray) -> np.ndarray:
            nc = sums[:, 1:]
            n = nc.sum(axis=1)
            De = np.einsum("bi,ij,bj->b", nc, D, nc)
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(De > 0, 1.0 - (n - 1.0) * sums[:, 0] / De, np.nan)
    value, lo, hi = _stats_value(parts, f, ci, n_boot, seed, wt)
    if not np.isfinite(value):
        return float("nan"), float("nan"), float("nan"), n_pair, _ONE_LABEL
    return value, lo, hi, n_pair, ""


def _fleiss_value(N: Counts, percent: bool) -> tuple[float, float, float, int, str]:
    """Fleiss' kappa (or P-bar) alone, without per-item copies: the path without a bootstrap."""
    Nd = _dense(N)
    m = _rows_m(N, Nd)
    wt = _weight(N)
    pair = m >= 2
    n_pair = int(m[pair].sum()) if wt is None else int((m * wt)[pair].sum())
    if not pair.any():
        return float("nan"), float("nan"), float("nan"), n_pair, _NO_PAIRS
    mf = m.astype(np.float64)
    agree = np.zeros(len(m))
    np.divide(np.einsum("ij,ij->i", Nd, Nd) - mf, mf * (mf - 1.0), out=agree, where=pair)
    pbar = float(_wsum(agree, wt)) / float(_wsum(pair.astype(np.float64) if wt is not None else pair, wt))
    if percent:
        return pbar, float("nan"), float("nan"), n_pair, ""
    rated = m >= 1
    inv = np.zeros(len(m))
    np.divide(1.0, mf, out=inv, where=rated)
    if wt is not None:
        inv *= wt
    p = (inv @ Nd) / float(_wsum(rated.astype(np.float64) if wt is not None else rated, wt))
    pe = float(p @ p)
    if pe >= 1.0:
        return float("nan"), float("nan"), float("nan"), n_pair, _ONE_LABEL
    return (pbar - pe) / (1.0 - pe), float("nan"), float("nan"), n_pair, ""


def _fleiss_counts(N: Counts, *, ci: float | None, n_boot: int, seed: int | None,
                   percent: bool = False) -> tuple[float, float, float, int, str]:
    if ci is None:
        return _fleiss_value(N, percent)
    Nd = _dense(N).astype(np.float64)
    wt = _weight(N)
    m = Nd.sum(axis=1)
    rated = m >= 1
    if not rated.all():
        Nd, m = Nd[rated], m[rated]
        wt = None if wt is None else wt[rated]
    pair = m >= 2
    n_pair = int(m[pair].sum()) if wt is None else int((m * wt)[pair].sum())
    if not pair.any():
        return float("nan"), float("nan"), float("nan"), n_pair, _NO_PAIRS
    with np.errstate(divide="ignore", invalid="ignore"):
        Pi = np.where(pair, (np.einsum("ij,ij->i", Nd, Nd) - m) / (m * (m - 1.0)), 0.0)
    if percent:
        parts = [Pi, pair.astype(np.float64)]

        def f(sums: np.ndarray) -> np.ndarray:
            with np.errstate(divide="ignore", invalid="ignore"):  # a replicate with no pairable item: NaN
                return sums[:, 0] / sums[:, 1]
    else:
        parts = [Pi, pair.astype(np.float64), np.ones_like(m), Nd / m[:, None]]

        def f(sums: np.ndarray) -> np.ndarray:
            with np.errstate(divide="ignore", invalid="ignore"):  # a replicate with no pairable item: NaN
                pbar = sums[:, 0] / sums[:, 1]
                p = sums[:, 3:] / sums[:, 2:3]
                pe = (p * p).sum(axis=1)
                return np.where(pe < 1.0, (pbar - pe) / (1.0 - pe), np.nan)
    value, lo, hi = _stats_value(parts, f, ci, n_boot, seed, wt)
    if not np.isfinite(value):
        return float("nan"), float("nan"), float("nan"), n_pair, _ONE_LABEL
    return value, lo, hi, n_pair, ""


def _ac1_counts(N: Counts, *, ci: float | None, n_boot: int,
                seed: int | None) -> tuple[float, float, float, int, str]:
    Nd = _dense(N).astype(np.float64)
    wt = _weight(N)
    m = Nd.sum(axis=1)
    rated = m >= 1
    Nd, m = Nd[rated], m[rated]
    wt = None if wt is None else wt[rated]
    pair = m >= 2
    n_pair = int(m[pair].sum()) if wt is None else int((m * wt)[pair].sum())
    q = Nd.shape[1]
    if not pair.any():
        return float("nan"), float("nan"), float("nan"), n_pair, _NO_PAIRS
    if q < 2:
        return float("nan"), float("nan"), float("nan"), n_pair, "fewer than two labels: AC1's chance term is undefined"
    with np.errstate(divide="ignore", invalid="ignore"):
        pa_u = np.where(pair, ((Nd * (Nd - 1.0)).sum(axis=1)) / (m * (m - 1.0)), 0.0)
    parts = [pa_u, pair.astype(np.float64), np.ones_like(m), Nd / m[:, None]]

    def f(sums: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):  # a replicate with no pairable item: NaN
            pa = sums[:, 0] / sums[:, 1]
            pi = sums[:, 3:] / sums[:, 2:3]
            pe = (pi * (1.0 - pi)).sum(axis=1) / (q - 1.0)
            return np.where(pe < 1.0, (pa - pe) / (1.0 - pe), np.nan)
    value, lo, hi = _stats_value(parts, f, ci, n_boot, seed, wt)
    if not np.isfinite(value):
        return float("nan"), float("nan"), float("nan"), n_pair, _ONE_LABEL
    return value, lo, hi, n_pair, ""


# --------------------------------------------------------------------------- public coefficients
def _counts(table: pd.DataFrame | CountTables | ItemLabelCounts, task: str | None, source: str | None,
            order: list[str] | tuple[str, ...] | None = None, labels: list[str] | None = None) -> CountTables | ItemLabelCounts:
    if isinstance(table, (CountTables, ItemLabelCounts)):
        return table
    return CountTables.from_labels(table, task=task, source=source, order=order, labels=labels)


def _paired_counts(table: pd.DataFrame | CountTables | ItemLabelCounts, task: str | None, source: str | None,
                   order: list[str] | tuple[str, ...] | None = None) -> CountTables:
    """Per-judgement count tables (Cohen's kappa pairs raters; folded item counts cannot)."""
    if isinstance(table, ItemLabelCounts):
        raise ParameterError("Cohen's kappa pairs two raters' labels per item: it needs CountTables or a label "
                             "table, not folded item x label counts")
    return table if isinstance(table, CountTables) else CountTables.from_labels(table, task=task, source=source,
                                                                                 order=order)


def krippendorff_alpha(table: pd.DataFrame | CountTables | ItemLabelCounts, level: Level = "nominal", order: list[str] | None = None, *,
                       ci: float | None = None, n_boot: int = 1000, seed: int | None = 0, task: str | None = None,
                       source: str | None = "human") -> AgreementResult:
    r"""Krippendorff's alpha at the nominal, ordinal, interval or ratio level.

    .. math::  \alpha = 1 - (n_{\cdot\cdot} - 1)\,\frac{\sum_{c,k} o_{ck}\,\delta^2_{ck}}
                                                      {\sum_{c,k} n_c n_k\,\delta^2_{ck}}

    with the coincidences :math:`o_{ck} = \sum_u (n_{uc}n_{uk} - [c=k]\,n_{uc})/(m_u - 1)` over
    pairable items (:math:`m_u \ge 2`) and :math:`n_c = \sum_k o_{ck}`. Reference: K. Krippendorff,
    *Computing Krippendorff's Alpha-Reliability* (2011), https://repository.upenn.edu/asc_papers/43.

    Parameters
    ----------
    table : canonical label table, or prepared :class:`CountTables`.
    level : "nominal", "ordinal" (label order from ``order``, else numeric or alphabetical),
        "interval" or "ratio" (numeric labels).
    order : label order for the ordinal level (e.g. a guideline version's ``label_names``).
    ci : confidence level of a percentile bootstrap interval over items (e.g. 0.95); None for none.
    n_boot, seed : bootstrap replicates and seed (``numpy.random.default_rng(seed)``).
    task : task to measure (None: the table's only task).
    source : "human" (default: model pre-labels are not raters), "model", or None for both.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"item_id": [1, 1, 2, 2, 3, 3], "annotator_id": list("ABABAB"),
    ...                   "label": [1, 1, 2, 3, 3, 3]})
    >>> round(krippendorff_alpha(t, "interval").value, 4)  # 1 - 5 * 2 / 58
    0.8276
    """
    if level not in LEVELS:
        raise ParameterError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    check_ci(ci, n_boot)
    ct = _counts(table, task, source, order)
    value, lo, hi, n_pair, reason = _alpha_counts(ct, ct.labels, level, ci=ci, n_boot=n_boot, seed=seed)
    return AgreementResult("krippendorff", value, lo, hi, ct.n_items, n_pair, reason, level, ci,
                           n_boot if ci is not None else 0, ct.task)


def fleiss_kappa(table: pd.DataFrame | CountTables | ItemLabelCounts, *, ci: float | None = None, n_boot: int = 1000,
                 seed: int | None = 0, task: str | None = None, source: str | None = "human") -> AgreementResult:
    r"""Fleiss' kappa, with any number of raters per item.

    .. math:: \kappa = \frac{\bar P - P_e}{1 - P_e},\quad
              P_u = \frac{\sum_c n_{uc}^2 - m_u}{m_u (m_u - 1)},\quad
              P_e = \sum_c \pi_c^2,\ \pi_c = \frac{1}{n}\sum_u \frac{n_{uc}}{m_u}

    :math:`\bar P` averages :math:`P_u` over the items with :math:`m_u \ge 2`; :math:`\pi_c`
    averages each item's label shares over the ``n`` items with at least one judgement. With equal
    raters per item this is Fleiss (1971), Psychological Bulletin 76(5), doi:10.1037/h0031619; with
    unequal raters it is Gwet's generalization (Gwet 2014, *Handbook of Inter-Rater Reliability*;
    R ``irrCAC::fleiss.kappa.raw``), reproduced in the tests.
    """
    check_ci(ci, n_boot)
    ct = _counts(table, task, source)
    value, lo, hi, n_pair, reason = _fleiss_counts(ct, ci=ci, n_boot=n_boot, seed=seed)
    return AgreementResult("fleiss", value, lo, hi, ct.n_items, n_pair, reason, None, ci,
                           n_boot if ci is not None else 0, ct.task)


def percent_agreement(table: pd.DataFrame | CountTables | ItemLabelCounts, *, ci: float | None = None, n_boot: int = 1000,
                      seed: int | None = 0, task: str | None = None, source: str | None = "human") -> AgreementResult:
    r"""Observed pairwise agreement: the mean over pairable items of
    :math:`\sum_c n_{uc}(n_{uc}-1) / (m_u(m_u-1))` (the share of agreeing rater pairs; Fleiss' :math:`\bar P`)."""
    check_ci(ci, n_boot)
    ct = _counts(table, task, source)
    value, lo, hi, n_pair, reason = _fleiss_counts(ct, ci=ci, n_boot=n_boot, seed=seed, percent=True)
    return AgreementResult("percent", value, lo, hi, ct.n_items, n_pair, reason, None, ci,
                           n_boot if ci is not None else 0, ct.task)


def gwet_ac1(table: pd.DataFrame | CountTables | ItemLabelCounts, *, labels: list[str] | None = None, ci: float | None = None,
             n_boot: int = 1000, seed: int | None = 0, task: str | None = None,
             source: str | None = "human") -> AgreementResult:
    r"""Gwet's AC1 for any number of raters (Gwet 2008, Br. J. Math. Stat. Psychol. 61(1),
    doi:10.1348/000711006X126600).

    .. math:: AC_1 = \frac{p_a - p_e}{1 - p_e},\quad
              p_e = \frac{1}{q-1}\sum_c \pi_c (1-\pi_c),\quad \pi_c = \frac{1}{n}\sum_u \frac{n_{uc}}{m_u}

    :math:`p_a` is the pairwise agreement over items with two or more judgements; :math:`\pi_c`
    averages over every rated item; ``q`` is the number of labels: ``labels`` (e.g. a guideline's
    ``label_names``) or the labels used.
    """
    check_ci(ci, n_boot)
    ct = _counts(table, task, source, labels=labels)
    value, lo, hi, n_pair, reason = _ac1_counts(ct, ci=ci, n_boot=n_boot, seed=seed)
    return AgreementResult("ac1", value, lo, hi, ct.n_items, n_pair, reason, None, ci,
                           n_boot if ci is not None else 0, ct.task)


Weights = Literal["linear", "quadratic"] | None


def _weights(kind: str | None, L: int) -> np.ndarray:
    i = np.arange(L, dtype=np.float64)
    d = np.abs(np.subtract.outer(i, i))
    if kind is None or kind == "none":
        return (d > 0).astype(np.float64)
    if kind == "linear":
        return d
    if kind == "quadratic":
        return d * d
    raise ParameterError(f"weights must be None, 'linear' or 'quadratic', got {kind!r}")


def _kappa_from_tables(C: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Weighted kappa 1 - sum(W*O)/sum(W*E) for a stack of L x L contingency tables (B x L x L)."""
    n = C.sum(axis=(1, 2))
    r = C.sum(axis=2)
    c = C.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        obs = (C * W).sum(axis=(1, 2)) / n
        exp = np.einsum("bi,ij,bj->b", r, W, c) / (n * n)
        return np.where(exp > 0, 1.0 - obs / exp, np.nan)


def _single_rows(ct: CountTables) -> np.ndarray:
    """Mask of judgements whose (item, annotator) pair has exactly one row."""
    key = ct.item.astype(np.int64) * max(ct.n_annotators, 1) + ct.annotator
    _, inv, cnt = np.unique(key, return_inverse=True, return_counts=True)
    return cnt[inv] == 1


def cohen_kappa(table: pd.DataFrame | CountTables, a: str, b: str, weights: Weights = None,
                order: list[str] | None = None, *, ci: float | None = None, n_boot: int = 1000,
                seed: int | None = 0, task: str | None = None, source: str | None = "human") -> AgreementResult:
    r"""Cohen's kappa between annotators ``a`` and ``b`` (Cohen 1960, doi:10.1177/001316446002000104),
    unweighted or weighted (Cohen 1968) with linear or quadratic disagreement weights.

    .. math:: \kappa_w = 1 - \frac{\sum_{ij} w_{ij} o_{ij}}{\sum_{ij} w_{ij} e_{ij}},
              \quad e_{ij} = \frac{o_{i\cdot}\,o_{\cdot j}}{n}

    with :math:`w_{ij} = [i \ne j]`, :math:`|i-j|` or :math:`(i-j)^2` over the positions of the labels
    either rater used (in ``order``, else numeric or alphabetical), as R ``irr::kappa2`` and
    statsmodels do. Items where either rater left several rows (a multi-label answer or a duplicate)
    have no single pair of labels and are left out; so are items only one of them labeled.
    """
    check_ci(ci, n_boot)
    if weights not in (None, "linear", "quadratic"):
        raise ParameterError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")
    ct = _paired_counts(table, task, source, order)
    metric_level = weights
    for who in (a, b):
        if str(who) not in set(ct.annotators):
            raise ParameterError(f"annotator {who!r} has no judgements in task {ct.task!r}")
    ia, ib = ct.annotators.get_loc(str(a)), ct.annotators.get_loc(str(b))
    single = _single_rows(ct)
    sel_a = single & (ct.annotator == ia)
    sel_b = single & (ct.annotator == ib)
    la = np.full(ct.n_items, -1, np.int64)
    lb = np.full(ct.n_items, -1, np.int64)
    la[ct.item[sel_a]] = ct.label[sel_a]
    lb[ct.item[sel_b]] = ct.label[sel_b]
    both = (la >= 0) & (lb >= 0)
    n = int(both.sum())
    if n == 0:
        return _nan("cohen", f"annotators {a!r} and {b!r} share no item labeled once by each", level=metric_level,
                    task=ct.task)
    la, lb = la[both], lb[both]
    used = np.flatnonzero(np.bincount(np.concatenate([la, lb]), minlength=ct.n_labels) > 0)
    remap = np.full(ct.n_labels, -1, np.int64)
    remap[used] = np.arange(used.size)
    L = used.size
    cell = remap[la] * L + remap[lb]
    W = _weights(weights, L)
    S = sp.csr_matrix((np.ones(n), (np.arange(n), cell)), shape=(n, L * L))

    def f(sums: np.ndarray) -> np.ndarray:
        return _kappa_from_tables(sums.reshape(-1, L, L), W)
    value = float(f(np.bincount(cell, minlength=L * L)[None, :].astype(np.float64))[0])
    if not np.isfinite(value):
        return _nan("cohen", "both raters used one and the same label only: expected disagreement is zero",
                    n_items=n, n_pairable=2 * n, level=metric_level, task=ct.task)
    lo, hi = bootstrap_ci(S, f, ci=ci, n_boot=n_boot, seed=seed)
    return AgreementResult("cohen", value, lo, hi, n, 2 * n, "", metric_level, ci, n_boot if ci is not None else 0,
                           ct.task)


def pairwise_cohen(table: pd.DataFrame | CountTables, annotators: list[str] | None = None, weights: Weights = None,
                   order: list[str] | None = None, *, min_overlap: int = 1, max_annotators: int = 50,
                   task: str | None = None, source: str | None = "human") -> pd.DataFrame:
    """Cohen's kappa for every pair of annotators, in one sparse product.

    Parameters
    ----------
    annotators : annotators to compare; default the ``max_annotators`` with most judgements.
    min_overlap : pairs sharing fewer items (labeled once by each) are left out.

    Returns
    -------
    DataFrame with columns annotator_a, annotator_b, kappa, n_items (one row per pair, a < b in the
    given order), sorted by kappa.
    """
    if weights not in (None, "linear", "quadratic"):
        raise ParameterError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")
    ct = _paired_counts(table, task, source, order)
    if annotators is None:
        vol = np.bincount(ct.annotator, minlength=ct.n_annotators)
        pick = np.argsort(-vol, kind="stable")[:max_annotators]
    else:
        missing = [x for x in annotators if str(x) not in set(ct.annotators)]
        if missing:
            raise ParameterError(f"annotators without judgements in task {ct.task!r}: {', '.join(map(repr, missing[:5]))}")
        pick = ct.annotators.get_indexer([str(x) for x in annotators])
    A, L = len(pick), ct.n_labels
    pos = np.full(ct.n_annotators, -1, np.int64)
    pos[pick] = np.arange(A)
    keep = _single_rows(ct) & (pos[ct.annotator] >= 0)
    X = sp.csr_matrix((np.ones(int(keep.sum())), (ct.item[keep], pos[ct.annotator[keep]] * L + ct.label[keep])),
                      shape=(ct.n_items, A * L))
    G = (X.T @ X).toarray().reshape(A, L, A, L).transpose(0, 2, 1, 3)  # G[a, b] = contingency a x b
    ia, ib = np.triu_indices(A, k=1)
    C = G[ia, ib]
    n = C.sum(axis=(1, 2))
    ok = n >= max(min_overlap, 1)
    C, ia, ib, n = C[ok], ia[ok], ib[ok], n[ok]
    # weights over the positions of labels used by the pair
    kappa = np.empty(len(C))
    if weights is None:
        kappa = _kappa_from_tables(C, _weights(None, L))
    else:
        for r in range(len(C)):  # per pair: positions among the labels this pair used
            used = np.flatnonzero(C[r].sum(axis=0) + C[r].sum(axis=1))
            kappa[r] = _kappa_from_tables(C[r][np.ix_(used, used)][None], _weights(weights, used.size))[0]
    names = ct.annotators[pick]
    out = pd.DataFrame({"annotator_a": names[ia].astype(str), "annotator_b": names[ib].astype(str),
                        "kappa": kappa, "n_items": n.astype(np.int64)})
    return out.sort_values(["kappa", "annotator_a", "annotator_b"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- breakdowns
BY = ("label", "slice", "task", "guideline_version", "day", "week", "month")


def _window(table: pd.DataFrame, freq: str) -> pd.Series:
    t = table["created_at"]
    if freq == "day":
        w = t.dt.floor("D")
    elif freq == "week":
        w = (t.dt.floor("D") - pd.to_timedelta(t.dt.dayofweek, unit="D"))
    else:
        w = t.dt.tz_convert(None).dt.to_period("M").dt.start_time.dt.tz_localize("UTC")
    return w.dt.strftime("%Y-%m-%d").astype("category")


def _one(metric: str, ct: CountTables, *, level: str, order: list[str] | None, ci: float | None, n_boot: int,
         seed: int | None, N: Any = None, labels: pd.Index | None = None) -> tuple[float, float, float, int, str]:
    N = ct if N is None else N
    labels = ct.labels if labels is None else labels
    if metric == "krippendorff":
        return _alpha_counts(N, labels, level, ci=ci, n_boot=n_boot, seed=seed)
    if metric == "fleiss":
        return _fleiss_counts(N, ci=ci, n_boot=n_boot, seed=seed)
    if metric == "percent":
        return _fleiss_counts(N, ci=ci, n_boot=n_boot, seed=seed, percent=True)
    if metric == "ac1":
        return _ac1_counts(N, ci=ci, n_boot=n_boot, seed=seed)
    raise ParameterError(f"metric must be one of krippendorff, fleiss, ac1, percent for a breakdown, got {metric!r}")


def agreement_by(table: pd.DataFrame, by: str = "label", metric: str = "krippendorff", level: Level = "nominal",
                 order: list[str] | None = None, *, ci: float | None = None, n_boot: int = 1000, seed: int | None = 0,
                 task: str | None = None, source: str | None = "human", min_items: int = 1) -> pd.DataFrame:
    """Agreement broken down by label (one-vs-rest), slice, task, guideline version or time window.

    Parameters
    ----------
    by : "label" (each label against all others, nominal), "slice", "task", "guideline_version", or a
        time window of ``created_at``: "day", "week" (weeks start on Monday, UTC) or "month".
        Except for "task", the table must hold one task (or pass ``task=``); "task" measures each task.
        Groups split rows: an item judged under two guideline versions counts in each with its own rows.
    metric : "krippendorff", "fleiss", "ac1" or "percent".
    min_items : groups with fewer items are reported with NaN and a reason.

    Returns
    -------
    DataFrame with one row per group: ``by`` value, metric, value, ci_low, ci_high, n_items,
    n_pairable, reason (and ``n_judgements``). Rows without a group value (e.g. no slice) form the
    group "(none)".
    """
    if by not in BY:
        raise ParameterError(f"by must be one of {', '.join(BY)}, got {by!r}")
    if metric not in ("krippendorff", "fleiss", "ac1", "percent"):
        raise ParameterError(f"metric must be one of krippendorff, fleiss, ac1, percent for a breakdown, got {metric!r}")
    if level not in LEVELS:
        raise ParameterError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    check_ci(ci, n_boot)
    table = as_label_table(table)
    rows: list[dict[str, Any]] = []
    lvl = level if metric == "krippendorff" else None

    def add(group: str, ct: CountTables | None, res: tuple[float, float, float, int, str] | None, n_j: int) -> None:
        if res is None:
            v, lo, hi, npair, reason = float("nan"), float("nan"), float("nan"), 0, f"fewer than {min_items} items"
        else:
            v, lo, hi, npair, reason = res
        rows.append({by: group, "metric": metric, "level": lvl, "value": v, "ci_low": lo, "ci_high": hi,
                     "n_items": 0 if ct is None else ct.n_items, "n_pairable": npair, "n_judgements": n_j,
                     "reason": reason})

    if by == "label":
        ct = CountTables.from_labels(table, task=task, source=source, order=order)
        N = ct.counts().astype(np.float64)
        m = N.sum(axis=1, keepdims=True)
        two = pd.Index(["yes", "no"], dtype="str")
        for j, lab in enumerate(ct.labels):
            Nj = np.column_stack([N[:, j], m[:, 0] - N[:, j]])
            res = _one(metric, ct, level="nominal", order=None, ci=ci, n_boot=n_boot, seed=seed, N=Nj, labels=two)
            add(str(lab), ct, res, int(N[:, j].sum()))
    else:
        if by == "task":
            groups = table["task"]
        elif by in ("day", "week", "month"):
            table = table.loc[table["created_at"].notna()]
            groups = _window(table, by)
            task = resolve_task(table, task) if len(table) else task
        else:
            task = resolve_task(table, task)
            groups = table[by]
            if groups.isna().any():
                groups = groups.cat.add_categories(["(none)"]).fillna("(none)")
        codes = groups.cat.codes.to_numpy()
        for g, name in enumerate(groups.cat.categories):
            sub = table.iloc[np.flatnonzero(codes == g)]
            if not len(sub):
                continue
            try:
                ct = CountTables.from_labels(sub, task=None if by == "task" else task, source=source, order=order)
            except ParameterError as exc:
                add(str(name), None, (float("nan"), float("nan"), float("nan"), 0, str(exc)), len(sub))
                continue
            res_g = None if ct.n_items < min_items else _one(metric, ct, level=level, order=order, ci=ci, n_boot=n_boot,
                                                          seed=seed)
            add(str(name), ct, res_g, ct.n_judgements)
    cols = [by, "metric", "level", "value", "ci_low", "ci_high", "n_items", "n_pairable", "n_judgements", "reason"]
    return pd.DataFrame(rows, columns=cols)
