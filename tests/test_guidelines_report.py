"""The governance report: its computations (oracles, hand-checked fixtures) and the notebook itself."""

from __future__ import annotations

import json
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pytest

from labkit.guidelines import report as R
from labkit.guidelines.model import Guidelines
from labkit.schema import conform_labels

REPO = Path(__file__).resolve().parents[1]
NB = REPO / "notebooks" / "governance_report.ipynb"
G = Guidelines.load(REPO / "guidelines")


def table(rows: list[tuple]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["item_id", "annotator_id", "label", "guideline_version", "created_at"])
    df["task"] = "toxicity"
    return conform_labels(df).table


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABKIT_PSEUDONYM_KEY", "test-key-governance")


def test_timeline_of_the_sample() -> None:
    tl = R.timeline(REPO / "guidelines", "toxicity")
    assert list(tl["version"]) == ["1.0.0", "1.1.0", "2.0.0"]
    assert list(tl["kind"]) == ["major", "minor", "major"]
    assert list(tl["author"]) == ["g-qa-1", "g-facil-1", "g-facil-1"]
    assert tl["approvals"].iloc[1] == ["g-expert-1 (domain_expert, 2026-09-23)", "g-lead-1 (lead, 2026-09-25)"]
    changes = tl["changes"].iloc[2]
    assert changes[0] == {"change": "label renamed (declared)", "label": "insult", "before": "offensive", "after": "insult"}
    assert changes[1] == {"change": "labels merged (declared)", "label": "spam", "before": "spam, self_promotion", "after": "spam"}


def test_release_impact_against_independent_oracles() -> None:
    # 3 annotators x 4 items under 1.0.0 and under 1.1.0, gold decided under 2.0.0
    rows = []
    before = {"i1": ["ok", "ok", "ok"], "i2": ["offensive", "offensive", "ok"], "i3": ["spam", "spam", "spam"],
              "i4": ["hate", "offensive", "offensive"]}
    after = {"j1": ["ok", "ok", "ok"], "j2": ["offensive", "offensive", "offensive"],
             "j3": ["self_promotion", "self_promotion", "spam"], "j4": ["hate", "hate", "offensive"]}
    for ver, items, day in (("1.0.0", before, "2026-09-10"), ("1.1.0", after, "2026-10-01")):
        for item, labs in items.items():
            for a, lab in zip(("a", "b", "c"), labs):
                rows.append((item, a, lab, ver, f"{day}T10:00:00Z"))
    gold = pd.DataFrame({"item_id": ["i2", "i4", "j2", "j3"], "task": "toxicity",
                         "label": ["insult", "hate", "insult", "spam"], "guideline_version": "2.0.0"})
    imp = R.release_impact(table(rows), G, "toxicity", gold, n_boot=200, seed=1)
    r110 = imp.loc[imp["release"] == "1.1.0"].set_index("side")
    for side, items in (("before", before), ("after", after)):
        labs = sorted({x for v in items.values() for x in v})
        mat = np.array([[labs.index(items[i][k]) for i in items] for k in range(3)], dtype=float)
        expected = krippendorff.alpha(reliability_data=mat, level_of_measurement="nominal")
        assert r110.loc[side, "alpha"] == pytest.approx(expected, abs=1e-9)
        assert r110.loc[side, "alpha_low"] <= r110.loc[side, "alpha"] <= r110.loc[side, "alpha_high"]
    # accuracy after carrying labels to 2.0.0: offensive -> insult, self_promotion -> spam
    # before: i2 (insult, insult, ok) vs insult -> 2/3; i4 (hate, insult, insult) vs hate -> 1/3: 3/6
    # after:  j2 3/3 insult; j3 (spam, spam, spam) vs spam 3/3: 6/6
    assert r110.loc["before", "accuracy"] == pytest.approx(3 / 6)
    assert r110.loc["after", "accuracy"] == pytest.approx(1.0)
    assert (r110.loc["before", "gold_judgements"], r110.loc["after", "gold_judgements"]) == (6, 6)
    from labkit.stats import wilson_interval

    lo, hi = wilson_interval(3, 6)
    assert (r110.loc["before", "acc_low"], r110.loc["before", "acc_high"]) == pytest.approx((float(lo), float(hi)))
    r200 = imp.loc[imp["release"] == "2.0.0"].set_index("side")
    assert r200.loc["after", "judgements"] == 0 and r200.loc["after", "alpha_note"] == "no judgements under this version"


def test_retired_usage_hand_checked() -> None:
    t = table([
        ("c1", "a", "ok", "1.0.0", "2026-09-30T00:00:00Z"),   # 1.1.0 released 09-28: within 7 days, fine
        ("c2", "a", "ok", "1.0.0", "2026-10-06T00:00:00Z"),   # 8 days after 1.1.0: retired
        ("c3", "b", "offensive", "1.1.0", "2026-10-27T00:00:00Z"),  # 8 days after 2.0.0: retired
        ("c4", "b", "insult", "2.0.0", "2026-10-27T00:00:00Z"),     # current
        ("c5", "c", "ok", "1.0.0", "2026-10-20T00:00:00Z"),   # retired; 2.0.0 in force
    ])
    r = R.retired_usage(t, G, "toxicity", grace_days=7)
    assert list(r["version"]) == ["1.0.0", "1.0.0", "1.1.0"]
    assert list(r["in_force"]) == ["1.1.0", "2.0.0", "2.0.0"]
    assert list(r["judgements"]) == [1, 1, 1]
    who = R.retired_by_annotator(t, G, "toxicity", grace_days=7)
    assert list(zip(who["annotator_id"], who["judgements"])) == [("a", 1), ("b", 1), ("c", 1)]
    assert R.retired_usage(t, G, "toxicity", grace_days=30).empty


def test_proposals_and_log_status() -> None:
    props = R.proposals_table(REPO / "guidelines", "toxicity")
    assert dict(zip(props["id"], props["state"])) == {
        "toxicity-1.0.0-first-release": "released", "toxicity-1.1.0-self-promotion": "released",
        "toxicity-2026-10-02-split-hate": "rejected", "toxicity-2.0.0-insult-and-spam": "released",
        "toxicity-2026-11-02-sarcasm-about-work": "open", "toxicity-2026-11-09-threat-label": "open"}
    log = R.log_status(REPO / "guidelines")
    assert log["ok"] and log["actions"] == {"propose": 6, "approve": 10, "release": 3, "reject": 1,
                                            "adjudicate": 1, "gold_edit": 1}
    assert log["text"].startswith("decisions.jsonl: intact, 22 entries")  # no machine path


def test_notebook_is_a_thin_parameterized_view() -> None:
    from labkit.reports.params import notebook_params

    nb = json.loads(NB.read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for c in nb["cells"]:
        if c["cell_type"] == "code":
            assert c["outputs"] == [] and c["execution_count"] is None
    params = notebook_params(NB)
    assert {"guidelines", "labels", "gold", "metrics_path"} <= set(params)
    assert params["metrics_path"].default == '""' and params["metrics_path"].help
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1


@pytest.mark.slow
def test_report_renders_on_the_bundled_program(tmp_path: Path) -> None:
    from labkit.reports.config import load_config
    from labkit.reports.html import external_references
    from labkit.reports.runner import run_reports

    if not (REPO / "sample" / "labels.csv").exists():
        pytest.skip("the bundled sample is not generated")
    cfg = tmp_path / "reports.yaml"
    cfg.write_text(
        "out: out\ntimeout: 300\nreports:\n  governance_report:\n"
        f"    notebook: {NB}\n    parameters:\n"
        f"      labels: {REPO / 'sample' / 'label_studio_export.json'}:{REPO / 'sample' / 'labels.csv'}\n"
        f"      gold: {REPO / 'sample' / 'gold.csv'}\n      guidelines: {REPO / 'guidelines'}\n      n_boot: 50\n",
        encoding="utf-8")
    r = run_reports(load_config(cfg))["runs"][0]
    assert r["status"] == "ok", r
    folder = Path(r["folder"])
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert external_references(page) == []
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))["metrics"]
    assert metrics["log_ok"] is True and metrics["versions"] == 3 and metrics["open_proposals"] == 2
    assert "Too few hate items per attribute" in page and "toxicity 2.0.0 (major), released 2026-10-19" in page
    from labkit.privacy import pseudonym

    retired_annotator = "123"  # the sample's annotator with labels under 1.1.0 after 2.0.0 (planted)
    assert pseudonym(retired_annotator, b"test-key-governance") in page


def test_a_damaged_log_is_reported_not_a_crash(tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "guidelines"
    shutil.copytree(REPO / "guidelines", root)
    log = root / "decisions.jsonl"
    lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[4] = lines[4][:40] + "\n"  # a mangled line: not JSON any more
    log.write_text("".join(lines), encoding="utf-8")
    st = R.log_status(root)
    assert not st["ok"] and st["first_bad_line"] == 5 and st["problem"] == "not a JSON line (edited?)"
    props = R.proposals_table(root, "toxicity")
    assert set(props["state"]) == {"unknown (log unreadable)"}
    assert list(R.timeline(root, "toxicity")["version"]) == ["1.0.0", "1.1.0", "2.0.0"]
    assert R.findings(R.timeline(root, "toxicity"), pd.DataFrame(columns=["release"]), pd.DataFrame(), props, st)[0][1] is True
