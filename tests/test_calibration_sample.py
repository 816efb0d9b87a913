"""The bundled sample's calibration session (sample/calibration/cal-2026-09-28), its regeneration, the two
notebooks' contract, and the before/after report rendered through the reports runner."""

from __future__ import annotations

import json
import shutil

import nbformat
import pandas as pd
import pytest
import yaml

from labkit.calibration import CalibrationSession
from labkit.calibration.sample import SESSION_ID, make_sample_session
from labkit.calibration.summary import _clean, before_after
from test_calibration_helpers import ROOT

SESSION = ROOT / "sample" / "calibration" / SESSION_ID
NOTEBOOKS = [ROOT / "notebooks" / "calibration_session.ipynb", ROOT / "notebooks" / "calibration_report.ipynb"]


def files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_committed_session_is_complete():
    s = CalibrationSession.open(SESSION)
    assert s.phase == "closed" and s.spec.guideline.version == "1.1.0"
    ann = pd.read_csv(ROOT / "sample" / "annotators.csv", dtype=str)
    attended = ann.loc[ann["attended_calibration"] == "True", "annotator_id"].tolist()
    assert s.annotators() == attended and s.spec.facilitators == ["g-facil-1"]
    st = s.state()
    n = len(s.items)
    assert (st["items"], st["gold_items"]) == (12, 6)
    assert st["blind_answers"] == st["final_answers"] == n * len(attended) and st["late_answers"] == 0
    [prop] = s.proposals()
    p = yaml.safe_load(prop.read_text())
    assert p["source"]["kind"] == "calibration" and p["source"]["session"] == SESSION_ID
    assert p["base_version"] == "1.1.0" and p["changes"][0]["op"] == "add_edge_case"
    # the numbers written at close are what before_after computes from the files now
    ba = json.loads((SESSION / "before_after.json").read_text())
    assert ba == json.loads(json.dumps(_clean(before_after(s)), default=str))


def test_sample_session_regenerates_byte_for_byte(tmp_path):
    root = tmp_path / "repo"
    (root / "sample").mkdir(parents=True)
    for f in ("labels.csv", "label_studio_export.json", "gold.csv", "items.csv", "annotators.csv"):
        shutil.copy(ROOT / "sample" / f, root / "sample" / f)
    shutil.copytree(ROOT / "guidelines", root / "guidelines")
    state = make_sample_session(root)
    assert state["phase"] == "closed"
    assert files(root / "sample" / "calibration" / SESSION_ID) == files(SESSION)
    with pytest.raises(Exception, match="exists; pass --force to rebuild it"):
        make_sample_session(root)
    assert [p.name for p in (root / "sample" / "calibration").iterdir()] == [SESSION_ID]  # no temp folder left


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_thin_parameterized_and_clean(path):
    from labkit.reports.params import notebook_params

    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.kernelspec.name == "python3"  # JupyterLab opens it without a kernel dialog
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    params = notebook_params(path)
    assert all(p.type and p.help for p in params.values())
    if "report" in path.name:
        assert params["metrics_path"].default == '""' and params["session"].default == f'"sample/calibration/{SESSION_ID}"'
    else:
        assert set(params) == {"session", "participant", "role"}


def test_report_renders_through_the_runner(tmp_path, monkeypatch):
    from labkit.reports.runner import run_config

    monkeypatch.setenv("LABKIT_PSEUDONYM_KEY", "test-key")
    cfg = tmp_path / "reports.yaml"
    cfg.write_text(yaml.safe_dump({
        "out": str(tmp_path / "out"), "timeout": 300,
        "reports": {"calibration_report": {"title": "Calibration before/after",
                                           "notebook": str(NOTEBOOKS[1]),
                                           "parameters": {"session": str(SESSION)}}}}))
    res = run_config(cfg, quiet=True)
    assert res["ok"] == 1 and res["failed"] == 0, res
    run = res["runs"][0]
    html = (tmp_path / "out" / "calibration_report" / run["run_id"] / "report.html").read_text()
    assert "Calibration session: before and after" in html and "Key findings" in html
    m = run["metrics"]
    ba = json.loads((SESSION / "before_after.json").read_text())
    alpha = {r["when"]: r["alpha"] for r in ba["session_items"]["agreement"]}
    assert m["session_alpha_before"] == pytest.approx(alpha["before"])
    assert m["session_alpha_after"] == pytest.approx(alpha["after"])
    assert m["annotators"] == len(CalibrationSession.open(SESSION).annotators()) and m["proposals"] == 1
    # only pseudonyms on the page: no participant id appears as a table cell
    s = CalibrationSession.open(SESSION)
    assert not [p for p in s.annotators() if f"<td>{p}</td>" in html]
    assert "A-" in html


def test_show_names_report_is_marked_and_never_published_by_the_runner(tmp_path, monkeypatch):
    """Issue 15: a --show-names calibration session's report listed raw ids with per-person accuracy."""
    from labkit.calibration.report import report_data
    from labkit.reports.runner import run_config

    monkeypatch.setenv("LABKIT_PSEUDONYM_KEY", "test-key")
    named = tmp_path / "sample" / "calibration" / SESSION_ID  # same depth: the session's relative sources resolve
    shutil.copytree(SESSION, named)
    for f in ("label_studio_export.json", "labels.csv", "gold.csv", "items.csv"):
        shutil.copy(ROOT / "sample" / f, tmp_path / "sample" / f)
    shutil.copytree(ROOT / "guidelines", tmp_path / "guidelines")
    spec = (named / "session.yaml").read_text(encoding="utf-8")
    (named / "session.yaml").write_text(spec.replace("show_names: false", "show_names: true"), encoding="utf-8")
    data = report_data(named)
    assert data.metrics["shows_names"] is True and data.findings[0][0].startswith("NAMES SHOWN: session ")
    cfg = tmp_path / "reports.yaml"
    cfg.write_text(yaml.safe_dump({"out": str(tmp_path / "out"), "timeout": 300,
                                   "reports": {"calibration_report": {"notebook": str(NOTEBOOKS[1]),
                                                                      "parameters": {"session": str(named)}}}}))
    res = run_config(cfg, quiet=True)
    assert res["failed"] == 1 and res["runs"][0]["error"].startswith("refused to publish: this report shows raw participant ids")
    people = CalibrationSession.open(named).annotators()
    for f in (tmp_path / "out").rglob("*"):
        if f.is_file():
            text = f.read_text(encoding="utf-8", errors="replace")
            assert not [p for p in people if f'"{p}"' in text or f"<td>{p}</td>" in text], f
    assert not list((tmp_path / "out").rglob("report.html"))
