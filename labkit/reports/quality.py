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
        return self.gold is not None and bool(len(self.gold_for_task))

    @property
    def gold_for_task(self) -> pd.DataFrame:
        if self.gold is None:
            return pd.DataFrame(columns=["item_id", "task", "label"])
        return self.gold.loc[self.gold["task"].astype(str) == self.task]

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
    counts = human["task"].astype(str).value_counts()
    all_tasks = sorted(counts.index[counts > 0])
    if task:
        if task not in all_tasks:
            raise ParameterError(f"parameter task: {task!r} has no human judgements here; tasks: "
                                 f"{', '.join(all_tasks) or 'none'}")
        chosen = task
    else:
        if not len(counts):
            raise InputRefused(str(labels), "no human judgements to report on (after the filters)")
        chosen = str(counts.index[0])
        if len(all_tasks) > 1:
            notes.append(f"{len(all_tasks)} tasks in the labels; this page measures {chosen!r} "
                         "(pass -p task=NAME for another). Agreement per task covers all of them.")
    g = read_gold(gold) if _opt(gold) else None
    it = read_items(items) if _opt(items) else None
    gl = None
    if _opt(guidelines):
        from labkit.guidelines.model import Guidelines

        gl = Guidelines.load(guidelines)
    return Program(labels=table, task=chosen, gold=g, items=it, guidelines=gl, notes=notes, all_tasks=all_tasks)


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
    return {"per_annotator": scores, "pool": {"n": n, "correct": c, "accuracy": c / n if n else math.nan,
                                              "ci_low": float(lo), "ci_high": float(hi)},
            "confusion": confusion(h, g, task=p.task, normalize=True),
            "confusion_counts": confusion(h, g, task=p.task),
            "per_class": per_class(h, g, task=p.task), "top": top_confusions(h, g, k=8, task=p.task)}


def consensus(p: Program, *, threshold: float = 0.7) -> dict[str, Any]:
    """Dawid-Skene consensus with posterior confidence per item, its accuracy on gold, and the
    adjudication queue (confidence below ``threshold``, ties, or consensus differing from gold)."""
    from labkit.stats.consensus import DawidSkene, adjudication_queue, consensus_accuracy

    ds = DawidSkene()
    cons = ds.fit_predict(p.comparable, task=p.task)
    g = p.gold_for_task if p.has_gold else None
    acc = consensus_accuracy(cons, g) if g is not None else None
    queue = adjudication_queue(cons, g, threshold=threshold)
    return {"consensus": cons, "accuracy": acc, "queue": queue, "threshold": threshold,
            "info": cons.attrs.get("dawid_skene", {})}


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


def findings(p: Program, vol: dict[str, Any], agr: dict[str, Any], gold: dict[str, Any] | None,
             cons: dict[str, Any] | None, val: dict[str, Any] | None, pseudonym: Any,
             drift_rows: pd.DataFrame | None = None) -> list[tuple[str, bool]]:
    """Plain sentences: what moved and what needs attention (flag True). Annotators by pseudonym."""
    out: list[tuple[str, bool]] = []
    tot = vol["totals"]
    out.append((f"{tot['judgements']:,} human judgements on {tot['items']:,} items by {tot['annotators']:,} "
                f"annotators in task {p.task!r}.", False))
    if p.has_time:
        ts = p.labels["created_at"]
        future = ts > pd.Timestamp.now(tz="UTC")
        if future.any():
            out.append((f"{int(future.sum()):,} judgement(s) are dated in the future (latest {ts.max():%Y-%m-%d}): a clock "
                        "or export error; the weekly charts show them in their own week and cycle times include them.",
                        True))
    a = agr["overall"]
    if not math.isnan(a.value):
        verdict = ("good" if a.value >= 0.8 else "tentative" if a.value >= 0.667 else "low")
        out.append((f"Agreement (Krippendorff's alpha) is {_f(a.value)} [{_f(a.ci_low)}, {_f(a.ci_high)}], "
                    f"{verdict} by Krippendorff's 0.667/0.8 guide.", a.value < 0.667))
    else:
        out.append((f"Agreement cannot be computed: {a.reason}.", True))
    wk = agr.get("by_week")
    if wk is not None and len(wk.dropna(subset=["value"])) >= 2:
        w = wk.dropna(subset=["value"])
        first, last = w.iloc[0], w.iloc[-1]
        delta = last["value"] - first["value"]
        separated = last["ci_high"] < first["ci_low"] or last["ci_low"] > first["ci_high"]
        if separated:
            out.append((f"Agreement moved from {_f(first['value'])} in the week of {first['week']} to "
                        f"{_f(last['value'])} in the week of {last['week']} (intervals do not overlap).",
                        delta < 0))
        else:
            out.append((f"Agreement in the last week ({_f(last['value'])}) is within the interval of the first "
                        f"({_f(first['value'])}); no clear movement.", False))
    bl = agr.get("by_label")
    if bl is not None and len(bl.dropna(subset=["value"])):
        worst = bl.dropna(subset=["value"]).sort_values("value").iloc[0]
        out.append((f"The label annotators agree on least is {worst['label']!r} "
                    f"(one-vs-rest alpha {_f(worst['value'])}).", worst["value"] < 0.667))
    bv = agr.get("by_version")
    if bv is not None and len(bv.dropna(subset=["value"])) >= 2:
        v = bv.dropna(subset=["value"])
        parts = ", ".join(f"{r['guideline_version']}: {_f(r['value'])}" for _, r in v.iterrows())
        out.append((f"Agreement by guideline version: {parts}.", False))
    if val is not None:
        if not val.get("available"):
            out.append((f"Validation did not run: {val.get('reason')}.", True))
        else:
            failed = val["outcomes"].loc[val["outcomes"]["status"] != "passed"] if len(val["outcomes"]) else []
            if val["gate"] is False:
                out.append((f"Validation gate FAILED: {len(failed)} expectation(s) failed, "
                            f"{val['failures']:,} failing rows.", True))
            elif len(failed):
                out.append((f"Validation: {len(failed)} non-critical expectation(s) failed "
                            f"({val['failures']:,} failing rows); the gate passed.", True))
            else:
                out.append(("Validation: every expectation passed.", False))
    if gold is not None:
        pool = gold["pool"]
        out.append((f"Accuracy on gold is {pool['accuracy']:.1%} [{pool['ci_low']:.1%}, {pool['ci_high']:.1%}] "
                    f"over {pool['n']:,} judgements.", False))
        s = gold["per_annotator"]
        low = s.loc[(s["n"] >= 5) & (s["ci_high"] < pool["accuracy"])].sort_values("accuracy")
        if len(low):
            names = ", ".join(pseudonym(x) for x in low["annotator_id"].head(5))
            more = f" and {len(low) - 5} more" if len(low) > 5 else ""
            out.append((f"{len(low)} annotator(s) are clearly below the pool on gold (interval entirely below "
                        f"{pool['accuracy']:.1%}): {names}{more}.", True))
        top = gold["top"]
        if len(top):
            r = top.iloc[0]
            out.append((f"Most common error: {r['gold']!r} labeled as {r['label']!r} ({int(r['count'])} times, "
                        f"{r['share']:.0%} of gold {r['gold']!r}).", True))
    else:
        out.append(("No gold for this task: accuracy and the confusion matrix are not available.", False))
    if cons is not None:
        q = cons["queue"]
        n_items = len(cons["consensus"])
        out.append((f"{len(q):,} of {n_items:,} items ({len(q) / max(n_items, 1):.0%}) need adjudication "
                    f"(consensus confidence below {cons['threshold']:g}, a tie, or disagreement with gold).",
                    len(q) > 0))
    if drift_rows is not None and len(drift_rows) >= 2:
        d = drift_rows
        first, last = d.iloc[0], d.iloc[-1]
        if last["ci_high"] < first["ci_low"]:
            out.append((f"Accuracy fell from {first['accuracy']:.1%} to {last['accuracy']:.1%} "
                        "between the first and the last week.", True))
        elif last["ci_low"] > first["ci_high"]:
            out.append((f"Accuracy rose from {first['accuracy']:.1%} to {last['accuracy']:.1%} "
                        "between the first and the last week.", False))
    return out


