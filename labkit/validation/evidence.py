"""The data behind each anomaly, for a human reader (the validate_labels notebook plots these).

Each function reads its policy parameters from the same suite files the validation ran with, so
the plots show exactly the thresholds that decided. No plotting and no Great Expectations here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from labkit.validation import checks
from labkit.validation.report import ValidationReport
from labkit.validation.suites import Suite


def policy(suites: list[Suite], expectation_type: str) -> dict[str, Any]:
    """The kwargs of the first expectation of that type in ``suites`` (KeyError if none)."""
    for s in suites:
        for e in s.expectations:
            if e["type"] == expectation_type:
                return dict(e.get("kwargs", {}))
    raise KeyError(f"no {expectation_type} in suites {', '.join(s.name for s in suites)}")


def distribution_evidence(table: pd.DataFrame, suites: list[Suite]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-annotator G-tests (with a ``flagged`` column) and the label shares of each flagged
    annotator next to the rest of the pool (long: task, annotator_id, label, share, who)."""
    kw = policy(suites, "expect_annotator_label_distribution_to_match_pool")
    h = table[table["source"] == "human"] if "source" in table else table
    tests = checks.annotator_distribution_tests(h["task"], h["annotator_id"], h["label"], int(kw["min_n"]))
    flagged = checks.distribution_outliers(tests, float(kw["alpha"]), float(kw["min_tvd"]))
    keys = set(zip(flagged["task"], flagged["annotator_id"]))
    tests = tests.assign(flagged=[(t, a) in keys for t, a in zip(tests["task"], tests["annotator_id"])])
    rows = []
    for task, ann in sorted(keys):
        sub = h[h["task"].astype(str) == task]
        mine = sub["annotator_id"].astype(str) == ann
        for who, part in (("annotator", sub[mine]), ("rest of pool", sub[~mine])):
            share = part["label"].astype(str).value_counts(normalize=True)
            for label, v in share.items():
                rows.append({"task": task, "annotator_id": ann, "label": label, "share": float(v), "who": who})
    shares = pd.DataFrame(rows, columns=["task", "annotator_id", "label", "share", "who"])
    return tests.sort_values(["flagged", "p"], ascending=[False, True]).reset_index(drop=True), shares


def duration_evidence(table: pd.DataFrame, suites: list[Suite]) -> tuple[pd.DataFrame, dict[str, float], float]:
    """Rows with a duration: task, annotator_id, duration_s, robust_z, too_fast, outlier; plus the
    per-task floors and the robust-z threshold from the suites."""
    floors = policy(suites, "expect_judgement_duration_above_task_floor")["min_duration_s"]
    zmax = float(policy(suites, "expect_judgement_duration_not_outlier")["max_abs_z"])
    d = table.dropna(subset=["duration_s"])
    z = checks.duration_robust_z(d["task"], d["duration_s"])
    out = pd.DataFrame({"task": d["task"].astype(str).to_numpy(), "annotator_id": d["annotator_id"].astype(str).to_numpy(),
                        "duration_s": d["duration_s"].to_numpy(), "robust_z": z.to_numpy()})
    out["too_fast"] = ~checks.too_fast_mask(d["task"], d["duration_s"], floors).to_numpy()
    out["outlier"] = np.abs(out["robust_z"].to_numpy()) > zmax
    return out, dict(floors), zmax


def overlap_evidence(table: pd.DataFrame, suites: list[Suite]) -> tuple[pd.DataFrame, int]:
    """Distinct annotators per item among the rows the overlap expectation looks at, and k."""
    kw = policy(suites, "expect_items_to_have_min_distinct_annotators")
    t = table.query(kw["row_condition"]) if kw.get("row_condition") else table
    n = (t.groupby(["task", "item_id"], observed=True)["annotator_id"].nunique()
         .rename("n_annotators").reset_index())
    return n, int(kw["k"])


def headline_metrics(report: ValidationReport) -> dict[str, Any]:
    """The numbers a scheduled run records (``metrics.json``): gate, counts, failing rows per expectation."""
    s = report.summary()
    return {"gate_passed": bool(report.gate), "rows": s["rows"], "items": s["items"], "annotators": s["annotators"],
            "expectations": s["expectations"], "failed": s["failed"], "not_applicable": s["not_applicable"],
            "errors": s["error"], "failing_rows": s["failing_rows"],
            "critical_failed": s["critical_failed"], "warnings_failed": s["warnings_failed"],
            "failing_rows_by_expectation": {o.name: o.n_failing for o in report.outcomes if o.n_failing}}
