"""A public crowd dataset (Snow et al. 2008, word senses of "president") through a release that merges
two labels, then ``labkit migrate`` on its 1770 real judgements.

Label names here are numbers (``1``, ``2``, ``3``), as in many real exports: YAML reads them as
integers, and the whole chain (proposal, release, migration map, migrate) must treat them as text.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from labkit.cli import main
from labkit.guidelines import log as dlog
from labkit.guidelines.model import Guidelines

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "public" / "snow2008_wsd"

FIRST = """\
task: wsd
base_version: null
author: g-qa-1
created_at: "2026-09-01T09:00:00Z"
title: Senses of "president" as in the OntoNotes inventory
rationale: The three senses annotators were asked to choose from in Snow et al. (2008).
changes:
  - op: add_label
    label: {name: 1, definition: "Sense 1 of 'president' in the OntoNotes sense inventory."}
  - op: add_label
    label: {name: 2, definition: "Sense 2 of 'president' in the OntoNotes sense inventory."}
  - op: add_label
    label: {name: 3, definition: "Sense 3 of 'president' in the OntoNotes sense inventory."}
  - op: edit_decision_tree
    proposed: {question: "Which sense?", one: {label: 1}, two: {label: 2}, three: {label: 3}}
"""

MERGE = """\
id: wsd-merge-2-into-3
task: wsd
base_version: 1.0.0
author: g-qa-1
created_at: "2026-10-01T09:00:00Z"
title: Merge the rare sense 2 into sense 3
rationale: Sense 2 is 2% of the judgements and 2 of 177 gold items; annotators cannot tell it from 3.
changes:
  - op: merge_labels
    labels: [2, 3]
    into: 3
  - op: edit_decision_tree
    proposed: {question: "Which sense?", one: {label: 1}, other: {label: 3}}
"""


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    code = main([*argv, "--json"])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0, out
    return json.loads(out[-1])


@pytest.fixture()
def released(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """wsd 1.0.0 and 2.0.0 released through the CLI under the sample's governance.yaml."""
    root = tmp_path / "guidelines"
    root.mkdir()
    shutil.copy(REPO / "guidelines" / "governance.yaml", root / "governance.yaml")
    g = ["--guidelines", str(root)]
    for draft, approvers, at in ((FIRST, ("g-lead-1", "g-expert-1", "g-expert-2"), "2026-09-07T00:00:00Z"),
                                 (MERGE, ("g-lead-1", "g-expert-1", "g-expert-2"), "2026-10-05T00:00:00Z")):
        f = tmp_path / "draft.yaml"
        f.write_text(draft, encoding="utf-8")
        filed = cli(capsys, "guidelines", "propose", str(f), *g)["filed"][0]
        assert filed["kind"] == "major"
        for who in approvers:
            cli(capsys, "guidelines", "approve", filed["id"], "--as", who, "--at", at, *g)
        cli(capsys, "guidelines", "release", filed["id"], "--as", "g-lead-1", "--at", at, *g)
    return root


def test_release_of_a_merge_with_numeric_label_names(released: Path, capsys: pytest.CaptureFixture[str]) -> None:
    v1, v2 = Guidelines.load(released).versions("wsd")
    assert (v1.version, v1.label_names) == ("1.0.0", ("1", "2", "3"))
    assert (v2.version, v2.label_names, v2.change_kind) == ("2.0.0", ("1", "3"), "major")
    assert v2.migration == {"from": "1.0.0", "map": {"1": "1", "2": "3", "3": "3"}}
    d = cli(capsys, "guidelines", "diff", "wsd", "1.0.0", "2.0.0", "--guidelines", str(released))
    assert d["merged"] == [{"from": ["2", "3"], "into": "3", "how": "declared"}]
    assert d["reasons"] == ["2 merged into 3"]
    v = dlog.verify(released)
    assert v.ok and v.anchors_checked == ["wsd 1.0.0", "wsd 2.0.0"], str(v)
    assert [e["action"] for e in dlog.read(released)] == ["govern", "propose"] + ["approve"] * 3 + ["release"] + \
        ["propose"] + ["approve"] * 3 + ["release"]


def test_migrate_the_public_judgements(released: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = pd.read_csv(DATA / "long.csv", dtype=str)
    assert len(raw) == 1770 and raw["label"].value_counts().to_dict() == {"1": 1288, "3": 442, "2": 40}
    labels = raw.assign(task="wsd", guideline_version="1.0.0")
    src = tmp_path / "wsd_labels.csv"
    labels.to_csv(src, index=False)
    out = tmp_path / "migrated.parquet"
    r = cli(capsys, "migrate", str(src), "--to", "2.0.0", "--out", str(out), "--guidelines", str(released))
    c = r["counts"]
    # no worker gave one item both 2 and 3 (checked on the raw file), so nothing collapses
    both = raw.groupby(["item_id", "annotator_id"])["label"].agg(lambda s: {"2", "3"} <= set(s)).sum()
    assert both == 0
    assert c == {"already_current": 0, "carried": 1288 + 442, "mapped": 40, "collapsed": 0, "flagged": 0,
                 "other_task": 0, "total": 1770}
    assert sum(v for k, v in c.items() if k != "total") == c["total"]
    migrated = pd.read_parquet(out)
    assert len(migrated) == 1770 and set(migrated["guideline_version"].astype(str)) == {"2.0.0"}
    assert migrated["label"].astype(str).value_counts().to_dict() == {"1": 1288, "3": 482}
    # accuracy against the expert labels, merged the same way, computed here without labkit
    gold = pd.read_csv(DATA / "gold.csv", dtype=str)
    before = raw.merge(gold, on="item_id")
    assert (before["label"] == before["gold"]).mean() == pytest.approx(1738 / 1770)
    after = migrated[["item_id", "annotator_id", "label"]].astype(str).merge(gold.replace({"gold": {"2": "3"}}), on="item_id")
    assert (after["label"] == after["gold"]).mean() == pytest.approx(1746 / 1770)
    relabel = pd.read_csv(tmp_path / "migrated.relabel.csv")
    assert len(relabel) == 0


def test_labels_under_the_merged_away_name_are_flagged_not_dropped(released: Path, tmp_path: Path) -> None:
    """Rows that say they were made under 2.0.0 with label 2 (which 2.0.0 no longer has) are flagged."""
    from labkit.guidelines.migrate import migrate_labels
    from labkit.schema import conform_labels

    raw = pd.read_csv(DATA / "long.csv", dtype=str).head(200)
    t = raw.assign(task="wsd", guideline_version=["2.0.0" if lab == "2" else "1.0.0" for lab in raw["label"]])
    res = migrate_labels(conform_labels(t).table, Guidelines.load(released), "2.0.0", task="wsd")
    n2 = int((raw["label"] == "2").sum())
    assert n2 > 0
    assert res.counts["flagged"] == n2 and res.by_reason == {"label 2 is not in version 2.0.0": n2}
    assert res.counts["total"] == 200 == len(res.table) + len(res.relabel)
