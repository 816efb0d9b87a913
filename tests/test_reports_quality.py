"""The real quality report and annotator feedback notebooks, rendered by the runner on small programs.

1. A program whose annotator ids, labels and item texts carry markup (``<script>``, ``<img onerror>``)
   and a ``$`` (matplotlib math): every page renders, everything is escaped, no raw annotator id is
   anywhere in the output folder, and no page loads anything from the network.
2. A public dataset without timestamps, versions, slices or item texts (Snow et al. 2008, copied in
   tests/data/public/snow2008_wsd): the report renders and says what is not available.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labkit.privacy import pseudonym
from labkit.reports.config import load_config
from labkit.reports.html import external_references
from labkit.reports.runner import run_reports

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "reports"
PUBLIC = Path(__file__).parent / "data" / "public"
KEY = "test-key-quality"
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"
ANNOTATORS = [f"ann{SCRIPT}", f"bob{IMG}", "carol.smith@example.org"]
LABELS = ["ok", f"bad{SCRIPT}", "$cash$"]


def make_program(folder: Path) -> dict[str, str]:
    """30 items x 3 annotators over two weeks, one review row, 12 gold items; markup everywhere."""
    rng = np.random.default_rng(7)
    rows = []
    t0 = pd.Timestamp("2026-09-07T09:00:00Z")
    truth = {f"it{i}{SCRIPT if i == 0 else ''}": LABELS[i % 3] for i in range(30)}
    for k, (item, true) in enumerate(truth.items()):
        for a, ann in enumerate(ANNOTATORS):
            right = rng.random() < (0.9, 0.7, 0.5)[a]
            lab = true if right else LABELS[(LABELS.index(true) + 1 + a) % 3]
            rows.append({"item_id": item, "annotator_id": ann, "task": "moderation", "label": lab,
                         "guideline_version": "1.0.0" if k < 15 else "1.1.0",
                         "created_at": (t0 + pd.Timedelta(hours=8 * k + a)).isoformat(),
                         "duration_s": float(rng.uniform(2, 40)), "confidence": float(rng.uniform(0.4, 1.0)),
                         "source": "human", "stage": "label", "slice": "forum" if k % 2 else f"chat{IMG}"})
    rows.append({**rows[0], "annotator_id": ANNOTATORS[0], "stage": "review", "label": LABELS[0],
                 "created_at": (t0 + pd.Timedelta(days=3)).isoformat()})
    labels = folder / "labels.csv"
    pd.DataFrame(rows).to_csv(labels, index=False)
    gold = folder / "gold.csv"
    g = [{"item_id": i, "task": "moderation", "label": lab, "rationale": f"because {SCRIPT}"}
         for i, lab in list(truth.items())[:12]]
    pd.DataFrame(g).to_csv(gold, index=False)
    items = folder / "items.csv"
    pd.DataFrame({"item_id": list(truth), "text": [f"comment {n} {SCRIPT} {IMG}" for n in range(30)]}).to_csv(items, index=False)
    return {"labels": str(labels), "gold": str(gold), "items": str(items)}


def config(folder: Path, params: dict[str, str], feedback: bool = True) -> Path:
    lines = ["out: out", "timeout: 300", "parameters:"] + [f"  {k}: {json.dumps(v)}" for k, v in params.items()]
    lines += ["reports:", "  quality_report:", f"    notebook: {ROOT / 'notebooks' / 'quality_report.ipynb'}",
              "    parameters: {validate: false, n_boot: 100}"]
    if feedback:
        lines += ["  annotator_feedback:", f"    notebook: {ROOT / 'notebooks' / 'annotator_feedback.ipynb'}",
                  "    for_each: annotator"]
    cfg = folder / "reports.yaml"
    cfg.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return cfg


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("LABKIT_PSEUDONYM_KEY", KEY)


@pytest.mark.slow
def test_markup_program_renders_escaped_and_pseudonymized(tmp_path):
    params = make_program(tmp_path)
    params["guidelines"] = ""
    summary = run_reports(load_config(config(tmp_path, params)))
    assert [r["status"] for r in summary["runs"]] == ["ok"] * 4, [r["error"] for r in summary["runs"]]
    pseud = sorted(pseudonym(a, KEY.encode()) for a in ANNOTATORS)
    assert sorted(r["variant"] for r in summary["runs"][1:]) == pseud

    out = tmp_path / "out"
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) == 4 * 3 + 1 + 2 + 2 * 3 + 1  # runs x (ipynb, html, metrics) + index + latest pointers + run lock
    for f in files:
        text = f.read_text(encoding="utf-8")
        for raw in ANNOTATORS:  # never the raw id, in any encoding a writer could have used
            for form in {raw, html.escape(raw), json.dumps(raw)[1:-1], html.escape(json.dumps(raw)[1:-1])}:
                assert form not in text, f"raw annotator id {raw!r} in {f.relative_to(out)}"
        if f.suffix == ".html":
            assert SCRIPT not in text and IMG not in text, f"unescaped markup in {f.relative_to(out)}"
            assert external_references(text) == [], f.relative_to(out)
            for tag in ("<script", "<iframe", "<object", "<embed"):
                assert tag not in text.lower(), f"{tag} in {f.relative_to(out)}"

    quality = Path(summary["runs"][0]["html"]).read_text(encoding="utf-8")
    assert "Key findings" in quality
    assert html.escape(f"bad{SCRIPT}") in quality  # a label shown, escaped
    assert html.escape(f"chat{IMG}") in quality  # a slice shown, escaped
    # item texts in the adjudication queue are shown escaped (which items are queued depends on the consensus)
    assert re.search(r"comment \d+ " + re.escape(html.escape(SCRIPT)), quality) or "Adjudication queue (0 items" in quality
    assert all(p in quality for p in pseud)  # the accuracy table shows everyone, by pseudonym
    assert quality.count('src="data:image/png;base64,') >= 8  # figures are embedded
    m = json.loads((Path(summary["runs"][0]["folder"]) / "metrics.json").read_text())
    assert m["status"] == "ok" and m["metrics"]["judgements"] == 91 and m["metrics"]["annotators"] == 3

    for r in summary["runs"][1:]:
        page = Path(r["html"]).read_text(encoding="utf-8")
        me = r["variant"]
        assert f"Feedback for {me}" in page
        assert [p for p in pseud if p != me and p in page] == []  # no other annotator, even by pseudonym
        assert "Tips for you" in page
        fm = json.loads((Path(r["folder"]) / "metrics.json").read_text())
        assert fm["metrics"]["annotator"] == me and fm["parameters"]["annotator"] == me
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.count("<td class=ok>ok") == 4


@pytest.mark.slow
def test_public_dataset_without_timestamps_says_what_is_missing(tmp_path):
    params = {"labels": str(PUBLIC / "snow2008_wsd" / "long.csv"), "gold": str(PUBLIC / "snow2008_wsd" / "gold.csv"),
              "items": "", "guidelines": ""}
    summary = run_reports(load_config(config(tmp_path, params, feedback=False)))
    r = summary["runs"][0]
    assert r["status"] == "ok", r["error"]
    page = Path(r["html"]).read_text(encoding="utf-8")
    for section in ("Judgements per week and throughput", "Cycle time and latency per stage",
                    "Agreement per slice", "Agreement per guideline version", "Calibration of stated confidence",
                    "Agreement per week", "Drift over guideline versions"):
        assert re.search(re.escape(section) + r": not available \((no|not)", page), section
    assert "Validation: not shown: turned off (parameter validate)." in page
    m = r["metrics"]
    assert m["judgements"] == 1770 and m["items"] == 177 and m["annotators"] == 34
    # accuracy on gold over every judgement equals the share of labels equal to gold in the raw files
    long = pd.read_csv(PUBLIC / "snow2008_wsd" / "long.csv", dtype=str)
    gold = pd.read_csv(PUBLIC / "snow2008_wsd" / "gold.csv", dtype=str)
    joined = long.merge(gold, on="item_id")
    assert m["gold_accuracy"] == pytest.approx((joined["label"] == joined["gold"]).mean(), abs=1e-12)
    # the consensus section names the prior family the held-out test kept, with the test's z
    from labkit.stats.truth import fit_consensus

    info = next(iter(fit_consensus(long.assign(task="wsd")).info.values()))
    assert info["prior"] == "one-coin"
    assert (f"Each annotator's confusion is shrunk toward a one-coin prior: one accuracy per annotator for every "
            f"class. Chosen by held-out judgements: the two-way prior's gain over one-coin is "
            f"z = {info['prior_test_z']:.2f} standard errors") in page


def test_judgements_under_older_versions_are_compared_in_the_gold_version_terms(tmp_path):
    """Gold decided under 2.0.0 (which renamed offensive -> insult and merged self_promotion into spam):
    a 1.1.0 'offensive' on an 'insult' gold item is right, not an error; a label its own version does not
    define is left out and counted; a judgement without a version is compared as recorded."""
    from labkit.reports import quality as Q

    rows = [  # item, annotator, label, version
        ("i1", "a", "offensive", "1.1.0"), ("i1", "b", "insult", "2.0.0"), ("i1", "c", "ok", "1.1.0"),
        ("i2", "a", "self_promotion", "1.1.0"), ("i2", "b", "spam", "2.0.0"), ("i2", "c", "self_promotion", "2.0.0"),
        ("i3", "a", "insult", "1.1.0"), ("i3", "b", "ok", ""), ("i3", "c", "ok", "2.0.0"),
    ]
    labels = tmp_path / "labels.csv"
    pd.DataFrame([{"item_id": i, "annotator_id": a, "task": "toxicity", "label": lab, "guideline_version": v,
                   "source": "human", "stage": "label"} for i, a, lab, v in rows]).to_csv(labels, index=False)
    gold = tmp_path / "gold.csv"
    pd.DataFrame({"item_id": ["i1", "i2", "i3"], "task": "toxicity", "label": ["insult", "spam", "ok"],
                  "guideline_version": "2.0.0"}).to_csv(gold, index=False)
    p = Q.load_program(str(labels), str(gold), "", str(ROOT / "guidelines"))
    gs = Q.gold_scores(p)
    # left out: i2/c (self_promotion is not a 2.0.0 label), i3/a (insult is not a 1.1.0 label) -> 7 scored;
    # right: i1/a (offensive -> insult), i1/b, i2/a (self_promotion -> spam), i2/b, i3/b (no version), i3/c
    assert (gs["pool"]["n"], gs["pool"]["correct"]) == (7, 6)
    assert p.comparison_notes == [
        "Gold is decided under guideline 2.0.0; 3 judgements made under older versions are compared in 2.0.0's "
        "terms (2 relabeled by the releases' migration maps: offensive → insult, self_promotion → spam; "
        "1 kept their label).",
        "2 judgements cannot be compared with gold and are left out of accuracy and consensus (label "
        "insult is not in version 1.1.0: 1; label self_promotion is not in version 2.0.0: 1).",
    ]
    # without guidelines nothing is carried forward: the rename counts as an error
    raw = Q.gold_scores(Q.load_program(str(labels), str(gold), "", ""))
    assert (raw["pool"]["n"], raw["pool"]["correct"]) == (9, 4)


def test_accuracy_by_version_groups_by_the_version_a_judgement_was_made_under(tmp_path):
    """Migration rewrites guideline_version to the gold's; the per-version breakdown must still use the
    version each judgement was made under. Oracle: the governance report's release impact, which
    migrates each version's judgements separately."""
    from labkit.guidelines import Guidelines
    from labkit.reports.governance import release_impact
    from labkit.reports.quality import accuracy_over, correctness, load_program
    from labkit.io import load_labels
    from labkit.schema import read_gold, write_labels

    table = load_labels([ROOT / "sample" / "label_studio_export.json", ROOT / "sample" / "labels.csv"])
    labels = tmp_path / "label_stage.parquet"  # release_impact looks at the label stage only
    write_labels(table.loc[table["stage"] == "label"].reset_index(drop=True), labels)
    p = load_program(str(labels), f"{ROOT}/sample/gold.csv", "", f"{ROOT}/guidelines")
    rows, reference = correctness(p)
    assert reference == "gold"
    got = accuracy_over(rows.loc[rows["guideline_version"] != "nan"], "guideline_version").set_index("guideline_version")
    assert list(got.index) == ["1.0.0", "1.1.0", "2.0.0"]
    impact = release_impact(p.labels, Guidelines.load(ROOT / "guidelines"), "toxicity", read_gold(ROOT / "sample" / "gold.csv"),
                            n_boot=10)
    for version, side in impact.groupby("version"):
        r = side.iloc[0]
        assert got.loc[version, "n"] == r["gold_judgements"]
        assert got.loc[version, "accuracy"] == pytest.approx(r["accuracy"], abs=1e-12)
