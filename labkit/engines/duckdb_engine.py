"""DuckDB engine: reads Parquet directly, spills to ``temp_dir`` under ``memory_limit``; no JVM."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from labkit.engines.base import ParquetInput
from labkit.engines.sql_engine import J, SQLEngine
from labkit.errors import InputRefused

#: Share of ``--memory-limit`` given to DuckDB's own ``memory_limit``.
DUCKDB_SHARE = 0.7


class DuckDBEngine(SQLEngine):
    """Reduced tables and Dawid-Skene in an in-process DuckDB database (``:memory:``, spilling to disk)."""

    name = "duckdb"

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        import duckdb

        self.con = duckdb.connect(":memory:")
        if self.memory_limit is not None:
            # DuckDB needs a few dozen MB to run at all: a smaller budget still picks it, capped at 64 MB
            # the budget is for the whole process: DuckDB gets 70% of it, the rest is Python, pyarrow and
            # the results (measured by bench/bench_engines.py)
            self.con.execute(f"SET memory_limit = '{max(64, int(self.memory_limit * DUCKDB_SHARE) // (1 << 20))}MB'")
        # spill under --temp-dir, else in a folder of its own under the system temp dir, removed on close
        # (DuckDB's own default is ./.tmp in the current directory)
        self._own_tmp: str | None = None
        if self.temp_dir is not None:
            os.makedirs(self.temp_dir, exist_ok=True)
            spill = str(self.temp_dir)
        else:
            self._own_tmp = spill = tempfile.mkdtemp(prefix="labkit-duckdb-")
        self.con.execute(f"SET temp_directory = {self._lit(spill)}")
        self.con.execute("SET preserve_insertion_order = false")
        self.con.execute("SET enable_progress_bar = false")

    def _lit(self, s: str) -> str:
        return "'" + str(s).replace("'", "''") + "'"

    def _inf(self, positive: bool) -> str:
        return "CAST('inf' AS DOUBLE)" if positive else "CAST('-inf' AS DOUBLE)"

    def _df(self, sql: str) -> pd.DataFrame:
        return self.con.execute(sql).df()

    def _fetch_arrays(self, sql: str) -> dict[str, np.ndarray] | None:
        return {k: np.asarray(v) for k, v in self.con.execute(sql).fetchnumpy().items()}

    @contextlib.contextmanager
    def _yield_memory(self) -> Iterator[None]:
        """Lower DuckDB's cap while numpy works so it evicts its buffers (temp tables spill to disk), then
        restore it: the process stays within ``--memory-limit`` with both."""
        old = self.con.execute("SELECT current_setting('memory_limit')").fetchone()
        self.con.execute("SET memory_limit = '64MB'")
        try:
            yield
        finally:
            if old is not None:
                self.con.execute(f"SET memory_limit = {self._lit(str(old[0]))}")

    def _make(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")

    def _drop(self, name: str) -> None:
        self.con.execute(f"DROP TABLE IF EXISTS {name}")

    def _put(self, name: str, df: pd.DataFrame) -> None:
        self.con.register("labkit_frame", df)
        try:
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM labkit_frame")
        finally:
            self.con.unregister("labkit_frame")

    def _register(self, inp: ParquetInput) -> None:
        if inp.table is not None:
            raise InputRefused(inp.spec, "a table name is for --engine spark; DuckDB reads Parquet files")
        files = "[" + ", ".join(self._lit(f) for f in inp.files) + "]"
        cols = {r[0] for r in self.con.execute(
            f"DESCRIBE SELECT * FROM read_parquet({files}, hive_partitioning = {str(inp.hive).lower()}, "
            f"union_by_name = true)").fetchall()}
        missing = [c for c in ("item_id", "annotator_id", "label") if c not in cols]
        if missing:
            raise InputRefused(inp.files[0], f"not a label table: no {', '.join(missing)} column", field=missing[0])
        sel = ["CAST(item_id AS VARCHAR) AS item_id", "CAST(annotator_id AS VARCHAR) AS annotator_id",
               "CAST(label AS VARCHAR) AS label",
               "CAST(task AS VARCHAR) AS task" if "task" in cols else "'default' AS task",
               "CAST(source AS VARCHAR) AS source" if "source" in cols else "'human' AS source"]
        # the other canonical columns, for the report's breakdowns (a query reads only what it uses)
        for c, typ in (("stage", "VARCHAR"), ("slice", "VARCHAR"), ("guideline_version", "VARCHAR"),
                       ("created_at", "TIMESTAMPTZ"), ("duration_s", "DOUBLE"), ("confidence", "DOUBLE")):
            sel.append(f"CAST({c} AS {typ}) AS {c}" if c in cols else f"CAST(NULL AS {typ}) AS {c}")
        where = f" WHERE {self.row_filter}" if self.row_filter else ""
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {J} AS SELECT * FROM (SELECT {', '.join(sel)} FROM "
                         f"read_parquet({files}, hive_partitioning = {str(inp.hive).lower()}, union_by_name = true))"
                         f"{where}")

    def _write_parquet(self, sql: str, path: str) -> None:
        from labkit._atomic import atomic_path

        with atomic_path(path, suffix=".parquet") as tmp:
            self.con.execute(f"COPY ({sql}) TO {self._lit(str(tmp))} (FORMAT parquet)")

    def close(self) -> None:
        self.con.close()
        if self._own_tmp is not None:
            shutil.rmtree(self._own_tmp, ignore_errors=True)
            self._own_tmp = None
