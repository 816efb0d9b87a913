"""Every report through its ``build`` (no kernel): values, findings and severities; thin notebooks.

* The notebooks hold no definitions, loops, branches or comprehensions (read with ``ast``).
* Gold without a ``task`` column applies to every task (the rule of ``labkit score``); gold that
  matches nothing, or is partly unused, is a warning finding with counts.
* People views rank by the upper end of the interval after a minimum evidence rule.
* A failed validation gate is a critical finding and red on the index.
* Pseudonyms everywhere a person appears, on a program whose annotators also author, approve and
  release guideline changes.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labkit.privacy import Pseudonyms, pseudonym
from labkit.reports.model import render

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = Path(__file__).parent / "data" / "public"
KEY = "test-key-builds"
P = Pseudonyms(KEY.encode())


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("LABKIT_PSEUDONYM_KEY", KEY)
    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "False")


# ------------------------------------------------------------------------------------------- notebooks
FORBIDDEN = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.For, ast.AsyncFor, ast.While,
             ast.If, ast.IfExp, ast.Try, ast.With, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Match)


def _code_cells(path: Path) -> list[dict]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def forbidden_constructs(source: str) -> list[str]:
    return sorted({type(n).__name__ for n in ast.walk(ast.parse(source)) if isinstance(n, FORBIDDEN)})


def test_the_checker_finds_each_construct():
    assert forbidden_constructs("x = 1\nprint(x)") == []
    assert forbidden_constructs("def f():\n    pass") == ["FunctionDef"]
    assert forbidden_constructs("for i in x:\n    pass") == ["For"]
    assert forbidden_constructs("y = [i for i in x]") == ["ListComp"]
    assert forbidden_constructs("y = a if b else c") == ["IfExp"]
    assert forbidden_constructs("while x:\n    pass") == ["While"]


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_hold_no_logic(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    cells = _code_cells(path)
    for c in cells:
        assert not c.get("outputs"), f"{path.name}: committed with outputs"
        assert forbidden_constructs("".join(c["source"])) == [], f"{path.name}: logic in a notebook cell"
    params = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1
    body = [c for c in cells if c is not params[0]]
    assert len(body) == 1, f"{path.name}: one code cell after the parameters"
    src = "".join(body[0]["source"])
    if path.name == "calibration_session.ipynb":  # the interactive widget notebook: one call, no report
        assert "launcher(" in src or "session_view(" in src
    elif path.name == "guideline_tutorial.ipynb":  # the interactive quiz: one call, no report
        assert "tutorial_view(" in src
    else:
        assert "show_report(build(" in src and "metrics_path" in src


# ------------------------------------------------------------------------------------------- fixtures
def public_program(tmp_path: Path, name: str = "snow2008_rte", task: str = "rte") -> dict[str, str]:
    """A public dataset with a named task in the labels and a gold file WITHOUT a task column."""
    long = pd.read_csv(PUBLIC / name / "long.csv", dtype=str)
    long["task"] = task
    labels = tmp_path / f"{name}.csv"
    long.to_csv(labels, index=False)
    gold = pd.read_csv(PUBLIC / name / "gold.csv", dtype=str)
    assert "task" not in gold.columns
    gpath = tmp_path / f"{name}_gold.csv"
    gold.to_csv(gpath, index=False)
    return {"labels": str(labels), "gold": str(gpath), "long": long, "gold_df": gold}


def oracle_accuracy(long: pd.DataFrame, gold: pd.DataFrame) -> tuple[int, int]:
    gcol = "gold" if "gold" in gold.columns else "label"
    j = long.merge(gold.rename(columns={gcol: "g"})[["item_id", "g"]], on="item_id")
    return int((j["label"] == j["g"]).sum()), int(len(j))


# ------------------------------------------------------------------------------------------- quality
def test_quality_uses_gold_without_task_column_like_labkit_score(tmp_path):
    from labkit.reports import quality as Q
    from labkit.stats.scoring import score_annotators

    d = public_program(tmp_path)
    r = Q.build(d["labels"], d["gold"], validate=False, n_boot=20, pseudonym=P)
    right, n = oracle_accuracy(d["long"], d["gold_df"])
    m = r.metrics()
    assert m["gold_accuracy"] == pytest.approx(right / n)
    assert m["gold_items"] == d["gold_df"]["item_id"].nunique()
    assert m["reference"] == "gold" and m["task"] == "rte"
    texts = [f.text for f in r.findings]
    assert any("no task column, so it applies to every task" in t for t in texts)
    assert r.section("Accuracy on gold").unavailable is None
    # the same per-annotator numbers as the scoring module used by `labkit score`
    from labkit.io import load_labels
    from labkit.schema import read_gold
    s = score_annotators(load_labels(d["labels"]), read_gold(d["gold"]), task="rte", consensus_fallback=False)
    assert int(s["n"].sum()) == n


def test_gold_that_matches_nothing_is_a_warning_with_counts(tmp_path):
    from labkit.reports import quality as Q

    d = public_program(tmp_path)
    other = tmp_path / "other_gold.csv"
    pd.DataFrame({"item_id": ["zz1", "zz2", "zz3"], "label": ["0", "1", "0"]}).to_csv(other, index=False)
    r = Q.build(d["labels"], str(other), validate=False, n_boot=20, pseudonym=P)
    warn = [f for f in r.findings if f.severity == "warning" and "gold" in f.text.lower()]
    assert warn and "3 gold items" in warn[0].text and "none of them was judged" in warn[0].text
    assert r.metrics()["gold_accuracy"] is None
    assert "not available" in r.section("Accuracy on gold").unavailable
    # a gold file for another task only
    g2 = tmp_path / "g2.csv"
    pd.DataFrame({"item_id": ["1"], "task": ["other"], "label": ["0"]}).to_csv(g2, index=False)
    r2 = Q.build(d["labels"], str(g2), validate=False, n_boot=20, pseudonym=P)
    assert any(f.severity == "warning" and "none for task 'rte'" in f.text for f in r2.findings)


def test_partly_unused_gold_is_counted(tmp_path):
    from labkit.reports import quality as Q

    d = public_program(tmp_path)
    g = d["gold_df"]
    extra = pd.DataFrame({"item_id": [f"never-{i}" for i in range(7)], "gold": ["0"] * 7})
    gp = tmp_path / "gold_plus.csv"
    pd.concat([g, extra]).to_csv(gp, index=False)
    r = Q.build(d["labels"], str(gp), validate=False, n_boot=20, pseudonym=P)
    hit = [f for f in r.findings if f.severity == "warning" and "not judged by anyone" in f.text]
    assert hit and hit[0].text.startswith(f"7 of the {len(g) + 7:,} gold items")


def test_people_ranked_by_upper_bound_after_minimum_evidence(tmp_path):
    from labkit.reports import quality as Q
    from labkit.reports.model import Table

    d = public_program(tmp_path)
    counts = d["long"]["annotator_id"].value_counts()
    cut = int(counts.median()) + 1  # every item has gold here: judgements = gold judgements
    r = Q.build(d["labels"], d["gold"], validate=False, n_boot=20, min_evidence=cut, pseudonym=P)
    tables = [b for b in r.section("Accuracy on gold").blocks if isinstance(b, Table)]
    ranked, few = tables[0].frame, tables[1].frame
    assert (ranked["gold judgements"] >= cut).all() and len(ranked) == int((counts >= cut).sum())
    assert ranked["ci_high"].is_monotonic_increasing  # worst upper bound first
    assert (few["gold judgements"] < cut).all() and len(few) == int((counts < cut).sum())
    assert few["gold judgements"].is_monotonic_decreasing  # most evidence first
    # everyone a finding names is in the chart, however far down
    named = re.search(r"below the pool .*?: (.*?)( and \d+ more)?\.$",
                      next(f.text for f in r.findings if "clearly below the pool" in f.text)).group(1).split(", ")
    assert set(named) <= set(ranked["annotator"])
    from labkit.reports.people import rank_people
    s = pd.DataFrame({"annotator_id": list("abcd"), "n": [2, 100, 50, 40], "accuracy": [0.0, 0.6, 0.9, 0.95],
                      "ci_high": [0.66, 0.69, 0.96, 0.99]})
    v = rank_people(s, min_n=10, named=["d"], k=1)
    assert list(v.ranked["annotator_id"]) == ["b", "c", "d"]
    assert list(v.chart["annotator_id"]) == ["b", "d"]  # the worst, plus the named one
    assert list(v.too_little["annotator_id"]) == ["a"]  # 0 of 2 is not ranked worst


def test_quality_consensus_reliability_on_gold_matches_an_oracle(tmp_path):
    from labkit.io import load_labels
    from labkit.reports import quality as Q
    from labkit.stats.truth import fit_consensus

    d = public_program(tmp_path)
    r = Q.build(d["labels"], d["gold"], validate=False, n_boot=20, pseudonym=P)
    # the report passes its gold to the consensus: confidence calibrated on it, cross-fitted
    fit = fit_consensus(load_labels(d["labels"]), task="rte", gold=d["gold_df"].rename(columns={"gold": "label"}))
    g = d["gold_df"].set_index("item_id")["gold"]
    c = fit.consensus.assign(item_id=fit.consensus["item_id"].astype(str))
    c = c.loc[c["item_id"].isin(g.index)]
    right = (c["label"].astype(str) == c["item_id"].map(g)).to_numpy(float)
    conf = c["confidence"].to_numpy(float)
    b = np.minimum((conf * 10).astype(int), 9)
    ece = sum(abs(right[b == k].mean() - conf[b == k].mean()) * (b == k).sum() for k in range(10) if (b == k).any()) / len(b)
    assert r.metrics()["consensus_ece_on_gold"] == pytest.approx(ece)


def test_no_timestamps_say_not_available(tmp_path):
    from labkit.reports import quality as Q

    d = public_program(tmp_path)
    r = Q.build(d["labels"], d["gold"], validate=False, n_boot=20, pseudonym=P)
    html = render(r, figures=False)
    assert "Judgements per week and throughput: not available (no timestamps in this data)." in html
    assert r.section("Calibration of stated confidence").unavailable.startswith("not available")


# ------------------------------------------------------------------------------------------- feedback
def test_feedback_uses_gold_without_task_and_names_the_reference(tmp_path):
    from labkit.reports import feedback as F

    d = public_program(tmp_path)
    long, gold = d["long"], d["gold_df"]
    raw = long["annotator_id"].value_counts().index[0]
    r = F.build(d["labels"], P(raw), d["gold"], pseudonym=P)
    mine = long.loc[long["annotator_id"] == raw]
    right, n = oracle_accuracy(mine, gold)
    m = r.metrics()
    assert m["reference"] == "gold" and m["accuracy"] == pytest.approx(right / n) and m["scored_judgements"] == n
    assert m["annotator"] == P(raw)
    # without gold every sentence says the majority, never "the answer was"
    r2 = F.build(d["labels"], P(raw), "", pseudonym=P)
    html = __import__("html").unescape(render(r2, figures=False))
    assert r2.metrics()["reference"] == "the other annotators' majority"
    assert r2.metrics()["accuracy"] is None
    assert "where the answer was" not in html and "where gold is" not in html
    assert "the other annotators' majority chose" in html or "always matched" in html


def test_feedback_takes_extra_sections(tmp_path):
    from labkit.reports import feedback as F
    from labkit.reports.model import Section, Text

    d = public_program(tmp_path)
    raw = d["long"]["annotator_id"].iloc[0]

    def badges(p, raw_id, fb, pseud):
        return Section("Badges", blocks=[Text(f"{fb['n_judgements']} judgements")])

    r = F.build(d["labels"], raw, d["gold"], pseudonym=P, extra_sections=[badges, lambda *a: None])
    n = int((d["long"]["annotator_id"] == raw).sum())
    assert r.sections[-1].title == "Badges" and r.sections[-1].blocks[0].text == f"{n} judgements"


# ------------------------------------------------------------------------------------------- validation + index
def test_failed_gate_is_critical_and_red_on_the_index(tmp_path):
    from labkit.reports import validation as V
    from labkit.reports.index import render_index

    r = V.build(str(ROOT / "sample" / "labels.csv"), str(ROOT / "guidelines"), pseudonym=P)
    m = r.metrics()
    assert m["gate_passed"] is False and m["severity"] == "critical"
    assert r.findings[0].severity == "critical" and "gate FAILED" in r.findings[0].text
    for name, metrics, status in (("validate_labels", m, "ok"), ("quality_report", {"severity": "ok"}, "ok"),
                                  ("broken", {}, "failed")):
        run = tmp_path / name / "20260101T000000Z"
        run.mkdir(parents=True)
        (run / "metrics.json").write_text(json.dumps({"status": status, "metrics": metrics, "run_id": run.name,
                                                      "started_at": "2026-01-01T00:00:00+00:00"}))
        (tmp_path / name / "latest").write_text(run.name + "\n")
    page = render_index(tmp_path)
    sec = page[page.index("validate_labels"):]
    assert '<span class="sev sev-critical">critical</span>' in sec.split("<h2>")[0]
    q = page[page.index("<h2>quality_report"):]
    assert '<span class="sev sev-ok">ok</span>' in q.split("</h2>")[0]
    b = page[page.index("<h2>broken"):]
    assert "sev-critical" in b.split("</h2>")[0]  # a failed run is critical
    assert "gate FAILED" in page  # the worst finding is shown beside it


def test_annotators_key_and_flag_are_parsed():
    from labkit.errors import ParameterError
    from labkit.reports.config import parse_annotators

    assert parse_annotators("all", "x") is None and parse_annotators(None, "x") is None
    assert parse_annotators(5, "x") == 5 and parse_annotators("12", "x") == 12
    assert parse_annotators("a, A-1234abcd", "x") == ["a", "A-1234abcd"]
    assert parse_annotators(["7", 8], "x") == ["7", "8"]
    for bad, msg in ((0, "must be positive"), (True, "expected N"), ({"a": 1}, "expected N"), (",", "no annotator")):
        with pytest.raises(ParameterError, match=msg):
            parse_annotators(bad, "reports.annotator_feedback.annotators")


def test_plan_takes_the_n_annotators_with_most_judgements(tmp_path):
    from labkit.reports.config import load_config
    from labkit.reports.runner import plan

    labels = tmp_path / "l.csv"
    rows = [{"item_id": f"i{k}", "annotator_id": a, "task": "t", "label": "x"}
            for a, n in (("few", 1), ("many", 5), ("mid", 3)) for k in range(n)]
    pd.DataFrame(rows).to_csv(labels, index=False)
    cfg = tmp_path / "reports.yaml"
    cfg.write_text("reports:\n  fb:\n    notebook: " + str(ROOT / "notebooks" / "annotator_feedback.ipynb")
                   + f"\n    for_each: annotator\n    annotators: 2\n    parameters: {{labels: {labels}, gold: '', items: ''}}\n")
    c = load_config(cfg)
    k = KEY.encode()
    assert [j.variant for j in plan(c, key=k)] == [pseudonym("many", k), pseudonym("mid", k)]
    assert [j.variant for j in plan(c, key=k, annotators="all")] == [pseudonym(a, k) for a in ("many", "mid", "few")]
    assert [j.variant for j in plan(c, key=k, annotators=["few"])] == [pseudonym("few", k)]
    assert len(plan(c, key=k, annotators=1)) == 1


# ------------------------------------------------------------------------------------------- governance + pseudonyms
PEOPLE = ["g-lead-1", "g-expert-1", "g-expert-2", "g-facil-1", "g-qa-1"]  # authors, approvers, releasers


def governance_program(tmp_path: Path) -> dict[str, str]:
    """The sample program whose five busiest annotators are the people who propose, approve and release."""
    t = pd.read_csv(ROOT / "sample" / "labels.csv", dtype=str, keep_default_na=False)
    busiest = t.loc[t["source"] == "human", "annotator_id"].value_counts().index[:5]
    t["annotator_id"] = t["annotator_id"].replace(dict(zip(busiest, PEOPLE)))
    labels = tmp_path / "labels.csv"
    t.to_csv(labels, index=False)
    return {"labels": str(labels), "gold": str(ROOT / "sample" / "gold.csv"), "guidelines": str(ROOT / "guidelines")}


def test_governance_shows_every_person_by_pseudonym(tmp_path):
    from labkit.reports import governance as GV
    from labkit.reports.model import Table

    d = governance_program(tmp_path)
    r = GV.build(d["guidelines"], d["labels"], d["gold"], n_boot=20, pseudonym=P)
    html = render(r, figures=False)
    for who in PEOPLE:
        assert not re.search(rf"(?<![\w-]){re.escape(who)}(?![\w-])", html), who
    assert P("g-lead-1") in html  # the releaser, by pseudonym
    props = [b for s in r.sections for b in s.blocks if isinstance(b, Table) and "author" in b.frame.columns]
    authors = pd.concat([t.frame["author"] for t in props])
    assert len(authors) and authors.str.match(r"^A-[0-9a-f]{8}").all()  # '103', filed from a calibration session
    m = r.metrics()
    assert m["log_ok"] is True and m["severity"] == "warning" and m["versions"] == 3


def test_governance_without_timestamps_says_not_available(tmp_path):
    from labkit.reports import governance as GV

    t = pd.read_csv(ROOT / "sample" / "labels.csv", dtype=str, keep_default_na=False)
    t["created_at"] = ""
    labels = tmp_path / "untimed.csv"
    t.to_csv(labels, index=False)
    r = GV.build(str(ROOT / "guidelines"), str(labels), "", n_boot=20, pseudonym=P)
    sec = r.section("Judgements still made under retired versions")
    assert sec.unavailable and "no timestamps" in sec.unavailable
    assert "None: every timestamped judgement" not in render(r, figures=False)
    assert r.metrics()["retired_judgements"] is None


def test_calibration_report_in_points_and_pseudonyms():
    from labkit.calibration.report import build
    from labkit.reports.model import Table

    r = build(str(ROOT / "sample" / "calibration" / "cal-2026-09-28"), pseudonym=P)
    html = render(r, figures=False)
    t = next(b for b in r.section("Accuracy per participant").blocks if isinstance(b, Table))
    assert "change (points)" in t.frame.columns and t.formats["change (points)"] == "{:+.0f} points"
    assert re.search(r"[+-]\d+ points", html) and not re.search(r"<td[^>]*>[+-]\d+%</td>", html)
    assert "g-facil-1" not in html
    assert r.metrics()["session"] == "cal-2026-09-28"


@pytest.mark.slow
def test_no_raw_id_in_any_rendered_file(tmp_path):
    """Every report through the runner on a program whose annotators also govern the guideline."""
    from labkit.reports.config import load_config
    from labkit.reports.runner import run_reports

    d = governance_program(tmp_path)
    session = ROOT / "sample" / "calibration" / "cal-2026-09-28"  # its facilitator g-facil-1 also proposes
    nb = ROOT / "notebooks"
    cfg = tmp_path / "reports.yaml"
    cfg.write_text(
        "out: out\ntimeout: 600\nparameters:\n"
        f"  labels: {d['labels']}\n  gold: {d['gold']}\n  guidelines: {d['guidelines']}\n  items: ''\n"
        "reports:\n"
        f"  quality_report:\n    notebook: {nb / 'quality_report.ipynb'}\n    parameters: {{n_boot: 20, validate: true}}\n"
        f"  annotator_feedback:\n    notebook: {nb / 'annotator_feedback.ipynb'}\n    for_each: annotator\n"
        f"    annotators: [{PEOPLE[0]}, {PEOPLE[3]}]\n"
        f"  governance_report:\n    notebook: {nb / 'governance_report.ipynb'}\n    parameters: {{n_boot: 20}}\n"
        f"  validate_labels:\n    notebook: {nb / 'validate_labels.ipynb'}\n"
        f"  calibration_report:\n    notebook: {nb / 'calibration_report.ipynb'}\n"
        f"    parameters: {{session: {session}, labels: '', gold: ''}}\n", encoding="utf-8")
    summary = run_reports(load_config(cfg))
    assert summary["failed"] == 0, [r["error"] for r in summary["runs"]]
    assert len(summary["runs"]) == 6
    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file() and p.suffix in (".html", ".ipynb", ".json")]
    assert any(p.name == "report.ipynb" for p in files) and any(p.name == "metrics.json" for p in files)
    for p in files:
        text = p.read_text(encoding="utf-8")
        for who in PEOPLE:
            assert not re.search(rf"(?<![\w-]){re.escape(who)}(?![\w-])", text), f"{who} in {p}"
    severities = {r["report"]: r["metrics"]["severity"] for r in summary["runs"]}
    assert severities["validate_labels"] == "critical"
    index = (tmp_path / "out" / "index.html").read_text()
    assert '<span class="sev sev-critical">critical</span>' in index


def test_layering_guidelines_report_needs_no_stats_and_calibration_no_display():
    import subprocess
    import sys

    code = ("import sys, labkit.guidelines.report, labkit.calibration.report; "
            "print(sorted(m for m in sys.modules if m.startswith(('labkit.stats', 'labkit.reports.display'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT).stdout
    assert out.strip() == "[]"
    src = (ROOT / "labkit" / "guidelines" / "report.py").read_text() + (ROOT / "labkit" / "calibration" / "report.py").read_text()
    assert "from labkit.reports.display" not in src and "import labkit.stats" not in src
    assert "from labkit.stats" not in (ROOT / "labkit" / "guidelines" / "report.py").read_text()


def test_cli_annotators_flag_is_checked_before_any_kernel(tmp_path, capsys):
    from labkit.cli import main

    code = main(["report", "run", "--config", str(ROOT / "reports.yaml"), "--annotators", "0", "--out", str(tmp_path)])
    err = capsys.readouterr()
    assert code != 0
    assert "--annotators: the number of annotators must be positive, got 0" in err.out + err.err
    assert not any(tmp_path.iterdir())  # nothing ran


def test_overconfident_consensus_is_a_warning(tmp_path, monkeypatch):
    """Bluebirds (Welinder et al. 2010): the posterior is near-certain on every item but right on ~90% of gold.
    The report passes its 108 gold items to the consensus, whose confidence is then calibrated on them
    (cross-fitted: ECE 0.025, no warning); a consensus that ignored the gold (as the report did before) is
    overconfident there, and the report warns."""
    from labkit.reports import quality as Q
    from labkit.stats import truth

    d = public_program(tmp_path, "welinder2010_bluebirds", "bluebirds")
    r = Q.build(d["labels"], d["gold"], validate=False, n_boot=20, pseudonym=P)
    m = r.metrics()
    assert m["consensus_ece_on_gold"] <= 0.03
    assert not [f for f in r.findings if f.text.startswith("Consensus confidence is miscalibrated on gold")]
    fit = truth.fit_consensus
    monkeypatch.setattr(truth, "fit_consensus", lambda *a, **k: fit(*a, **{**k, "gold": None}))
    r = Q.build(d["labels"], d["gold"], validate=False, n_boot=20, pseudonym=P)
    m = r.metrics()
    assert m["consensus_ece_on_gold"] > 0.05
    hit = [f for f in r.findings if f.text.startswith("Consensus confidence is miscalibrated on gold")]
    assert hit and hit[0].severity == "warning"
    assert f"{m['consensus_ece_on_gold']:.3f} over {m['gold_items']:,} gold items" in hit[0].text


def test_no_empty_follow_up_chart():
    from labkit.calibration.report import ReportData, _has_values, plot_accuracy

    empty = pd.DataFrame({"participant": ["A-1"], "before": [np.nan], "before 95% CI": [""], "after": [np.nan],
                          "after 95% CI": [""]})
    assert not _has_values(empty) and not _has_values(empty.iloc[:0])
    data = ReportData(session={}, accuracy_session=empty, agreement=pd.DataFrame(), accuracy_followup=empty,
                      followup_note="", proposals=pd.DataFrame(), ranked=pd.DataFrame())
    assert plot_accuracy(data) is None  # the page says "not available" instead of drawing empty axes
