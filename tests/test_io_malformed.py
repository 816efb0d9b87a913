"""Issue 2's malformed inputs, for the JSON-shaped importers (Label Studio, Prodigy, Argilla, JSONL).

The CSV/TSV cases are in test_io_tabular.py. Every refusal is checked with its exact message, every
quarantine with its record, field and reason, and every kept value by reading the written Parquet back.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from labkit.errors import InputRefused
from labkit.io import import_file, quarantine_path, write_result

BAD_BYTES = "bytes that are not UTF-8 in this field (shown as \\xNN in original); save the file as UTF-8"


def write(tmp_path: Path, name: str, data: bytes | str) -> str:
    p = tmp_path / name
    p.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return str(p)


def q_rows(result) -> list[tuple]:
    return [(r.record, None if pd.isna(r.field) else r.field, r.reason) for r in result.quarantine.itertuples(index=False)]


def ls_task(item: str, who, choices: list[str], text: str = "t", **ann) -> dict:
    return {"id": 1, "data": {"item_id": item, "text": text},
            "annotations": [{"completed_by": who, "result": [{"from_name": "toxicity", "to_name": "text",
                                                              "type": "choices", "value": {"choices": choices}}],
                             "created_at": "2026-09-07T10:00:00Z", "lead_time": 3.0, **ann}]}


def refused(src: str, fmt: str = "auto") -> str:
    with pytest.raises(InputRefused) as err:
        import_file(src, format=fmt)
    return str(err.value)


# ------------------------------------------------------------------------------------------ refused files


@pytest.mark.parametrize("fmt", ["auto", "label-studio", "prodigy", "argilla", "jsonl"])
def test_empty_file_refused_in_every_format(tmp_path, fmt):
    src = write(tmp_path, "export.json", b"")
    assert refused(src, fmt) == f"{src}: the file is empty"


def test_truncated_label_studio_export(tmp_path):
    # cut inside the result list: the parser wants a value at the very end of the document
    text = '[{"id": 1, "data": {"text": "a"}, "annotations": [{"completed_by": 1, "result": ['
    src = write(tmp_path, "export.json", text)
    assert refused(src, "label-studio") == (
        f"{src}: is truncated JSON (the document ends before it is complete): Expecting value (line 1, "
        f"column {len(text) + 1})")  # the end of the document
    assert refused(src) == refused(src, "label-studio")  # sniffed as Label Studio, same refusal


def test_truncated_inside_a_string_is_called_truncated(tmp_path):
    # the error position is where the string starts, not the end; it is still a truncated file
    text = '[{"id": "r1", "responses": {"label": [{"value": "tox'
    src = write(tmp_path, "records.json", text)
    assert refused(src, "argilla") == (
        f"{src}: is truncated JSON (the document ends before it is complete): Unterminated string (line 1, "
        f"column {text.index(chr(34) + 'tox') + 1})")  # where the string starts


def test_malformed_json_in_the_middle(tmp_path):
    src = write(tmp_path, "export.json", '[{"id": 1,, "annotations": []}]')
    assert refused(src, "label-studio") == (
        f"{src}: is malformed JSON: Expecting property name enclosed in double quotes (line 1, column 11)")


def test_prodigy_file_with_no_json_line(tmp_path):
    text = '{"text": "x", "_input_hash": 1, "answer": "acc'
    src = write(tmp_path, "db.jsonl", text)
    assert refused(src) == (f"{src}: no line is a JSON object, so this is not a Prodigy JSONL export (first line: "
                            f"broken JSON line: Unterminated string (column {text.index(chr(34) + 'acc') + 1}))")


@pytest.mark.parametrize("body, shown", [
    ('{"detail": "Authentication credentials were not provided."}', '"Authentication credentials were not provided."'),
    ('{"error": {"code": 401, "message": "Unauthorized"}}', '{"code": 401, "message": "Unauthorized"}'),
    ('{"errors": [{"message": "bad token"}]}', '[{"message": "bad token"}]'),
])
@pytest.mark.parametrize("fmt", ["auto", "label-studio", "prodigy", "argilla", "jsonl"])
def test_api_error_bodies_refused_in_every_format(tmp_path, body, shown, fmt):
    src = write(tmp_path, "export.json", body)
    assert refused(src, fmt) == f"{src}: is an API error response, not a label export: {shown}"


def test_html_page_without_title(tmp_path):
    src = write(tmp_path, "export.json", "<html><body>Please log in</body></html>")
    assert refused(src, "label-studio") == (
        f"{src}: is an HTML page, not a label export (an error or login page saved instead of the export?)")


@pytest.mark.parametrize("fmt, name, data, message", [
    ("jsonl", "x.jsonl", '{"item": "1", "rater": "a", "comment": "fine"}\n',
     "missing required column(s) label; found 'item', 'rater', 'comment' (labkit needs item_id, annotator_id and "
     "label, or aliases such as item/worker/answer)"),
    ("jsonl", "ls.json", json.dumps([{"id": 1, "data": {"text": "x"}, "annotations": []}]),
     "missing required column(s) item_id, annotator_id, label; found 'id', 'data', 'annotations' (labkit needs "
     "item_id, annotator_id and label, or aliases such as item/worker/answer); this looks like a Label Studio "
     "export: pass --format label-studio"),
])
def test_missing_columns_in_json_records(tmp_path, fmt, name, data, message):
    src = write(tmp_path, name, data)
    assert refused(src, fmt) == f"{src}: {message}"


def test_missing_columns_in_parquet(tmp_path):
    src = tmp_path / "x.parquet"
    pd.DataFrame({"item_id": ["1"], "who": ["a"], "label": ["x"]}).to_parquet(src)
    assert refused(str(src)) == (f"{src}: missing required column(s) annotator_id; found 'item_id', 'who', 'label' "
                                 "(labkit needs item_id, annotator_id and label, or aliases such as item/worker/answer)")


# ------------------------------------------------------------------------------------------ BOM, CRLF


def test_bom_and_crlf_in_json_formats(tmp_path):
    ls = write(tmp_path, "ls.json", b"\xef\xbb\xbf" + json.dumps([ls_task("i1", 5, ["ok"])], indent=1)
               .replace("\n", "\r\n").encode())
    r = import_file(ls)
    assert r.format == "label-studio" and r.table["label"].astype(str).tolist() == ["ok"]
    lines = [{"text": "a", "_input_hash": 1, "label": "toxic", "answer": "accept", "_annotator_id": "bob"},
             {"text": "b", "_input_hash": 2, "label": "toxic", "answer": "reject", "_annotator_id": "bob"}]
    pg = write(tmp_path, "pg.jsonl", b"\xef\xbb\xbf" + "".join(json.dumps(x) + "\r\n" for x in lines).encode())
    r = import_file(pg)
    assert r.format == "prodigy"
    assert r.table["label"].astype(str).tolist() == ["toxic", "not:toxic"]  # no "\r" glued to anything
    assert r.table["item_id"].astype(str).tolist() == ["1", "2"]
    flat = write(tmp_path, "flat.jsonl", b'\xef\xbb\xbf{"item_id": "1", "annotator_id": "a", "label": "x"}\r\n')
    assert import_file(flat).table["item_id"].astype(str).tolist() == ["1"]


# ------------------------------------------------------------------------------------------ bytes that are not UTF-8


def test_label_studio_bytes_not_utf8_quarantine_the_result_naming_the_field(tmp_path):
    doc = json.dumps([ls_task("i1", 5, ["caf@"]), ls_task("i2", 6, ["ok"], text="na@ve"), ls_task("i3", 7, ["ok"])])
    # a Latin-1 e-acute in a label and in the (unused) text of another task
    src = write(tmp_path, "ls.json", doc.encode().replace(b"@", b"\xe9"))
    r = import_file(src)
    assert (r.records_in, r.accepted, r.quarantined) == (3, 2, 1)
    assert q_rows(r) == [("$[0].annotations[0].result[0]", "label", BAD_BYTES)]
    assert "caf\\xe9" in r.quarantine["original"].iloc[0]
    assert r.table["item_id"].astype(str).tolist() == ["i2", "i3"]  # bad bytes in a text labkit does not read: fine
    out = tmp_path / "o.parquet"
    write_result(r, out)  # the quarantine file stays valid UTF-8 JSON
    assert json.loads(quarantine_path(out).read_text(encoding="utf-8"))["field"] == "label"


def test_jsonl_and_prodigy_bytes_not_utf8_name_the_field(tmp_path):
    flat = write(tmp_path, "l.jsonl", b'{"item_id": "1", "annotator_id": "a", "label": "caf\xe9"}\n'
                                      b'{"item_id": "2", "annotator_id": "b", "label": "ok", "note": "\xff"}\n')
    r = import_file(flat)
    assert q_rows(r) == [(1, "label", BAD_BYTES)]
    assert r.quarantine["original"].iloc[0] == '{"item_id": "1", "annotator_id": "a", "label": "caf\\xe9"}'
    assert r.table["item_id"].astype(str).tolist() == ["2"]
    pg = write(tmp_path, "p.jsonl", b'{"text": "x", "_input_hash": 1, "label": "ok", "answer": "accept", '
                                    b'"_annotator_id": "j\xf6rg"}\n'
                                    b'{"text": "y", "_input_hash": 2, "label": "ok", "answer": "accept", '
                                    b'"_session_id": "ds-bob"}\n')
    r = import_file(pg)
    assert q_rows(r) == [(1, "annotator_id", BAD_BYTES)]
    assert r.table["annotator_id"].astype(str).tolist() == ["ds-bob"]  # _session_id when no _annotator_id


def test_argilla_bytes_not_utf8(tmp_path):
    rec = {"id": "r1", "fields": {"text": "x"},
           "responses": {"label": [{"value": "@", "user_id": "u1", "status": "submitted"},
                                   {"value": "ok", "user_id": "u2", "status": "submitted"}]}}
    src = write(tmp_path, "a.json", json.dumps([rec]).encode().replace(b"@", b"\xe9t\xe9"))
    r = import_file(src)
    assert q_rows(r) == [("$[0].responses.label[0]", "label", BAD_BYTES)]
    assert r.table["annotator_id"].astype(str).tolist() == ["u2"]


# ------------------------------------------------------------------------------------------ kept exactly


MARKUP = '<script>alert("x")</script> & <b>bold</b>'
SCRIPTS = "كلب 犬 собака 🐕 ñ"


def test_duplicates_markup_non_latin_and_a_1mb_label_kept_exactly(tmp_path):
    big = "ж" * (1 << 20)
    labels = [MARKUP, SCRIPTS, big]
    tasks = [ls_task(f"i{k}", 5, [lab], text=big) for k, lab in enumerate(labels)]
    tasks.append(ls_task("i0", 5, [MARKUP], text=big))  # an exact duplicate judgement
    out = tmp_path / "ls.parquet"
    r = import_file(write(tmp_path, "ls.json", json.dumps(tasks, ensure_ascii=False)))
    assert (r.records_in, r.accepted, r.quarantined) == (4, 4, 0)
    write_result(r, out)
    assert pd.read_parquet(out)["label"].astype(str).tolist() == labels + [MARKUP]

    lines = [{"text": big, "_input_hash": k, "label": lab, "answer": "accept", "_annotator_id": "a"}
             for k, lab in enumerate(labels)]
    r = import_file(write(tmp_path, "p.jsonl", "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines * 2)))
    assert r.format == "prodigy" and r.quarantined == 0
    write_result(r, out)
    assert pd.read_parquet(out)["label"].astype(str).tolist() == labels * 2

    recs = [{"id": f"r{k}", "fields": {"text": big},
             "responses": {"q": [{"value": lab, "user_id": "u", "status": "submitted"}] * 2}}
            for k, lab in enumerate(labels)]
    r = import_file(write(tmp_path, "a.json", json.dumps(recs, ensure_ascii=False)))
    assert r.format == "argilla" and r.quarantined == 0
    write_result(r, out)
    assert pd.read_parquet(out)["label"].astype(str).tolist() == [lab for lab in labels for _ in range(2)]

    flat = [{"item_id": f"i{k}", "annotator_id": SCRIPTS, "label": lab} for k, lab in enumerate(labels)]
    r = import_file(write(tmp_path, "f.jsonl", "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in flat * 2)))
    assert r.format == "jsonl" and (r.records_in, r.quarantined) == (6, 0)
    write_result(r, out)
    back = pd.read_parquet(out)
    assert back["label"].astype(str).tolist() == labels * 2
    assert set(back["annotator_id"].astype(str)) == {SCRIPTS}
