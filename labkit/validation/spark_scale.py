"""``labkit validate --engine spark``: the DuckDB path's plan with Spark doing the shuffle and the
cross-item reductions (see :mod:`labkit.validation.scale` and docs/scale.md, "Validation at scale").

Why not GX's Spark data source: labkit's ten custom expectations (distribution test, duration
outliers, exclusivity, hierarchy, per-item overlap, guideline versions, ...) define only pandas
metrics in Great Expectations, so a Spark batch cannot run the same suite unchanged. Instead:

1. **Import** with the same chunk importer as ``--engine duckdb`` (pyarrow on the driver; the same
   quarantine, file and row), staged as Parquet under ``--temp-dir`` with each row's input position,
   its ``log1p(duration)`` computed by numpy (so robust z-scores equal pandas' bit for bit) and, per
   distribution test, whether the row is in the test's domain (its ``row_condition`` evaluated by
   pandas, as GX evaluates it in memory).
2. **Spark** reads the staged rows, repartitions them by a hash of ``item_id`` (every item's rows in
   one partition) and writes the partitions as Parquet; it also computes the reduced tables: the
   data's (task, label) pairs and counts, the annotator x label counts of the distribution test,
   and each task's median and MAD of log1p(duration) as exact order statistics (``row_number()``
   over the task, the middle value or the mean of the two middle values) and the outlier rows.
3. **GX** validates each partition with the same suite objects and pandas data source as in memory
   (:class:`labkit.validation.engine.SuiteRunner`), counts summed, failing rows merged in input order.

On a cluster (``--spark-master``), ``--temp-dir`` must be a folder every node and the driver see.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from labkit.validation.engine import Partial, _blank_versions_marked
from labkit.validation.scale import (
    Backend,
    OutlierSQL,
    _arrow_schema,
    _domain_mask,
    _from_arrow,
    _outlier_partial,
    _partition,
)


def _staging_schema(n_dist: int) -> Any:
    """The DuckDB path's partition schema with created_at as int64 nanoseconds (Spark reads no
    nanosecond timestamps), plus ``__x`` = log1p(duration) and one domain flag per distribution test."""
    import pyarrow as pa

    base = _arrow_schema()
    fields = [pa.field("created_at", pa.int64()) if f.name == "created_at" else f for f in base]
    fields.append(pa.field("__x", pa.float64()))
    fields += [pa.field(f"__d{j}", pa.bool_()) for j in range(n_dist)]
    return pa.schema(fields)


class _SparkSQL(OutlierSQL):
    name = "spark"
    div = "div"
    x_expr = "__x"

    def __init__(self, spark: Any) -> None:
        super().__init__()
        self.spark = spark

    def df(self, sql: str) -> pd.DataFrame:
        return _collect(self.spark.sql(sql))

    def make(self, name: str, sql: str) -> None:
        # a view, not a materialized table: each is a filter or a join with a per-task table over the
        # staged Parquet, cheaper to re-read than to checkpoint
        self.spark.sql(sql).createOrReplaceTempView(name)

    def put(self, name: str, col: str, values: dict[str, float]) -> None:
        rows = [(str(t), float(v)) for t, v in values.items()]
        self.spark.createDataFrame(rows, schema=f"task STRING, {col} DOUBLE").createOrReplaceTempView(name)


def _collect(frame: Any) -> pd.DataFrame:
    """A small Spark result as pandas (through the driver, column by column)."""
    rows = frame.collect()
    return pd.DataFrame([tuple(r) for r in rows], columns=list(frame.columns))


class SparkBackend(Backend):
    """Spark shuffles the staged rows into item partitions and computes the cross-item reductions."""

    name = "spark"

    def __init__(self, memory_limit: str | int | None, temp_dir: str | None, master: str | None) -> None:
        from labkit.engines.base import parse_memory
        from labkit.engines.spark_engine import check_spark

        check_spark()
        self.budget = parse_memory(memory_limit)
        self.temp_dir = temp_dir
        self.master = master
        self.spark: Any = None
        self.sql: _SparkSQL | None = None

    def open(self, work: str) -> None:
        from labkit.engines.spark_engine import local_session

        self.spark = local_session(self.master, self.budget, self.temp_dir)
        self.sql = _SparkSQL(self.spark)

    def stage(self, inp: Any, work: str, n_parts: int, chunk_rows: int, say: Callable[[str], None], plan: Any,
              dist: list[dict[str, Any]], dist_acc: list[dict[str, Any]]) -> tuple[int, int, pd.DataFrame, list[str]]:
        def mark(chunk: pd.DataFrame) -> None:
            marked = _blank_versions_marked(chunk, plan.guidelines)
            for j, (exp, acc) in enumerate(zip(dist, dist_acc)):
                mask, element, missing = _domain_mask(exp, marked)
                acc["element"] += element
                acc["missing"] += missing
                chunk[f"__d{j}"] = mask
            d = chunk["duration_s"].astype(float)
            chunk["__x"] = np.log1p(d.where(d >= 0))

        staging = os.path.join(work, "staged")
        os.makedirs(staging)
        records_in, accepted, quarantine, staged = _partition(inp.files, staging, 1, chunk_rows, say, mark,
                                                              schema=_staging_schema(len(dist)))
        if not staged:
            return records_in, accepted, quarantine, []
        say(f"spark: repartitioning {accepted:,} rows by item into {n_parts} partition(s)")
        rows = self.spark.read.parquet(*staged)
        rows.createOrReplaceTempView("labkit_staged")
        out = os.path.join(work, "parts")
        rows.repartition(n_parts, "item_id").write.parquet(out)
        parts = sorted(glob.glob(os.path.join(out, "part-*.parquet")))
        return records_in, accepted, quarantine, parts

    def summary(self) -> tuple[pd.DataFrame, int, int, int]:
        assert self.sql is not None
        pairs = self.sql.df("SELECT DISTINCT task, label FROM labkit_staged")
        c = self.sql.df("SELECT COUNT(*) AS n, COUNT(DISTINCT item_id) AS i, COUNT(DISTINCT annotator_id) AS a "
                        "FROM labkit_staged")
        return pairs, int(c["n"].iloc[0]), int(c["i"].iloc[0]), int(c["a"].iloc[0])

    def distribution_counts(self, j: int, acc: dict[str, Any]) -> None:
        assert self.sql is not None
        c = self.sql.df(f"SELECT task, annotator_id, label, COUNT(*) AS n FROM labkit_staged WHERE __d{j} "
                        "AND task IS NOT NULL AND annotator_id IS NOT NULL AND label IS NOT NULL "
                        "GROUP BY task, annotator_id, label")
        if len(c):
            acc["counts"] = [c.astype({"task": str, "annotator_id": str, "label": str, "n": np.int64})]

    def outlier(self, exp: dict[str, Any], n_rows: int) -> Partial:
        assert self.sql is not None
        return _outlier_partial(exp, self.sql, "labkit_staged", n_rows)

    def read_part(self, path: str) -> pd.DataFrame:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from labkit.validation.scale import _STR_COLS

        tbl = pq.read_table(path, read_dictionary=list(_STR_COLS))
        i = tbl.schema.get_field_index("created_at")
        tbl = tbl.set_column(i, "created_at", tbl.column(i).cast(pa.timestamp("ns", tz="UTC")))
        frame = _from_arrow(tbl)
        # Spark's shuffle does not keep the input order inside a partition: restore it (GX lists rows in it)
        return frame.sort_values("__row", kind="stable").reset_index(drop=True)

    def close(self) -> None:
        if self.spark is None:
            return
        for name in ("labkit_staged", "labkit_x", "labkit_xd", "labkit_med", "labkit_mad"):
            self.spark.catalog.dropTempView(name)


__all__ = ["SparkBackend"]
