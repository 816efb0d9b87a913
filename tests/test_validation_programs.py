"""Whole programs: the bundled sample (every planted problem caught), a clean simulated program (passes),
two public crowdsourcing datasets (validate; guideline checks not applicable; real quirks surface),
and the ``labkit validate`` command with its three output files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency

from labkit.cli import main
from labkit.io import load_labels
from labkit.schema import conform_labels
from labkit.validation import validate

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "validation"
PUBLIC = Path(__file__).parent / "data" / "public"
GUIDELINES = ROOT / "guidelines"
SAMPLE = ROOT / "sample"

PLANTED_TO_EXPECTATION = {
    "duplicate": "expect_compound_columns_to_be_unique(item_id, annotator_id, task, stage, label)",
    "label_not_allowed": "expect_label_to_be_allowed_by_guideline_version",
    "retired_version": "expect_guideline_version_not_retired",
    "too_fast": "expect_judgement_duration_above_task_floor",
    "exclusive_together": "expect_labels_to_respect_exclusivity",
}
BAD_VALUE_TO_EXPECTATION = {f: f"expect_column_values_to_be_between({f})" for f in ("confidence", "duration_s", "created_at")}
GUIDELINE_CHECKS = {"expect_guideline_version_to_be_known", "expect_label_to_be_allowed_by_guideline_version",
                    "expect_labels_to_respect_exclusivity", "expect_labels_to_respect_hierarchy",
                    "expect_guideline_version_not_retired"}


@pytest.fixture(scope="module")
def sample_report():
    return validate(load_labels(SAMPLE / "labels.csv"), GUIDELINES)


def _pairs(frame: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(frame["item_id"].astype(str), frame["annotator_id"].astype(str)))


def test_every_planted_problem_of_the_sample_is_caught(sample_report):
    planted = json.loads((SAMPLE / "planted.json").read_text())["problems"]
    for problem, name in PLANTED_TO_EXPECTATION.items():
        want = {(r["item_id"], r["annotator_id"]) for r in planted[problem]["rows"]}
        got = _pairs(sample_report.failing(name))
        assert want and want <= got, f"{problem}: missed {sorted(want - got)}"
    for r in planted["bad_value"]["rows"]:
        got = sample_report.failing(BAD_VALUE_TO_EXPECTATION[r["field"]])
        hit = got[(got["item_id"] == r["item_id"]) & (got["annotator_id"] == r["annotator_id"])]
        assert len(hit) == 1, r
        assert hit["value"].iloc[0] in (str(r["value"]), repr(float(r["value"])) if not isinstance(r["value"], str) else "")
    odd = planted["improbable_distribution"]["annotator_id"]
    dist = sample_report.failing("expect_annotator_label_distribution_to_match_pool")
    assert odd in set(dist["annotator_id"])
    assert not sample_report.gate


def test_sample_failures_are_exactly_explained(sample_report):
    """Nothing is flagged that the plant does not explain (the too-fast annotator also answers at random,
    so the distribution test flags them too; a planted future timestamp is also after 1.0.0's retirement)."""
    planted = json.loads((SAMPLE / "planted.json").read_text())["problems"]
    assert sample_report.outcome(PLANTED_TO_EXPECTATION["duplicate"]).n_failing == 2 * len(planted["duplicate"]["rows"])
    assert sample_report.outcome(PLANTED_TO_EXPECTATION["label_not_allowed"]).n_failing == len(planted["label_not_allowed"]["rows"])
    assert sample_report.outcome(PLANTED_TO_EXPECTATION["too_fast"]).n_failing == len(planted["too_fast"]["rows"])
    assert sample_report.outcome(PLANTED_TO_EXPECTATION["exclusive_together"]).n_failing == 2 * len(planted["exclusive_together"]["rows"])
    retired = _pairs(sample_report.failing(PLANTED_TO_EXPECTATION["retired_version"]))
    future = [(r["item_id"], r["annotator_id"]) for r in planted["bad_value"]["rows"] if r["field"] == "created_at"]
    assert retired == {(r["item_id"], r["annotator_id"]) for r in planted["retired_version"]["rows"]} | set(future)
    flagged = set(sample_report.failing("expect_annotator_label_distribution_to_match_pool")["annotator_id"])
    assert flagged == {planted["improbable_distribution"]["annotator_id"], planted["too_fast"]["annotator_id"]}


def test_clean_simulated_program_passes():
    from labkit.sample.simulate import simulate

    table = conform_labels(simulate(plant_problems=False).labels).table
    report = validate(table, GUIDELINES)
    assert report.gate
    not_passed = {o.name: o.status for o in report.outcomes if o.status != "passed"}
    # the only thing left is the long tail of durations, a warning: rows above 100 s (robust z > 3.5)
    assert set(not_passed) <= {"expect_judgement_duration_not_outlier"}
    tail = report.failing("expect_judgement_duration_not_outlier")["value"].str.extract(r"duration_s=([\d.]+)")[0]
    assert (tail.astype(float) > 100).all()


def _independent_g_flags(df: pd.DataFrame, alpha: float, min_n: int, min_tvd: float) -> set[str]:
    labels = sorted(df["label"].unique())
    counts = df.groupby(["annotator_id", "label"]).size().unstack(fill_value=0).reindex(columns=labels, fill_value=0)
    tested = counts[counts.sum(axis=1) >= min_n]
    flags = set()
    for ann, row in tested.iterrows():
        rest = counts.drop(index=ann).sum()
        table = np.vstack([row.to_numpy(), rest.to_numpy()])
        table = table[:, table.sum(axis=0) > 0]
        _, p, _, _ = chi2_contingency(table, correction=False, lambda_="log-likelihood")
        tvd = 0.5 * np.abs(table[0] / table[0].sum() - table[1] / table[1].sum()).sum()
        if p * len(tested) < alpha and tvd >= min_tvd:
            flags.add(str(ann))
    return flags


@pytest.mark.parametrize("name", ["snow2008_rte", "welinder2010_bluebirds"])
def test_public_dataset_validates_and_its_biased_workers_surface(name):
    path = PUBLIC / name / "long.csv"
    # no guidelines of their own: the guideline checks are not applicable (another task's would be refused)
    report = validate(load_labels(path), None)
    status = {o.name: o.status for o in report.outcomes}
    assert report.gate
    assert {n for n, s in status.items() if s == "not applicable"} == GUIDELINE_CHECKS | {
        "expect_column_values_to_be_between(created_at)", "expect_column_values_to_be_between(confidence)",
        "expect_column_values_to_be_between(duration_s)", "expect_judgement_duration_above_task_floor",
        "expect_judgement_duration_not_outlier"}
    # no duplicate (item, annotator) pairs in these files (meta.json: duplicate_item_annotator_pairs = 0)
    assert status["expect_compound_columns_to_be_unique(item_id, annotator_id, task, stage, label)"] == "passed"
    assert status["expect_items_to_have_min_distinct_annotators"] == "passed"
    # the real quirk: workers whose answers depart from the crowd's, checked against scipy's G-test
    raw = pd.read_csv(path, dtype=str)
    want = _independent_g_flags(raw, alpha=0.001, min_n=30, min_tvd=0.25)
    got = set(report.failing("expect_annotator_label_distribution_to_match_pool")["annotator_id"])
    assert want and got == want
    assert report.outcome("expect_annotator_label_distribution_to_match_pool").n_failing == int(
        raw["annotator_id"].isin(want).sum())


def test_cli_writes_outputs_and_exits_on_the_gate(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LABKIT_PSEUDONYM_KEY", "test-key")
    out = tmp_path / "run"
    code = main(["validate", str(SAMPLE / "labels.csv"), "--guidelines", str(GUIDELINES), "--out", str(out), "--json"])
    assert code == 1
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["gate"] == "failed"
    assert "expect_label_to_be_allowed_by_guideline_version" in summary["critical_failed"]
    failures = pd.read_csv(out / "failures.csv", dtype=str, keep_default_na=False)
    assert list(failures.columns) == ["expectation", "suite", "severity", "item_id", "annotator_id", "value"]
    assert len(failures) == summary["failing_rows"]
    result = json.loads((out / "validation.json").read_text())
    assert result["summary"]["gate"] == "failed" and len(result["expectations"]) == 19
    page = (out / "validation.html").read_text()
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert ">136<" not in page  # annotator ids appear only as pseudonyms
    from labkit.privacy import pseudonym

    assert pseudonym("136", b"test-key") in page

    # the toxicity guidelines are not the bluebirds' (issue 14: such a run used to PASS): refused
    code = main(["validate", str(PUBLIC / "welinder2010_bluebirds" / "long.csv"), "--guidelines", str(GUIDELINES), "--json"])
    assert code == 2
    assert "the labels are for task 'default', but these guidelines define 'toxicity'" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)  # no ./guidelines: the guideline-independent checks run, and pass
    code = main(["validate", str(PUBLIC / "welinder2010_bluebirds" / "long.csv"), "--json"])
    assert code == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["gate"] == "passed"


def test_html_escapes_text_from_the_data(tmp_path):
    rows = pd.DataFrame({"item_id": ["<b>i1</b>", "i2", "i3"], "annotator_id": ["a", "b", "c"],
                         "label": ["<script>alert(1)</script>", "ok", "ok"], "guideline_version": ["1.0.0"] * 3,
                         "task": ["toxicity"] * 3})
    report = validate(conform_labels(rows).table, GUIDELINES)
    page = report.write_html(tmp_path / "v.html", key=b"k").read_text()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;i1&lt;/b&gt;" in page


def test_notebook_evidence_agrees_with_the_validation(sample_report):
    """The data the notebook plots come from the same suites and thresholds that decided."""
    from labkit.validation import evidence, load_suites

    table = load_labels(SAMPLE / "labels.csv")
    suites = load_suites()
    tests, shares = evidence.distribution_evidence(table, suites)
    flagged = set(tests.loc[tests["flagged"], "annotator_id"])
    assert flagged == set(sample_report.failing("expect_annotator_label_distribution_to_match_pool")["annotator_id"])
    odd = json.loads((SAMPLE / "planted.json").read_text())["problems"]["improbable_distribution"]
    mine = shares[(shares["annotator_id"] == odd["annotator_id"]) & (shares["who"] == "annotator")]
    own = table[(table["annotator_id"] == odd["annotator_id"]) & (table["source"] == "human")]["label"].astype(str)
    assert mine.set_index("label")["share"][odd["label"]] == pytest.approx((own == odd["label"]).mean(), rel=1e-12)
    assert (own == odd["label"]).mean() > 0.95
    for who in ("annotator", "rest of pool"):  # shares sum to one per flagged annotator and side
        assert shares[shares["who"] == who].groupby("annotator_id")["share"].sum().round(9).eq(1).all()
    dur, floors, zmax = evidence.duration_evidence(table, suites)
    assert floors == {"*": 1.0, "toxicity": 3.0} and zmax == 3.5
    assert int(dur["too_fast"].sum()) == sample_report.outcome("expect_judgement_duration_above_task_floor").n_failing
    assert int(dur["outlier"].sum()) == sample_report.outcome("expect_judgement_duration_not_outlier").n_failing
    ov, k = evidence.overlap_evidence(table, suites)
    assert k == 3 and int((ov["n_annotators"] < k).sum()) == 0
    assert len(ov) == sample_report.outcome("expect_items_to_have_min_distinct_annotators").n_evaluated
    metrics = evidence.headline_metrics(sample_report)
    assert metrics["gate_passed"] is False and metrics["failing_rows"] == len(sample_report.failures)
    assert sum(metrics["failing_rows_by_expectation"].values()) == len(sample_report.failures)


def test_validate_notebook_is_a_thin_parameterized_view():
    import papermill

    path = ROOT / "notebooks" / "validate_labels.ipynb"
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    params = papermill.inspect_notebook(str(path))
    assert {n: (p["inferred_type_name"], p["default"]) for n, p in params.items()} == {
        "labels": ("str", '"sample/labels.csv"'), "guidelines": ("str", '"guidelines"'), "suites": ("str", '""'),
        "sample_rows": ("int", "10"), "metrics_path": ("str", '""')}
    assert all(p["help"] for p in params.values())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    body = "".join("".join(c["source"]) for c in code)
    assert "show_report(build(" in body and "metrics_path)" in body  # the runner gets report.metrics()


def test_cli_drop_table_with_a_blank_version_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 15, the CI gate: one row with a blank guideline version and the label "DROP TABLE" passed (exit 0)."""
    from labkit.cli import main

    f = tmp_path / "drop.csv"
    f.write_text("item_id,annotator_id,task,label,guideline_version,created_at\n"
                 "c-00501,136,toxicity,DROP TABLE,,2026-09-07T18:31:59Z\n", encoding="utf-8")
    assert main(["validate", str(f), "--guidelines", str(Path(__file__).resolve().parents[1] / "guidelines"), "--json"]) == 2
    # refused whole: no label of the data is a label of any toxicity version (issue 14's mismatch check)
    assert "(DROP TABLE) is a label of any toxicity guideline version" in capsys.readouterr().err
    # among real labels the same row fails the gate: a blank version is an unknown one
    f.write_text("item_id,annotator_id,task,label,guideline_version,created_at\n"
                 "c-00501,136,toxicity,DROP TABLE,,2026-09-07T18:31:59Z\n"
                 "c-00502,136,toxicity,ok,1.0.0,2026-09-07T18:32:59Z\n", encoding="utf-8")
    assert main(["validate", str(f), "--guidelines", str(Path(__file__).resolve().parents[1] / "guidelines"), "--json"]) == 1
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["gate"] == "failed" and "expect_guideline_version_to_be_known" in out["critical_failed"]
