"""``labkit demo`` (the README's first command) on the bundled sample: import and validation steps.

The reports step is covered by tests/test_reports_*.py; here the counts the demo prints must match the
sample's own manifest (sample/planted.json) and the gate must fail on the planted problems.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labkit.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_demo_imports_and_validates_the_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    planted = json.loads((ROOT / "sample" / "planted.json").read_text())
    code = main(["demo", "--root", str(ROOT), "--out", str(tmp_path), "--no-reports", "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0
    imp = out["import"]
    files = planted["files"]
    ls = files["label_studio_export.json"]
    # records: every LS annotation (judgements + cancelled) and every CSV row
    assert imp["records_in"] == ls["judgements"] + ls["cancelled_annotations"] + files["labels.csv"]
    assert imp["records_in"] == imp["accepted"] + imp["quarantined"]
    assert imp["quarantined"] == 0
    assert imp["skipped"] == {"was_cancelled": ls["cancelled_annotations"]}
    assert imp["judgements"] == planted["counts"]["judgements"]
    assert (tmp_path / "labels.parquet").is_file()
    val = out["validation"]
    assert val["gate"] == "failed"
    assert "expect_label_to_be_allowed_by_guideline_version" in val["critical_failed"]
    assert "expect_labels_to_respect_exclusivity" in val["critical_failed"]
    assert json.loads((tmp_path / "validation" / "validation.json").read_text())["summary"]["gate"] == "failed"
    assert (tmp_path / "validation" / "validation.html").is_file()


def test_demo_refuses_a_bad_feedback_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "--root", str(ROOT), "--out", str(tmp_path), "--feedback", "some"])
    assert code == 2
    assert "--feedback: expected a number or 'all', got 'some'" in capsys.readouterr().err
