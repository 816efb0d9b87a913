"""The one consensus model every later layer reads: labels, posteriors and annotator skill from one fit.

:func:`fit_consensus` is the single entry point for the default truth-inference model
(:class:`labkit.stats.robust.RobustDawidSkene`: Dawid-Skene with empirical-Bayes shrinkage of annotator
confusions). The review queue, incentives, automation and the simulator read its posteriors and annotator
skill from here, never from a second estimator.

Returned :class:`ConsensusFit`:

* ``consensus``: one row per item and task (``CONSENSUS_COLUMNS``: item_id, task, label, confidence,
  n_judgements, method="robust"); ``confidence`` is the calibrated probability that the label is right;
* ``posteriors[task]``: items x labels probabilities (index item_id, columns the task's labels), the winner's
  probability equal to the calibrated confidence and the others scaled to sum to one;
* ``skill``: one row per (task, annotator): ``task, annotator_id, n_judgements, accuracy, ci_low, ci_high``
  (accuracy = expected share of the annotator's judgements that match the true label under the model, shrunk
  toward the crowd by the model's own prior strength, with a 95% Beta interval);
* ``confusion[task]``: ``(annotators, confusion)`` with confusion[j, true, observed] probabilities (shrunk);
* ``info[task]``: converged, n_iter, strength (s), error_strength (se), accuracy_strength, prior (the prior family
  kept: "one-coin" or "two-way", :class:`~labkit.stats.robust.RobustDawidSkene`), prior_test_z and prior_test_gain
  (the held-out test that chose it), calibration (how confidence was made).

Calibration: with ``gold`` (20 gold items or more), the average of an isotonic and a Platt map of the
winner's log-odds fitted on the gold items, cross-fitted (5 folds; each gold item's confidence comes from a
map fitted without it); without gold, the posterior tempered by the exponent that best predicts held-out
judgements (label-only, weaker: it cannot see errors that annotators share).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from labkit.stats.consensus import _concat, _frame, _tasks
from labkit.stats.counts import CountTables

__all__ = ["ConsensusFit", "fit_consensus", "DEFAULT_METHOD"]

DEFAULT_METHOD = "robust"


@dataclass
class ConsensusFit:
    consensus: pd.DataFrame
    posteriors: dict[str, pd.DataFrame] = field(default_factory=dict)
    skill: pd.DataFrame = field(default_factory=pd.DataFrame)
    confusion: dict[str, tuple[pd.Index, np.ndarray]] = field(default_factory=dict)
    info: dict[str, dict[str, Any]] = field(default_factory=dict)


def _argmax_rows(P: np.ndarray) -> np.ndarray:
    """``P.argmax(axis=1)`` (first maximum wins) in K vectorized passes: numpy's reduction along a short
    contiguous axis is several times slower on millions of rows."""
    win = np.zeros(P.shape[0], np.int64)
    best = P[:, 0].copy()
    for k in range(1, P.shape[1]):
        col = P[:, k]
        better = col > best
        win[better] = k
        np.maximum(best, col, out=best)
    return win


def _skill(ct: CountTables, post: np.ndarray, prior_strength: float, patterns: Any = None) -> pd.DataFrame:
    """Shrunk accuracy per annotator with a 95% Beta interval.

    Evidence: the expected number of right judgements, sum over the annotator's judgements of the posterior
    of the label they gave (``n_judgements`` behind it). Prior: the crowd's accuracy worth
    ``prior_strength`` judgements (the model's own empirical-Bayes estimate), so one lucky judgement does not
    crown anybody and one slip does not condemn them.
    """
    from scipy.special import betaincinv

    n = np.bincount(ct.annotator, minlength=ct.n_annotators).astype(np.float64)
    if patterns is not None and ct.n_judgements:
        # the same sum over the distinct judgement rows (items sharing a row share the posterior)
        A, w, _, reps = patterns
        Ac = A.tocoo()
        K = max(ct.n_labels, 1)
        Pu = post if reps is None else post[reps]
        right = np.bincount(Ac.col // K, weights=Pu[Ac.row, Ac.col % K] * Ac.data * w[Ac.row],
                            minlength=ct.n_annotators)
    else:
        p = post[ct.item, ct.label] if ct.n_judgements else np.zeros(0)
        right = np.bincount(ct.annotator, weights=p, minlength=ct.n_annotators)
    pool = float(np.clip(right.sum() / max(n.sum(), 1e-12), 1e-6, 1 - 1e-6))
    a = right + prior_strength * pool
    b = np.maximum(n - right, 0.0) + prior_strength * (1 - pool)
    return pd.DataFrame({"task": ct.task, "annotator_id": np.asarray(ct.annotators).astype(str),
                         "n_judgements": n.astype(np.int64), "accuracy": a / (a + b),
                         "ci_low": betaincinv(a, b, 0.025), "ci_high": betaincinv(a, b, 0.975)})


def _log_odds(logjoint: np.ndarray, win: np.ndarray) -> np.ndarray:
    """The winner's posterior log-odds, log P(win) - log P(not win), from the log joint (no rounding to 1)."""
    rows = np.arange(len(win))
    top = logjoint[rows, win]
    rest = logjoint.copy()
    rest[rows, win] = -np.inf
    if logjoint.shape[1] < 2:
        return np.full(len(win), np.inf)
    mx = rest.max(axis=1)
    other = mx + np.log(np.exp(rest - mx[:, None]).sum(axis=1))
    return top - other


def _rescale(P: np.ndarray, conf: np.ndarray) -> np.ndarray:
    """Posteriors whose winner has probability ``conf``, the other labels keeping their proportions."""
    if P.size == 0:
        return P
    w = P.argmax(axis=1)
    rows = np.arange(len(w))
    pw = P[rows, w]
    rest = np.where(pw < 1.0, (1.0 - conf) / np.maximum(1.0 - pw, 1e-300), 0.0)
    Q = P * rest[:, None]
    K = P.shape[1]
    flat = (pw >= 1.0) & (K > 1)  # the raw posterior gave the others nothing: share the rest equally
    if flat.any():
        Q[flat] = ((1.0 - conf[flat]) / (K - 1))[:, None]
    Q[rows, w] = conf
    return Q


def fit_consensus(table: pd.DataFrame, *, task: str | None = None, source: str | None = "human",
                  gold: pd.DataFrame | None = None) -> ConsensusFit:
    """Fit the default consensus model on every task of ``table`` (or only ``task``).

    ``gold`` (item_id, task, label; a gold table naming no task applies to every task) is used only to
    calibrate confidence, cross-fitted; labels come from the judgements alone.
    """
    from labkit.stats.robust import RobustDawidSkene, calibrate_on_gold

    frames, skills = [], []
    fit = ConsensusFit(consensus=pd.DataFrame())
    for t in _tasks(table, task):
        ct = CountTables.from_labels(table, task=t, source=source)
        model = RobustDawidSkene().fit_counts(ct)  # warns (ConvergenceWarning) itself when a cap is hit
        P = model.posteriors_.to_numpy()
        K = ct.n_labels
        win = _argmax_rows(P) if K else np.zeros(ct.n_items, np.int64)
        raw = P[np.arange(ct.n_items), win] if K else np.zeros(ct.n_items)
        calibration = "none (no judgements)"
        conf = raw
        gold_items = np.zeros(0, np.int64)
        if gold is not None and K:
            from labkit.stats.scoring import gold_for_task

            g = gold_for_task(gold, t)
            gmap = pd.Series(g["label"].astype(str).to_numpy(), index=g["item_id"].astype(str).to_numpy())
            gmap = gmap[~gmap.index.duplicated(keep="last")]
            codes = pd.Index([str(x) for x in ct.labels]).get_indexer(
                gmap.reindex(np.asarray(ct.items).astype(str)).fillna("\0").to_numpy())
            gold_items = np.where(codes >= 0)[0]
            if len(gold_items) >= 20:
                correct = (win[gold_items] == codes[gold_items]).astype(np.float64)
                conf, _, chosen = calibrate_on_gold(_log_odds(model.logjoint_, win), correct, gold_items,
                                                    n_classes=K)
                calibration = (f"{chosen} (the average of an isotonic and a Platt map of the log-odds) on "
                               f"{len(gold_items)} gold items, 5-fold cross-fitted")
        if calibration.startswith("none") and K and ct.n_judgements:
            tt = model.temper(ct)
            if tt != 1.0:
                X = model.logjoint_ / tt
                X -= X.max(axis=1, keepdims=True)
                Q = np.exp(X)
                Q /= Q.sum(axis=1, keepdims=True)
                conf = Q[np.arange(ct.n_items), win]
            why = "fewer than 20 gold items" if gold is not None else "no gold"
            calibration = (f"tempered by 1/{tt:g} (held-out judgement likelihood; {why}: errors annotators share "
                           "are not seen)")
        Pc = _rescale(P, conf) if K and conf is not raw else P
        frame = _frame(ct, win, conf, DEFAULT_METHOD)
        frames.append(frame)
        fit.posteriors[t] = pd.DataFrame(Pc, index=model.posteriors_.index, columns=model.posteriors_.columns)
        fit.confusion[t] = (pd.Index(np.asarray(model.annotators_).astype(str), name="annotator_id"), model.errors_)
        fit.info[t] = {"converged": bool(model.converged_), "n_iter": int(model.n_iter_), "method": DEFAULT_METHOD,
                       "strength": round(float(model.strength_), 4),
                       "error_strength": round(float(model.error_strength_), 4),
                       "accuracy_strength": round(float(model.accuracy_strength_), 4),
                       "prior": model.prior_family_,
                       # the held-out test between one-coin and two-way (absent when a family was named)
                       **({"prior_test_z": round(float(model.family_test_["z"]), 3),
                           "prior_test_gain": round(float(model.family_test_["gain"]), 3)}
                          if model.family_test_ else {}),
                       "calibration": calibration, "n_gold_items": int(len(gold_items))}
        skills.append(_skill(ct, P, float(model.accuracy_strength_), model._patterns))
    fit.consensus = _concat(frames) if frames else pd.DataFrame()
    fit.skill = pd.concat(skills, ignore_index=True) if skills else pd.DataFrame(
        columns=["task", "annotator_id", "n_judgements", "accuracy", "ci_low", "ci_high"])
    return fit
