"""The review plan report, built without a kernel: numbers agree with the plan, pages are pseudonymous."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from labkit.io import load_labels
from labkit.reports.model import render
from labkit.review import plan_review
from labkit.review.report import build, caught_by_hours

ROOT = Path(__file__).resolve().parents[1]
LABELS = str(ROOT / "sample" / "labels.csv")


def test_caught_by_hours_orders():
    q = pd.DataFrame({"rank": [1, 2, 3, 4], "p_error": [0.9, 0.5, 0.2, 0.1], "est_minutes": [30.0] * 4,
                      "p_vote": [0.1, 0.6, 0.5, 0.0]})
    c = caught_by_hours(q, [0.0, 0.5, 1.0, 2.0]).set_index("hours")
    assert c.loc[0.5, "queue"] == pytest.approx(0.9)
    assert c.loc[0.5, "threshold policy"] == pytest.approx(0.5)  # lowest agreement (p_vote 0.6) first
    assert c.loc[1.0, "random review"] == pytest.approx(1.7 * 2 / 4)
    assert c.loc[2.0, ["queue", "threshold policy", "random review"]].tolist() == pytest.approx([1.7] * 3)


def test_build_on_sample_matches_plan_and_is_pseudonymous():
    rep = build(labels=LABELS, gold=str(ROOT / "sample" / "gold.csv"), guidelines=str(ROOT / "guidelines"),
                budget_hours=1.0)
    from labkit.guidelines.migrate import in_common_terms
    from labkit.guidelines.model import Guidelines
    from labkit.schema import read_gold

    g = read_gold(ROOT / "sample" / "gold.csv")
    t, _ = in_common_terms(load_labels(LABELS), g, Guidelines.load(ROOT / "guidelines"))  # the report's own terms
    plan = plan_review(t, budget_hours=1.0, gold=g)
    assert rep.headline["queued"] == len(plan.queued)
    assert rep.headline["expected_errors_caught"] == pytest.approx(plan.queued["p_error"].sum(), abs=0.05)
    curve = rep.section("Errors caught against hours").blocks[1].frame
    assert (curve["queue"] >= curve["random review"] - 1e-9).all()
    assert (curve["queue"] >= curve["threshold policy"] - 1e-9).all()
    html = render(rep, figures=False)
    spot = rep.section("Spot checks per annotator").blocks[0].frame
    assert len(spot) == t[(t["stage"].astype(str) == "label") & (t["source"].astype(str) == "human")]["annotator_id"].nunique()
    raw = set(t["annotator_id"].astype(str))
    assert spot["annotator"].str.fullmatch(r"A-[0-9a-f]{8}").all() and not set(spot["annotator"]) & raw
    ev = rep.section("Queue head with evidence").blocks[0].frame
    who = {w.split(" (model)")[0] for j in ev["judgements"] for w in re.findall(r"([^,:]+):", j)}
    who = {w.strip() for w in who}
    assert who and all(re.fullmatch(r"A-[0-9a-f]{8}", w) for w in who) and not who & raw
    for a in raw:  # no raw id as a table cell of the spot checks or a voter in the evidence
        assert f">{a}<" not in html.split("Spot checks per annotator")[1]
    assert "hate: Offensive content" in html or "definition" in html.lower()


def test_notebook_is_thin_and_clean():
    import nbformat

    from labkit.reports.params import notebook_params

    path = ROOT / "notebooks" / "review_plan.ipynb"
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.kernelspec.name == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) == 2 and "parameters" in code[0].metadata.tags
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    body = code[1].source
    for banned in ("def ", "for ", "if ", "while ", "lambda"):
        assert banned not in body
    params = notebook_params(path)
    assert set(params) == {"labels", "gold", "guidelines", "budget_hours", "minutes_per_item", "metrics_path"}
    assert all(p.type and p.help for p in params.values())


def test_cli_spot_checks_pseudonymous_summary(tmp_path, capsys, monkeypatch):
    import json

    from labkit.cli import main
    from labkit.reports.display import Pseudonyms

    monkeypatch.setenv("LABKIT_PSEUDONYM_KEY", "test-key")
    out = tmp_path / "status.csv"
    assert main(["review", "audit", LABELS, "--gold", str(ROOT / "sample" / "gold.csv"), "--out", str(out),
                 "--json"]) == 0
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["spot_checks"]
    st = pd.read_csv(out, dtype={"annotator_id": str})
    ps = Pseudonyms(key=b"test-key")
    assert sorted(s["flagged"]) == sorted(ps(a) for a in st.loc[st["flagged"], "annotator_id"])
    assert s["annotators"] == len(st) == 40
    # the threshold is the calibrated CUSUM threshold at the measured gold rate
    assert (st["threshold"] == s["threshold"]).all() and 0 < s["gold_rate"] < 1
    assert (st.loc[st["flagged"], "max_statistic"] > s["threshold"]).all()
    assert (st.loc[~st["flagged"], "max_statistic"] <= s["threshold"]).all()
