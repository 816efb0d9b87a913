"""Count tables: the one pass over raw judgements that every statistic starts from.

Every metric in :mod:`labkit.stats` is a function of small reduced tables (item x label counts, the
pair of code arrays, annotator x true x observed counts). :class:`CountTables` builds them in one
vectorized pass over the canonical label table's categorical codes (no Python loop over rows, no
re-factorizing of strings). This is the single place where an out-of-core engine (DuckDB, Spark)
would plug in: it only has to supply the same arrays.

Selection rules (applied here, once, for every statistic):

* one task at a time: labels of different tasks are never pooled. A table with several tasks needs
  ``task=`` (or a ``by="task"`` breakdown);
* ``source="human"`` by default: model pre-labels are not raters. ``source=None`` keeps both;
* every row is one judgement. Duplicate rows and multi-label answers (several rows for one item and
  annotator) count as separate ratings in the item x label counts, as in the public reference values
  (see ``docs/statistics.md`` for how each metric treats them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from labkit.errors import ParameterError, SchemaError

__all__ = ["CountTables", "ItemLabelCounts", "as_label_table", "label_order", "resolve_task"]


def as_label_table(table: pd.DataFrame) -> pd.DataFrame:
    """Return ``table`` as a canonical label table (categorical ids).

    A canonical table is returned as is. A plain frame with at least ``item_id``, ``annotator_id`` and
    ``label`` columns (any dtypes) is conformed with :func:`labkit.schema.conform_labels`; a row it
    cannot represent raises :class:`~labkit.errors.SchemaError` naming the row and field.
    """
    if not isinstance(table, pd.DataFrame):
        raise ParameterError(f"table must be a pandas DataFrame (a canonical label table), got {type(table).__name__}")
    ok = all(c in table.columns and isinstance(table[c].dtype, pd.CategoricalDtype)
             for c in ("item_id", "annotator_id", "label", "task", "source"))
    if ok:
        return table
    from labkit.schema import conform_labels

    conformed = conform_labels(table)
    if len(conformed.rejects):
        r = conformed.rejects.iloc[0]
        raise SchemaError(f"label table row {int(r['row'])}, field {r['field']!r}: {r['reason']} (value {r['value']!r})")
    return conformed.table


def resolve_task(table: pd.DataFrame, task: str | None) -> str:
    """The task to measure: ``task`` if given (must exist), else the table's only task."""
    tasks = table["task"].cat.categories
    if len(table) and len(tasks) > 1:
        present = tasks[np.bincount(table["task"].cat.codes.to_numpy()[table["task"].cat.codes.to_numpy() >= 0],
                                    minlength=len(tasks)) > 0]
    else:
        present = tasks
    if task is None:
        if len(present) > 1:
            raise ParameterError(f"the table holds {len(present)} tasks ({', '.join(map(str, present[:5]))}"
                                 f"{', ...' if len(present) > 5 else ''}); labels of different tasks are never "
                                 "pooled: pass task=... or break down with by='task'")
        return str(present[0]) if len(present) else "default"
    if task not in set(map(str, present)):
        raise ParameterError(f"task {task!r} is not in the table; tasks: {', '.join(map(str, present)) or 'none'}")
    return str(task)


def _numeric(labels: pd.Index) -> np.ndarray | None:
    vals = pd.to_numeric(pd.Series(np.asarray(labels, dtype=object)), errors="coerce").to_numpy(dtype=float)
    return None if np.isnan(vals).any() else vals


def label_order(labels: pd.Index | list[str], order: list[str] | tuple[str, ...] | None = None) -> list[str]:
    """Order labels for ordinal / weighted metrics.

    ``order`` (e.g. a guideline version's ``label_names``) wins; labels it does not name raise
    :class:`ParameterError`. Otherwise numeric labels sort by value and other labels alphabetically.
    """
    labels = [str(x) for x in labels]
    if order is not None:
        order = [str(x) for x in order]
        missing = sorted(set(labels) - set(order))
        if missing:
            raise ParameterError(f"order must name every label used; missing {', '.join(map(repr, missing))}")
        return order
    vals = _numeric(pd.Index(labels))
    if vals is not None:
        return [labels[i] for i in np.argsort(vals, kind="stable")]
    return sorted(labels)


#: Up to this many item x label cells, counts are built dense with one bincount; beyond, sparse.
DENSE_CELLS = 1 << 27
#: The counts are taken over the raw category codes (before unused categories are dropped) while they
#: have at most this many cells per judgement kept (see :func:`_raw_counts`).
RAW_CELLS_PER_JUDGEMENT = 2


def _item_label(icodes: np.ndarray, lcodes: np.ndarray, n_i: int, n_l: int) -> dict[str, object]:
    flat = icodes.astype(np.int64) * n_l + lcodes
    if n_i * n_l <= DENSE_CELLS:
        return {"_dense": np.bincount(flat, minlength=n_i * n_l).reshape(n_i, n_l)}
    keys, cnt = np.unique(flat, return_counts=True)
    return {"_sparse": sp.csr_matrix((cnt, (keys // n_l, keys % n_l)), shape=(n_i, n_l), dtype=np.int64)}


def _raw_counts(icodes: np.ndarray, lcodes: np.ndarray, n_items: int, n_labels: int) -> np.ndarray | None:
    """Item x label counts over the raw category codes (every category, used or not), with one bincount and
    one temporary of a machine integer per judgement; the counts' row and column sums then give the items
    and labels present, with no bincount of their own. None when that table would be large (over
    :data:`DENSE_CELLS` cells, or over :data:`RAW_CELLS_PER_JUDGEMENT` per judgement: many categories
    unused, as for one task of a table of several) or a code is missing (-1): the caller compacts first."""
    cells = n_items * n_labels
    if not icodes.size or cells > DENSE_CELLS or cells > RAW_CELLS_PER_JUDGEMENT * icodes.size:
        return None
    if int(icodes.min()) < 0 or int(lcodes.min()) < 0:
        return None
    flat = icodes.astype(np.intp)
    flat *= n_labels
    flat += lcodes
    out = np.bincount(flat, minlength=cells)
    del flat
    return out.reshape(n_items, n_labels)


def _compact_present(codes: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_compact` with the categories present known already."""
    if present.all():
        return codes.astype(np.int32, copy=False), np.arange(present.size)
    remap = np.cumsum(present, dtype=np.int64) - 1
    return remap[codes].astype(np.int32, copy=False), np.flatnonzero(present)


def _padded_text(codes: np.ndarray) -> pd.Index:
    """Non-negative integers as zero-padded decimal text of one width (sorted codes give sorted text)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    width = len(str(int(codes.max()))) if codes.size else 1
    text = pc.utf8_lpad(pa.array(codes, pa.int64()).cast(pa.string()), width=width, padding="0")
    return pd.Index(text.to_pandas(), dtype="str")


def _compact(codes: np.ndarray, n_categories: int, counts: list[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Renumber codes to 0..k-1 over the categories present; returns (new codes, kept category codes).
    ``counts`` (a list) receives the per-category counts of the categories kept."""
    binc = np.bincount(codes, minlength=n_categories)
    present = binc > 0
    if counts is not None:
        counts.append(binc[present])
    return _compact_present(codes, present)


@dataclass(frozen=True)
class CountTables:
    """Reduced tables for one task, built in one vectorized pass.

    Attributes
    ----------
    task : the task measured.
    items, annotators, labels : the ids present (``labels`` in the chosen order).
    item, annotator, label : int32 code arrays, one entry per judgement kept (into the indexes above).
    rows : positions of the kept judgements in the input table (to join timestamps, confidence...).
    item_label : item x label counts, ``scipy.sparse.csr_matrix`` (int64); :meth:`counts` gives the
        same as a dense array. Only one form is built up front: dense while items x labels stays under
        ``DENSE_CELLS`` cells, sparse (sorted unique pairs) beyond.
    """

    task: str
    items: pd.Index
    labels: pd.Index
    item: np.ndarray
    label: np.ndarray
    _ann_raw: np.ndarray = field(repr=False)
    _ann_cats: pd.Index = field(repr=False)
    _rows: np.ndarray | None = field(default=None, repr=False)
    _m: np.ndarray | None = field(default=None, repr=False)
    _dense: np.ndarray | None = field(default=None, repr=False)
    _sparse: sp.csr_matrix | None = field(default=None, repr=False)
    _ann: tuple[np.ndarray, pd.Index] | None = field(default=None, repr=False)

    @property
    def rows(self) -> np.ndarray:
        """Positions of the kept judgements in the input table."""
        return np.arange(self.item.size) if self._rows is None else self._rows

    def _annotator_codes(self) -> tuple[np.ndarray, pd.Index]:
        if self._ann is None:  # built on first use: agreement over item x label counts never needs it
            codes, keep = _compact(self._ann_raw, len(self._ann_cats))
            object.__setattr__(self, "_ann", (codes, pd.Index(self._ann_cats[keep], dtype="str")))
        return self._ann  # type: ignore[return-value]

    @property
    def annotator(self) -> np.ndarray:
        """int32 annotator code per judgement (into :attr:`annotators`)."""
        return self._annotator_codes()[0]

    @property
    def annotators(self) -> pd.Index:
        """Annotators with at least one judgement kept."""
        return self._annotator_codes()[1]

    @property
    def item_label(self) -> sp.csr_matrix:
        """Item x label counts as ``scipy.sparse.csr_matrix`` (int64)."""
        if self._sparse is None:
            object.__setattr__(self, "_sparse", sp.csr_matrix(self._dense, dtype=np.int64))
        return self._sparse

    def counts(self) -> np.ndarray:
        """Item x label counts as a dense int64 array (labels are few, so this stays small)."""
        if self._dense is None:
            object.__setattr__(self, "_dense", self._sparse.toarray().astype(np.int64))  # type: ignore[union-attr]
        return self._dense  # type: ignore[return-value]

    @property
    def n_judgements(self) -> int:
        return int(self.item.size)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_labels(self) -> int:
        return len(self.labels)

    @property
    def n_annotators(self) -> int:
        return len(self.annotators)

    @property
    def raters_per_item(self) -> np.ndarray:
        """Judgements per item (int64 array)."""
        if self._m is None:
            object.__setattr__(self, "_m", np.bincount(self.item, minlength=self.n_items))
        return self._m  # type: ignore[return-value]

    @classmethod
    def from_labels(cls, table: pd.DataFrame, *, task: str | None = None, source: str | None = "human",
                    order: list[str] | tuple[str, ...] | None = None, labels: list[str] | None = None) -> CountTables:
        """Build the count tables of one task.

        Parameters
        ----------
        table : canonical label table (or a frame with item_id, annotator_id, label).
        task : the task; None for the table's only task.
        source : keep only judgements of this source ("human" default, "model"); None keeps all.
        order : label order (ordinal metrics, weights); default numeric or alphabetical.
        labels : the full label set (e.g. a guideline's ``label_names``) so unused labels still
            count as categories; default the labels used.
        """
        table = as_label_table(table)
        task = resolve_task(table, task)
        mask = None
        tcodes = table["task"].cat.codes.to_numpy()
        tcats = table["task"].cat.categories
        if len(tcats) != 1 or (tcodes < 0).any():
            mask = tcodes == tcats.get_loc(task) if task in tcats else np.zeros(len(table), bool)
        if source is not None:
            if source not in ("human", "model"):
                raise ParameterError(f"source must be 'human', 'model' or None, got {source!r}")
            scodes = table["source"].cat.codes.to_numpy()
            scats = table["source"].cat.categories
            if source in scats:
                want = scodes == scats.get_loc(source)
            else:
                want = np.zeros(len(table), bool)
            if not want.all():
                mask = want if mask is None else (mask & want)
        if mask is None:
            rows = None
            take = lambda s: s.cat.codes.to_numpy()  # noqa: E731
        else:
            rows = np.flatnonzero(mask)
            take = lambda s: s.cat.codes.to_numpy()[rows]  # noqa: E731
        iraw = take(table["item_id"])
        lraw = take(table["label"])
        lcats = table["label"].cat.categories
        n_ic, n_lc = len(table["item_id"].cat.categories), len(lcats)
        raw = _raw_counts(iraw, lraw, n_ic, n_lc)
        m: list[np.ndarray] = []
        if raw is not None:  # item x raw label counts first: the item and label bincounts are its margins
            m_raw = raw.sum(axis=1)
            present = m_raw > 0
            m.append(m_raw if present.all() else m_raw[present])
            icodes, ikeep = _compact_present(iraw, present)
            lused = raw.sum(axis=0) > 0
        else:
            icodes, ikeep = _compact(iraw, n_ic, m)
            lused = np.bincount(lraw, minlength=n_lc) > 0 if lraw.size else np.zeros(n_lc, bool)
        del iraw
        used = lcats[lused]
        universe = list(map(str, used))
        if labels is not None:
            extra = sorted(set(universe) - set(map(str, labels)))
            if extra:
                raise ParameterError(f"labels must include every label used; missing {', '.join(map(repr, extra))}")
            universe = [str(x) for x in labels]
        ordered = label_order(universe, order)
        pos = pd.Index(ordered, dtype="str")
        lut = pos.get_indexer(lcats.astype("str"))
        if len(lut) == len(pos) and (lut == np.arange(len(lut))).all():
            lcodes = lraw.astype(np.int32, copy=False)
        else:
            lcodes = lut[lraw].astype(np.int32, copy=False)
        n_i, n_l = len(ikeep), len(pos)
        if raw is not None:
            if len(ikeep) < n_ic:
                raw = raw[ikeep]
            if n_l == n_lc and (lut == np.arange(n_l)).all():
                dense = raw
            else:  # columns in label order (labels unused or given by ``labels`` stay zero)
                dense = np.zeros((n_i, n_l), np.int64)
                for j in np.flatnonzero(lut >= 0):
                    dense[:, lut[j]] = raw[:, j]
            del raw
            tables: dict[str, object] = {"_dense": dense}
        else:
            tables = _item_label(icodes, lcodes, n_i, n_l)
        return cls(task=task,
                   items=pd.Index(table["item_id"].cat.categories[ikeep], dtype="str"),
                   labels=pos, item=icodes, label=lcodes,
                   _ann_raw=take(table["annotator_id"]), _ann_cats=table["annotator_id"].cat.categories,
                   _rows=rows, _m=m[0], **tables)  # type: ignore[arg-type]

    @classmethod
    def from_codes(cls, item: np.ndarray, annotator: np.ndarray, label: np.ndarray, *, labels: list[str] | None = None,
                   task: str = "default") -> CountTables:
        """Build from integer code arrays directly (benchmarks, other engines).

        The ids are the codes' text, zero-padded to one width (``007``, ``012``, ``100``) so they sort as the
        codes do: tables keyed by them (the consensus table) need no sort of millions of strings."""
        item = np.asarray(item)
        annotator = np.asarray(annotator)
        label = np.asarray(label)
        icodes, ikeep = _compact(item, int(item.max()) + 1 if item.size else 0)
        n_l = int(label.max()) + 1 if labels is None else len(labels)
        n_i = len(ikeep)
        names = [str(i) for i in range(n_l)] if labels is None else [str(x) for x in labels]
        n_a = int(annotator.max()) + 1 if annotator.size else 0
        return cls(task=task, items=_padded_text(ikeep), labels=pd.Index(names, dtype="str"),
                   item=icodes, label=label.astype(np.int32, copy=False), _ann_raw=annotator,
                   _ann_cats=pd.Index(np.arange(n_a).astype(str), dtype="str"),
                   **_item_label(icodes, label, n_i, n_l))  # type: ignore[arg-type]

    def label_values(self) -> np.ndarray | None:
        """Labels as numbers (interval/ratio metrics), or None when a label is not numeric."""
        return _numeric(self.labels)



def _fold_rows(N: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a non-negative int count matrix (lexicographic order) and how often each occurs."""
    N = np.asarray(N, dtype=np.int64)
    if N.shape[0] == 0:
        return N.reshape(0, N.shape[1]), np.zeros(0, np.int64)
    base = int(N.max()) + 1 if N.size else 1
    if N.shape[1] * np.log2(max(base, 2)) < 62:  # mixed-radix key fits an int64: sort keys, not rows
        key = np.zeros(N.shape[0], np.int64)
        for c in range(N.shape[1]):
            key = key * base + N[:, c]
        uk, first, cnt = np.unique(key, return_index=True, return_counts=True)
        return N[first], cnt.astype(np.int64)
    rows, cnt = np.unique(N, axis=0, return_counts=True)
    return rows.astype(np.int64), cnt.astype(np.int64)


@dataclass(frozen=True)
class ItemLabelCounts:
    """Item x label counts folded to their distinct rows: the reduced table an engine returns.

    Every agreement coefficient of :mod:`labkit.stats.agreement` (alpha at every level, Fleiss,
    percent agreement, AC1) is a sum over items of a function of the item's count row, so items with
    equal rows are interchangeable: ``patterns[r]`` occurs ``weight[r]`` times. The table is as small
    as the number of distinct count rows (thousands), whatever the number of items; an out-of-core
    engine (:mod:`labkit.engines`) builds it with one GROUP BY, and the statistics run on it in numpy.
    Rows are sorted lexicographically so every engine returns the same table.

    Attributes
    ----------
    task : the task measured.
    labels : label order (columns of ``patterns``).
    patterns : (k, L) int64 distinct count rows.
    weight : (k,) int64 number of items with that row.
    n_judgements : judgements counted.
    """

    task: str
    labels: pd.Index
    patterns: np.ndarray
    weight: np.ndarray
    n_judgements: int

    @classmethod
    def from_count_tables(cls, ct: CountTables) -> ItemLabelCounts:
        """Fold :meth:`CountTables.counts` to distinct rows."""
        rows, w = _fold_rows(ct.counts())
        return cls(task=ct.task, labels=ct.labels, patterns=rows, weight=w, n_judgements=ct.n_judgements)

    @classmethod
    def from_patterns(cls, task: str, labels: list[str] | pd.Index, patterns: np.ndarray, weight: np.ndarray) -> ItemLabelCounts:
        """From engine output: rows may come in any order and need not be distinct."""
        w = np.asarray(weight, dtype=np.int64)
        P = np.asarray(patterns, dtype=np.int64).reshape(w.size, len(labels))
        if P.shape[0]:
            expanded_key = np.ascontiguousarray(P).view([("", np.int64)] * P.shape[1]).ravel()
            order = np.argsort(expanded_key, kind="stable")
            P, w = P[order], w[order]
            new = np.ones(P.shape[0], bool)
            new[1:] = (P[1:] != P[:-1]).any(axis=1)
            starts = np.flatnonzero(new)
            w = np.add.reduceat(w, starts)
            P = P[starts]
        return cls(task=task, labels=pd.Index([str(x) for x in labels], dtype="str"), patterns=P, weight=w,
                   n_judgements=int((P.sum(axis=1) * w).sum()))

    def counts(self) -> np.ndarray:
        """The distinct count rows (k x L int64); weigh them with :attr:`weight`."""
        return self.patterns

    @property
    def raters_per_item(self) -> np.ndarray:
        """Judgements per distinct row."""
        return self.patterns.sum(axis=1)

    @property
    def n_items(self) -> int:
        return int(self.weight.sum())

    @property
    def n_labels(self) -> int:
        return len(self.labels)

    def equals(self, other: ItemLabelCounts) -> bool:
        """Same task, labels, rows and weights."""
        return (self.task == other.task and list(self.labels) == list(other.labels)
                and self.patterns.shape == other.patterns.shape and bool((self.patterns == other.patterns).all())
                and bool((self.weight == other.weight).all()))
