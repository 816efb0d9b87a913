"""Shared machinery for the JSON-shaped importers (Label Studio, Prodigy, Argilla).

A :class:`Collector` gathers judgements (one dict-of-columns entry each) together with the key of the
record they came from, quarantines whole records, and finally conforms everything with
:func:`labkit.schema.conform_labels`. A record is accepted or quarantined as a whole: when one of its
judgements cannot be represented (an unparseable timestamp, say), all of its judgements leave the
table and the record goes to the quarantine once.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Hashable, Iterator
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from labkit.errors import InputRefused, SchemaError
from labkit.io.base import ImportResult, quarantine_frame
from labkit.schema import conform_labels, empty_labels

FIELDS = ("item_id", "annotator_id", "task", "label", "guideline_version", "created_at", "duration_s",
          "confidence", "source", "stage", "slice")


def _reason(reason: Any, value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return str(reason)
    return f"{reason} (value {str(value)!r})"


def to_text(obj: Any, limit: int = 100_000) -> str:
    """A record as JSON text for the quarantine (never raises; long text is cut at ``limit``)."""
    try:
        text = json.dumps(obj, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(obj)
    text = safe_text(text)
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more characters]"


BAD_BYTES = "bytes that are not UTF-8 in this field (shown as \\xNN in original); save the file as UTF-8"
_SURROGATE = re.compile("[\udc80-\udcff]")


def safe_text(text: str) -> str:
    """Text that may hold bytes that were not UTF-8 (surrogate-escaped), made printable as ``\\xNN``."""
    if text.isascii() or not _SURROGATE.search(text):
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def has_bad_bytes(value: Any) -> bool:
    """Does ``value`` (a str, or a list or dict holding some) hold bytes that were not UTF-8 (surrogate escapes)?"""
    if isinstance(value, str):
        return not value.isascii() and _SURROGATE.search(value) is not None
    if isinstance(value, list):
        return any(has_bad_bytes(v) for v in value)
    if isinstance(value, dict):
        return any(has_bad_bytes(k) or has_bad_bytes(v) for k, v in value.items())
    return False


def printable(value: Any) -> Any:
    """``value`` (JSON: str, list, dict, ...) with bytes that were not UTF-8 shown as ``\\xNN``."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, list):
        return [printable(v) for v in value]
    if isinstance(value, dict):
        return {printable(k): printable(v) for k, v in value.items()}
    return value


def decode_utf8(raw: bytes) -> tuple[str, bool]:
    """``raw`` as text; bytes that are not UTF-8 become surrogate escapes. Returns (text, had bad bytes)."""
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("utf-8", "surrogateescape"), True


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty dict (for optional nested objects)."""
    return value if isinstance(value, dict) else {}


def scalar_id(value: Any) -> str | None:
    """An id as text: ints and strings pass, floats that are whole numbers lose their ``.0``."""
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    if isinstance(value, float):
        if value != value:
            return None
        return str(int(value)) if value.is_integer() else str(value)
    text = str(value).strip()
    return text or None


def _json_error(exc: json.JSONDecodeError) -> str:
    """``Unterminated string starting at`` -> ``Unterminated string``: the position follows in parentheses."""
    return re.sub(r"(\s+starting)?\s+at$", "", exc.msg)


def load_json_document(path: str) -> Any:
    """Parse a whole JSON file, refusing a truncated or malformed one with where it broke (see
    :func:`read_json_document`)."""
    return read_json_document(path)[0]


def read_json_document(path: str) -> tuple[Any, bool]:
    """Parse a whole JSON file; return (document, held bytes that are not UTF-8).

    Bytes that are not UTF-8 do not refuse the file: they reach the parsed strings as surrogate
    escapes, and the importers quarantine the records that would carry them into the table
    (:func:`has_bad_bytes`). A truncated or malformed document is refused with where it broke.
    """
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    text, bad = decode_utf8(raw)
    del raw
    try:
        return json.loads(text), bad
    except json.JSONDecodeError as exc:
        # The document ended early: the error is at its end, or a string runs to the end of the file.
        at_end = exc.pos >= len(text.rstrip()) - 1 or exc.msg.startswith("Unterminated string")
        what = "truncated JSON (the document ends before it is complete)" if at_end else "malformed JSON"
        raise InputRefused(path, f"is {what}: {_json_error(exc)} (line {exc.lineno}, column {exc.colno})") from None


def iter_json_lines(path: str) -> Iterator[tuple[int, Any, str | None, str, bool]]:
    """Yield ``(line_number, object, error, raw_line, bad_bytes)`` for each non-blank line of a JSONL file.

    ``error`` is None for a parsed line, else why it could not be parsed; then ``object`` is None.
    ``bad_bytes`` says the line held bytes that are not UTF-8: it is still parsed (they become
    surrogate escapes, see :func:`has_bad_bytes`) so that the importer can name the field holding
    them. ``raw_line`` is printable (such bytes shown as ``\\xNN``). Line numbers are 1-based.
    """
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, start=1):
            if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            line, bad = decode_utf8(raw)
            line = line.rstrip("\r\n")
            shown = safe_text(line) if bad else line
            try:
                yield n, json.loads(line), None, shown, bad
            except json.JSONDecodeError as exc:
                yield n, None, f"broken JSON line: {_json_error(exc)} (column {exc.pos + 1})", shown, bad


def _column(name: str, values: list[Any]) -> pd.Series:
    """One collected column, typed when that is safe so that the schema takes its vectorized paths.

    Numbers (or None) become float64; timestamps that are all text become arrow-backed strings (one
    pyarrow cast parses them). Anything else stays as Python objects for the schema to check value
    by value, so a bad value is still reported with the record it came from.
    """
    if name in ("duration_s", "confidence") and all(
            v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values):
        return pd.Series(np.array(values, dtype=np.float64) if values else [], dtype="float64")
    if name == "created_at" and all(v is None or (isinstance(v, str) and v.isascii()) for v in values):
        return pd.Series(values, dtype="str")
    return pd.Series(values, dtype=object)


class Collector:
    """Judgements and quarantine for one file; :meth:`result` builds the :class:`ImportResult`."""

    def __init__(self, path: str, fmt: str) -> None:
        self.path = path
        self.format = fmt
        self.cols: dict[str, list[Any]] = {c: [] for c in FIELDS}
        self.keys: list[Hashable] = []
        self.records_in = 0
        self.skipped: Counter[str] = Counter()
        self.quarantine: list[dict[str, Any]] = []
        self._quarantined: set[Hashable] = set()
        self.originals: dict[Hashable, Any] = {}
        self.notes: list[str] = []
        self.check_bytes = True  # look for bytes that are not UTF-8 in added values (off for clean files)

    def new_record(self, key: Hashable, original: Any) -> None:
        """Count one input record; ``original`` is kept (by reference) to show it if quarantined.

        ``original`` may be a :func:`functools.partial` that builds it: called only if the record is
        quarantined, which spares building a description of every record of a large export.
        """
        self.records_in += 1
        self.originals[key] = original

    def skip(self, reason: str) -> None:
        """The current record is accepted but carries no judgement."""
        self.skipped[reason] += 1

    def is_quarantined(self, key: Hashable) -> bool:
        """Was the record ``key`` quarantined (so far; :meth:`result` may add schema rejects)?"""
        return key in self._quarantined

    def reject(self, key: Hashable, field: str | None, reason: str, original: Any = None) -> None:
        """Quarantine the record ``key`` (once; later problems of the same record are not repeated)."""
        if key in self._quarantined:
            return
        self._quarantined.add(key)
        orig = original if original is not None else self.originals.get(key)
        if isinstance(orig, partial):
            orig = orig()
        self.quarantine.append({"file": self.path, "record": key, "field": field, "reason": reason,
                                "original": orig if isinstance(orig, str) else to_text(orig)})

    def add(self, key: Hashable, **values: Any) -> None:
        """Add one judgement of record ``key`` (columns of :data:`FIELDS`; missing ones stay empty)."""
        if self.check_bytes:
            for c in FIELDS:
                if has_bad_bytes(values.get(c)):
                    self.reject(key, c, BAD_BYTES)
                    return
        for c in FIELDS:
            self.cols[c].append(values.get(c))
        self.keys.append(key)

    def result(self, *, task: str | None, guideline_version: str | None,
               gold: pd.DataFrame | None = None) -> ImportResult:
        """Conform the judgements and return the result (one quarantine row per quarantined record)."""
        keys = np.array(self.keys, dtype=object)
        if len(keys):
            frame = pd.DataFrame({c: _column(c, v) for c, v in self.cols.items()})
            try:
                conf = conform_labels(frame, task=task, guideline_version=guideline_version)
            except SchemaError as exc:  # cannot happen: every column is present
                raise InputRefused(self.path, str(exc)) from None
            ok = np.ones(len(keys), dtype=bool)
            for r in conf.rejects.itertuples(index=False):
                k = keys[int(r.row)]
                ok[int(r.row)] = False
                self.reject(k, str(r.field), _reason(r.reason, r.value))
            table = conf.table
            kept_keys = keys[ok]
            if self._quarantined:
                drop = np.fromiter((k in self._quarantined for k in kept_keys), dtype=bool, count=len(kept_keys))
                if drop.any():
                    from labkit.schema import finalize_labels

                    table = finalize_labels(table.loc[~drop].reset_index(drop=True))
        else:
            table = empty_labels()
        q = quarantine_frame(self.quarantine)
        return ImportResult(table, q, records_in=self.records_in, accepted=self.records_in - len(q),
                            format=self.format, path=self.path, skipped=dict(self.skipped), gold=gold,
                            notes=self.notes)
