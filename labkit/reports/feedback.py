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
from labkit.reports.model import Figure, Finding, Quote, Report, Section, SectionProvider, Table, Text
from labkit.reports.quality import Program, accuracy_over, correctness, input_findings, load_program, week_of


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


def compute(p: Program, raw_id: str) -> dict[str, Any]:
    """Everything the feedback page shows for one annotator (the numbers; :func:`build` lays them out)."""
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
        if fb["reference"] == "gold":
            out.append(f"When you are about to choose {e['label']!r}, check whether the item is {e['reference']!r} "
                       f"instead: it happened {e['count']} time(s) on gold items ({e['share']:.0%} of the gold "
                       f"{e['reference']!r} items you saw).{hint}")
        else:
            out.append(f"When you are about to choose {e['label']!r}, check whether the item is {e['reference']!r}: "
                       f"{e['count']} time(s) the other annotators' majority chose {e['reference']!r} where you chose "
                       f"{e['label']!r} ({e['share']:.0%} of those items; the majority can be wrong too).{hint}")
    you_s, pool_s = fb.get("median_duration_you", math.nan), fb.get("median_duration_pool", math.nan)
    if not (math.isnan(you_s) or math.isnan(pool_s)) and you_s < 0.5 * pool_s:
        out.append(f"You take a median {you_s:.1f} s per judgement, against {pool_s:.1f} s for the pool: read the whole "
                   "item before answering; judgements this quick are often flagged as too fast to be careful.")
    sp = fb.get("speed")
    if sp is not None:
        y = sp.loc[(sp["who"] == "you") & (sp["n"] >= 5)].sort_values("order")
        if len(y) >= 2 and y.iloc[0]["accuracy"] + 0.1 < y.iloc[1:]["accuracy"].max():
            out.append(f"Your quickest judgements ({y.iloc[0]['time spent']}) match {_ref_phrase(fb['reference'])} "
                       f"{y.iloc[0]['accuracy']:.0%} of "
                       f"the time, against up to {y.iloc[1:]['accuracy'].max():.0%} when you take longer: slow down on "
                       "items that look obvious.")
    acc = fb.get("accuracy")
    conf = fb.get("confidence_you")
    if acc and acc["you"]["n"] and conf is not None and not math.isnan(conf):
        gap = conf - acc["you"]["accuracy"]
        if gap > 0.15:
            out.append(f"Your stated confidence averages {conf:.0%} while {acc['you']['accuracy']:.0%} of your scored "
                       f"judgements match {_ref_phrase(fb['reference'])}: lower your confidence when an item is borderline, it helps route "
                       "items to review.")
    pl = fb.get("per_label")
    if pl is not None and len(pl):
        weak = pl.loc[(pl["items with this answer"] >= 3)].sort_values("recall").head(1)
        if len(weak) and weak.iloc[0]["recall"] < 0.5:
            w = weak.iloc[0]
            where = "the gold answer" if fb["reference"] == "gold" else "the other annotators' majority answer"
            out.append(f"You recognise {w['label']!r} in {w['recall']:.0%} of the items where it is {where}: "
                       "reread its definition and the examples below.")
    if not out:
        out.append("Nothing stands out: keep doing what you do, and keep reading the guideline changes when a new "
                   "version is released.")
    return out


def _ref_phrase(reference: str) -> str:
    return "gold" if reference == "gold" else reference or "no reference"


#: Extra sections for every feedback page (e.g. a badge section): each provider is called as
#: ``provider(program, raw_id, fb, pseudonym)`` and returns a :class:`~labkit.reports.model.Section`
#: or None. Append to this list from your module, or pass ``extra_sections`` to :func:`build`.
EXTRA_SECTIONS: list[SectionProvider] = []


def _default_sections() -> None:
    from labkit.incentives.report import feedback_provider
    from labkit.reports.whatchanged import what_changed_section
    from labkit.review.feedback import review_feedback_section

    EXTRA_SECTIONS.extend([what_changed_section, feedback_provider, review_feedback_section])


_default_sections()


def _pct(v: Any) -> str:
    return "not available" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.0%}"


def _interval(d: dict[str, Any] | None) -> str:
    from labkit.reports.display import fmt_interval

    return "not available" if not d or not d.get("n") else fmt_interval(d["accuracy"], d["ci_low"], d["ci_high"])


def build(labels: str, annotator: str, gold: str = "", items: str = "", guidelines: str = "", *, since: str = "",
          until: str = "", task: str = "", slice: str = "", pseudonym: Any = None,
          extra_sections: Any = None) -> Report:
    """One annotator's feedback page, addressed to them; everyone else appears only as the pool.

    Parameters
    ----------
    labels, gold, items, guidelines, since, until, task, slice
        See :func:`labkit.reports.quality.load_program` (gold without a ``task`` column applies to
        every task, as in ``labkit score``).
    annotator : str
        The annotator's pseudonym (what the runner passes) or raw id.
    pseudonym : callable, optional
        Id -> shown name (default :class:`labkit.privacy.Pseudonyms`).
    extra_sections : list of providers, optional
        Called as ``provider(program, raw_id, fb, pseudonym)``; each returns a Section or None. Defaults to
        :data:`EXTRA_SECTIONS`.
    """
    from labkit.privacy import Pseudonyms
    from labkit.reports import plots

    P = pseudonym or Pseudonyms()
    p = load_program(labels, gold, items, guidelines, since=since, until=until, task=task, slice=slice)
    raw = resolve_annotator(p, annotator, P)
    me = P(raw)
    fb = compute(p, raw)
    ref = fb["reference"]
    refname = _ref_phrase(ref)
    is_gold = ref == "gold"
    acc, agr = fb["accuracy"], fb["agreement"]
    acc_name = "accuracy on gold" if is_gold else "agreement with the others' majority (no gold)"
    fs: list[Finding] = [Finding(t, "info") for t in tips(fb)]
    fs += [f for f in input_findings(p) if "not available" in f.text or f.text.startswith("Gold:")]
    if not is_gold and p.gold is not None:
        fs.append(Finding("None of your judgements is on a gold item for this task: your results are measured against "
                          "the other annotators' majority, which can be wrong too.", "warning"))
    you = acc["you"] if acc else None
    tiles = {"your judgements": fb["n_judgements"], "items": fb["n_items"],
             f"your {acc_name.split(' (')[0]}": _pct(you["accuracy"]) if you and you["n"] else "not available",
             f"pool {acc_name.split(' (')[0]}": _pct(acc["pool"]["accuracy"]) if acc else "not available",
             "measured against": refname,
             "your median time": ("not available" if math.isnan(fb["median_duration_you"]) else f"{fb['median_duration_you']:.1f} s"),
             "pool median time": ("not available" if math.isnan(fb["median_duration_pool"]) else f"{fb['median_duration_pool']:.1f} s")}
    headline = {"annotator": me, "judgements": fb["n_judgements"],
                "accuracy": (you["accuracy"] if you and you["n"] else None) if is_gold else None,
                "pool_accuracy": (acc["pool"]["accuracy"] if acc else None) if is_gold else None,
                "agreement": agr["you"]["accuracy"] if agr["you"] else None, "reference": refname,
                "scored_judgements": you["n"] if you else 0,
                "top_error": f"{fb['errors'][0]['reference']} -> {fb['errors'][0]['label']}" if fb["errors"] else None}
    sections: list[Section] = []

    # You and the pool
    sec = Section("You and the pool", intro=(
        "Accuracy is measured against gold on the gold items you judged; agreement is how often your label matches "
        "the other annotators' majority on the same item. Intervals are 95% Wilson intervals." if is_gold else
        "There is no gold for your items, so every number here compares you with the other annotators' majority on "
        "the same item (it can be wrong too). Intervals are 95% Wilson intervals."))
    rows = []
    if is_gold and you and you["n"]:
        rows.append({"measure": "accuracy on gold", "you": _interval(you), "your judgements scored": you["n"],
                     "pool": _interval(acc["pool"])})
    if agr["you"]:
        rows.append({"measure": "agreement with the others' majority", "you": _interval(agr["you"]),
                     "your judgements scored": agr["you"]["n"], "pool": _interval(agr["pool"])})
    if rows:
        sec.blocks.append(Table(pd.DataFrame(rows), caption="You against the pool"))
        cmp_rows = []
        for name, d in (("accuracy on gold", acc if is_gold else None), ("agreement", agr)):
            if d and d["you"] and d["you"]["n"]:
                for who in ("you", "pool"):
                    cmp_rows.append({"what": f"{name}: {who}", **{k: d[who][k] for k in ("accuracy", "ci_low", "ci_high")}})
        cmp = pd.DataFrame(cmp_rows)
        sec.blocks.append(Figure(lambda: plots.interval_plot(cmp, "what", "accuracy", title="You against the pool (95% interval)",
                                                             xlabel="share matching the reference", xlim=(0, 1)),
                                 alt="You against the pool"))
    else:
        sec.unavailable = "not available: none of your judgements could be scored (no gold and no overlap with other annotators)"
    sections.append(sec)

    # Where you are strongest
    sec = Section("Where you are strongest")
    pl = fb["per_label"]
    if pl is None or not len(pl):
        sec.unavailable = "not available: none of your judgements could be scored"
    else:
        strong = pl.loc[(pl["items with this answer"] >= 3) & (pl["recall"] >= 0.5)].sort_values("recall", ascending=False)
        if not len(strong):
            sec.blocks.append(Text("No label stands out yet: you match the reference on fewer than half of the scored items "
                                   "for every label with at least 3 of them."))
        else:
            best = strong.iloc[0]
            sec.blocks.append(Text(f"You are strongest on {best['label']!r}: you match {refname} on {best['recall']:.0%} of "
                                   f"the {int(best['items with this answer'])} scored items where {refname} says "
                                   f"{best['label']!r}."))
        col = "items where gold says it" if is_gold else "items where the majority says it"
        sec.blocks.append(Table(pl.sort_values("recall", ascending=False).rename(columns={"items with this answer": col}),
                                caption=f"Your results per label (against {refname})",
                                formats={"recall": "{:.0%}", "precision": "{:.0%}"}))
    sections.append(sec)

    # Errors
    texts = p.items.drop_duplicates("item_id").set_index("item_id")["text"] if p.items is not None else None
    sec = Section("Your most common differences from the reference" if not is_gold else "Your most common errors on gold",
                  intro="Up to three example items each, beside the guideline's definition of the label "
                        f"{'gold gives' if is_gold else 'the majority chose'} and its examples.")
    if not fb["errors"]:
        sec.blocks.append(Text("No errors among your scored judgements." if is_gold else
                               "You always matched the other annotators' majority on your scored judgements."))
    for e in fb["errors"]:
        head = (f"You chose {e['label']!r} where gold is {e['reference']!r} — {e['count']} time(s)" if is_gold else
                f"You chose {e['label']!r} where the other annotators' majority chose {e['reference']!r} — "
                f"{e['count']} time(s)")
        sec.blocks.append(Text(head))
        right, given = e.get("right"), e.get("given")
        if right:
            sec.blocks.append(Quote(right["definition"], heading=f"{e['reference']} (guideline {right['version']})"))
            for x in right["positive"][:3]:
                sec.blocks.append(Quote(x, heading=f"An example of {e['reference']}"))
            for x in right["edge_cases"][:3]:
                sec.blocks.append(Quote(x, heading="Edge case"))
        else:
            sec.blocks.append(Text(f"The guideline text for {e['reference']!r}: not available in this data.", note=True))
        if given:
            sec.blocks.append(Quote(given["definition"], heading=f"{e['label']}, what you chose (guideline {given['version']})"))
        if texts is None:
            sec.blocks.append(Text(f"Items: {', '.join(e['items'])} (item text not available in this data).", note=True))
        else:
            for it in e["items"]:
                t = texts.get(it, None)
                sec.blocks.append(Quote(str(t) if t is not None else "(item text not available in this data)",
                                        heading=f"Item {it}"))
    sections.append(sec)

    # Speed
    sec = Section("Speed and accuracy")
    sp = fb["speed"]
    if sp is None:
        sec.unavailable = "not available: no time spent per judgement in this data"
    else:
        show = sp.pivot_table(index=["order", "time spent"], columns="who", values=["accuracy", "n"], observed=True)
        show.columns = [f"{b}: {a}" for a, b in show.columns]
        show = show.reset_index().drop(columns="order")
        fmts = {c: "{:.0%}" for c in show.columns if c.endswith("accuracy")} | {c: "{:,.0f}" for c in show.columns if c.endswith(": n")}
        sec.blocks.append(Table(show, caption=f"Share matching {refname} by time spent per judgement, in the pool's quartiles",
                                formats=fmts))
        sec.blocks.append(Figure(lambda: _speed_figure(sp, refname), alt=f"Share matching {refname} by time spent"))
    sections.append(sec)

    # Trend
    sec = Section("Trend")
    tr = fb["trend"]
    if tr is None or not (tr["who"] == "you").any():
        sec.unavailable = "not available: no timestamps in this data"
    else:
        sec.blocks.append(Figure(lambda: plots.you_and_pool(tr, title=f"Your weekly share matching {refname}, and the pool's",
                                                            ylabel="share matching"), alt="Your trend per week"))
        y = tr.loc[tr["who"] == "you", ["week", "n", "correct", "accuracy", "ci_low", "ci_high"]]
        sec.blocks.append(Table(y, caption="Your weeks", formats={"accuracy": "{:.0%}", "ci_low": "{:.0%}", "ci_high": "{:.0%}"}))
    sections.append(sec)

    for provider in (EXTRA_SECTIONS if extra_sections is None else extra_sections):
        extra = provider(p, raw, fb, P)
        if extra is not None:
            sections.append(extra)
    notes = " ".join(p.notes + p.comparison_notes)
    return Report(title=f"Feedback for {me} — task {p.task}",
                  subtitle=(f"Feedback for {me}, task {p.task!r}. Your judgements are compared with {refname}. Other annotators appear only as the pool. "
                            + notes).strip(),
                  headline=headline, tiles=tiles, findings=fs, sections=sections, findings_title="Tips for you")


def _speed_figure(sp: pd.DataFrame, refname: str) -> Any:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.6))
    for who, col in (("pool", "#888"), ("you", "#3b6ea5")):
        d = sp.loc[(sp["who"] == who) & (sp["n"] > 0)].sort_values("order")
        ax.errorbar(d["order"] + (0.08 if who == "you" else -0.08), d["accuracy"],
                    yerr=[(d["accuracy"] - d["ci_low"]).clip(lower=0), (d["ci_high"] - d["accuracy"]).clip(lower=0)],
                    fmt="o-", color=col, capsize=3, label=who)
    orders = sorted(sp["order"].unique())
    ax.set_xticks(orders, [sp.loc[sp["order"] == o, "time spent"].iloc[0] for o in orders])
    ax.set_ylim(0, 1)
    ax.set_title(f"Share matching {refname} by time spent (95% interval)")
    ax.set_xlabel("time spent per judgement")
    ax.set_ylabel("share matching")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    return fig
