"""Seeded, vectorized bootstrap over items for statistics that are functions of per-item sums."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from labkit.errors import ParameterError

#: Most resampling-count cells held in memory at once (replicates x items).
_CHUNK_CELLS = 1 << 24


def check_ci(ci: float | None, n_boot: int) -> None:
    if ci is not None and not (isinstance(ci, (int, float)) and 0 < float(ci) < 1):
        raise ParameterError(f"ci must be a confidence level strictly between 0 and 1 (e.g. 0.95) or None, got {ci!r}")
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ParameterError(f"n_boot must be a positive integer, got {n_boot!r}")


def bootstrap_ci(stats: np.ndarray | sp.spmatrix, f: Callable[[np.ndarray], np.ndarray], *, ci: float | None,
                 n_boot: int, seed: int | None, weights: np.ndarray | None = None) -> tuple[float, float]:
    """Percentile interval of ``f(column sums of resampled items)``.

    ``stats`` holds one row per item (dense or sparse); a replicate draws as many items with
    replacement (``numpy.random.default_rng(seed)``) and sums their rows. ``f`` maps a
    (replicates x columns) array of sums to one value per replicate. Replicates where the statistic
    is undefined (NaN) are left out of the percentiles. Returns (nan, nan) when ``ci`` is None.

    ``weights`` (folded item rows, :class:`~labkit.stats.counts.ItemLabelCounts`): row ``r`` stands for
    ``weights[r]`` items; a replicate draws ``sum(weights)`` items from the rows with probabilities
    ``weights / sum(weights)`` (one multinomial draw), the same resampling distribution as drawing items.
    """
    if ci is None:
        return float("nan"), float("nan")
    n = stats.shape[0]
    if n == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    if weights is not None:
        return _folded_ci(np.asarray(stats, dtype=np.float64), f, np.asarray(weights, dtype=np.float64), ci=float(ci),
                          n_boot=n_boot, rng=rng)
    chunk = max(1, min(n_boot, _CHUNK_CELLS // max(n, 1)))
    dense = not sp.issparse(stats)
    S = np.asarray(stats, dtype=np.float64) if dense else sp.csc_matrix(stats, dtype=np.float64)
    out = np.empty(n_boot)
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        draws = rng.integers(0, n, size=(b, n))
        draws += (np.arange(b) * n)[:, None]
        w = np.bincount(draws.ravel(), minlength=b * n).reshape(b, n).astype(np.float64)
        sums = w @ S if dense else np.asarray((S.T @ w.T).T)
        out[done:done + b] = f(sums)
        done += b
    out = out[np.isfinite(out)]
    if out.size == 0:
        return float("nan"), float("nan")
    alpha = (1.0 - float(ci)) / 2.0
    lo, hi = np.quantile(out, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def _folded_ci(S: np.ndarray, f: Callable[[np.ndarray], np.ndarray], weights: np.ndarray, *, ci: float, n_boot: int,
               rng: np.random.Generator) -> tuple[float, float]:
    n_items = int(round(float(weights.sum())))
    p = weights / weights.sum()
    chunk = max(1, min(n_boot, _CHUNK_CELLS // max(S.shape[0], 1)))
    out = np.empty(n_boot)
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        w = rng.multinomial(n_items, p, size=b).astype(np.float64)
        out[done:done + b] = f(w @ S)
        done += b
    out = out[np.isfinite(out)]
    if out.size == 0:
        return float("nan"), float("nan")
    alpha = (1.0 - ci) / 2.0
    lo, hi = np.quantile(out, [alpha, 1.0 - alpha])
    return float(lo), float(hi)
