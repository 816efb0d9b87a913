"""The review plan report: ``build(...) -> Report`` (rendered by notebooks/review_plan.ipynb).

Shows the errors the queue is expected to catch against reviewer hours, beside random review and a
threshold policy (items whose vote agreement is below a threshold first, the way a fixed routing rule
works); the head of the queue with its evidence; and the spot-check status of each annotator, by pseudonym.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from labkit.reports.model import Figure, Finding, Report, Section, Table, Text

__all__ = ["build", "caught_by_hours"]


def caught_by_hours(queue: pd.DataFrame, hours: list[float]) -> pd.DataFrame:
    """Expected errors caught (sum of p_error over the reviewed items) after each number of hours.

    Three orders over the same items and minutes: the queue, random review (the expectation for as many
    items as the queue reviews: their share of all items times all expected errors) and a threshold policy (lowest vote agreement first,
    ties in queue order).
    """
    p = queue["p_error"].to_numpy(float)
    m = queue["est_minutes"].to_numpy(float)
    total_e = float(p.sum())
    thr = np.lexsort((queue["rank"].to_numpy(), -queue["p_vote"].to_numpy(float)))
    rows = []
    for h in hours:
        budget = 60.0 * h
        q_in = np.cumsum(m) <= budget + 1e-9
        t_in = np.cumsum(m[thr]) <= budget + 1e-9
        rows.append({"hours": h, "items": int(q_in.sum()), "queue": float(p[q_in].sum()),
                     "threshold policy": float(p[thr][t_in].sum()),
                     "random review": total_e * float(q_in.sum()) / max(len(p), 1)})
    return pd.DataFrame(rows)


def build(labels: str, gold: str = "", guidelines: str = "", budget_hours: float = 2.0,
          minutes_per_item: float = 1.0, validation: str = "", costs: str = "", top: int = 20) -> Report:
    """Plan review of ``labels`` and report it.

    Parameters
    ----------
    labels : label file(s) (``:``-joined), anything ``labkit import`` reads.
    gold : gold file; empty for none (then no spot checks and no calibration).
    guidelines : guidelines folder (label definitions in the evidence, ``error_costs``); empty for none. With it,
        every task's judgements are first carried to one guideline version's terms: the gold's, else the newest
        (:func:`labkit.guidelines.migrate.in_common_terms`).
    budget_hours : reviewer hours for the queue.
    minutes_per_item : review minutes per item without review-stage duration history.
    validation, costs : a ``labkit validate --out`` folder and a cost CSV; empty for none.
    top : queued items shown with their evidence.
    """
    from labkit.io import load_labels
    from labkit.reports.display import Pseudonyms
    from labkit.review.audit import calibrate_threshold, spot_check_status
    from labkit.review.evidence import evidence, evidence_frame
    from labkit.review.planner import plan_review, read_costs, read_validation_failures
    from labkit.schema import read_gold

    table = load_labels(labels)
    g = read_gold(gold) if gold else None
    cost_m = None
    gl = None
    terms: list[str] = []
    if guidelines:
        from labkit.guidelines.migrate import in_common_terms
        from labkit.guidelines.model import Guidelines
        from labkit.review.planner import costs_from_guidelines

        gl = Guidelines.load(guidelines)
        cost_m = costs_from_guidelines(gl) or None
        # one guideline version's terms per task: a renamed label is the same label to the consensus, and
        # a judgement made before a rename is not an error against gold in the spot checks
        table, terms = in_common_terms(table, g, gl)
    if costs:  # a cost file wins over the guideline's error_costs, task by task
        cost_m = {**(cost_m or {}), **read_costs(costs)}
    plan = plan_review(table, budget_hours=budget_hours, gold=g, minutes_per_item=minutes_per_item,
                       validation=read_validation_failures(validation) if validation else None, costs=cost_m)
    s = plan.summary()
    ps = Pseudonyms()
    rep = Report(title="Review plan", subtitle=f"{s['items']} items; budget {budget_hours:g} reviewer hours")
    total_h = float(plan.queue["est_minutes"].sum()) / 60.0
    rep.headline = {"items": s["items"], "queued": s["queued"], "reviewer_hours": round(s["queued_minutes"] / 60, 2),
                    "expected_errors_caught": round(s["expected_errors_caught"], 1),
                    "expected_errors_total": round(s["expected_errors_total"], 1)}
    share = s["expected_errors_caught"] / s["expected_errors_total"] if s["expected_errors_total"] else 0.0
    rep.findings.append(Finding(
        f"{budget_hours:g} reviewer hours ({s['queued']} items, {s['queued']/max(s['items'],1):.0%} of them) are "
        f"expected to catch {s['expected_errors_caught']:.0f} of {s['expected_errors_total']:.0f} expected "
        f"consensus errors ({share:.0%}).", "info"))
    if s["critical_check_items"]:
        rep.findings.append(Finding(f"{s['critical_check_items']} items failed a critical check and lead the queue.",
                                    "warning"))
    hours = sorted({round(x, 2) for x in np.linspace(0, max(total_h, 1e-9), 11)} | {float(budget_hours)})
    curve = caught_by_hours(plan.queue, [h for h in hours if h <= total_h + 1e-9])

    def draw() -> Any:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        for col, style in (("queue", "-"), ("threshold policy", "--"), ("random review", ":")):
            ax.plot(curve["hours"], curve[col], style, label=col)
        ax.axvline(budget_hours, color="grey", lw=0.8)
        ax.set_xlabel("reviewer hours")
        ax.set_ylabel("expected errors caught")
        ax.legend(frameon=False)
        fig.tight_layout()
        return fig

    sec = Section("Errors caught against hours", intro=(
        "Expected consensus errors caught (sum of p_error over reviewed items) as reviewer hours grow, for the "
        "queue, a threshold policy (lowest vote agreement first) and random review. The grey line is the budget."))
    sec.blocks.append(Figure(draw, alt="expected errors caught against reviewer hours: queue, threshold policy, random"))
    sec.blocks.append(Table(curve, formats={"hours": "{:.2f}", "queue": "{:.1f}", "threshold policy": "{:.1f}",
                                            "random review": "{:.1f}"}))
    for n in terms:
        sec.blocks.append(Text(n, note=True))
    known = {t: c for t, c in plan.calibration.items() if c.get("known_items")}
    if known:
        def how(c: dict[str, Any]) -> str:
            if str(c.get("weights", "")).startswith("learned"):
                return "ranking weights learned from them, cross-fitted"
            return "p_error calibrated on them" if c.get("calibrated") else "too few errors to calibrate"

        cal = "; ".join(f"{t}: {c['known_errors']} consensus errors on {c['known_items']} gold or reviewed items "
                        f"({how(c)})" for t, c in known.items())
        sec.blocks.append(Text(f"Known labels used: {cal}.", note=True))
    rep.sections.append(sec)

    ev = evidence(plan, table, top=min(top, s["queued"]), guidelines=gl, pseudonyms=ps)
    q = Section("Queue head with evidence", intro="Why each item is in the queue, its votes (pseudonymous) and the "
                                                 "guideline definitions of the labels in question.")
    q.blocks.append(Table(evidence_frame(ev), formats={"p_error": "{:.2f}"}, max_rows=top,
                          empty="Nothing fits the budget."))
    rep.sections.append(q)

    a = Section("Spot checks per annotator", intro=(
        "A CUSUM on each annotator's gold items in time order, with its threshold set by simulation so that a "
        "95%-accurate annotator is flagged with probability at most 4.5% over 2,000 items (power 0.8 to catch "
        "a drop to 85% within 1,000 items at an 8.5% gold rate)."))
    if g is None:
        a.unavailable = "no gold file given"
    else:
        lab = table[(table["stage"].astype(str) == "label") & (table["source"].astype(str) == "human")]
        rate = float(lab["item_id"].astype(str).isin(set(g["item_id"].astype(str))).mean())
        if not 0 < rate < 1:
            a.unavailable = "no gold items among the judgements"
        else:
            d = calibrate_threshold(gold_rate=rate, n_sim=1000, seed=0)
            st = spot_check_status(table, g, d)
            st = st.assign(annotator=st["annotator_id"].map(ps))[
                ["annotator", "n_gold", "n_gold_wrong", "max_statistic", "threshold", "status"]]
            st = st.sort_values(["status", "max_statistic"], ascending=[True, False])
            n_flag = int((st["status"] == "flagged").sum())
            rep.headline["annotators_flagged"] = n_flag
            rep.findings.append(Finding(f"{n_flag} of {len(st)} annotators flagged by the spot checks "
                                        f"(gold rate {rate:.1%}).", "warning" if n_flag else "ok"))
            a.blocks.append(Table(st, formats={"max_statistic": "{:.2f}", "threshold": "{:.2f}"}, max_rows=100))
    rep.sections.append(a)
    return rep
