"""Consensus labels: majority vote and Dawid-Skene EM, with a confidence per item; adjudication queue.

Both methods return the same table, one row per item and task::

    item_id, task, label, confidence, n_judgements, method

``confidence`` is the winning label's vote share (majority vote) or its posterior probability
(Dawid-Skene). Tasks are aggregated separately (never pooled). Only ``source == "human"`` judgements
vote by default. Every row is one vote: duplicate rows and the rows of a multi-label answer each vote.

>>> import pandas as pd
>>> t = pd.DataFrame({"item_id": list("aaabb"), "annotator_id": list("xyzxy"), "label": list("ppnnp")})
>>> majority_vote(t)[["item_id", "label", "confidence"]].to_dict("records")  # b: x and y equally skilled, n < p
[{'item_id': 'a', 'label': 'p', 'confidence': 0.6666666666666666}, {'item_id': 'b', 'label': 'n', 'confidence': 0.5}]
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from labkit.errors import ParameterError
from labkit.stats.counts import CountTables, as_label_table, resolve_task

__all__ = ["majority_vote", "DawidSkene", "adjudication_queue", "consensus_accuracy", "CONSENSUS_COLUMNS"]

CONSENSUS_COLUMNS = ("item_id", "task", "label", "confidence", "n_judgements", "method")
Ties = Literal["skill", "prior", "order", "none"]


def _tasks(table: pd.DataFrame, task: str | None) -> list[str]:
    table = as_label_table(table)
    if task is not None:
        return [resolve_task(table, task)]
    codes = table["task"].cat.codes.to_numpy()
    cats = table["task"].cat.categories
    return [str(c) for c in cats[np.bincount(codes[codes >= 0], minlength=len(cats)) > 0]]


def _frame(ct: CountTables, label_codes: np.ndarray, conf: np.ndarray, method: str) -> pd.DataFrame:
    lab = pd.Categorical.from_codes(label_codes.astype(np.int64), categories=ct.labels) if (label_codes >= 0).all() \
        else pd.Categorical.from_codes(np.where(label_codes >= 0, label_codes, -1).astype(np.int64), categories=ct.labels)
    items = ct.items.astype(str)
    # the ids are distinct: when they are already sorted (as pd.Categorical would sort them) the codes are
    # 0..n-1 and no string needs hashing (a second or more at millions of items)
    item_col = (pd.Categorical.from_codes(np.arange(ct.n_items), categories=items)
                if items.is_monotonic_increasing and items.is_unique else pd.Categorical(items))
    zeros = np.zeros(ct.n_items, np.int64)
    return pd.DataFrame({
        "item_id": item_col,
        "task": pd.Categorical.from_codes(zeros, categories=[ct.task]),
        "label": lab,
        "confidence": conf.astype(np.float64),
        "n_judgements": ct.raters_per_item.astype(np.int64),
        "method": pd.Categorical.from_codes(zeros, categories=[method]),
    })


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    if len(frames) == 1:
        return frames[0]
    out = pd.concat([f.astype({"item_id": str, "task": str, "label": str}) for f in frames], ignore_index=True)
    for c in ("item_id", "task", "label", "method"):
        out[c] = out[c].astype("category")
    return out


def _mv_codes(ct: CountTables, ties: Ties) -> tuple[np.ndarray, np.ndarray]:
    N = ct.counts()
    m = N.sum(axis=1)
    K, I = ct.n_labels, ct.n_items
    if ties not in ("skill", "prior", "order", "none"):
        raise ParameterError(f"ties must be 'skill', 'prior', 'order' or 'none', got {ties!r}")
    if K == 0:
        return np.zeros(I, np.int64), np.zeros(I)
    first = (K - 1 - np.arange(K))[None, :]  # earlier label in order wins a remaining tie
    win = (N.astype(np.int64) * K + first).argmax(axis=1)
    top = N[np.arange(I), win]
    is_top = N == top[:, None]
    tied = is_top.sum(axis=1) > 1
    if ties == "prior" and tied.any():
        freq = N.sum(axis=0)
        rank = np.empty(K, np.int64)
        rank[np.lexsort((-np.arange(K), freq))] = np.arange(K)
        win = np.where(tied, np.where(is_top, rank[None, :], -1).argmax(axis=1), win)
    elif ties == "skill" and tied.any():
        untied_row = ~tied[ct.item]
        agree = untied_row & (ct.label == win[ct.item])
        seen = np.bincount(ct.annotator, weights=untied_row.astype(np.float64), minlength=ct.n_annotators)
        skill = (np.bincount(ct.annotator, weights=agree.astype(np.float64), minlength=ct.n_annotators) + 1.0) / (seen + 2.0)
        score = np.bincount(ct.item.astype(np.int64) * K + ct.label, weights=skill[ct.annotator],
                            minlength=I * K).reshape(I, K)
        score = np.where(is_top, score, -1.0)
        best = score.max(axis=1, keepdims=True)
        pick = ((score == best) * (first + 1)).argmax(axis=1)
        win = np.where(tied, pick, win)
    conf = top / np.where(m > 0, m, 1)
    if ties == "none":
        win = np.where(tied, -1, win)
    return win, conf


def majority_vote(table: pd.DataFrame, *, ties: Ties = "skill", task: str | None = None,
                  source: str | None = "human") -> pd.DataFrame:
    """Majority vote per item.

    Tie rule (``ties``), deterministic (no random tie-breaking, results are reproducible):

    * "skill" (default): among the tied labels, the one whose voters have the larger summed skill,
      an annotator's skill being their agreement rate with the majority on the untied items,
      Laplace-smoothed ``(agree + 1) / (seen + 2)``; a remaining tie goes to the earliest label;
    * "prior": the tied label used most often in the whole task, then the earliest label;
    * "order": the earliest label in label order (numeric, else alphabetical);
    * "none": no label (missing), to send ties to adjudication.
 ``confidence`` is the winning label's share of the item's votes (0.5 on a 2-2 tie).
    """
    frames = []
    for t in _tasks(table, task):
        ct = CountTables.from_labels(table, task=t, source=source)
        win, conf = _mv_codes(ct, ties)
        frames.append(_frame(ct, win, conf, "mv"))
    return _concat(frames)


class DawidSkene:
    r"""Dawid-Skene EM for categorical labels (Dawid & Skene 1979, Applied Statistics 28(1):20-28,
    doi:10.2307/2346806).

    Model: item ``i`` has a true class :math:`z_i \sim \pi`; annotator ``j`` reports label ``l`` with
    probability :math:`\theta_{jkl}` when the truth is ``k``.

    * initialise the posteriors :math:`T_{ik}` with the soft majority vote (vote shares);
    * M-step: :math:`\theta_{jkl} \propto s + \sum_{r: j_r=j, l_r=l} T_{i_r k}` (smoothing ``s``),
      :math:`\pi_k = \frac{1}{I}\sum_i T_{ik}`;
    * E-step: :math:`\log T_{ik} = \log\pi_k + \sum_{r: i_r=i} \log\theta_{j_r k l_r}` + const;

    until one EM step changes no posterior by more than ``tol``, or ``max_iter`` EM steps. Each step
    is two sparse x dense products with the item x (annotator, label) count matrix (``K`` columns), so
    a step costs O(judgements x labels) in compiled code. With ``accelerate=True`` (default) the steps are
    extrapolated with SQUAREM (Varadhan & Roland 2008), keeping an extrapolation only when the
    penalized likelihood does not drop; it reaches the same fixed point in far fewer steps.

    Parameters
    ----------
    tol : stop when max |T_new - T| < tol.
    max_iter : iteration cap; ``converged_`` says whether ``tol`` was reached.
    smoothing : pseudo-count added to every confusion cell.
    accelerate : SQUAREM extrapolation (False: plain EM, step by step).
    ll_tol : also stop when the penalized log-likelihood per judgement gains less than this between
        successive checks (crowd-kit's rule, with its default 1e-5); None (default): posteriors only.

    Attributes (after :meth:`fit`)
    ------------------------------
    labels_ : pd.Series, the consensus label per item (index item_id).
    posteriors_ : pd.DataFrame, items x labels posterior probabilities.
    errors_ : np.ndarray, annotators x true x observed confusion probabilities.
    priors_ : pd.Series, class priors.
    annotators_ : pd.Index of annotators (rows of ``errors_``).
    converged_ : bool; n_iter_ : EM steps run; n_extrapolated_ : SQUAREM extrapolations kept;
    consensus_ : the consensus table.
    """

    def __init__(self, tol: float = 1e-6, max_iter: int = 100, smoothing: float = 0.01, accelerate: bool = True,
                 ll_tol: float | None = None):
        self.tol = tol
        self.ll_tol = ll_tol
        self.max_iter = max_iter
        self.smoothing = smoothing
        self.accelerate = accelerate

    def _check(self) -> None:
        if not (isinstance(self.tol, (int, float)) and self.tol > 0):
            raise ParameterError(f"DawidSkene tol must be a positive number, got {self.tol!r}")
        if not (isinstance(self.max_iter, (int, np.integer)) and self.max_iter >= 1):
            raise ParameterError(f"DawidSkene max_iter must be a positive integer, got {self.max_iter!r}")
        if not (isinstance(self.smoothing, (int, float)) and self.smoothing >= 0):
            raise ParameterError(f"DawidSkene smoothing must be a number >= 0, got {self.smoothing!r}")
        if self.ll_tol is not None and not (isinstance(self.ll_tol, (int, float)) and self.ll_tol > 0):
            raise ParameterError(f"DawidSkene ll_tol must be a positive number or None, got {self.ll_tol!r}")

    def fit_counts(self, ct: CountTables) -> DawidSkene:
        """Fit on prepared :class:`CountTables` (one task)."""
        self._check()
        I, J, K = ct.n_items, ct.n_annotators, ct.n_labels
        # the design matrix's column per judgement, in int32 while it fits (the matrix's own index type)
        col = ct.annotator.astype(np.int32 if J * K < 2**31 else np.int64) * K + ct.label
        A = sp.csr_matrix((np.ones(ct.n_judgements), (ct.item, col)), shape=(I, J * K))
        A.sum_duplicates()
        AT = A.T  # CSC view: products scatter into the small (annotator, label) side
        # posteriors item-major (items x classes, C order), so both sparse products read and write them
        # without a transposed copy; the start (vote shares) is computed in the counts' own array
        T = ct.counts().astype(np.float64)
        m = T.sum(axis=1)
        T /= np.where(m > 0, m, 1.0)[:, None]
        del m
        s = float(self.smoothing)
        state: dict[str, np.ndarray] = {}

        def em(T: np.ndarray) -> tuple[np.ndarray, float]:
            """One M-step from posteriors T, then one E-step; returns new posteriors and the penalized
            log-likelihood of the parameters estimated from T."""
            # M-step counts, one sparse x dense product: C[j*K + l, k] = sum over judgements of j with label l
            # of T[item, k]
            C = AT @ T
            C3 = C.T.reshape(K, J, K)  # [true k, annotator j, observed l]
            with np.errstate(divide="ignore"):
                logtheta = np.log(C3 + s) - np.log(C3.sum(axis=2) + K * s)[:, :, None]
                logpi = np.log(T.sum(axis=0) / max(I, 1))
            flat = logtheta.reshape(K, J * K)
            # E-step: L[i, k] = log pi_k + sum over the item's judgements of log theta[k, j, l]
            L = A @ np.ascontiguousarray(flat.T)
            L += logpi[None, :]
            mx = _rowwise(np.maximum, L)
            L -= mx[:, None]
            np.exp(L, out=L)
            z = _rowwise(np.add, L)
            L /= z[:, None]
            ll = float(mx.sum() + np.log(z).sum())
            if s > 0:
                ll += s * float(np.where(np.isfinite(logtheta), logtheta, 0.0).sum())
            state["logtheta"], state["logpi"] = logtheta, logpi
            return L, ll

        def maxdiff(X: np.ndarray, Y: np.ndarray) -> float:
            """max |X - Y|, a column at a time (no temporary of the posteriors' size)."""
            if not X.size:
                return 0.0
            buf = np.empty(X.shape[0])
            out = 0.0
            for k in range(X.shape[1]):
                np.subtract(X[:, k], Y[:, k], out=buf)
                np.abs(buf, out=buf)
                out = max(out, float(buf.max()))
            return out

        converged = False
        evals = accepted = 0
        cap = int(self.max_iter)
        ll_prev = -np.inf
        while evals < cap:
            T1, ll0 = em(T)
            evals += 1
            if maxdiff(T1, T) < self.tol:
                T, converged = T1, True
                break
            if self.ll_tol is not None and ll0 - ll_prev < self.ll_tol * max(ct.n_judgements, 1):
                T, converged = T1, True
                break
            ll_prev = ll0
            if not self.accelerate or evals + 2 > cap:
                T = T1
                continue
            # SQUAREM (Varadhan & Roland 2008, Scand. J. Stat. 35(2), doi:10.1111/j.1467-9469.2007.00585.x):
            # extrapolate along two EM steps, keep the result only if the likelihood does not drop.
            T2, ll1 = em(T1)
            evals += 1
            Tx = squarem_point(T, T1, T2, axis=1, overwrite=True)
            del T, T1  # the next posteriors are T2 or T3 (T1 was overwritten): free both before the third step
            if Tx is None:
                T = T2
                continue
            T3, llx = em(Tx)
            evals += 1
            del Tx
            if llx >= ll1:
                T, accepted = T3, accepted + 1
            else:
                T = T2
            del T2, T3
        if not evals:  # max_iter validated >= 1; kept for type checkers
            raise RuntimeError("DawidSkene ran no iteration")
        # final parameters consistent with the returned posteriors
        logtheta, logpi = state["logtheta"], state["logpi"]
        self.n_iter_ = evals
        self.n_extrapolated_ = accepted
        self.converged_ = converged
        self.task_ = ct.task
        self.annotators_ = ct.annotators
        self.errors_ = np.exp(logtheta).transpose(1, 0, 2)  # [annotator, true, observed]
        self.priors_ = pd.Series(np.exp(logpi), index=ct.labels, name="prior")
        self.posteriors_ = pd.DataFrame(T, index=pd.Index(ct.items, name="item_id"), columns=ct.labels, copy=False)
        win = T.argmax(axis=1) if K else np.zeros(I, np.int64)
        self.labels_ = pd.Series(np.asarray(ct.labels)[win] if K else [], index=self.posteriors_.index, name="label")
        self.consensus_ = _frame(ct, win, T[np.arange(I), win] if K else np.zeros(I), "ds")
        return self

    def fit(self, table: pd.DataFrame, *, task: str | None = None, source: str | None = "human") -> DawidSkene:
        """Fit on one task of a canonical label table (``task=None``: the table's only task)."""
        return self.fit_counts(CountTables.from_labels(table, task=task, source=source))

    def fit_predict(self, table: pd.DataFrame, *, task: str | None = None, source: str | None = "human") -> pd.DataFrame:
        """The consensus table for every task (or ``task``), each task fitted separately.

        Fitted attributes describe the last task fitted. ``consensus_.attrs`` holds, per task,
        ``{"converged": bool, "n_iter": int}`` under "dawid_skene".
        """
        frames, info = [], {}
        for t in _tasks(table, task):
            self.fit(table, task=t, source=source)
            frames.append(self.consensus_)
            info[t] = {"converged": bool(self.converged_), "n_iter": int(self.n_iter_)}
        out = _concat(frames)
        out.attrs["dawid_skene"] = info
        return out


def _rowwise(op: np.ufunc, X: np.ndarray) -> np.ndarray:
    """``op`` reduced along the rows of an items x classes array (``np.add``: sums, ``np.maximum``: maxima),
    a column at a time: numpy's own reduction over a short last axis runs an inner loop per row, several
    times slower on millions of items. For fewer than 8 classes the sums add left to right, as numpy does."""
    if X.shape[1] == 0:
        return np.zeros(X.shape[0]) if op is np.add else np.full(X.shape[0], -np.inf)
    out = X[:, 0].copy()
    for k in range(1, X.shape[1]):
        op(out, X[:, k], out=out)
    return out


def squarem_point(T: np.ndarray, T1: np.ndarray, T2: np.ndarray, *, axis: int,
                  weights: np.ndarray | None = None, overwrite: bool = False) -> np.ndarray | None:
    """The SQUAREM extrapolation from ``T`` along two EM steps ``T1``, ``T2`` (Varadhan & Roland 2008, step
    length S3), projected back onto probability vectors along ``axis``; None when plain EM's ``T2`` is as far
    as it goes (step length >= -1, or an extrapolated column with no mass). Shared by :class:`DawidSkene` and
    :class:`labkit.stats.robust.RobustDawidSkene`; the caller decides whether to keep the result. ``weights``
    (broadcastable to ``T``): how many items each column stands for, in the step-length norms.
    ``overwrite=True``: ``T1`` may be overwritten (it holds the second difference), so one array of the size
    of ``T`` fewer is alive at once; the caller must not use ``T1`` afterwards. The values are the same."""
    r = T1 - T
    v = np.subtract(T2, T1, out=T1 if overwrite else None)
    v -= r
    if weights is None:
        nv = float(np.sqrt(np.einsum("i,i->", v.ravel(), v.ravel())))
        nr = float(np.sqrt(np.einsum("i,i->", r.ravel(), r.ravel())))
    else:
        nv = float(np.sqrt((v * v * weights).sum()))
        nr = float(np.sqrt((r * r * weights).sum()))
    alpha = -nr / nv if nv > 0 else -1.0
    if alpha > -1.0:
        return None
    # Tx = T - 2 alpha r + alpha^2 v, in place (no BLAS, no temporaries: this runs on items x classes arrays)
    Tx = r
    Tx *= -2.0 * alpha
    Tx += T
    v *= alpha * alpha
    Tx += v
    np.clip(Tx, 0.0, None, out=Tx)
    zs = (_rowwise(np.add, Tx)[:, None] if axis == 1 and Tx.ndim == 2 else Tx.sum(axis=axis, keepdims=True))
    if (zs <= 0).any():
        return None
    Tx /= zs
    return Tx


def _gold_lookup(consensus: pd.DataFrame, gold: pd.DataFrame) -> pd.Series:
    """Gold label per consensus row (NaN where the item has no gold for that task; a gold table naming
    no task applies to every task)."""
    from labkit.stats.scoring import gold_for_task

    out = pd.Series(np.nan, index=consensus.index, dtype="object")
    tasks = consensus["task"].astype(str)
    for t in tasks.unique():  # tasks, not rows
        g = gold_for_task(gold, t)
        g = pd.Series(g["label"].astype(str).to_numpy(), index=g["item_id"].astype(str).to_numpy())
        m = (tasks == t).to_numpy()
        out[m] = g.reindex(consensus.loc[m, "item_id"].astype(str)).to_numpy()
    return out


def consensus_accuracy(consensus: pd.DataFrame, gold: pd.DataFrame) -> dict[str, Any]:
    """Accuracy of a consensus table on the items that have gold (matched on item_id and task).

    Returns ``{"accuracy", "n_gold_items", "n_correct", "n_missing_label"}``; an item with no consensus
    label (a tie left open) counts as wrong.
    """
    g = _gold_lookup(consensus, gold)
    has = g.notna().to_numpy()
    lab = consensus["label"].astype(object).to_numpy()
    correct = has & (lab == g.to_numpy())
    n = int(has.sum())
    return {"accuracy": float(correct.sum() / n) if n else float("nan"), "n_gold_items": n,
            "n_correct": int(correct.sum()), "n_missing_label": int((has & pd.isna(lab)).sum())}


def adjudication_queue(consensus: pd.DataFrame, gold: pd.DataFrame | None = None, threshold: float = 0.7) -> pd.DataFrame:
    """Items to adjudicate: consensus confidence below ``threshold``, no consensus label, or consensus
    different from gold.

    Returns the consensus rows selected plus ``gold`` (the gold label, when given) and ``reason``,
    lowest confidence first.
    """
    if not (isinstance(threshold, (int, float)) and 0 <= threshold <= 1):
        raise ParameterError(f"threshold must be a number in [0, 1], got {threshold!r}")
    missing = [c for c in CONSENSUS_COLUMNS if c not in consensus.columns]
    if missing:
        raise ParameterError(f"consensus must be a table from majority_vote or DawidSkene; missing {', '.join(missing)}")
    out = consensus.copy()
    conf = out["confidence"].to_numpy(dtype=float)
    nolab = out["label"].isna().to_numpy()
    low = conf < threshold
    reasons = np.full(len(out), "", dtype=object)
    reasons[low] = [f"confidence {c:.2f} < {threshold:g}" for c in conf[low]]
    reasons[nolab] = "no consensus label (tie)"
    sel = low | nolab
    if gold is not None:
        g = _gold_lookup(out, gold)
        out["gold"] = g
        dis = g.notna().to_numpy() & (out["label"].astype(object).to_numpy() != g.to_numpy()) & ~nolab
        reasons[dis] = np.where(reasons[dis] == "", "consensus differs from gold",
                                reasons[dis].astype(str) + "; consensus differs from gold")
        sel |= dis
    out["reason"] = reasons
    return out.loc[sel].sort_values(["confidence", "item_id"], kind="stable").reset_index(drop=True)
