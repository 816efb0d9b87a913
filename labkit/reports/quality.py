"""What the quality report and the annotator feedback pages compute (the notebooks only display it).

Every statistic comes from :mod:`labkit.stats` (agreement, consensus, scoring); this module loads and
filters the program, adds the operational aggregates a report needs (volume, throughput, cycle time,
stage latency, weekly and per-version breakdowns, confidence reliability bins) and writes the key
findings as plain sentences. Sections that the data cannot support (no timestamps, no gold, no
guideline versions, no confidence) return ``None`` with a reason instead of failing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labkit.errors import InputRefused, ParameterError
from labkit.reports.model import Figure, Finding, Report, Section, Table, Text

UNAVAILABLE = "not available in this data"


@dataclass
class Program:
    """A label program loaded and filtered for one report.

    ``labels`` keeps every source and stage (volume and cycle time use all of them); statistics use
    the human judgements of ``task``. ``notes`` says what the filters did, in sentences.
    """

    labels: pd.DataFrame
    task: str
    gold: pd.DataFrame | None = None
    items: pd.DataFrame | None = None
    guidelines: Any = None  # labkit.guidelines.Guidelines
    notes: list[str] = field(default_factory=list)
    all_tasks: list[str] = field(default_factory=list)
    #: what :attr:`comparable` did to make judgements comparable with gold, in sentences
    comparison_notes: list[str] = field(default_factory=list)
    gold_path: str = ""
    items_path: str = ""
    _comparable: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def human(self) -> pd.DataFrame:
        """Human judgements of the report's task."""
        t = self.labels
        return t.loc[(t["source"] == "human") & (t["task"] == self.task)]

    @property
    def comparable(self) -> pd.DataFrame:
        """Human judgements of the task with labels carried forward to the gold's guideline version.

        Everything that compares labels across guideline versions (accuracy on gold, consensus, the
        adjudication queue, correctness per judgement) uses this table; see :func:`comparable_labels`.
        Without gold, guidelines or versions it is :attr:`human` unchanged.
        """
        if self._comparable is None:
            self._comparable, self.comparison_notes = comparable_labels(self)
        return self._comparable

    @property
    def has_time(self) -> bool:
        return bool(self.labels["created_at"].notna().any())

    @property
    def has_gold(self) -> bool:
        """Gold applies to the task and at least one gold item was judged (otherwise every gold-based
        number is "not available", and :func:`input_findings` says why with counts)."""
        if self.gold is None:
            return False
        g = self.gold_for_task
        return bool(len(g)) and bool(g["item_id"].astype(str).isin(set(self.human["item_id"].astype(str))).any())

    @property
    def gold_for_task(self) -> pd.DataFrame:
        """Gold rows of the report's task, by the rule of ``labkit score``
        (:func:`labkit.stats.scoring.gold_for_task`): a gold file without a ``task`` column applies to
        every task. The rows carry the report's task, so later joins on (item, task) match."""
        if self.gold is None:
            return pd.DataFrame(columns=["item_id", "task", "label"])
        from labkit.stats.scoring import gold_for_task

        g = gold_for_task(self.gold, self.task)
        if len(g) and set(g["task"].astype(str)) != {self.task}:
            g = g.assign(task=pd.Categorical([self.task] * len(g)))
        return g

    def gold_coverage(self) -> dict[str, Any] | None:
        """How much of the gold file this report uses: rows in the file, rows that apply to the task
        (``labkit score``'s rule), and gold items among the task's judged items. ``None`` without gold."""
        if self.gold is None:
            return None
        g = self.gold_for_task
        judged = set(self.human["item_id"].astype(str))
        gi = set(g["item_id"].astype(str))
        tasks = sorted(set(self.gold["task"].astype(str)))
        return {"rows": int(len(self.gold)), "for_task": int(len(g)), "matched": len(gi & judged),
                "unjudged": len(gi - judged), "no_task_column": tasks == ["default"], "tasks": tasks,
                "path": self.gold_path}

    def has(self, column: str) -> bool:
        s = self.human[column]
        return bool(s.notna().any())


def _opt(path: str) -> str | None:
    return path.strip() or None if isinstance(path, str) else path


def _ts(text: str, name: str) -> pd.Timestamp | None:
    if not text:
        return None
    try:
        t = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise ParameterError(f"parameter {name}: {text!r} is not a date (use YYYY-MM-DD)") from None
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def read_items(path: str) -> pd.DataFrame:
    """``items.csv`` (item_id, text[, task, slice]); every value read as text."""
    p = Path(path)
    if not p.exists():
        raise InputRefused(path, "items file not found")
    df = pd.read_csv(p, dtype=str, keep_default_na=False)
    missing = [c for c in ("item_id", "text") if c not in df.columns]
    if missing:
        raise InputRefused(path, f"missing column(s) {', '.join(missing)}; found {', '.join(map(repr, df.columns))}")
    return df


def choose_task(counts: pd.Series, task: str, labels: str, notes: list[str]) -> tuple[str, list[str]]:
    """The task a quality page measures: ``task`` if given, else the one with the most human judgements.

    ``counts`` holds human judgements per task; ties go to the first task by name. Shared by the in-memory and
    the out-of-core quality reports, so both refuse the same inputs with the same messages."""
    counts = counts[counts > 0]
    all_tasks = sorted(str(t) for t in counts.index)
    if task:
        if task not in all_tasks:
            raise ParameterError(f"parameter task: {task!r} has no human judgements here; tasks: "
                                 f"{', '.join(all_tasks) or 'none'}")
        return task, all_tasks
    if not len(counts):
        raise InputRefused(labels, "no human judgements to report on (after the filters)")
    order = sorted(counts.items(), key=lambda kv: (-int(kv[1]), str(kv[0])))
    chosen = str(order[0][0])
    if len(all_tasks) > 1:
        notes.append(f"{len(all_tasks)} tasks in the labels; this page measures {chosen!r} "
                     "(pass -p task=NAME for another). Agreement per task covers all of them.")
    return chosen, all_tasks


def load_program(labels: str, gold: str = "", items: str = "", guidelines: str = "", *, since: str = "",
                 until: str = "", task: str = "", slice: str = "") -> Program:
    """Load the labels (``"a.json:b.csv"``), gold, items and guidelines, then filter.

    Parameters
    ----------
    labels : label exports, several joined by ``:`` (see :func:`labkit.io.load_labels`).
    gold, items, guidelines : optional paths ("" for none).
    since, until : ISO dates; judgements created before ``since`` or on/after ``until`` are left out
        (judgements without a timestamp are kept and counted in ``notes``).
    task : the task to report on; "" takes the task with the most human judgements.
    slice : keep one slice only ("" keeps all).
    """
    from labkit.io import load_labels
    from labkit.schema import read_gold

    if not labels:
        raise ParameterError("parameter labels: give at least one label export")
    table = load_labels(labels)
    notes: list[str] = []
    lo, hi = _ts(since, "since"), _ts(until, "until")
    if lo is not None or hi is not None:
        t = table["created_at"]
        keep = pd.Series(True, index=table.index)
        if lo is not None:
            keep &= ~(t < lo)
        if hi is not None:
            keep &= ~(t >= hi)
        untimed = int(t.isna().sum())
        dropped = int((~keep).sum())
        table = table.loc[keep]
        window = f"from {since or 'the start'} until {until or 'now'}"
        notes.append(f"Showing {window}: {dropped:,} judgements outside the window are left out"
                     + (f"; {untimed:,} without a timestamp are kept." if untimed else "."))
    if slice:
        present = set(table["slice"].dropna().astype(str))
        if slice not in present:
            raise ParameterError(f"parameter slice: {slice!r} is not in the labels; slices: "
                                 f"{', '.join(sorted(present)) or UNAVAILABLE}")
        table = table.loc[table["slice"].astype(str) == slice]
        notes.append(f"Only the slice {slice!r} is shown.")
    human = table.loc[table["source"] == "human"]
    chosen, all_tasks = choose_task(human["task"].astype(str).value_counts(), task, str(labels), notes)
    g = read_gold(gold) if _opt(gold) else None
    it = read_items(items) if _opt(items) else None
    gl = None
    if _opt(guidelines):
        from labkit.guidelines.model import Guidelines

        gl = Guidelines.load(guidelines)
    return Program(labels=table, task=chosen, gold=g, items=it, guidelines=gl, notes=notes, all_tasks=all_tasks,
                   gold_path=str(gold or ""), items_path=str(items or ""))


def comparable_labels(p: Program) -> tuple[pd.DataFrame, list[str]]:
    """The task's human judgements with labels carried forward to the gold's guideline version
    (:func:`labkit.guidelines.migrate.in_gold_terms`)."""
    from labkit.guidelines.migrate import in_gold_terms

    return in_gold_terms(p.human, p.gold_for_task if p.has_gold else None, p.guidelines, p.task)


# --------------------------------------------------------------------------------------------------
# Volume, throughput, cycle time, latency
# --------------------------------------------------------------------------------------------------

def week_of(ts: pd.Series) -> pd.Series:
    """Monday (UTC) of each timestamp's week, as a tz-naive Timestamp (for plotting and grouping)."""
    d = ts.dt.tz_convert("UTC").dt.tz_localize(None).dt.floor("D")
    return d - pd.to_timedelta(d.dt.dayofweek, unit="D")


def volume(p: Program) -> dict[str, Any]:
    """Counts by source and stage, and judgements per week and stage (human), with throughput.

    Returns ``totals`` (dict), ``by_stage`` (stage, judgements, items, annotators), and when timestamps
    exist ``weekly`` (week, stage, judgements) and ``throughput`` (week, judgements, active annotators,
    per annotator, median seconds per judgement).
    """
    t = p.labels.loc[p.labels["task"] == p.task]
    h = t.loc[t["source"] == "human"]
    totals = {"judgements": int(len(h)), "model pre-labels": int((t["source"] == "model").sum()),
              "items": int(h["item_id"].nunique()), "annotators": int(h["annotator_id"].nunique())}
    by_stage = (h.groupby("stage", observed=True)
                .agg(judgements=("item_id", "size"), items=("item_id", "nunique"),
                     annotators=("annotator_id", "nunique"))
                .reset_index())
    by_stage["stage"] = by_stage["stage"].astype(str)
    out: dict[str, Any] = {"totals": totals, "by_stage": by_stage, "weekly": None, "throughput": None}
    if h["created_at"].notna().any():
        ht = h.loc[h["created_at"].notna()]
        wk = week_of(ht["created_at"])
        weekly = (ht.assign(week=wk).groupby(["week", "stage"], observed=True).size()
                  .rename("judgements").reset_index())
        weekly["stage"] = weekly["stage"].astype(str)
        tp = ht.assign(week=wk).groupby("week").agg(judgements=("item_id", "size"),
                                                    annotators=("annotator_id", "nunique"),
                                                    median_s=("duration_s", "median")).reset_index()
        tp["per_annotator"] = tp["judgements"] / tp["annotators"]
        out["weekly"] = weekly
        out["throughput"] = tp[["week", "judgements", "annotators", "per_annotator", "median_s"]]
    return out


def cycle_times(p: Program) -> dict[str, Any] | None:
    """Per item: hours from its first judgement (any source) to its last human judgement (cycle
    time), and per later stage the hours from the first label-stage judgement to the stage's first
    judgement (latency). ``None`` without timestamps.

    Returns ``summary`` (stage, items, median_h, p90_h, max_h; the row "cycle" is the cycle time) and
    ``per_item`` (item_id, cycle_h).
    """
    t = p.labels.loc[(p.labels["task"] == p.task) & p.labels["created_at"].notna()]
    if not len(t):
        return None
    item = t["item_id"].cat.codes.to_numpy()
    ns = t["created_at"].astype("int64").to_numpy()
    n_items = len(t["item_id"].cat.categories)
    first = np.full(n_items, np.iinfo(np.int64).max)
    np.minimum.at(first, item, ns)
    hum = (t["source"] == "human").to_numpy()
    last = np.full(n_items, np.iinfo(np.int64).min)
    np.maximum.at(last, item[hum], ns[hum])
    ok = (last > np.iinfo(np.int64).min) & (first < np.iinfo(np.int64).max)
    cyc = (last[ok] - first[ok]) / 3.6e12
    rows = [_dist("cycle (first judgement → last human judgement)", cyc)]
    stage = t["stage"].astype(str).to_numpy()
    lab = hum & (stage == "label")
    first_label = np.full(n_items, np.iinfo(np.int64).max)
    np.minimum.at(first_label, item[lab], ns[lab])
    for st in ("review", "adjudication"):
        m = hum & (stage == st)
        if not m.any():
            continue
        fs = np.full(n_items, np.iinfo(np.int64).max)
        np.minimum.at(fs, item[m], ns[m])
        both = (fs < np.iinfo(np.int64).max) & (first_label < np.iinfo(np.int64).max)
        rows.append(_dist(f"latency to {st} (first label → first {st})", (fs[both] - first_label[both]) / 3.6e12))
    per_item = pd.DataFrame({"item_id": t["item_id"].cat.categories[ok].astype(str), "cycle_h": cyc})
    return {"summary": pd.DataFrame(rows), "per_item": per_item}


def _dist(name: str, hours: np.ndarray) -> dict[str, Any]:
    if not hours.size:
        return {"measure": name, "items": 0, "median_h": math.nan, "p90_h": math.nan, "max_h": math.nan}
    return {"measure": name, "items": int(hours.size), "median_h": float(np.median(hours)),
            "p90_h": float(np.quantile(hours, 0.9)), "max_h": float(hours.max())}


# --------------------------------------------------------------------------------------------------
# Validation summary
# --------------------------------------------------------------------------------------------------

def validation_summary(p: Program, guidelines_path: str) -> dict[str, Any]:
    """Run :func:`labkit.validation.validate` if it is available; never hide why it is not.

    Returns ``{"available": bool, "reason": str, "gate": bool | None, "outcomes": DataFrame,
    "failures": int}``.
    """
    if not guidelines_path:
        return {"available": False, "reason": "no guidelines folder given (parameter guidelines)"}
    try:
        from labkit.validation import validate
    except ImportError as exc:
        return {"available": False, "reason": f"labkit.validation cannot be imported here ({exc})"}
    rep = validate(p.labels, guidelines_path)
    rows = [{"expectation": o.name, "severity": o.severity, "status": o.status, "failing rows": o.n_failing,
             "why": o.why} for o in rep.outcomes]
    outcomes = pd.DataFrame(rows)
    return {"available": True, "reason": "", "gate": bool(rep.gate), "outcomes": outcomes,
            "failures": int(len(rep.failures)), "n_rows": rep.n_rows}


# --------------------------------------------------------------------------------------------------
# Agreement
# --------------------------------------------------------------------------------------------------

def agreement(p: Program, *, ci: float = 0.95, n_boot: int = 200, seed: int = 0) -> dict[str, Any]:
    """Krippendorff's alpha (nominal) overall and by label, slice, guideline version, task and week,
    each with a percentile bootstrap interval over items (:mod:`labkit.stats.agreement`)."""
    from labkit.stats.agreement import agreement_by, krippendorff_alpha

    h = p.labels.loc[p.labels["source"] == "human"]
    ht = h.loc[h["task"] == p.task]
    overall = krippendorff_alpha(ht, ci=ci, n_boot=n_boot, seed=seed, task=p.task)
    out: dict[str, Any] = {"overall": overall}
    out["by_task"] = agreement_by(h, by="task", ci=ci, n_boot=n_boot, seed=seed) if len(p.all_tasks) > 1 else None
    out["by_label"] = agreement_by(ht, by="label", ci=ci, n_boot=n_boot, seed=seed, task=p.task)
    out["by_slice"] = (agreement_by(ht, by="slice", ci=ci, n_boot=n_boot, seed=seed, task=p.task)
                       if p.has("slice") else None)
    out["by_version"] = (agreement_by(ht, by="guideline_version", ci=ci, n_boot=n_boot, seed=seed, task=p.task)
                         if p.has("guideline_version") else None)
    out["by_week"] = (agreement_by(ht, by="week", ci=ci, n_boot=n_boot, seed=seed, task=p.task)
                      if p.has("created_at") else None)
    return out


# --------------------------------------------------------------------------------------------------
# Gold, consensus, reliability
# --------------------------------------------------------------------------------------------------

def gold_scores(p: Program, *, ci: float = 0.95) -> dict[str, Any] | None:
    """Accuracy per annotator on gold (Wilson intervals), confusion (row shares), per-class P/R/F1,
    top confusions. ``None`` without gold for the task."""
    if not p.has_gold:
        return None
    from labkit.stats.scoring import confusion, per_class, score_annotators, top_confusions, wilson_interval

    h = p.comparable
    g = p.gold_for_task
    scores = score_annotators(h, g, ci=ci, task=p.task, consensus_fallback=False)
    scored = scores.loc[scores["n"] > 0]
    n, c = int(scored["n"].sum()), int(scored["correct"].sum())
    lo, hi = wilson_interval(c, n, ci)
    return {"per_annotator": scores, "items": int(g["item_id"].astype(str).isin(set(h["item_id"].astype(str))).sum()),
            "pool": {"n": n, "correct": c, "accuracy": c / n if n else math.nan,
                                              "ci_low": float(lo), "ci_high": float(hi)},
            "confusion": confusion(h, g, task=p.task, normalize=True),
            "confusion_counts": confusion(h, g, task=p.task),
            "per_class": per_class(h, g, task=p.task), "top": top_confusions(h, g, k=8, task=p.task)}


def consensus(p: Program, *, threshold: float = 0.7) -> dict[str, Any]:
    """The default consensus (:func:`labkit.stats.truth.fit_consensus`) with its confidence per item,
    its accuracy on gold, the reliability of its confidence on gold items, and the adjudication queue.

    The adjudication queue is the review planner's queue (:func:`labkit.review.plan_review`, reading this
    same fit): items whose ``p_error`` (the planner's probability that the consensus label is wrong; learned
    from gold when there is enough, each gold item scored without its own gold label) exceeds
    ``1 - threshold``, plus items whose consensus differs from gold, in the planner's rank order."""
    from labkit.stats.consensus import consensus_accuracy
    from labkit.stats.truth import fit_consensus

    g = p.gold_for_task if p.has_gold else None
    # with gold, the confidence is calibrated on it, cross-fitted (each gold item's confidence from a map fitted
    # without its own gold label), so the reliability shown below is honest; labels never read gold
    fit = fit_consensus(p.comparable, task=p.task, gold=g)
    cons = fit.consensus
    acc = consensus_accuracy(cons, g) if g is not None else None
    queue = review_queue(p, fit, g, threshold=threshold)
    rel = None
    if g is not None and len(cons):
        gd = g.drop_duplicates("item_id")
        gold_map = pd.Series(gd["label"].astype(str).to_numpy(), index=gd["item_id"].astype(str).to_numpy())
        on_gold = cons.loc[cons["item_id"].astype(str).isin(gold_map.index)]
        if len(on_gold):
            right = on_gold["label"].astype(object).to_numpy() == on_gold["item_id"].astype(str).map(gold_map).to_numpy()
            bins, ece = reliability(on_gold["confidence"].to_numpy(float), right)
            rel = {"bins": bins, "ece": ece, "n": int(len(on_gold))}
    method = str(cons["method"].iloc[0]) if len(cons) and "method" in cons else ""
    return {"consensus": cons, "accuracy": acc, "queue": queue, "threshold": threshold,
            "info": fit.info.get(p.task, {}), "reliability": rel, "method": method, "fit": fit}


def review_queue(p: Program, fit: Any, gold: pd.DataFrame | None, *, threshold: float = 0.7) -> pd.DataFrame:
    """The adjudication queue of the report: :func:`labkit.review.plan_review` over the report's judgements.

    Rows: the planner's queue columns (``rank, item_id, consensus_label, p_error, reasons, ...``) plus ``gold``
    (when given), restricted to ``p_error > 1 - threshold`` or consensus different from gold, best first.
    """
    from labkit.errors import ParameterError
    from labkit.review import plan_review

    if not (isinstance(threshold, (int, float)) and 0 <= threshold <= 1):
        raise ParameterError(f"threshold must be a number in [0, 1], got {threshold!r}")
    cols = ["rank", "item_id", "consensus_label", "p_error", "reasons", "n_judgements", "est_minutes"]
    if not len(fit.consensus):
        return pd.DataFrame(columns=cols)
    plan = plan_review(p.comparable, budget_fraction=1.0, gold=gold, fit=fit)
    q = plan.queue
    q = q.loc[q["task"].astype(str) == str(p.task), cols].copy()
    sel = q["p_error"].to_numpy(float) > 1 - threshold
    if gold is not None and len(gold):
        gd = gold.drop_duplicates("item_id", keep="last")
        gmap = pd.Series(gd["label"].astype(str).to_numpy(), index=gd["item_id"].astype(str).to_numpy())
        q["gold"] = q["item_id"].astype(str).map(gmap)
        dis = q["gold"].notna().to_numpy() & (q["consensus_label"].astype(str).to_numpy() != q["gold"].astype(str).to_numpy())
        q.loc[dis, "reasons"] = ("consensus differs from gold; " + q.loc[dis, "reasons"].astype(str)).str.strip("; ")
        sel |= dis
    return q.loc[sel].reset_index(drop=True)


def reliability(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> tuple[pd.DataFrame, float]:
    r"""Reliability bins and expected calibration error of stated confidence against correctness.

    Confidences in [0, 1] go into ``bins`` equal-width bins (1.0 in the last). Per bin: judgements,
    mean confidence, observed accuracy. :math:`\mathrm{ECE} = \sum_b \frac{n_b}{n}\,|\mathrm{acc}_b -
    \mathrm{conf}_b|` (Naeini, Cooper & Hauskrecht 2015, AAAI; Guo et al. 2017, ICML).

    >>> t, ece = reliability(np.array([0.9, 0.9, 0.2, 0.2]), np.array([1, 0, 0, 0]))
    >>> round(ece, 3)
    0.3
    """
    conf = np.asarray(confidence, dtype=float)
    corr = np.asarray(correct, dtype=float)
    ok = np.isfinite(conf) & (conf >= 0) & (conf <= 1)
    conf, corr = conf[ok], corr[ok]
    b = np.minimum((conf * bins).astype(np.int64), bins - 1)
    n = np.bincount(b, minlength=bins)
    sc = np.bincount(b, weights=conf, minlength=bins)
    sa = np.bincount(b, weights=corr, minlength=bins)
    with np.errstate(divide="ignore", invalid="ignore"):
        mc, ma = sc / n, sa / n
    table = pd.DataFrame({"bin_low": np.arange(bins) / bins, "bin_high": np.arange(1, bins + 1) / bins,
                          "judgements": n, "mean_confidence": mc, "accuracy": ma})
    total = n.sum()
    ece = float(np.nansum(n / total * np.abs(ma - mc))) if total else math.nan
    return table, ece


def correctness(p: Program) -> tuple[pd.DataFrame, str] | None:
    """Per human judgement of the task: correct or not, against gold where the item has gold, else
    against the leave-one-out majority of the other annotators (the reference is named). Rows keep
    created_at, duration_s, confidence, guideline_version, annotator_id, label, item_id."""
    from labkit.stats.counts import CountTables
    from labkit.stats.scoring import join_gold

    h = p.comparable
    if p.has_gold:
        j = join_gold(h, p.gold_for_task, task=p.task)
        ct, ref = j.ct, j.gold[j.ct.item]
        name = "gold"
    else:
        from labkit.stats.scoring import _loo_consensus  # the scoring module's own reference

        ct = CountTables.from_labels(h, task=p.task)
        ref = _loo_consensus(ct)
        name = "the other annotators' majority"
    keep = ref >= 0
    rows = h.iloc[ct.rows[keep]]
    out = pd.DataFrame({"item_id": rows["item_id"].astype(str).to_numpy(),
                        "annotator_id": rows["annotator_id"].astype(str).to_numpy(),
                        "label": rows["label"].astype(str).to_numpy(),
                        "reference": ct.labels[ref[keep]].astype(str),
                        "correct": (ct.label[keep] == ref[keep]),
                        "created_at": rows["created_at"].to_numpy(),
                        "duration_s": rows["duration_s"].to_numpy(), "confidence": rows["confidence"].to_numpy(),
                        "guideline_version": rows["made_under" if "made_under" in rows else "guideline_version"]
                        .astype(str).to_numpy()})
    return out, name


def accuracy_over(rows: pd.DataFrame, by: str, ci: float = 0.95) -> pd.DataFrame:
    """Accuracy with a Wilson interval per value of ``by`` (e.g. ``week``, ``guideline_version``)."""
    from labkit.stats.scoring import wilson_interval

    g = rows.groupby(by, observed=True)["correct"].agg(["size", "sum"]).reset_index()
    g.columns = [by, "n", "correct"]
    lo, hi = wilson_interval(g["correct"].to_numpy(float), g["n"].to_numpy(float), ci)
    g["accuracy"] = g["correct"] / g["n"]
    g["ci_low"], g["ci_high"] = lo, hi
    return g


def label_shares_by_week(p: Program) -> pd.DataFrame | None:
    """Share of each label among the task's human judgements per week (drift in what is labeled)."""
    h = p.human
    h = h.loc[h["created_at"].notna()]
    if not len(h):
        return None
    wk = week_of(h["created_at"])
    ct = pd.crosstab(wk, h["label"].astype(str), normalize="index")
    ct.index.name = "week"
    return ct


# --------------------------------------------------------------------------------------------------
# Key findings
# --------------------------------------------------------------------------------------------------

def _f(x: float, d: int = 2) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{d}f}"


def reference_name(reference: str) -> str:
    """The reference a correctness rate is measured against, as the page names it."""
    return "gold" if reference == "gold" else reference


def input_findings(p: Program) -> list[Finding]:
    """What of the inputs this report leaves unused, with counts (never silent)."""
    out: list[Finding] = []
    cov = p.gold_coverage()
    if cov is not None:
        src = f"The gold file{' ' + Path(cov['path']).name if cov['path'] else ''}"
        if cov["for_task"] == 0:
            out.append(Finding(f"{src} has {cov['rows']:,} rows, none for task {p.task!r} (its tasks: "
                               f"{', '.join(cov['tasks'])}): accuracy on gold is not available.", "warning"))
        elif cov["matched"] == 0:
            out.append(Finding(f"{src} has {cov['for_task']:,} gold items for task {p.task!r}, and none of them was "
                               "judged here: accuracy on gold is not available.", "warning"))
        else:
            scope = ("it has no task column, so it applies to every task (the rule of labkit score)"
                     if cov["no_task_column"] else f"{cov['for_task']:,} of its {cov['rows']:,} rows are for task {p.task!r}")
            out.append(Finding(f"Gold: {cov['matched']:,} gold items were judged and are used; {scope}.", "info"))
            if cov["unjudged"]:
                out.append(Finding(f"{cov['unjudged']:,} of the {cov['for_task']:,} gold items for task {p.task!r} were not "
                                   "judged by anyone here and are unused.", "warning"))
            other = cov["rows"] - cov["for_task"]
            if other:
                out.append(Finding(f"{other:,} gold rows are for other tasks and are unused on this page.", "info"))
    if p.items is not None:
        judged = set(p.human["item_id"].astype(str))
        have = set(p.items["item_id"].astype(str))
        if judged and not (judged & have):
            out.append(Finding(f"The items file has {len(have):,} items and none of the {len(judged):,} judged items: "
                               "item texts are not available.", "warning"))
    if len(p.all_tasks) > 1:
        other = int((p.labels["source"].eq("human") & p.labels["task"].astype(str).ne(p.task)).sum())
        out.append(Finding(f"{other:,} human judgements of {len(p.all_tasks) - 1} other task(s) are not measured on this "
                           f"page (only agreement per task covers them; pass task=NAME for another).", "info"))
    return out


def findings(p: Program, vol: dict[str, Any], agr: dict[str, Any], gold: dict[str, Any] | None,
             cons: dict[str, Any] | None, val: dict[str, Any] | None, pseudonym: Any,
             drift_rows: pd.DataFrame | None = None, *, min_evidence: int = 10,
             reference: str = "gold") -> list[Finding]:
    """The key findings with severities; annotators by pseudonym. A failed validation gate is critical."""
    out: list[Finding] = []
    tot = vol["totals"]
    out.append(Finding(f"{tot['judgements']:,} human judgements on {tot['items']:,} items by {tot['annotators']:,} "
                       f"annotators in task {p.task!r}.", "info"))
    out += input_findings(p)
    if p.has_time:
        ts = p.labels["created_at"]
        future = ts > pd.Timestamp.now(tz="UTC")
        if future.any():
            out.append(Finding(f"{int(future.sum()):,} judgement(s) are dated in the future (latest {ts.max():%Y-%m-%d}): a "
                               "clock or export error; the weekly charts show them in their own week and cycle times "
                               "include them.", "warning"))
    a = agr["overall"]
    if not math.isnan(a.value):
        verdict = ("good" if a.value >= 0.8 else "tentative" if a.value >= 0.667 else "low")
        out.append(Finding(f"Agreement (Krippendorff's alpha) is {_f(a.value)} [{_f(a.ci_low)}, {_f(a.ci_high)}], "
                           f"{verdict} by Krippendorff's 0.667/0.8 guide.",
                           "warning" if a.value < 0.667 else "ok" if a.value >= 0.8 else "info"))
    else:
        out.append(Finding(f"Agreement cannot be computed: {a.reason}.", "warning"))
    wk = agr.get("by_week")
    if wk is not None and len(wk.dropna(subset=["value"])) >= 2:
        w = wk.dropna(subset=["value"])
        first, last = w.iloc[0], w.iloc[-1]
        separated = last["ci_high"] < first["ci_low"] or last["ci_low"] > first["ci_high"]
        if separated:
            out.append(Finding(f"Agreement moved from {_f(first['value'])} in the week of {first['week']:%Y-%m-%d} to "
                               f"{_f(last['value'])} in the week of {last['week']:%Y-%m-%d} (intervals do not overlap).",
                               "warning" if last["value"] < first["value"] else "info"))
        else:
            out.append(Finding(f"Agreement in the last week ({_f(last['value'])}) is within the interval of the first "
                               f"({_f(first['value'])}); no clear movement.", "info"))
    bl = agr.get("by_label")
    if bl is not None and len(bl.dropna(subset=["value"])):
        worst_l = bl.dropna(subset=["value"]).sort_values("value").iloc[0]
        out.append(Finding(f"The label annotators agree on least is {worst_l['label']!r} "
                           f"(one-vs-rest alpha {_f(worst_l['value'])}).",
                           "warning" if worst_l["value"] < 0.667 else "info"))
    bv = agr.get("by_version")
    if bv is not None and len(bv.dropna(subset=["value"])) >= 2:
        v = bv.dropna(subset=["value"])
        parts = ", ".join(f"{r['guideline_version']}: {_f(r['value'])}" for _, r in v.iterrows())
        out.append(Finding(f"Agreement by guideline version: {parts}.", "info"))
    if val is not None:
        if not val.get("available"):
            out.append(Finding(f"Validation did not run: {val.get('reason')}.", "warning"))
        else:
            failed = val["outcomes"].loc[val["outcomes"]["status"].isin(["failed", "error"])] if len(val["outcomes"]) else []
            if val["gate"] is False:
                out.append(Finding(f"Validation gate FAILED: {len(failed)} expectation(s) failed, "
                                   f"{val['failures']:,} failing rows. The labels must not feed training as they are.",
                                   "critical"))
            elif len(failed):
                out.append(Finding(f"Validation: {len(failed)} non-critical expectation(s) failed "
                                   f"({val['failures']:,} failing rows); the gate passed.", "warning"))
            else:
                out.append(Finding("Validation: every expectation passed or was not applicable.", "ok"))
    if gold is not None:
        pool = gold["pool"]
        out.append(Finding(f"Accuracy on gold is {pool['accuracy']:.1%} [{pool['ci_low']:.1%}, {pool['ci_high']:.1%}] "
                           f"over {pool['n']:,} judgements of {gold['items']:,} gold items.", "info"))
        s = gold["per_annotator"]
        low = s.loc[(s["n"] >= min_evidence) & (s["ci_high"] < pool["accuracy"])].sort_values("ci_high")
        if len(low):
            names = ", ".join(pseudonym(x) for x in low["annotator_id"].head(5))
            more = f" and {len(low) - 5} more" if len(low) > 5 else ""
            out.append(Finding(f"{len(low)} annotator(s) with at least {min_evidence} gold judgements are clearly below "
                               f"the pool (interval entirely below {pool['accuracy']:.1%}): {names}{more}.", "warning"))
        top = gold["top"]
        if len(top):
            r = top.iloc[0]
            out.append(Finding(f"Most common error on gold: {r['gold']!r} labeled as {r['label']!r} ({int(r['count'])} "
                               f"times, {r['share']:.0%} of the judgements of gold {r['gold']!r} items).", "warning"))
    elif p.gold is None:
        out.append(Finding(f"No gold file given: accuracy on gold is not available; correctness elsewhere on this page "
                           f"is measured against {reference}.", "info"))
    if cons is not None:
        q = cons["queue"]
        n_items = len(cons["consensus"])
        out.append(Finding(f"{len(q):,} of {n_items:,} items ({len(q) / max(n_items, 1):.0%}) need adjudication "
                           f"(the review planner puts the chance that the consensus label is wrong above "
                           f"{1 - cons['threshold']:.0%}, or the consensus differs from gold).",
                           "warning" if n_items and len(q) / n_items > 0.2 else "info"))
        rel = cons.get("reliability")
        if rel is not None and rel["n"] >= 20 and rel["ece"] > 0.05:
            out.append(Finding(f"Consensus confidence is miscalibrated on gold: expected calibration error "
                               f"{rel['ece']:.3f} over {rel['n']:,} gold items.", "warning"))
    if drift_rows is not None and len(drift_rows) >= 2:
        d = drift_rows
        first, last = d.iloc[0], d.iloc[-1]
        if last["ci_high"] < first["ci_low"]:
            out.append(Finding(f"Accuracy against {reference} fell from {first['accuracy']:.1%} to {last['accuracy']:.1%} "
                               "between the first and the last week.", "warning"))
        elif last["ci_low"] > first["ci_high"]:
            out.append(Finding(f"Accuracy against {reference} rose from {first['accuracy']:.1%} to "
                               f"{last['accuracy']:.1%} between the first and the last week.", "ok"))
    return out


# --------------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------------

_PCT = {"accuracy": "{:.1%}", "ci_low": "{:.1%}", "ci_high": "{:.1%}"}


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _volume_section(p: Program, vol: dict[str, Any], cyc: dict[str, Any] | None) -> Section:
    from labkit.reports import plots

    sec = Section("Volume, throughput and cycle time")
    sec.blocks.append(Table(vol["by_stage"], caption="Human judgements by stage"))
    if vol["weekly"] is not None:
        weekly = vol["weekly"]
        sec.blocks.append(Figure(lambda: plots.weekly_bars(weekly, title="Human judgements per week and stage"),
                                 alt="Human judgements per week and stage"))
        tp = vol["throughput"].rename(columns={"per_annotator": "per active annotator",
                                               "median_s": "median seconds per judgement"})
        sec.blocks.append(Table(tp, caption="Throughput per week"))
    else:
        sec.blocks.append(Text("Judgements per week and throughput: not available (no timestamps in this data).", note=True))
    if cyc is not None:
        sec.blocks.append(Table(cyc["summary"].rename(columns={"median_h": "median hours", "p90_h": "90th percentile hours",
                                                               "max_h": "max hours"}),
                                caption="Cycle time and latency per stage (hours)"))
        per_item = cyc["per_item"]
        if len(per_item):
            sec.blocks.append(Figure(lambda: plots.histogram(per_item["cycle_h"].to_numpy() + 1 / 60, title="Cycle time per item",
                                                             xlabel="hours from first to last judgement (log scale)", log=True),
                                     alt="Cycle time per item"))
    else:
        sec.blocks.append(Text("Cycle time and latency per stage: not available (no timestamps in this data).", note=True))
    return sec


def _validation_section(val: dict[str, Any]) -> Section:
    sec = Section("Validation")
    if not val.get("available"):
        sec.unavailable = f"not shown: {val.get('reason')}"
        return sec
    gate = "passed" if val["gate"] else "FAILED (a critical expectation failed)"
    sec.blocks.append(Text(f"Gate: {gate}. {val['failures']:,} failing rows over {val['n_rows']:,} rows. "
                           "Run `labkit validate` or the validate_labels report for the failing rows."))
    if not val["gate"]:
        sec.blocks.append(Finding("The validation gate failed: these labels must not feed training as they are.", "critical"))
    o = val["outcomes"].sort_values(["status", "failing rows"], ascending=[True, False])
    sec.blocks.append(Table(o, caption="Expectations", max_rows=40))
    return sec


def _agreement_figure(df: pd.DataFrame, col: str, name: str, lo: float, overall: float) -> Any:
    from labkit.reports import plots

    return lambda: plots.interval_plot(df, col, title=f"Agreement per {name} (Krippendorff's alpha, 95% interval)",
                                       xlabel="alpha", ref=overall, ref_label="overall", xlim=(lo, 1))


def _agreement_section(p: Program, agr: dict[str, Any]) -> Section:
    from labkit.reports.display import fmt_interval

    sec = Section("Agreement", intro="Krippendorff's alpha (nominal) with 95% bootstrap intervals over items. Per label: "
                  "that label against all others. Krippendorff suggests relying on data with alpha ≥ 0.8 and drawing "
                  "tentative conclusions from 0.667.")
    a = agr["overall"]
    sec.blocks.append(Text(f"Overall: alpha {fmt_interval(a.value, a.ci_low, a.ci_high)} on {a.n_items:,} items "
                           f"({a.n_pairable:,} pairable judgements)." + (f" {a.reason}" if a.reason else "")))
    for key, col, name in [("by_task", "task", "task"), ("by_label", "label", "label"), ("by_slice", "slice", "slice"),
                           ("by_version", "guideline_version", "guideline version")]:
        df = agr.get(key)
        if df is None:
            if key != "by_task":
                sec.blocks.append(Text(f"Agreement per {name}: not available (no {name} in this data).", note=True))
            continue
        show = df[[col, "value", "ci_low", "ci_high", "n_items", "n_judgements", "reason"]].rename(columns={"value": "alpha"})
        if not show["reason"].fillna("").astype(str).str.strip().any():
            show = show.drop(columns="reason")
        sec.blocks.append(Table(show, caption=f"Agreement per {name}"))
        if df["value"].notna().sum() >= 1:
            lo = min(0.0, float(df["ci_low"].min()) if df["ci_low"].notna().any() else 0.0)
            sec.blocks.append(Figure(_agreement_figure(df, col, name, lo, a.value), alt=f"Agreement per {name}"))
    return sec


def _gold_section(p: Program, gs: dict[str, Any] | None, pseudonym: Any, named: list[str], min_evidence: int,
                  max_people: int) -> Section:
    from labkit.reports import plots
    from labkit.reports.people import rank_people

    sec = Section("Accuracy on gold")
    if gs is None:
        cov = p.gold_coverage()
        sec.unavailable = ("not available: no gold file given" if cov is None else
                           f"not available: the gold file has no gold item judged in task {p.task!r} "
                           f"({cov['rows']:,} rows, {cov['for_task']:,} for this task)")
        return sec
    pool = gs["pool"]
    sec.blocks.append(Text(f"Pool: {pool['accuracy']:.1%} [{pool['ci_low']:.1%}, {pool['ci_high']:.1%}] over {pool['n']:,} "
                           f"judgements on {gs['items']:,} gold items (Wilson 95% intervals)."))
    for n in p.comparison_notes:
        sec.blocks.append(Text(n, note=True))
    view = rank_people(gs["per_annotator"], min_n=min_evidence, named=named, k=max_people)
    def show(df: pd.DataFrame) -> pd.DataFrame:
        out = df.assign(annotator=pseudonym_series(df["annotator_id"], pseudonym))
        return out[["annotator", "n", "correct", "accuracy", "ci_low", "ci_high"]].rename(columns={"n": "gold judgements"})
    sec.blocks.append(Text(f"Annotators are ranked worst first by the upper end of their 95% interval: someone at the top "
                           f"is weak on the evidence, not merely unlucky. Only annotators with at least {min_evidence} "
                           f"judgements on gold items are ranked ({len(view.ranked):,}); {len(view.too_little):,} with "
                           f"fewer are listed apart. Everyone a finding names is always shown."))
    if len(view.chart):
        chart = show(view.chart)
        hl = {pseudonym(x) for x in named}
        n_ranked = len(view.ranked)
        sec.blocks.append(Figure(
            lambda: plots.interval_plot(chart, "annotator", "accuracy",
                                        title="Accuracy on gold per annotator, worst first (95% Wilson interval)"
                                        + (f"\nthe {min(max_people, n_ranked)} lowest upper bounds of {n_ranked} ranked annotators"
                                           if n_ranked > max_people else ""),
                                        xlabel="accuracy on gold", ref=pool["accuracy"], ref_label="pool", xlim=(0, 1),
                                        highlight=hl),
            alt="Accuracy on gold per annotator, worst first"))
    else:
        sec.blocks.append(Text(f"No annotator has {min_evidence} or more judgements on gold items: nobody is ranked.", note=True))
    sec.blocks.append(Table(show(view.ranked), caption=f"Accuracy on gold per annotator (at least {min_evidence} gold "
                            "judgements), worst upper bound first", max_rows=200, formats=_PCT))
    if len(view.too_little):
        sec.blocks.append(Table(show(view.too_little), caption=f"Annotators with fewer than {min_evidence} gold judgements "
                                "(not ranked: too little evidence), most evidence first", max_rows=50, formats=_PCT))
    not_scored = int((gs["per_annotator"]["n"] == 0).sum())
    if not_scored:
        sec.blocks.append(Text(f"{not_scored} annotator(s) judged no gold item and are not scored here.", note=True))
    cm = gs["confusion"]
    no_gold = [str(r) for r in cm.index[cm.isna().all(axis=1)]]
    cmd = cm.dropna(how="all")
    if len(cmd):
        sec.blocks.append(Figure(lambda: plots.heatmap(cmd, title="Confusion on gold items (row = gold label, share of the row)",
                                                       xlabel="label given", ylabel="gold label"),
                                 alt="Confusion on gold items"))
    if no_gold:
        sec.blocks.append(Text(f"No gold item has the label(s) {', '.join(no_gold)}: they appear only as columns "
                               "(labels given).", note=True))
    sec.blocks.append(Table(gs["per_class"], caption="Per label on gold items (one-vs-rest)",
                            formats={"precision": "{:.1%}", "recall": "{:.1%}", "f1": "{:.2f}"}))
    top = gs["top"].copy()
    if len(top):
        top["examples"] = top["examples"].map(lambda xs: ", ".join(xs))
        sec.blocks.append(Table(top, caption="Most common confusions on gold (with example items)", formats={"share": "{:.0%}"}))
    return sec


def pseudonym_series(s: pd.Series, pseudonym: Any) -> pd.Series:
    """Ids to pseudonyms (missing values kept)."""
    return s.astype(object).map(lambda v: v if pd.isna(v) else pseudonym(v))


_PRIOR_WORDS = {"one-coin": "one accuracy per annotator for every class",
                "two-way": "the annotator's accuracy moved by each class's difficulty",
                "pooled": "the crowd's pooled confusion"}


def _consensus_section(p: Program, cons: dict[str, Any]) -> Section:
    from labkit.reports import plots

    method = cons.get("method") or "the default consensus model"
    sec = Section("Consensus and the adjudication queue",
                  intro=f"Consensus over the human judgements by labkit's default consensus model ({method}); "
                        "confidence is the model's probability of the winning label.")
    c = cons["consensus"]
    info = cons.get("info") or {}
    if info.get("prior") in _PRIOR_WORDS:
        z = info.get("prior_test_z")
        test = (f" Chosen by held-out judgements: the two-way prior's gain over one-coin is z = {z:.2f} standard "
                "errors (two-way is kept above 1.96)." if z is not None else "")
        sec.blocks.append(Text(f"Each annotator's confusion is shrunk toward a {info['prior']} prior: "
                               f"{_PRIOR_WORDS[info['prior']]}.{test}", note=True))
    if cons["accuracy"] is not None:
        ca = cons["accuracy"]
        sec.blocks.append(Text(f"Consensus matches gold on {ca['n_correct']:,} of {ca['n_gold_items']:,} gold items "
                               f"({ca['accuracy']:.1%})."))
    if len(c):
        conf = c["confidence"].to_numpy(float)
        sec.blocks.append(Figure(lambda: plots.histogram(conf, title="Consensus confidence per item", xlabel="confidence",
                                                         bins=20, vline=cons["threshold"],
                                                         vline_label=f"adjudication threshold {cons['threshold']:g}"),
                                 alt="Consensus confidence per item"))
    rel = cons.get("reliability")
    if rel is not None:
        bins, ece = rel["bins"], rel["ece"]
        sec.blocks.append(Figure(lambda: plots.reliability_diagram(
            bins, ece, title="Consensus confidence against gold", xlabel="consensus confidence (bin mean)",
            ylabel="share of consensus labels equal to gold", unit="gold items"),
            alt=f"Reliability of consensus confidence on {rel['n']:,} gold items, ECE {ece:.3f}"))
        sec.blocks.append(Table(bins.loc[bins["judgements"] > 0].rename(columns={"judgements": "gold items"}),
                                caption=f"Consensus confidence on gold: reliability bins (ECE {ece:.3f} over {rel['n']:,} "
                                        "gold items)",
                                formats={"bin_low": "{:.1f}", "bin_high": "{:.1f}", "mean_confidence": "{:.2f}",
                                         "accuracy": "{:.1%}"}))
    else:
        sec.blocks.append(Text("Reliability of consensus confidence: not available (no gold item judged here).", note=True))
    q = cons["queue"].copy()
    if p.items is not None and len(q):
        text = p.items.drop_duplicates("item_id").set_index("item_id")["text"]
        q["text"] = q["item_id"].astype(str).map(text).fillna("").map(lambda t: t if len(t) <= 90 else t[:87] + "…")
    cols = [c_ for c_ in ["rank", "item_id", "consensus_label", "p_error", "n_judgements", "gold", "reasons", "text"]
            if c_ in q.columns]
    sec.blocks.append(Table(q[cols].rename(columns={"consensus_label": "consensus"}),
                            caption=f"Adjudication queue ({len(q):,} items, in the review planner's order: expected "
                                    "error cost removed per reviewer minute; see docs/review.md)", max_rows=30,
                            formats={"p_error": "{:.2f}"}, empty="No item needs adjudication."))
    return sec


def _confidence_section(rows: pd.DataFrame, reference: str) -> tuple[Section, float | None]:
    from labkit.reports import plots

    sec = Section("Calibration of stated confidence")
    conf_rows = rows.loc[pd.notna(rows["confidence"])] if len(rows) else rows
    if not len(conf_rows):
        sec.unavailable = "not available (no stated confidence in this data)"
        return sec, None
    bins, ece = reliability(conf_rows["confidence"].to_numpy(float), conf_rows["correct"].to_numpy())
    sec.blocks.append(Figure(lambda: plots.reliability_diagram(bins, ece, title=f"Stated confidence against correctness "
                                                                                 f"(reference: {reference})"),
                             alt="Stated confidence against correctness"))
    sec.blocks.append(Table(bins.loc[bins["judgements"] > 0], caption=f"Reliability bins (reference: {reference})",
                            formats={"bin_low": "{:.1f}", "bin_high": "{:.1f}", "mean_confidence": "{:.2f}",
                                     "accuracy": "{:.1%}"}))
    return sec, ece


def _drift_section(p: Program, agr: dict[str, Any], rows: pd.DataFrame, acc_week: pd.DataFrame | None,
                   reference: str) -> Section:
    from labkit.reports import plots

    sec = Section("Drift over weeks and guideline versions")
    wk = agr.get("by_week")
    if wk is not None and wk["value"].notna().sum() >= 1:
        w = wk.dropna(subset=["value"])
        lo = min(0.0, float(wk["ci_low"].min()))
        sec.blocks.append(Figure(lambda: plots.band_lines(w, "week", {"alpha": ("value", "ci_low", "ci_high")},
                                                          title="Agreement per week (Krippendorff's alpha, 95% interval)",
                                                          ylabel="alpha", ylim=(lo, 1)),
                                 alt="Agreement per week"))
    else:
        sec.blocks.append(Text("Agreement per week: not available (no timestamps in this data).", note=True))
    if acc_week is not None and len(acc_week):
        sec.blocks.append(Figure(lambda: plots.band_lines(acc_week, "week", {"accuracy": ("accuracy", "ci_low", "ci_high")},
                                                          title=f"Accuracy per week against {reference} (95% interval)",
                                                          ylabel="accuracy", ylim=(0, 1), percent=True),
                                 alt=f"Accuracy per week against {reference}"))
    shares = label_shares_by_week(p)
    if shares is not None:
        sec.blocks.append(Figure(lambda: plots.stacked_shares(shares, title="Label shares per week"), alt="Label shares per week"))
    if len(rows) and rows["guideline_version"].replace("nan", np.nan).notna().any():
        av = accuracy_over(rows.loc[rows["guideline_version"] != "nan"], "guideline_version")
        sec.blocks.append(Table(av, caption=f"Accuracy per guideline version (against {reference})", formats=_PCT))
    else:
        sec.blocks.append(Text("Drift over guideline versions: not available (no guideline versions in this data).", note=True))
    return sec


def build(labels: str, gold: str = "", items: str = "", guidelines: str = "", *, since: str = "", until: str = "",
          task: str = "", slice: str = "", validate: bool = True, n_boot: int = 200,
          adjudication_threshold: float = 0.7, min_evidence: int = 10, max_people: int = 30,
          pseudonym: Any = None, engine: str = "pandas", memory_limit: str = "", temp_dir: str = "") -> Report:
    """The label quality report.

    Parameters
    ----------
    labels, gold, items, guidelines, since, until, task, slice
        See :func:`load_program`.
    validate : bool
        Run the validation suites (a failed gate is a critical finding).
    n_boot : int
        Bootstrap replicates for agreement intervals.
    adjudication_threshold : float
        An item goes to adjudication when the review planner's chance that its consensus label is right
        (``1 - p_error``, :func:`labkit.review.plan_review`) is below this, or its consensus differs from gold.
    min_evidence : int
        Judgements on gold items an annotator needs to be ranked (see :mod:`labkit.reports.people`).
    max_people : int
        Annotators the per-annotator chart shows (the worst; plus everyone a finding names).
    pseudonym : callable, optional
        Id -> shown name (default :class:`labkit.privacy.Pseudonyms`).
    engine, memory_limit, temp_dir
        Where the numbers are computed (see ``docs/scale.md``): ``pandas`` (in memory, every section),
        ``duckdb`` (a Parquet file, folder or glob bigger than memory: reduced tables only, see
        :mod:`labkit.reports.quality_engine`), or ``auto`` (DuckDB when the Parquet input would not fit
        ``memory_limit``, else half the available memory).
    """
    from labkit.privacy import Pseudonyms

    if engine != "pandas":
        from labkit.engines import choose_engine

        choice = choose_engine(engine, labels, memory_limit or None)
        if choice.name != "pandas":
            from labkit.reports.quality_engine import build_with_engine

            return build_with_engine(labels, gold, items, guidelines, engine=choice.name, memory_limit=memory_limit,
                                     temp_dir=temp_dir, since=since, until=until, task=task, slice=slice,
                                     validate=validate, n_boot=n_boot, adjudication_threshold=adjudication_threshold,
                                     min_evidence=min_evidence, max_people=max_people, pseudonym=pseudonym)

    P = pseudonym or Pseudonyms()
    p = load_program(labels, gold, items, guidelines, since=since, until=until, task=task, slice=slice)
    vol = volume(p)
    cyc = cycle_times(p)
    val = validation_summary(p, guidelines) if validate else {"available": False,
                                                              "reason": "turned off (parameter validate)"}
    agr = agreement(p, n_boot=n_boot)
    gs = gold_scores(p)
    cons = consensus(p, threshold=adjudication_threshold)
    scored = correctness(p)
    rows, reference = scored if scored is not None else (pd.DataFrame(), "")
    acc_week = None
    if len(rows) and rows["created_at"].notna().any():
        ca = pd.to_datetime(pd.Series(rows["created_at"]), utc=True)
        rows = rows.assign(week=week_of(ca))
        acc_week = accuracy_over(rows.loc[ca.notna().to_numpy()], "week")
    fs = findings(p, vol, agr, gs, cons, val if validate else None, P, acc_week, min_evidence=min_evidence,
                  reference=reference)
    named = []
    if gs is not None:
        s = gs["per_annotator"]
        named = [str(x) for x in s.loc[(s["n"] >= min_evidence) & (s["ci_high"] < gs["pool"]["accuracy"]), "annotator_id"]]
    conf_sec, ece = _confidence_section(rows, reference)
    a = agr["overall"]
    headline = {"judgements": vol["totals"]["judgements"], "items": vol["totals"]["items"],
                "annotators": vol["totals"]["annotators"], "alpha": _num(a.value), "alpha_ci_low": _num(a.ci_low),
                "alpha_ci_high": _num(a.ci_high), "gold_accuracy": _num(gs["pool"]["accuracy"]) if gs else None,
                "gold_items": gs["items"] if gs else 0, "adjudication_queue": int(len(cons["queue"])),
                "validation_gate": (val["gate"] if val.get("available") else None), "ece": _num(ece),
                "consensus_ece_on_gold": _num(cons["reliability"]["ece"]) if cons.get("reliability") else None,
                "reference": reference, "task": p.task}
    tiles = {"human judgements": vol["totals"]["judgements"], "items": vol["totals"]["items"],
             "annotators": vol["totals"]["annotators"], "agreement (alpha)": _num(a.value),
             "accuracy on gold": f"{gs['pool']['accuracy']:.1%}" if gs else "not available",
             "gold items used": gs["items"] if gs else 0, "to adjudicate": int(len(cons["queue"])),
             "validation gate": ("passed" if val["gate"] else "FAILED") if val.get("available") else "not run"}
    sections = [_volume_section(p, vol, cyc), _validation_section(val), _agreement_section(p, agr),
                _gold_section(p, gs, P, named, min_evidence, max_people), _consensus_section(p, cons), conf_sec,
                _drift_section(p, agr, rows, acc_week, reference)]
    notes = " ".join(p.notes + p.comparison_notes)
    return Report(title="Label quality report", subtitle=(f"Task {p.task!r}. Correctness is measured against {reference}. "
                                                          + notes).strip(),
                  headline=headline, tiles=tiles, findings=fs, sections=sections)
