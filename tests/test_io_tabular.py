"""CSV / TSV / JSONL / Parquet importer: real-shaped files, every malformed case of issue 2."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labkit.errors import InputRefused
from labkit.io import detect_format, import_file, load_labels, quarantine_path, write_result
from labkit.schema import check_labels

HEADER = "item_id,annotator_id,task,label,guideline_version,created_at,duration_s,confidence\n"


def write(tmp_path: Path, name: str, data: bytes | str) -> str:
    p = tmp_path / name
    p.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return str(p)


def q_rows(result) -> list[tuple]:
    return [(r.record, None if pd.isna(r.field) else r.field, r.reason)
            for r in result.quarantine.itertuples(index=False)]


def test_clean_csv_typed_and_counted(tmp_path):
    src = write(tmp_path, "a.csv", HEADER
                + "i1,a1,toxicity,ok,1.0.0,2026-09-07T10:00:00Z,3.5,0.9\n"
                + "i1,a2,toxicity,insult,1.0.0,2026-09-07T10:01:00+02:00,4,\n"
                + "i2,a1,,ok,,1788775200,,0.25\n")
    r = import_file(src)
    check_labels(r.table)
    assert (r.records_in, r.accepted, r.quarantined) == (3, 3, 0)
    t = r.table
    assert list(t["label"].astype(str)) == ["ok", "insult", "ok"]
    assert list(t["task"].astype(str)) == ["toxicity", "toxicity", "default"]
    assert t["created_at"].tolist() == [pd.Timestamp("2026-09-07 10:00:00", tz="UTC"),
                                        pd.Timestamp("2026-09-07 08:01:00", tz="UTC"),
                                        pd.Timestamp("2026-09-07 10:00:00", tz="UTC")]  # epoch seconds
    assert t["duration_s"].tolist()[:2] == [3.5, 4.0] and np.isnan(t["duration_s"].iloc[2])
    assert t["confidence"].iloc[2] == 0.25
    assert t["guideline_version"].isna().tolist() == [False, False, True]


def test_ragged_rows_quarantined_with_their_line_rest_imported(tmp_path):
    src = write(tmp_path, "ragged.csv", "item_id,annotator_id,label\n"
                "1,a,x\n"
                "2,b,y,EXTRA\n"
                '3,"multi\nline",z\n'
                "4,e,w,1,2\n"
                "5,f\n"
                "6,g,v\n")
    r = import_file(src)
    assert (r.records_in, r.accepted, r.quarantined) == (6, 2, 4)
    assert list(r.table["item_id"].astype(str)) == ["1", "6"]
    # line numbers are file lines: the quoted newline pushes "4,e,w,1,2" to line 6; an id holding a line
    # break is refused (issue 15: ids ending in a newline were accepted), never stripped silently
    assert sorted(q_rows(r), key=lambda t: t[0]) == [
        (3, None, "ragged row: expected 3 fields like the header, saw 4"),
        (4, "annotator_id", "annotator_id contains a line break or control character (value 'multi\\nline')"),
        (6, None, "ragged row: expected 3 fields like the header, saw 5"),
        (7, None, "ragged row: expected 3 fields like the header, saw 2")]


def test_bom_and_crlf(tmp_path):
    src = write(tmp_path, "bom.csv", b"\xef\xbb\xbfitem_id,annotator_id,label\r\n1,a,x\r\n2,b,y\r\n")
    r = import_file(src)
    assert list(r.table.columns)[:1] == ["item_id"]
    assert list(r.table["label"].astype(str)) == ["x", "y"]  # no stray "\r"
    assert list(r.table["item_id"].astype(str)) == ["1", "2"]  # no BOM glued to the first name


def test_bytes_that_are_not_utf8_quarantine_the_row_naming_the_field(tmp_path):
    src = write(tmp_path, "latin.csv", b"item_id,worker,label\n1,a,caf\xe9\n2,b,ok\n3,c\xff,ok\n")
    r = import_file(src)
    assert (r.records_in, r.accepted, r.quarantined) == (3, 1, 2)
    reason = "bytes that are not UTF-8 in this field (shown as \\xNN in original); save the file as UTF-8"
    assert q_rows(r) == [(2, "label", reason), (4, "worker", reason)]
    assert r.quarantine["original"].tolist() == ["1,a,caf\\xe9", "3,c\\xff,ok"]
    # the quarantine file is valid UTF-8 JSON lines
    out = tmp_path / "o.parquet"
    write_result(r, out)
    lines = quarantine_path(out).read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["original"] == "1,a,caf\\xe9"


@pytest.mark.parametrize("data, message", [
    (b"", "the file is empty"),
    (b"  \n\n", "the file is empty"),
    (b"\x00\x01\x02binary\x00", "is not a text file (it holds NUL bytes: binary data, not a label export)"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "is a PNG image, not a label export"),
    (gzip.compress(b"item_id,annotator_id,label\n1,a,x\n"), "is gzip-compressed; decompress it first (gunzip)"),
    (b"\xff\xfei\x00t\x00", "is UTF-16 text; save it as UTF-8 and import again"),
    (b'{"detail": "Authentication credentials were not provided."}',
     'is an API error response, not a label export: "Authentication credentials were not provided."'),
    (b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
     "is an HTML page titled '502 Bad Gateway', not a label export (an error or login page saved instead of the export?)"),
    (b"item_id,annotator_id,label\n", "has a header but no data rows"),
    (b"item,rater,comment\n1,a,fine\n",
     "missing required column(s) label; found 'item', 'rater', 'comment' (labkit needs item_id, annotator_id and "
     "label, or aliases such as item/worker/answer)"),
])
def test_refused_with_one_clear_message(tmp_path, data, message):
    src = write(tmp_path, "export.csv", data)
    with pytest.raises(InputRefused) as err:
        import_file(src)
    assert str(err.value) == f"{src}: {message}"


def test_missing_file_refused(tmp_path):
    with pytest.raises(InputRefused, match=r"no such file$"):
        import_file(tmp_path / "nope.csv")


def test_unterminated_quote_refused(tmp_path):
    src = write(tmp_path, "trunc.csv", 'item_id,annotator_id,label\n1,a,x\n2,b,"never closed\n')
    with pytest.raises(InputRefused, match="cannot be parsed as CSV.*EOF inside string.*truncated file"):
        import_file(src)


def test_markup_non_latin_and_a_1mb_field_preserved(tmp_path):
    big = "ж" * (1 << 20)  # 1M characters, 2 MB of UTF-8, in one quoted field
    rows = [
        ("i1", "a", '<script>alert("x")</script> & <b>bold</b>'),
        ("i2", "b", "كلب 犬 собака 🐕"),
        ("i3", "c", big),
    ]
    text = "item_id,annotator_id,label\n" + "".join(
        f'{i},{a},"{lab.replace(chr(34), chr(34) * 2)}"\n' for i, a, lab in rows)
    src = write(tmp_path, "rich.csv", text)
    r = import_file(src)
    assert r.quarantined == 0
    assert r.table["label"].astype(str).tolist() == [lab for _, _, lab in rows]
    out = tmp_path / "rich.parquet"
    write_result(r, out)
    assert pd.read_parquet(out)["label"].astype(str).tolist()[2] == big


def test_ids_and_labels_stay_text(tmp_path):
    r = import_file(write(tmp_path, "z.csv", "item_id,annotator_id,label\n007,0,00\n1e3,NA,null\n"))
    assert rows_of(r.table) == [("007", "0", "00"), ("1e3", "NA", "null")]


def rows_of(t: pd.DataFrame) -> list[tuple]:
    return [tuple(map(str, r)) for r in t[["item_id", "annotator_id", "label"]].itertuples(index=False)]


def test_duplicates_kept(tmp_path):
    src = write(tmp_path, "dup.csv", "item_id,annotator_id,label\n1,a,x\n1,a,x\n1,a,x\n")
    r = import_file(src)
    assert (r.records_in, r.accepted, len(r.table)) == (3, 3, 3)


def test_blank_lines_are_not_records(tmp_path):
    src = write(tmp_path, "blank.csv", "item_id,annotator_id,label\n1,a,x\n\n\n2,b,y\n")
    r = import_file(src)
    assert (r.records_in, r.accepted) == (2, 2)
    assert r.notes == ["2 blank row(s) (no value in any labkit column) ignored"]


def test_schema_rejects_keep_their_file_line(tmp_path):
    src = write(tmp_path, "bad.csv", HEADER
                + "i1,a1,t,ok,1.0.0,yesterday,1,0.5\n"
                + "i2,a1,t,ok,1.0.0,2026-09-07T10:00:00Z,slow,0.5\n"
                + "i3,,t,ok,1.0.0,2026-09-07T10:00:00Z,1,0.5\n"
                + "i4,a2,t,ok,1.0.0,2026-09-07T10:00:00Z,1,1.4\n")
    r = import_file(src)
    assert q_rows(r) == [(2, "created_at", "created_at is not a timestamp (ISO 8601 or epoch) (value 'yesterday')"),
                         (3, "duration_s", "duration_s is not a number (value 'slow')"),
                         (4, "annotator_id", "annotator_id is empty")]
    # representable but out of policy: imported, validation reports it
    assert r.table["confidence"].tolist() == [1.4]


@pytest.mark.parametrize("name, text", [
    ("crowdkit.tsv", "task\tworker\tlabel\nt1\tw1\t1\nt1\tw2\t0\n"),
    ("semi.csv", "item;annotator;answer\nt1;w1;1\nt1;w2;0\n"),
    ("pipe.txt", "item_id|user_id|category\nt1|w1|1\nt1|w2|0\n"),
])
def test_delimiter_sniffed_and_aliases(tmp_path, name, text):
    r = import_file(write(tmp_path, name, text))
    assert r.table["item_id"].astype(str).tolist() == ["t1", "t1"]
    assert r.table["annotator_id"].astype(str).tolist() == ["w1", "w2"]
    assert r.table["label"].astype(str).tolist() == ["1", "0"]


@pytest.mark.parametrize("columns, expected", [
    # crowd-kit: task is the item
    (["task", "worker", "label"], {"task": "item_id", "worker": "annotator_id", "label": "label"}),
    # Zheng et al. (2017) benchmark files: question is the item ...
    (["question", "worker", "answer"], {"question": "item_id", "worker": "annotator_id", "answer": "label"}),
    # ... unless an item column is there: then question is the labeling question (the task)
    (["item", "question", "worker", "answer"],
     {"item": "item_id", "question": "task", "worker": "annotator_id", "answer": "label"}),
    # Mechanical Turk batch results
    (["HITId", "WorkerId", "item", "Answer"], {"WorkerId": "annotator_id", "item": "item_id", "Answer": "label"}),
    # canonical names win over aliases
    (["item_id", "item", "annotator_id", "user_id", "label", "answer"],
     {"item_id": "item_id", "annotator_id": "annotator_id", "label": "label"}),
])
def test_alias_rules(columns, expected):
    from labkit.schema import resolve_aliases

    assert resolve_aliases(columns) == expected


def test_unknown_columns_named_in_notes(tmp_path):
    r = import_file(write(tmp_path, "x.csv", "item_id,annotator_id,label,text,notes\n1,a,x,hello,n\n"))
    assert r.notes == ["ignored column(s): text, notes"]


def test_jsonl_broken_lines_quarantined_by_line(tmp_path):
    src = write(tmp_path, "l.jsonl",
                '{"item_id": "1", "annotator_id": "a", "label": "x", "created_at": "2026-09-07T10:00:00Z"}\n'
                '{"item_id": "2", "annotator_id": "b", "label": \n'
                '\n'
                '["not", "an", "object"]\n'
                '{"item_id": 3, "annotator_id": 7, "label": ["x", "y"]}\n'
                '{"item_id": "4", "annotator_id": "c", "label": "x", "duration_s": "fast"}\n')
    assert detect_format(src) == "jsonl"
    r = import_file(src)
    assert (r.records_in, r.accepted, r.quarantined) == (5, 2, 3)
    assert q_rows(r) == [(2, None, "broken JSON line: Expecting value (column 48)"),
                         (4, None, "a JSONL line must be a JSON object"),
                         (6, "duration_s", "duration_s is not a number (value 'fast')")]
    t = r.table
    assert t["item_id"].astype(str).tolist() == ["1", "3", "3"]  # the list label gave two judgements
    assert t["label"].astype(str).tolist() == ["x", "x", "y"]


def test_json_array_of_flat_records(tmp_path):
    src = write(tmp_path, "a.json", json.dumps([{"item": "1", "annotator": "a", "label": "x"},
                                                {"item": "2", "annotator": "b", "label": "y"}]))
    r = import_file(src)
    assert r.format == "jsonl" and r.table["item_id"].astype(str).tolist() == ["1", "2"]


def test_parquet_with_aliases_and_a_bad_row(tmp_path):
    src = tmp_path / "x.parquet"
    pd.DataFrame({"task": ["t1", "t2", "t3"], "worker": ["w1", "w2", None], "label": ["a", "b", "c"],
                  "timestamp": ["2026-09-07T10:00:00Z", "bad", None]}).to_parquet(src)
    assert detect_format(str(src)) == "parquet"
    r = import_file(src)
    assert (r.records_in, r.accepted, r.quarantined) == (3, 1, 2)
    assert q_rows(r) == [(1, "timestamp", "created_at is not a timestamp (ISO 8601 or epoch) (value 'bad')"),
                         (2, "worker", "annotator_id is empty")]


def test_round_trip_write_result_read_back(tmp_path):
    src = write(tmp_path, "a.csv", HEADER
                + "i1,a1,toxicity,ok,1.0.0,2026-09-07T10:00:00Z,3.5,0.9\n"
                + "i2,a2,toxicity,insult,1.1.0,2026-09-08T10:00:00Z,,\n"
                + "i3,a2,toxicity,,1.1.0,2026-09-08T10:00:00Z,,\n")
    r = import_file(src)
    out = tmp_path / "out" / "labels.parquet"
    summary = write_result(r, out)
    pd.testing.assert_frame_equal(load_labels(out), r.table)
    assert pd.read_parquet(out)["label"].astype(str).tolist() == ["ok", "insult"]
    q = [json.loads(x) for x in quarantine_path(out).read_text(encoding="utf-8").splitlines()]
    assert q == [{"file": src, "record": 4, "field": "label", "reason": "label is empty",
                  "original": "i3,a2,toxicity,,1.1.0,2026-09-08T10:00:00Z,,"}]
    assert summary["records_in"] == summary["accepted"] + summary["quarantined"] == 3
    assert summary["quarantine_reasons"] == {"label is empty": 1}
    # no temporary files left beside the outputs (atomic writes)
    assert sorted(p.name for p in out.parent.iterdir()) == ["labels.manifest.json", "labels.parquet",
                                                            "labels.quarantine.jsonl"]


def test_atomic_write_keeps_previous_output_on_failure(tmp_path, monkeypatch):
    src = write(tmp_path, "a.csv", "item_id,annotator_id,label\n1,a,x\n")
    out = tmp_path / "labels.parquet"
    write_result(import_file(src), out)
    before = out.read_bytes()

    def boom(self, *a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", boom)
    with pytest.raises(OSError):
        write_result(import_file(src), out)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "labels.manifest.json", "labels.parquet",
                                                          "labels.quarantine.jsonl"]


def test_json_export_with_a_first_record_longer_than_the_sniffed_bytes(tmp_path):
    task = {"id": 1, "data": {"text": "x" * 70_000}, "annotations": [{"completed_by": 1, "result": []}]}
    src = write(tmp_path, "big.json", json.dumps([task]))
    assert detect_format(src) == "label-studio"  # looked further than the first 64 KB
    assert import_file(src).skipped == {"empty_result": 1}


def test_json_export_read_as_flat_records_gets_a_hint(tmp_path):
    src = write(tmp_path, "ls.json", json.dumps([{"id": 1, "data": {"text": "x"}, "annotations": []}]))
    with pytest.raises(InputRefused, match="this looks like a Label Studio export: pass --format label-studio$"):
        import_file(src, format="jsonl")


# Property: whatever text a CSV writer puts in a field (commas, quotes, newlines, markup, any script),
# the importer gives it back exactly (ids and labels are stripped by the schema, so the strategy
# produces stripped, non-empty text).
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_text = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\x85"),
                min_size=1, max_size=30).map(str.strip).filter(bool)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(_text, _text, _text), min_size=1, max_size=12))
def test_csv_round_trip_any_text(tmp_path_factory, rows):
    d = tmp_path_factory.mktemp("prop")
    df = pd.DataFrame(rows, columns=["item_id", "annotator_id", "label"])
    src = d / "p.csv"
    df.to_csv(src, index=False)
    r = import_file(src)
    assert (r.records_in, r.quarantined) == (len(rows), 0)
    for col in ("item_id", "annotator_id", "label"):
        assert r.table[col].astype(str).tolist() == df[col].tolist()


DIRTY = [
    # ragged rows, schema rejects and clean rows, no quotes: the pyarrow path handles these itself
    HEADER + "i1,a1,t,ok,1.0.0,2026-09-07T10:00:00Z,1,0.5\n"
    "i2,a1,t,ok,1.0.0,2026-09-07T10:00:00Z,1,0.5,EXTRA\n"
    "i3,a1,t,ok,1.0.0,later,1,0.5\n"
    "i4,a2,t,ok\n"
    "i5,a2,t,,1.0.0,2026-09-07T10:00:00Z,1,0.5\n"
    "i6,a2,t,ok,1.0.0,2026-09-07T10:00:00Z,x,y,z,w\n"
    "i7,a3,t,ok,1.0.0,2026-09-07T10:00:00Z,1,nope\n",
    # only ragged rows
    "item_id,annotator_id,label\n1,a,x\n2,b,y,z\n3,c,w\n",
    # only schema rejects, CRLF
    "item_id,annotator_id,label,source\r\n1,a,x,human\r\n2,b,y,robot\r\n3,,w,model\r\n",
]


@pytest.mark.parametrize("text", DIRTY)
def test_fast_path_agrees_with_pandas_c_parser(tmp_path, text):
    """The pyarrow reader and pandas' C reader (an independent implementation) give the same result."""
    from labkit.io.importers.tabular import _csv_result

    src = write(tmp_path, "d.csv", text)
    fast, precise = _csv_result(src, None, None), _csv_result(src, None, None, fast=False)
    assert fast.quarantined > 0
    assert (fast.records_in, fast.accepted, fast.quarantined) == (precise.records_in, precise.accepted,
                                                                    precise.quarantined)
    pd.testing.assert_frame_equal(fast.quarantine, precise.quarantine)
    pd.testing.assert_frame_equal(fast.table, precise.table)


def test_fast_path_ragged_and_rejects_lines(tmp_path):
    r = import_file(write(tmp_path, "d.csv", DIRTY[0]))
    assert q_rows(r) == [(3, None, "ragged row: expected 8 fields like the header, saw 9"),
                         (4, "created_at", "created_at is not a timestamp (ISO 8601 or epoch) (value 'later')"),
                         (5, None, "ragged row: expected 8 fields like the header, saw 4"),
                         (6, "label", "label is empty"),
                         (7, None, "ragged row: expected 8 fields like the header, saw 10"),
                         (8, "confidence", "confidence is not a number (value 'nope')")]
    assert r.table["item_id"].astype(str).tolist() == ["i1"]
    assert r.quarantine["original"].tolist()[:2] == ["i2,a1,t,ok,1.0.0,2026-09-07T10:00:00Z,1,0.5,EXTRA",
                                                     "i3,a1,t,ok,1.0.0,later,1,0.5"]


@pytest.mark.parametrize("fast", [True, False])
def test_header_names_with_spaces_around_them(tmp_path, fast):
    """Names are matched ignoring surrounding spaces, but read under their exact names (both readers)."""
    from labkit.io.importers.tabular import _csv_result

    src = write(tmp_path, "sp.csv", "item_id , annotator_id,label \t\n1,a,x\n2,b,y\n")
    r = _csv_result(src, None, None, fast=fast)
    assert rows_of(r.table) == [("1", "a", "x"), ("2", "b", "y")]
