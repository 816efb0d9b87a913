"""Where the simulator calls the real review planner and credential rule (never copies of them).

``available_hooks(policies)`` returns the keyword arguments :func:`labkit.simulate.engine.run_batch` takes:

* ``credential_pool``: which simulated annotators hold the credential. A qualification history is simulated
  for every annotator (``history_items`` judgements each, default 200, a ``gold_rate`` share of them on
  gold items, default 0.1), then :func:`labkit.incentives.credentials.decide` — the same function
  ``labkit credentials`` runs — decides on it; only holders label in the run.
* ``review_priority``: the order in which simulated items go to review, from :func:`labkit.review.plan_review`
  — the planner ``labkit review plan`` runs — on the run's simulated judgements (it fits the default
  consensus on them, so a planner policy costs a consensus fit per run: seconds, not milliseconds).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from labkit.errors import ParameterError
from labkit.simulate.model import TaskModel
from labkit.simulate.policies import Policy

__all__ = ["available_hooks", "credential_pool", "planner_priority"]


def _history(tm: TaskModel, n_per: int, gold_rate: float, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every annotator labels ``n_per`` items of a shared pool (three annotators per item), a share on gold."""
    J = len(tm.annotators)
    n_items = max(1, (J * n_per) // 3)
    items = rng.integers(0, len(tm.truth), n_items)
    z = tm.truth[items]
    order = np.argsort(rng.random((n_items, J)), axis=1)[:, :3] if J >= 3 else rng.integers(0, J, (n_items, 3))
    p = 1.0 / (1.0 + np.exp(-(tm.theta[order, z[:, None]] + tm.beta[items][:, None])))
    right = rng.random(order.shape) < p
    cw = np.cumsum(tm.wrong[items], axis=1)
    u = rng.random(order.shape)
    wrong = (u[:, :, None] > cw[:, None, :-1]).sum(axis=2) if tm.n_labels > 1 else np.zeros(order.shape, np.int64)
    lab = np.where(right, z[:, None], wrong)
    ids = np.arange(n_items).astype(str)
    labels = np.asarray(tm.labels, dtype=object)
    table = pd.DataFrame({"item_id": np.repeat(ids, order.shape[1]), "task": tm.task,
                          "annotator_id": np.asarray(tm.annotators, dtype=object)[order.ravel()],
                          "label": labels[lab.ravel()]})
    is_gold = rng.random(n_items) < gold_rate
    gold = pd.DataFrame({"item_id": ids[is_gold], "task": tm.task, "label": labels[z[is_gold]]})
    return table, gold


def credential_pool(tm: TaskModel, spec: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    """Boolean mask over the model's annotators: who holds the credential after a simulated qualification."""
    from labkit.incentives.credentials import decide, threshold_policy

    n_per = int(spec.get("history_items", 200))
    gold_rate = float(spec.get("gold_rate", 0.1))
    if n_per < 1 or not 0 < gold_rate <= 1:
        raise ParameterError(f"credential: history_items must be >= 1 and gold_rate in (0, 1], got {n_per}, {gold_rate}")
    table, gold = _history(tm, n_per, gold_rate, rng)
    decisions = decide(table, gold, threshold_policy(float(spec["threshold"])))
    granted = set(decisions.loc[decisions["granted"].astype(bool), "annotator_id"].astype(str))
    mask = np.array([a in granted for a in tm.annotators])
    if not mask.any():
        raise ParameterError(f"credential threshold {spec['threshold']}: no simulated annotator qualifies")
    return mask


def available_hooks(policies: list[Policy]) -> dict[str, Any]:
    hooks: dict[str, Any] = {}
    if any(p.credential is not None for p in policies):
        cache: dict[tuple[Any, ...], np.ndarray] = {}

        def pool(tm: TaskModel, spec: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
            key = (id(tm), repr(sorted(spec.items())), int(rng.integers(0, 2**31)))
            if key not in cache:
                cache[key] = credential_pool(tm, spec, rng)
            return cache[key]

        hooks["credential_pool"] = pool
    if any(p.review is not None and p.review.priority == "planner" for p in policies):
        hooks["review_priority"] = planner_priority
    return hooks


def planner_priority(tm: TaskModel, draw: dict[str, np.ndarray], used: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Simulated items in the order labkit's review planner ranks them (best first)."""
    from labkit.review import plan_review

    labels, ann = draw["labels"], draw["annotators"]
    n, k = labels.shape
    mask = np.arange(k)[None, :] < used[:, None]
    rows = np.repeat(np.arange(n), k)[mask.ravel()]
    table = pd.DataFrame({"item_id": rows.astype(str), "task": tm.task,
                          "annotator_id": np.asarray(tm.annotators, dtype=object)[ann.ravel()[mask.ravel()]],
                          "label": np.asarray(tm.labels, dtype=object)[labels.ravel()[mask.ravel()]],
                          "source": "human", "stage": "label"})
    from labkit.stats.counts import as_label_table

    plan = plan_review(as_label_table(table), budget_fraction=1.0, minutes_per_item=tm.review_minutes)
    order = plan.queue["item_id"].astype(str).astype(int).to_numpy()
    rest = np.setdiff1d(np.arange(n), order)  # items the planner did not list (none expected) go last
    return np.concatenate([order, rest])
