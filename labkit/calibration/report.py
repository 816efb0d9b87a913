"""What ``notebooks/calibration_report.ipynb`` shows, computed here so the notebook stays thin.

:func:`report_data` turns a session (and the program's labels and gold) into display-ready tables
with participants already pseudonymized, the key findings as sentences, and the headline metrics the
reports runner collects. Matplotlib is imported only by :func:`plot_accuracy`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from labkit.calibration.model import CalibrationSession
from labkit.calibration.summary import before_after


@dataclass
class ReportData:
    session: dict[str, Any]
    accuracy_session: pd.DataFrame
    agreement: pd.DataFrame
    accuracy_followup: pd.DataFrame
    followup_note: str
    proposals: pd.DataFrame
    ranked: pd.DataFrame
    findings: list[tuple[str, bool]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)


def _wide(acc: pd.DataFrame) -> pd.DataFrame:
    """participant rows, before/after accuracy with intervals as columns, and the change."""
    if acc.empty:
        return pd.DataFrame(columns=["participant", "before", "before 95% CI", "n before", "after", "after 95% CI",
                                     "n after", "change"])
    rows = []
    for who, g in acc.groupby("participant", sort=False):
        b = g[g["when"] == "before"].iloc[0] if (g["when"] == "before").any() else None
        a = g[g["when"] == "after"].iloc[0] if (g["when"] == "after").any() else None

        def ci(r: Any) -> str:
            return "" if r is None or not _ok(r["ci_low"]) else f"{r['ci_low']:.2f}-{r['ci_high']:.2f}"

        rows.append({"participant": who,
                     "before": b["accuracy"] if b is not None else float("nan"), "before 95% CI": ci(b),
                     "n before": int(b["n"]) if b is not None else 0,
                     "after": a["accuracy"] if a is not None else float("nan"), "after 95% CI": ci(a),
                     "n after": int(a["n"]) if a is not None else 0,
                     "change": (a["accuracy"] - b["accuracy"]) if a is not None and b is not None else float("nan")})
    return pd.DataFrame(rows)


def _ok(x: Any) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def diff_in_diff(pb: dict[str, Any], pa: dict[str, Any], ob: dict[str, Any], oa: dict[str, Any],
                 z: float = 1.959964) -> tuple[float, float, float]:
    """``(pa - pb) - (oa - ob)`` for four accuracies (dicts with ``correct`` and ``n``) and its Wald interval.

    The four groups of labels are treated as independent binomial samples, so the variance is
    ``sum p (1 - p) / n`` over the four; an approximation (labels of one person are not independent).

    Examples
    --------
    >>> r = lambda c, n: {"correct": c, "n": n}
    >>> [round(x, 4) for x in diff_in_diff(r(60, 80), r(70, 80), r(50, 80), r(52, 80))]
    [0.1, -0.0909, 0.2909]
    """
    ps = [g["correct"] / g["n"] for g in (pb, pa, ob, oa)]
    did = (ps[1] - ps[0]) - (ps[3] - ps[2])
    se = math.sqrt(sum(p * (1 - p) / g["n"] for p, g in zip(ps, (pb, pa, ob, oa))))
    return did, did - z * se, did + z * se


def report_data(session: str | os.PathLike[str] | CalibrationSession, *, labels: str = "", gold: str = "",
                window_days: float = 14.0, pseudonym: Callable[[str], str] | None = None) -> ReportData:
    """Everything the before/after report shows.

    Parameters
    ----------
    session : path or CalibrationSession
    labels, gold : str
        Label and gold files for the follow-up comparison; empty: the session's own ``sources``.
    window_days : float
        Follow-up windows before the session and after it closed.
    pseudonym : callable, optional
        Maps a participant id to what is shown (default: :class:`labkit.reports.display.Pseudonyms`,
        or the id itself when the session shows names).
    """
    s = session if isinstance(session, CalibrationSession) else CalibrationSession.open(session)
    if pseudonym is None:
        if s.spec.show_names:
            pseudonym = str
        else:
            from labkit.privacy import Pseudonyms

            pseudonym = Pseudonyms()
    ba = before_after(s, labels=labels or None, gold=gold or None, window_days=window_days)
    st = s.state()
    si = pd.DataFrame(ba["session_items"]["accuracy"])
    if len(si):
        si["participant"] = si["participant"].map(pseudonym)
    acc_s = _wide(si)
    ag = [dict(r, scope=r["scope"]) for r in ba["session_items"]["agreement"]]
    fu = ba.get("followup")
    acc_f = pd.DataFrame()
    note = ""
    if fu:
        af = pd.DataFrame(fu["accuracy"])
        people = af["group"] == "participant"
        af.loc[people, "participant"] = af.loc[people, "participant"].map(pseudonym)
        acc_f = _wide(af[people])
        groups = _wide(af[~people])
        acc_f = pd.concat([groups, acc_f], ignore_index=True)
        ag += fu["agreement"]
        note = (f"Follow-up: labels on gold items (session items left out) from {fu['before'][0][:10]} to "
                f"{fu['before'][1][:10]} (before) and from {fu['after'][0][:10]} to {fu['after'][1][:10]} (after).")
    else:
        note = f"No follow-up comparison: {ba.get('followup_missing', 'no data')}."
    agree = pd.DataFrame([{"scope": r["scope"], "when": r["when"], "alpha": r["alpha"],
                           "95% CI": f"{r['ci_low']:.2f} to {r['ci_high']:.2f}" if _ok(r["ci_low"]) else "",
                           "Fleiss kappa": r.get("kappa", float("nan")),
                           "items (2+ answers)": r["items"], "judgements": r["judgements"]} for r in ag])
    import yaml

    props = []
    for p in s.proposals():
        d = yaml.safe_load(p.read_text(encoding="utf-8"))
        ch = (d.get("changes") or [{}])[0]
        props.append({"proposal": d.get("id"), "label": ch.get("label"), "change": ch.get("op"),
                      "proposed": ch.get("proposed"), "item": (d.get("source") or {}).get("item_id"),
                      "author": pseudonym(str(d.get("author"))),
                      "filed": ("yes" if d.get("filed_as") else
                                f"NOT filed: {d['filing_error']}" if d.get("filing_error") else "kept in the session")})
    ranked = s.ranked_by_disagreement("blind")
    final = s.answers("final")
    refs = dict(zip(ranked["item_id"], ranked["reference"]))
    final_ok = {i: float((g["label"] == refs[i]).mean()) if isinstance(refs.get(i), str) and len(g) else float("nan")
                for i, g in final.groupby("item_id")}
    texts = {it.item_id: it.text for it in s.items}
    ranked = pd.DataFrame({
        "item": ranked["item_id"],
        "text": [(t[:77] + "...") if len(t) > 80 else t for t in ranked["item_id"].map(texts).fillna("")],
        "answers": ranked["answers"], "disagreement": ranked["disagreement"], "most chosen": ranked["top_label"],
        "reference": ranked["reference"].where(ranked["reference"].notna(), ""),
        "correct (blind)": ranked["correct_share"],
        "correct (after)": ranked["item_id"].map(final_ok).astype(float)})
    findings: list[tuple[str, bool]] = []
    metrics: dict[str, Any] = {"session": s.id, "phase": st["phase"], "items": st["items"],
                               "annotators": st["annotators"], "proposals": len(props)}
    for r in ba["session_items"]["agreement"]:
        metrics[f"session_alpha_{r['when']}"] = r["alpha"]
    b, a = (ba["session_items"]["agreement"] + [{}, {}])[:2]
    if _ok(b.get("alpha")) and _ok(a.get("alpha")):
        findings.append((f"On the {st['items']} session items, group agreement (Krippendorff's alpha) went from "
                         f"{b['alpha']:.2f} on blind answers to {a['alpha']:.2f} after discussion.",
                         a["alpha"] < b["alpha"]))
    elif _ok(b.get("alpha")):
        findings.append((f"Blind agreement on the session items: alpha {b['alpha']:.2f} (no answers after discussion).", False))
    if fu:
        grp = {(r["participant"], r["when"]): r for r in fu["accuracy"] if r["group"] != "participant"}
        pb, pa = grp.get(("all participants", "before")), grp.get(("all participants", "after"))
        ob, oa = grp.get(("everyone else", "before")), grp.get(("everyone else", "after"))
        if pb and pa and pb["n"] and pa["n"]:
            metrics.update(followup_accuracy_before=pb["accuracy"], followup_accuracy_after=pa["accuracy"])
            txt = (f"Participants' accuracy on gold went from {pb['accuracy']:.1%} (n={pb['n']}) in the "
                   f"{fu['window_days']:g} days before to {pa['accuracy']:.1%} (n={pa['n']}) in the {fu['window_days']:g} days after")
            if ob and oa and ob["n"] and oa["n"]:
                metrics.update(comparison_accuracy_before=ob["accuracy"], comparison_accuracy_after=oa["accuracy"])
                did, lo, hi = diff_in_diff(pb, pa, ob, oa)
                metrics.update(accuracy_diff_in_diff=did)
                txt += (f"; everyone else went from {ob['accuracy']:.1%} to {oa['accuracy']:.1%} over the same "
                        f"windows (a change in both is not the session's doing). The participants' change minus "
                        f"everyone else's: {did * 100:+.1f} points (approximate 95% interval {lo * 100:+.1f} to "
                        f"{hi * 100:+.1f}).")
            else:
                txt += "."
            findings.append((txt, pa["accuracy"] < pb["accuracy"]))
        else:
            findings.append(("Too few follow-up labels on gold items to compare accuracy before and after.", True))
    if props:
        not_filed = [p for p in props if p["filed"].startswith("NOT filed")]
        findings.append((f"{len(props)} clarification(s) became guideline change proposals"
                         + (f"; {len(not_filed)} could NOT be filed with the guidelines (kept in the session folder): "
                            f"{not_filed[0]['filed'][len('NOT filed: '):]}" if not_filed else "") + ".", bool(not_filed)))
    late = st["late_answers"]
    if late:
        findings.append((f"{late} blind answer(s) arrived after the reveal and are not counted.", True))
    if s.spec.show_names:  # --show-names: raw ids on the page; marked, and the scheduled runner never publishes it
        metrics["shows_names"] = True
        findings.insert(0, (f"NAMES SHOWN: session {s.id} was run with --show-names, so this report lists participants "
                            "by their raw ids with per-person accuracy. It is for the people in the room only: do not "
                            "publish it (`labkit report run` refuses to).", True))
    return ReportData(session={k: st[k] for k in ("session", "task", "guideline_version", "phase", "items",
                                                  "gold_items", "annotators", "blind_answers", "final_answers")},
                      accuracy_session=acc_s, agreement=agree, accuracy_followup=acc_f, followup_note=note,
                      proposals=pd.DataFrame(props), ranked=ranked, findings=findings, metrics=metrics)


def _has_values(d: pd.DataFrame) -> bool:
    """A panel is drawn only with at least one accuracy to show (never an empty chart)."""
    return bool(len(d)) and bool(pd.concat([d["before"], d["after"]]).astype(float).notna().any())


def _points(d: pd.DataFrame) -> pd.DataFrame:
    """The change column in percentage points (shown as "+50 points", not "+50%")."""
    if "change" not in d.columns:
        return d
    return d.assign(change=d["change"].astype(float) * 100).rename(columns={"change": "change (points)"})


def build(session: str, *, labels: str = "", gold: str = "", window_days: float = 14.0,
          pseudonym: Callable[[str], str] | None = None) -> Any:
    """The calibration session report (:class:`labkit.reports.model.Report`) from :func:`report_data`."""
    from labkit.reports.model import Figure, Finding, Report, Section, Table, Text

    data = report_data(session, labels=labels, gold=gold, window_days=window_days, pseudonym=pseudonym)
    s = data.session
    fs = [Finding(t, "warning" if attn else "info") for t, attn in data.findings]
    fmt = {"before": "{:.0%}", "after": "{:.0%}", "change (points)": "{:+.0f} points"}
    acc = Section("Accuracy per participant", intro="Against gold (or the facilitator's decision on items without gold), "
                  "with 95% Wilson intervals. Participants are shown by pseudonym.")
    acc.blocks.append(Table(_points(data.accuracy_session), caption="Session items: blind answers (before) vs after "
                            "discussion", formats=fmt))
    acc.blocks.append(Text(data.followup_note, note=True))
    if _has_values(data.accuracy_followup):
        acc.blocks.append(Table(_points(data.accuracy_followup), caption="Follow-up labels on gold items", formats=fmt))
    else:
        acc.blocks.append(Text("Follow-up labels on gold items: not available.", note=True))
    if _has_values(data.accuracy_session) or _has_values(data.accuracy_followup):
        acc.blocks.append(Figure(lambda: plot_accuracy(data), alt="Accuracy per participant before and after"))
    sections = [
        Section("Group agreement", intro="Krippendorff's alpha (nominal) with a 95% bootstrap interval over items; on the "
                "session items (blind answers vs answers after discussion) and on the participants' own labels in the weeks "
                "before and after.", blocks=[Table(data.agreement, formats={"alpha": "{:.2f}", "Fleiss kappa": "{:.2f}"})]),
        acc,
        Section("Items and proposals", blocks=[
            Table(data.ranked, caption="Session items ranked by blind disagreement",
                  formats={"disagreement": "{:.2f}", "correct (blind)": "{:.0%}", "correct (after)": "{:.0%}"}),
            Table(data.proposals, caption="Guideline change proposals from this session",
                  empty="No clarification was proposed.")]),
    ]
    subtitle = (f"Session {s['session']}: {s['task']} guideline {s['guideline_version']}, phase {s['phase']}, {s['items']} "
                f"items ({s['gold_items']} gold), {s['annotators']} annotators, {s['blind_answers']} blind answers, "
                f"{s['final_answers']} after discussion.")
    m = data.metrics

    def num(k: str, f: str) -> str:
        return f.format(m[k]) if _ok(m.get(k)) else "not available"

    tiles = {"session": m["session"], "phase": m["phase"], "items": m["items"], "participants": m["annotators"],
             "alpha blind": num("session_alpha_before", "{:.2f}"), "alpha after discussion": num("session_alpha_after", "{:.2f}"),
             "follow-up accuracy before": num("followup_accuracy_before", "{:.0%}"),
             "follow-up accuracy after": num("followup_accuracy_after", "{:.0%}"),
             "change minus everyone else's": (f"{m['accuracy_diff_in_diff'] * 100:+.1f} points"
                                              if _ok(m.get("accuracy_diff_in_diff")) else "not available"),
             "proposals": m["proposals"]}
    return Report(title="Calibration session: before and after", subtitle=subtitle, headline=dict(m), tiles=tiles,
                  findings=fs, sections=sections)


def plot_accuracy(data: ReportData) -> Any:
    """Before/after accuracy per participant with intervals (session items and follow-up), one figure."""
    import matplotlib.pyplot as plt

    panels = [("Session items (blind vs after discussion)", data.accuracy_session),
              ("Follow-up labels on gold", data.accuracy_followup)]
    panels = [(t, d) for t, d in panels if _has_values(d)]
    if not panels:
        return None
    fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(5.5 * max(1, len(panels)), 0.35 * max(
        [len(d) for _, d in panels] + [4]) + 1.2), squeeze=False)
    for ax, (title, d) in zip(axes[0], panels):
        y = range(len(d))
        for col, off, color in (("before", -0.15, "#9aa7b5"), ("after", 0.15, "#3b6ea5")):
            vals = d[col].astype(float)
            lo, hi = [], []
            for v, ci in zip(vals, d[f"{col} 95% CI"]):
                if ci:
                    a, b = (float(x) for x in ci.split("-"))
                    lo.append(v - a)
                    hi.append(b - v)
                else:
                    lo.append(0.0)
                    hi.append(0.0)
            ax.errorbar(vals, [i + off for i in y], xerr=[lo, hi], fmt="o", color=color, label=col, capsize=2)
        ax.set_yticks(list(y))
        ax.set_yticklabels(d["participant"])
        ax.invert_yaxis()
        ax.set_xlim(0, 1.02)
        ax.set_xlabel("accuracy (95% Wilson interval)")
        ax.set_title(title, fontsize=10)
        ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return fig
