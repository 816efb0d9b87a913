"""The guideline governance report: ``build(...) -> Report`` over :mod:`labkit.guidelines.report`.

The guideline layer gives the timeline, proposals, retired-version usage and the decision log; this
module (the reports layer, which may use :mod:`labkit.stats`) adds each release's impact on agreement
and accuracy on gold and lays everything out. Every person -- proposal authors, approvers, releasers,
who rejected, who wrote a log entry -- appears only as a pseudonym (their role from governance.yaml
beside it).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from labkit.guidelines.model import Guidelines
from labkit.reports.model import Figure, Finding, Report, Section, Table, Text

__all__ = ["build", "release_impact", "item_bootstrap_accuracy"]


def _human(labels: pd.DataFrame, task: str) -> pd.DataFrame:
    t = labels
    keep = (t["task"].astype(str) == task) & (t["source"].astype(str) == "human") & (t["stage"].astype(str) == "label")
    return t.loc[keep]


def item_bootstrap_accuracy(correct: np.ndarray, item: np.ndarray, *, ci: float = 0.95, n_boot: int = 500,
                            seed: int | None = 0) -> tuple[float, float, float]:
    r"""Pooled accuracy with a percentile bootstrap interval that resamples *items*, not judgements.

    Judgements of one gold item by several annotators are not independent (an easy item is right for
    everyone), so a binomial interval over judgements is too narrow. Resampling items with their
    judgements (a cluster bootstrap; Davison & Hinkley 1997, *Bootstrap Methods and their Application*,
    sec. 3.8, doi:10.1017/CBO9780511802843) keeps that dependence. With per-item correct counts
    :math:`c_i` and judgement counts :math:`n_i`, replicate :math:`b` draws item multiplicities
    :math:`w_{bi} \sim \text{Multinomial}(I, 1/I)` and gives :math:`\sum_i w_{bi} c_i / \sum_i w_{bi} n_i`.

    Parameters
    ----------
    correct : array of bool
        One entry per judgement: whether it matches the gold label.
    item : array
        The judgement's item (any hashable codes).
    ci, n_boot, seed
        Interval level, replicates, ``numpy.random.default_rng`` seed.

    Returns
    -------
    (accuracy, low, high)
        NaN for no judgements.

    Examples
    --------
    >>> acc, lo, hi = item_bootstrap_accuracy(np.array([True, True, False, True]), np.array([1, 1, 2, 3]))
    >>> round(acc, 2), lo <= acc <= hi
    (0.75, True)
    """
    correct = np.asarray(correct, dtype=bool)
    if correct.size == 0:
        return float("nan"), float("nan"), float("nan")
    codes, _ = pd.factorize(pd.Series(np.asarray(item)))
    c = np.bincount(codes, weights=correct).astype(np.float64)
    n = np.bincount(codes).astype(np.float64)
    acc = float(c.sum() / n.sum())
    k = len(n)
    rng = np.random.default_rng(seed)
    reps = np.empty(n_boot)
    step = max(1, min(n_boot, 2_000_000 // max(k, 1)))  # keep the weight matrix small
    for start in range(0, n_boot, step):
        w = rng.multinomial(k, np.full(k, 1.0 / k), size=min(step, n_boot - start)).astype(np.float64)
        reps[start:start + len(w)] = (w @ c) / (w @ n)
    lo, hi = np.quantile(reps, [(1 - ci) / 2, 1 - (1 - ci) / 2])
    return acc, float(lo), float(hi)


def _accuracy(rows: pd.DataFrame, gold: pd.DataFrame, ci: float, n_boot: int, seed: int | None) -> dict[str, Any]:
    g = gold[["item_id", "label"]].astype(str).drop_duplicates("item_id").rename(columns={"label": "gold"})
    j = rows[["item_id", "label"]].astype(str).merge(g, on="item_id", how="inner")
    acc, lo, hi = item_bootstrap_accuracy((j["label"] == j["gold"]).to_numpy(), j["item_id"].to_numpy(),
                                          ci=ci, n_boot=n_boot, seed=seed)
    return {"accuracy": acc, "acc_low": lo, "acc_high": hi,
            "gold_judgements": int(len(j)), "gold_items": int(j["item_id"].nunique())}


def release_impact(labels: pd.DataFrame, guidelines: Guidelines, task: str, gold: pd.DataFrame | None = None, *,
                   ci: float = 0.95, n_boot: int = 500, seed: int = 0) -> pd.DataFrame:
    """Agreement and accuracy before and after each release (one row per release and side).

    Columns: release, side ("before": made under the previous version, "after": under the release),
    version, judgements, items, alpha, alpha_low, alpha_high, accuracy, acc_low, acc_high,
    gold_judgements, unmapped (judgements that could not be carried to the gold's version).

    Accuracy is pooled over judgements; both intervals are bootstraps over items (alpha's from
    :func:`labkit.stats.krippendorff_alpha`, accuracy's from :func:`item_bootstrap_accuracy`), so
    several judgements of one item are not counted as independent evidence.
    """
    from labkit.guidelines.migrate import migrate_labels
    from labkit.stats import krippendorff_alpha
    from labkit.stats.scoring import gold_for_task

    human = _human(labels, task)
    versions = guidelines.versions(task)
    gold_t = None
    gold_version = None
    if gold is not None and len(gold):
        gold_t = gold_for_task(gold, task)  # the rule of labkit score: no task column = every task
        gv = gold_t["guideline_version"].dropna().astype(str).unique() if "guideline_version" in gold_t else []
        gold_version = gv[0] if len(gv) == 1 else versions[-1].version
    rows = []
    cache: dict[str, dict[str, Any]] = {}

    def side(version: str) -> dict[str, Any]:
        if version in cache:
            return cache[version]
        sub = human.loc[human["guideline_version"].astype(str) == version]
        out: dict[str, Any] = {"version": version, "judgements": int(len(sub)), "items": int(sub["item_id"].nunique())}
        if len(sub):
            a = krippendorff_alpha(sub, ci=ci, n_boot=n_boot, seed=seed, task=task)
            out.update(alpha=a.value, alpha_low=a.ci_low, alpha_high=a.ci_high, alpha_note=a.reason)
        else:
            out.update(alpha=float("nan"), alpha_low=float("nan"), alpha_high=float("nan"),
                       alpha_note="no judgements under this version")
        if gold_t is not None and len(sub):
            m = migrate_labels(sub, guidelines, str(gold_version), task=task)
            out.update(_accuracy(m.table, gold_t, ci, n_boot, seed))
            out["unmapped"] = m.counts["flagged"]
        else:
            out.update(accuracy=float("nan"), acc_low=float("nan"), acc_high=float("nan"),
                       gold_judgements=0, gold_items=0, unmapped=0)
        cache[version] = out
        return out

    for prev, v in zip(versions, versions[1:]):
        for name, ver in (("before", prev.version), ("after", v.version)):
            rows.append({"release": v.version, "kind": v.change_kind or "", "side": name, **side(ver)})
    return pd.DataFrame(rows)


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _impact_figure(per: pd.DataFrame) -> Any:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 2.8), sharey=True)
    for ax, (col, lo, hi, name) in zip(axes, [("alpha", "alpha_low", "alpha_high", "agreement (alpha)"),
                                              ("accuracy", "acc_low", "acc_high", "accuracy on gold")]):
        d = per.dropna(subset=[col])
        if not len(d):
            ax.text(0.5, 0.5, f"{name}: not available", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
            continue
        ax.errorbar(range(len(d)), d[col], yerr=[(d[col] - d[lo]).clip(lower=0), (d[hi] - d[col]).clip(lower=0)],
                    fmt="o", capsize=4)
        ax.set_xticks(range(len(d)), [f"under {v}" for v in d["version"]])
        ax.set_title(name)
        ax.set_ylim(0, 1)
    fig.suptitle("Judgements made under each version (95% intervals)")
    return fig


def build(guidelines: str, labels: str = "", gold: str = "", task: str = "", *, n_boot: int = 500, seed: int = 0,
          expect_head: str = "", pseudonym: Any = None) -> Report:
    """The guideline governance report (see the module docstring).

    Parameters
    ----------
    guidelines : guidelines folder (versions, proposals, governance.yaml, decisions.jsonl).
    labels : label exports joined by ``:``; "" leaves out the impact and retired-version sections.
    gold : gold file; "" leaves out accuracy. Without a ``task`` column it applies to every task.
    task : the task; "" takes the task with the most versions.
    n_boot, seed : bootstrap replicates and seed for the intervals.
    expect_head : a log head recorded earlier; when given, the log must still contain it.
    pseudonym : callable, optional; id -> shown name (default :class:`labkit.privacy.Pseudonyms`).
    """
    from labkit.guidelines import log as dlog
    from labkit.guidelines import report as R
    from labkit.guidelines.governance import Governance
    from labkit.privacy import Pseudonyms
    from labkit.reports.display import fmt_interval

    P = pseudonym or Pseudonyms()
    G = Guidelines.load(guidelines)
    gov = Governance.load(guidelines)
    task = task or max(G.tasks, key=lambda t: len(G.versions(t)))

    def who(x: str) -> str:
        roles = gov.members.get(x)
        return P(x) + (f" ({', '.join(roles)})" if roles else "")

    tl = R.timeline(guidelines, task, who=who)
    props = R.proposals_table(guidelines, task, who=who)
    log = R.log_status(guidelines)
    if expect_head:
        v = dlog.verify(guidelines, expect_head=expect_head)
        log.update(ok=v.ok, problem=v.problem, first_bad_line=v.first_bad, text=str(v))
    L = None
    impact = pd.DataFrame()
    retired = pd.DataFrame(columns=["version", "in_force", "judgements", "annotators", "first", "last", "future"])
    fs: list[Finding] = []
    if labels:
        from labkit.io import load_labels
        from labkit.schema import read_gold

        L = load_labels(labels)
        gl = read_gold(gold) if gold else None
        impact = release_impact(L, G, task, gl, n_boot=n_boot, seed=seed)
        retired = R.retired_usage(L, G, task, gov.retire_grace_days)
        if gl is not None and len(impact) and int(impact["gold_judgements"].sum()) == 0:
            fs.append(Finding(f"The gold file has {len(gl):,} rows and none matches a judgement of task {task!r} under "
                              "any released version: accuracy on gold is not available.", "warning"))
    for text, attn in R.findings(tl, impact, retired, props, log):
        fs.append(Finding(text, "critical" if text.startswith("The decision log fails") else "warning" if attn else "info"))
    if log["ok"]:
        fs.append(Finding(f"The decision log verifies: {log['entries']:,} entries, hash chain intact.", "ok"))
    has_time = L is not None and bool(L.loc[L["task"].astype(str) == task, "created_at"].notna().any())

    sections: list[Section] = []
    sec = Section("Version timeline", intro="Each release, newest first: what changed, the semantic-version kind it "
                  "required, who proposed, approved and released it (pseudonyms, with their roles) and why it was made.")
    if not len(tl):
        sec.unavailable = f"not available: no released version of task {task!r}"
    for _, r in tl.iloc[::-1].iterrows():
        sec.blocks.append(Text(f"{task} {r['version']} ({r['kind'] or 'first'}), released "
                               f"{pd.Timestamp(r['released_at']):%Y-%m-%d}: {r['title'] or '(no title)'}"
                               + (f" — proposal {r['proposal']} by {r['author']}" if r["proposal"] else "")
                               + (f", released by {r['released_by']}" if r.get("released_by") else "") + "."))
        sec.blocks.append(Text("Why: " + (r["rationale"] or "not recorded"), note=True))
        sec.blocks.append(Table(pd.DataFrame(r["changes"], columns=["change", "label", "before", "after"]),
                                caption=f"Changes in {r['version']}"))
        sec.blocks.append(Text("Approved by: " + ("; ".join(r["approvals"]) or "no recorded approvals")))
    sections.append(sec)

    sec = Section("Impact of each release on agreement and accuracy", intro=(
        "Human judgements (label stage) made under the previous version against those made under the release. "
        "Agreement is Krippendorff's alpha (nominal) with a bootstrap interval over items; accuracy is against the gold "
        "answers, pooled over judgements, with a bootstrap interval over gold items. Judgements under older versions are "
        "carried to the gold's version with the releases' migration maps first; those that cannot be carried are counted "
        "as unmapped and not scored. The two sides also differ in time, so a difference is an association with the "
        "release, not proof that the release caused it."))
    if L is None:
        sec.unavailable = "not available: no labels given (parameter labels)"
    elif not len(impact):
        sec.unavailable = "not available: only one version of this task"
    else:
        shown = impact.assign(
            agreement=[fmt_interval(a, lo, hi) for a, lo, hi in zip(impact["alpha"], impact["alpha_low"], impact["alpha_high"])],
            accuracy_on_gold=[fmt_interval(a, lo, hi) if np.isfinite(a) else "not available"
                              for a, lo, hi in zip(impact["accuracy"], impact["acc_low"], impact["acc_high"])],
        )[["release", "kind", "side", "version", "judgements", "items", "agreement", "gold_judgements", "accuracy_on_gold",
           "unmapped"]]
        sec.blocks.append(Table(shown.rename(columns={"agreement": "alpha [95% interval]",
                                                      "accuracy_on_gold": "accuracy on gold [95% interval]",
                                                      "gold_judgements": "judgements on gold items",
                                                      "unmapped": "unmapped (not scored)"}),
                                caption="Before and after each release"))
        per = impact.drop_duplicates("version")
        if per["alpha"].notna().any() or per["accuracy"].notna().any():
            sec.blocks.append(Figure(lambda: _impact_figure(per), alt="Agreement and accuracy under each version"))
    sections.append(sec)

    sec = Section("Judgements still made under retired versions", intro=(
        "Judgements whose guideline_version had been superseded for more than the grace period of governance.yaml "
        f"(retire_grace_days = {gov.retire_grace_days}) when they were made: the annotator was working from an old guideline."))
    if L is None:
        sec.unavailable = "not available: no labels given (parameter labels)"
    elif not has_time:
        sec.unavailable = "not available: the labels carry no timestamps, so when a judgement was made is unknown"
    elif not len(retired):
        sec.blocks.append(Text(f"None: every timestamped judgement was made under the version in force (grace "
                               f"{gov.retire_grace_days} days)."))
    else:
        sec.blocks.append(Table(retired.rename(columns={"version": "made under", "in_force": "version in force",
                                                        "future": "dated in the future"}),
                                caption=f"Judgements under a version retired more than {gov.retire_grace_days} days earlier"))
        by = R.retired_by_annotator(L, G, task, gov.retire_grace_days)
        by["annotator_id"] = by["annotator_id"].map(P)
        sec.blocks.append(Table(by.rename(columns={"annotator_id": "annotator (pseudonym)"}),
                                caption="By annotator: who needs the new guideline", max_rows=20))
    sections.append(sec)

    sec = Section("Proposals", intro="Open proposals with the approvals they still need (the author's own approval never "
                  "counts; one person fills one role), then the closed ones.")
    if not len(props):
        sec.blocks.append(Text("No proposals filed."))
    else:
        sec.blocks.append(Table(props.loc[props["state"] == "open", ["id", "kind", "base", "next", "title", "author", "created",
                                                                   "source", "approved by", "missing", "rationale"]],
                                caption="Open proposals", empty="No open proposals."))
        sec.blocks.append(Table(props.loc[props["state"] != "open", ["id", "state", "kind", "base", "next", "title", "author",
                                                                   "approved by", "rejected"]],
                                caption="Released and rejected proposals", empty="No closed proposals."))
    sections.append(sec)

    sec = Section("Decision log", intro="decisions.jsonl is append-only and hash-chained: each entry holds the SHA-256 of "
                  "the one before, and each released version records the log entry of its release. Verification fails on "
                  "any edited, removed or reordered entry, on entries cut after a release, and on a released version or a "
                  "filed proposal edited afterwards.")
    sec.blocks.append(Finding(log["text"], "ok" if log["ok"] else "critical"))
    sec.blocks.append(Table(pd.DataFrame([{"action": k, "entries": v} for k, v in sorted(log["actions"].items())]),
                            caption="Entries by action"))
    entries = dlog.read(guidelines)[-12:] if log["ok"] else []
    if entries:
        sec.blocks.append(Table(pd.DataFrame([{
            "seq": e["seq"], "at (UTC)": e["at"][:16].replace("T", " "), "action": e["action"], "who": who(e["who"]),
            "about": e.get("proposal") or e.get("item_id") or "", "what": e.get("version") or e.get("label") or "",
            "why": e.get("why", ""), "hash": e["hash"][:12]} for e in entries[::-1]]), caption="Latest entries"))
    sections.append(sec)

    last = impact.loc[impact["release"] == impact["release"].iloc[-1]] if len(impact) else impact

    def side(name: str, col: str) -> float | None:
        return _num(last.loc[last["side"] == name, col].iloc[0]) if len(last) else None

    n_open = int((props["state"] == "open").sum()) if len(props) else 0
    n_retired = int(retired["judgements"].sum()) if len(retired) else 0
    headline = {"task": task, "versions": len(tl), "latest_version": tl["version"].iloc[-1] if len(tl) else None,
                "open_proposals": n_open, "log_ok": bool(log["ok"]), "log_entries": log["entries"], "log_head": log["head"],
                "retired_judgements": n_retired if has_time else None,
                "latest_release_alpha_before": side("before", "alpha"), "latest_release_alpha_after": side("after", "alpha"),
                "latest_release_accuracy_before": side("before", "accuracy"),
                "latest_release_accuracy_after": side("after", "accuracy")}
    tiles = {"released versions": len(tl), "latest": headline["latest_version"], "open proposals": n_open,
             "log entries": log["entries"], "log": "intact" if log["ok"] else "BROKEN",
             "judgements under retired versions": n_retired if has_time else "not available"}
    return Report(title="Guideline governance report", subtitle=f"Task {task!r}. People appear only as pseudonyms.",
                  headline=headline, tiles=tiles, findings=fs, sections=sections)
