"""The incentives report (``notebooks/incentives_report.ipynb``) and the feedback page's badges section.

Annotators appear only by pseudonym (:class:`labkit.reports.display.Pseudonyms`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labkit.reports.model import Finding, Report, Section, Table, Text

__all__ = ["build", "feedback_section", "cached_decisions"]


def build(labels: str = "sample/labels.csv", gold: str = "sample/gold.csv",
          credentials: str = "sample/policies/credentials.yaml", rewards: str = "sample/policies/rewards.yaml",
          abtest: str = "sample/policies/abtest.yaml", groups: str = "", group_column: str = "group",
          key: bytes | None = None, guidelines: str = "") -> Report:
    """Scores, credentials, rewards with fairness, and the A/B design, as one pseudonymous report.

    ``guidelines``: a guidelines folder; with it, judgements made under older guideline versions are carried to
    the gold's version (else the newest) first, so a renamed label is neither a gold error nor a second label
    to the consensus (:func:`labkit.guidelines.migrate.in_common_terms`)."""
    from labkit.incentives.abtest import design_effect, mde, power
    from labkit.incentives.credentials import decide, load_policy
    from labkit.incentives.rewards import compute_rewards, fairness_for, load_reward_policy
    from labkit.incentives.scores import annotator_scores, consistency, gold_outcomes, label_skill
    from labkit.reports.display import Pseudonyms
    from labkit.stats.truth import fit_consensus

    P = Pseudonyms(key)
    from labkit.guidelines.migrate import load_in_common_terms

    table, g, terms = load_in_common_terms(labels, gold, guidelines)
    fit = fit_consensus(table)
    scores = annotator_scores(table, g, fit=fit)
    cons = consistency(table, g, fit=fit)
    rep = Report(title="Incentives: sustained accuracy, credentials and rewards",
                 subtitle=f"{scores['annotator_id'].nunique()} annotators, {int(scores['n_judgements'].sum())} human judgements")

    s = Section("Annotator scores", intro="Accuracy from all of each person's work: gold plus the consensus "
                "model's skill, shrunk toward the pool (90% intervals). Consistency is the spread of weekly "
                "scores; active share is the share of weeks since their first in which they worked.")
    show = scores.merge(cons[["task", "annotator_id", "score_sd", "active_share"]], on=["task", "annotator_id"],
                        how="left").sort_values("score", ascending=False)
    s.blocks.append(Table(P.frame(show[["task", "annotator_id", "n_gold", "gold_accuracy", "n_judgements",
                                        "consensus_accuracy", "score", "ci_low", "ci_high", "score_sd",
                                        "active_share"]]),
                          formats={c: "{:.1%}" for c in ("gold_accuracy", "consensus_accuracy", "score", "ci_low",
                                                          "ci_high", "active_share")} | {"score_sd": "{:.3f}"}))
    for n in terms:
        s.blocks.append(Text(n, note=True))
    rep.sections.append(s)

    ls = label_skill(table, fit, gold_outcomes(table, g) if g is not None else None)
    s = Section("Skill per label", intro="Each person's recall on the items whose truth is each label: the "
                "consensus model's confusion (shrunk toward the crowd) combined with their gold on that label, "
                "shrunk toward the pool (90% intervals). A score is these recalls weighted by the task's label mix "
                "(the same weights for everyone); gold on one label says nothing about another.")
    s.blocks.append(Table(P.frame(ls[["task", "annotator_id", "label", "weight", "n_gold", "k_gold",
                                      "consensus_recall", "skill", "ci_low", "ci_high"]]),
                          formats={c: "{:.1%}" for c in ("weight", "consensus_recall", "skill", "ci_low", "ci_high")}))
    rep.sections.append(s)
    weakest = ls[ls["weight"] > 0].sort_values("ci_high").head(1)
    for r in weakest.itertuples(index=False):
        rep.findings.append(Finding(f"Weakest label skill: {P(str(r.annotator_id))} on true label {r.label!r}, "
                                    f"recall {r.skill:.0%} (90% interval {r.ci_low:.0%} to {r.ci_high:.0%})",
                                    "info"))

    dec = pd.DataFrame()
    if credentials:
        dec = decide(table, g, load_policy(credentials), fit=fit)
        s = Section("Credentials", intro="Granted when the lower bound of sustained accuracy clears the level's "
                    "threshold with the minimum evidence; withdrawn only after consecutive bad windows.")
        summ = dec.groupby("credential").agg(annotators=("annotator_id", "size"), granted=("granted", "sum")).reset_index()
        s.blocks.append(Table(summ, caption="Credentials granted"))
        s.blocks.append(Table(P.frame(dec[["annotator_id", "credential", "granted", "lower_bound", "n_gold",
                                           "n_judgements", "reason"]]), formats={"lower_bound": "{:.3f}"}))
        rep.sections.append(s)
        for cred, d in dec.groupby("credential"):
            rep.headline[f"granted {cred}"] = int(d["granted"].sum())

    if rewards:
        pol = load_reward_policy(rewards)
        rw = compute_rewards(table, g, pol)
        per = rw.groupby("annotator_id", as_index=False).agg(n_judgements=("n_judgements", "sum"),
                                                            score=("score", "mean"), total=("total", "sum"))
        per["pay_per_judgement"] = per["total"] / per["n_judgements"].clip(lower=1)
        declared = None
        if groups:
            gd = pd.read_csv(groups, dtype=str)
            declared = gd.set_index("annotator_id")[group_column]
        fair = fairness_for(per, table, declared, value="pay_per_judgement")
        s = Section("Rewards", intro=f"Schemes: {', '.join(sc.name + ' (' + sc.kind + ')' for sc in pol.schemes)}; "
                    f"per {'period' if pol.period == 'all' else {'D': 'day', 'W': 'week', 'M': 'month'}[pol.period]}.")
        s.blocks.append(Table(P.frame(per.sort_values("total", ascending=False)),
                              formats={"score": "{:.1%}", "total": "{:.2f}", "pay_per_judgement": "{:.3f}"},
                              caption="Totals over all periods"))
        last = rw.sort_values("period").groupby("annotator_id").tail(1).head(3)
        for r in last.itertuples(index=False):
            s.blocks.append(Text(f"{P(r.annotator_id)}: {r.statement}", note=True))
        rep.sections.append(s)
        s = Section("Fairness", intro="Gaps in pay per judgement by group, raw and conditional on measured "
                    "accuracy (within accuracy bands). A group paid less only because it is less accurate shows "
                    "an adjusted gap near zero.")
        s.blocks.append(Table(fair, formats={"mean_accuracy": "{:.1%}", "mean_pay_per_judgement": "{:.3f}",
                                             "raw_gap": "{:+.3f}", "adjusted_gap": "{:+.3f}"}))
        rep.sections.append(s)
        worst = float(fair["adjusted_gap"].abs().max()) if len(fair) else 0.0
        mean_pay = float(per["pay_per_judgement"].mean()) if len(per) else 0.0
        rep.headline["total paid"] = round(float(rw["total"].sum()), 2)
        rep.headline["largest adjusted pay gap per judgement"] = round(worst, 4)
        sev = "warning" if mean_pay and worst > 0.1 * mean_pay else "ok"
        rep.findings.append(Finding(f"Largest pay gap per judgement between groups at equal measured accuracy: "
                                    f"{worst:.3f} ({worst / mean_pay:.0%} of the mean)" if mean_pay else
                                    "No pay computed.", sev))  # type: ignore[arg-type]

    if abtest:
        import yaml

        doc: dict[str, Any] = yaml.safe_load(open(abtest, encoding="utf-8")) or {}
        d = doc.get("design") or {}
        if d:
            sd = (float(d["baseline"]) * (1 - float(d["baseline"]))) ** 0.5
            kw = dict(clusters=int(d["clusters"]), mean_size=float(d["mean_size"]), icc=float(d["icc"]),
                      cv=float(d.get("cv", 0)), sd=sd, alpha=float(doc.get("alpha", 0.05)))
            m = mde(**kw)
            rows = [{"quantity": "design effect", "value": design_effect(kw["mean_size"], kw["icc"], kw["cv"])},
                    {"quantity": "minimum detectable effect (80% power)", "value": m}]
            if d.get("effect") is not None:
                pw = power(float(d["effect"]), **kw)
                rows.append({"quantity": f"power for an effect of {float(d['effect']):g}", "value": pw})
                rep.findings.append(Finding(f"A/B test '{doc.get('name', '')}': power {pw:.0%} for an effect of "
                                            f"{float(d['effect']):g} with {kw['clusters']} annotators",
                                            "warning" if pw < 0.8 else "ok"))
            s = Section("A/B test design", intro="Annotators are the unit of assignment; the power accounts for "
                        "clustering and unequal volume (design effect with the volume's CV).")
            s.blocks.append(Table(pd.DataFrame(rows), formats={"value": "{:.3f}"}))
            rep.sections.append(s)
    rep.headline["annotators"] = int(scores["annotator_id"].nunique())
    if len(dec):
        rep.findings.append(Finding(f"{int(dec['granted'].sum())} credentials held across "
                                    f"{dec.loc[dec['granted'], 'annotator_id'].nunique()} annotators", "info"))
    return rep


#: Decisions per (table, gold, policy, tau) content: a report run renders one feedback page per annotator
#: (in one warm kernel, or in one process), and every page needs the same decisions, so the consensus is
#: fitted once per run, not once per page. Small: the last few programs only.
_DECISIONS: dict[tuple[Any, ...], pd.DataFrame] = {}
_DECISIONS_MAX = 4


def _content_key(df: pd.DataFrame | None) -> tuple[Any, ...] | None:
    """A key that is equal for equal tables (values, columns, order), whatever the object; None if unhashable."""
    if df is None:
        return ("none",)
    try:
        h = pd.util.hash_pandas_object(df.reset_index(drop=True), index=False).to_numpy()
    except TypeError:  # unhashable cells (lists, dicts): not cached
        return None
    w = np.arange(1, len(h) + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    return (len(df), tuple(map(str, df.columns)), int(np.bitwise_xor.reduce(h * w)) if len(h) else 0,
            int(h.sum(dtype=np.uint64)) if len(h) else 0)


def cached_decisions(labels: pd.DataFrame, gold: pd.DataFrame | None, policy: str | None, tau: float, *,
                     fit: Any = None) -> pd.DataFrame:
    """:func:`labkit.incentives.credentials.decide` for every annotator, computed once per table content.

    The key is the content of the label and gold tables, the policy file's path and bytes (``None``: one
    accuracy credential at ``tau``), so a page for another annotator of the same program reuses the
    decisions (and the one consensus fit behind them); a changed table or policy is decided afresh.
    """
    from labkit.incentives.credentials import decide, load_policy, threshold_policy

    pol_key: tuple[Any, ...] = ("threshold", float(tau))
    if policy:
        try:
            pol_key = ("policy", str(policy), hashlib.sha256(Path(policy).read_bytes()).hexdigest())
        except OSError:
            pol_key = ("policy", str(policy), "unreadable")  # load_policy below says why
    kl, kg = _content_key(labels), _content_key(gold)
    key = (kl, kg, pol_key)
    hit = _DECISIONS.get(key) if kl is not None and kg is not None else None
    if hit is not None:
        return hit
    pol = load_policy(policy) if policy else threshold_policy(tau)
    dec = decide(labels, gold, pol, fit=fit)
    if kl is None or kg is None:
        return dec
    while len(_DECISIONS) >= _DECISIONS_MAX:
        _DECISIONS.pop(next(iter(_DECISIONS)))
    _DECISIONS[key] = dec
    return dec


def feedback_section(labels: pd.DataFrame, gold: pd.DataFrame | None, annotator_id: str, *,
                     policy: str | None = "sample/policies/credentials.yaml", tau: float = 0.8,
                     fit: Any = None) -> Section:
    """Badges and credential status for one annotator, addressed to them (for the feedback page).

    Parameters
    ----------
    labels, gold : DataFrame
        The label table and gold table (as the feedback page already loads them).
    annotator_id : str
        The real id (the page shows no ids; the section names no one).
    policy : str or None
        Credentials policy file; ``None`` uses one accuracy credential at ``tau``.
    fit : ConsensusFit, optional
        Reuse the page's consensus fit.

    The decisions for the whole program are computed once per table content (:func:`cached_decisions`),
    so pages for every annotator of one program cost one consensus fit.
    """
    dec = cached_decisions(labels, gold, policy, tau, fit=fit)
    mine = dec[dec["annotator_id"] == str(annotator_id)]
    sec = Section("Your credentials", intro="Credentials reward sustained accuracy, not volume: each is granted "
                  "when we are confident your accuracy is at least the level's threshold.")
    if mine.empty:
        sec.unavailable = "no judgements of yours in the period these credentials look at"
        return sec
    for r in mine.itertuples(index=False):
        badge = "held" if r.granted else "not yet"
        sec.blocks.append(Finding(f"{r.credential}: {badge}. {str(r.reason)[0].upper()}{str(r.reason)[1:]}.",
                                  "ok" if r.granted else "info"))
    return sec


def feedback_provider(program: Any, raw_id: str, fb: Any, pseudonym: Any) -> Section | None:
    """The feedback page's credentials section (registered in :data:`labkit.reports.feedback.EXTRA_SECTIONS`).

    Uses the policy file named by ``$LABKIT_CREDENTIALS_POLICY`` when set, else one accuracy credential at 0.8
    with the default evidence rule (``labkit credentials --threshold 0.8``). Needs gold; without it, nothing.
    """
    import os

    if not getattr(program, "has_gold", False):
        return None
    policy = os.environ.get("LABKIT_CREDENTIALS_POLICY") or None
    return feedback_section(program.comparable, program.gold_for_task, raw_id, policy=policy)  # in the gold's guideline terms
