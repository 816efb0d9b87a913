"""Damaged exports never crash an importer: each is imported (counts adding up, outputs writable) or refused.

Hypothesis cuts, inserts and overwrites bytes of the real-shaped fixtures (quotes, delimiters, newlines,
bytes that are not UTF-8, JSON punctuation, NUL) and imports the result with the sniffed format and with
every explicit one. Anything but :class:`InputRefused` is a bug: issue 2 promises one clear message,
never a traceback.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labkit.errors import InputRefused
from labkit.io import import_file, quarantine_path, write_result

DATA = Path(__file__).parent / "data" / "io"
FIXTURES = ["label_studio_export.json", "label_studio_multi.json", "prodigy_textcat.jsonl", "argilla_records.json",
            "public/snow2008_rte/raw_head.tsv", "public/zheng2017_d_product/raw_answer_head.csv"]
FORMATS = ["auto", "csv", "jsonl", "label-studio", "prodigy", "argilla"]
PIECES = [b'"', b",", b"\t", b"\n", b"\r\n", b"\xff", b"\xe9", b"{", b"}", b"[", b"]", b":", b"null", b"1e999",
          b"[]", b"{}", b"\x00", b"-1", b'"x"', b"\xef\xbb\xbf"]

edit = st.tuples(st.sampled_from(["cut", "insert", "in_value", "bad_byte_in_value", "overwrite", "truncate"]),
                 st.floats(0, 1),
                 st.integers(1, 40), st.sampled_from(PIECES), st.integers(0, 255))


def damage(data: bytes, edits: list[tuple]) -> bytes:
    buf = bytearray(data)
    for op, where, n, piece, byte in edits:
        if not buf:
            break
        pos = min(int(where * len(buf)), len(buf) - 1)
        if op == "cut":
            del buf[pos:pos + n]
        elif op in ("in_value", "bad_byte_in_value"):  # right after a quote or a delimiter: in a value or key
            marks = [i for i, b in enumerate(buf) if b in b'",\t'] or [pos]
            at = marks[int(where * (len(marks) - 1))] + 1
            buf[at:at] = piece if op == "in_value" else b"\xe9"
        elif op == "insert":
            buf[pos:pos] = piece
        elif op == "overwrite":
            buf[pos] = byte
        else:
            del buf[pos:]
    return bytes(buf)


@pytest.mark.parametrize("name", FIXTURES)
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(edit, min_size=1, max_size=4), fmt=st.sampled_from(FORMATS))
def test_damaged_export_is_imported_or_refused(tmp_path, name, edits, fmt):
    src = tmp_path / ("damaged" + Path(name).suffix)
    src.write_bytes(damage((DATA / name).read_bytes(), edits))
    try:
        r = import_file(src, format=fmt)
    except InputRefused as exc:
        assert str(exc).startswith(f"{src}: ") and "\n" not in str(exc).strip()
        return
    assert r.records_in == r.accepted + r.quarantined
    out = tmp_path / "out.parquet"
    write_result(r, out)  # the table, the quarantine (valid UTF-8 JSON lines) and any gold are writable
    assert len(pd.read_parquet(out)) == len(r.table)
    assert len(quarantine_path(out).read_text(encoding="utf-8").splitlines()) == r.quarantined
