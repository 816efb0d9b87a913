"""What one annotator's feedback page computes: you against the pool, never against a named colleague.

The page is addressed to the annotator ("you") and shows only pooled numbers for everyone else. Every
statistic comes from :mod:`labkit.stats` (scoring against gold, leave-one-out consensus, Wilson
intervals); errors are read from the per-judgement correctness table of
:func:`labkit.reports.quality.correctness`, so "correct" means the same thing on every page.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from labkit.errors import ParameterError
from labkit.reports.quality import Program, accuracy_over, correctness, week_of


def resolve_annotator(p: Program, annotator: str, pseudonym: Any) -> str:
    """The raw id behind ``annotator`` (a pseudonym, or a raw id when run by hand).

    The error never lists other annotators' ids.
    """
    if not annotator:
        raise ParameterError("parameter annotator: give the annotator's pseudonym (A-xxxxxxxx) or id")
    ids = [str(a) for a in p.human["annotator_id"].dropna().unique()]
    if annotator in ids:
        return annotator
    for a in ids:
        if pseudonym(a) == annotator:
            return a
    raise ParameterError(f"parameter annotator: {annotator!r} has no human judgements in task {p.task!r} "
                         f"({len(ids)} annotators do)")


def _wilson(c: float, n: float, ci: float = 0.95) -> tuple[float, float]:
    from labkit.stats.scoring import wilson_interval

    lo, hi = wilson_interval(c, n, ci)
    return float(lo), float(hi)


def _rate(rows: pd.DataFrame) -> dict[str, Any]:
    n, c = int(len(rows)), int(rows["correct"].sum())
    lo, hi = _wilson(c, n) if n else (math.nan, math.nan)
    return {"n": n, "correct": c, "accuracy": c / n if n else math.nan, "ci_low": lo, "ci_high": hi}


def agreement_rates(p: Program, raw_id: str) -> dict[str, Any]:
    """Your agreement with the other annotators' majority (leave-one-out) against the pool's."""
    from labkit.stats.scoring import score_annotators

    s = score_annotators(p.comparable, None, task=p.task)
    s = s.loc[s["n"] > 0]
    you = s.loc[s["annotator_id"] == raw_id]
    n, c = int(s["n"].sum()), int(s["correct"].sum())
    lo, hi = _wilson(c, n) if n else (math.nan, math.nan)
    pool = {"n": n, "correct": c, "accuracy": c / n if n else math.nan, "ci_low": lo, "ci_high": hi}
    if not len(you):
        return {"you": None, "pool": pool}
    r = you.iloc[0]
    return {"you": {"n": int(r["n"]), "correct": int(r["correct"]), "accuracy": float(r["accuracy"]),
                    "ci_low": float(r["ci_low"]), "ci_high": float(r["ci_high"])}, "pool": pool}


def per_label(rows: pd.DataFrame) -> pd.DataFrame:
    """Per reference label, from your scored judgements: how often you gave it right (recall) and how
    often your use of a label was right (precision)."""
    ref = rows.groupby("reference", observed=True)["correct"].agg(["size", "sum"])
    given = rows.groupby("label", observed=True)["correct"].agg(["size", "sum"])
    labels = sorted(set(ref.index) | set(given.index))
    out = pd.DataFrame({"label": labels})
    out["items with this answer"] = [int(ref["size"].get(lab, 0)) for lab in labels]
    out["you got right"] = [int(ref["sum"].get(lab, 0)) for lab in labels]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["recall"] = out["you got right"] / out["items with this answer"].replace(0, np.nan)
        used = np.array([int(given["size"].get(lab, 0)) for lab in labels], dtype=float)
        right = np.array([int(given["sum"].get(lab, 0)) for lab in labels], dtype=float)
        out["times you used it"] = used.astype(int)
        out["precision"] = np.where(used > 0, right / np.where(used > 0, used, 1), np.nan)
    return out


def common_errors(rows: pd.DataFrame, k: int = 3, examples: int = 3) -> list[dict[str, Any]]:
    """Your ``k`` most frequent (right label, your label) confusions, up to ``examples`` items each."""
    wrong = rows.loc[~rows["correct"]]
    if not len(wrong):
        return []
    pairs = wrong.groupby(["reference", "label"], observed=True).size().sort_values(ascending=False, kind="stable")
    out = []
    for (ref, lab), n in pairs.head(k).items():
        items = wrong.loc[(wrong["reference"] == ref) & (wrong["label"] == lab), "item_id"].drop_duplicates()
        out.append({"reference": str(ref), "label": str(lab), "count": int(n),
                    "share": float(n / max((rows["reference"] == ref).sum(), 1)),
                    "items": [str(i) for i in items.head(examples)]})
    return out


def guideline_text(p: Program, label: str, versions: list[str]) -> dict[str, Any] | None:
    """Definition and examples of ``label`` in the most recent of ``versions`` that defines it (else the
    latest version of the task that does)."""
    if p.guidelines is None:
        return None
    from labkit.errors import GuidelineError

    try:
        vs = p.guidelines.versions(p.task)
    except GuidelineError:
        return None
    ordered = [v for v in reversed(vs) if v.version in versions] + list(reversed(vs))
    for v in ordered:
        if label in v.label_names:
            lab = v.label(label)
            return {"version": v.version, "definition": lab.definition, "positive": list(lab.positive_examples),
                    "negative": list(lab.negative_examples), "edge_cases": list(lab.edge_cases)}
    return None


def speed_vs_accuracy(rows: pd.DataFrame, you: pd.DataFrame) -> pd.DataFrame | None:
    """Accuracy by time spent, in the pool's duration quartiles: you against the pool."""
    d = rows.loc[rows["duration_s"].notna() & (rows["duration_s"] > 0)]
    if len(d) < 8:
        return None
    edges = np.unique(np.quantile(d["duration_s"], [0, 0.25, 0.5, 0.75, 1.0]))
    if edges.size < 3:
        return None
    edges[-1] = np.inf
    edges[0] = 0
    names = [f"{edges[i]:.0f}–{edges[i + 1]:.0f} s" if np.isfinite(edges[i + 1]) else f"over {edges[i]:.0f} s"
             for i in range(edges.size - 1)]
    out = []
    for who, frame in (("pool", d), ("you", you.loc[you["duration_s"].notna() & (you["duration_s"] > 0)])):
        b = np.clip(np.searchsorted(edges, frame["duration_s"].to_numpy(), side="right") - 1, 0, len(names) - 1)
        for i, name in enumerate(names):
            sel = frame.loc[b == i]
            r = _rate(sel)
            out.append({"who": who, "time spent": name, "order": i, "median_s": float(sel["duration_s"].median())
                        if len(sel) else math.nan, **r})
    return pd.DataFrame(out)


def trend(rows: pd.DataFrame, you: pd.DataFrame) -> pd.DataFrame | None:
    """Accuracy per week, you and the pool, with Wilson intervals."""
    if not rows["created_at"].notna().any():
        return None
    frames = []
    for who, fr in (("pool", rows), ("you", you)):
        fr = fr.loc[fr["created_at"].notna()]
        if not len(fr):
            continue
        fr = fr.assign(week=week_of(pd.Series(pd.to_datetime(fr["created_at"], utc=True), index=fr.index)))
        a = accuracy_over(fr, "week")
        a["who"] = who
        frames.append(a)
    return pd.concat(frames, ignore_index=True) if frames else None


def build(p: Program, raw_id: str) -> dict[str, Any]:
    """Everything the feedback page shows for one annotator."""
    scored = correctness(p)
    rows, reference = scored if scored is not None else (pd.DataFrame(), "")
    you = rows.loc[rows["annotator_id"] == raw_id]
    yours = p.human.loc[p.human["annotator_id"].astype(str) == raw_id]
    acc = {"you": _rate(you), "pool": _rate(rows)} if len(rows) else None
    errs = common_errors(you)
    versions = [str(v) for v in yours["guideline_version"].dropna().astype(str).value_counts().index]
    for e in errs:
        e["right"] = guideline_text(p, e["reference"], versions)
        e["given"] = guideline_text(p, e["label"], versions)
    return {"reference": reference, "n_judgements": int(len(yours)), "n_items": int(yours["item_id"].nunique()),
            "accuracy": acc, "agreement": agreement_rates(p, raw_id), "per_label": per_label(you) if len(you) else None,
            "errors": errs, "speed": speed_vs_accuracy(rows, you) if len(rows) else None,
            "trend": trend(rows, you) if len(rows) else None, "you_rows": you, "median_duration_you":
            float(yours["duration_s"].median()) if yours["duration_s"].notna().any() else math.nan,
            "median_duration_pool": float(p.human["duration_s"].median()) if p.human["duration_s"].notna().any() else math.nan,
            "confidence_you": float(you["confidence"].mean()) if len(you) and you["confidence"].notna().any() else math.nan}


def tips(fb: dict[str, Any]) -> list[str]:
    """Concrete, actionable sentences derived from the numbers above (addressed to "you")."""
    out: list[str] = []
    for e in fb["errors"][:3]:
        right = e.get("right")
        hint = f" The guideline ({right['version']}) defines {e['reference']!r} as: {right['definition']}" if right else ""
        out.append(f"When you are about to choose {e['label']!r}, check whether the item is {e['reference']!r} "
                   f"instead: it happened {e['count']} time(s) ({e['share']:.0%} of the {e['reference']!r} items you "
                   f"saw).{hint}")
    you_s, pool_s = fb.get("median_duration_you", math.nan), fb.get("median_duration_pool", math.nan)
    if not (math.isnan(you_s) or math.isnan(pool_s)) and you_s < 0.5 * pool_s:
        out.append(f"You take a median {you_s:.1f} s per judgement, against {pool_s:.1f} s for the pool: read the whole "
                   "item before answering; judgements this quick are often flagged as too fast to be careful.")
    sp = fb.get("speed")
    if sp is not None:
        y = sp.loc[(sp["who"] == "you") & (sp["n"] >= 5)].sort_values("order")
        if len(y) >= 2 and y.iloc[0]["accuracy"] + 0.1 < y.iloc[1:]["accuracy"].max():
            out.append(f"Your quickest judgements ({y.iloc[0]['time spent']}) are right {y.iloc[0]['accuracy']:.0%} of "
                       f"the time, against up to {y.iloc[1:]['accuracy'].max():.0%} when you take longer: slow down on "
                       "items that look obvious.")
    acc = fb.get("accuracy")
    conf = fb.get("confidence_you")
    if acc and acc["you"]["n"] and conf is not None and not math.isnan(conf):
        gap = conf - acc["you"]["accuracy"]
        if gap > 0.15:
            out.append(f"Your stated confidence averages {conf:.0%} while {acc['you']['accuracy']:.0%} of your scored "
                       "judgements are right: lower your confidence when an item is borderline, it helps route "
                       "items to review.")
    pl = fb.get("per_label")
    if pl is not None and len(pl):
        weak = pl.loc[(pl["items with this answer"] >= 3)].sort_values("recall").head(1)
        if len(weak) and weak.iloc[0]["recall"] < 0.5:
            w = weak.iloc[0]
            out.append(f"You recognise {w['label']!r} in {w['recall']:.0%} of the items where it is the right answer: "
                       "reread its definition and the examples below.")
    if not out:
        out.append("Nothing stands out: keep doing what you do, and keep reading the guideline changes when a new "
                   "version is released.")
    return out
