"""A QA lead's first week, from an empty folder and a Label Studio export (issue 14).

init scaffolds guidelines/ and governance.yaml from the labels (first release by the lead alone, the
single-lead bootstrap), validate runs against them without --guidelines, a proposal is approved and
released by the roles governance.yaml names, and the governance report's builders read the result.
Also the attacks: guidelines of another task, a releaser without the right, a second bootstrap.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labkit.cli import main
from labkit.errors import GovernanceError, GuidelineError

ROOT = Path(__file__).resolve().parents[1]
DOG = ROOT / "tests" / "data" / "public" / "zhou2012_dog" / "long.csv"

TEXTS = ["Great product, works as described.", "Broke after two days.", "It is a phone case.",
         "Love it!", "Terrible support, never again.", "Arrived on time."]
TRUTH = ["positive", "negative", "neutral", "positive", "negative", "neutral"]


def label_studio_export(path: Path) -> Path:
    """A Label Studio JSON export: 6 tasks, 3 annotators, one choices control named ``sentiment``."""
    tasks = []
    for i, (text, truth) in enumerate(zip(TEXTS, TRUTH), start=1):
        anns = []
        for a in (1, 2, 3):
            label = truth if (i + a) % 5 else "neutral"
            anns.append({"id": 10 * i + a, "completed_by": a, "created_at": f"2026-11-0{a}T10:00:00Z", "lead_time": 5.0 + a,
                         "result": [{"from_name": "sentiment", "to_name": "text", "type": "choices",
                                     "value": {"choices": [label]}}]})
        tasks.append({"id": i, "data": {"text": text}, "annotations": anns, "predictions": []})
    path.write_text(json.dumps(tasks), encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> dict:
    got = main([*argv, "--json"])
    out = capsys.readouterr()
    assert got == code, out.err
    return json.loads(out.out.strip().splitlines()[-1]) if code == 0 else {"err": out.err}


def test_first_week_from_an_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    export = label_studio_export(tmp_path / "export.json")

    # init: guidelines from the labels found, governance.yaml, the first release logged by the lead alone
    res = run(capsys, "init", str(export), "--lead", "lead-1", "--at", "2026-11-05T09:00:00Z")
    assert (res["task"], res["labels"], res["version"]) == ("sentiment", ["negative", "neutral", "positive"], "1.0.0")
    from labkit.guidelines import Guidelines
    from labkit.guidelines import log as dlog

    v = Guidelines.load("guidelines").get("sentiment", "1.0.0")
    assert list(v.label_names) == ["negative", "neutral", "positive"]
    assert v.label("neutral").definition.startswith("TODO: define neutral")
    entries = dlog.read("guidelines")
    assert [(e["action"], e["who"]) for e in entries] == [("govern", "lead-1"), ("propose", "lead-1"), ("release", "lead-1")]
    assert entries[-1]["bootstrap"] is True and entries[-1]["approved_by"] == ["lead-1"]
    assert dlog.verify("guidelines").ok

    # the bootstrap is once per task: a second init is refused
    assert run(capsys, "init", str(export), "--lead", "lead-1", code=2)["err"].endswith(
        "task 'sentiment' already has released versions; change them through proposals (labkit guidelines propose)\n")

    # the export records no guideline version: as is, every row is "(blank)" and the gate refuses it (issue 15);
    # tagged on import with the version the labels were made under, every guideline check runs, and passes
    run(capsys, "validate", str(export), "--out", "val0", code=1)
    assert "expect_guideline_version_to_be_known" in json.loads(Path("val0/validation.json").read_text())["summary"]["critical_failed"]
    run(capsys, "import", str(export), "--guideline-version", "1.0.0", "--out", "labels.parquet")
    # validate without --guidelines uses ./guidelines
    res = run(capsys, "validate", "labels.parquet", "--out", "val")
    assert res["guidelines"] == "guidelines" and res["gate"] == "passed"
    outcomes = {o["name"]: o for o in json.loads(Path("val/validation.json").read_text())["expectations"]}
    assert len(outcomes) == 19 and all(o["status"] != "failed" or o["severity"] == "warning" for o in outcomes.values())
    assert outcomes["expect_label_to_be_allowed_by_guideline_version"]["observed"] is None  # run, not skipped

    # a lone lead cannot approve their own change: the documented step is to add a second member
    Path("p.yaml").write_text(
        "task: sentiment\nbase_version: 1.0.0\nauthor: lead-1\ntitle: Define neutral\nrationale: Calibration showed "
        "confusion.\nchanges:\n- op: reword_definition\n  label: neutral\n  proposed: States a fact; no opinion.\n",
        encoding="utf-8")
    filed = run(capsys, "guidelines", "propose", "p.yaml", "--at", "2026-11-06T09:00:00Z")["filed"][0]
    assert run(capsys, "guidelines", "approve", filed["id"], "--as", "lead-1")["counts"] is False
    assert "needs 1 more lead approval (not counted: lead-1 is the author)" in run(
        capsys, "guidelines", "release", filed["id"], "--as", "lead-1", code=1)["err"]
    # governance.yaml is anchored in the log (issue 15): the lone lead adopts the new membership through
    # the governance verb (a team of one may change it alone); a direct edit is refused
    gov = Path("guidelines/governance.yaml")
    Path("gov-new.yaml").write_text(gov.read_text().replace("  lead-1: [lead]\n",
                                                             "  lead-1: [lead]\n  qa-1: [lead]\n  ann-7: [annotator]\n"))
    run(capsys, "guidelines", "governance", "adopt", "gov-new.yaml", "--as", "lead-1", "--at", "2026-11-06T10:00:00Z")
    assert run(capsys, "guidelines", "approve", filed["id"], "--as", "qa-1", "--at", "2026-11-06T11:00:00Z")["counts"] is True
    # an annotator may not release; the releaser is named, never defaulted to the author
    assert "ann-7 holds annotator; releasing a patch change needs one of lead" in run(
        capsys, "guidelines", "release", filed["id"], "--as", "ann-7", code=1)["err"]
    assert "name the releasing member (--as MEMBER)" in run(capsys, "guidelines", "release", filed["id"], code=1)["err"]
    rel = run(capsys, "guidelines", "release", filed["id"], "--as", "qa-1", "--at", "2026-11-07T09:00:00Z")
    assert (rel["version"], rel["approved_by"]) == ("1.0.1", ["qa-1"])
    last = dlog.read("guidelines")[-1]
    assert (last["action"], last["who"], last.get("bootstrap")) == ("release", "qa-1", None)
    assert run(capsys, "log", "show", "--guidelines", "guidelines")["entries"][-1]["version"] == "1.0.1"
    assert run(capsys, "log", "verify", "--guidelines", "guidelines")["ok"] is True

    # the governance report's builders read the program
    from labkit.guidelines.report import proposals_table, timeline
    from labkit.io import load_labels

    tl = timeline("guidelines", "sentiment")
    assert list(tl["version"].astype(str)) == ["1.0.0", "1.0.1"]
    props = proposals_table("guidelines", "sentiment")
    assert set(props["id"]) == {"sentiment-1.0.0-init", filed["id"]}
    assert len(load_labels(str(export))) == 18


def test_init_refuses_a_task_the_data_does_not_hold(tmp_path: Path) -> None:
    from labkit.guidelines.bootstrap import init_guidelines
    from labkit.io import load_labels

    with pytest.raises(GuidelineError, match="the labels are for task\\(s\\) 'default', not 'dogs'"):
        init_guidelines(load_labels(str(DOG)), tmp_path / "g", task="dogs")


def test_bootstrap_release_only_for_a_first_release(tmp_path: Path) -> None:
    import shutil

    from labkit.guidelines.governance import release
    from labkit.guidelines.proposals import new_proposal

    g = tmp_path / "g"
    shutil.copytree(ROOT / "guidelines", g)
    p = new_proposal(task="toxicity", base_version="2.0.0", author="g-lead-1", title="Sneak", rationale="r",
                     changes=[{"op": "add_edge_case", "label": "spam", "proposed": "x"}], root=g)
    with pytest.raises(GovernanceError, match="the single-lead bootstrap is only for a task's first release"):
        release(p.id, g, who="g-lead-1", bootstrap=True)


def test_dog_labels_do_not_pass_against_another_tasks_guidelines(capsys: pytest.CaptureFixture[str]) -> None:
    err = run(capsys, "validate", str(DOG), "--guidelines", str(ROOT / "guidelines"), code=2)["err"]
    assert err.endswith("the labels are for task 'default', but these guidelines define 'toxicity'; pass the "
                        "guidelines of 'default' (or create them with `labkit init LABELS --task default`)\n")


def test_guidelines_with_other_labels_are_refused(tmp_path: Path) -> None:
    import pandas as pd

    from labkit.guidelines import Guidelines
    from labkit.io import load_labels
    from labkit.validation.engine import check_guidelines_match

    table = load_labels(str(DOG))
    table["task"] = pd.Categorical(["toxicity"] * len(table))
    with pytest.raises(GuidelineError, match="none of the labels of task 'toxicity' in the data \\(0, 1, 2, 3\\)"):
        check_guidelines_match(table, Guidelines.load(ROOT / "guidelines"), "guidelines")


def test_validate_without_guidelines_runs_the_independent_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # no ./guidelines here
    got = main(["validate", str(DOG), "--json"])
    out = capsys.readouterr()
    assert got == 0
    res = json.loads(out.out.strip().splitlines()[-1])
    assert res["guidelines"] is None and "no guidelines given" in res["note"]
    assert "no ./guidelines folder and no --guidelines" in out.err
    assert "loading Great Expectations" in out.err
