"""The auto-accept plan over a label table: which model pre-labels go straight through, with provenance.

Model pre-labels are the rows with ``source == "model"``; their model version is the ``model_version`` column
when the table has one, else the model's ``annotator_id`` (importers store the model id there). References
(what a model label is checked against), best first: gold, then the latest adjudication or review-stage human
label, then the default consensus model (:func:`labkit.stats.truth.fit_consensus` over human judgements).

A human label always wins: in the exported labels an item with any human judgement carries the human label of
record (adjudication, else review, else consensus) and ``final_source = "human"``, whatever the policy says
about its model label.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import pandas as pd

from labkit._atomic import atomic_path
from labkit.automation.ltt import Policy, fit_policy, naive_policy, textbook_policy
from labkit.errors import InputRefused, ParameterError

__all__ = ["model_labels", "human_of_record", "reference_labels", "calibration_set", "make_plan", "write_plan",
           "PLAN_COLUMNS"]

PLAN_COLUMNS = ("item_id", "task", "label", "confidence", "accepted", "threshold", "group", "policy_id",
                "model_version", "slice", "human_label", "final_label", "final_source")


def _s(x: pd.Series) -> pd.Series:
    """Values as Python strings (None where missing); categoricals by their codes (fast on millions of rows)."""
    if isinstance(x.dtype, pd.CategoricalDtype):
        cats = np.asarray(x.cat.categories.astype(str), dtype=object)
        codes = x.cat.codes.to_numpy()
        return pd.Series(np.append(cats, np.array([None], dtype=object))[np.where(codes < 0, len(cats), codes)], index=x.index, dtype=object)
    return x.astype(object).where(x.notna(), None)


def _key(x: pd.Series, like: pd.Series | None = None) -> pd.Series:
    """An id column as a categorical (``like``'s categories when given), so joins run on integer codes."""
    if like is not None:
        if isinstance(like.dtype, pd.CategoricalDtype):
            codes = like.cat.categories.get_indexer(pd.Index(_s(x), dtype=object))
            return pd.Series(pd.Categorical.from_codes(codes, dtype=like.dtype), index=x.index)
        return pd.Series(pd.Categorical(_s(x), categories=pd.Index(like.astype(str).unique())), index=x.index)
    return x if isinstance(x.dtype, pd.CategoricalDtype) else x.astype(str).astype("category")


def _int_key(df: pd.DataFrame) -> np.ndarray:
    """(item_id, task) as one int64 per row from the categorical codes (-1 where either is missing)."""
    i = df["item_id"].cat.codes.to_numpy().astype(np.int64)
    t = df["task"].cat.codes.to_numpy().astype(np.int64)
    n_t = max(len(df["task"].cat.categories), 1)
    return np.where((i < 0) | (t < 0), -1, i * n_t + t)


def _join(left: pd.DataFrame, right: pd.DataFrame, *, how: str = "left") -> pd.DataFrame:
    """Join ``right``'s other columns onto ``left`` by (item_id, task); both keyed on the same categories and
    ``right`` unique per key. An integer lookup: no string hashing on millions of rows."""
    def shared(c: str) -> bool:
        a, b = left[c], right[c]
        if not (isinstance(a.dtype, pd.CategoricalDtype) and isinstance(b.dtype, pd.CategoricalDtype)):
            return False
        ca, cb = a.cat.categories, b.cat.categories
        return ca is cb or (len(ca) == len(cb) and bool(ca.equals(cb)))
    same = shared("item_id") and shared("task")
    if not same:
        return left.merge(right, on=["item_id", "task"], how=how)
    idx = pd.Index(_int_key(right)).get_indexer(_int_key(left))
    out = left if how == "left" else left[idx >= 0]
    idx = idx if how == "left" else idx[idx >= 0]
    out = out.reset_index(drop=True)
    for c in right.columns:
        if c in ("item_id", "task"):
            continue
        col = right[c].to_numpy(dtype=object) if right[c].dtype == object else right[c].to_numpy()
        vals = np.append(col, np.array([None], dtype=object)) if col.dtype == object else np.append(col, np.nan)
        v = vals[np.where(idx < 0, len(col), idx)]
        out[c] = pd.Series(v, dtype=object) if v.dtype == object else v  # object kept: no string-array inference
    return out


def _keyed(table: pd.DataFrame) -> pd.DataFrame:
    if all(isinstance(table[c].dtype, pd.CategoricalDtype) for c in ("item_id", "task")):
        return table
    table = table.copy()
    for c in ("item_id", "task"):
        table[c] = _key(table[c])
    return table


def model_labels(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (item, task) model pre-label (the latest if a model labelled an item twice)."""
    m = _keyed(table)
    m = m[m["source"].astype(str) == "model"]
    if "created_at" in m.columns:
        m = m.sort_values("created_at", kind="stable", na_position="first")
    m = m.drop_duplicates(["item_id", "task"], keep="last")
    ver = m["model_version"] if "model_version" in m.columns else m["annotator_id"]
    out = pd.DataFrame({"item_id": m["item_id"], "task": m["task"],
                        "label": _s(m["label"]), "confidence": m["confidence"].astype(np.float64),
                        "model_version": _s(ver), "slice": _s(m["slice"]) if "slice" in m.columns else None,
                        "created_at": m["created_at"] if "created_at" in m.columns else pd.NaT})
    return out.reset_index(drop=True)


def human_of_record(table: pd.DataFrame, *, consensus: bool = True) -> pd.DataFrame:
    """Per (item, task) the human label that stands: adjudication, else review, else the consensus model's label.

    Columns item_id, task, label, source (adjudication | review | consensus).
    """
    from labkit.stats.truth import fit_consensus

    table = _keyed(table)
    h = table[table["source"].astype(str) == "human"]
    parts = []
    for stage in ("adjudication", "review"):
        r = h[h["stage"].astype(str) == stage]
        if "created_at" in r.columns:
            r = r.sort_values("created_at", kind="stable", na_position="first")
        r = r.drop_duplicates(["item_id", "task"], keep="last")
        parts.append(pd.DataFrame({"item_id": r["item_id"], "task": r["task"],
                                   "label": _s(r["label"]), "source": stage}))
    lab = h[h["stage"].astype(str) == "label"]
    if consensus and len(lab):
        c = fit_consensus(lab, source="human").consensus
        parts.append(pd.DataFrame({"item_id": _key(c["item_id"], table["item_id"]),
                                   "task": _key(c["task"], table["task"]),
                                   "label": _s(c["label"]), "source": "consensus"}))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["item_id", "task", "label", "source"])
    return out.drop_duplicates(["item_id", "task"], keep="first").reset_index(drop=True)


def reference_labels(table: pd.DataFrame, gold: pd.DataFrame | None = None, *, consensus: bool = True) -> pd.DataFrame:
    """What each item's label is checked against: gold, else human of record (see :func:`human_of_record`)."""
    table = _keyed(table)
    parts = []
    if gold is not None and len(gold):
        parts.append(pd.DataFrame({"item_id": _key(gold["item_id"], table["item_id"]),
                                   "task": _key(gold["task"], table["task"]),
                                   "label": _s(gold["label"]), "source": "gold"}).dropna(subset=["item_id", "task"]))
    parts.append(human_of_record(table, consensus=consensus))
    out = pd.concat(parts, ignore_index=True)
    return out.drop_duplicates(["item_id", "task"], keep="first").reset_index(drop=True)


def _with_reference(ml: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    r = ref.rename(columns={"label": "reference", "source": "reference_source"})
    return ml.merge(r, on=["item_id", "task"], how="left")


def calibration_set(table: pd.DataFrame, gold: pd.DataFrame, *, task: str | None = None,
                    reviewed: bool = False, ml: pd.DataFrame | None = None) -> pd.DataFrame:
    """Model pre-labels on gold items with ``correct`` (model label == gold); rows without confidence dropped.

    With ``reviewed``, items without gold but with an adjudication or review-stage human label count too (that
    label as the reference): human-verified items, as the guarantee needs. ``ml``: a precomputed
    :func:`model_labels`.
    """
    ml = model_labels(table) if ml is None else ml
    if task is not None:
        ml = ml[ml["task"] == task]
    table = _keyed(table)
    g = pd.DataFrame({"item_id": _key(gold["item_id"], table["item_id"]), "task": _key(gold["task"], table["task"]),
                      "gold": _s(gold["label"])}).dropna(subset=["item_id", "task"])
    if reviewed:
        r = human_of_record(table, consensus=False)
        r = pd.DataFrame({"item_id": r["item_id"], "task": r["task"], "gold": r["label"]})
        g = pd.concat([g, r], ignore_index=True).drop_duplicates(["item_id", "task"], keep="first")
    cal = _join(ml, g, how="inner")
    cal = cal[cal["confidence"].notna() & cal["confidence"].between(0, 1)]
    cal["correct"] = (cal["label"] == cal["gold"]).to_numpy()
    return cal.reset_index(drop=True)


def make_plan(table: pd.DataFrame, calibration: pd.DataFrame, *, target_error: float, delta: float,
              grouping: str = "auto", task: str | None = None, human: pd.DataFrame | None = None,
              reviewed: bool = False) -> tuple[pd.DataFrame, Policy, dict[str, Policy]]:
    """Fit the policy on ``calibration`` (gold table) and apply it to every model pre-label of ``table``.

    Returns the plan (``PLAN_COLUMNS``), the fitted policy, and the textbook and naive baselines fitted on the
    same calibration set (for comparison). ``human`` (optional) is a precomputed :func:`human_of_record`;
    ``reviewed`` adds review/adjudication items to the calibration set (see :func:`calibration_set`).
    """
    if "source" not in table.columns:
        raise InputRefused("<labels>", "the label table has no source column", field="source")
    ml = model_labels(table)
    cal = calibration_set(table, calibration, task=task, reviewed=reviewed, ml=ml)
    if task is not None:
        ml = ml[ml["task"] == task].reset_index(drop=True)
    if ml.empty:
        raise ParameterError("no model pre-labels (source = model) in the labels" + (f" for task {task!r}" if task else ""))
    pol = fit_policy(cal["confidence"].to_numpy(), cal["correct"].to_numpy(), target_error=target_error, delta=delta,
                     labels=cal["label"].to_numpy(), slices=cal["slice"].to_numpy(), grouping=grouping)
    base = {"textbook": textbook_policy(cal["confidence"].to_numpy(), cal["correct"].to_numpy(),
                                        target_error=target_error, delta=delta),
            "naive": naive_policy(target_error)}
    conf = ml["confidence"].to_numpy(np.float64)
    thr = pol.threshold_of(ml["label"].to_numpy(), ml["slice"].to_numpy(), len(ml))
    with np.errstate(invalid="ignore"):
        accepted = conf >= thr
    hum = human_of_record(table) if human is None else human
    h = hum.rename(columns={"label": "human_label", "source": "human_source"})
    plan = _join(ml, h)
    plan["accepted"] = accepted
    plan["threshold"] = np.where(np.isinf(thr), np.nan, thr)
    plan["group"] = pd.Series(pol.group_of(ml["label"].to_numpy(), ml["slice"].to_numpy(), len(ml)), dtype=object)
    plan["policy_id"] = pd.Categorical.from_codes(np.zeros(len(plan), np.int8), categories=[pol.policy_id])
    has_h = plan["human_label"].notna().to_numpy()
    plan["final_label"] = pd.Series(np.where(has_h, plan["human_label"].to_numpy(dtype=object),
                                             np.where(accepted, plan["label"].to_numpy(dtype=object), None)), dtype=object)
    plan["final_source"] = pd.Categorical.from_codes(np.where(has_h, 0, np.where(accepted, 1, 2)).astype(np.int8),
                                                     categories=["human", "model", "queue"])
    return plan[list(PLAN_COLUMNS)], pol, base


def write_plan(plan: pd.DataFrame, out: str | os.PathLike[str]) -> None:
    """Write the plan atomically (CSV, or Parquet for a .parquet path)."""
    with atomic_path(out) as tmp:
        if str(out).endswith(".parquet"):
            plan.to_parquet(tmp, index=False)
        else:
            plan.to_csv(tmp, index=False)


def summary(plan: pd.DataFrame, pol: Policy, base: dict[str, Policy], cal_n: int | None = None) -> dict[str, Any]:
    """Counts for the CLI: items, accepted, routed to people, overridden by a human label."""
    acc = plan["accepted"].to_numpy(bool)
    return {"policy": pol.to_dict(), "n_model_labels": int(len(plan)), "n_accepted": int(acc.sum()),
            "accepted_share": float(acc.mean()) if len(plan) else math.nan,
            "n_to_review": int((~acc).sum()),
            "n_human_wins": int((plan["final_source"] == "human").sum()),
            "textbook_threshold": _num(base["textbook"].thresholds.get("all")),
            "naive_threshold": _num(base["naive"].thresholds.get("all"))}


def _num(x: float | None) -> float | None:
    return None if x is None or math.isinf(x) or math.isnan(x) else float(x)
