"""The canonical label table: one row per judgement. The schema lives here and only here.

Every importer produces this table; validation, statistics, calibration, governance and reports read
it. Ids are pandas categoricals, so statistics use their integer codes and never re-factorize strings.

=================  ======================  ==========================================================
column             dtype                   meaning (default when the input does not carry it)
=================  ======================  ==========================================================
item_id            category (str)          the thing being labeled (required)
annotator_id       category (str)          who (or which model) made the judgement (required)
task               category (str)          the labeling question (``"default"``)
label              category (str)          one label; a multi-label answer is several rows (required)
guideline_version  category (str)          semver of the guideline worked under (missing)
created_at         datetime64[ns, UTC]     when the judgement was made (missing)
duration_s         float64                 seconds spent (NaN)
confidence         float64                 self-reported or model score in [0, 1] (NaN)
source             category human|model    automated pre-labels are kept apart (``"human"``)
stage              category                label | review | adjudication (``"label"``)
slice              category (str)          domain / stratum for stratified metrics (missing)
=================  ======================  ==========================================================

Import refuses (quarantines) only what cannot be represented in this typed table: a missing key, an
unparseable timestamp, a non-numeric duration or confidence, an unknown source or stage. Values that
are representable but break policy (negative durations, confidence 1.4, a label the guideline does not
allow) are imported and caught by validation (:mod:`labkit.validation`), where they are reported.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labkit._atomic import atomic_path
from labkit.errors import InputRefused, SchemaError

_STR_DTYPE = pd.Index(["x"]).dtype  # "str" on pandas 3, object on pandas 2
ID_COLUMNS = ("item_id", "annotator_id", "task", "label", "guideline_version", "slice")
SOURCES = ("human", "model")
STAGES = ("label", "review", "adjudication")


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "category" | "datetime" | "float" | "enum"
    required: bool
    default: Any
    doc: str
    values: tuple[str, ...] = ()


LABEL_COLUMNS: tuple[Column, ...] = (
    Column("item_id", "category", True, None, "the thing being labeled"),
    Column("annotator_id", "category", True, None, "who made the judgement"),
    Column("task", "category", False, "default", "the labeling question"),
    Column("label", "category", True, None, "one label per row"),
    Column("guideline_version", "category", False, None, "guideline semver worked under"),
    Column("created_at", "datetime", False, None, "UTC timestamp"),
    Column("duration_s", "float", False, np.nan, "seconds spent"),
    Column("confidence", "float", False, np.nan, "score in [0, 1]"),
    Column("source", "enum", False, "human", "human or model", SOURCES),
    Column("stage", "enum", False, "label", "label, review or adjudication", STAGES),
    Column("slice", "category", False, None, "domain or stratum"),
)
LABEL_COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in LABEL_COLUMNS)
REQUIRED_LABEL_COLUMNS: tuple[str, ...] = tuple(c.name for c in LABEL_COLUMNS if c.required)

GOLD_COLUMNS: tuple[Column, ...] = (
    Column("item_id", "category", True, None, "the gold item"),
    Column("task", "category", False, "default", "the labeling question"),
    Column("label", "category", True, None, "the correct label"),
    Column("guideline_version", "category", False, None, "guideline version the gold was decided under"),
    Column("decided_by", "category", False, None, "who decided it"),
    Column("rationale", "string", False, None, "why"),
)
GOLD_COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in GOLD_COLUMNS)

ITEM_COLUMNS: tuple[Column, ...] = (
    Column("item_id", "category", True, None, "the item"),
    Column("task", "category", False, "default", "the labeling question"),
    Column("text", "string", False, None, "what the annotator saw"),
    Column("slice", "category", False, None, "domain or stratum"),
)

#: Common names in exports, mapped to canonical columns (matched case-insensitively).
ALIASES: dict[str, str] = {
    # crowd-kit uses task for the item and worker for the annotator
    "item": "item_id", "itemid": "item_id", "item_id": "item_id", "unit": "item_id", "unit_id": "item_id",
    "example_id": "item_id", "doc_id": "item_id", "object_id": "item_id", "question_id": "item_id",
    "orig_id": "item_id", "task_id": "item_id", "sample_id": "item_id",
    "annotator": "annotator_id", "annotator_id": "annotator_id", "worker": "annotator_id",
    "worker_id": "annotator_id", "user": "annotator_id", "user_id": "annotator_id", "rater": "annotator_id",
    "rater_id": "annotator_id", "coder": "annotator_id", "labeler": "annotator_id", "labeler_id": "annotator_id",
    "_annotator_id": "annotator_id", "completed_by": "annotator_id", "judge": "annotator_id",
    "workerid": "annotator_id", "amt_worker_id": "annotator_id", "amt_worker_ids": "annotator_id",
    "!amt_worker_ids": "annotator_id",  # Mechanical Turk batch results; Snow et al. (2008) files
    "label": "label", "response": "label", "answer": "label", "value": "label", "category": "label",
    "class": "label", "annotation": "label", "choice": "label",
    "project": "task", "question": "task", "task_name": "task", "labeling_task": "task",
    "guideline_version": "guideline_version", "guidelines_version": "guideline_version",
    "guideline": "guideline_version", "schema_version": "guideline_version",
    "created_at": "created_at", "timestamp": "created_at", "time": "created_at", "created": "created_at",
    "submitted_at": "created_at", "date": "created_at",
    "duration_s": "duration_s", "duration": "duration_s", "lead_time": "duration_s", "time_spent": "duration_s",
    "seconds": "duration_s", "work_time_s": "duration_s",
    "confidence": "confidence", "score": "confidence", "probability": "confidence",
    "source": "source", "origin": "source", "stage": "stage", "phase": "stage",
    "slice": "slice", "domain": "slice", "stratum": "slice", "segment": "slice",
}
# crowd-kit's long table is (task, worker, label) where "task" is the item, and the truth-inference
# benchmark files of Zheng et al. (2017) are (question, worker, answer) where "question" is the item.
# Handled in resolve_aliases.

_SOURCE_ALIASES = {"human": "human", "annotator": "human", "person": "human", "model": "model",
                   "prediction": "model", "prelabel": "model", "pre-label": "model", "machine": "model"}
_STAGE_ALIASES = {"label": "label", "labeling": "label", "annotation": "label", "annotate": "label",
                  "review": "review", "qa": "review", "adjudication": "adjudication", "adjudicate": "adjudication"}


def resolve_aliases(columns: list[str]) -> dict[str, str]:
    """Map input column names to canonical ones (``{input_name: canonical_name}``).

    Canonical names win over aliases; the first alias seen for a canonical column wins. A
    crowd-kit table (``task, worker, label`` with no item column) maps ``task`` to ``item_id``; so does
    a truth-inference benchmark table (``question, worker, answer``, Zheng et al. 2017) map ``question``.
    """
    lowered = {c: c.strip().lower().replace(" ", "_").replace("-", "_") for c in columns}
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for c, low in lowered.items():  # exact canonical names first
        if low in LABEL_COLUMN_NAMES and low not in taken:
            mapping[c] = low
            taken.add(low)
    has_worker = any(ALIASES.get(low) == "annotator_id" for low in lowered.values())
    crowdkit = "item_id" not in taken and "task" in lowered.values() and has_worker
    item_named = any(low == "task" or ALIASES.get(low) == "item_id" for low in lowered.values())
    if not crowdkit and not item_named and has_worker:
        question = next((c for c, low in lowered.items() if low == "question"), None)
        if question is not None:
            mapping[question] = "item_id"
            taken.add("item_id")
    for c, low in lowered.items():
        if c in mapping:
            if crowdkit and mapping[c] == "task":
                mapping[c] = "item_id"
                taken.discard("task")
                taken.add("item_id")
            continue
        target = ALIASES.get(low)
        if target and target not in taken:
            mapping[c] = target
            taken.add(target)
    return mapping


@dataclass
class Conformed:
    """A table conformed to a schema, plus the rows that could not be (with reasons)."""

    table: pd.DataFrame
    rejects: pd.DataFrame  # columns: row (position in input), field, value, reason
    ignored_columns: list[str] = field(default_factory=list)


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")


def _nested_mask(values: pd.Series) -> np.ndarray:
    """True where a value is a list, tuple, array or mapping (checked only for object columns)."""
    if values.dtype != object:
        return np.zeros(len(values), dtype=bool)
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind in ("string", "integer", "floating", "mixed-integer-float", "boolean", "empty", "decimal"):
        return np.zeros(len(values), dtype=bool)
    return values.map(lambda v: isinstance(v, (list, tuple, dict, set, np.ndarray))).to_numpy(dtype=bool)


def _control_mask(values: pd.Series) -> np.ndarray:
    """True where a text value holds a line break or another control character (distinct values only)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, uniques = values.cat.codes.to_numpy(), values.cat.categories
    elif pd.api.types.is_numeric_dtype(values.dtype):
        return np.zeros(len(values), dtype=bool)
    else:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    bad = np.array([isinstance(u, str) and _CONTROL.search(u) is not None for u in uniques], dtype=bool)
    if not bad.any():
        return np.zeros(len(values), dtype=bool)
    return (codes >= 0) & bad[np.maximum(codes, 0)]


def _float_id(u: Any) -> Any:
    """An id read as a float: ``1.0`` -> ``"1"`` when integral, else its shortest text (``2.5`` -> ``"2.5"``)."""
    if isinstance(u, (float, np.floating)) and np.isfinite(u):
        return str(int(u)) if float(u).is_integer() else repr(float(u))
    return u


def _as_category(values: pd.Series, *, float_ids: bool = False, exact: bool = False) -> pd.Series:
    """Strings stripped, empty -> missing, as a categorical of str (categories sorted).

    With ``float_ids``, a float column (ids a Parquet or JSON writer stored as numbers) gives ``"1"`` for
    ``1.0`` (integral values only) and ``"2.5"`` for ``2.5``, never ``"1.0"``. ``exact`` keeps each string
    byte for byte (labels: a guideline may define ``"Positive\n"``); only an empty or all-whitespace value
    becomes missing.

    Works on the distinct values only (factorize once, then strip and sort the few categories), so
    a million-row id column costs one hash pass, and an already categorical column almost nothing.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        uniques = values.cat.categories
    else:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if float_ids and (pd.api.types.is_float_dtype(values.dtype) or
                      (isinstance(values.dtype, pd.CategoricalDtype) and pd.api.types.is_float_dtype(uniques.dtype))):
        uniques = pd.Index([_float_id(u) for u in uniques], dtype=object)
    text = pd.Series(np.asarray(uniques, dtype=object), dtype=object).astype("string")
    stripped = text.str.strip()
    stripped = (text if exact else stripped).mask(stripped == "")
    new_codes, new_uniques = pd.factorize(stripped, use_na_sentinel=True)  # merges "a" and " a"
    names = np.asarray(new_uniques, dtype=object)
    order = _sort_order(names)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    if len(rank):
        remap = np.where(new_codes >= 0, rank[np.maximum(new_codes, 0)], -1)
    else:
        remap = np.full(len(new_codes), -1, dtype=np.int64)
    final = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1) if len(remap) else np.full(len(codes), -1)
    cats = pd.Index(names[order], dtype="str")
    # codes are in range by construction: skip from_codes' validation pass
    return pd.Series(pd.Categorical.from_codes(final, dtype=pd.CategoricalDtype(cats), validate=False), index=values.index)


def _sort_order(names: np.ndarray) -> np.ndarray:
    """Indices that sort distinct strings by code point (what ``np.argsort`` gives), fast.

    pyarrow sorts UTF-8 bytes, which is code point order, without a Python comparison per pair;
    strings that are not valid UTF-8 (surrogate-escaped bytes) take numpy's object sort.
    """
    if len(names) < 1000:
        return np.argsort(names, kind="stable") if len(names) else np.array([], dtype=np.intp)
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        return pc.sort_indices(pa.array(names, type=pa.string())).to_numpy().astype(np.intp, copy=False)
    except (UnicodeEncodeError, pa.ArrowInvalid, pa.ArrowTypeError):
        return np.argsort(names, kind="stable")


def _drop_unused(s: pd.Series) -> pd.Series:
    """``s.cat.remove_unused_categories()``, skipped (one O(n) count) when every category is used."""
    codes = s.cat.codes.to_numpy()
    k = len(s.cat.categories)
    if k == 0:
        return s
    used = np.bincount(codes[codes >= 0], minlength=k) if len(codes) else np.zeros(k, dtype=np.int64)
    if used.all():
        return s
    return s.cat.remove_unused_categories()


def _arrow_strings(raw: pd.Series) -> Any:
    """The pyarrow string array behind ``raw`` (trimmed), or None when it is not arrow-backed strings."""
    arr = getattr(raw.array, "_pa_array", None)
    if arr is None:
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    return pc.utf8_trim_whitespace(arr)


def _fast_numbers(raw: pd.Series) -> pd.Series | None:
    """Arrow-backed strings cast to float64 in one vectorized call; None when any value does not parse."""
    arr = _arrow_strings(raw)
    if arr is None:
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        out = pc.cast(arr, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return pd.Series(out.to_numpy(zero_copy_only=False), index=raw.index, dtype="float64")


def _fast_times(raw: pd.Series) -> pd.Series | None:
    """Arrow-backed ISO 8601 strings cast to UTC timestamps in one call; None when any value does not parse."""
    arr = _arrow_strings(raw)
    if arr is None:
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    first = raw.dropna().head(1)
    if first.empty or "-" not in str(first.iloc[0]):  # epoch numbers take the general path
        return None
    try:
        out = pc.cast(arr, pa.timestamp("ns", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return pd.Series(out.to_pandas(), index=raw.index).astype("datetime64[ns, UTC]")


def _rejects_frame(rows: list[np.ndarray], fields: list[str], values: list[pd.Series], reasons: list[str]) -> pd.DataFrame:
    parts = []
    for r, f, v, why in zip(rows, fields, values, reasons):
        if len(r):
            parts.append(pd.DataFrame({"row": r, "field": f, "value": v.astype("string").to_numpy(), "reason": why}))
    if not parts:
        return pd.DataFrame({"row": pd.Series([], dtype="int64"), "field": pd.Series([], dtype="string"),
                             "value": pd.Series([], dtype="string"), "reason": pd.Series([], dtype="string")})
    out = pd.concat(parts, ignore_index=True)
    out["field"] = out["field"].astype("string")
    out["value"] = out["value"].astype("string")
    out["reason"] = out["reason"].astype("string")
    return out


def _parse_times(raw: pd.Series) -> pd.Series:
    """Parse timestamps to UTC: ISO strings, epoch seconds or epoch milliseconds."""
    if pd.api.types.is_datetime64_any_dtype(raw):
        s = pd.to_datetime(raw, utc=True)
        return s.astype("datetime64[ns, UTC]")
    fast = _fast_times(raw)
    if fast is not None:
        return fast
    if pd.api.types.is_numeric_dtype(raw):
        num = raw.astype("float64")
    elif pd.api.types.is_string_dtype(raw) and len(raw) > 10_000:
        # A big text column that is not all ISO 8601 (a few bad values): only strings without a dash
        # can be epoch numbers, so the slow element-wise numeric parse runs on those alone.
        dashed = raw.str.contains("-", regex=False).fillna(False).to_numpy(dtype=bool)
        num = pd.Series(np.nan, index=raw.index, dtype="float64")
        if (~dashed).any():
            num.loc[~dashed] = pd.to_numeric(raw[~dashed], errors="coerce").astype("float64")
        neg = dashed & raw.str.strip().str.startswith("-").fillna(False).to_numpy(dtype=bool)
        if neg.any():  # negative epoch numbers
            num.loc[neg] = pd.to_numeric(raw[neg], errors="coerce").astype("float64")
    else:
        num = pd.to_numeric(raw, errors="coerce")
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns, UTC]")
    is_num = num.notna()
    if is_num.any():
        n = num[is_num].astype("float64")
        ms = n > 1e11  # epoch milliseconds (Prodigy and Label Studio both appear in the wild)
        secs = n.where(~ms, n / 1000.0)
        out.loc[is_num] = pd.to_datetime(secs, unit="s", utc=True, errors="coerce").astype("datetime64[ns, UTC]")
    rest = ~is_num & raw.notna()
    if rest.any():
        txt = raw[rest].astype("string").str.strip()
        parsed = pd.to_datetime(txt, utc=True, errors="coerce", format="ISO8601")
        if parsed.isna().any():  # mixed formats: fall back per element for the ones ISO8601 missed
            again = pd.to_datetime(txt[parsed.isna()], utc=True, errors="coerce", format="mixed")
            parsed = parsed.astype("datetime64[ns, UTC]")
            parsed.loc[again.index] = again.astype("datetime64[ns, UTC]")
        out.loc[rest] = parsed.astype("datetime64[ns, UTC]")
    return out


def conform_labels(
    df: pd.DataFrame,
    *,
    task: str | None = None,
    guideline_version: str | None = None,
    keep_extra: bool = False,
) -> Conformed:
    """Conform a frame whose columns already carry canonical names (see :func:`resolve_aliases`).

    ``task`` / ``guideline_version`` fill those columns where the input leaves them empty. Rows that
    cannot be represented are returned in ``rejects`` (one row per problem; the first problem of a row
    is enough to reject it) and left out of ``table``. Raises :class:`SchemaError` when a required
    column is missing altogether.
    """
    missing = [c for c in REQUIRED_LABEL_COLUMNS if c not in df.columns]
    if missing:
        raise SchemaError(
            f"missing required column(s) {', '.join(missing)}; found {', '.join(map(str, df.columns)) or 'none'}")
    n = len(df)
    df = df.reset_index(drop=True)
    bad = np.zeros(n, dtype=bool)
    rj_rows: list[np.ndarray] = []
    rj_fields: list[str] = []
    rj_values: list[pd.Series] = []
    rj_reasons: list[str] = []

    def reject(mask: np.ndarray, fieldname: str, values: pd.Series, reason: str) -> None:
        new = mask & ~bad
        if new.any():
            idx = np.flatnonzero(new)
            rj_rows.append(idx)
            rj_fields.append(fieldname)
            rj_values.append(values.iloc[idx])
            rj_reasons.append(reason)
            bad[new] = True

    out: dict[str, pd.Series] = {}
    for col in ("item_id", "annotator_id", "label"):
        raw = df[col]
        nested = _nested_mask(raw)
        if nested.any():  # a list label (multi-label answer) or a mapping: one value per row is required
            reject(nested, col, raw.map(repr), f"{col} is a list or mapping, not one value (put one label per row)")
            raw = raw.where(~nested, None)
        s = _as_category(raw, float_ids=col != "label", exact=col == "label")
        reject(s.isna().to_numpy(), col, df[col], f"{col} is empty")
        ctrl = _control_mask(raw) if col != "label" else np.zeros(len(raw), dtype=bool)  # labels are kept exact
        if ctrl.any():  # "a\n" would be stripped to "a" and merged with another id: refused, never guessed
            reject(ctrl, col, raw, f"{col} contains a line break or control character")
        out[col] = s
    for col, fill in (("task", task or "default"), ("guideline_version", guideline_version), ("slice", None)):
        if col in df.columns:
            s = _as_category(df[col])
            if fill is not None:
                s = s.cat.add_categories([fill]) if fill not in s.cat.categories else s
                s = s.fillna(fill)
        else:
            s = pd.Series(pd.Categorical([fill] * n) if fill is not None else pd.Categorical([None] * n, categories=pd.Index([], dtype="str")), index=df.index)
        out[col] = s
    if "created_at" in df.columns:
        raw = df["created_at"]
        t = _parse_times(raw)
        missing_t = t.isna().to_numpy()
        if missing_t.any():
            present = raw.notna().to_numpy().copy()
            if raw.dtype == object or pd.api.types.is_string_dtype(raw):
                present &= (raw.astype("string").str.strip() != "").fillna(False).to_numpy()
            reject(present & missing_t, "created_at", raw, "created_at is not a timestamp (ISO 8601 or epoch)")
        out["created_at"] = t
    else:
        out["created_at"] = pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns, UTC]")
    for col in ("duration_s", "confidence"):
        if col in df.columns:
            raw = df[col]
            if pd.api.types.is_float_dtype(raw) or pd.api.types.is_integer_dtype(raw):
                num = raw.astype("float64")
            else:
                fast = _fast_numbers(raw)
                num = fast if fast is not None else pd.to_numeric(raw, errors="coerce").astype("float64")
            missing_n = num.isna().to_numpy()
            if missing_n.any():
                present = raw.notna().to_numpy().copy()
                if raw.dtype == object or pd.api.types.is_string_dtype(raw):
                    present &= (raw.astype("string").str.strip() != "").fillna(False).to_numpy()
                reject(present & missing_n, col, raw, f"{col} is not a number")
            out[col] = num
        else:
            out[col] = pd.Series(np.nan, index=df.index, dtype="float64")
    for col, allowed, aliases in (("source", SOURCES, _SOURCE_ALIASES), ("stage", STAGES, _STAGE_ALIASES)):
        default = "human" if col == "source" else "label"
        if col in df.columns:
            s = _as_category(df[col])  # map the few distinct values, not every row
            target = pd.Series(s.cat.categories.str.lower(), dtype=object).map(aliases)
            known = target.notna().to_numpy()
            to_code = np.array([allowed.index(v) if isinstance(v, str) else allowed.index(default)
                                for v in target], dtype=np.int64)
            codes = s.cat.codes.to_numpy()
            has = codes >= 0
            safe = np.maximum(codes, 0)
            unknown = (has & ~known[safe]) if len(known) else np.zeros(n, dtype=bool)
            reject(np.asarray(unknown, dtype=bool), col, df[col], f"{col} must be one of {', '.join(allowed)}")
            final = np.where(has, to_code[safe], allowed.index(default)) if len(to_code) else np.full(n, allowed.index(default))
            out[col] = pd.Series(pd.Categorical.from_codes(final, categories=list(allowed)), index=df.index)
        else:
            out[col] = pd.Series(pd.Categorical.from_codes(np.full(n, allowed.index(default)), categories=list(allowed)),
                                 index=df.index)
    table = pd.DataFrame({c: out[c] for c in LABEL_COLUMN_NAMES})
    extra = [c for c in df.columns if c not in LABEL_COLUMN_NAMES]
    if keep_extra:
        for c in extra:
            table[c] = df[c]
    if bad.any():
        table = table.loc[~bad].reset_index(drop=True)
    table = finalize_labels(table)
    rejects = _rejects_frame(rj_rows, rj_fields, rj_values, rj_reasons)
    return Conformed(table, rejects.sort_values("row", kind="stable").reset_index(drop=True),
                     [] if keep_extra else extra)


def finalize_labels(table: pd.DataFrame) -> pd.DataFrame:
    """Drop unused categories and make category dtypes canonical (str categories)."""
    for col in ID_COLUMNS:
        s = table[col]
        if not isinstance(s.dtype, pd.CategoricalDtype):
            s = _as_category(s, exact=col == "label")
        s = _drop_unused(s)
        cats = s.cat.categories
        if cats.dtype == _STR_DTYPE:
            plain = cats  # already pandas' default str dtype: skip a Python pass over the categories
        else:
            plain = pd.Index([str(c) for c in cats], dtype=_STR_DTYPE)  # pandas' default str dtype
        if cats.dtype != plain.dtype or not cats.equals(plain):
            s = s.cat.rename_categories(plain)
        table[col] = s
    return table


def check_labels(table: pd.DataFrame) -> None:
    """Raise :class:`SchemaError` unless ``table`` is a canonical label table (columns and dtypes)."""
    missing = [c for c in LABEL_COLUMN_NAMES if c not in table.columns]
    if missing:
        raise SchemaError(f"not a canonical label table: missing column(s) {', '.join(missing)}")
    for c in ID_COLUMNS + ("source", "stage"):
        if not isinstance(table[c].dtype, pd.CategoricalDtype):
            raise SchemaError(f"not a canonical label table: column {c!r} is {table[c].dtype}, expected category")
    if str(table["created_at"].dtype) != "datetime64[ns, UTC]":
        raise SchemaError(f"not a canonical label table: created_at is {table['created_at'].dtype}, expected datetime64[ns, UTC]")
    for c in ("duration_s", "confidence"):
        if table[c].dtype != np.float64:
            raise SchemaError(f"not a canonical label table: {c} is {table[c].dtype}, expected float64")


def empty_labels() -> pd.DataFrame:
    """A canonical label table with no rows."""
    return conform_labels(pd.DataFrame({c: pd.Series([], dtype="string") for c in REQUIRED_LABEL_COLUMNS})).table


#: A categorical with more distinct values than this is written as plain strings (see :func:`write_labels`).
WIDE_DICTIONARY = 1 << 16
#: Rows per Parquet row group in files labkit writes (DuckDB's size, about 120k rows).
ROW_GROUP_ROWS = 1 << 17


def write_labels(table: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a canonical label table to Parquet atomically.

    Categoricals with few values (task, label, guideline version, ...) are kept as Arrow dictionaries.
    A categorical with many values (item ids, often annotator ids) is written as strings in row groups of
    :data:`ROW_GROUP_ROWS` rows: Parquet then encodes each row group with a dictionary of the ids it holds.
    Written as a pandas categorical, every row group would repeat the whole id dictionary (177 MB instead
    of 52 MB for 10M judgements over 2.9M items), and every reader would decode it once per row group
    (``labkit agreement`` on that file: 7.8 s against 2.3 s; docs/scale.md).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    check_labels(table)
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    for i, name in enumerate(arrow.column_names):
        col = arrow.column(i)
        if pa.types.is_dictionary(col.type) and any(len(ch.dictionary) > WIDE_DICTIONARY for ch in col.chunks):
            arrow = arrow.set_column(i, pa.field(name, pa.string()), pc.cast(col, pa.string()))
    with atomic_path(path, suffix=".parquet") as tmp:
        pq.write_table(arrow, tmp, row_group_size=ROW_GROUP_ROWS)
    return Path(path)


def _string_columns(path: str | os.PathLike[str]) -> list[str]:
    """Id columns stored as plain strings (read back as dictionaries, without a Python string per row)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except Exception:  # refused with the reason by the read that follows
        return []
    return [n for n in ID_COLUMNS if n in schema.names
            and (pa.types.is_string(schema.field(n).type) or pa.types.is_large_string(schema.field(n).type))]


def read_labels_parquet(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a canonical Parquet label table written by :func:`write_labels` (or any conforming one)."""
    try:
        df = pd.read_parquet(path, read_dictionary=_string_columns(path))
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise InputRefused(str(path), f"not a readable Parquet file ({exc.__class__.__name__}: {exc})") from None
    if all(c in df.columns for c in LABEL_COLUMN_NAMES):
        try:
            check_labels(df)
            return finalize_labels(df)
        except SchemaError:
            pass
    conformed = conform_labels(df.rename(columns=resolve_aliases(list(df.columns))))
    if len(conformed.rejects):
        r = conformed.rejects.iloc[0]
        raise InputRefused(str(path), f"{r['reason']} (value {r['value']!r})", record=int(r["row"]), field=str(r["field"]))
    return conformed.table


def conform_gold(df: pd.DataFrame, *, path: str = "<gold>") -> pd.DataFrame:
    """Conform a gold table: ``item_id`` plus ``label`` or ``gold``; optional task, version, decided_by, rationale."""
    cols = {c: c.strip().lower() for c in df.columns}
    df = df.rename(columns=cols)
    if "label" not in df.columns:
        for alt in ("gold", "gold_label", "truth", "true_label", "answer"):
            if alt in df.columns:
                df = df.rename(columns={alt: "label"})
                break
    if "item_id" not in df.columns:
        m = {k: v for k, v in resolve_aliases(list(df.columns)).items() if v == "item_id"}
        df = df.rename(columns=m)
    missing = [c for c in ("item_id", "label") if c not in df.columns]
    if missing:
        raise InputRefused(path, f"a gold file needs item_id and a label (or gold) column; missing {', '.join(missing)}")
    out = pd.DataFrame({"item_id": _as_category(df["item_id"]), "label": _as_category(df["label"], exact=True)})
    out["task"] = _as_category(df["task"]).fillna("default") if "task" in df.columns else pd.Categorical(["default"] * len(df))
    for c in ("guideline_version", "decided_by"):
        out[c] = _as_category(df[c]) if c in df.columns else pd.Categorical([None] * len(df), categories=pd.Index([], dtype="str"))
    out["rationale"] = df["rationale"].astype("string") if "rationale" in df.columns else pd.Series(pd.NA, index=df.index, dtype="string")
    out = out[list(GOLD_COLUMN_NAMES)]
    empty = out["item_id"].isna() | out["label"].isna()
    if empty.any():
        first = int(np.flatnonzero(empty.to_numpy())[0])
        raise InputRefused(path, "gold row has an empty item_id or label", record=first + 2, field="item_id/label")
    dup = out.duplicated(["item_id", "task"], keep="first")
    if dup.any():  # records are file lines: line 1 is the header
        second = int(np.flatnonzero(dup.to_numpy())[0])
        key = (out["item_id"].iloc[second], out["task"].iloc[second])
        first = int(np.flatnonzero(((out["item_id"] == key[0]) & (out["task"] == key[1])).to_numpy())[0])
        raise InputRefused(path, f"item {key[0]!r} has more than one gold label for task {key[1]!r} "
                           f"(first at record {first + 2})", record=second + 2, field="item_id")
    for c in ("item_id", "task", "label", "guideline_version", "decided_by"):
        out[c] = out[c].astype("category")
    return out.reset_index(drop=True)


def read_gold(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a gold file (CSV, TSV, Parquet or JSONL) into the gold schema."""
    p = str(path)
    try:
        if p.endswith(".parquet"):
            df = pd.read_parquet(p)
        elif p.endswith((".jsonl", ".ndjson")):
            df = pd.read_json(p, lines=True, dtype=False)
        else:
            df = pd.read_csv(p, sep=None, engine="python", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputRefused(p, "no such file") from None
    except Exception as exc:
        raise InputRefused(p, f"cannot read gold file ({exc.__class__.__name__}: {exc})") from None
    return conform_gold(df, path=p)
