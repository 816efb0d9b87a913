"""The governance report: its computations (oracles, hand-checked fixtures) and the notebook itself."""

from __future__ import annotations

import json
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pytest

from labkit.guidelines import report as R
from labkit.reports.governance import item_bootstrap_accuracy, release_impact
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
    imp = release_impact(table(rows), G, "toxicity", gold, n_boot=200, seed=1)
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
    # the interval resamples gold items: before, i2 has 2/3 right and i4 1/3, so the replicates can only
    # be 0/6.. in thirds between 1/3 and 2/3; after, every item is all right: [1, 1]
    assert item_bootstrap_accuracy(np.array([1, 1, 0, 1, 0, 0], bool), np.array(["i2"] * 3 + ["i4"] * 3),
                                     n_boot=200, seed=1) == (0.5, r110.loc["before", "acc_low"], r110.loc["before", "acc_high"])
    assert 1 / 3 <= r110.loc["before", "acc_low"] < 0.5 < r110.loc["before", "acc_high"] <= 2 / 3
    assert (r110.loc["after", "acc_low"], r110.loc["after", "acc_high"]) == (1.0, 1.0)
    r200 = imp.loc[imp["release"] == "2.0.0"].set_index("side")
    assert r200.loc["after", "judgements"] == 0 and r200.loc["after", "alpha_note"] == "no judgements under this version"


def test_item_bootstrap_accuracy_against_the_normal_approximation() -> None:
    """Oracles: with one judgement per item the interval is the binomial one, p +- 1.96 sqrt(p(1-p)/n);
    with k identical judgements per item it is as wide as for n/k items (the judgements add nothing)."""
    rng = np.random.default_rng(5)
    right = rng.random(400) < 0.8
    p = right.mean()
    half = 1.959964 * np.sqrt(p * (1 - p) / 400)
    acc, lo, hi = item_bootstrap_accuracy(right, np.arange(400), n_boot=4000, seed=0)
    assert acc == p
    assert lo == pytest.approx(p - half, abs=0.008) and hi == pytest.approx(p + half, abs=0.008)
    # each of the 400 items judged 5 times, all 5 the same: 2000 judgements, still 400 items of evidence
    acc5, lo5, hi5 = item_bootstrap_accuracy(np.repeat(right, 5), np.repeat(np.arange(400), 5), n_boot=4000, seed=0)
    assert acc5 == pytest.approx(p) and (hi5 - lo5) == pytest.approx(hi - lo, abs=0.008)
    from labkit.stats import wilson_interval

    wlo, whi = wilson_interval(int(right.sum()) * 5, 2000)
    assert (hi5 - lo5) > 2 * (float(whi) - float(wlo)) * 0.9  # sqrt(5) = 2.24 times the judgement-level width
    assert np.isnan(item_bootstrap_accuracy(np.array([], bool), np.array([]))[0])


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
    assert list(r["future"]) == [0, 0, 0]
    # a judgement stamped in the future (a bad clock, as planted in the sample) is counted and marked
    t2 = table([("c1", "a", "ok", "1.0.0", "2031-01-01T00:00:00Z"), ("c2", "a", "ok", "1.0.0", "2026-10-06T00:00:00Z")])
    r2 = R.retired_usage(t2, G, "toxicity", grace_days=7, now="2026-11-23T00:00:00Z")
    assert list(zip(r2["in_force"], r2["judgements"], r2["future"])) == [("1.1.0", 1, 0), ("2.0.0", 1, 1)]
    sentence = R.findings(pd.DataFrame(), pd.DataFrame(), r2, pd.DataFrame(), {"ok": True})[0]
    assert sentence == ("2 judgements were made under a retired version (1.0.0) after the grace period. 1 of them is "
                        "dated in the future: a bad timestamp more likely than an old guideline (see the validation "
                        "report).", True)


def test_proposals_and_log_status() -> None:
    props = R.proposals_table(REPO / "guidelines", "toxicity")
    assert dict(zip(props["id"], props["state"])) == {
        "toxicity-1.0.0-first-release": "released", "toxicity-1.1.0-self-promotion": "released",
        "toxicity-2026-10-02-split-hate": "rejected", "toxicity-2.0.0-insult-and-spam": "released",
        "toxicity-2026-11-02-sarcasm-about-work": "open", "toxicity-2026-11-09-threat-label": "open"}
    log = R.log_status(REPO / "guidelines")
    assert log["ok"] and log["actions"] == {"govern": 1, "propose": 6, "approve": 10, "release": 3, "reject": 1,
                                            "adjudicate": 1, "gold_edit": 1}
    assert log["text"].startswith("decisions.jsonl: intact, 23 entries")  # no machine path


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

    import shutil

    from labkit.guidelines.proposals import new_proposal

    if not (REPO / "sample" / "labels.csv").exists():
        pytest.skip("the bundled sample is not generated")
    groot = tmp_path / "guidelines"
    shutil.copytree(REPO / "guidelines", groot)
    hostile = '<script>alert("x")</script> & <b>bold</b>'  # text from data must arrive escaped
    new_proposal(task="toxicity", base_version="2.0.0", author="g-qa-2", title=hostile, rationale=hostile,
                 changes=[{"op": "add_edge_case", "label": "spam", "proposed": hostile}], root=groot,
                 created_at="2026-11-20T00:00:00Z", proposal_id="toxicity-hostile")
    cfg = tmp_path / "reports.yaml"
    cfg.write_text(
        "out: out\ntimeout: 300\nreports:\n  governance_report:\n"
        f"    notebook: {NB}\n    parameters:\n"
        f"      labels: {REPO / 'sample' / 'label_studio_export.json'}:{REPO / 'sample' / 'labels.csv'}\n"
        f"      gold: {REPO / 'sample' / 'gold.csv'}\n      guidelines: {groot}\n      n_boot: 50\n",
        encoding="utf-8")
    r = run_reports(load_config(cfg))["runs"][0]
    assert r["status"] == "ok", r
    folder = Path(r["folder"])
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert external_references(page) == []
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))["metrics"]
    assert metrics["log_ok"] is True and metrics["versions"] == 3 and metrics["open_proposals"] == 3
    assert "<script>alert" not in page and "<b>bold" not in page
    assert '&lt;script&gt;alert("x")&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;' in page  # quotes in text nodes are safe
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
