r"""A generative model of a labeling program, fitted on its own history.

Per task, a judgement by annotator :math:`j` of item :math:`i` whose true class is :math:`z_i` is right
with probability

.. math:: P(\text{right}) = \sigma(\theta_{j z_i} + \beta_i + \delta\, w)

and otherwise names a wrong label drawn from the item's own wrong-label profile :math:`W_i` (its
observed wrong labels, smoothed toward the class's pooled confusion). :math:`\theta_{jk}` is the
annotator's skill on class :math:`k` (a per-class logit, so a biased annotator who says "yes" to
everything is modelled), :math:`\beta_i` the item's easiness (hard items draw errors from everyone:
the correlated errors that make independence models over-promise what extra labels buy),
:math:`\delta` a drift in logit per week and :math:`w` the week. Who labels what follows the history's
real assignment pattern: a simulated item drawn from history item :math:`i` is labeled by annotators
drawn without replacement from the people who labeled :math:`i` (so annotators who worked the same
batches keep working together, and an item keeps the mix of skills its history had); beyond the
number of labels :math:`i` had, and for a restricted pool (credentials), by each annotator's share of
the judgements (activity). Time per judgement is log-normal per annotator where
``duration_s`` is recorded (else an assumed 30 s, stated in the fit); review time per item comes from
``stage=review`` durations (else an assumed 2 minutes).

Fitting is penalized maximum likelihood (block Newton steps, vectorized with ``np.bincount``) with
weakly informative normal priors: :math:`\theta_{jk} \sim N(\mu_k, 1)`, :math:`\beta_i \sim
N(0, 1.5^2)` — generic defaults on the logit scale, not tuned per dataset — so an annotator or item
with little evidence sits near the pool. The truth of a history item is its gold label where gold
exists, else the label of the default consensus model (:func:`labkit.stats.truth.fit_consensus`, the
one consensus every layer reads); the fit says how many of each it used.

New items are drawn from the history items (their class, easiness and wrong-label profile), so the
simulated program has the history's mix of easy and hard items. How much of the fitted easiness spread to
keep (a scale ``s``, the mean accuracy kept) is chosen by cross-validation on the gold items
(:func:`labkit.simulate.fidelity.choose_item_scale`) and recorded in ``info``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labkit.errors import ParameterError

__all__ = ["TaskModel", "ProgramModel", "fit_program", "fit_task_arrays", "load_model", "assignment",
           "DEFAULT_JUDGEMENT_S", "DEFAULT_REVIEW_MIN"]

DEFAULT_JUDGEMENT_S = 30.0
DEFAULT_REVIEW_MIN = 2.0
PRIOR_SD_SKILL = 1.0
PRIOR_SD_ITEM = 1.5
# Newton steps are capped (logit units): an undamped step on an item whose labels all contradict its truth
# overshoots and oscillates instead of converging (a gold item 9 of 10 annotators call another class)
MAX_STEP = 1.0


def _sig(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class TaskModel:
    """The fitted model of one task (arrays indexed by annotator ``j``, item ``i`` and class ``k``)."""

    task: str
    labels: list[str]
    annotators: list[str]         # positional names ("annotator-00001"), never raw ids
    activity: np.ndarray          # (J,) judgements per annotator in the history
    theta: np.ndarray             # (J, K) logit skill by true class
    beta: np.ndarray              # (I,) item easiness
    truth: np.ndarray             # (I,) true class of each history item
    wrong: np.ndarray             # (I, K) wrong-label profile (zero on the true class)
    duration_log_mu: np.ndarray   # (J,) log seconds per judgement
    duration_log_sd: float
    review_minutes: float
    drift_per_week: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)
    # who labeled each history item, CSR: annotators of item i are assign_ann[assign_ptr[i]:assign_ptr[i + 1]]
    # (absent in a model made by hand: annotators are then drawn by activity)
    assign_ptr: np.ndarray | None = None
    assign_ann: np.ndarray | None = None

    @property
    def n_labels(self) -> int:
        return len(self.labels)

    def to_dict(self) -> dict[str, Any]:
        def arr(a: np.ndarray) -> list[Any]:
            return np.round(np.asarray(a, dtype=np.float64), 10).tolist() if a.dtype.kind == "f" else a.tolist()

        return {"task": self.task, "labels": self.labels, "annotators": self.annotators,
                "activity": arr(self.activity), "theta": arr(self.theta), "beta": arr(self.beta),
                "truth": arr(self.truth), "wrong": arr(self.wrong), "duration_log_mu": arr(self.duration_log_mu),
                "duration_log_sd": round(float(self.duration_log_sd), 10), "review_minutes": round(float(self.review_minutes), 10),
                "drift_per_week": round(float(self.drift_per_week), 10), "info": self.info,
                **({} if self.assign_ptr is None or self.assign_ann is None else
                   {"assign_ptr": self.assign_ptr.tolist(), "assign_ann": self.assign_ann.tolist()})}

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "model") -> TaskModel:
        try:
            tm = cls(task=str(d["task"]), labels=[str(x) for x in d["labels"]],
                     annotators=[str(x) for x in d["annotators"]],
                     activity=np.asarray(d["activity"], dtype=np.float64), theta=np.asarray(d["theta"], dtype=np.float64),
                     beta=np.asarray(d["beta"], dtype=np.float64), truth=np.asarray(d["truth"], dtype=np.int64),
                     wrong=np.asarray(d["wrong"], dtype=np.float64),
                     duration_log_mu=np.asarray(d["duration_log_mu"], dtype=np.float64),
                     duration_log_sd=float(d["duration_log_sd"]), review_minutes=float(d["review_minutes"]),
                     drift_per_week=float(d.get("drift_per_week", 0.0)), info=dict(d.get("info") or {}),
                     assign_ptr=np.asarray(d["assign_ptr"], dtype=np.int64) if "assign_ptr" in d else None,
                     assign_ann=np.asarray(d["assign_ann"], dtype=np.int64) if "assign_ann" in d else None)
        except (KeyError, TypeError, ValueError) as exc:
            raise ParameterError(f"{where}: not a labkit simulation model ({type(exc).__name__}: {exc})") from None
        J, K, I = len(tm.annotators), len(tm.labels), len(tm.truth)
        if tm.theta.shape != (J, K) or tm.wrong.shape != (I, K) or tm.beta.shape != (I,) or tm.activity.shape != (J,):
            raise ParameterError(f"{where}: task {tm.task!r}: array shapes do not match its labels, annotators and items")
        if (tm.assign_ptr is None) != (tm.assign_ann is None) or (
                tm.assign_ptr is not None and tm.assign_ann is not None and (
                    tm.assign_ptr.shape != (I + 1,) or tm.assign_ptr[0] != 0 or np.any(np.diff(tm.assign_ptr) < 0)
                    or tm.assign_ptr[-1] != len(tm.assign_ann)
                    or (len(tm.assign_ann) > 0 and (tm.assign_ann.min() < 0 or tm.assign_ann.max() >= J)))):
            raise ParameterError(f"{where}: task {tm.task!r}: assign_ptr/assign_ann are not an assignment of its "
                                 "items to its annotators")
        return tm


@dataclass
class ProgramModel:
    """A fitted program: one :class:`TaskModel` per task, and where and when it was fitted."""

    tasks: dict[str, TaskModel]
    source: str = ""
    fitted_at: str = ""

    def task(self, name: str | None = None) -> TaskModel:
        if name is None:
            if len(self.tasks) != 1:
                raise ParameterError(f"the model has tasks {', '.join(self.tasks)}: name one")
            return next(iter(self.tasks.values()))
        if name not in self.tasks:
            raise ParameterError(f"the model has no task {name!r} (tasks: {', '.join(self.tasks)})")
        return self.tasks[name]

    def save(self, path: str | os.PathLike[str]) -> Path:
        from labkit._atomic import write_text

        doc = {"labkit_simulation_model": 1, "source": self.source, "fitted_at": self.fitted_at,
               "tasks": [t.to_dict() for t in self.tasks.values()]}
        return write_text(path, json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n")


def load_model(path: str | os.PathLike[str]) -> ProgramModel:
    """Read a model written by :meth:`ProgramModel.save` (a clear message for anything else)."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParameterError(f"{p}: no such model file (make one with labkit simulate fit)") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParameterError(f"{p}: not a labkit simulation model (not JSON: {exc})") from None
    if not isinstance(doc, dict) or doc.get("labkit_simulation_model") != 1:
        raise ParameterError(f"{p}: not a labkit simulation model (no 'labkit_simulation_model: 1' field)")
    tasks = {}
    for k, d in enumerate(doc.get("tasks") or []):
        tm = TaskModel.from_dict(d, f"{p}: tasks[{k}]")
        tasks[tm.task] = tm
    if not tasks:
        raise ParameterError(f"{p}: the model has no task")
    return ProgramModel(tasks=tasks, source=str(doc.get("source", "")), fitted_at=str(doc.get("fitted_at", "")))


def fit_task_arrays(item: np.ndarray, annotator: np.ndarray, label: np.ndarray, truth: np.ndarray, *,
                    n_items: int, n_annotators: int, n_labels: int, week: np.ndarray | None = None,
                    iters: int = 60) -> dict[str, Any]:
    """Fit skills, easiness, wrong-label profiles (and drift) on code arrays; returns the arrays.

    ``truth[i]`` is the class of item ``i`` (-1: unknown, its judgements are left out).
    """
    I, J, K = n_items, n_annotators, n_labels
    keep = truth[item] >= 0
    it, an, lab = item[keep], annotator[keep], label[keep]
    wk = week[keep] if week is not None else None
    zc = truth[it]
    y = (lab == zc).astype(np.float64)
    col = an * K + zc
    la, lb = 1.0 / PRIOR_SD_SKILL ** 2, 1.0 / PRIOR_SD_ITEM ** 2
    th = np.zeros((J, K))
    be = np.zeros(I)
    mu = np.zeros(K)
    cnt = np.bincount(col, minlength=J * K).reshape(J, K)
    seen = cnt > 0
    ti = np.bincount(it, minlength=I) > 0
    # start the class means at the pooled log-odds of being right
    for k in range(K):
        m = zc == k
        if m.any():
            r = (y[m].sum() + 0.5) / (m.sum() + 1.0)
            mu[k] = math.log(r / (1 - r))
    th[:] = mu
    delta = 0.0
    for _ in range(iters):
        off = delta * wk if wk is not None else 0.0
        p = _sig(th.ravel()[col] + be[it] + off)
        g, h = y - p, p * (1 - p)
        G = np.bincount(col, g, J * K).reshape(J, K)
        H = np.bincount(col, h, J * K).reshape(J, K)
        th += np.clip((G - la * (th - mu)) / (H + la), -MAX_STEP, MAX_STEP)
        p = _sig(th.ravel()[col] + be[it] + off)
        g, h = y - p, p * (1 - p)
        be += np.clip((np.bincount(it, g, I) - lb * be) / (np.bincount(it, h, I) + lb), -MAX_STEP, MAX_STEP)
        if wk is not None and np.ptp(wk) > 0:
            p = _sig(th.ravel()[col] + be[it] + delta * wk)
            delta += float(((y - p) * wk).sum() - 4.0 * delta) / float((p * (1 - p) * wk * wk).sum() + 4.0)
        mu = np.where(seen.any(0), (th * seen).sum(0) / np.maximum(seen.sum(0), 1), mu)
    p = _sig(th.ravel()[col] + be[it] + (delta * wk if wk is not None else 0.0))
    beta_sd = 1.0 / np.sqrt(np.bincount(it, p * (1 - p), I) + lb)  # posterior sd of each item's easiness
    ll = float((y * np.log(np.clip(p, 1e-12, 1)) + (1 - y) * np.log(np.clip(1 - p, 1e-12, 1))).sum())
    # wrong-label profile per item, smoothed toward the class's pooled confusion
    wrong = y == 0
    W = np.zeros((I, K))
    np.add.at(W, (it[wrong], lab[wrong]), 1.0)
    pool = np.zeros((K, K))
    np.add.at(pool, (zc[wrong], lab[wrong]), 1.0)
    pool += 0.5
    pool[np.arange(K), np.arange(K)] = 0.0
    pool /= np.maximum(pool.sum(1, keepdims=True), 1e-12)
    zi = np.where(truth >= 0, truth, 0)
    W = W + pool[zi]
    W[np.arange(I), zi] = 0.0
    W /= np.maximum(W.sum(1, keepdims=True), 1e-12)
    if K == 1:
        W[:] = 0.0
    return {"theta": th, "beta": np.where(ti, be, 0.0), "beta_sd": beta_sd, "wrong": W, "drift": delta, "loglik": ll,
            "n_fit": int(keep.sum()), "items_with_truth": ti}


def assignment(item: np.ndarray, annotator: np.ndarray, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """Who labeled each item, as CSR arrays (``ptr`` of length ``n_items + 1``; each annotator once per item)."""
    pairs = np.unique(np.stack([item, annotator], axis=1), axis=0) if len(item) else np.zeros((0, 2), np.int64)
    ptr = np.zeros(n_items + 1, np.int64)
    np.cumsum(np.bincount(pairs[:, 0], minlength=n_items), out=ptr[1:])
    return ptr, pairs[:, 1].astype(np.int64)


def _durations(t: pd.DataFrame, annotators: pd.Index) -> tuple[np.ndarray, float, bool]:
    if "duration_s" not in t.columns:
        return np.full(len(annotators), math.log(DEFAULT_JUDGEMENT_S)), 0.5, False
    d = pd.to_numeric(t["duration_s"], errors="coerce")
    ok = d.notna() & (d > 0)
    if ok.sum() < 10:
        return np.full(len(annotators), math.log(DEFAULT_JUDGEMENT_S)), 0.5, False
    logd = np.log(d[ok].to_numpy(dtype=np.float64))
    who = t.loc[ok, "annotator_id"].astype(str).to_numpy()
    pooled = float(np.median(logd))
    sd = float(np.std(logd)) or 0.5
    per = pd.Series(logd).groupby(who).agg(["sum", "count"])
    shrunk = (per["sum"] + 5 * pooled) / (per["count"] + 5)  # five judgements' worth of the pool
    return shrunk.reindex(annotators.astype(str)).fillna(pooled).to_numpy(), sd, True


def _review_minutes(table: pd.DataFrame, task: str) -> tuple[float, bool]:
    if "stage" not in table.columns or "duration_s" not in table.columns:
        return DEFAULT_REVIEW_MIN, False
    m = (table["stage"].astype(str) == "review") & (table["task"].astype(str) == task)
    d = pd.to_numeric(table.loc[m, "duration_s"], errors="coerce").dropna()
    d = d[d > 0]
    if len(d) < 5:
        return DEFAULT_REVIEW_MIN, False
    return float(d.median() / 60.0), True


def fit_program(table: pd.DataFrame, gold: pd.DataFrame | None = None, *, task: str | None = None,
                source: str = "") -> ProgramModel:
    """Fit a :class:`ProgramModel` on a canonical label table (human ``stage=label`` judgements).

    Parameters
    ----------
    table : canonical label table (see :mod:`labkit.schema`)
    gold : gold table (item_id, task, label), optional. Items without gold take the default consensus
        label as their truth; ``info`` counts both.
    task : fit only this task (default: every task).
    source : where the history came from (shown on every figure of the simulation report).
    """
    import datetime as dt

    from labkit.simulate.fidelity import choose_item_scale, scaled_easiness
    from labkit.stats.counts import CountTables, as_label_table
    from labkit.stats.scoring import gold_for_task
    from labkit.stats.truth import fit_consensus

    table = as_label_table(table)
    label_rows = table
    if "stage" in table.columns:
        label_rows = table[table["stage"].astype(str) == "label"]
    tasks = [task] if task is not None else sorted({str(x) for x in label_rows["task"].astype(str).unique()})
    models: dict[str, TaskModel] = {}
    for t in tasks:
        ct = CountTables.from_labels(label_rows, task=t, source="human")
        if ct.n_judgements == 0:
            raise ParameterError(f"task {t!r} has no human judgements to fit on")
        labels = [str(x) for x in ct.labels]
        items = pd.Index(np.asarray(ct.items).astype(str))
        truth = np.full(ct.n_items, -1, dtype=np.int64)
        n_gold = 0
        if gold is not None:
            g = gold_for_task(gold, t)
            gmap = pd.Series(g["label"].astype(str).to_numpy(), index=g["item_id"].astype(str).to_numpy())
            gmap = gmap[~gmap.index.duplicated(keep="last")]
            codes = pd.Index(labels).get_indexer(gmap.reindex(items).fillna("\0").to_numpy())
            truth = np.where(codes >= 0, codes, -1)
            n_gold = int((truth >= 0).sum())
        gold_truth = truth.copy()
        fit = fit_consensus(label_rows, task=t)
        post = fit.posteriors[t]
        cons = pd.Index(labels).get_indexer(post.idxmax(axis=1).astype(str).reindex(items).to_numpy())
        n_cons = int(((truth < 0) & (cons >= 0)).sum())
        truth = np.where(truth >= 0, truth, cons)
        week = None
        sub = label_rows[(label_rows["task"].astype(str) == t) & (label_rows["source"].astype(str) == "human")]
        if "created_at" in sub.columns and sub["created_at"].notna().sum() > 0.5 * len(sub):
            ts = pd.to_datetime(sub["created_at"], utc=True)
            w = ((ts - ts.min()).dt.total_seconds() / (7 * 86400)).fillna(0).to_numpy(dtype=np.float64)
            week = w if np.ptp(w) >= 1 else None
        it64, an64, lab64 = ct.item.astype(np.int64), ct.annotator.astype(np.int64), ct.label.astype(np.int64)
        arrays = fit_task_arrays(it64, an64, lab64, truth, n_items=ct.n_items, n_annotators=ct.n_annotators,
                                 n_labels=ct.n_labels, week=week)
        assign_ptr, assign_ann = assignment(it64, an64, ct.n_items)
        # how much item-difficulty structure to simulate: chosen by cross-validation on the gold items
        scale = choose_item_scale(it64, an64, lab64, gold_truth, n_items=ct.n_items, n_annotators=ct.n_annotators,
                                  n_labels=ct.n_labels)
        beta = scaled_easiness(arrays["theta"], arrays["beta"], it64, an64, truth, scale["scale"])
        dmu, dsd, have_d = _durations(sub, pd.Index(np.asarray(ct.annotators).astype(str)))
        rmin, have_r = _review_minutes(table, t)
        models[t] = TaskModel(
            # annotators by position only: the model file never carries a raw annotator id
            task=t, labels=labels, annotators=[f"annotator-{j + 1:05d}" for j in range(ct.n_annotators)],
            activity=np.bincount(ct.annotator, minlength=ct.n_annotators).astype(np.float64),
            theta=arrays["theta"], beta=beta, truth=truth, wrong=arrays["wrong"],
            duration_log_mu=dmu, duration_log_sd=dsd, review_minutes=rmin,
            drift_per_week=float(arrays["drift"]) if week is not None else 0.0,
            assign_ptr=assign_ptr, assign_ann=assign_ann,
            info={"n_items": int(ct.n_items), "n_annotators": int(ct.n_annotators), "n_judgements": int(ct.n_judgements),
                  "n_truth_gold": n_gold, "n_truth_consensus": n_cons,
                  "loglik_per_judgement": round(arrays["loglik"] / max(arrays["n_fit"], 1), 6),
                  "durations": "recorded" if have_d else f"assumed {DEFAULT_JUDGEMENT_S:g} s per judgement",
                  "review_time": "recorded" if have_r else f"assumed {DEFAULT_REVIEW_MIN:g} minutes per item",
                  "drift": "fitted" if week is not None else "none (no timestamps spanning a week)",
                  "item_easiness_scale": scale["scale"], "item_easiness_scale_choice": scale["reason"],
                  "item_easiness_scale_cv_points": scale["mae_by_scale"]})
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    return ProgramModel(tasks=models, source=source, fitted_at=now)
