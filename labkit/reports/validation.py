"""The label validation report: ``build(...) -> Report`` over :func:`labkit.validation.validate`.

A failed gate (a critical expectation failed) is a *critical* finding, so the run shows red on the
reports index; a failed warning expectation is a warning finding. Annotators appear only as pseudonyms.
The per-annotator evidence grid shows at most :data:`MAX_PANELS` annotators, in the table's order,
with one legend on top.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from labkit.reports.model import Figure, Finding, Report, Section, Table, Text

MAX_PANELS = 12  # panels in the label-distribution grid (the table above lists more)


def _distribution_grid(shares: pd.DataFrame, order: list[str], annotators: list[str]) -> Any:
    import seaborn as sns

    g = sns.catplot(data=shares, y="label", x="share", hue="who", col="annotator", kind="bar", order=order,
                    col_order=annotators, col_wrap=min(3, len(annotators)), height=2.6, aspect=1.3)
    g.set_titles("{col_name}")
    g.set_axis_labels("share of the annotator's judgements", "")
    if g.legend is not None:  # one legend, on top of the grid
        sns.move_legend(g, "lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, title=None, frameon=False)
    g.figure.tight_layout()
    return g.figure


def _duration_figure(pos: pd.DataFrame, floors: dict[str, float]) -> Any:
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(8, 3.2))
    sns.histplot(data=pos, x="duration_s", hue="task", log_scale=True, bins=60, ax=ax, element="step")
    for task in pos["task"].unique():
        floor = floors.get(task, floors.get("*"))
        if floor:
            ax.axvline(floor, ls="--", color="k", lw=1)
    ax.set_xlabel("seconds (log scale)")
    ax.set_title("Time spent per judgement (dashed: speed floor)")
    return fig


def _overlap_figure(ov: pd.DataFrame, k: int) -> Any:
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(6, 2.8))
    sns.countplot(data=ov, x="n_annotators", ax=ax, color="#3b6ea5")
    ax.set_xlabel("distinct annotators per item")
    ax.set_title(f"k = {k}: {(ov['n_annotators'] < k).sum()} item(s) below")
    return fig


def build(labels: str, guidelines: str = "guidelines", suites: str = "", *, sample_rows: int = 10,
          pseudonym: Any = None) -> Report:
    """The validation report for the label exports ``labels`` (joined by ``:``).

    Parameters
    ----------
    labels : label exports.
    guidelines : guideline folder (versions and governance.yaml).
    suites : suite JSON files joined by ``:``; "" uses every ``expectations/*.json``.
    sample_rows : failing rows shown per failed expectation.
    pseudonym : callable, optional; id -> shown name (default :class:`labkit.privacy.Pseudonyms`).
    """
    from labkit.io import load_labels, split_paths
    from labkit.privacy import Pseudonyms
    from labkit.validation import evidence as E
    from labkit.validation import load_suites, validate

    P = pseudonym or Pseudonyms()
    suite_list = load_suites(list(split_paths(suites)) if suites else None)
    table = load_labels(labels)
    rep = validate(table, guidelines, suite_list)
    s = rep.summary()
    fs: list[Finding] = []
    if s["critical_failed"]:
        fs.append(Finding(f"The gate FAILED: critical expectation(s) {', '.join(s['critical_failed'])} failed. These labels "
                          "must not feed a training pipeline as they are.", "critical"))
    else:
        fs.append(Finding("The gate passed: no critical expectation failed.", "ok"))
    if s["warnings_failed"]:
        fs.append(Finding(f"Warnings failed: {', '.join(s['warnings_failed'])} (a human should look).", "warning"))
    if s["not_applicable"]:
        fs.append(Finding(f"{s['not_applicable']} expectation(s) not applicable: the data carry none of the values they "
                          "check (e.g. no guideline_version, no timestamps or durations).", "info"))
    sections: list[Section] = []
    order = {"error": 0, "failed": 1, "passed": 2, "not applicable": 3}
    tab = rep.table().sort_values(["status", "severity"], key=lambda c: c.map(order) if c.name == "status" else c)
    tab = tab[["suite", "expectation", "severity", "status", "n_evaluated", "n_failing"]].rename(
        columns={"n_evaluated": "rows checked", "n_failing": "failing"})
    sections.append(Section("Expectations", intro="One row per expectation, failures first. Why each failed expectation "
                            "exists, and the rule it enforces, is given with its failing rows below.",
                            blocks=[Table(tab, caption="Expectations", max_rows=60)]))
    sec = Section("Failing samples", intro="The first rows of each failed expectation. The complete table is failures.csv "
                  "from labkit validate --out.")
    failed = sorted((o for o in rep.outcomes if o.status in ("failed", "error")), key=lambda o: o.severity != "critical")
    if not failed:
        sec.blocks.append(Text("Every expectation passed or was not applicable.", note=True))
    for o in failed:
        sec.blocks.append(Finding(f"{o.name} ({o.severity}, {o.status}, {o.n_failing:,} failing row(s)). Why: {o.why} "
                                  f"Rule: {o.rule}" + (f" Error: {o.error}" if o.error else ""),
                                  "critical" if o.severity == "critical" else "warning"))
        rows = rep.failing(o.name).head(sample_rows).copy()
        rows["annotator_id"] = rows["annotator_id"].astype(object).map(lambda v: v if pd.isna(v) else P(v))
        sec.blocks.append(Table(rows[["item_id", "annotator_id", "value"]].rename(columns={"annotator_id": "annotator"}),
                                empty="No failing rows (the expectation raised)."))
    sections.append(sec)

    sec = Section("Label distribution per annotator", intro="G-test of each annotator's labels against the rest of the pool "
                  "(Bonferroni over annotators) plus the total variation distance as the effect size; flagged annotators "
                  "shown next to the pool.")
    tests, shares = E.distribution_evidence(table, suite_list)
    if tests.empty:
        sec.unavailable = "not available: no annotator has enough judgements to be tested"
    else:
        shown = tests.head(max(15, MAX_PANELS)).copy()
        shown["annotator_id"] = shown["annotator_id"].map(P)
        sec.blocks.append(Table(shown.rename(columns={"annotator_id": "annotator"}),
                                caption="Most divergent annotators (flagged first; m = annotators tested, p before Bonferroni)",
                                formats={"g": "{:.1f}", "p": "{:.1e}", "tvd": "{:.3f}"}))
        if not shares.empty:
            sh = shares.assign(annotator=shares["annotator_id"].map(P))
            in_table = [a for a in shown["annotator_id"] if a in set(sh["annotator"])]
            panels = in_table[:MAX_PANELS]
            lab_order = (sh[sh["who"] == "rest of pool"].groupby("label")["share"].mean()
                         .sort_values(ascending=False).index.tolist())
            lab_order += sorted(set(sh["label"]) - set(lab_order))
            sub = sh.loc[sh["annotator"].isin(panels)]
            n_flag = len(set(sh["annotator"]))
            sec.blocks.append(Figure(lambda: _distribution_grid(sub, lab_order, panels),
                                     alt="Label shares of flagged annotators against the rest of the pool",
                                     caption=f"The first {len(panels)} of {n_flag} flagged annotators, in the table's order."))
        else:
            sec.blocks.append(Text("No annotator departs from the pool beyond the thresholds.", note=True))
    sections.append(sec)

    sec = Section("Time spent per judgement", intro="Durations per task on a log scale with the speed floor (dashed); below, "
                  "the annotators with judgements under the floor or with a robust z-score beyond the threshold.")
    dur, floors, zmax = E.duration_evidence(table, suite_list)
    if dur.empty:
        sec.unavailable = "not available: no duration_s in this data"
    else:
        pos = dur[dur["duration_s"] > 0]
        if len(pos):
            sec.blocks.append(Figure(lambda: _duration_figure(pos, floors), alt="Time spent per judgement"))
        by = dur.assign(annotator=dur["annotator_id"].map(P)).groupby("annotator").agg(
            judgements=("duration_s", "size"), too_fast=("too_fast", "sum"), outliers=("outlier", "sum"),
            median_s=("duration_s", "median"))
        by = by[(by["too_fast"] > 0) | (by["outliers"] > 0)].sort_values("too_fast", ascending=False)
        sec.blocks.append(Table(by.reset_index(), caption=f"Annotators with too-fast judgements or |robust z| > {zmax}",
                                empty="No annotator has too-fast or outlying judgements."))
    sections.append(sec)

    sec = Section("Overlap", intro="Distinct annotators per item at the labeling stage; items with fewer than k cannot be "
                  "scored for agreement.")
    ov, k = E.overlap_evidence(table, suite_list)
    if ov.empty:
        sec.unavailable = "not available: no rows the overlap expectation looks at"
    else:
        sec.blocks.append(Figure(lambda: _overlap_figure(ov, k), alt="Distinct annotators per item"))
    sections.append(sec)

    tiles = {"gate": s["gate"], "judgements": s["rows"], "items": s["items"], "annotators": s["annotators"],
             "expectations failed": s["failed"], "not applicable": s["not_applicable"], "failing rows": s["failing_rows"]}
    return Report(title="Label validation", subtitle="Great Expectations suites over the label export. A failed critical "
                  "expectation closes the gate. Annotators appear only as pseudonyms.",
                  headline=E.headline_metrics(rep), tiles=tiles, findings=fs, sections=sections)
