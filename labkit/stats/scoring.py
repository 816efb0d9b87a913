"""Annotators scored against gold (or, without gold overlap, against leave-one-out consensus).

Every judgement on an item that has gold for its task is scored: correct when its label equals the
gold label. A multi-label answer (several rows for one item and annotator) scores each row, so an
annotator who adds a wrong second label gets one correct and one wrong judgement. Only
``source == "human"`` rows are scored by default.

For annotators with no gold overlap, each of their judgements is compared with the majority label of
the *other* annotators on that item (their own rows removed); items where the others tie or nobody
else labeled are not scored. Such rows say ``reference = "consensus (leave-one-out)"``.

>>> import pandas as pd
>>> labels = pd.DataFrame({"item_id": ["a", "b", "a", "b"], "annotator_id": ["x", "x", "y", "y"],
...                        "label": ["p", "n", "p", "p"]})
>>> gold = pd.DataFrame({"item_id": ["a", "b"], "label": ["p", "n"]})
>>> score_annotators(labels, gold)[["annotator_id", "n", "correct", "accuracy"]].to_dict("records")
[{'annotator_id': 'x', 'n': 2, 'correct': 2, 'accuracy': 1.0}, {'annotator_id': 'y', 'n': 2, 'correct': 1, 'accuracy': 0.5}]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtri

from labkit.errors import ParameterError
from labkit.stats.counts import CountTables, as_label_table, resolve_task

__all__ = ["wilson_interval", "score_annotators", "per_class", "confusion", "top_confusions",
           "GoldJoin", "join_gold"]


def wilson_interval(correct: np.ndarray | float, n: np.ndarray | float, ci: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    r"""Wilson score interval for a proportion (Wilson 1927, JASA 22(158), doi:10.1080/01621459.1927.10502953).

    .. math:: \frac{\hat p + z^2/2n \pm z\sqrt{\hat p(1-\hat p)/n + z^2/4n^2}}{1 + z^2/n}

    NaN where ``n == 0``.

    >>> lo, hi = wilson_interval(8, 10)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.4902, 0.9433)
    """
    if not (0 < ci < 1):
        raise ParameterError(f"ci must be strictly between 0 and 1, got {ci!r}")
    k = np.asarray(correct, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    z = float(ndtri(0.5 + ci / 2.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        den = 1.0 + z * z / n
        mid = (p + z * z / (2 * n)) / den
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
        lo = np.where(n > 0, np.clip(mid - half, 0.0, 1.0), np.nan)
        hi = np.where(n > 0, np.clip(mid + half, 0.0, 1.0), np.nan)
    return lo, hi


@dataclass(frozen=True)
class GoldJoin:
    """Judgements joined with gold, as codes: ``ct`` (the task's count tables), ``gold`` (gold label code
    per item of ``ct``, -1 where no gold); ``ct.labels`` covers judged and gold labels."""

    ct: CountTables
    gold: np.ndarray


def _check_gold(gold: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(gold, pd.DataFrame) or "item_id" not in gold.columns or "label" not in gold.columns:
        raise ParameterError("gold must be a DataFrame with item_id and label columns (see labkit.schema.read_gold)")
    if "task" not in gold.columns:
        gold = gold.assign(task="default")
    return gold


def gold_for_task(gold: pd.DataFrame, task: str) -> pd.DataFrame:
    """Gold rows of ``task``. A gold file that names no task (every row ``"default"``) applies to any task."""
    gold = _check_gold(gold)
    tasks = gold["task"].astype(str)
    if task not in set(tasks) and set(tasks) <= {"default"}:
        return gold
    return gold.loc[tasks == task]


def join_gold(table: pd.DataFrame, gold: pd.DataFrame, *, task: str | None = None,
              source: str | None = "human") -> GoldJoin:
    """Count tables of one task whose label set includes the gold labels, plus gold codes per item."""
    table = as_label_table(table)
    task = resolve_task(table, task)
    g = gold_for_task(gold, task)
    gl = g["label"].astype(str)
    ct = CountTables.from_labels(table, task=task, source=source)
    extra = sorted(set(gl) - set(map(str, ct.labels)))
    if extra:  # gold labels nobody gave still need a row in the confusion matrix
        ct = CountTables.from_labels(table, task=task, source=source, labels=list(map(str, ct.labels)) + extra)
    gmap = pd.Series(gl.to_numpy(), index=g["item_id"].astype(str).to_numpy())
    if gmap.index.has_duplicates:
        dup = gmap.index[gmap.index.duplicated()][0]
        raise ParameterError(f"gold has more than one label for item {dup!r} in task {task!r}")
    per_item = gmap.reindex(ct.items.astype(str))
    codes = ct.labels.get_indexer(per_item.fillna("\0").to_numpy())
    return GoldJoin(ct, codes.astype(np.int64))


def _loo_consensus(ct: CountTables) -> np.ndarray:
    """Per judgement: the majority label of the other annotators on the item (-1: tie or nobody else)."""
    K, A = ct.n_labels, max(ct.n_annotators, 1)
    N = ct.counts()
    key = ct.item.astype(np.int64) * A + ct.annotator
    uk, inv = np.unique(key, return_inverse=True)
    own = np.bincount(inv.astype(np.int64) * K + ct.label, minlength=uk.size * K).reshape(uk.size, K)
    other = N[ct.item] - own[inv]
    top = other.max(axis=1)
    win = other.argmax(axis=1)
    unique_top = (other == top[:, None]).sum(axis=1) == 1
    return np.where((top > 0) & unique_top, win, -1)


def score_annotators(table: pd.DataFrame, gold: pd.DataFrame | None = None, *, ci: float = 0.95,
                     task: str | None = None, source: str | None = "human", consensus_fallback: bool = True) -> pd.DataFrame:
    """Accuracy per annotator with a Wilson interval.

    Parameters
    ----------
    gold : gold table (item_id, label[, task]); None scores everyone against leave-one-out consensus.
    ci : level of the Wilson interval.
    consensus_fallback : score annotators with no gold overlap against leave-one-out consensus.

    Returns
    -------
    DataFrame: annotator_id, n (judgements scored), correct, accuracy, ci_low, ci_high, reference
    ("gold" or "consensus (leave-one-out)"; "none" when nothing could be scored), task; sorted by
    annotator_id. Every annotator of the task appears.
    """
    if gold is None:
        ct = CountTables.from_labels(as_label_table(table), task=task, source=source)
        gcode = np.full(ct.n_items, -1, np.int64)
    else:
        j = join_gold(table, gold, task=task, source=source)
        ct, gcode = j.ct, j.gold
    A = ct.n_annotators
    g_row = gcode[ct.item]
    on_gold = g_row >= 0
    n_g = np.bincount(ct.annotator, weights=on_gold, minlength=A)
    c_g = np.bincount(ct.annotator, weights=on_gold & (ct.label == g_row), minlength=A)
    n, c = n_g.copy(), c_g.copy()
    ref = np.where(n_g > 0, "gold", "none").astype(object)
    if consensus_fallback:
        need = n_g == 0
        if need.any():
            rows = need[ct.annotator]
            loo = _loo_consensus(ct)
            scored = rows & (loo >= 0)
            n_c = np.bincount(ct.annotator, weights=scored, minlength=A)
            c_c = np.bincount(ct.annotator, weights=scored & (ct.label == loo), minlength=A)
            n = np.where(need, n_c, n)
            c = np.where(need, c_c, c)
            ref = np.where(need & (n_c > 0), "consensus (leave-one-out)", ref)
    lo, hi = wilson_interval(c, n, ci)
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = np.where(n > 0, c / n, np.nan)
    out = pd.DataFrame({"annotator_id": ct.annotators.astype(str), "n": n.astype(np.int64), "correct": c.astype(np.int64),
                        "accuracy": acc, "ci_low": lo, "ci_high": hi, "reference": ref.astype(str), "task": ct.task})
    return out.sort_values("annotator_id", kind="stable").reset_index(drop=True)


def _gold_rows(table: pd.DataFrame, gold: pd.DataFrame, task: str | None, source: str | None,
               annotator: str | None = None) -> tuple[CountTables, np.ndarray, np.ndarray]:
    j = join_gold(table, gold, task=task, source=source)
    ct = j.ct
    sel = j.gold[ct.item] >= 0
    if annotator is not None:
        if str(annotator) not in set(ct.annotators):
            raise ParameterError(f"annotator {annotator!r} has no judgements in task {ct.task!r}")
        sel &= ct.annotator == ct.annotators.get_loc(str(annotator))
    return ct, j.gold[ct.item[sel]], sel


def confusion(table: pd.DataFrame, gold: pd.DataFrame, annotator: str | None = None, *, task: str | None = None,
              source: str | None = "human", normalize: bool = False) -> pd.DataFrame:
    """Confusion matrix of judgements on gold items: rows = gold label, columns = given label (counts,
    or row shares with ``normalize=True``). ``annotator`` restricts to one annotator."""
    ct, g, sel = _gold_rows(table, gold, task, source, annotator)
    K = ct.n_labels
    M = np.bincount(g * K + ct.label[sel], minlength=K * K).reshape(K, K)
    df = pd.DataFrame(M, index=pd.Index(ct.labels, name="gold"), columns=pd.Index(ct.labels, name="label"))
    if normalize:
        s = df.sum(axis=1).replace(0, np.nan)
        df = df.div(s, axis=0)
    return df


def per_class(table: pd.DataFrame, gold: pd.DataFrame, *, task: str | None = None, source: str | None = "human",
              annotator: str | None = None) -> pd.DataFrame:
    """Precision, recall and F1 per label over all judgements on gold items (one-vs-rest).

    Returns label, support (gold occurrences among judged rows), predicted, true_positive, precision,
    recall, f1 (NaN where undefined: a label never predicted has no precision).
    """
    M = confusion(table, gold, annotator, task=task, source=source).to_numpy().astype(np.float64)
    tp = np.diag(M)
    support = M.sum(axis=1)
    pred = M.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        prec = np.where(pred > 0, tp / pred, np.nan)
        rec = np.where(support > 0, tp / support, np.nan)
        f1 = np.where((prec + rec) > 0, 2 * prec * rec / (prec + rec), np.where(np.isnan(prec) | np.isnan(rec), np.nan, 0.0))
    labels = confusion(table, gold, annotator, task=task, source=source).index
    return pd.DataFrame({"label": labels.astype(str), "support": support.astype(np.int64),
                         "predicted": pred.astype(np.int64), "true_positive": tp.astype(np.int64),
                         "precision": prec, "recall": rec, "f1": f1})


def top_confusions(table: pd.DataFrame, gold: pd.DataFrame, k: int = 10, examples: int = 3, *,
                   task: str | None = None, source: str | None = "human") -> pd.DataFrame:
    """The ``k`` most frequent (gold, given) confusions with up to ``examples`` example items each.

    Returns gold, label, count, share (of the judgements on items with that gold label),
    examples (list of item ids, the most-confused items first).
    """
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ParameterError(f"k must be a positive integer, got {k!r}")
    ct, g, sel = _gold_rows(table, gold, task, source)
    K = ct.n_labels
    lab = ct.label[sel]
    items = ct.item[sel]
    wrong = lab != g
    pair = g * K + lab
    cnt = np.bincount(pair[wrong], minlength=K * K)
    per_gold = np.bincount(g, minlength=K)
    order = np.argsort(-cnt, kind="stable")
    order = order[cnt[order] > 0][:k]
    rows = []
    for p in order:  # k pairs, not rows
        m = wrong & (pair == p)
        it, c = np.unique(items[m], return_counts=True)
        ex = it[np.argsort(-c, kind="stable")][:examples]
        rows.append({"gold": str(ct.labels[p // K]), "label": str(ct.labels[p % K]), "count": int(cnt[p]),
                     "share": float(cnt[p] / per_gold[p // K]) if per_gold[p // K] else math.nan,
                     "examples": [str(x) for x in ct.items[ex]]})
    return pd.DataFrame(rows, columns=["gold", "label", "count", "share", "examples"])
