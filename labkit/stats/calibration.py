"""Is a confidence score worth its number? ECE, Brier score and a reliability table.

Applies to annotators' self-reported confidence (``source="human"``) and to model pre-labels
(``source="model"``, the model's score for the label it proposed). A judgement's outcome is 1 when
its label equals the reference: gold where the item has gold, else (``reference="consensus"``) the
majority vote of the human judgements on the item, the judging annotator's own rows left out.
Rows without a confidence are not scored and are counted in ``n_missing_confidence``; a confidence
outside [0, 1] (validation reports it) is not scored either and is counted in ``n_invalid_confidence``.

>>> import numpy as np
>>> round(expected_calibration_error(np.array([0.9, 0.9, 0.6, 0.6]), np.array([1, 1, 1, 0]), n_bins=10), 4)
0.1
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from labkit.errors import ParameterError
from labkit.stats.consensus import _mv_codes
from labkit.stats.counts import CountTables, as_label_table, resolve_task
from labkit.stats.scoring import _loo_consensus, join_gold

__all__ = ["expected_calibration_error", "brier_score", "reliability_table", "confidence_calibration",
           "CalibrationResult"]


def _arrays(confidence: Any, correct: Any) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(confidence, dtype=np.float64)
    y = np.asarray(correct, dtype=np.float64)
    if p.shape != y.shape or p.ndim != 1:
        raise ParameterError(f"confidence and correct must be 1-d arrays of the same length, got {p.shape} and {y.shape}")
    if np.isnan(p).any():
        raise ParameterError("confidence has missing values; drop or fill them first")
    if ((p < 0) | (p > 1)).any():
        raise ParameterError(f"confidence must lie in [0, 1]; found {float(p[(p < 0) | (p > 1)][0])!r}")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ParameterError("correct must hold 0/1 (or booleans)")
    return p, y


def _bins(p: np.ndarray, n_bins: int) -> np.ndarray:
    if not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ParameterError(f"n_bins must be a positive integer, got {n_bins!r}")
    return np.minimum((p * n_bins).astype(np.int64), n_bins - 1)  # [0, 1/n), ..., [(n-1)/n, 1]


def reliability_table(confidence: Any, correct: Any, n_bins: int = 10) -> pd.DataFrame:
    """Per equal-width confidence bin: lower, upper, n, mean_confidence, accuracy, gap (accuracy - confidence).

    Bins are ``[k/n, (k+1)/n)`` with the last one closed; empty bins are kept (n = 0, NaN means).
    """
    p, y = _arrays(confidence, correct)
    b = _bins(p, n_bins)
    n = np.bincount(b, minlength=n_bins)
    sp_ = np.bincount(b, weights=p, minlength=n_bins)
    sy = np.bincount(b, weights=y, minlength=n_bins)
    with np.errstate(divide="ignore", invalid="ignore"):
        conf = np.where(n > 0, sp_ / n, np.nan)
        acc = np.where(n > 0, sy / n, np.nan)
    edges = np.arange(n_bins + 1) / n_bins
    return pd.DataFrame({"bin": np.arange(n_bins), "lower": edges[:-1], "upper": edges[1:], "n": n.astype(np.int64),
                         "mean_confidence": conf, "accuracy": acc, "gap": acc - conf})


def expected_calibration_error(confidence: Any, correct: Any, n_bins: int = 10) -> float:
    r"""Expected calibration error over equal-width bins (Naeini, Cooper & Hauskrecht 2015, AAAI;
    Guo et al. 2017, ICML): :math:`\mathrm{ECE} = \sum_b \frac{n_b}{N} |\mathrm{acc}_b - \mathrm{conf}_b|`.
    NaN for no judgements."""
    p, y = _arrays(confidence, correct)
    if p.size == 0:
        return float("nan")
    t = reliability_table(p, y, n_bins)
    ok = t["n"].to_numpy() > 0
    return float((t["n"].to_numpy()[ok] * np.abs(t["gap"].to_numpy()[ok])).sum() / p.size)


def brier_score(confidence: Any, correct: Any) -> float:
    r"""Brier score (Brier 1950, Monthly Weather Review 78(1)) of the confidence as a probability of
    being correct: :math:`\frac{1}{N}\sum (p_r - y_r)^2`. NaN for no judgements."""
    p, y = _arrays(confidence, correct)
    return float(np.mean((p - y) ** 2)) if p.size else float("nan")


@dataclass(frozen=True)
class CalibrationResult:
    """Calibration of one source's confidence in one task."""

    source: str
    reference: str
    task: str
    ece: float
    brier: float
    n: int
    n_missing_confidence: int
    n_no_reference: int
    n_invalid_confidence: int
    mean_confidence: float
    accuracy: float
    reliability: pd.DataFrame = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in ("source", "reference", "task", "ece", "brier", "n", "n_missing_confidence",
                                            "n_no_reference", "n_invalid_confidence", "mean_confidence", "accuracy")}
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}


def confidence_calibration(table: pd.DataFrame, gold: pd.DataFrame | None = None, *, source: Literal["human", "model"] = "human",
                           reference: Literal["gold", "consensus"] = "gold", n_bins: int = 10,
                           task: str | None = None) -> CalibrationResult:
    """ECE, Brier score and reliability table of ``source``'s confidence.

    Parameters
    ----------
    gold : gold table; required for ``reference="gold"`` (only judgements on gold items count).
    source : "human" (self-reported confidence) or "model" (pre-label scores).
    reference : "gold", or "consensus": gold where the item has gold, else the majority vote of the
        other human judgements on the item (ties and items nobody else labeled are not scored).
    """
    if source not in ("human", "model"):
        raise ParameterError(f"source must be 'human' or 'model', got {source!r}")
    if reference not in ("gold", "consensus"):
        raise ParameterError(f"reference must be 'gold' or 'consensus', got {reference!r}")
    if reference == "gold" and gold is None:
        raise ParameterError("reference='gold' needs a gold table; pass gold=... or reference='consensus'")
    table = as_label_table(table)
    task = resolve_task(table, task)
    if gold is not None:
        j = join_gold(table, gold, task=task, source=source)
        ct, gcode = j.ct, j.gold[j.ct.item]
    else:
        ct = CountTables.from_labels(table, task=task, source=source)
        gcode = np.full(ct.n_judgements, -1, np.int64)
    ref = gcode.copy()
    if reference == "consensus":
        if source == "human":
            loo = _loo_consensus(ct)
        else:
            hum = CountTables.from_labels(table, task=task, source="human", labels=None)
            win, _ = _mv_codes(hum, "none")
            hum_item = hum.items.get_indexer(ct.items)
            hum_lab = np.where(win >= 0, ct.labels.get_indexer(np.asarray(hum.labels)[np.maximum(win, 0)]), -1)
            item_ref = np.where(hum_item >= 0, hum_lab[np.maximum(hum_item, 0)], -1)
            loo = item_ref[ct.item]
        ref = np.where(ref >= 0, ref, loo)
    conf = table["confidence"].to_numpy(dtype=np.float64)[ct.rows]
    has_ref = ref >= 0
    has_conf = ~np.isnan(conf)
    bad = has_conf & ((conf < 0) | (conf > 1))
    use = has_ref & has_conf & ~bad
    p = conf[use]
    y = (ct.label[use] == ref[use]).astype(np.float64)
    return CalibrationResult(
        source=source, reference=reference, task=ct.task,
        ece=expected_calibration_error(p, y, n_bins), brier=brier_score(p, y), n=int(use.sum()),
        n_missing_confidence=int((has_ref & ~has_conf).sum()), n_no_reference=int((~has_ref).sum()),
        n_invalid_confidence=int((has_ref & bad).sum()),
        mean_confidence=float(p.mean()) if p.size else float("nan"), accuracy=float(y.mean()) if y.size else float("nan"),
        reliability=reliability_table(p, y, n_bins))
