"""Before/after numbers, the report's data and its findings, checked by hand on tests/data/calibration."""

from __future__ import annotations

import datetime as dt
import json

import krippendorff
import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from labkit.calibration import CalibrationSession, Participant, SessionItem, SessionSpec
from labkit.calibration.report import diff_in_diff, report_data
from labkit.calibration.summary import before_after
from labkit.guidelines.model import Guidelines
from test_calibration_helpers import DATA, GUIDELINES, T0


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


@pytest.fixture
def session(tmp_path, monkeypatch):
    """Items g1, g2, g3, c1 on 2026-09-28; a1 and a2 answer; o1 (in the labels) did not take part."""
    monkeypatch.setenv("LABKIT_PSEUDONYM_KEY", "test-key")
    g = Guidelines.load(GUIDELINES)
    items = [SessionItem("g1", gold="ok"), SessionItem("g2", gold="spam"), SessionItem("g3", gold="offensive"),
             SessionItem("c1")]
    spec = SessionSpec(id="cal-fu", task="toxicity", guideline=g.get("toxicity", "1.1.0"), items=items,
                       participants=[Participant("f", "facilitator"), Participant("a1"), Participant("a2")],
                       scheduled_at=T0, file_proposals=False,
                       sources={"labels": str(DATA / "labels.csv"), "gold": str(DATA / "gold.csv"),
                                "guidelines": str(GUIDELINES)})
    s = CalibrationSession.create(tmp_path / "s", spec)
    blind = {"a1": ["ok", "spam", "ok", "spam"], "a2": ["ok", "ok", "ok", "offensive"]}
    final = {"a1": ["ok", "spam", "offensive", "spam"], "a2": ["ok", "spam", "offensive", "spam"]}
    for p, labs in blind.items():
        for it, lab in zip(items, labs):
            s.submit_answer(p, it.item_id, lab, at=at(1))
    s.advance("f", at=at(10))
    s.propose_clarification("a2", "g3", "offensive", "Sarcasm at the poster is offensive.", "we split", at=at(12))
    s.advance("f", at=at(20))
    s.decide("f", "c1", "spam", at=at(21))
    for p, labs in final.items():
        for it, lab in zip(items, labs):
            s.submit_answer(p, it.item_id, lab, at=at(25))
    s.advance("f", "closed", at=at(40))
    return s


def wilson(k, n):
    return tuple(proportion_confint(k, n, alpha=0.05, method="wilson"))


def test_session_items_before_after(session):
    ba = json.loads((session.folder / "before_after.json").read_text())
    acc = {(r["participant"], r["when"]): r for r in ba["session_items"]["accuracy"]}
    # references: g1 ok, g2 spam, g3 offensive (gold), c1 spam (the facilitator's decision)
    assert (acc[("a1", "before")]["correct"], acc[("a1", "before")]["n"]) == (3, 4)  # g3 wrong
    assert (acc[("a2", "before")]["correct"], acc[("a2", "before")]["n"]) == (1, 4)
    assert (acc[("a1", "after")]["correct"], acc[("a2", "after")]["correct"]) == (4, 4)
    assert (acc[("a2", "before")]["ci_low"], acc[("a2", "before")]["ci_high"]) == pytest.approx(wilson(1, 4))
    alpha = {r["when"]: r for r in ba["session_items"]["agreement"]}
    codes = {"ok": 0, "offensive": 1, "spam": 2}
    rel = np.array([[codes[x] for x in ["ok", "spam", "ok", "spam"]], [codes[x] for x in ["ok", "ok", "ok", "offensive"]]])
    assert alpha["before"]["alpha"] == pytest.approx(krippendorff.alpha(reliability_data=rel, level_of_measurement="nominal"))
    assert alpha["after"]["alpha"] == pytest.approx(1.0)
    assert alpha["before"]["ci_low"] <= alpha["before"]["alpha"] <= alpha["before"]["ci_high"]


def test_followup_windows_translate_gold_per_version(session):
    fu = before_after(session)["followup"]
    acc = {(r["participant"], r["when"]): (r["correct"], r["n"]) for r in fu["accuracy"]}
    # before (2026-09-14 .. 09-28, guideline 1.0.0), session items g1-g3 and c1 left out:
    #   f1 gold offensive: a1 ok (wrong), a2 offensive, o1 offensive
    #   f2 gold spam (2.0.0) is spam in 1.0.0: a1 spam, a2 spam, o1 ok (wrong)
    assert acc[("a1", "before")] == (1, 2) and acc[("a2", "before")] == (2, 2)
    assert acc[("all participants", "before")] == (3, 4) and acc[("everyone else", "before")] == (1, 2)
    # after (from the close, 14 days, guideline 1.1.0): f1 a1 offensive, a2 offensive, o1 ok (wrong);
    #   f2's gold has no single 1.1.0 label: not scored; f3 (2026-10-20) is past the window
    assert acc[("a1", "after")] == (1, 1) and acc[("a2", "after")] == (1, 1)
    assert acc[("all participants", "after")] == (2, 2) and acc[("everyone else", "after")] == (0, 1)
    assert fu["excluded_session_items"] == 4
    row = next(r for r in fu["accuracy"] if r["participant"] == "all participants" and r["when"] == "before")
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(wilson(3, 4))
    # participants' alpha before: c2 (spam, spam), c3 (ok, ok), f1 (ok, offensive), f2 (spam, spam)
    codes = {"ok": 0, "offensive": 1, "spam": 2}
    rel = np.array([[codes[x] for x in ("spam", "ok", "ok", "spam")], [codes[x] for x in ("spam", "ok", "offensive", "spam")]])
    before = next(r for r in fu["agreement"] if r["when"] == "before")
    assert before["alpha"] == pytest.approx(krippendorff.alpha(reliability_data=rel, level_of_measurement="nominal"))
    assert before["items"] == 4


def test_report_data_findings_and_pseudonyms(session):
    from labkit.privacy import pseudonym

    d = report_data(session.folder)
    p1, p2 = pseudonym("a1", b"test-key"), pseudonym("a2", b"test-key")
    assert list(d.accuracy_session["participant"]) == [p1, p2]
    row = d.accuracy_session.set_index("participant").loc[p2]
    assert (row["before"], row["after"], row["change"]) == pytest.approx((0.25, 1.0, 0.75))
    assert list(d.accuracy_followup["participant"][:2]) == ["all participants", "everyone else"]
    texts = [t for t, _ in d.findings]
    assert texts[0].startswith("On the 4 session items, group agreement (Krippendorff's alpha) went from ")
    did = (2 / 2 - 3 / 4) - (0 / 1 - 1 / 2)
    assert d.metrics["accuracy_diff_in_diff"] == pytest.approx(did)
    assert f"{did * 100:+.1f} points" in texts[1]
    assert "Participants' accuracy on gold went from 75.0% (n=4) in the 14 days before to 100.0% (n=2)" in texts[1]
    assert texts[2] == "1 clarification(s) became guideline change proposals."
    assert d.proposals.loc[0, "author"] == p2 and d.proposals.loc[0, "change"] == "reword_definition"
    assert "a1" not in d.accuracy_followup["participant"].tolist()
    r = d.ranked.set_index("item")
    assert r.loc["c1", "reference"] == "spam" and r.loc["c1", "correct (blind)"] == pytest.approx(0.5)
    assert r.loc["g3", "correct (after)"] == pytest.approx(1.0)
    assert d.metrics["session_alpha_after"] == pytest.approx(1.0)


def test_diff_in_diff_interval_by_hand():
    r = lambda c, n: {"correct": c, "n": n}  # noqa: E731
    did, lo, hi = diff_in_diff(r(60, 80), r(70, 80), r(50, 80), r(52, 80))
    se = np.sqrt(sum(p * (1 - p) / 80 for p in (0.75, 0.875, 0.625, 0.65)))
    assert did == pytest.approx(0.1) and (lo, hi) == pytest.approx((0.1 - 1.959964 * se, 0.1 + 1.959964 * se))


def test_summary_json(session):
    s = json.loads((session.folder / "summary.json").read_text())
    assert s["closed_at"] == "2026-09-28T09:40:00Z"
    assert (s["blind_answers"], s["final_answers"], s["clarifications"], s["proposals"]) == (8, 8, 1, 1)
    assert s["agreement_final"]["alpha"] == pytest.approx(1.0)
    assert [r["item_id"] for r in s["ranked_by_disagreement"]][:2] == ["g2", "c1"]  # ties keep session order


@pytest.mark.parametrize("module", ["labkit.calibration.metrics", "labkit.calibration.report"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    res = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert res.attempted > 0 and res.failed == 0
