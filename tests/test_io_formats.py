"""Label Studio, Prodigy and Argilla importers on real-shaped exports (tests/data/io), plus sniffing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from labkit.errors import InputRefused
from labkit.io import detect_format, import_file, write_result

DATA = Path(__file__).parent / "data" / "io"
LS = DATA / "label_studio_export.json"
LS_MULTI = DATA / "label_studio_multi.json"
PRODIGY = DATA / "prodigy_textcat.jsonl"
ARGILLA = DATA / "argilla_records.json"
SUPPORTED = "(labkit imports choices, rating, taxonomy)"


def rows(table: pd.DataFrame, *cols: str) -> list[tuple]:
    return [tuple(None if pd.isna(v) else (v if isinstance(v, float) else str(v)) for v in r)
            for r in table[list(cols)].itertuples(index=False)]


def q_rows(result) -> list[tuple]:
    return [(r.record, None if pd.isna(r.field) else r.field, r.reason) for r in result.quarantine.itertuples(index=False)]


@pytest.mark.parametrize("path, fmt", [(LS, "label-studio"), (LS_MULTI, "label-studio"), (PRODIGY, "prodigy"),
                                       (ARGILLA, "argilla")])
def test_sniffing_picks_the_importer(path, fmt):
    assert detect_format(str(path)) == fmt


# ------------------------------------------------------------------------------------------ Label Studio


def test_label_studio_judgements():
    r = import_file(LS)
    assert (r.records_in, r.accepted, r.quarantined) == (10, 6, 4)
    assert r.skipped == {"was_cancelled": 1, "unannotated": 1}
    assert rows(r.table, "item_id", "annotator_id", "task", "label", "source", "duration_s", "confidence", "slice") == [
        ("c-1", "114", "toxicity", "insult", "human", 12.5, 0.9, "forum"),   # completed_by object -> its id
        ("c-1", "114", "toxicity", "threat", "human", 12.5, 0.9, "forum"),   # multiple choices -> two rows
        ("c-1", "131", "toxicity", "insult", "human", 4.25, None, "forum"),  # completed_by int
        ("c-1", "toxi-clf-3", "toxicity", "insult", "model", None, 0.79, "forum"),  # prediction
        ("102", "131", "toxicity", "ok", "human", 2.0, None, "reviews"),     # task id when data has no id
    ]
    assert r.table["created_at"].iloc[0] == pd.Timestamp("2026-09-07 10:00:00", tz="UTC")
    assert r.table["guideline_version"].astype(str).tolist()[:4] == ["1.1.0"] * 4


def test_label_studio_quarantine_and_gold():
    r = import_file(LS)
    assert q_rows(r) == [
        ("$[0].annotations[1].result[1]", "result.type", f"result type 'textarea' is not supported yet {SUPPORTED}"),
        ("$[2].annotations[0].result[0]", "result.type", f"result type 'rectanglelabels' is not supported yet {SUPPORTED}"),
        ("$[2].annotations[0].result[1]", "result.type", f"result type 'labels' is not supported yet {SUPPORTED}"),
        ("$[1].annotations[1].result[0]", "created_at",
         "created_at is not a timestamp (ISO 8601 or epoch) (value 'not a date')"),
    ]
    assert rows(r.gold, "item_id", "task", "label", "guideline_version", "decided_by") == [
        ("c-1", "toxicity", "insult", "1.1.0", "114")]
    assert r.notes == ["1 extra gold label(s) on items that already had one: the first gold label per item and "
                       "task is kept in the gold table (all stay judgements)"]


def test_label_studio_never_stores_emails(tmp_path):
    r = import_file(LS)
    out = tmp_path / "ls.parquet"
    write_result(r, out)
    for f in tmp_path.iterdir():
        data = f.read_bytes()
        assert b"@example.org" not in data, f.name


def test_label_studio_rating_taxonomy_several_controls():
    r = import_file(LS_MULTI)
    assert (r.records_in, r.accepted, r.quarantined) == (4, 4, 0)
    assert rows(r.table, "task", "label", "annotator_id", "source", "confidence") == [
        ("quality", "4", "3", "human", None),
        ("species", "Animals/Birds/Bluebird", "3", "human", None),
        ("species", "Animals/Birds", "3", "human", None),
        ("flags", "blurry", "3", "human", None),
        ("species", "Animals/Birds/Jay", "bird-net-1", "model", 0.55),  # the result's own score wins
    ]
    assert r.table["created_at"].iloc[0] == pd.Timestamp("2026-09-09 07:00:00", tz="UTC")  # +02:00 -> UTC
    assert r.notes == ["several controls (flags, quality, species): each is its own task"]


def test_label_studio_task_option_single_control(tmp_path):
    r = import_file(LS, task="tox")
    assert set(r.table["task"].astype(str)) == {"tox"}


@pytest.mark.parametrize("cut", [3, 100, 2000])
def test_truncated_json_refused(tmp_path, cut):
    data = LS.read_bytes()[:-cut]
    src = tmp_path / "export.json"
    src.write_bytes(data)
    with pytest.raises(InputRefused, match=r"is truncated JSON \(the document ends before it is complete\)"):
        import_file(src)


def test_label_studio_not_a_list_refused(tmp_path):
    src = tmp_path / "x.json"
    src.write_text(json.dumps({"tasks": 3}))
    with pytest.raises(InputRefused) as err:
        import_file(src, format="label-studio")
    assert str(err.value) == f"{src}: a Label Studio JSON export is a list of tasks; this file holds a JSON dict"
    src.write_text("[]")
    with pytest.raises(InputRefused) as err:
        import_file(src, format="label-studio")
    assert str(err.value) == f"{src}: the export holds no tasks"


def test_label_studio_sample_counts():
    sample = Path(__file__).parents[1] / "sample" / "label_studio_export.json"
    planted = Path(__file__).parents[1] / "sample" / "planted.json"
    if not sample.exists():
        pytest.skip("bundled sample not generated")
    meta = json.loads(planted.read_text())["files"]["label_studio_export.json"]
    r = import_file(sample)
    assert len(r.table) == meta["judgements"]
    assert r.skipped == {"was_cancelled": meta["cancelled_annotations"]}
    assert r.table["item_id"].nunique() == meta["tasks"]
    assert r.quarantined == 0


# ------------------------------------------------------------------------------------------ Prodigy


def test_prodigy():
    r = import_file(PRODIGY)
    assert (r.records_in, r.accepted, r.quarantined) == (8, 5, 3)
    assert r.skipped == {"ignore": 1, "reject": 1}
    assert rows(r.table, "item_id", "annotator_id", "label", "slice") == [
        ("1148373712", "tox-alice", "toxic", None),      # binary accept, _input_hash as item id
        ("905123001", "tox-alice", "not:toxic", None),   # binary reject -> not:<label>
        ("item-3", "tox-bob", "toxic", "forum"),         # choice view: one row per accepted option
        ("item-3", "tox-bob", "insult", "forum"),
    ]
    assert r.table["created_at"].iloc[0] == pd.Timestamp("2026-09-07 10:00:00", tz="UTC")  # _timestamp 1788775200
    assert q_rows(r) == [
        (5, None, "broken JSON line: Unterminated string (column 54)"),
        (6, "spans", "span annotations (NER, ner_manual) are not supported yet (labkit imports binary label and "
                     "choice answers)"),
        (7, "_annotator_id", "no annotator (_annotator_id or _session_id)"),
    ]
    assert r.quarantine["original"].iloc[0] == '{"text": "broken line", "_input_hash": 55, "answer": "acc'


# ------------------------------------------------------------------------------------------ Argilla


def test_argilla_nested_records():
    r = import_file(ARGILLA)
    assert (r.records_in, r.accepted, r.quarantined) == (8, 7, 1)
    assert r.skipped == {"discarded": 1, "draft": 1, "unannotated": 1}
    u1 = "9b3f0c1e-aaaa-4bbb-8ccc-000000000001"
    assert rows(r.table, "item_id", "annotator_id", "task", "label", "source", "confidence", "slice") == [
        ("rec-1", u1, "toxicity", "toxic", "human", None, "social"),
        ("rec-1", u1, "categories", "insult", "human", None, "social"),
        ("rec-1", u1, "categories", "threat", "human", None, "social"),
        ("rec-1", "tox-clf-v2", "toxicity", "toxic", "model", 0.91, "social"),
        ("rec-1", "tox-clf-v2", "categories", "insult", "model", 0.7, "social"),
        ("rec-1", "tox-clf-v2", "categories", "threat", "model", 0.2, "social"),
    ]
    assert set(r.table["guideline_version"].astype(str)) == {"1.1.0"}
    assert q_rows(r) == [("$[1].responses.toxicity[0]", "responses.toxicity[0].value",
                          "span answers are not supported yet (labkit imports label, multi-label and rating answers)")]


def test_argilla_flat_jsonl_with_a_broken_line(tmp_path):
    recs = [
        {"id": "a", "text": "hello", "label.responses": ["pos", "neg"], "label.responses.users": ["u1", "u2"],
         "label.responses.status": ["submitted", "submitted"], "label.suggestion": "pos",
         "label.suggestion.score": 0.8, "label.suggestion.agent": "m1"},
        {"id": "b", "text": "bye", "label.responses": ["neg"], "label.responses.users": ["u1"],
         "label.responses.status": ["discarded"]},
    ]
    src = tmp_path / "records.jsonl"
    src.write_text(json.dumps(recs[0]) + "\n" + '{"id": "c", "label.responses": [\n' + json.dumps(recs[1]) + "\n")
    assert detect_format(str(src)) == "argilla"
    r = import_file(src, task="sentiment")
    assert (r.records_in, r.accepted, r.quarantined) == (5, 4, 1)
    assert r.skipped == {"discarded": 1}
    assert rows(r.table, "item_id", "annotator_id", "task", "label", "source", "confidence") == [
        ("a", "u1", "sentiment", "pos", "human", None),
        ("a", "u2", "sentiment", "neg", "human", None),
        ("a", "m1", "sentiment", "pos", "model", 0.8),
    ]
    assert q_rows(r) == [(2, None, "broken JSON line: Expecting value (column 33)")]
    assert r.quarantine["record"].tolist() == [2]


def test_argilla_list_shaped_responses(tmp_path):
    rec = {"id": "x1", "fields": {"text": "t"},
           "responses": [{"question_name": "rating", "value": 4, "user_id": "u9", "status": "submitted"}],
           "suggestions": [{"question_name": "rating", "value": 3, "score": 0.4, "agent": "m"}]}
    src = tmp_path / "a.json"
    src.write_text(json.dumps([rec]))
    r = import_file(src, format="argilla")
    assert rows(r.table, "annotator_id", "task", "label", "source", "confidence") == [
        ("u9", "rating", "4", "human", None), ("m", "rating", "3", "model", 0.4)]


def test_explicit_format_still_refuses_error_bodies(tmp_path):
    src = tmp_path / "a.json"
    src.write_text('{"error": "Forbidden", "status": 403}')
    for fmt in ("argilla", "label-studio", "jsonl"):
        with pytest.raises(InputRefused) as err:
            import_file(src, format=fmt)
        assert str(err.value) == f'{src}: is an API error response, not a label export: "Forbidden"'


def test_copy_keeps_format_by_content_not_name(tmp_path):
    dst = tmp_path / "export.txt"
    shutil.copy(PRODIGY, dst)
    assert detect_format(str(dst)) == "prodigy"
