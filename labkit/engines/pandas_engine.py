"""The in-memory engine: today's pandas/numpy path, reading only the id columns from Parquet."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from labkit.engines.base import READ_COLUMNS, DSResult, Engine, ParquetInput
from labkit.errors import InputRefused
from labkit.stats.counts import CountTables, ItemLabelCounts


def read_ids(inp: ParquetInput, columns: tuple[str, ...] = READ_COLUMNS) -> pd.DataFrame:
    """The id columns of a Parquet label table as categoricals, straight from the Parquet dictionaries.

    Only ``columns`` are read, with ``read_dictionary`` so string ids are never materialized as Python
    strings (the slow, memory-hungry part of reading a large export). ``task`` defaults to "default" and
    ``source`` to "human" when a file lacks them. A row without item, annotator or label is refused
    (naming the file and field): such rows are quarantined by ``labkit import``, not judgements.
    """
    import pyarrow as pa
    import pyarrow.dataset as ds

    part = ds.HivePartitioning.discover(infer_dictionary=True) if inp.hive else None
    fmt = ds.ParquetFileFormat(read_options={"dictionary_columns": list(columns)})
    dataset = ds.dataset(list(inp.files), format=fmt, partitioning=part,
                         partition_base_dir=inp.root if inp.hive else None)
    names = set(dataset.schema.names)
    missing = [c for c in ("item_id", "annotator_id", "label") if c not in names]
    if missing:
        raise InputRefused(inp.files[0] if inp.files else inp.spec,
                           f"not a label table: no {', '.join(missing)} column", field=missing[0])
    tbl = dataset.to_table(columns=[c for c in columns if c in names])
    cols: dict[str, Any] = {}
    for c in columns:
        if c not in names:
            cols[c] = pd.Categorical.from_codes(np.zeros(tbl.num_rows, np.int8),
                                                categories=["default" if c == "task" else "human"])
            continue
        arr = tbl.column(c)
        if not pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_encode()
        s = arr.to_pandas()  # unifies the row groups' dictionaries (faster than ChunkedArray.unify_dictionaries)
        if not isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype("category")
        if c in ("item_id", "annotator_id", "label") and s.isna().any():
            first = int(np.flatnonzero(s.isna().to_numpy())[0])
            raise InputRefused(_file_of(inp, first), "a row has no value (run `labkit import` to quarantine such "
                                                      "rows)", record=first, field=c)
        cats = s.cat.categories
        if cats.dtype != object and str(cats.dtype) != "str":
            s = s.cat.rename_categories([str(x) for x in cats])
        cols[c] = s.reset_index(drop=True)
    return pd.DataFrame(cols)


def _file_of(inp: ParquetInput, row: int) -> str:
    import pyarrow.parquet as pq

    seen = 0
    for f in inp.files:
        n = pq.ParquetFile(f).metadata.num_rows
        if row < seen + n:
            return f
        seen += n
    return inp.spec


class PandasEngine(Engine):
    """In memory: the id columns read as categoricals, then :class:`CountTables` (the existing path)."""

    name = "pandas"

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self._cache: tuple[ParquetInput, pd.DataFrame] | None = None

    def table(self, inp: ParquetInput) -> pd.DataFrame:
        """The id columns of ``inp`` (read once per engine)."""
        if self._cache is None or self._cache[0] != inp:
            self._say(f"reading {len(inp.files)} Parquet file(s)")
            self._cache = (inp, read_ids(inp))
        return self._cache[1]

    def tasks(self, inp: ParquetInput) -> list[str]:
        t = self.table(inp)["task"]
        codes = t.cat.codes.to_numpy()
        return sorted(str(c) for c in t.cat.categories[np.bincount(codes[codes >= 0], minlength=len(t.cat.categories)) > 0])

    def count_tables(self, inp: ParquetInput, *, task: str | None = None, source: str | None = "human",
                     order: list[str] | None = None, labels: list[str] | None = None) -> CountTables:
        return CountTables.from_labels(self.table(inp), task=self.resolve_task(inp, task), source=source, order=order,
                                       labels=labels)

    def item_label_counts(self, inp: ParquetInput, *, task: str | None = None, source: str | None = "human",
                          order: list[str] | None = None, labels: list[str] | None = None) -> ItemLabelCounts:
        return ItemLabelCounts.from_count_tables(self.count_tables(inp, task=task, source=source, order=order,
                                                                   labels=labels))

    def gold_counts(self, inp: ParquetInput, gold: pd.DataFrame, *, task: str | None = None,
                    source: str | None = "human", loo: bool = True) -> pd.DataFrame:
        from labkit.stats.scoring import _loo_consensus, join_gold

        j = join_gold(self.table(inp), gold, task=self.resolve_task(inp, task), source=source)
        ct, gcode = j.ct, j.gold
        A = ct.n_annotators
        g_row = gcode[ct.item]
        on = g_row >= 0
        out = pd.DataFrame({"annotator_id": ct.annotators.astype(str),
                            "n_gold": np.bincount(ct.annotator, weights=on, minlength=A).astype(np.int64),
                            "correct_gold": np.bincount(ct.annotator, weights=on & (ct.label == g_row),
                                                        minlength=A).astype(np.int64)})
        if loo:
            lo = _loo_consensus(ct)
            sc = lo >= 0
            out["n_loo"] = np.bincount(ct.annotator, weights=sc, minlength=A).astype(np.int64)
            out["correct_loo"] = np.bincount(ct.annotator, weights=sc & (ct.label == lo), minlength=A).astype(np.int64)
        return out.sort_values("annotator_id", kind="stable").reset_index(drop=True)

    def dawid_skene(self, inp: ParquetInput, *, task: str | None = None, source: str | None = "human",
                    tol: float = 1e-6, max_iter: int = 100, smoothing: float = 0.01, accelerate: bool = True,
                    ll_tol: float | None = None, out: str | None = None, threshold: float = 0.7,
                    gold: pd.DataFrame | None = None) -> DSResult:
        from labkit._atomic import atomic_path
        from labkit.stats.consensus import DawidSkene

        ct = self.count_tables(inp, task=task, source=source)
        ds = DawidSkene(tol=tol, max_iter=max_iter, smoothing=smoothing, accelerate=accelerate,
                        ll_tol=ll_tol).fit_counts(ct)
        cons = ds.consensus_
        if out is not None:
            with atomic_path(out, suffix=".parquet") as tmp:
                cons.to_parquet(tmp, index=False)
        return DSResult(task=ct.task, labels=ct.labels, annotators=pd.Index(np.asarray(ct.annotators).astype(str)),
                        errors=ds.errors_, priors=ds.priors_, n_items=ct.n_items, n_judgements=ct.n_judgements,
                        n_iter=ds.n_iter_, n_extrapolated=ds.n_extrapolated_, converged=bool(ds.converged_), out=out,
                        stats=consensus_stats(cons, threshold, gold))


def consensus_stats(cons: pd.DataFrame, threshold: float, gold: pd.DataFrame | None) -> dict[str, Any]:
    """Mean confidence, items under ``threshold``, accuracy on gold: the CLI summary of a consensus table."""
    from labkit.stats.consensus import adjudication_queue, consensus_accuracy

    conf = cons["confidence"].to_numpy(dtype=float)
    res: dict[str, Any] = {"mean_confidence": float(conf.mean()) if conf.size else None,
                           "adjudication_queue": int(len(adjudication_queue(cons, gold, threshold=threshold)))}
    if gold is not None:
        acc = consensus_accuracy(cons, gold)
        res.update({"accuracy": acc["accuracy"], "n_gold_items": acc["n_gold_items"], "n_correct": acc["n_correct"]})
    return res
