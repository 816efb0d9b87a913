"""Engines: where the reduced tables are built, in memory (pandas) or out of core (DuckDB, Spark).

Every labkit statistic is a function of small reduced tables; only building them touches every
judgement. An engine reads canonical label tables (a Parquet file, a folder or glob of Parquet files,
hive-partitioned folders; for Spark also a table name) and returns those reduced tables, never the long
table:

* :meth:`Engine.item_label_counts`: item x label counts folded to distinct rows
  (:class:`~labkit.stats.counts.ItemLabelCounts`: the coincidence inputs and per-item rater counts of
  alpha at every level, Fleiss' kappa, percent agreement, AC1);
* :meth:`Engine.gold_counts`: annotator x gold x label counts (scoring against gold) and, for annotators
  without gold, leave-one-out consensus counts;
* :meth:`Engine.dawid_skene`: Dawid-Skene EM whose per-item posteriors stay inside the engine (a DuckDB
  temp table, a checkpointed Spark DataFrame); only the annotator x true x observed counts come back to
  numpy each step, and the consensus table is written as Parquet.

The formulas themselves live once, in :mod:`labkit.stats`, and run in numpy on these tables.

Engines are imported lazily: ``pandas`` (default, today's in-memory path), ``duckdb`` (a normal
dependency) and ``spark`` (``pip install 'labkit[spark]'`` plus Java 17).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ENGINES", "Engine", "EngineChoice", "EngineMissing", "ParquetInput", "choose_engine", "get_engine",
           "parquet_input"]


def __getattr__(name: str) -> Any:  # lazy: the CLI imports labkit.engines.args while building its parser
    if name in __all__:
        from labkit.engines import base

        return getattr(base, name)
    raise AttributeError(f"module 'labkit.engines' has no attribute {name!r}")
