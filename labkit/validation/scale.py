"""Validation past memory: the same suites, the same per-expectation results and failing rows as the
in-memory path, on Parquet inputs too big to load at once (``labkit validate --engine duckdb``).

Great Expectations 1.x cannot validate DuckDB through SQLAlchemy today (every metric errors; GX issues
#10738 and #11579), so the DuckDB engine splits the work by what each expectation needs:

1. **Import in chunks** (pyarrow streams each Parquet file): every chunk goes through the same
   conformance and quarantine as ``labkit import`` (row-wise, so chunking changes nothing: the
   quarantine names the same file and 0-based row, records in = accepted + quarantined). Accepted
   rows are written to ``--temp-dir`` as Parquet, **partitioned by a hash of item_id**, with their row
   number in the input.
2. **GX on item-complete batches.** Each partition holds every row of its items, so every expectation
   whose rows interact only within an item (row-wise checks, duplicates, overlap per item,
   exclusivity and hierarchy per judgement) gives on each partition exactly its share of the
   whole-input result. Each partition is validated with Great Expectations' pandas data source, the
   same suite objects as in memory; counts are summed and failing rows merged in input order.
3. **Cross-item checks on reduced tables.** The two expectations that compare rows across items run
   out of GX: the annotator distribution test (per task, annotator x label counts summed over the
   partitions, then the same G-test code) and the duration outlier test (per task, the exact median
   and MAD of log1p(duration) in DuckDB SQL by order statistics, with numpy's ``log1p`` as a
   vectorized function, so the numbers equal pandas' bit for bit). Their failing rows come back from
   DuckDB.

Memory is bounded by one partition (``batch_rows``, default from ``--memory-limit``), not the input.

``--engine spark`` runs the same driver (:func:`_validate_partitioned`) with a Spark backend
(:mod:`labkit.validation.spark_scale`): Spark does the shuffle into item partitions and the
cross-item reductions; the import and GX are the same code.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from labkit.errors import InputRefused, ParameterError
from labkit.validation.engine import (
    Partial,
    SuiteRunner,
    _blank_versions_marked,
    _rows_from_positions,
    check_guidelines_match,
    finish,
    merge_partials,
    plan_run,
    validate_path,
)
from labkit.validation.report import ExpectationOutcome, ValidationReport

#: Expectation types that compare rows across items: computed over the whole input, outside GX batches.
GLOBAL_TYPES = ("expect_annotator_label_distribution_to_match_pool", "expect_judgement_duration_not_outlier")

#: Table-level expectations whose counts are about the columns (the same on every batch).
PER_TABLE_TYPES = ("expect_column_dtypes_to_match", "expect_table_columns_to_match_set",
                   "expect_table_columns_to_match_ordered_list", "expect_table_column_count_to_equal")

#: Rows per GX batch when no memory limit is given (about 0.4 GB whole process per batch, measured).
DEFAULT_BATCH_ROWS = 500_000

#: Whole-process bytes per row of validating in memory (``--engine auto``'s estimate for ``validate``):
#: bench/bench_engines.py measured 616 MB peak for 1M rows (GX imported included).
BYTES_PER_ROW_IN_MEMORY = 600

#: Bytes one row costs while GX validates a batch (used to size batches under ``--memory-limit``).
BYTES_PER_ROW = 800

_STR_COLS = ("item_id", "annotator_id", "task", "label", "guideline_version", "slice", "source", "stage")


def validate_engine(labels: str | os.PathLike[str] | list[str], guidelines: Any, suites: list[Any] | None = None, *,
                    engine: str = "duckdb", memory_limit: str | int | None = None, temp_dir: str | None = None,
                    batch_rows: int | None = None, progress: Callable[[str], None] | None = None,
                    master: str | None = None, **kwargs: Any) -> ValidationReport:
    """Validate ``labels`` with the given engine (``pandas`` = :func:`validate_path`, in memory).

    ``duckdb`` reads Parquet (a file, a folder or a glob) in chunks; see the module docstring. The
    report carries the quarantine of the import (``records_in``, ``quarantine``) like the pandas path.
    """
    if engine == "pandas":
        from labkit.engines.base import parquet_input

        inp = parquet_input(labels)  # a folder or glob of Parquet files: read them in memory, in order
        if inp is not None and inp.table is None and len(inp.files) and inp.files != (str(labels),):
            report = validate_path(list(inp.files), guidelines, suites, **kwargs)
            report.source = [str(labels)]
            return report
        return validate_path(labels, guidelines, suites, **kwargs)
    if engine == "duckdb":
        return _validate_duckdb(labels, guidelines, suites, memory_limit=memory_limit, temp_dir=temp_dir,
                                batch_rows=batch_rows, progress=progress, **kwargs)
    if engine == "spark":
        from labkit.validation.spark_scale import SparkBackend

        return _validate_partitioned(labels, guidelines, suites, SparkBackend(memory_limit, temp_dir, master),
                                     memory_limit=memory_limit, temp_dir=temp_dir, batch_rows=batch_rows,
                                     progress=progress, **kwargs)
    raise ParameterError(f"engine must be pandas, duckdb or spark, got {engine!r}")


def _batch_rows(memory_limit: str | int | None, batch_rows: int | None) -> int:
    if batch_rows is not None:
        if int(batch_rows) < 1:
            raise ParameterError(f"batch_rows must be at least 1, got {batch_rows}")
        return int(batch_rows)
    from labkit.engines.base import parse_memory

    budget = parse_memory(memory_limit)
    if budget is None:
        return DEFAULT_BATCH_ROWS
    return max(20_000, min(5_000_000, budget // (2 * BYTES_PER_ROW)))


# ----------------------------------------------------------------------------------------- import
def _import_chunk(df: pd.DataFrame, path: str, row0: int, base: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """One chunk of a Parquet file (its rows from ``row0``) through ``labkit import``'s Parquet rules:
    (accepted table with the row number in the whole input, ``base`` + file row, in ``__row``; quarantine
    rows, naming the file's row; accepted count)."""
    from labkit.io.base import quarantine_frame
    from labkit.io.importers._records import to_text
    from labkit.io.importers.tabular import _finish_frame, _is_canonical, _missing_message, _reason
    from labkit.schema import LABEL_COLUMN_NAMES, finalize_labels, resolve_aliases

    names = [str(c) for c in df.columns]
    mapping = resolve_aliases(names)
    missing = _missing_message(names, mapping)
    if missing:
        raise InputRefused(path, missing)
    if _is_canonical(df):
        table = finalize_labels(df[list(LABEL_COLUMN_NAMES)].copy()).reset_index(drop=True)
        table["__row"] = np.arange(base + row0, base + row0 + len(df), dtype=np.int64)
        return table, quarantine_frame([]), len(df)
    sub = df[list(mapping)].rename(columns=mapping)
    conf = _finish_frame(sub, mapping, path, None, None)
    inverse = {v: k for k, v in mapping.items()}
    rows = []
    for r in conf.rejects.itertuples(index=False):
        i = int(r.row)
        rows.append({"file": path, "record": row0 + i, "field": inverse.get(str(r.field), str(r.field)),
                     "reason": _reason(r.reason, r.value),
                     "original": to_text({inverse.get(k, k): v for k, v in sub.iloc[i].items()})})
    keep = np.ones(len(df), dtype=bool)
    keep[conf.rejects["row"].to_numpy(dtype=np.int64)] = False
    table = conf.table.reset_index(drop=True)
    table["__row"] = np.arange(base + row0, base + row0 + len(df), dtype=np.int64)[keep]
    return table, quarantine_frame(rows), int(keep.sum())


def _arrow_schema() -> Any:
    import pyarrow as pa

    fields = [pa.field(c, pa.dictionary(pa.int32(), pa.string())) for c in _STR_COLS]
    fields += [pa.field("created_at", pa.timestamp("ns", tz="UTC")), pa.field("duration_s", pa.float64()),
               pa.field("confidence", pa.float64()), pa.field("__row", pa.int64())]
    return pa.schema(fields)


def _to_arrow(table: pd.DataFrame, schema: Any) -> Any:
    """A conformed chunk as Arrow; the categoricals stay dictionary-encoded (no string per row)."""
    import pyarrow as pa

    cols = []
    for f in schema:
        s = table[f.name]
        if f.name in _STR_COLS:
            codes = s.cat.codes.to_numpy()
            valid = codes >= 0
            used = np.unique(codes[valid])
            new = np.full(len(codes), -1, dtype=np.int32)
            new[valid] = np.searchsorted(used, codes[valid])
            cats = pa.array(np.asarray(s.cat.categories, dtype=object)[used], type=pa.string())
            cols.append(pa.DictionaryArray.from_arrays(pa.array(new, mask=~valid), cats))
        elif pa.types.is_integer(f.type) and pd.api.types.is_datetime64_any_dtype(s):  # ns since the epoch
            cols.append(pa.array(s.to_numpy(dtype="datetime64[ns]").view(np.int64), type=f.type, mask=s.isna().to_numpy()))
        else:
            cols.append(pa.array(s, type=f.type, from_pandas=True))
    return pa.Table.from_arrays(cols, schema=schema)


def _from_arrow(tbl: Any) -> pd.DataFrame:
    """A partition back as a canonical label table (plus ``__row``)."""
    from labkit.schema import LABEL_COLUMN_NAMES, SOURCES, STAGES, finalize_labels

    df = tbl.to_pandas()
    for c, cats in (("source", SOURCES), ("stage", STAGES)):
        df[c] = df[c].cat.set_categories(list(cats))
    out = finalize_labels(df[list(LABEL_COLUMN_NAMES)].copy())
    out["__row"] = df["__row"].to_numpy(dtype=np.int64)
    return out


def _partition(inp_files: tuple[str, ...], out_dir: str, n_parts: int, chunk_rows: int,
               say: Callable[[str], None],
               on_chunk: Callable[[pd.DataFrame], None] | None = None,
               schema: Any = None) -> tuple[int, int, pd.DataFrame, list[str]]:
    """Pass 1: import every file in chunks; write accepted rows to ``n_parts`` Parquet files by item hash
    (``on_chunk`` sees each accepted chunk first, and may add the columns of a wider ``schema``). Returns
    records in, accepted, the quarantine and the partition files written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from labkit.io.base import quarantine_frame

    schema = schema if schema is not None else _arrow_schema()
    writers: dict[int, Any] = {}
    paths = [os.path.join(out_dir, f"part-{p:05d}.parquet") for p in range(n_parts)]
    records_in = accepted = base = 0
    quarantine: list[pd.DataFrame] = []
    try:
        for path in inp_files:
            try:
                pf = pq.ParquetFile(path)
                # the columns pandas reads back as categoricals (dictionary-typed in the file's Arrow
                # schema) are read as dictionaries, as pd.read_parquet does: no Python string per row
                dicts = [f.name for f in pf.schema_arrow if pa.types.is_dictionary(f.type)]
                if dicts:
                    pf = pq.ParquetFile(path, read_dictionary=dicts)
            except Exception as exc:  # pyarrow raises several types for a bad file
                raise InputRefused(path, f"not a readable Parquet file ({exc.__class__.__name__}: {exc})") from None
            if pf.metadata.num_rows == 0:
                raise InputRefused(path, "holds no rows")
            row0 = 0
            for batch in pf.iter_batches(batch_size=chunk_rows):
                df = batch.to_pandas()
                table, q, n_ok = _import_chunk(df, path, row0, base)
                records_in += len(df)
                accepted += n_ok
                row0 += len(df)
                if len(q):
                    quarantine.append(q)
                if not len(table):
                    continue
                if on_chunk is not None:
                    on_chunk(table)
                cats = table["item_id"].cat.categories
                h = pd.util.hash_array(np.asarray(cats, dtype=object)) % np.uint64(n_parts)
                part = h.astype(np.int64)[table["item_id"].cat.codes.to_numpy()]
                for p in np.unique(part):
                    sel = np.flatnonzero(part == p)
                    if int(p) not in writers:
                        writers[int(p)] = pq.ParquetWriter(paths[int(p)], schema)
                    # only the ids of these rows in each dictionary (a chunk's own dictionary holds every id)
                    writers[int(p)].write_table(_to_arrow(table.iloc[sel], schema))
            base += row0
            say(f"imported {path} ({row0:,} rows)")
    finally:
        for w in writers.values():
            w.close()
    q = pd.concat(quarantine, ignore_index=True) if quarantine else quarantine_frame([])
    return records_in, accepted, q, [paths[p] for p in sorted(writers)]


# ------------------------------------------------------------------------------- shared driver
class Backend:
    """Where an engine stages the accepted rows and computes the cross-item reductions.

    :func:`_validate_partitioned` drives it: :meth:`stage` imports the input (the shared chunk importer)
    and leaves item-complete Parquet partitions; :meth:`summary` gives the data's (task, label) pairs
    and row/item/annotator counts; :meth:`distribution_counts` the annotator x label counts of one
    distribution test; :meth:`outlier` the duration-outlier partial.
    """

    name = ""

    def open(self, work: str) -> None:
        """Start the engine, spilling under ``work``."""

    def stage(self, inp: Any, work: str, n_parts: int, chunk_rows: int, say: Callable[[str], None], plan: Any,
              dist: list[dict[str, Any]], dist_acc: list[dict[str, Any]]) -> tuple[int, int, pd.DataFrame, list[str]]:
        raise NotImplementedError

    def summary(self) -> tuple[pd.DataFrame, int, int, int]:
        raise NotImplementedError

    def distribution_counts(self, j: int, acc: dict[str, Any]) -> None:
        """Fill ``acc["counts"]`` for distribution test ``j`` (the DuckDB backend counted while staging)."""

    def outlier(self, exp: dict[str, Any], n_rows: int) -> Partial:
        raise NotImplementedError

    def read_part(self, path: str) -> pd.DataFrame:
        """One partition as a canonical label table (plus ``__row``), in input order."""
        import pyarrow.parquet as pq

        return _from_arrow(pq.read_table(path))

    def close(self) -> None:
        pass


def _validate_partitioned(labels: Any, guidelines: Any, suites: list[Any] | None, backend: Backend, *,
                          memory_limit: str | int | None, temp_dir: str | None, batch_rows: int | None,
                          progress: Callable[[str], None] | None, now: Any = None,
                          retire_grace: float | None = None) -> ValidationReport:
    """The engine-independent part of validating at scale (module docstring): plan, stage, GX per
    partition, cross-item reductions from ``backend``, merge, report."""
    from labkit.engines.base import parquet_input

    say = progress or (lambda msg: None)
    t0 = time.perf_counter()
    inp = parquet_input(labels)
    if inp is None or inp.table is not None:
        raise ParameterError(f"--engine {backend.name} validates Parquet (a file, folder or glob); {labels!r} is not "
                             "Parquet: convert it with `labkit import ... --out labels.parquet`, or use --engine pandas")
    per_batch = _batch_rows(memory_limit, batch_rows)
    total = inp.n_rows()
    n_parts = max(1, math.ceil(total / per_batch))
    if temp_dir is not None:
        os.makedirs(temp_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="labkit-validate-", dir=temp_dir)
    try:
        backend.open(work)
        # guidelines and suites first (blank versions are marked, and the distribution counted, in pass 1);
        # whether the guidelines fit the data is checked once the data's (task, label) pairs are known
        no_pairs = pd.DataFrame({"task": pd.Series([], dtype=object), "label": pd.Series([], dtype=object)})
        plan = plan_run(no_pairs, guidelines, suites, now=now, retire_grace=retire_grace)
        dist = [e for s in plan.suites for e in s.expectations if e["type"] == GLOBAL_TYPES[0]]
        dist_acc: list[dict[str, Any]] = [{"counts": [], "element": 0, "missing": 0} for _ in dist]
        say(f"importing {len(inp.files)} file(s), {total:,} rows, into {n_parts} item partition(s)")
        records_in, accepted, quarantine, parts = backend.stage(inp, work, n_parts, min(per_batch, 262_144), say,
                                                                plan, dist, dist_acc)
        t_import = time.perf_counter()
        if not parts:  # every row quarantined: nothing to validate
            n_rows = n_items = n_ann = 0
        else:
            pairs, n_rows, n_items, n_ann = backend.summary()
            if guidelines is not None:
                check_guidelines_match(pairs, plan.guidelines, plan.root or "guidelines")
            for j, acc in enumerate(dist_acc):
                backend.distribution_counts(j, acc)
        runner = SuiteRunner(plan, exclude=GLOBAL_TYPES)
        t_gx = time.perf_counter()
        per_exp: list[list[Partial]] = [[] for _ in runner.owners]
        flagged = [_flagged(exp, acc) for exp, acc in zip(dist, dist_acc)]
        found: list[list[pd.DataFrame]] = [[] for _ in dist]
        for k, path in enumerate(parts):
            frame = backend.read_part(path)
            if not len(frame):
                continue
            frame = _blank_versions_marked(frame, plan.guidelines)
            for exp, keys, acc_rows in zip(dist, flagged, found):
                _flagged_rows(exp, frame, keys, acc_rows)
            rows = frame["__row"].to_numpy()
            frame = frame.drop(columns="__row")
            for i, part in enumerate(runner.run(frame, rows)):
                per_exp[i].append(part)
            say(f"validated partition {k + 1}/{len(parts)} ({len(frame):,} rows)")
        outcomes: list[ExpectationOutcome] = []
        failing: list[pd.DataFrame] = []
        for (exp, s), parts_i in zip(runner.owners, per_exp):
            merged = merge_partials(parts_i, sum_observed=exp["type"] == "expect_items_to_have_min_distinct_annotators",
                                    per_table=exp["type"] in PER_TABLE_TYPES) \
                if parts_i else Partial(element_count=0, missing_count=0)
            o, f = finish(exp, s, merged)
            outcomes.append(o)
            if len(f):
                failing.append(f)
        for exp, s in runner.excluded:
            if exp["type"] == GLOBAL_TYPES[0]:
                j = next(i for i, e in enumerate(dist) if e is exp)
                part = _distribution_partial(dist_acc[j], found[j])
            else:
                part = backend.outlier(exp, int(n_rows)) if parts else Partial(element_count=0, missing_count=0)
            o, f = finish(exp, s, part)
            outcomes.append(o)
            if len(f):
                failing.append(f)
        ranked = _suite_order(plan, outcomes)
        failing.sort(key=lambda f: ranked.get(str(f["expectation"].iloc[0]), 0))
        done = time.perf_counter()
        report = plan.report(sorted(outcomes, key=lambda o: ranked.get(o.name, 0)) + runner.skipped, failing,
                             n_rows=int(n_rows), n_items=int(n_items), n_annotators=int(n_ann),
                             timings={"import_s": round(t_import - t0, 3), "gx_import_s": round(t_gx - t_import, 3),
                                      "gx_run_s": round(done - t_gx, 3)}, gx_version=runner.gx_version)
        report.source = [str(p) for p in labels] if isinstance(labels, list) else [str(labels)]
        report.records_in, report.quarantine = records_in, quarantine
        report.engine = backend.name
        return report
    finally:
        backend.close()
        shutil.rmtree(work, ignore_errors=True)


# ----------------------------------------------------------------------------------------- duckdb
class DuckDBBackend(Backend):
    """Import partitions by item hash directly; distribution counts in pass 1; outliers in DuckDB SQL."""

    name = "duckdb"

    def __init__(self, memory_limit: str | int | None) -> None:
        self.memory_limit = memory_limit
        self.con: Any = None
        self.src: str | None = None

    def open(self, work: str) -> None:
        import duckdb
        from duckdb import func as duckdb_func

        from labkit.engines.base import parse_memory

        memory_limit = self.memory_limit
        self.con = duckdb.connect(":memory:")
        # numpy's log1p inside SQL (vectorized over Arrow), so robust z-scores equal pandas' exactly
        self.con.create_function("labkit_log1p", _arrow_log1p, ["double"], "double",
                                 type=duckdb_func.PythonUDFType.ARROW)
        budget = parse_memory(memory_limit)
        if budget is not None:
            self.con.execute(f"SET memory_limit = '{max(64, int(budget) // (1 << 21))}MB'")  # half: pandas needs the rest
        self.con.execute("SET enable_progress_bar = false")
        self.con.execute(f"SET temp_directory = '{work}/duckdb'")

    def stage(self, inp: Any, work: str, n_parts: int, chunk_rows: int, say: Callable[[str], None], plan: Any,
              dist: list[dict[str, Any]], dist_acc: list[dict[str, Any]]) -> tuple[int, int, pd.DataFrame, list[str]]:
        def count(chunk: pd.DataFrame) -> None:
            marked = _blank_versions_marked(chunk, plan.guidelines)
            for exp, acc in zip(dist, dist_acc):
                _distribution_counts(exp, marked, acc)

        out = _partition(inp.files, work, n_parts, chunk_rows, say, count)
        parts = out[3]
        if parts:
            self.src = "read_parquet([" + ", ".join("'" + p.replace("'", "''") + "'" for p in parts) + "])"
        return out

    def summary(self) -> tuple[pd.DataFrame, int, int, int]:
        pairs = self.con.execute(f"SELECT DISTINCT task, label FROM {self.src}").df()
        counts = self.con.execute(
            f"SELECT COUNT(*), COUNT(DISTINCT item_id), COUNT(DISTINCT annotator_id) FROM {self.src}").fetchone()
        n_rows, n_items, n_ann = counts if counts is not None else (0, 0, 0)
        return pairs, int(n_rows), int(n_items), int(n_ann)

    def outlier(self, exp: dict[str, Any], n_rows: int) -> Partial:
        return _outlier_partial(exp, OutlierSQL(self.con), self.src, n_rows)

    def close(self) -> None:
        if self.con is not None:
            self.con.close()


def _validate_duckdb(labels: Any, guidelines: Any, suites: list[Any] | None, *, memory_limit: str | int | None,
                     temp_dir: str | None, batch_rows: int | None, progress: Callable[[str], None] | None,
                     now: Any = None, retire_grace: float | None = None) -> ValidationReport:
    return _validate_partitioned(labels, guidelines, suites, DuckDBBackend(memory_limit), memory_limit=memory_limit,
                                 temp_dir=temp_dir, batch_rows=batch_rows, progress=progress, now=now,
                                 retire_grace=retire_grace)


def _arrow_log1p(x: Any) -> Any:
    import pyarrow as pa

    return pa.array(np.log1p(x.to_numpy(zero_copy_only=False)))


def _suite_order(plan: Any, outcomes: list[ExpectationOutcome]) -> dict[str, int]:
    """Rank of each expectation name in the suites, so outcomes list in the in-memory path's order."""
    from labkit.validation.engine import expectation_name

    rank: dict[str, int] = {}
    for s in plan.suites:
        for e in s.expectations:
            rank.setdefault(expectation_name(e), len(rank))
    return rank


# ------------------------------------------------------------------- cross-item: distribution test
def _domain_mask(exp: dict[str, Any], frame: pd.DataFrame) -> tuple[np.ndarray, int, int]:
    """:func:`_domain_rows` as a mask over ``frame``'s rows (its index must be unique)."""
    rows, element, missing = _domain_rows(exp, frame)
    return np.asarray(frame.index.isin(rows.index), dtype=bool), element, missing


def _domain_rows(exp: dict[str, Any], frame: pd.DataFrame) -> tuple[pd.DataFrame, int, int]:
    """Rows an expectation looks at: after its row_condition, without rows missing a column_list value.
    Returns (rows kept, element_count, missing_count) as GX counts them."""
    kw = exp.get("kwargs", {})
    sub = frame
    if kw.get("row_condition"):
        if kw.get("condition_parser", "pandas") != "pandas":
            raise ParameterError(f"{exp['type']}: --engine duckdb evaluates row_condition with the pandas parser")
        sub = frame.query(kw["row_condition"])
    cols = list(kw.get("column_list", []))
    if kw.get("ignore_row_if", "all_values_are_missing") == "any_value_is_missing":
        miss = sub[cols].isna().any(axis=1)
    else:
        miss = sub[cols].isna().all(axis=1)
    return sub.loc[~miss], int(len(sub)), int(miss.sum())


def _distribution_counts(exp: dict[str, Any], frame: pd.DataFrame, acc: dict[str, Any]) -> None:
    rows, element, missing = _domain_rows(exp, frame)
    acc["element"] += element
    acc["missing"] += missing
    if len(rows):
        c = rows.groupby(["task", "annotator_id", "label"], observed=True).size().rename("n").reset_index()
        acc["counts"].append(c.astype({"task": str, "annotator_id": str, "label": str}))


def _flagged(exp: dict[str, Any], acc: dict[str, Any]) -> set[tuple[str, str]]:
    """(task, annotator) pairs the distribution test flags, from the counts summed over the input."""
    from labkit.validation import checks

    kw = exp["kwargs"]
    counts = (pd.concat(acc["counts"], ignore_index=True).groupby(["task", "annotator_id", "label"], as_index=False)["n"]
              .sum() if acc["counts"] else pd.DataFrame(columns=["task", "annotator_id", "label", "n"]))
    flagged = checks.distribution_outliers(checks.distribution_tests_from_counts(counts, int(kw["min_n"])),
                                           float(kw["alpha"]), float(kw["min_tvd"]))
    return set(zip(flagged["task"].astype(str), flagged["annotator_id"].astype(str)))


def _flagged_rows(exp: dict[str, Any], frame: pd.DataFrame, keys: set[tuple[str, str]],
                  found: list[pd.DataFrame]) -> None:
    """The rows of flagged annotators in one partition, named as the in-memory path names them."""
    if not keys:
        return
    rows, _, _ = _domain_rows(exp, frame)
    hit = np.zeros(len(rows), dtype=bool)
    for t in {t for t, _ in keys}:
        anns = [a for tt, a in keys if tt == t]
        hit |= ((rows["task"] == t) & rows["annotator_id"].isin(anns)).to_numpy(dtype=bool)
    sel = rows.loc[hit]
    if len(sel):
        f = _rows_from_positions(sel.reset_index(drop=True), list(range(len(sel))), list(exp["kwargs"]["column_list"]))
        f["row"] = sel["__row"].to_numpy()
        found.append(f)


def _distribution_partial(acc: dict[str, Any], found: list[pd.DataFrame]) -> Partial:
    p = Partial(element_count=acc["element"], missing_count=acc["missing"], unexpected_count=0)
    if found:
        p.failing = pd.concat(found, ignore_index=True).sort_values("row", kind="stable").reset_index(drop=True)
        p.unexpected_count = int(len(p.failing))
        p.success = False
    return p


# ---------------------------------------------------------------------- cross-item: duration outliers
class OutlierSQL:
    """The SQL dialect :func:`_outlier_partial` runs in (DuckDB here; Spark in :mod:`labkit.validation.spark_scale`)."""

    name = "duckdb"
    #: integer division
    div = "//"
    #: log1p(duration_s) as numpy computes it, NULL for a negative duration (``checks.duration_robust_z``)
    x_expr = "CASE WHEN duration_s >= 0 THEN labkit_log1p(duration_s) END"

    def __init__(self, con: Any = None) -> None:
        self.con = con

    def df(self, sql: str) -> pd.DataFrame:
        return self.con.execute(sql).df()

    def make(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")

    def put(self, name: str, col: str, values: dict[str, float]) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} (task VARCHAR, {col} DOUBLE)")
        self.con.executemany(f"INSERT INTO {name} VALUES (?, ?)", list(values.items()))


def _outlier_partial(exp: dict[str, Any], db: OutlierSQL, src: str | None, n_rows: int) -> Partial:
    """Robust z of log1p(duration) per task (:func:`labkit.validation.checks.duration_robust_z`) in SQL.

    Median and MAD are taken as order statistics (the middle one, or the mean of the two middle ones, as
    pandas' median does) and ``log1p`` is numpy's, so each z equals the in-memory one exactly."""
    kw = exp["kwargs"]
    if kw.get("row_condition"):
        raise ParameterError(f"{exp['type']}: a row_condition is not supported with --engine {db.name}; "
                             "use --engine pandas")
    cols = list(kw.get("column_list", []))
    if src is None:
        return Partial(element_count=0, missing_count=0)
    any_missing = kw.get("ignore_row_if", "all_values_are_missing") == "any_value_is_missing"
    nulls = [f"({c} IS NULL OR isnan({c}))" if c == "duration_s" else f"{c} IS NULL" for c in cols]
    miss_sql = (" OR " if any_missing else " AND ").join(nulls)
    missing = int(db.df(f"SELECT COUNT(*) AS n FROM {src} WHERE {miss_sql}")["n"].iloc[0])
    p = Partial(element_count=int(n_rows), missing_count=missing, unexpected_count=0)
    db.make("labkit_x", f"SELECT __row, item_id, annotator_id, task, duration_s, {db.x_expr} AS x FROM {src} "
                        f"WHERE NOT ({miss_sql})")

    def middle(expr: str) -> dict[str, float]:
        return _medians(db.df(MIDDLE_SQL.format(expr=expr, div=db.div, table="labkit_xd" if expr == "dev" else "labkit_x")))

    med = middle("x")
    if not med:
        return p
    db.put("labkit_med", "med", med)
    db.make("labkit_xd", "SELECT x.*, abs(x.x - m.med) AS dev, m.med FROM labkit_x x LEFT JOIN labkit_med m USING (task)")
    mad = middle("dev").items()
    db.put("labkit_mad", "mad", {t: v for t, v in mad if v > 0})
    zmax = float(kw["max_abs_z"])
    bad = db.df(f"SELECT x.__row AS row, x.item_id, x.annotator_id, x.task, x.duration_s FROM labkit_xd x "
                f"JOIN labkit_mad m USING (task) WHERE abs(0.6745 * (x.x - x.med) / m.mad) > {zmax!r} "
                f"ORDER BY x.__row")
    return _outlier_rows(p, bad, cols)


#: The middle one or two values of ``{expr}`` per task (``{div}``: the SQL dialect's integer division).
MIDDLE_SQL = ("SELECT task, v, rn, n FROM (SELECT task, {expr} AS v, "
              "row_number() OVER (PARTITION BY task ORDER BY {expr}) AS rn, "
              "COUNT(*) OVER (PARTITION BY task) AS n FROM {table} WHERE x IS NOT NULL) "
              "WHERE rn = (n + 1) {div} 2 OR rn = n {div} 2 + 1 ORDER BY task, rn")


def _medians(df: pd.DataFrame) -> dict[str, float]:
    """Each task's median from :data:`MIDDLE_SQL`'s rows, as pandas computes it (the mean of the two middle values)."""
    out: dict[str, float] = {}
    for t, g in df.groupby("task", sort=False):
        v = g["v"].to_numpy(dtype=float)
        out[str(t)] = float(v[0]) if len(v) == 1 else float((v[0] + v[1]) / 2)
    return out


def _outlier_rows(p: Partial, bad: pd.DataFrame, cols: list[str]) -> Partial:
    """The outlier test's failing rows (row, item_id, annotator_id, task, duration_s; input order) into ``p``."""
    if len(bad):
        f = _rows_from_positions(bad.astype({"task": "category"}), list(range(len(bad))), cols)
        f["row"] = bad["row"].to_numpy()
        p.failing = f
        p.unexpected_count = int(len(bad))
        p.success = False
    return p


__all__ = ["validate_engine", "GLOBAL_TYPES"]
