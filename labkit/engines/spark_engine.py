"""Spark engine: the same SQL as DuckDB through Spark SQL (``labkit[spark]`` plus Java 17).

Local by default (``local[*]``, every socket on 127.0.0.1, no UI, no package fetched at run time); give
``master`` (``--spark-master`` or ``SPARK_MASTER``) to run on a cluster. Iterative Dawid-Skene keeps its
posteriors in cached, locally checkpointed DataFrames so the plan does not grow with the iterations.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import pandas as pd

from labkit.engines.base import EngineMissing, ParquetInput
from labkit.engines.sql_engine import J, SQLEngine
from labkit.errors import InputRefused


def check_spark() -> None:
    """Raise :class:`EngineMissing` unless pyspark imports and a Java runtime is on the path."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise EngineMissing("the spark engine needs pyspark: pip install 'labkit[spark]' (and Java 17: "
                            "apt-get install openjdk-17-jre-headless)") from None
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        raise EngineMissing("the spark engine needs Java 17 (no `java` on PATH and no JAVA_HOME): "
                            "apt-get install openjdk-17-jre-headless")


def local_session(master: str | None = None, memory_limit: int | None = None, temp_dir: str | None = None) -> Any:
    """A SparkSession: on a cluster when ``master`` is given, else ``local[*]`` on loopback only."""
    from pyspark.sql import SparkSession

    master = master or os.environ.get("SPARK_MASTER") or "local[*]"
    b = SparkSession.builder.appName("labkit").master(master)
    b = b.config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
    b = b.config("spark.sql.shuffle.partitions", "8")
    b = b.config("spark.sql.ansi.enabled", "false").config("spark.sql.legacy.parquet.nanosAsLong", "true")
    if master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        b = b.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
    if memory_limit is not None:
        b = b.config("spark.driver.memory", f"{max(512, int(memory_limit) // (1 << 20))}m")
    if temp_dir is not None:
        b = b.config("spark.local.dir", str(temp_dir))
    spark = b.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


class SparkEngine(SQLEngine):
    """Reduced tables and Dawid-Skene through Spark SQL."""

    name = "spark"

    def __init__(self, memory_limit: Any = None, temp_dir: str | None = None, progress: Any = None,
                 master: str | None = None) -> None:
        super().__init__(memory_limit, temp_dir, progress)
        self.spark = local_session(master, self.memory_limit, temp_dir)
        self._frames: dict[str, Any] = {}

    def _lit(self, s: str) -> str:
        return "'" + str(s).replace("\\", "\\\\").replace("'", "\\'") + "'"

    def _inf(self, positive: bool) -> str:
        return "CAST('Infinity' AS DOUBLE)" if positive else "CAST('-Infinity' AS DOUBLE)"

    def _df(self, sql: str) -> pd.DataFrame:
        rows = self.spark.sql(sql).collect()
        cols = self.spark.sql(sql).columns if not rows else list(rows[0].asDict().keys())
        return pd.DataFrame([r.asDict() for r in rows], columns=cols)

    def _make(self, name: str, sql: str) -> None:
        df = self.spark.sql(sql).localCheckpoint(eager=True)
        df.createOrReplaceTempView(name)
        self._frames[name] = df

    def _drop(self, name: str) -> None:
        self.spark.catalog.dropTempView(name)
        df = self._frames.pop(name, None)
        if df is not None:
            df.unpersist()

    def _put(self, name: str, df: pd.DataFrame) -> None:
        sdf = self.spark.createDataFrame(df if len(df) else None, schema=_schema(df))
        sdf.createOrReplaceTempView(name)
        self._frames[name] = sdf

    def _register(self, inp: ParquetInput) -> None:
        if inp.table is not None:
            df = self.spark.table(inp.table)
            where = inp.table
        else:
            reader = self.spark.read
            if inp.hive and inp.root is not None:
                reader = reader.option("basePath", inp.root)
            df = reader.option("mergeSchema", "true").parquet(*inp.files)
            where = inp.files[0]
        cols = set(df.columns)
        missing = [c for c in ("item_id", "annotator_id", "label") if c not in cols]
        if missing:
            raise InputRefused(where, f"not a label table: no {', '.join(missing)} column", field=missing[0])
        sel = ["CAST(item_id AS STRING) AS item_id", "CAST(annotator_id AS STRING) AS annotator_id",
               "CAST(label AS STRING) AS label",
               "CAST(task AS STRING) AS task" if "task" in cols else "'default' AS task",
               "CAST(source AS STRING) AS source" if "source" in cols else "'human' AS source"]
        df.createOrReplaceTempView("labkit_raw")
        self.spark.sql(f"SELECT {', '.join(sel)} FROM labkit_raw").createOrReplaceTempView(J)

    def _write_parquet(self, sql: str, path: str) -> None:
        """One Parquet file at ``path`` (collected through the driver: the consensus has one row per item)."""
        from labkit._atomic import atomic_path

        pdf = self._df(sql)
        with atomic_path(path, suffix=".parquet") as tmp:
            pdf.to_parquet(tmp, index=False)

    def close(self) -> None:
        for name in list(self._frames):
            self._drop(name)


def _schema(df: pd.DataFrame) -> str:
    kinds = []
    for c in df.columns:
        k = df[c].dtype.kind
        kinds.append(f"{c} {'BIGINT' if k in 'iu' else 'DOUBLE' if k == 'f' else 'STRING'}")
    return ", ".join(kinds)
