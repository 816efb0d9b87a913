"""Labels made under older guideline versions are scored in the gold's terms everywhere gold is read.

The attack: an annotator who said ``offensive`` under 1.1.0 on an item gold (decided under 2.0.0) calls
``insult`` agreed with gold; 2.0.0 renamed the label. Spot checks, scores, credentials and the automation audit
must not count that as an error, and the consensus must not treat ``offensive`` and ``insult`` as two labels.
The oracle below is written from the sample guidelines' own text (guidelines/toxicity/*.yaml), independently
of :mod:`labkit.guidelines.migrate`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from labkit.guidelines.migrate import in_common_terms, load_in_common_terms
from labkit.guidelines.model import Guidelines
from labkit.io import load_labels
from labkit.schema import read_gold

ROOT = Path(__file__).resolve().parents[1]
LABELS = f"{ROOT / 'sample' / 'label_studio_export.json'}:{ROOT / 'sample' / 'labels.csv'}"
GOLD = str(ROOT / "sample" / "gold.csv")
GUIDE = str(ROOT / "guidelines")
# the label sets of each version and 2.0.0's migration map, as the guideline files state them
DEFINED = {"1.0.0": {"ok", "offensive", "hate", "spam"},
           "1.1.0": {"ok", "offensive", "hate", "spam", "self_promotion"},
           "2.0.0": {"ok", "insult", "hate", "spam"}}
TO_2 = {"ok": "ok", "offensive": "insult", "hate": "hate", "spam": "spam", "self_promotion": "spam"}


def _oracle(table: pd.DataFrame) -> pd.DataFrame:
    """Each row's label in 2.0.0's terms, or None when its own version does not define it."""
    ver = table["guideline_version"].astype(str)
    lab = table["label"].astype(str)
    out = [None if la not in DEFINED[v] else (la if v == "2.0.0" else TO_2[la]) for v, la in zip(ver, lab)]
    return table.assign(in_2=out)


def _human_on_gold(table: pd.DataFrame, gold: pd.DataFrame, stages: tuple[str, ...] = ("label",)) -> pd.DataFrame:
    h = table[table["stage"].astype(str).isin(stages) & (table["source"].astype(str) == "human")]
    g = gold.assign(item_id=gold["item_id"].astype(str), task=gold["task"].astype(str))[["item_id", "task", "label"]]
    h = h.assign(item_id=h["item_id"].astype(str), task=h["task"].astype(str), annotator_id=h["annotator_id"].astype(str))
    return h.merge(g, on=["item_id", "task"], suffixes=("", "_gold"))


def test_in_common_terms_carries_to_gold_version_and_loses_nothing_silently() -> None:
    table, gold = load_labels(LABELS), read_gold(GOLD)
    out, notes = in_common_terms(table, gold, Guidelines.load(GUIDE))
    ref = _oracle(table)
    assert set(out["label"].astype(str)) == DEFINED["2.0.0"]
    left = int(ref["in_2"].isna().sum())
    assert left == 9 and len(out) == len(table) - left       # in = kept + left out, and the note counts them
    assert notes[-1].startswith(f"{left} judgements cannot be compared with gold and are left out")
    # row by row, the carried label is the guideline's own mapping
    kept = ref[ref["in_2"].notna()]
    key = ["item_id", "task", "annotator_id", "stage", "source", "created_at"]
    want = sorted(zip(*(kept[k].astype(str) for k in key), kept["in_2"]))
    got = sorted(zip(*(out[k].astype(str) for k in key), out["label"].astype(str)))
    assert got == want


def test_without_gold_the_newest_version_is_used() -> None:
    table = load_labels(LABELS)
    out, notes = in_common_terms(table, None, Guidelines.load(GUIDE))
    assert set(out["label"].astype(str)) == DEFINED["2.0.0"]
    assert notes[0].startswith("No gold names a guideline version for this task, so judgements are compared in the "
                               "newest's terms, 2.0.0; ")
    assert notes[1].startswith("9 judgements cannot be carried to 2.0.0 and are left out")
    same, said = in_common_terms(table, None, None)   # no guidelines: as recorded
    assert same is table and said == []


def test_spot_checks_do_not_count_a_rename_as_an_error(tmp_path, capsys) -> None:
    from labkit.cli import main

    table, gold = load_labels(LABELS), read_gold(GOLD)
    ref = _human_on_gold(_oracle(table), gold)
    ref = ref[ref["in_2"].notna()]
    want = (ref["in_2"] != ref["label_gold"].astype(str)).groupby(ref["annotator_id"]).sum()
    raw = _human_on_gold(table, gold)
    raw_wrong = (raw["label"].astype(str) != raw["label_gold"].astype(str)).groupby(raw["annotator_id"]).sum()
    assert (raw_wrong - want.reindex(raw_wrong.index, fill_value=0)).sum() > 100   # what the rename used to cost

    for flag, expect in (([], raw_wrong), (["--guidelines", GUIDE], want)):
        out = tmp_path / f"status{len(flag)}.csv"
        assert main(["review", "audit", LABELS, "--gold", GOLD, "--out", str(out), "--json", *flag]) == 0
        st = pd.read_csv(out, dtype={"annotator_id": str}).set_index("annotator_id")
        assert st["n_gold_wrong"].to_dict() == expect.reindex(st.index, fill_value=0).astype(int).to_dict()
        s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        n_flag = len(s["spot_checks"]["flagged"])
        if flag:
            assert s["guideline_terms"][0].startswith("Gold is decided under guideline 2.0.0; ")
            assert n_flag < len(st) / 4, n_flag           # the sample's annotators are ~83% right, not ~52%
        else:
            assert n_flag > len(st) / 2, n_flag


def test_review_plan_queue_and_report_speak_the_gold_version() -> None:
    from labkit.review.report import build

    rep = build(LABELS, gold=GOLD, guidelines=GUIDE, budget_hours=2.0)
    ev = rep.section("Queue head with evidence").blocks[0].frame
    assert set(ev["consensus_label"].astype(str)) <= DEFINED["2.0.0"]
    notes = [b.text for b in rep.section("Errors caught against hours").blocks if hasattr(b, "text")]
    assert any(n.startswith("Gold is decided under guideline 2.0.0; ") for n in notes)
    bare = build(LABELS, gold=GOLD, budget_hours=2.0)   # without guidelines: as recorded, and it shows
    assert rep.headline["annotators_flagged"] < bare.headline["annotators_flagged"]


def test_incentive_scores_and_automation_audit_in_gold_terms() -> None:
    from labkit.automation.plan import calibration_set
    from labkit.incentives.scores import annotator_scores

    table, gold, notes = load_in_common_terms(LABELS, GOLD, GUIDE)
    assert notes and len(table) == len(load_labels(LABELS)) - 9
    # scores read every human judgement on gold, review stage included
    ref = _human_on_gold(_oracle(load_labels(LABELS)), gold, stages=("label", "review", "adjudication"))
    ref = ref[ref["in_2"].notna()]
    right = (ref["in_2"] == ref["label_gold"].astype(str)).groupby(ref["annotator_id"]).agg(["sum", "size"])
    sc = annotator_scores(table, gold).assign(annotator_id=lambda d: d["annotator_id"].astype(str))
    sc = sc.set_index("annotator_id")
    assert sc["n_gold"].to_dict() == right["size"].reindex(sc.index, fill_value=0).to_dict()
    assert sc["gold_accuracy"].to_numpy() == pytest.approx((right["sum"] / right["size"]).reindex(sc.index).to_numpy())

    # the model's pre-labels on gold items, scored in 2.0.0's terms
    mod = _oracle(load_labels(LABELS))
    mod = mod[(mod["source"].astype(str) == "model")]
    g = gold.assign(item_id=gold["item_id"].astype(str))[["item_id", "label"]]
    mod = mod.assign(item_id=mod["item_id"].astype(str)).merge(g, on="item_id", suffixes=("", "_gold"))
    cal = calibration_set(table, gold)
    assert len(cal) == len(mod) and int(cal["correct"].sum()) == int((mod["in_2"] == mod["label_gold"].astype(str)).sum())
