"""CSV / TSV / Parquet / JSONL files with canonical columns or common aliases.

MINIMAL FIRST VERSION (to be hardened: ragged rows, encodings, line numbers).
"""

from __future__ import annotations

import json

import pandas as pd

from labkit.errors import InputRefused, SchemaError
from labkit.io.base import ImportResult, quarantine_frame, register
from labkit.schema import conform_labels, resolve_aliases


def _finish(df: pd.DataFrame, path: str, fmt: str, task: str | None, gv: str | None, first_record: int) -> ImportResult:
    mapping = resolve_aliases([str(c) for c in df.columns])
    df = df.rename(columns=mapping)
    try:
        conf = conform_labels(df, task=task, guideline_version=gv)
    except SchemaError as exc:
        raise InputRefused(path, str(exc)) from None
    rows = []
    originals = df.iloc[conf.rejects["row"].to_numpy()] if len(conf.rejects) else df.iloc[:0]
    for (_, r), (_, orig) in zip(conf.rejects.iterrows(), originals.iterrows()):
        rows.append({"file": path, "record": int(r["row"]) + first_record, "field": r["field"],
                     "reason": r["reason"], "original": json.dumps({str(k): (None if pd.isna(v) else str(v)) for k, v in orig.items()}, ensure_ascii=False)})
    q = quarantine_frame(rows)
    notes = [f"ignored column(s): {', '.join(map(str, conf.ignored_columns))}"] if conf.ignored_columns else []
    return ImportResult(conf.table, q, records_in=len(df), accepted=len(df) - len(q), format=fmt, path=path, notes=notes)


def _looks_csv(head: bytes, path: str) -> bool:
    return path.lower().endswith((".csv", ".tsv", ".txt"))


@register("csv", suffixes=(".csv", ".tsv", ".txt"), sniff=_looks_csv, priority=-10)
def read_csv(path: str, *, task: str | None = None, guideline_version: str | None = None) -> ImportResult:
    sep = "\t" if path.lower().endswith(".tsv") else ","
    try:
        df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig")
    except Exception as exc:
        raise InputRefused(path, f"not a readable CSV file ({exc.__class__.__name__}: {exc})") from None
    # CSV records are numbered by file line: line 1 is the header, so data row 0 is line 2.
    return _finish(df, path, "csv", task, guideline_version, first_record=2)


@register("parquet", suffixes=(".parquet",))
def read_parquet(path: str, *, task: str | None = None, guideline_version: str | None = None) -> ImportResult:
    try:
        df = pd.read_parquet(path)
    except Exception as exc:
        raise InputRefused(path, f"not a readable Parquet file ({exc.__class__.__name__}: {exc})") from None
    return _finish(df, path, "parquet", task, guideline_version, first_record=0)
