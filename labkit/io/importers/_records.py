"""Shared machinery for the JSON-shaped importers (Label Studio, Prodigy, Argilla).

A :class:`Collector` gathers judgements (one dict-of-columns entry each) together with the key of the
record they came from, quarantines whole records, and finally conforms everything with
:func:`labkit.schema.conform_labels`. A record is accepted or quarantined as a whole: when one of its
judgements cannot be represented (an unparseable timestamp, say), all of its judgements leave the
table and the record goes to the quarantine once.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Hashable, Iterator
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
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more characters]"


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


def load_json_document(path: str) -> Any:
    """Parse a whole JSON file, refusing a truncated or malformed one with where it broke."""
    try:
        with open(path, encoding="utf-8-sig") as fh:
            text = fh.read()
    except UnicodeDecodeError as exc:
        raise InputRefused(path, f"is not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        at_end = exc.pos >= len(text.rstrip()) - 1
        what = "truncated JSON (the document ends before it is complete)" if at_end else "malformed JSON"
        raise InputRefused(path, f"is {what}: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


def iter_json_lines(path: str) -> Iterator[tuple[int, Any, str | None, str]]:
    """Yield ``(line_number, object, error, raw_line)`` for each non-blank line of a JSONL file.

    ``error`` is None for a parsed line, else why it could not be parsed (bad JSON, bytes that are
    not UTF-8); then ``object`` is None. Line numbers are 1-based.
    """
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, start=1):
            if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield n, None, f"bytes that are not UTF-8 at column {exc.start + 1}", raw.decode("utf-8", "backslashreplace")
                continue
            line = line.rstrip("\r\n")
            try:
                yield n, json.loads(line), None, line
            except json.JSONDecodeError as exc:
                yield n, None, f"broken JSON line: {exc.msg} (column {exc.pos + 1})", line


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

    def new_record(self, key: Hashable, original: Any) -> None:
        """Count one input record; ``original`` is kept (by reference) to show it if quarantined."""
        self.records_in += 1
        self.originals[key] = original

    def skip(self, reason: str) -> None:
        """The current record is accepted but carries no judgement."""
        self.skipped[reason] += 1

    def reject(self, key: Hashable, field: str | None, reason: str, original: Any = None) -> None:
        """Quarantine the record ``key`` (once; later problems of the same record are not repeated)."""
        if key in self._quarantined:
            return
        self._quarantined.add(key)
        orig = original if original is not None else self.originals.get(key)
        self.quarantine.append({"file": self.path, "record": key, "field": field, "reason": reason,
                                "original": orig if isinstance(orig, str) else to_text(orig)})

    def add(self, key: Hashable, **values: Any) -> None:
        """Add one judgement of record ``key`` (columns of :data:`FIELDS`; missing ones stay empty)."""
        for c in FIELDS:
            self.cols[c].append(values.get(c))
        self.keys.append(key)

    def result(self, *, task: str | None, guideline_version: str | None,
               gold: pd.DataFrame | None = None) -> ImportResult:
        """Conform the judgements and return the result (one quarantine row per quarantined record)."""
        keys = np.array(self.keys, dtype=object)
        if len(keys):
            frame = pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in self.cols.items()})
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
