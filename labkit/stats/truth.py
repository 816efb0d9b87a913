"""The one consensus model every later layer reads: labels, posteriors and annotator skill from one fit.

:func:`fit_consensus` is the single entry point for the default truth-inference model. The review queue,
incentives, automation and the simulator read its posteriors and annotator skill from here, never from a
second estimator.

Returned :class:`ConsensusFit`:

* ``consensus``: one row per item and task (``CONSENSUS_COLUMNS``: item_id, task, label, confidence,
  n_judgements, method);
* ``posteriors[task]``: items x labels probabilities (index item_id, columns the task's labels);
* ``skill``: one row per (task, annotator): ``task, annotator_id, n_judgements, accuracy, ci_low, ci_high``
  (accuracy = expected share of the annotator's judgements that match the true label under the model);
* ``confusion[task]``: ``(annotators, confusion)`` with confusion[j, true, observed] probabilities;
* ``info[task]``: ``{"converged": bool, "n_iter": int, "method": str}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from labkit.stats.consensus import DawidSkene, _concat, _tasks
from labkit.stats.counts import CountTables

__all__ = ["ConsensusFit", "fit_consensus", "DEFAULT_METHOD"]

DEFAULT_METHOD = "ds"


@dataclass
class ConsensusFit:
    consensus: pd.DataFrame
    posteriors: dict[str, pd.DataFrame] = field(default_factory=dict)
    skill: pd.DataFrame = field(default_factory=pd.DataFrame)
    confusion: dict[str, tuple[pd.Index, np.ndarray]] = field(default_factory=dict)
    info: dict[str, dict[str, Any]] = field(default_factory=dict)


def _skill(ct: CountTables, post: np.ndarray) -> pd.DataFrame:
    """Expected accuracy per annotator: mean posterior of the label each judgement gave, Wilson interval."""
    p = post[ct.item, ct.label] if ct.n_judgements else np.zeros(0)
    n = np.bincount(ct.annotator, minlength=ct.n_annotators).astype(np.float64)
    s = np.bincount(ct.annotator, weights=p, minlength=ct.n_annotators)
    acc = np.divide(s, n, out=np.full_like(s, np.nan), where=n > 0)
    z = 1.959963984540054
    denom = 1 + z * z / np.where(n > 0, n, 1)
    centre = (acc + z * z / (2 * np.where(n > 0, n, 1))) / denom
    half = z * np.sqrt(acc * (1 - acc) / np.where(n > 0, n, 1) + z * z / (4 * np.where(n > 0, n, 1) ** 2)) / denom
    return pd.DataFrame({"task": ct.task, "annotator_id": np.asarray(ct.annotators).astype(str),
                         "n_judgements": n.astype(np.int64), "accuracy": acc,
                         "ci_low": np.clip(centre - half, 0, 1), "ci_high": np.clip(centre + half, 0, 1)})


def fit_consensus(table: pd.DataFrame, *, task: str | None = None, source: str | None = "human") -> ConsensusFit:
    """Fit the default consensus model on every task of ``table`` (or only ``task``)."""
    frames, skills = [], []
    fit = ConsensusFit(consensus=pd.DataFrame())
    for t in _tasks(table, task):
        ct = CountTables.from_labels(table, task=t, source=source)
        ds = DawidSkene().fit_counts(ct)
        frames.append(ds.consensus_)
        fit.posteriors[t] = ds.posteriors_
        fit.confusion[t] = (pd.Index(np.asarray(ds.annotators_).astype(str), name="annotator_id"), ds.errors_)
        fit.info[t] = {"converged": bool(ds.converged_), "n_iter": int(ds.n_iter_), "method": DEFAULT_METHOD}
        skills.append(_skill(ct, ds.posteriors_.to_numpy()))
    fit.consensus = _concat(frames) if frames else pd.DataFrame()
    fit.skill = pd.concat(skills, ignore_index=True) if skills else pd.DataFrame(
        columns=["task", "annotator_id", "n_judgements", "accuracy", "ci_low", "ci_high"])
    return fit
