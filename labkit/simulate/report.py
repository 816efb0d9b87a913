"""The policy-simulation report (``notebooks/policy_simulation.ipynb``), built on the report model.

Compares policies on label accuracy against annotator and reviewer hours, each with a 95% interval over
seeds, states the model's assumptions, and (with gold) how close the simulator came on this program's own
held-out items. Every figure and table says "simulated, fitted on <data> at <date>".
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from labkit.reports.model import Figure, Finding, Report, Section, Table, Text

__all__ = ["build"]


def _stamp(source: str, fitted_at: str) -> str:
    return f"simulated, fitted on {source or 'the given labels'} at {fitted_at or 'an unknown time'}"


def _figure(summary: pd.DataFrame, stamp: str) -> Any:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    hours = summary["annotator_hours"] + summary["reviewer_hours"]
    err = np.vstack([summary["accuracy"] - summary["accuracy_low"], summary["accuracy_high"] - summary["accuracy"]])
    ax.errorbar(hours, summary["accuracy"], yerr=np.nan_to_num(err), fmt="o", capsize=3)
    for h, a, name in zip(hours, summary["accuracy"], summary["policy"]):
        ax.annotate(str(name), (h, a), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set_xlabel("annotator + reviewer hours per run")
    ax.set_ylabel("label accuracy")
    ax.set_title(f"Policies: accuracy against hours ({stamp})", fontsize=9)
    fig.tight_layout()
    return fig


def build(model: str = "", policies: str = "", *, labels: str = "", gold: str = "", guidelines: str = "",
          seeds: int = 20, items: int = 0, task: str = "", check_fidelity: bool = True) -> Report:
    """Build the report from a model file, or fit one on ``labels`` (and ``gold``) when ``model`` is empty."""
    from labkit.errors import ParameterError
    from labkit.simulate.batch import DEFAULT_ITEMS, metrics_of
    from labkit.simulate.engine import run_batch, summarize
    from labkit.simulate.hooks import available_hooks
    from labkit.simulate.model import fit_program, load_model
    from labkit.simulate.policies import load_policies

    if not policies:
        raise ParameterError("policies: give a policies file (YAML; see docs/simulation.md)")
    table = gold_t = None
    if labels:
        from labkit.io.base import load_labels
        from labkit.schema import read_gold

        table = load_labels(labels)
        gold_t = read_gold(gold) if gold else None
        if guidelines and gold_t is not None:
            from labkit.guidelines.migrate import in_gold_terms
            from labkit.guidelines.model import Guidelines

            ts = sorted(table["task"].astype(str).unique())
            table, _ = in_gold_terms(table, gold_t, Guidelines.load(guidelines), task or ts[0])
    if model:
        pm = load_model(model)
    elif table is not None:
        pm = fit_program(table, gold_t, task=task or None, source=labels.split(":")[-1].split("/")[-1])
    else:
        raise ParameterError("give a model file (labkit simulate fit) or labels to fit one on")
    tm = pm.task(task or None)
    pols, file_items = load_policies(policies)
    n = int(items or file_items or DEFAULT_ITEMS)
    runs = run_batch(tm, pols, int(seeds), n, **available_hooks(pols))
    summary = summarize(runs)
    stamp = _stamp(pm.source, pm.fitted_at)
    best = summary.loc[summary["accuracy"].idxmax()]
    cheapest = summary.loc[(summary["annotator_hours"] + summary["reviewer_hours"]).idxmin()]
    findings = [Finding(f"Most accurate: {best['policy']} ({best['accuracy']:.3f}, 95% interval over seeds "
                        f"{best['accuracy_low']:.3f}-{best['accuracy_high']:.3f}); {stamp}.", "info"),
                Finding(f"Fewest hours: {cheapest['policy']} ({cheapest['annotator_hours'] + cheapest['reviewer_hours']:.0f} "
                        f"hours per {n:,} items, accuracy {cheapest['accuracy']:.3f}).", "info")]
    info = tm.info
    assumptions = [f"Durations: {info.get('durations', '')}.", f"Review time: {info.get('review_time', '')}.",
                   f"Drift: {info.get('drift', '')}.",
                   f"Truth of history items: {info.get('n_truth_gold', 0)} from gold, {info.get('n_truth_consensus', 0)} "
                   "from the default consensus model."]
    for p in pols:
        if p.reward is not None:
            assumptions.append(f"{p.name}: reward scheme {p.reward.scheme} assumed to shift skill by "
                               f"{p.reward.skill_shift:+.2f} logit and time by x{p.reward.time_factor:.2f} (an assumption, "
                               "not a measurement: see docs/simulation.md and test it with labkit abtest).")
    for a in assumptions:
        if "assumed" in a:
            findings.append(Finding(a, "warning"))
    show = summary.copy()
    show["accuracy 95% interval"] = [f"{lo:.3f}-{hi:.3f}" for lo, hi in zip(show["accuracy_low"], show["accuracy_high"])]
    show = show[["policy", "accuracy", "accuracy 95% interval", "labels_per_item", "annotator_hours", "reviewer_hours",
                 "pay"]].rename(columns={"labels_per_item": "labels per item", "annotator_hours": "annotator hours",
                                         "reviewer_hours": "reviewer hours"})
    sections = [
        Section("Policies compared", [
            Figure(lambda: _figure(summary, stamp), alt="label accuracy against hours per policy, with 95% intervals",
                   caption=stamp),
            Table(show, caption=f"Per policy, {int(seeds)} seeds of {n:,} items ({stamp})",
                  formats={"accuracy": "{:.3f}", "labels per item": "{:.2f}", "annotator hours": "{:,.0f}",
                           "reviewer hours": "{:,.0f}", "pay": "{:,.2f}"}, max_rows=200)],
            intro="Each policy runs on the same simulated items and annotators for a given seed (common random "
                  "numbers), so differences between policies are not noise from different draws."),
        Section("What the model assumes", [Text(a) for a in assumptions]),
    ]
    fid_metrics: dict[str, Any] = {}
    if check_fidelity and table is not None and gold_t is not None:
        from labkit.simulate.fidelity import check

        r = check(table, gold_t, task=tm.task)
        fid = pd.DataFrame([{"model": k, "mean absolute error (points)": v} for k, v in r["mae_points"].items()])
        ok = r["labkit_better_than_baselines"]
        findings.append(Finding(
            f"Fidelity on this program's held-out gold items: the simulator's majority-vote accuracy at k = 1..{r['k'][-1]} "
            f"labels was off by {r['mae_points']['labkit']:.2f} points on average"
            + (f" (closer than every independence baseline; the best, {r['best_baseline']}, was off by "
               f"{r['best_baseline_points']:.2f})." if ok else
               f"; an independence baseline ({r['best_baseline']}) was off by {r['best_baseline_points']:.2f}: trust "
               "redundancy predictions only within that error."), "ok" if ok else "warning"))
        sections.append(Section("How far to trust it", [Table(fid, formats={"mean absolute error (points)": "{:.2f}"},
                                                              caption=f"Fit on half of {r['n_gold_items']} gold items, "
                                                                      f"{r['splits']} splits ({stamp})")]))
        fid_metrics = {"fidelity_mae_points": r["mae_points"]}
    else:
        sections.append(Section("How far to trust it", unavailable="no gold given: run labkit simulate check with gold"))
    metrics = metrics_of(summary, seeds=int(seeds), n_items=n, source=pm.source, fitted_at=pm.fitted_at, task=tm.task,
                         assumptions={"list": assumptions})
    return Report(title="Policy simulation", subtitle=stamp,
                  headline={"policies": len(pols), "seeds": int(seeds), "items per run": n,
                            "best accuracy": round(float(best["accuracy"]), 4)},
                  findings=findings, sections=sections, metrics_extra={**metrics, **fid_metrics})
