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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from labkit import _jsonl
from labkit._atomic import atomic_group, check_group
from labkit.errors import InputRefused
from labkit.schema import check_labels
from labkit.schema import conform_gold as _conform_gold

QUARANTINE_COLUMNS = ("file", "record", "field", "reason", "original")


@dataclass
class ImportResult:
    """What an importer returns.

    Attributes
    ----------
    table : the canonical label table (accepted judgements).
    quarantine : exactly one row per quarantined record: file, record, field, reason, original.
        ``record`` locates it as the format names it: the 1-based file line for CSV/TSV and JSONL
        (an int), the 0-based row for Parquet (an int), a path such as
        ``"$[3].annotations[0].result[1]"`` inside a JSON document, or ``"line 6 $.responses.label[0]"``
        inside a JSONL line (a str). ``original`` is the record as text (JSON for JSON inputs).
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
        """How many records were quarantined (the quarantine holds one row per record)."""
        return int(len(self.quarantine))

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


def _printable_str(value: Any) -> Any:
    """A str holding surrogate escapes (bytes that were not UTF-8) made printable as ``\\xNN``; others as is."""
    if isinstance(value, str) and not value.isascii():
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return value


def quarantine_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Build a quarantine frame from dicts with the :data:`QUARANTINE_COLUMNS` keys."""
    rows = [{k: _printable_str(v) for k, v in r.items()} for r in rows]
    df = pd.DataFrame(rows, columns=list(QUARANTINE_COLUMNS))
    df = df.astype({"file": "string", "field": "string", "reason": "string", "original": "string"})
    df["record"] = df["record"].astype(object)  # an int (line, row) or a str (path in a JSON document)
    return df


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
SNIFF_WIDE_BYTES = 1 << 25  # JSON only: how far to look when the first record is longer than SNIFF_BYTES


def _read_prefix(path: str, n: int) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def read_head(path: str) -> bytes:
    """The first bytes of ``path``; refuses a missing or empty file with one message."""
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


_MAGIC = (
    (b"\x1f\x8b", "is gzip-compressed; decompress it first (gunzip)"),
    (b"PK\x03\x04", "is a ZIP archive (an Excel workbook or a zipped export?); export or unzip it as CSV/JSON first"),
    (b"%PDF", "is a PDF document, not a label export"),
    (b"\x89PNG", "is a PNG image, not a label export"),
    (b"\xff\xd8\xff", "is a JPEG image, not a label export"),
    (b"SQLite format 3", "is an SQLite database, not a label export"),
)
_ERROR_KEYS = {"detail", "error", "errors", "message", "msg", "error_description", "title"}


LABEL_CONFIG = "is a Label Studio labeling config"
LABEL_CONFIG_HINT = (", not an export of annotations: in Label Studio open the project, choose Export and JSON (or "
                     "JSON-MIN/CSV), and import that file")
_LS_CONTROLS = {"choices", "labels", "rating", "textarea", "rectanglelabels", "polygonlabels", "keypointlabels",
                "brushlabels", "taxonomy", "number", "datetime", "pairwise", "ranker", "hypertextlabels",
                "paragraphlabels", "timeserieslabels", "ellipselabels", "videorectangle"}


def _is_label_config(obj: Any) -> bool:
    """A Label Studio project (``label_config``) or parsed config (``{control: {type, to_name, ...}}``)."""
    if not isinstance(obj, dict) or not obj:
        return False
    if isinstance(obj.get("label_config"), str) and "<view" in obj["label_config"].lower():
        return True
    if isinstance(obj.get("parsed_label_config"), dict):
        return True
    return all(isinstance(v, dict) and "to_name" in v and str(v.get("type", "")).lower() in _LS_CONTROLS
               for v in obj.values())


def check_text(head: bytes, path: str) -> None:
    """Refuse a file that is not text, or that is an API error body instead of an export.

    Raises
    ------
    InputRefused
        for binary data (NUL bytes, known binary signatures, mostly undecodable bytes), UTF-16 text,
        an HTML page, or a small JSON object that only carries an error (``{"detail": ...}``).
    """
    for magic, why in _MAGIC:
        if head.startswith(magic):
            raise InputRefused(path, why)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputRefused(path, "is UTF-16 text; save it as UTF-8 and import again")
    if b"\x00" in head:
        raise InputRefused(path, "is not a text file (it holds NUL bytes: binary data, not a label export)")
    text = head.decode("utf-8", errors="replace")
    if text.count("\ufffd") > max(8, len(text) // 10):
        raise InputRefused(path, "is not a text file (most of its bytes are not UTF-8 text)")
    stripped = text.lstrip("\ufeff \t\r\n")
    low = stripped[:512].lower()
    if low.startswith(("<!doctype html", "<html")) or (low.startswith("<") and "<html" in low):
        import re

        m = re.search(r"<title[^>]*>(.*?)</title>", stripped, flags=re.I | re.S)
        title = f" titled {' '.join(m.group(1).split())[:120]!r}" if m else ""
        raise InputRefused(path, f"is an HTML page{title}, not a label export (an error or login page saved "
                                 "instead of the export?)")
    if low.startswith("<view") or (low.startswith("<?xml") and "<view" in low):
        raise InputRefused(path, LABEL_CONFIG + " (XML <View>)" + LABEL_CONFIG_HINT)
    if stripped.startswith("{") and len(head) < SNIFF_BYTES:
        try:
            obj = json.loads(stripped)
        except ValueError:
            return
        if _is_label_config(obj):
            raise InputRefused(path, LABEL_CONFIG + " (JSON)" + LABEL_CONFIG_HINT)
        if isinstance(obj, dict) and obj and len(obj) <= 6 and _ERROR_KEYS & set(obj) and not any(
                isinstance(v, list) and v and isinstance(v[0], dict) and k not in ("errors",) for k, v in obj.items()):
            detail = next(obj[k] for k in ("detail", "error", "message", "msg", "error_description", "title", "errors")
                          if k in obj)
            raise InputRefused(path, f"is an API error response, not a label export: {json.dumps(detail, ensure_ascii=False)[:300]}")


def detect_format(path: str) -> str:
    """Pick an importer for ``path`` by sniffing its first bytes, then by suffix.

    Parquet is recognised by its magic bytes; the JSON formats by their keys (Label Studio
    ``annotations``/``result``, Prodigy ``_input_hash``/``answer``, Argilla ``responses``/``fields``);
    anything else that is text goes to the CSV/TSV or JSONL reader.
    """
    _load_builtin_importers()
    head = read_head(path)
    if head.startswith(b"PAR1"):
        return "parquet"
    check_text(head, path)
    specs = sorted(IMPORTERS.values(), key=lambda s: -s.priority)
    for spec in specs:
        if spec.sniff is not None and spec.sniff(head, path):
            if spec.priority <= 0 and len(head) == SNIFF_BYTES and head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"[", b"{"):
                # JSON whose first record is longer than the sniffed bytes (a 1 MB text field): look
                # further before settling for plain JSON records
                wide = _read_prefix(path, SNIFF_WIDE_BYTES)
                for s2 in specs:
                    if s2.priority > 0 and s2.sniff is not None and s2.sniff(wide, path):
                        return s2.name
            return spec.name
    suffix = "".join(Path(path).suffixes[-1:]).lower()
    for spec in IMPORTERS.values():
        if suffix in spec.suffixes:
            return spec.name
    raise InputRefused(path, "cannot tell the format; pass --format "
                       f"({'|'.join(sorted(IMPORTERS))})")


def import_file(path: str | os.PathLike[str], *, format: str = "auto", task: str | None = None,
                guideline_version: str | None = None) -> ImportResult:
    """Import one export file into the canonical label table (see :class:`ImportResult`).

    Parameters
    ----------
    path : the export file.
    format : ``"auto"`` (sniff) or a registered importer name (``csv``, ``parquet``, ``jsonl``,
        ``label-studio``, ``prodigy``, ``argilla``).
    task, guideline_version : fill those columns for records that do not carry them.

    Raises
    ------
    InputRefused
        when the file cannot be read at all (missing, empty, not text, an API error body, truncated
        JSON, missing required columns).
    """
    _load_builtin_importers()
    p = str(path)
    if format != "auto" and format not in IMPORTERS:
        raise InputRefused(p, f"unknown format {format!r}; known: {', '.join(sorted(IMPORTERS))}")
    fmt = detect_format(p) if format == "auto" else format
    if format != "auto":
        head = read_head(p)
        if fmt != "parquet":
            check_text(head, p)
    result = IMPORTERS[fmt].func(p, task=task, guideline_version=guideline_version)
    if result.records_in != result.accepted + result.quarantined:  # an importer bug, never user input
        raise RuntimeError(f"importer {fmt} broke records_in == accepted + quarantined on {p}")
    return result


def load_labels(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *, format: str = "auto",
                task: str | None = None, guideline_version: str | None = None) -> pd.DataFrame:
    """Read anything ``labkit import`` reads (or canonical Parquet) and return one label table.

    ``paths`` is a path, a list of paths, or several paths joined by ``os.pathsep`` (``:`` on
    Linux, as in ``PATH``); their tables are concatenated. Quarantined records are left out; use
    :func:`import_file` to see them.
    """
    return concat_labels([import_file(p, format=format, task=task, guideline_version=guideline_version).table
                          for p in split_paths(paths)])


def split_paths(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[str]:
    """``"a.csv:b.json"`` or ``["a.csv", "b.json"]`` -> ``["a.csv", "b.json"]``."""
    if isinstance(paths, (str, os.PathLike)):
        return [p for p in str(paths).split(os.pathsep) if p]
    return [str(p) for p in paths]


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


def merge_results(results: list[ImportResult]) -> ImportResult:
    """One ImportResult for several files: tables concatenated, quarantines stacked, counts summed."""
    if len(results) == 1:
        return results[0]
    skipped: dict[str, int] = {}
    for r in results:
        for k, v in r.skipped.items():
            skipped[k] = skipped.get(k, 0) + v
    golds = [r.gold for r in results if r.gold is not None and len(r.gold)]
    gold = None
    if golds:
        g = pd.concat([x.astype(object) for x in golds], ignore_index=True)
        gold = _conform_gold(g.drop_duplicates(["item_id", "task"], keep="first"))
    fmts = sorted({r.format for r in results})
    return ImportResult(
        table=concat_labels([r.table for r in results]),
        quarantine=pd.concat([r.quarantine for r in results], ignore_index=True),
        records_in=sum(r.records_in for r in results), accepted=sum(r.accepted for r in results),
        format="+".join(fmts), path=" ".join(r.path for r in results), skipped=skipped, gold=gold,
        notes=[f"{r.path}: {n}" for r in results for n in r.notes])


def quarantine_path(out: str | os.PathLike[str]) -> Path:
    """``labels.parquet`` -> ``labels.quarantine.jsonl`` beside it."""
    o = Path(out)
    return o.with_name(o.name[: -len(o.suffix)] + ".quarantine.jsonl" if o.suffix else o.name + ".quarantine.jsonl")


def gold_path(out: str | os.PathLike[str]) -> Path:
    o = Path(out)
    return o.with_name((o.name[: -len(o.suffix)] if o.suffix else o.name) + ".gold.csv")


def manifest_path(out: str | os.PathLike[str]) -> Path:
    """``labels.parquet`` -> ``labels.manifest.json`` beside it (run id and SHA-256 of the outputs)."""
    o = Path(out)
    return o.with_name((o.name[: -len(o.suffix)] if o.suffix else o.name) + ".manifest.json")


def check_import_output(out: str | os.PathLike[str]) -> str | None:
    """``None`` when the table, quarantine (and gold) beside ``out`` were written together by one import."""
    return check_group(manifest_path(out))


def write_result(result: ImportResult, out: str | os.PathLike[str]) -> dict[str, Any]:
    """Write the table (Parquet), the quarantine (JSONL, always, possibly empty) and any gold (CSV), atomically."""
    out = Path(out)
    check_labels(result.table)
    qpath = quarantine_path(out)
    gp = gold_path(out)
    has_gold = result.gold is not None and len(result.gold) > 0
    dests = [out, qpath] + ([gp] if has_gold else [])
    # table, quarantine (and gold) are replaced together: all are written and fsynced to temporary files
    # first, so a failure (a full disk) leaves the previous pair untouched; the manifest written last
    # records each file's SHA-256 and a run id, so a mismatched pair is detected (check_import_output)
    with atomic_group(dests, manifest=manifest_path(out)) as tmps:
        result.table.to_parquet(tmps[0], index=False)
        with open(tmps[1], "w", encoding="utf-8", newline="") as fh:
            for row in result.quarantine.itertuples(index=False):
                rec = {k: (None if v is None or (not isinstance(v, str) and pd.isna(v)) else v)
                       for k, v in zip(QUARANTINE_COLUMNS, row)}
                if rec["record"] is not None and not isinstance(rec["record"], str):
                    rec["record"] = int(rec["record"])
                fh.write(_jsonl.dumps(rec, ensure_ascii=False) + "\n")
        if has_gold:
            assert result.gold is not None
            result.gold.to_csv(tmps[2], index=False)
    summary = result.summary()
    summary.update(out=str(out), quarantine=str(qpath), manifest=str(manifest_path(out)))
    if has_gold:
        summary["gold_out"] = str(gp)
    elif gp.exists():  # a gold file from an earlier import of other data must not pass for this one's
        gp.unlink()
        summary["stale_gold_removed"] = str(gp)
    reasons = Counter(result.quarantine["reason"].astype(str)) if len(result.quarantine) else Counter()
    summary["quarantine_reasons"] = dict(reasons.most_common())
    return summary


_LOADED = False


def _load_builtin_importers() -> None:
    global _LOADED
    if not _LOADED:
        import labkit.io.importers  # noqa: F401  (registers the built-in importers)

        _LOADED = True
