"""The in-memory engine: today's pandas/numpy path, reading only the id columns from Parquet."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from labkit.engines.base import READ_COLUMNS, DSResult, Engine, ParquetInput, reuse_freed_memory
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
    import pyarrow.compute as pc
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
    # the system allocator, not pyarrow's default (mimalloc): decoding a row group's dictionary page churns
    # large buffers, which mimalloc hands back to the OS and faults in again (measured on the 10M program:
    # 1.3-1.6 s of system time for the read, 0.2 s with the system allocator)
    tbl = dataset.to_table(columns=[c for c in columns if c in names], memory_pool=pa.system_memory_pool())
    n = tbl.num_rows
    cols: dict[str, Any] = {}
    for c in columns:
        if c not in names:
            cols[c] = pd.Categorical.from_codes(np.zeros(n, np.int8), categories=["default" if c == "task" else "human"])
            continue
        arr = tbl.column(c)
        if c in ("item_id", "annotator_id", "label") and arr.null_count:
            first = int(np.flatnonzero(~np.asarray(pc.is_valid(arr).to_numpy(zero_copy_only=False), bool))[0])
            raise InputRefused(_file_of(inp, first), "a row has no value (run `labkit import` to quarantine such "
                                                      "rows)", record=first, field=c)
        codes, dictionary = dictionary_codes(arr)
        tbl = tbl.drop_columns([c])  # free the column as soon as it is coded
        del arr
        cols[c] = _categorical(codes, dictionary)
    return pd.DataFrame(cols, copy=False)


def dictionary_codes(arr: Any) -> tuple[np.ndarray, Any]:
    """Integer codes (-1 for null) and one dictionary of unique strings for a pyarrow column, read with
    ``dictionary_columns`` so each chunk is dictionary-encoded already.

    The strings are never turned into Python objects: when every chunk carries the same dictionary
    (files written from a categorical with few values) the chunk indices are the codes; otherwise the
    chunks' dictionaries are unified once, together (:func:`_unify`: a merge of sorted runs when the file
    is ordered by the column, else one hash pass over the distinct values per chunk, not over the rows'
    strings), and each chunk's indices are mapped through that.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    chunks = [ch if pa.types.is_dictionary(ch.type) else pc.dictionary_encode(ch) for ch in arr.chunks]
    if not chunks:
        return np.zeros(0, np.int32), pa.array([], pa.string())
    d0 = chunks[0].dictionary
    same = all(ch.dictionary is d0 or ch.dictionary.equals(d0) for ch in chunks[1:])
    if same:
        glob: np.ndarray | None = None
        dictionary = d0
        offsets = [0] * len(chunks)
    else:
        glob, dictionary = _unify(pa.concat_arrays([ch.dictionary for ch in chunks]))
        offsets = list(np.cumsum([0] + [len(ch.dictionary) for ch in chunks[:-1]]))
    out = np.empty(sum(len(ch) for ch in chunks), np.int32)
    pos = 0
    for ch, off in zip(chunks, offsets):
        idx = ch.indices
        if idx.null_count:
            idx = pc.fill_null(idx, -1)
        ix = idx.to_numpy(zero_copy_only=False)
        seg = out[pos:pos + ix.size]
        if glob is None:
            seg[:] = ix
        else:
            np.take(glob, ix.astype(np.int64, copy=False) + off, out=seg)
            if idx is not ch.indices:
                seg[ix < 0] = -1
        pos += ix.size
    if not pa.types.is_string(dictionary.type):
        if pa.types.is_large_string(dictionary.type):
            dictionary = dictionary.cast(pa.string())
        else:  # numbers, dates...: their text (distinct values keep distinct texts), as load_labels reads them
            text = pc.cast(dictionary, pa.string()) if not pa.types.is_binary(dictionary.type) else dictionary.cast(pa.string())
            enc = pc.dictionary_encode(text)
            if len(enc.dictionary) != len(text):
                remap = enc.indices.to_numpy(zero_copy_only=False).astype(np.int32)
                out = np.where(out >= 0, remap[np.maximum(out, 0)], -1).astype(np.int32)
            dictionary = enc.dictionary
    return out, dictionary


def _unify(values: Any) -> tuple[np.ndarray, Any]:
    """Codes of ``values`` (the chunks' dictionaries one after the other) into one dictionary of its distinct
    values: ``(codes, dictionary)`` with ``dictionary.take(codes) == values``.

    When the values never decrease (a file ordered by the column, as exports ordered by item are: each row
    group's dictionary is then a sorted run that starts where the previous one ended), equal values are
    neighbours and the distinct ones are found by comparing each value with the next, in one pass and
    without hashing a string; the dictionary comes out sorted. Otherwise the values are hashed once.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(values)
    if n > 1 and values.null_count == 0:
        head, tail = values.slice(0, n - 1), values.slice(1)
        if pc.all(pc.less_equal(head, tail)).as_py():
            first = np.empty(n, bool)
            first[0] = True
            first[1:] = pc.not_equal(head, tail).to_numpy(zero_copy_only=False)
            codes = np.cumsum(first, dtype=np.int32)
            codes -= 1
            return codes, values.filter(pa.array(first))
    enc = pc.dictionary_encode(values)
    return enc.indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False), enc.dictionary


def _categorical(codes: np.ndarray, dictionary: Any) -> pd.Categorical:
    """A categorical from codes into a unique arrow string dictionary (no Python string objects; the
    dictionary is unique by construction, so pandas' uniqueness check is skipped)."""
    cats = pd.Index(dictionary.to_pandas(), dtype="str")
    fast = getattr(pd.CategoricalDtype, "_from_fastpath", None)
    dtype = fast(cats, False) if fast is not None else pd.CategoricalDtype(cats)
    return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)


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
        reuse_freed_memory()
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
