"""Choosing a session's items, and translating gold between guideline versions (tests/data/calibration)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from labkit.calibration.selection import changed_labels, gold_in_version, select_items, translate_gold
from labkit.errors import ParameterError
from labkit.guidelines.model import Guidelines
from labkit.io import load_labels
from labkit.schema import read_gold
from test_calibration_helpers import DATA, GUIDELINES

BEFORE = dt.datetime(2026, 9, 28, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def g():
    return Guidelines.load(GUIDELINES)


@pytest.fixture(scope="module")
def data():
    items = pd.read_csv(DATA / "items.csv", dtype=str, keep_default_na=False)
    return load_labels(str(DATA / "labels.csv")), read_gold(DATA / "gold.csv"), items


def test_changed_labels_between_versions(g):
    # read off guidelines/toxicity/*.yaml: 1.1.0 rewords offensive (sarcasm) and adds self_promotion
    # under spam; 2.0.0 renames offensive to insult and folds self_promotion back into spam
    assert changed_labels(g, g.get("toxicity", "1.0.0")) == {}
    assert changed_labels(g, g.get("toxicity", "1.1.0")) == {
        "offensive": "reworded", "self_promotion": "added", "spam": "narrowed: self_promotion added under it"}
    assert changed_labels(g, g.get("toxicity", "2.0.0")) == {
        "insult": "renamed from offensive", "offensive": "renamed to insult",
        "spam": "merged from spam, self_promotion", "self_promotion": "merged into spam",
        "ok": "reworded", "hate": "reworded"}


@pytest.mark.parametrize("label, decided, target, expected", [
    ("insult", "2.0.0", "1.1.0", ("offensive", "")),            # a rename, walked backward
    ("offensive", "1.1.0", "2.0.0", ("insult", "")),            # the same rename, forward
    ("self_promotion", "1.1.0", "2.0.0", ("spam", "")),         # merged into spam
    ("spam", "2.0.0", "1.0.0", ("spam", "")),                   # before the split there is one answer
    ("spam", "2.0.0", "1.1.0", (None, "gold 'spam' (2.0.0) could be any of spam, self_promotion in 1.1.0")),
    ("self_promotion", "1.1.0", "1.0.0", (None, "gold 'self_promotion' (1.1.0) has no counterpart in 1.0.0")),
    ("ok", "1.1.0", "1.1.0", ("ok", "")),
])
def test_gold_in_version(g, label, decided, target, expected):
    assert gold_in_version(label, decided, g, g.get("toxicity", target)) == expected


def test_translate_gold_lists_what_it_cannot_translate(g, data):
    _, gold, _ = data
    ok, skipped = translate_gold(gold, g, g.get("toxicity", "1.1.0"))
    assert ok == {"g1": "ok", "g2": "spam", "g3": "offensive", "f1": "offensive"}
    assert skipped == {"f2": "gold 'spam' (2.0.0) could be any of spam, self_promotion in 1.1.0"}


def test_scores_are_the_documented_formula(g, data):
    labels, gold, items = data
    sel = select_items(labels, gold, g, g.get("toxicity", "1.1.0"), n_gold=4, n_contested=2, before=BEFORE,
                       items=items, seed=0)
    sc = sel.scores
    # a tiny table: consensus confidence is the majority share (Dawid-Skene would be overconfident)
    assert sel.params["consensus"] == "majority_share"
    # c1: ok / offensive / spam -> disagreement 2/3, confidence 1/3, touches offensive and spam
    assert sc.loc["c1", "disagreement"] == pytest.approx(2 / 3)
    assert sc.loc["c1", "consensus_confidence"] == pytest.approx(1 / 3)
    assert sc.loc["c1", "touched"] == "offensive, spam"
    assert sc.loc["c1", "score"] == pytest.approx(2 / 3 + 2 / 3 + 0.5)
    # c2: spam, spam, ok -> 1/3 + 1/3 + 0.5 (spam was narrowed by self_promotion)
    assert sc.loc["c2", "score"] == pytest.approx(1 / 3 + 1 / 3 + 0.5)
    # c3: all ok, nothing changed about ok in 1.1.0; the model pre-label (spam) is not counted
    assert (sc.loc["c3", "judgements"], sc.loc["c3", "score"], sc.loc["c3", "touched"]) == (3, 0.0, "")
    # labels made after the session date are not looked at (f1 has 3, not 6)
    assert sc.loc["f1", "judgements"] == 3
    assert sel.params["gold_taken"] == 4 and sel.params["contested_taken"] == 2
    assert sel.params["gold_not_translatable"] == 1


def test_selection_mix_reasons_and_seed(g, data):
    labels, gold, items = data
    v = g.get("toxicity", "1.1.0")
    sel = select_items(labels, gold, g, v, n_gold=4, n_contested=2, before=BEFORE, items=items, seed=0)
    by_id = {it.item_id: it for it in sel.items}
    gold_ids = {i for i, it in by_id.items() if it.gold is not None}
    contested = set(by_id) - gold_ids
    assert gold_ids == {"g1", "g2", "g3", "f1"}
    # c1 scores highest; c2 and f2 tie (f2's gold has no single 1.1.0 label, so it counts as contested)
    assert "c1" in contested and len(contested) == 2 and contested - {"c1"} <= {"c2", "f2"}
    seconds = {next(iter({it.item_id for it in select_items(labels, gold, g, v, n_gold=0, n_contested=2,
                                                            before=BEFORE, seed=s).items} - {"c1"}))
               for s in range(8)}
    assert seconds == {"c2", "f2"}  # the tie is broken by the seed, both ways
    assert by_id["g3"].gold == "offensive"
    assert by_id["g3"].gold_rationale == "Mocks the <person> addressed. (gold decided under 2.0.0 as insult; offensive in 1.1.0)"
    assert by_id["c1"].reasons == ("disagreement 0.67 over 3 judgements", "consensus confidence 0.33",
                                   "labels changed in 1.1.0: offensive (reworded), spam (narrowed: self_promotion added under it)")
    assert by_id["c1"].text == "<script>alert('x')</script> & my channel has more" and by_id["c1"].slice == "chat"
    again = select_items(labels, gold, g, v, n_gold=4, n_contested=2, before=BEFORE, items=items, seed=0)
    assert [i.item_id for i in again.items] == [i.item_id for i in sel.items]


def test_dawid_skene_on_a_program_sized_table(g):
    # 30 items x 3 annotators: enough for Dawid-Skene; its posteriors are what the scores use
    from labkit.stats import DawidSkene

    rows = []
    for i in range(30):
        labs = ["ok", "ok", "ok"] if i % 3 else ["spam", "spam", "ok"]
        for a, lab in zip(("x", "y", "z"), labs):
            rows.append({"item_id": f"i{i:02d}", "annotator_id": a, "task": "toxicity", "label": lab,
                         "guideline_version": "1.1.0", "created_at": "2026-09-20T10:00:00Z", "source": "human",
                         "stage": "label"})
    table = load_labels_frame(rows)
    sel = select_items(table, None, g, g.get("toxicity", "1.1.0"), n_gold=0, n_contested=3, seed=1)
    assert sel.params["consensus"] == "dawid_skene"
    ds = DawidSkene().fit(table, task="toxicity").consensus_.set_index("item_id")["confidence"]
    assert sel.scores["consensus_confidence"].to_dict() == pytest.approx(
        {str(k): float(v) for k, v in ds.items()})


def load_labels_frame(rows):
    from labkit.schema import conform_labels

    return conform_labels(pd.DataFrame(rows)).table


def test_parameter_errors(g, data):
    labels, gold, _ = data
    v = g.get("toxicity", "1.1.0")
    with pytest.raises(ParameterError, match="n_gold must be a non-negative integer, got -1"):
        select_items(labels, gold, g, v, n_gold=-1)
    with pytest.raises(ParameterError, match="n_gold \\+ n_contested must be at least 1"):
        select_items(labels, gold, g, v, n_gold=0, n_contested=0)


def test_labels_without_timestamps_are_used_and_a_shortfall_is_explained(g, data):
    """Issue 14: an export without timestamps gave 0 contested items with no reason (all ignored before --date)."""
    labels, gold, items = data
    v = g.get("toxicity", "1.1.0")
    undated = labels.copy()
    undated["created_at"] = pd.Series(pd.NaT, index=undated.index, dtype=labels["created_at"].dtype)
    dated = select_items(labels, gold, g, v, n_gold=0, n_contested=2, before=BEFORE, seed=0)
    sel = select_items(undated, gold, g, v, n_gold=0, n_contested=2, before=BEFORE, seed=0)
    assert sel.params["contested_taken"] == 2 and sel.params["contested_note"] == ""
    assert sel.params["undated_labels_used"] == int(((undated["task"] == "toxicity") & (undated["source"] == "human")
                                                     & (undated["stage"] == "label")).sum()) > 0
    assert dated.params["undated_labels_used"] == 0
    few = select_items(labels, gold, g, v, n_gold=0, n_contested=2, before=BEFORE, seed=0, min_judgements=99)
    assert few.params["contested_taken"] == 0
    assert few.params["contested_note"].startswith("0 non-gold item(s) have at least 99 judgements (the most any "
                                                   "non-gold item has: ")
    early = select_items(labels, gold, g, v, n_gold=1, n_contested=2, before=dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc))
    assert early.params["contested_note"] == "no human labels of task 'toxicity' made before 2000-01-01T00:00:00+00:00"
