"""The automation report: model pre-labels audited, the auto-accept plan, and accepted share against error rate
beside the naive fixed threshold. ``build(...) -> Report`` (see :mod:`labkit.reports.model`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from labkit.automation.audit import audit
from labkit.automation.ltt import InsufficientCalibration, fit_policy, min_calibration_size, textbook_policy
from labkit.automation.monitor import audit_sample_size
from labkit.automation.plan import calibration_set, human_of_record, make_plan, model_labels
from labkit.reports.model import Figure, Finding, Report, Section, Table, Text
from labkit.stats.scoring import wilson_interval

__all__ = ["build", "tradeoff"]

TARGETS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4)


def tradeoff(cal: pd.DataFrame, items: pd.DataFrame, delta: float, targets: tuple[float, ...] = TARGETS,
             grouping: str = "auto") -> pd.DataFrame:
    """Per target error: the share of ``items`` each method accepts, and the calibration error of what it accepts.

    Methods: ``ltt`` (this policy), ``textbook`` (one global LTT threshold), ``naive`` (confidence >= 1 - target).
    ``cal_error`` is the error rate on the calibration items the method accepts, with a Wilson 95% interval.
    """
    rows = []
    c, y = cal["confidence"].to_numpy(), cal["correct"].to_numpy()
    for a in targets:
        for method in ("ltt", "textbook", "naive"):
            thr_items: np.ndarray
            if method == "naive":
                acc_cal = c >= 1 - a
                acc_items = items["confidence"].to_numpy() >= 1 - a
            else:
                try:
                    pol = (fit_policy(c, y, target_error=a, delta=delta, labels=cal["label"].to_numpy(),
                                      slices=cal["slice"].to_numpy(), grouping=grouping) if method == "ltt"
                           else textbook_policy(c, y, target_error=a, delta=delta))
                except InsufficientCalibration:
                    rows.append({"target_error": a, "method": method, "accepted_share": math.nan, "cal_accepted": 0,
                                 "cal_error": math.nan, "cal_ci_low": math.nan, "cal_ci_high": math.nan,
                                 "guaranteed": False})
                    continue
                acc_cal = pol.accept(c, cal["label"].to_numpy(), cal["slice"].to_numpy())
                thr_items = pol.threshold_of(items["label"].to_numpy(), items["slice"].to_numpy(), len(items))
                with np.errstate(invalid="ignore"):
                    acc_items = items["confidence"].to_numpy() >= thr_items
            n, k = int(acc_cal.sum()), int((~y[acc_cal]).sum()) if acc_cal.any() else 0
            lo, hi = wilson_interval(k, n) if n else (math.nan, math.nan)
            rows.append({"target_error": a, "method": method, "accepted_share": float(np.mean(acc_items)),
                         "cal_accepted": n, "cal_error": k / n if n else math.nan, "cal_ci_low": float(lo),
                         "cal_ci_high": float(hi), "guaranteed": method != "naive"})
    return pd.DataFrame(rows)


def _tradeoff_fig(t: pd.DataFrame) -> Any:
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    style = {"ltt": ("#1f5f99", "o", "Learn-then-Test (this plan)"), "textbook": ("#7a7a7a", "s", "textbook (one global LTT threshold)"),
             "naive": ("#b5472b", "^", "naive: confidence >= 1 - target")}
    for m, (col, mk, lab) in style.items():
        d = t[t["method"] == m]
        a1.plot(d["target_error"], d["accepted_share"].fillna(0), marker=mk, color=col, label=lab)
        dd = d.dropna(subset=["cal_error"])
        a2.errorbar(dd["target_error"], dd["cal_error"], yerr=[np.maximum(dd["cal_error"] - dd["cal_ci_low"], 0), np.maximum(dd["cal_ci_high"] - dd["cal_error"], 0)],
                    marker=mk, color=col, capsize=3, linestyle="none", label=lab)
    lim = float(t["target_error"].max()) * 1.05
    a2.plot([0, lim], [0, lim], color="#333", lw=0.8, ls="--", label="error = target")
    a1.set(xlabel="target error rate", ylabel="share of model labels auto-accepted", title="Accepted share", ylim=(0, 1))
    a2.set(xlabel="target error rate", ylabel="error of accepted calibration items", title="Error of what is accepted")
    a1.legend(fontsize=8, loc="upper left")
    a2.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def _reliability_fig(rel: pd.DataFrame) -> Any:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    d = rel[rel["n"] > 0]
    ax.plot([0, 1], [0, 1], ls="--", color="#333", lw=0.8, label="perfectly calibrated")
    ax.plot(d["mean_confidence"], d["accuracy"], marker="o", color="#1f5f99", label="model pre-labels")
    for _, r in d.iterrows():
        ax.annotate(str(int(r["n"])), (r["mean_confidence"], r["accuracy"]), fontsize=7, xytext=(3, -9), textcoords="offset points")
    ax.set(xlabel="stated confidence", ylabel="accuracy against the reference", xlim=(0, 1), ylim=(0, 1),
           title="Reliability of the model's confidence")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


_PCT = "{:.1%}"
_F3 = "{:.3f}"


def build(labels: str = "sample/label_studio_export.json:sample/labels.csv", gold: str = "sample/gold.csv",
          calibration: str = "", target_error: float = 0.1, delta: float = 0.1, grouping: str = "auto",
          task: str = "", table: pd.DataFrame | None = None, gold_table: pd.DataFrame | None = None,
          guidelines: str = "") -> Report:
    """Build the automation report (``table``/``gold_table`` given directly skip reading files).

    ``guidelines``: a guidelines folder; with it, labels made under older guideline versions are carried to the
    gold's version (else the newest) first, so a renamed label is not counted as the model's or the people's
    error (:func:`labkit.guidelines.migrate.in_common_terms`)."""
    from labkit.io import load_labels
    from labkit.schema import read_gold

    t = load_labels(labels) if table is None else table
    g = (read_gold(gold) if gold else None) if gold_table is None else gold_table
    cg = read_gold(calibration) if calibration else g
    terms: list[str] = []
    if guidelines:
        from labkit.guidelines.migrate import in_common_terms
        from labkit.guidelines.model import Guidelines

        t, terms = in_common_terms(t, cg if cg is not None else g, Guidelines.load(guidelines))
    tk = task or None
    rep = Report(title="Automation: model pre-labels audited, auto-accepted only where the error rate is guaranteed",
                 subtitle=f"target error {target_error:g}, delta {delta:g}, grouping {grouping}")
    a = audit(t, g, task=tk)
    o = a.overall
    rep.headline.update({"model_labels": o["n_model_labels"], "model_accuracy": round(o["accuracy"], 4),
                         "model_ece": round(o["ece"], 4), "override_rate": None if math.isnan(o["override_rate"]) else round(o["override_rate"], 4)})
    # ---- plan
    sec = Section("Auto-accept plan", intro="Thresholds fitted on the calibration items by Learn-then-Test (fixed-sequence "
                  "testing down a grid of confidence thresholds, exact binomial p-values). A human label always wins.")
    for n in terms:
        sec.blocks.append(Text(n, note=True))
    hum = human_of_record(t)
    if cg is None:
        sec.unavailable = "No gold / calibration file: no plan can be certified."
        cal = None
    else:
        cal = calibration_set(t, cg, task=tk)
        try:
            plan, pol, base = make_plan(t, cg, target_error=target_error, delta=delta, grouping=grouping, task=tk, human=hum)
        except InsufficientCalibration as exc:
            sec.unavailable = str(exc)
            rep.findings.append(Finding(f"No plan: {exc}", "warning"))
        else:
            share = float(plan["accepted"].mean())
            rep.headline.update({"accepted_share": round(share, 4), "policy_id": pol.policy_id})
            sec.blocks.append(Text(pol.guarantee))
            th = pol.groups.assign(threshold=pol.groups["threshold"].replace(np.inf, np.nan))
            sec.blocks.append(Table(th, caption=f"Thresholds per {pol.scheme if pol.scheme != 'global' else 'group'} "
                                    "(blank: never auto-accepted)", formats={"threshold": _F3, "p_value": "{:.3g}", "delta": "{:.3g}"}))
            sec.blocks.append(Table(pol.candidates, caption="Candidate schemes (delta split between them; the one "
                                    "accepting most calibration items is used)", formats={"calibration_accepted_share": _PCT, "delta": "{:.3g}"}))
            counts = plan["final_source"].value_counts().rename_axis("final label from").reset_index(name="items")
            sec.blocks.append(Table(counts, caption="Where each model-labelled item's final label comes from "
                                    "(queue: routed to people)"))
            sec.blocks.append(Table(plan.head(15), caption="The plan (first rows): provenance per model label",
                                    formats={"confidence": _F3, "threshold": _F3}))
            if share == 0:
                rep.findings.append(Finding(
                    f"Nothing can be auto-accepted at error {target_error:g}: on the {len(cal)} calibration items the model "
                    f"is right {cal['correct'].mean():.0%} of the time and no confidence threshold certifies the target "
                    f"at delta {delta:g}. Every model label goes to people.", "warning"))
            else:
                rep.findings.append(Finding(f"{share:.1%} of model labels can skip review with error <= {target_error:g} "
                                            f"(probability >= {1 - delta:.0%}).", "ok"))
            rep.metrics_extra["spot_checks_per_batch"] = audit_sample_size(target_error, delta)
    rep.sections.append(sec)
    # ---- trade-off
    sec2 = Section("Accepted share against error rate", intro="For each target error: what this policy, the textbook "
                   "method and the naive threshold (accept when confidence >= 1 - target) would accept, and the error "
                   "rate of what they accept on the calibration items (Wilson 95%). The naive threshold carries no guarantee.")
    if cal is None or cal.empty:
        sec2.unavailable = "No calibration items with a model label."
    else:
        items = model_labels(t)
        if tk:
            items = items[items["task"] == tk]
        tr = tradeoff(cal, items, delta, grouping=grouping)
        sec2.blocks.append(Figure(lambda: _tradeoff_fig(tr), alt="Accepted share and error of accepted calibration items "
                                  "per target error, for Learn-then-Test, the textbook method and the naive threshold"))
        sec2.blocks.append(Table(tr, formats={"accepted_share": _PCT, "cal_error": _PCT, "cal_ci_low": _PCT, "cal_ci_high": _PCT}))
        nv = tr[(tr["method"] == "naive") & (tr["cal_ci_low"] > tr["target_error"])]
        if len(nv):
            rep.findings.append(Finding("The naive threshold breaks its target on the calibration items at target(s) "
                                        + ", ".join(f"{x:g}" for x in nv["target_error"]) + " (Wilson interval above the target).", "warning"))
        sec2.blocks.append(Text(f"Smallest calibration set that could certify {target_error:g} at delta {delta:g}: "
                                f"{min_calibration_size(target_error, delta)} accepted items, all correct; each group "
                                "of a per-label or per-slice scheme needs that many (more with the split delta).", note=True))
    rep.sections.append(sec2)
    # ---- audit
    sec3 = Section("Audit of model pre-labels", intro="Accuracy against the best reference each item has (gold, "
                   "then review or adjudication, then the consensus model), Wilson 95% intervals; override rate = share "
                   "of model labels a reviewer or adjudicator changed; the human pool on the same items.")
    ov = pd.DataFrame([{k: v for k, v in o.items() if k != "references"}])
    sec3.blocks.append(Table(ov, caption="Overall (references: " + ", ".join(f"{k} {v}" for k, v in o["references"].items()) + ")",
                             formats={c: _F3 for c in ("accuracy", "ci_low", "ci_high", "ece", "brier", "mean_confidence",
                                                       "override_rate", "human_accuracy")}))
    sec3.blocks.append(Figure(lambda: _reliability_fig(a.reliability), alt="Reliability diagram: accuracy per confidence bin"))
    fm = {c: _F3 for c in ("accuracy", "ci_low", "ci_high", "mean_confidence", "ece", "override_rate", "human_accuracy",
                           "human_ci_low", "human_ci_high")}
    for key, tb in a.by.items():
        sec3.blocks.append(Table(tb, caption=f"By {key.replace('_', ' ')}", formats=fm))
        worse = tb[tb["verdict"] == "model worse"]
        if key in ("label", "slice") and len(worse):
            rep.findings.append(Finding(f"The model is worse than the human pool on {key} "
                                        + ", ".join(worse[key].astype(str)) + " (intervals do not overlap).", "info"))
    if "model_version" not in a.by:
        sec3.blocks.append(Text("Model version: not available.", note=True))
    for n in a.notes:
        sec3.blocks.append(Text(n, note=True))
    rep.sections.append(sec3)
    # ---- monitoring
    sec4 = Section("Monitoring new batches")
    n0 = audit_sample_size(target_error, delta)
    n1 = audit_sample_size(target_error, delta, expected_error=target_error / 2)
    sec4.blocks.append(Text(f"Spot-check {n0} auto-accepted items per batch: zero errors among them certify an error rate "
                            f"<= {target_error:g} at delta {delta:g}; if the true error is half the target, {n1} checks "
                            "certify it with 80% power. `labkit.automation.monitor.spot_check` raises the alarm when the "
                            "checked errors contradict the guarantee (one-sided exact binomial test)."))
    rep.sections.append(sec4)
    return rep
