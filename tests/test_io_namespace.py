"""Issue 14 import defects: ids colliding across sources, Label Studio configs, labels kept exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from labkit.cli import main
from labkit.errors import InputRefused
from labkit.io import import_file


def project(path: Path, labels: list[str]) -> Path:
    """A Label Studio project export whose task ids and annotator ids start at 1 (as every project's do)."""
    tasks = [{"id": i, "data": {"text": f"text {i}"},
              "annotations": [{"id": 10 * i + a, "completed_by": a,
                               "result": [{"from_name": "sentiment", "to_name": "text", "type": "choices",
                                           "value": {"choices": [labels[(i + a) % len(labels)]]}}]} for a in (1, 2)]}
             for i in (1, 2, 3)]
    path.write_text(json.dumps(tasks), encoding="utf-8")
    return path


def summary(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_two_projects_with_the_same_ids_do_not_merge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = project(tmp_path / "proj-a.json", ["Positive", "Negative"])
    b = project(tmp_path / "proj-b.json", ["Negative", "Positive"])
    out = tmp_path / "labels.parquet"
    s = summary(capsys, "import", str(a), str(b), "--out", str(out))
    assert (s["judgements"], s["items"], s["annotators"]) == (12, 6, 4)  # before: 3 items, 2 annotators, duplicates
    assert any(n.startswith("6 (item, annotator, task) key(s) occur in more than one source: the sources' ids were "
                            f"prefixed with their file names ({a} -> proj-a:, {b} -> proj-b:)") for n in s["notes"])
    t = pd.read_parquet(out)
    assert sorted(set(t["item_id"].astype(str))) == ["proj-a:1", "proj-a:2", "proj-a:3", "proj-b:1", "proj-b:2", "proj-b:3"]
    assert not t.duplicated(["item_id", "annotator_id", "task"]).any()
    # chosen namespaces, both spellings
    s = summary(capsys, "import", f"{a}=north", f"{b}=south", "--out", str(out))
    assert sorted(set(pd.read_parquet(out)["annotator_id"].astype(str))) == ["north:1", "north:2", "south:1", "south:2"]
    assert f"{a}: ids prefixed with 'north:' (namespace)" in s["notes"]
    summary(capsys, "import", str(a), str(b), "--namespace", "n,s", "--out", str(out))
    assert sorted(set(pd.read_parquet(out)["item_id"].astype(str)))[0] == "n:1"
    # on purpose: the same ids, kept
    s = summary(capsys, "import", str(a), str(b), "--no-namespace", "--out", str(out))
    assert s["items"] == 3 and not any("prefixed" in n for n in s["notes"])
    assert main(["import", str(a), str(b), "--namespace", "only-one", "--out", str(out)]) == 2
    assert "--namespace lists 1 namespace(s) for 2 source(s)" in capsys.readouterr().err


def test_a_label_studio_config_is_recognised(tmp_path: Path) -> None:
    xml = tmp_path / "config.xml"
    xml.write_text('<View>\n  <Text name="text" value="$text"/>\n  <Choices name="s" toName="text">'
                   '<Choice value="Positive"/></Choices>\n</View>\n', encoding="utf-8")
    js = tmp_path / "config.json"
    js.write_text(json.dumps({"sentiment": {"type": "Choices", "to_name": ["text"],
                                            "inputs": [{"type": "Text", "value": "text"}], "labels": ["Positive"]}}))
    hint = (", not an export of annotations: in Label Studio open the project, choose Export and JSON (or JSON-MIN/CSV), "
            "and import that file")
    with pytest.raises(InputRefused) as e:
        import_file(xml)
    assert str(e.value) == f"{xml}: is a Label Studio labeling config (XML <View>){hint}"
    with pytest.raises(InputRefused) as e:
        import_file(js)
    assert str(e.value) == f"{js}: is a Label Studio labeling config (JSON){hint}"  # was: no line is a valid JSON object


def test_labels_are_kept_byte_exact(tmp_path: Path) -> None:
    f = tmp_path / "export.json"
    f.write_text(json.dumps([{"id": 1, "data": {"text": "x"}, "annotations": [
        {"id": 1, "completed_by": 1, "result": [{"from_name": "s", "to_name": "text", "type": "choices",
                                                 "value": {"choices": ["Positive\n"]}}]},
        {"id": 2, "completed_by": 2, "result": [{"from_name": "s", "to_name": "text", "type": "choices",
                                                 "value": {"choices": ["Positive"]}}]},
        {"id": 3, "completed_by": 3, "result": [{"from_name": "s", "to_name": "text", "type": "choices",
                                                 "value": {"choices": ["  "]}}]}]}]))
    r = import_file(f)
    assert r.table["label"].astype(str).tolist() == ["Positive\n", "Positive"]  # two labels, not one
    assert r.records_in == r.accepted + r.quarantined
    out = tmp_path / "labels.parquet"
    assert main(["import", str(f), "--out", str(out)]) == 0
    assert sorted(pd.read_parquet(out)["label"].astype(str)) == ["Positive", "Positive\n"]  # survives the round trip
