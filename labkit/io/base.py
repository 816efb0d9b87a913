"""Importer registry and the result every importer returns.

An importer turns one export file into the canonical label table (:mod:`labkit.schema`) plus a
quarantine: every input record is either accepted (read and understood; it may carry zero
judgements, e.g. a cancelled Label Studio annotation or an ignored Prodigy answer, counted in
``skipped``) or quarantined with a reason naming the file, the record (line or index) and the field.
So ``records_in == accepted + quarantined`` always holds. A file that cannot be read at all raises
:class:`~labkit.errors.InputRefused`.

Importers register themselves by name (like papermill's I/O handlers register by scheme)::

    @register("prodigy", suffixes=(".jsonl",), sniff=looks_like_prodigy)
    def read_prodigy(path, *, task=None, guideline_version=None) -> ImportResult: ...
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from labkit._atomic import atomic_open, atomic_path
from labkit.errors import InputRefused
from labkit.schema import write_labels

QUARANTINE_COLUMNS = ("file", "record", "field", "reason", "original")


@dataclass
class ImportResult:
    """What an importer returns.

    Attributes
    ----------
    table : the canonical label table (accepted judgements).
    quarantine : one row per quarantined record: file, record (1-based line or 0-based index as the
        format names it), field, reason, original (the record as text, JSON for JSON inputs).
    records_in : how many records the input held (the unit is the format's: a CSV row, a JSONL line,
        a Label Studio annotation or prediction, an Argilla response or suggestion).
    accepted : records read and understood (each gives zero or more judgements).
    skipped : accepted records that carry no judgement, by reason (e.g. ``{"was_cancelled": 2}``).
    gold : gold labels found in the export (Label Studio ``ground_truth``), gold schema, or None.
    """

    table: pd.DataFrame
    quarantine: pd.DataFrame
    records_in: int
    accepted: int
    format: str
    path: str
    skipped: dict[str, int] = field(default_factory=dict)
    gold: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def quarantined(self) -> int:
        return int(self.quarantine["record"].nunique()) if len(self.quarantine) else 0

    def summary(self) -> dict[str, Any]:
        t = self.table
        return {
            "format": self.format,
            "src": self.path,
            "records_in": self.records_in,
            "accepted": self.accepted,
            "quarantined": self.quarantined,
            "skipped": dict(self.skipped),
            "judgements": int(len(t)),
            "model_judgements": int((t["source"] == "model").sum()) if len(t) else 0,
            "items": int(t["item_id"].nunique()),
            "annotators": int(t["annotator_id"].nunique()),
            "tasks": sorted(map(str, t["task"].cat.categories)),
            "gold": 0 if self.gold is None else int(len(self.gold)),
            "notes": list(self.notes),
        }


def quarantine_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Build a quarantine frame from dicts with the :data:`QUARANTINE_COLUMNS` keys."""
    df = pd.DataFrame(rows, columns=list(QUARANTINE_COLUMNS))
    return df.astype({"file": "string", "field": "string", "reason": "string", "original": "string"})


class Importer(Protocol):
    def __call__(self, path: str, *, task: str | None = None, guideline_version: str | None = None) -> ImportResult: ...


@dataclass(frozen=True)
class ImporterSpec:
    name: str
    func: Importer
    suffixes: tuple[str, ...]
    sniff: Callable[[bytes, str], bool] | None  # (first bytes, path) -> does this look like my format?
    priority: int  # sniffers run in descending priority


IMPORTERS: dict[str, ImporterSpec] = {}


def register(name: str, *, suffixes: tuple[str, ...] = (), sniff: Callable[[bytes, str], bool] | None = None,
             priority: int = 0) -> Callable[[Importer], Importer]:
    """Register an importer under ``name`` (decorator)."""

    def deco(func: Importer) -> Importer:
        IMPORTERS[name] = ImporterSpec(name, func, suffixes, sniff, priority)
        return func

    return deco


SNIFF_BYTES = 1 << 16


def read_head(path: str) -> bytes:
    """The first bytes of ``path``; refuses missing, empty and non-text files with one message."""
    p = Path(path)
    if not p.exists():
        raise InputRefused(path, "no such file")
    if p.is_dir():
        raise InputRefused(path, "is a folder, not a file")
    with open(p, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if not head.strip():
        raise InputRefused(path, "the file is empty")
    return head


def detect_format(path: str) -> str:
    """Pick an importer for ``path`` by sniffing its first bytes, then by suffix."""
    head = read_head(path)
    if head.startswith(b"PAR1"):
        return "parquet"
    for spec in sorted(IMPORTERS.values(), key=lambda s: -s.priority):
        if spec.sniff is not None and spec.sniff(head, path):
            return spec.name
    suffix = "".join(Path(path).suffixes[-1:]).lower()
    for spec in IMPORTERS.values():
        if suffix in spec.suffixes:
            return spec.name
    raise InputRefused(path, "cannot tell the format; pass --format "
                       f"({'|'.join(sorted(IMPORTERS))})")


def import_file(path: str | os.PathLike[str], *, format: str = "auto", task: str | None = None,
                guideline_version: str | None = None) -> ImportResult:
    """Import one export file into the canonical label table (see :class:`ImportResult`)."""
    _load_builtin_importers()
    p = str(path)
    fmt = detect_format(p) if format == "auto" else format
    if fmt not in IMPORTERS:
        raise InputRefused(p, f"unknown format {fmt!r}; known: {', '.join(sorted(IMPORTERS))}")
    if format != "auto":
        read_head(p)
    result = IMPORTERS[fmt].func(p, task=task, guideline_version=guideline_version)
    if result.records_in != result.accepted + result.quarantined:  # an importer bug, never user input
        raise RuntimeError(f"importer {fmt} broke records_in == accepted + quarantined on {p}")
    return result


def load_labels(paths: str | os.PathLike[str] | list[str | os.PathLike[str]], *, format: str = "auto",
                task: str | None = None, guideline_version: str | None = None) -> pd.DataFrame:
    """Read anything ``labkit import`` reads (or canonical Parquet) and return one label table.

    ``paths`` is a path, a list of paths, or several paths joined by ``os.pathsep`` (``:`` on
    Linux, as in ``PATH``); their tables are concatenated. Quarantined records are left out; use
    :func:`import_file` to see them.
    """
    return concat_labels([import_file(p, format=format, task=task, guideline_version=guideline_version).table
                          for p in split_paths(paths)])


def split_paths(paths: str | os.PathLike[str] | list[str | os.PathLike[str]]) -> list[str]:
    """``"a.csv:b.json"`` or ``["a.csv", "b.json"]`` -> ``["a.csv", "b.json"]``."""
    if isinstance(paths, (list, tuple)):
        return [str(p) for p in paths]
    return [p for p in str(paths).split(os.pathsep) if p]


def concat_labels(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate canonical label tables, unioning categories so ids stay categorical."""
    from labkit.schema import ID_COLUMNS, finalize_labels

    if len(tables) == 1:
        return tables[0]
    tables = [t.copy() for t in tables]
    for col in ID_COLUMNS:
        cats = pd.Index(sorted(set().union(*(set(t[col].cat.categories) for t in tables))), dtype="str")
        for t in tables:
            t[col] = t[col].cat.set_categories(cats)
    return finalize_labels(pd.concat(tables, ignore_index=True))


def quarantine_path(out: str | os.PathLike[str]) -> Path:
    """``labels.parquet`` -> ``labels.quarantine.jsonl`` beside it."""
    o = Path(out)
    return o.with_name(o.name[: -len(o.suffix)] + ".quarantine.jsonl" if o.suffix else o.name + ".quarantine.jsonl")


def gold_path(out: str | os.PathLike[str]) -> Path:
    o = Path(out)
    return o.with_name((o.name[: -len(o.suffix)] if o.suffix else o.name) + ".gold.csv")


def write_result(result: ImportResult, out: str | os.PathLike[str]) -> dict[str, Any]:
    """Write the table (Parquet), the quarantine (JSONL, always, possibly empty) and any gold (CSV), atomically."""
    out = Path(out)
    write_labels(result.table, out)
    qpath = quarantine_path(out)
    with atomic_open(qpath, "w") as fh:
        for row in result.quarantine.itertuples(index=False):
            rec = {k: (None if pd.isna(v) else v) for k, v in zip(QUARANTINE_COLUMNS, row)}
            if rec["record"] is not None:
                rec["record"] = int(rec["record"])
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    summary = result.summary()
    summary.update(out=str(out), quarantine=str(qpath))
    if result.gold is not None and len(result.gold):
        gp = gold_path(out)
        with atomic_path(gp, suffix=".csv") as tmp:
            result.gold.to_csv(tmp, index=False)
        summary["gold_out"] = str(gp)
    reasons = Counter(result.quarantine["reason"].astype(str)) if len(result.quarantine) else Counter()
    summary["quarantine_reasons"] = dict(reasons.most_common())
    return summary


_LOADED = False


def _load_builtin_importers() -> None:
    global _LOADED
    if not _LOADED:
        import labkit.io.importers  # noqa: F401  (registers the built-in importers)

        _LOADED = True
