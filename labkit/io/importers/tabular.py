"""CSV / TSV / Parquet / JSONL files with canonical columns or common aliases.

Column names are matched with :func:`labkit.schema.resolve_aliases` (crowd-kit's ``task, worker,
label``, ``item``, ``annotator``, ``user_id``, ...). Columns labkit does not know are not read and
are named in the result's notes.

CSV and TSV
    The delimiter is sniffed from the header line (comma, tab, semicolon or pipe). A UTF-8 BOM and
    CRLF line ends are fine. Files are read by pyarrow's CSV reader (multi-threaded when clean);
    files that need a closer look for exact line numbers (bytes that are not UTF-8, blank lines,
    an unterminated quote, quoted fields together with problems) by pandas' C parser. Both give the
    same result (a test holds them to it). Then:

    - a *ragged row* (more or fewer fields than the header) is quarantined with its line, and the
      rest of the file is imported;
    - a row holding *bytes that are not UTF-8* is quarantined, naming the field that holds them
      (the original keeps them visible as ``\\xNN``); a file that is not text at all is refused;
    - rows with no value in any labkit column (blank lines) are not records: they are counted in
      the notes;
    - ``record`` in the quarantine is the 1-based line where the row starts in the file.

JSONL (and a JSON array of flat objects)
    One object per line; a line that is not valid JSON (or not an object) is quarantined with its
    line number. A ``label`` holding a list gives one judgement per element. A line whose labkit
    fields hold bytes that are not UTF-8 is quarantined naming the field; such bytes in other fields
    do no harm.

Parquet
    Read with pyarrow; ``record`` is the 0-based row.
"""

from __future__ import annotations

import codecs
import csv
import re
import warnings
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from labkit.errors import InputRefused, SchemaError
from labkit.io.base import ImportResult, quarantine_frame, register
from labkit.io.importers._records import (
    BAD_BYTES,
    has_bad_bytes,
    iter_json_lines,
    load_json_document,
    printable,
    safe_text,
    to_text,
)
from labkit.schema import (
    LABEL_COLUMN_NAMES,
    REQUIRED_LABEL_COLUMNS,
    check_labels,
    conform_labels,
    finalize_labels,
    resolve_aliases,
)

_DELIMITERS = (",", "\t", ";", "|")
_SURROGATE = re.compile("[\udc80-\udcff]")
_BAD_LINE = re.compile(r"line (\d+): expected (\d+) fields, saw (\d+)", re.I)
_MAX_ORIGINAL = 100_000


# ---------------------------------------------------------------------------------------------- helpers


def _missing_message(columns: list[str], mapping: dict[str, str]) -> str | None:
    missing = [c for c in REQUIRED_LABEL_COLUMNS if c not in mapping.values()]
    if not missing:
        return None
    found = ", ".join(repr(c) for c in columns) or "none"
    low = {c.lower() for c in columns}
    hint = ""
    if "annotations" in low or "predictions" in low:
        hint = "; this looks like a Label Studio export: pass --format label-studio"
    elif "_input_hash" in low or "_task_hash" in low:
        hint = "; this looks like a Prodigy export: pass --format prodigy"
    elif "responses" in low or "suggestions" in low:
        hint = "; this looks like Argilla records: pass --format argilla"
    elif columns and all(re.fullmatch(r"[-+]?\d+(\.\d*)?", c) for c in columns):
        hint = ("; the first line looks like data, not a header: add a header line naming the columns "
                "(e.g. item_id,annotator_id,label)")
    return (f"missing required column(s) {', '.join(missing)}; found {found} "
            f"(labkit needs item_id, annotator_id and label, or aliases such as item/worker/answer){hint}")


def _finish_frame(df: pd.DataFrame, mapping: dict[str, str], path: str, task: str | None, gv: str | None):
    """Conform ``df`` (already renamed to canonical names); refuse when required columns are missing."""
    try:
        return conform_labels(df, task=task, guideline_version=gv)
    except SchemaError as exc:  # pragma: no cover - callers check the columns first
        raise InputRefused(path, str(exc)) from None


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_ORIGINAL else text[:_MAX_ORIGINAL] + f"... [{len(text) - _MAX_ORIGINAL} more characters]"


def _reason(reason: Any, value: Any) -> str:
    """A schema reject's reason, with the offending value when there is one."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return str(reason)
    return f"{reason} (value {_safe(str(value))!r})"


def _safe(text: str) -> str:
    """Text that may hold surrogate-escaped bytes, made printable (``\\xe9``)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


# ---------------------------------------------------------------------------------------------- CSV / TSV


@dataclass
class _Scan:
    utf8: bool
    quotes: bool
    blank_lines: bool
    odd_quotes: bool  # an unterminated quoted field somewhere: let the C parser say where


def _blank_line_in(buf: bytes) -> bool:
    """Does ``buf`` hold an empty line (``\\n\\n`` or ``\\n\\r\\n``)? Vectorized: newlines are frequent,
    which makes ``bytes in bytes`` slow here."""
    a = np.frombuffer(buf, dtype=np.uint8)
    nl = np.flatnonzero(a == 10)
    if len(nl) < 2:
        return False
    gap = np.diff(nl)
    if (gap == 1).any():
        return True
    two = nl[:-1][gap == 2]
    return bool(len(two) and (a[two + 1] == 13).any())


def _scan(path: str) -> _Scan:
    """One pass over the bytes: all valid UTF-8? any quote character? any blank line?"""
    dec = codecs.getincrementaldecoder("utf-8")()
    utf8, quotes, blank = True, False, False
    n_quotes = 0
    prev = b""
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 24):
            if utf8:
                try:
                    dec.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
            n_quotes += chunk.count(b'"')
            quotes = n_quotes > 0
            if not blank:
                edge = prev[-2:] + chunk[:2]
                blank = b"\n\n" in edge or b"\n\r\n" in edge or _blank_line_in(chunk)
            prev = chunk[-2:]
            if blank and not utf8:
                break
        if utf8:
            try:
                dec.decode(b"", final=True)
            except UnicodeDecodeError:
                utf8 = False
    return _Scan(utf8, quotes, blank, n_quotes % 2 == 1)


def _header(path: str) -> tuple[str, list[str]]:
    """The delimiter (sniffed from the header line) and the column names."""
    with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
        first = fh.readline()
    line = first.rstrip("\r\n")
    prefer_tab = path.lower().endswith(".tsv") and "\t" in line
    counts = {d: line.count(d) for d in _DELIMITERS}
    sep = "\t" if prefer_tab else max(_DELIMITERS, key=lambda d: (counts[d], d == ","))
    if counts[sep] == 0:
        sep = ","
    names = next(csv.reader([line], delimiter=sep), [])
    return sep, names  # as written: the readers match columns by their exact names


class _Tap:
    """An iterator over a file's lines that remembers the lines the csv module consumed."""

    def __init__(self, fh: Any) -> None:
        self.fh = fh
        self.n = 0
        self.buf: list[str] = []

    def __iter__(self) -> _Tap:
        return self

    def __next__(self) -> str:
        line = next(self.fh)
        self.n += 1
        self.buf.append(line)
        return line


def _short_rows(path: str, sep: str, n_fields: int) -> dict[int, int]:
    """Logical rows (header = 1) holding fewer fields than the header, with their field count."""
    old = csv.field_size_limit()
    csv.field_size_limit(max(old, 2**31 - 1))
    out: dict[int, int] = {}
    try:
        with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
            for row_no, row in enumerate(csv.reader(fh, delimiter=sep), start=1):
                if 0 < len(row) < n_fields and row_no > 1:
                    out[row_no] = len(row)
    except csv.Error:
        pass
    finally:
        csv.field_size_limit(old)
    return out


def _locate(path: str, sep: str, logical: set[int], quotes: bool = True) -> dict[int, tuple[int, str]]:
    """Map logical CSV rows (1-based, header = 1, as pandas counts them) to (first file line, raw text).

    Only called when something is quarantined. Without any quote character in the file a row is
    a line, and the lines are picked directly; otherwise rows can span lines (a quoted field holding
    a newline), so the csv module (same quoting rules) walks the file.
    """
    if not quotes:
        found: dict[int, tuple[int, str]] = {}
        last = max(logical) if logical else 0
        with open(path, "rb") as fh:
            for n, raw in enumerate(fh, start=1):
                if n in logical:
                    if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
                        raw = raw[3:]
                    found[n] = (n, _clip(raw.rstrip(b"\r\n").decode("utf-8", "backslashreplace")))
                if n >= last:
                    break
        return {n: found.get(n, (n, "")) for n in logical}
    old = csv.field_size_limit()
    csv.field_size_limit(max(old, 2**31 - 1))
    out: dict[int, tuple[int, str]] = {}
    want = max(logical) if logical else 0
    try:
        with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
            tap = _Tap(fh)
            reader = csv.reader(tap, delimiter=sep)
            for row_no, _row in enumerate(reader, start=1):
                if row_no in logical:
                    start = tap.n - len(tap.buf) + 1
                    out[row_no] = (start, _clip(_safe("".join(tap.buf).rstrip("\r\n"))))
                tap.buf.clear()
                if row_no >= want:
                    break
    except csv.Error:  # the csv module disagrees with pandas on a malformed quote: fall back to lines
        pass
    finally:
        csv.field_size_limit(old)
    for row_no in logical - out.keys():
        out[row_no] = (row_no, "")
    return out


def _arrow_read(path: str, sep: str, names: list[str], mapping: dict[str, str], scan: _Scan,
                threads: bool, on_invalid: Any) -> Any:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    return pcsv.read_csv(
        path,
        read_options=pcsv.ReadOptions(use_threads=threads, block_size=1 << 24),
        parse_options=pcsv.ParseOptions(delimiter=sep, quote_char='"', newlines_in_values=scan.quotes,
                                        invalid_row_handler=on_invalid),
        convert_options=pcsv.ConvertOptions(column_types={c: pa.string() for c in names},
                                            include_columns=list(mapping), strings_can_be_null=True,
                                            null_values=[""], quoted_strings_can_be_null=True))


def _fast_csv(path: str, sep: str, names: list[str], mapping: dict[str, str], scan: _Scan,
              task: str | None, gv: str | None) -> ImportResult | None:
    """The usual path: pyarrow's CSV reader, every column as text.

    Clean files are read multi-threaded. Ragged rows are read again single-threaded, where pyarrow
    reports each one's file line. Returns None, so that the pandas path runs, when line numbers
    could not be exact otherwise: bytes that are not UTF-8, blank lines, an unterminated quote,
    repeated column names, or quoted fields (which may span lines) together with problems.
    """
    if len(set(names)) != len(names) or scan.blank_lines or not scan.utf8 or scan.odd_quotes:
        return None
    import pyarrow as pa

    invalid: list[tuple[int, str, int, int]] = []

    def stop(row: Any) -> str:
        invalid.append((-1, "", 0, 0))
        return "error"  # a ragged row: stop now and read again single-threaded, with line numbers

    def keep(row: Any) -> str:
        invalid.append((int(row.number) if row.number is not None else -1, str(row.text),
                        int(row.expected_columns), int(row.actual_columns)))
        return "skip"

    try:
        tbl = _arrow_read(path, sep, names, mapping, scan, True, stop)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
        if not invalid or scan.quotes:
            return None
        invalid.clear()
        try:
            tbl = _arrow_read(path, sep, names, mapping, scan, False, keep)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
            return None
        if any(n < 0 for n, *_ in invalid):
            return None
    if tbl.num_rows == 0 and not invalid:
        return None
    df = tbl.to_pandas().rename(columns=mapping)
    del tbl
    if df.isna().all(axis=1).any():
        return None
    conf = _finish_frame(df, mapping, path, task, gv)
    problems: dict[int, tuple[str | None, str]] = {}
    originals: dict[int, str] = {}
    for n, text, expected, actual in invalid:
        problems[n] = (None, f"ragged row: expected {expected} fields like the header, saw {actual}")
        originals[n] = _clip(text.rstrip("\r\n"))
    if len(conf.rejects):
        if scan.quotes:  # a quoted field may span lines: only the pandas path knows the line numbers
            return None
        # no blank lines and no quotes: data rows are consecutive lines, minus the ragged ones
        lines = np.arange(2, len(df) + len(invalid) + 2, dtype=np.int64)
        if invalid:
            lines = np.setdiff1d(lines, np.array([n for n, *_ in invalid], dtype=np.int64), assume_unique=True)
        inverse = {v: k for k, v in mapping.items()}
        for r in conf.rejects.itertuples(index=False):
            problems[int(lines[int(r.row)])] = (inverse.get(str(r.field), str(r.field)), _reason(r.reason, r.value))
        need = set(problems) - originals.keys()
        originals.update({n: raw for n, (_, raw) in _locate(path, sep, need, quotes=False).items()})
    rows = [{"file": path, "record": n, "field": problems[n][0], "reason": problems[n][1], "original": originals[n]}
            for n in sorted(problems)]
    records_in = len(df) + len(invalid)
    ignored = [c for c in names if c not in mapping]
    notes = [f"ignored column(s): {', '.join(ignored)}"] if ignored else []
    return ImportResult(conf.table, quarantine_frame(rows), records_in=records_in,
                        accepted=records_in - len(rows), format="csv", path=path, notes=notes)


def _csv_result(path: str, task: str | None, gv: str | None, *, fast: bool = True) -> ImportResult:
    scan = _scan(path)
    sep, names = _header(path)
    mapping = resolve_aliases(names)
    missing = _missing_message(names, mapping)
    if missing:
        raise InputRefused(path, missing)
    if fast:
        result = _fast_csv(path, sep, names, mapping, scan, task, gv)
        if result is not None:
            return result
    # Every column is read (usecols would switch off pandas' ragged-row check); unknown ones are dropped.
    # Everything is read as text ("category" would let pandas turn "007" into 7); ids are factorized
    # afterwards by the schema, once per distinct value.
    dtype: dict[str, Any] = {c: str for c in names}
    if not scan.utf8:  # surrogate-escaped bytes only fit Python str objects, not arrow-backed strings
        dtype = {c: object for c in names}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            df = pd.read_csv(
                path, sep=sep, dtype=dtype, keep_default_na=False, na_values=[""],
                encoding="utf-8-sig", encoding_errors="strict" if scan.utf8 else "surrogateescape",
                on_bad_lines="warn", skip_blank_lines=False, engine="c", quotechar='"', low_memory=False)
        except pd.errors.ParserError as exc:
            msg = str(exc).replace("Error tokenizing data. C error: ", "")
            m = re.search(r"row (\d+)", msg)
            where = f" (from data row {m.group(1)})" if m else ""
            raise InputRefused(path, f"cannot be parsed as {'TSV' if sep == chr(9) else 'CSV'}{where}: {msg.strip()} "
                                     "(an unterminated quote, or a truncated file?)") from None
        except ValueError as exc:
            raise InputRefused(path, f"cannot be read as CSV: {exc}") from None
    bad: dict[int, str] = {}
    for w in caught:
        for m in _BAD_LINE.finditer(str(w.message)):
            bad[int(m.group(1))] = f"ragged row: expected {m.group(2)} fields like the header, saw {m.group(3)}"
    if len(df.columns) != len(names) or any(str(a) != b for a, b in zip(df.columns, names)):
        names = [str(c) for c in df.columns]  # pandas de-duplicated repeated names ("label.1")
        mapping = resolve_aliases(names)
    df = df[list(mapping)].rename(columns=mapping)
    # Logical row numbers (header = 1) of the rows pandas kept: every row except the ragged ones.
    total = len(df) + len(bad)
    logical = np.arange(2, total + 2, dtype=np.int64)
    if bad:
        logical = np.setdiff1d(logical, np.fromiter(bad, dtype=np.int64), assume_unique=True)
    blank = df.isna().all(axis=1).to_numpy()
    n_blank = int(blank.sum())
    if n_blank:
        df = df.loc[~blank].reset_index(drop=True)
        logical = logical[~blank]
    if len(df) + len(bad) == 0:
        raise InputRefused(path, "has a header but no data rows")
    problems: dict[int, tuple[str | None, str]] = {n: (None, why) for n, why in bad.items()}
    # pandas pads a row with too few fields; it is as ragged as one with too many (pyarrow agrees)
    short = _short_rows(path, sep, len(names))
    if short:
        hit = np.isin(logical, np.fromiter(short, dtype=np.int64))
        for n in logical[hit]:
            problems[int(n)] = (None, f"ragged row: expected {len(names)} fields like the header, saw {short[int(n)]}")
        df = df.loc[~hit].reset_index(drop=True)
        logical = logical[~hit]
    inverse = {v: k for k, v in mapping.items()}
    if not scan.utf8:
        enc_bad = np.zeros(len(df), dtype=bool)
        for col in df.columns:
            s = df[col]
            search = _SURROGATE.search
            hit = np.fromiter((isinstance(v, str) and search(v) is not None for v in s.to_numpy(dtype=object)),
                              dtype=bool, count=len(s))
            new = hit & ~enc_bad
            for i in np.flatnonzero(new):
                problems[int(logical[i])] = (inverse[col], "bytes that are not UTF-8 in this field (shown as \\xNN "
                                                          "in original); save the file as UTF-8")
            enc_bad |= hit
        if enc_bad.any():
            df = df.loc[~enc_bad].reset_index(drop=True)
            logical = logical[~enc_bad]
    conf = _finish_frame(df, mapping, path, task, gv)
    for r in conf.rejects.itertuples(index=False):
        problems[int(logical[int(r.row)])] = (inverse.get(str(r.field), str(r.field)),
                                              _reason(r.reason, r.value))
    rows = []
    if problems:
        located = _locate(path, sep, set(problems), quotes=scan.quotes)
        for n in sorted(problems):
            line, raw = located[n]
            field, why = problems[n]
            rows.append({"file": path, "record": line, "field": field, "reason": why, "original": raw})
    notes = []
    ignored = [c for c in names if c not in mapping]
    if ignored:
        notes.append(f"ignored column(s): {', '.join(ignored)}")
    if n_blank:
        notes.append(f"{n_blank} blank row(s) (no value in any labkit column) ignored")
    records_in = total - n_blank
    q = quarantine_frame(rows)
    return ImportResult(conf.table, q, records_in=records_in, accepted=records_in - len(q),
                        format="csv", path=path, notes=notes)


def _looks_csv(head: bytes, path: str) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return not text.startswith((b"{", b"["))


@register("csv", suffixes=(".csv", ".tsv", ".txt", ".tab"), sniff=_looks_csv, priority=-10)
def read_csv(path: str, *, task: str | None = None, guideline_version: str | None = None) -> ImportResult:
    """Import a CSV or TSV file (delimiter sniffed); see the module docstring for malformed rows."""
    return _csv_result(path, task, guideline_version)


# ---------------------------------------------------------------------------------------------- Parquet


def _is_canonical(df: pd.DataFrame) -> bool:
    """Does ``df`` already follow the canonical schema, with every required value present?"""
    try:
        check_labels(df)
    except SchemaError:
        return False
    return not any(df[c].isna().any() for c in REQUIRED_LABEL_COLUMNS) and bool(
        df["source"].notna().all() and df["stage"].notna().all())


@register("parquet", suffixes=(".parquet", ".pq"))
def read_parquet(path: str, *, task: str | None = None, guideline_version: str | None = None) -> ImportResult:
    """Import a Parquet file (canonical columns or aliases); ``record`` is the 0-based row."""
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise InputRefused(path, f"not a readable Parquet file ({exc.__class__.__name__}: {exc})") from None
    names = [str(c) for c in df.columns]
    mapping = resolve_aliases(names)
    missing = _missing_message(names, mapping)
    if missing:
        raise InputRefused(path, missing)
    if len(df) == 0:
        raise InputRefused(path, "holds no rows")
    if _is_canonical(df):  # written by labkit (write_labels): already typed and checked
        extra = [c for c in names if c not in LABEL_COLUMN_NAMES]
        table = finalize_labels(df[list(LABEL_COLUMN_NAMES)].copy())
        return ImportResult(table, quarantine_frame([]), records_in=len(df), accepted=len(df), format="parquet",
                            path=path, notes=[f"ignored column(s): {', '.join(extra)}"] if extra else [])
    df = df[list(mapping)].rename(columns=mapping)
    conf = _finish_frame(df, mapping, path, task, guideline_version)
    inverse = {v: k for k, v in mapping.items()}
    rows = []
    for r in conf.rejects.itertuples(index=False):
        i = int(r.row)
        rows.append({"file": path, "record": i, "field": inverse.get(str(r.field), str(r.field)),
                     "reason": _reason(r.reason, r.value),
                     "original": to_text({inverse.get(k, k): v for k, v in df.iloc[i].items()})})
    ignored = [c for c in names if c not in mapping]
    q = quarantine_frame(rows)
    return ImportResult(conf.table, q, records_in=len(df), accepted=len(df) - len(q), format="parquet", path=path,
                        notes=[f"ignored column(s): {', '.join(ignored)}"] if ignored else [])


# ---------------------------------------------------------------------------------------------- JSONL


def _looks_jsonl(head: bytes, path: str) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{", b"["))


@register("jsonl", suffixes=(".jsonl", ".ndjson", ".json"), sniff=_looks_jsonl, priority=-5)
def read_jsonl(path: str, *, task: str | None = None, guideline_version: str | None = None) -> ImportResult:
    """Import JSON Lines (one flat object per line) or a JSON array of flat objects.

    A broken line is quarantined with its line number; ``label`` may hold a list (multi-label).
    """
    objs: list[dict[str, Any]] = []
    keys: list[Hashable] = []
    raws: list[str] = []
    quarantine: list[dict[str, Any]] = []
    dirty: list[int] = []  # objects that hold bytes that are not UTF-8 somewhere
    with open(path, "rb") as fh:
        head = fh.read(1 << 12).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"["):
        doc = load_json_document(path)
        if not isinstance(doc, list):
            raise InputRefused(path, "a JSON document must be a list of objects (or use one object per line)")
        for i, obj in enumerate(doc):
            if isinstance(obj, dict):
                if has_bad_bytes(obj):  # keys and values
                    dirty.append(len(objs))
                objs.append(obj)
                keys.append(f"$[{i}]")
                raws.append("")
            else:
                quarantine.append({"file": path, "record": f"$[{i}]", "field": None,
                                   "reason": "not a JSON object", "original": to_text(obj)})
    else:
        for n, obj, err, raw, has_bad in iter_json_lines(path):
            if err is None and not isinstance(obj, dict):
                err = "a JSONL line must be a JSON object"
            if err is not None:
                quarantine.append({"file": path, "record": n, "field": None, "reason": err, "original": _clip(raw)})
                continue
            if has_bad:
                dirty.append(len(objs))
            objs.append(obj)
            keys.append(n)
            raws.append(raw)
    records_in = len(objs) + len(quarantine)
    if records_in == 0:
        raise InputRefused(path, "holds no records")
    if not objs:
        raise InputRefused(path, f"no line is a valid JSON object (first problem, record {quarantine[0]['record']}: "
                                 f"{quarantine[0]['reason']})")
    dirty_keys: dict[int, list[str]] = {}
    for i in dirty:  # note which keys hold bad bytes, then make them printable (arrow strings refuse them)
        dirty_keys[i] = [safe_text(k) for k, v in objs[i].items() if has_bad_bytes(k) or has_bad_bytes(v)]
        objs[i] = printable(objs[i])
    df = pd.DataFrame.from_records(objs)
    names = [str(c) for c in df.columns]
    mapping = resolve_aliases(names)
    missing = _missing_message(names, mapping)
    if missing:
        raise InputRefused(path, missing)
    # A record whose labkit fields hold bytes that are not UTF-8 is quarantined, naming the field;
    # such bytes elsewhere in the record (a text field labkit does not read) do no harm.
    enc_bad: dict[int, str] = {}
    for i, ks in dirty_keys.items():
        field = next((k for k in ks if k in mapping), None)
        if field is not None:
            enc_bad[i] = field
    df = df[list(mapping)].rename(columns=mapping)
    df["__record"] = np.arange(len(df))
    if enc_bad:
        df = df.loc[~df["__record"].isin(list(enc_bad))].reset_index(drop=True)
    if df["label"].map(lambda v: isinstance(v, list)).any():
        df = df.explode("label", ignore_index=True)
    rec = df.pop("__record").to_numpy()
    conf = _finish_frame(df, mapping, path, task, guideline_version)
    inverse = {v: k for k, v in mapping.items()}
    bad: dict[int, tuple[str, str]] = {i: (f, BAD_BYTES) for i, f in enc_bad.items()}
    for r in conf.rejects.itertuples(index=False):
        bad.setdefault(int(rec[int(r.row)]), (inverse.get(str(r.field), str(r.field)), _reason(r.reason, r.value)))
    table = conf.table
    if bad:
        ok_rows = np.ones(len(df), dtype=bool)
        ok_rows[conf.rejects["row"].to_numpy(dtype=np.int64)] = False
        kept = rec[ok_rows]
        drop = np.isin(kept, np.fromiter(bad, dtype=np.int64))
        if drop.any():
            from labkit.schema import finalize_labels

            table = finalize_labels(table.loc[~drop].reset_index(drop=True))
        for i, (field, why) in sorted(bad.items()):
            quarantine.append({"file": path, "record": keys[i], "field": field, "reason": why,
                               "original": _clip(raws[i].rstrip("\r\n")) or to_text(objs[i])})
    q = quarantine_frame(quarantine)
    ignored = [c for c in names if c not in mapping]
    return ImportResult(table, q, records_in=records_in, accepted=records_in - len(q), format="jsonl", path=path,
                        notes=[f"ignored column(s): {', '.join(ignored)}"] if ignored else [])
