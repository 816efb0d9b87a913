"""The ``--engine`` flags (light: imported while the CLI parser is built, before any handler runs)."""

from __future__ import annotations

import argparse


def add_engine_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("engine (programs bigger than memory; see docs/scale.md)")
    g.add_argument("--engine", default="auto", choices=["auto", "pandas", "duckdb", "spark"],
                   help="where the reduced tables are built: auto (default: pandas unless a Parquet input would not "
                        "fit --memory-limit, then duckdb), pandas (in memory), duckdb (streams Parquet, spills to "
                        "--temp-dir), spark (pip install 'labkit[spark]', Java 17)")
    g.add_argument("--memory-limit", help="memory budget, e.g. 2GB: auto's threshold and DuckDB's/Spark's cap "
                                          "(default: half the memory available)")
    g.add_argument("--temp-dir", help="where DuckDB and Spark spill (default: their own temp folders)")
    g.add_argument("--spark-master", help="--engine spark: cluster master URL (default local[*] on loopback; "
                                          "or set SPARK_MASTER)")
