"""Audit of model pre-labels: accuracy, calibration and human override rate, by label, slice, version and week.

Each model pre-label is checked against the best reference the item has (gold, then adjudication or review,
then the default consensus model; see :mod:`labkit.automation.plan`). Intervals are Wilson 95% intervals.
The human pool's accuracy is measured against the same reference on the same groups (label-stage human
judgements); "better" / "worse" means the two intervals do not overlap. Against a consensus reference the
comparison favours the humans the consensus is made of, which the result states.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from labkit.automation.plan import _s, human_of_record, model_labels, reference_labels
from labkit.errors import ParameterError
from labkit.stats.calibration import brier_score, expected_calibration_error, reliability_table
from labkit.stats.scoring import wilson_interval

__all__ = ["AuditResult", "audit"]

BREAKDOWNS = ("label", "slice", "model_version", "week")


@dataclass
class AuditResult:
    overall: dict[str, Any]
    by: dict[str, pd.DataFrame] = field(default_factory=dict)
    reliability: pd.DataFrame = field(default_factory=pd.DataFrame)
    rows: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        def clean(v: Any) -> Any:
            return None if isinstance(v, float) and math.isnan(v) else v
        return {"overall": {k: clean(v) for k, v in self.overall.items()}, "notes": self.notes,
                "by": {k: [{c: clean(v) for c, v in r.items()} for r in t.to_dict("records")] for k, t in self.by.items()}}


def _group_stats(m: pd.DataFrame, h: pd.DataFrame, key: str) -> pd.DataFrame:
    rows = []
    for gval, g in m.groupby(key, sort=True, dropna=True):
        n = len(g)
        k = int(g["correct"].sum())
        lo, hi = wilson_interval(k, n)
        hg = h[h[key] == gval] if key in h.columns else h.iloc[0:0]
        hn, hk = len(hg), int(hg["correct"].sum()) if len(hg) else 0
        hlo, hhi = wilson_interval(hk, hn) if hn else (np.nan, np.nan)
        ov = g["overridden"].dropna()
        c = g["confidence"].dropna()
        cc = g.loc[c.index, "correct"].astype(float)
        c_ok = c.between(0, 1)
        ece = expected_calibration_error(c[c_ok].to_numpy(), cc[c_ok].to_numpy()) if c_ok.any() else math.nan
        verdict = "no clear difference"
        if hn and float(lo) > float(hhi):
            verdict = "model better"
        elif hn and float(hi) < float(hlo):
            verdict = "model worse"
        elif not hn:
            verdict = "no human judgements"
        rows.append({key: str(gval), "n": n, "accuracy": k / n, "ci_low": float(lo), "ci_high": float(hi),
                     "mean_confidence": float(c.mean()) if len(c) else math.nan, "ece": ece,
                     "override_rate": float(ov.mean()) if len(ov) else math.nan, "n_overridable": int(len(ov)),
                     "human_n": hn, "human_accuracy": hk / hn if hn else math.nan,
                     "human_ci_low": float(hlo), "human_ci_high": float(hhi), "verdict": verdict})
    return pd.DataFrame(rows)


def audit(table: pd.DataFrame, gold: pd.DataFrame | None = None, *, task: str | None = None,
          consensus: bool = True, n_bins: int = 10) -> AuditResult:
    """Audit every model pre-label of ``table`` against gold, review or consensus (see module docstring)."""
    ml = model_labels(table)
    if task is not None:
        ml = ml[ml["task"] == task]
    if ml.empty:
        raise ParameterError("no model pre-labels (source = model) to audit" + (f" for task {task!r}" if task else ""))
    ref = reference_labels(table, gold, consensus=consensus).rename(columns={"label": "reference",
                                                                              "source": "reference_source"})
    hum = human_of_record(table, consensus=False).rename(columns={"label": "human_label", "source": "human_source"})
    m = ml.merge(ref, on=["item_id", "task"], how="left").merge(hum, on=["item_id", "task"], how="left")
    n_model = len(m)
    m = m[m["reference"].notna()].copy()
    m["correct"] = (m["label"] == m["reference"]).to_numpy()
    m["overridden"] = np.where(m["human_label"].notna(), (m["human_label"] != m["label"]).astype(float), np.nan)
    m["week"] = (pd.to_datetime(m["created_at"], utc=True).dt.tz_localize(None).dt.to_period("W-SUN")
                 .dt.start_time.dt.strftime("%Y-%m-%d")) if m["created_at"].notna().any() else None
    # the human pool: label-stage human judgements against the same reference
    hj = table[(table["source"].astype(str) == "human") & (table["stage"].astype(str) == "label")]
    hj = pd.DataFrame({"item_id": _s(hj["item_id"]).astype(str), "task": _s(hj["task"]).astype(str),
                       "hlabel": _s(hj["label"]).astype(str)})
    hj = hj.merge(m[["item_id", "task", "reference", "slice", "model_version", "week", "label"]],
                  on=["item_id", "task"], how="inner")
    hj["correct"] = (hj["hlabel"] == hj["reference"]).to_numpy()
    # per label: the human pool on items the model gave that label
    by = {}
    for key in BREAKDOWNS:
        if key in m.columns and m[key].notna().any():
            by[key] = _group_stats(m, hj, key)
    n = len(m)
    k = int(m["correct"].sum())
    lo, hi = wilson_interval(k, n) if n else (np.nan, np.nan)
    c_ok = m["confidence"].between(0, 1)
    notes = []
    srcs = m["reference_source"].value_counts().to_dict()
    if "consensus" in srcs:
        notes.append(f"{srcs['consensus']} of {n} model labels are checked against the consensus of human judgements "
                     "(no gold or review): there the human pool is measured against itself, which favours it.")
    if "model_version" not in table.columns:
        notes.append("No model_version column: the model's annotator_id stands for its version.")
    if n_model - n:
        notes.append(f"{n_model - n} model labels have no reference (no gold, review or human judgement) and are not scored.")
    ov = m["overridden"].dropna()
    overall = {"n_model_labels": n_model, "n_scored": n, "accuracy": k / n if n else math.nan,
               "ci_low": float(lo), "ci_high": float(hi),
               "ece": expected_calibration_error(m.loc[c_ok, "confidence"].to_numpy(), m.loc[c_ok, "correct"].astype(float).to_numpy(), n_bins) if c_ok.any() else math.nan,
               "brier": brier_score(m.loc[c_ok, "confidence"].to_numpy(), m.loc[c_ok, "correct"].astype(float).to_numpy()) if c_ok.any() else math.nan,
               "mean_confidence": float(m["confidence"].mean()), "override_rate": float(ov.mean()) if len(ov) else math.nan,
               "n_overridable": int(len(ov)), "human_accuracy": float(hj["correct"].mean()) if len(hj) else math.nan,
               "references": {str(a): int(b) for a, b in srcs.items()}}
    rel = reliability_table(m.loc[c_ok, "confidence"].to_numpy(), m.loc[c_ok, "correct"].astype(float).to_numpy(), n_bins)
    return AuditResult(overall, by, rel, m.reset_index(drop=True), notes)
