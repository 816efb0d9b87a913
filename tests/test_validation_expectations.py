"""Every expectation of expectations/*.json against a passing and a failing fixture, through GX.

The passing fixture is a small, hand-checkable program on the ``demo`` task
(tests/data/validation/guidelines): 40 items, 3 annotators each, everyone giving the item's label.
Each failing fixture changes one thing and must fail exactly the expected expectations, naming the
rows by item_id and annotator_id.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labkit.schema import conform_labels
from labkit.validation import validate

DATA = Path(__file__).parent / "data" / "validation"
GUIDE = DATA / "guidelines"
NOW = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
LABELS = ("ok", "offensive", "hate", "spam")

SCHEMA_NULL = "expect_column_values_to_not_be_null"
DUP = "expect_compound_columns_to_be_unique(item_id, annotator_id, task, stage, label)"


def base_rows() -> pd.DataFrame:
    rows = []
    for j in range(40):
        for a in range(3):
            rows.append({"item_id": f"i{j:02d}", "annotator_id": f"a{a + 1}", "task": "demo",
                         "label": LABELS[j % 4], "guideline_version": "1.0.0",
                         "created_at": pd.Timestamp("2026-01-05T00:00:00Z") + pd.Timedelta(minutes=10 * j + a),
                         "duration_s": 10.0 + (7 * j + 3 * a) % 11, "confidence": 0.5 + 0.1 * ((j + a) % 5),
                         "source": "human", "stage": "label", "slice": "forum" if j % 2 else "chat"})
    return pd.DataFrame(rows)


def table(rows: pd.DataFrame) -> pd.DataFrame:
    conformed = conform_labels(rows)
    assert conformed.rejects.empty
    return conformed.table


def run(rows: pd.DataFrame | None = None, *, frame: pd.DataFrame | None = None):
    return validate(frame if frame is not None else table(rows), GUIDE, now=NOW)


def failed(report) -> set[str]:
    return {o.name for o in report.outcomes if o.status != "passed"}


@pytest.fixture(scope="module")
def base_report():
    return run(base_rows())


def test_passing_fixture_passes_every_expectation(base_report):
    assert [(o.name, o.status) for o in base_report.outcomes if o.status != "passed"] == []
    assert len(base_report.outcomes) == 19
    assert base_report.gate
    assert base_report.failures.empty
    assert base_report.outcome("expect_items_to_have_min_distinct_annotators").n_evaluated == 40


def _set(rows, i, **values):
    for k, v in values.items():
        rows.loc[i, k] = v
    return rows


def _add(rows, **values):
    new = rows.iloc[[0]].copy()
    for k, v in values.items():
        new[k] = v
    return pd.concat([rows, new], ignore_index=True)


# case: (id, mutate rows, expectations expected to fail, {expectation: [(item_id, annotator_id, value)]})
CASES: list[tuple[str, Callable[[pd.DataFrame], pd.DataFrame] | None, set[str], dict[str, list[tuple]]]] = [
    ("confidence_above_1", lambda r: _set(r, 4, confidence=1.4),
     {"expect_column_values_to_be_between(confidence)"},
     {"expect_column_values_to_be_between(confidence)": [("i01", "a2", "1.4")]}),
    ("negative_duration", lambda r: _set(r, 7, duration_s=-3.0),
     {"expect_column_values_to_be_between(duration_s)"},
     {"expect_column_values_to_be_between(duration_s)": [("i02", "a2", "-3.0")]}),
    ("future_timestamp", lambda r: _set(r, 0, created_at=pd.Timestamp("2026-06-01T00:00:00Z")),
     {"expect_column_values_to_be_between(created_at)", "expect_guideline_version_not_retired"},
     {"expect_column_values_to_be_between(created_at)": [("i00", "a1", "2026-06-01T00:00:00+00:00")]}),
    ("duplicate_judgement", lambda r: pd.concat([r, r.iloc[[5]]], ignore_index=True), {DUP},
     {DUP: [("i01", "a3", "task=demo; stage=label; label=offensive")] * 2}),
    ("overlap_below_k", lambda r: r.drop(index=[14]).reset_index(drop=True),
     {"expect_items_to_have_min_distinct_annotators"},
     {"expect_items_to_have_min_distinct_annotators": [("i04", "a1", "2 distinct annotator(s) < k=3"),
                                                      ("i04", "a2", "2 distinct annotator(s) < k=3")]}),
    ("unknown_version", lambda r: _set(r, 3, guideline_version="9.9.9"), {"expect_guideline_version_to_be_known"},
     {"expect_guideline_version_to_be_known": [("i01", "a1", "task=demo; guideline_version=9.9.9")]}),
    ("label_not_allowed", lambda r: _set(r, 8, label="insult"), {"expect_label_to_be_allowed_by_guideline_version"},
     {"expect_label_to_be_allowed_by_guideline_version": [("i02", "a3", "task=demo; guideline_version=1.0.0; label=insult")]}),
    ("exclusive_together", lambda r: _add(r, item_id="i01", annotator_id="a1", label="ok"),
     {"expect_labels_to_respect_exclusivity"},
     {"expect_labels_to_respect_exclusivity": [
         ("i01", "a1", "task=demo; guideline_version=1.0.0; stage=label; label=offensive"),
         ("i01", "a1", "task=demo; guideline_version=1.0.0; stage=label; label=ok")]}),
    ("hierarchy_broken", lambda r: _add(r, item_id="i02", annotator_id="a1", label="ok"),
     {"expect_labels_to_respect_hierarchy"},
     {"expect_labels_to_respect_hierarchy": [
         ("i02", "a1", "task=demo; guideline_version=1.0.0; stage=label; label=hate"),
         ("i02", "a1", "task=demo; guideline_version=1.0.0; stage=label; label=ok")]}),
    ("retired_version", lambda r: _set(r, 10, created_at=pd.Timestamp("2026-02-20T00:00:00Z")),
     {"expect_guideline_version_not_retired"},
     {"expect_guideline_version_not_retired": [
         ("i03", "a2", "task=demo; guideline_version=1.0.0; created_at=2026-02-20T00:00:00+00:00")]}),
    ("too_fast", lambda r: _set(r, 12, duration_s=0.6),
     {"expect_judgement_duration_above_task_floor", "expect_judgement_duration_not_outlier"},
     {"expect_judgement_duration_above_task_floor": [("i04", "a1", "task=demo; duration_s=0.6")],
      "expect_judgement_duration_not_outlier": [("i04", "a1", "task=demo; duration_s=0.6")]}),
    ("slow_outlier", lambda r: _set(r, 13, duration_s=400.0), {"expect_judgement_duration_not_outlier"},
     {"expect_judgement_duration_not_outlier": [("i04", "a2", "task=demo; duration_s=400.0")]}),
    ("null_label", lambda r: _set(r, 2, label=None), {f"{SCHEMA_NULL}(label)"},
     {f"{SCHEMA_NULL}(label)": [("i00", "a3", "<NA>")]}),
    # a missing annotator also leaves item i00 with 2 distinct annotators: the overlap check says so
    # a row without item or task leaves item i00 with two judgements the overlap check can count
    ("null_item", None, {f"{SCHEMA_NULL}(item_id)", "expect_items_to_have_min_distinct_annotators"},
     {f"{SCHEMA_NULL}(item_id)": [("None", "a3", "")],
      "expect_items_to_have_min_distinct_annotators": [("i00", "a1", "2 distinct annotator(s) < k=3"),
                                                      ("i00", "a2", "2 distinct annotator(s) < k=3")]}),
    ("null_task", None, {f"{SCHEMA_NULL}(task)", "expect_items_to_have_min_distinct_annotators"},
     {f"{SCHEMA_NULL}(task)": [("i00", "a3", "<NA>")],
      "expect_items_to_have_min_distinct_annotators": [("i00", "a1", "2 distinct annotator(s) < k=3"),
                                                      ("i00", "a2", "2 distinct annotator(s) < k=3")]}),
    ("null_annotator", lambda r: _set(r, 2, annotator_id=None),
     {f"{SCHEMA_NULL}(annotator_id)", "expect_items_to_have_min_distinct_annotators"},
     {f"{SCHEMA_NULL}(annotator_id)": [("i00", "None", "")],
      "expect_items_to_have_min_distinct_annotators": [("i00", "a1", "2 distinct annotator(s) < k=3"),
                                                      ("i00", "a2", "2 distinct annotator(s) < k=3"),
                                                      ("i00", "None", "2 distinct annotator(s) < k=3")]}),
]


@pytest.mark.parametrize("case_id, mutate, expected, rows", CASES, ids=[c[0] for c in CASES])
def test_failing_fixture_fails_and_names_rows(case_id, mutate, expected, rows):
    if case_id.startswith("null_"):  # import refuses null keys, so build the table and null it afterwards
        col = {"null_label": "label", "null_annotator": "annotator_id", "null_item": "item_id", "null_task": "task"}[case_id]
        t = table(base_rows())
        t.loc[2, col] = np.nan
        report = run(frame=t)
    else:
        report = run(mutate(base_rows()))
    assert failed(report) == expected
    assert all(report.outcome(n).status == "failed" for n in expected)
    for name, want in rows.items():
        got = report.failing(name)
        named = [tuple("None" if pd.isna(v) else str(v) for v in row)
                 for row in got[["item_id", "annotator_id", "value"]].to_numpy(dtype=object)]
        assert sorted(named) == sorted(want)
        assert report.outcome(name).n_failing == len(want)
    critical = {o.name for o in report.outcomes if o.severity == "critical" and o.status == "failed"}
    assert report.gate == (not critical)


def test_distribution_outlier_names_every_row_of_the_annotator():
    rows = base_rows()
    rows.loc[rows["annotator_id"] == "a3", "label"] = "ok"  # a3 answers ok on everything
    report = run(rows)
    assert failed(report) == {"expect_annotator_label_distribution_to_match_pool"}
    got = report.failing("expect_annotator_label_distribution_to_match_pool")
    assert set(got["annotator_id"]) == {"a3"} and sorted(got["item_id"]) == [f"i{j:02d}" for j in range(40)]
    assert report.gate  # a warning does not stop the pipeline


def test_dtype_and_column_expectations_fail_on_a_non_canonical_frame():
    t = table(base_rows())
    t["confidence"] = t["confidence"].astype(str)
    t = t.drop(columns=["slice"])
    report = run(frame=t)
    assert report.outcome("expect_table_columns_to_match_set").status == "failed"
    dt_rows = report.failing("expect_column_dtypes_to_match")["value"].tolist()
    assert dt_rows[0].startswith("column confidence: ") and dt_rows[0].endswith("(expected float64)")
    assert dt_rows[1] == "column slice: missing (expected category)"
    assert not report.gate


def test_blank_versions_of_a_governed_task_fail_the_gate():
    """Issue 15: a blank guideline version never lets a label through (it used to be "not applicable")."""
    rows = base_rows()
    rows["guideline_version"] = None
    report = run(rows)
    assert not report.gate
    by = {o.name: o for o in report.outcomes}
    assert by["expect_guideline_version_to_be_known"].status == "failed"
    assert by["expect_guideline_version_to_be_known"].n_failing == len(rows)


def test_one_blank_version_row_labelled_drop_table_fails_validation():
    """One row with a blank guideline version and the label "DROP TABLE" passed validation (exit 0)."""
    rows = _add(base_rows(), guideline_version=None, label="DROP TABLE")
    report = run(rows)
    assert not report.gate
    bad = report.failures[report.failures["expectation"] == "expect_guideline_version_to_be_known"]
    assert len(bad) == 1 and bad.iloc[0]["value"] == "task=demo; guideline_version=(blank)"


def test_guideline_checks_not_applicable_to_tasks_no_guideline_governs():
    """Rows of a task no guideline governs (blank version, labels no guideline knows) are left out of the
    guideline checks, beside a governed task's rows; a folder governing none of the data's tasks is refused."""
    from labkit.errors import GuidelineError

    other = base_rows()
    other["guideline_version"] = None
    other["task"] = "other"
    other["item_id"] = "o-" + other["item_id"].astype(str)
    other["label"] = "something-else"
    report = run(pd.concat([base_rows(), other], ignore_index=True))
    assert report.gate
    bad = report.failures
    assert not bad["item_id"].astype(str).str.startswith("o-").any()
    with pytest.raises(GuidelineError, match=r"the labels are for task 'other', but these guidelines define 'demo'"):
        run(other)


def test_raise_for_gate_carries_the_critical_rows():
    from labkit.errors import ValidationFailed

    report = run(_set(base_rows(), 8, label="insult"))
    with pytest.raises(ValidationFailed) as info:
        report.raise_for_gate()
    assert str(info.value) == "1 critical expectation(s) failed: expect_label_to_be_allowed_by_guideline_version"
    assert info.value.failures[["item_id", "annotator_id"]].to_numpy().tolist() == [["i02", "a3"]]


@pytest.mark.parametrize("exp, message", [
    ({"type": "expect_no_such_thing", "kwargs": {"column": "label"}},
     "field 'type': unknown expectation type 'expect_no_such_thing' (neither a Great Expectations built-in nor "
     "one of labkit's)"),
    # a custom expectation's policy parameter has no default: leaving it out is an error, not a silent default
    ({"type": "expect_items_to_have_min_distinct_annotators", "kwargs": {}},
     "field 'kwargs': Great Expectations refuses this expectation: 1 validation error for "
     "ExpectItemsToHaveMinDistinctAnnotators k field required (type=value_error.missing)"),
])
def test_a_suite_entry_gx_cannot_build_is_refused_not_dropped(tmp_path, exp, message):
    from labkit.errors import InputRefused

    path = tmp_path / "suite.json"
    path.write_text(json.dumps({"name": "t", "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "item_id"},
         "meta": {"severity": "critical", "why": "w", "rule": "r"}},
        {**exp, "meta": {"severity": "critical", "why": "w", "rule": "r"}}]}))
    with pytest.raises(InputRefused) as info:
        validate(table(base_rows()), GUIDE, [path], now=NOW)
    assert str(info.value) == f"{path}, record expectations[1] ({exp['type']}), {message}"
