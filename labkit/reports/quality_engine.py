"""The label quality report from a program bigger than memory: every number from reduced tables built
by an out-of-core engine (``build(..., engine="duckdb")``), never the long table.

What the engine returns and the report shows: volume by stage and per week (SQL aggregates), agreement
overall, per task, label, slice, guideline version and week (folded item x label counts, the statistics
in numpy as in memory), accuracy on gold per annotator with the pool and the confusion on gold
(annotator x gold x label counts), and Dawid-Skene consensus with its adjudication queue (posteriors kept
in the engine, the consensus written as Parquet and queried for the queue). Sections that need every
judgement in memory (cycle times per item, calibration of stated confidence, accuracy per week against
a reference, labels carried across guideline versions, the validation suites) say so on the page and
name the in-memory engine or verb that computes them.
"""

from __future__ import annotations

import math
import os
import tempfile
from typing import Any

import numpy as np
import pandas as pd

from labkit.errors import ParameterError
from labkit.reports.model import Finding, Report, Section, Table, Text

OUT_OF_CORE = "not computed out of core"


def _ts_sql(text: str, name: str) -> str | None:
    from labkit.reports.quality import _ts

    t = _ts(text, name)
    return None if t is None else f"TIMESTAMPTZ '{t.isoformat()}'"


def build_with_engine(labels: str, gold: str = "", items: str = "", guidelines: str = "", *, engine: str = "duckdb",
                      memory_limit: str = "", temp_dir: str = "", since: str = "", until: str = "", task: str = "",
                      slice: str = "", validate: bool = True, n_boot: int = 200, adjudication_threshold: float = 0.7,
                      min_evidence: int = 10, max_people: int = 30, pseudonym: Any = None) -> Report:
    """The quality report computed by ``engine`` (``duckdb``) on a Parquet file, folder or glob."""
    from labkit.engines import get_engine, parquet_input
    from labkit.privacy import Pseudonyms
    from labkit.reports.quality import _agreement_section, _num, choose_task, read_items
    from labkit.schema import read_gold
    from labkit.stats import agreement as ag
    from labkit.stats.scoring import gold_for_task, wilson_interval

    if engine != "duckdb":
        raise ParameterError(f"parameter engine: the quality report runs out of core on duckdb; got {engine!r} "
                             "(use engine=pandas for the in-memory report)")
    inp = parquet_input(labels)
    if inp is None:
        raise ParameterError(f"parameter labels: engine={engine} reads Parquet (a file, folder or glob); {labels!r} is "
                             "not Parquet: convert it with `labkit import ... --out labels.parquet`")
    P = pseudonym or Pseudonyms()
    notes: list[str] = []
    cond = []
    lo, hi = _ts_sql(since, "since"), _ts_sql(until, "until")
    if lo:
        cond.append(f"(created_at IS NULL OR created_at >= {lo})")
    if hi:
        cond.append(f"(created_at IS NULL OR created_at < {hi})")
    if lo or hi:
        notes.append(f"Showing from {since or 'the start'} until {until or 'now'} (judgements without a timestamp are "
                     "kept).")
    eng = get_engine(engine, memory_limit=memory_limit or None, temp_dir=temp_dir or None)
    try:
        if slice:
            sl = eng.query(inp, "SELECT DISTINCT slice FROM {J}")
            present = sorted(str(x) for x in sl["slice"].dropna())
            if slice not in present:
                raise ParameterError(f"parameter slice: {slice!r} is not in the labels; slices: "
                                     f"{', '.join(present) or 'not available in this data'}")
            cond.append(f"slice = {eng._lit(slice)}")
            notes.append(f"Only the slice {slice!r} is shown.")
        if cond:
            eng.row_filter = " AND ".join(cond)
            eng._viewed = None  # re-register the view with the filter
        per_task = eng.query(inp, "SELECT task, COUNT(*) AS n FROM {J} WHERE source = 'human' GROUP BY task")
        chosen, all_tasks = choose_task(per_task.set_index("task")["n"], task, str(labels), notes)
        t = eng._lit(chosen)
        # ------------------------------------------------------------------ volume
        tot = eng.query(inp, f"SELECT SUM(CASE WHEN source = 'human' THEN 1 ELSE 0 END) AS h, "
                             f"SUM(CASE WHEN source = 'model' THEN 1 ELSE 0 END) AS m, "
                             f"COUNT(DISTINCT CASE WHEN source = 'human' THEN item_id END) AS i, "
                             f"COUNT(DISTINCT CASE WHEN source = 'human' THEN annotator_id END) AS a, "
                             f"COUNT(created_at) AS timed FROM {{J}} WHERE task = {t}")
        totals = {"judgements": int(tot["h"].iloc[0] or 0), "model pre-labels": int(tot["m"].iloc[0] or 0),
                  "items": int(tot["i"].iloc[0] or 0), "annotators": int(tot["a"].iloc[0] or 0)}
        has_time = int(tot["timed"].iloc[0] or 0) > 0
        by_stage = eng.query(inp, f"SELECT COALESCE(stage, '(none)') AS stage, COUNT(*) AS judgements, "
                                  f"COUNT(DISTINCT item_id) AS items, COUNT(DISTINCT annotator_id) AS annotators "
                                  f"FROM {{J}} WHERE task = {t} AND source = 'human' GROUP BY stage ORDER BY stage")
        vol = Section("Volume, throughput and cycle time")
        vol.blocks.append(Table(by_stage, caption="Human judgements by stage"))
        if has_time:
            tp = eng.query(inp, f"SELECT CAST(date_trunc('week', created_at AT TIME ZONE 'UTC') AS DATE) AS week, "
                                f"COUNT(*) AS judgements, COUNT(DISTINCT annotator_id) AS annotators, "
                                f"median(duration_s) AS median_s FROM {{J}} WHERE task = {t} AND source = 'human' "
                                f"AND created_at IS NOT NULL GROUP BY week ORDER BY week")
            tp["per active annotator"] = tp["judgements"] / tp["annotators"]
            vol.blocks.append(Table(tp.rename(columns={"median_s": "median seconds per judgement"}),
                                    caption="Throughput per week"))
        else:
            vol.blocks.append(Text("Judgements per week and throughput: not available (no timestamps in this data).",
                                   note=True))
        vol.blocks.append(Text(f"Cycle time and latency per item: {OUT_OF_CORE} (they need every item's timestamps in "
                               "memory; run the report with engine=pandas on a window with since/until).", note=True))
        # ------------------------------------------------------------------ agreement
        counts = eng.item_label_counts(inp, task=chosen)
        overall = ag.krippendorff_alpha(counts, ci=0.95, n_boot=n_boot, seed=0)
        agr: dict[str, Any] = {"overall": overall}

        def frame(by: str, groups: dict[str, Any]) -> pd.DataFrame:
            rows = []
            for g, c in groups.items():
                r = ag.krippendorff_alpha(c, ci=0.95, n_boot=n_boot, seed=0)
                rows.append({by: g, "value": r.value, "ci_low": r.ci_low, "ci_high": r.ci_high, "n_items": r.n_items,
                             "n_judgements": c.n_judgements, "reason": r.reason})
            return pd.DataFrame(rows, columns=[by, "value", "ci_low", "ci_high", "n_items", "n_judgements", "reason"])

        agr["by_task"] = frame("task", {x: eng.item_label_counts(inp, task=x) for x in all_tasks}) \
            if len(all_tasks) > 1 else None
        m = counts.patterns.sum(axis=1)
        from labkit.stats.counts import ItemLabelCounts

        agr["by_label"] = frame("label", {str(lab): ItemLabelCounts.from_patterns(
            chosen, ["yes", "no"], np.column_stack([counts.patterns[:, j], m - counts.patterns[:, j]]), counts.weight)
            for j, lab in enumerate(counts.labels)})
        present = eng.query(inp, f"SELECT COUNT(slice) AS s, COUNT(guideline_version) AS v FROM {{J}} "
                                 f"WHERE task = {t} AND source = 'human'")
        agr["by_slice"] = frame("slice", eng.item_label_counts_by(inp, "slice", task=chosen)) \
            if int(present["s"].iloc[0] or 0) else None
        agr["by_version"] = frame("guideline_version", eng.item_label_counts_by(inp, "guideline_version", task=chosen)) \
            if int(present["v"].iloc[0] or 0) else None
        wk = None
        if has_time:
            wk = frame("week", eng.item_label_counts_by(
                inp, "CAST(date_trunc('week', created_at AT TIME ZONE 'UTC') AS DATE)", task=chosen))
            wk = wk.loc[wk["week"] != "(none)"].reset_index(drop=True)
        agr["by_week"] = wk
        agr_sec = _agreement_section(None, agr)  # type: ignore[arg-type]  # the section does not read the program
        if wk is not None and len(wk):
            agr_sec.blocks.append(Table(wk.rename(columns={"value": "alpha"}), caption="Agreement per week"))
        # ------------------------------------------------------------------ gold
        g = read_gold(gold) if gold.strip() else None
        gold_sec = Section("Accuracy on gold")
        pool: dict[str, Any] | None = None
        scores = None
        if g is None:
            gold_sec.unavailable = "not available: no gold file given"
        else:
            gt = gold_for_task(g, chosen)
            gc = eng.gold_counts(inp, g, task=chosen, loo=False)
            scored = gc.loc[gc["n_gold"] > 0]
            if not len(gt) or not len(scored):
                gold_sec.unavailable = f"not available: the gold file has no gold item judged in task {chosen!r}"
            else:
                n, c = int(scored["n_gold"].sum()), int(scored["correct_gold"].sum())
                plo, phi = wilson_interval(c, n, 0.95)
                pool = {"n": n, "correct": c, "accuracy": c / n, "ci_low": float(plo), "ci_high": float(phi)}
                lo_a, hi_a = wilson_interval(scored["correct_gold"].to_numpy(float), scored["n_gold"].to_numpy(float), 0.95)
                scores = pd.DataFrame({"annotator": [P(x) for x in scored["annotator_id"]], "annotator_id":
                                       scored["annotator_id"].to_numpy(), "gold judgements": scored["n_gold"].to_numpy(),
                                       "correct": scored["correct_gold"].to_numpy(),
                                       "accuracy": scored["correct_gold"].to_numpy() / scored["n_gold"].to_numpy(),
                                       "ci_low": lo_a, "ci_high": hi_a})
                gold_sec.blocks.append(Text(f"Pool: {pool['accuracy']:.1%} [{pool['ci_low']:.1%}, {pool['ci_high']:.1%}] "
                                            f"over {n:,} judgements (Wilson 95% intervals)."))
                ranked = scores.loc[scores["gold judgements"] >= min_evidence].sort_values("ci_high")
                fmt = {"accuracy": "{:.1%}", "ci_low": "{:.1%}", "ci_high": "{:.1%}"}
                gold_sec.blocks.append(Table(ranked.drop(columns="annotator_id").head(max_people),
                                             caption=f"Accuracy on gold per annotator (at least {min_evidence} gold "
                                                     "judgements), worst upper bound first", formats=fmt))
                conf = _confusion(eng, inp, g, chosen)
                if len(conf):
                    gold_sec.blocks.append(Table(conf, caption="Confusion on gold items (row = gold label, counts)"))
                gold_sec.blocks.append(Text("Labels are compared with gold as given (not carried forward across "
                                            f"guideline versions: {OUT_OF_CORE}).", note=True))
        # ------------------------------------------------------------------ consensus
        cons_sec = Section("Consensus and the adjudication queue",
                           intro="Dawid-Skene consensus over the human judgements, fitted by the engine (posteriors "
                                 "stay in the engine; the consensus table is written as Parquet and queried for the "
                                 "queue). The in-memory report uses labkit's default consensus model instead.")
        tmp = tempfile.mkdtemp(prefix="labkit-report-", dir=temp_dir or None)
        out = os.path.join(tmp, "consensus.parquet")
        gt = gold_for_task(g, chosen) if g is not None else None
        ds = eng.dawid_skene(inp, task=chosen, out=out, threshold=adjudication_threshold, gold=g)
        st = ds.stats
        if "accuracy" in st and st.get("n_gold_items"):
            cons_sec.blocks.append(Text(f"Consensus matches gold on {st['n_correct']:,} of {st['n_gold_items']:,} gold "
                                        f"items ({st['accuracy']:.1%})."))
        hist = eng.query(inp, f"SELECT LEAST(CAST(floor(confidence * 20) AS INTEGER), 19) AS b, COUNT(*) AS items "
                              f"FROM read_parquet({eng._lit(out)}) GROUP BY b ORDER BY b")
        hist["confidence from"] = hist["b"] / 20
        cons_sec.blocks.append(Table(hist[["confidence from", "items"]], caption="Consensus confidence per item "
                                     "(20 bins)", max_rows=20))
        q = eng.query(inp, f"SELECT item_id, label AS consensus, confidence, n_judgements FROM "
                           f"read_parquet({eng._lit(out)}) WHERE confidence < {float(adjudication_threshold)!r} "
                           f"ORDER BY confidence, item_id LIMIT 30")
        n_queue = int(st.get("adjudication_queue", 0))
        cons_sec.blocks.append(Table(q, caption=f"Adjudication queue ({n_queue:,} items, lowest confidence first)",
                                     max_rows=30, empty="No item needs adjudication."))
        cons_sec.blocks.append(Text(f"Dawid-Skene: {ds.n_iter} EM steps, {'converged' if ds.converged else 'not converged'}."
                                    , note=True))
        try:
            os.remove(out)
            os.rmdir(tmp)
        except OSError:
            pass
    finally:
        eng.close()
    val_sec = Section("Validation")
    val_sec.unavailable = ("not run here: the report's validation needs the table in memory; run `labkit validate` "
                           "with --engine for labels at this scale" if validate else "turned off (parameter validate)")
    calib = Section("Calibration of stated confidence")
    calib.unavailable = f"{OUT_OF_CORE} (needs every judgement's correctness; run with engine=pandas on a window)"
    drift = Section("Drift over weeks and guideline versions")
    drift.blocks.append(Text("Agreement per week and per guideline version: in the agreement section above.", note=True))
    drift.blocks.append(Text(f"Accuracy per week and per guideline version against a reference: {OUT_OF_CORE}.", note=True))
    fs = [Finding(f"{totals['judgements']:,} human judgements on {totals['items']:,} items by {totals['annotators']:,} "
                  f"annotators in task {chosen!r}.", "info"),
          Finding(f"Computed out of core by {engine} from reduced tables; cycle times, validation, calibration of stated "
                  "confidence and accuracy drift are not on this page.", "info")]
    a = overall
    if not math.isnan(a.value):
        verdict = "good" if a.value >= 0.8 else "tentative" if a.value >= 0.667 else "low"
        fs.append(Finding(f"Agreement (Krippendorff's alpha) is {a.value:.2f} [{a.ci_low:.2f}, {a.ci_high:.2f}], {verdict} "
                          "by Krippendorff's 0.667/0.8 guide.",
                          "warning" if a.value < 0.667 else "ok" if a.value >= 0.8 else "info"))
    else:
        fs.append(Finding(f"Agreement cannot be computed: {a.reason}.", "warning"))
    bl = agr["by_label"].dropna(subset=["value"])
    if len(bl):
        w = bl.sort_values("value").iloc[0]
        fs.append(Finding(f"The label annotators agree on least is {w['label']!r} (one-vs-rest alpha {w['value']:.2f}).",
                          "warning" if w["value"] < 0.667 else "info"))
    if pool is not None and scores is not None:
        fs.append(Finding(f"Accuracy on gold is {pool['accuracy']:.1%} [{pool['ci_low']:.1%}, {pool['ci_high']:.1%}] over "
                          f"{pool['n']:,} judgements.", "info"))
        low = scores.loc[(scores["gold judgements"] >= min_evidence) & (scores["ci_high"] < pool["accuracy"])]
        if len(low):
            fs.append(Finding(f"{len(low)} annotator(s) with at least {min_evidence} gold judgements are clearly below the "
                              f"pool: {', '.join(low.sort_values('ci_high')['annotator'].head(5))}"
                              f"{' and more' if len(low) > 5 else ''}.", "warning"))
    elif g is None:
        fs.append(Finding("No gold file given: accuracy on gold is not available.", "info"))
    fs.append(Finding(f"{n_queue:,} of {ds.n_items:,} items ({n_queue / max(ds.n_items, 1):.0%}) need adjudication "
                      f"(consensus confidence below {adjudication_threshold:g}"
                      f"{' or consensus different from gold' if gt is not None else ''}).",
                      "warning" if ds.n_items and n_queue / ds.n_items > 0.2 else "info"))
    if items.strip():
        read_items(items)  # checked like the in-memory report; texts are not joined out of core
        notes.append("Item texts are not shown in the queue out of core.")
    if guidelines.strip():
        notes.append("Guidelines are not applied out of core (no validation, no label migration).")
    headline = {"judgements": totals["judgements"], "items": totals["items"], "annotators": totals["annotators"],
                "alpha": _num(a.value), "alpha_ci_low": _num(a.ci_low), "alpha_ci_high": _num(a.ci_high),
                "gold_accuracy": _num(pool["accuracy"]) if pool else None, "adjudication_queue": n_queue,
                "validation_gate": None, "task": chosen, "engine": engine}
    tiles = {"human judgements": totals["judgements"], "items": totals["items"], "annotators": totals["annotators"],
             "agreement (alpha)": _num(a.value),
             "accuracy on gold": f"{pool['accuracy']:.1%}" if pool else "not available", "to adjudicate": n_queue,
             "validation gate": "not run"}
    return Report(title="Label quality report", subtitle=(f"Task {chosen!r}, computed out of core ({engine}). "
                                                          + " ".join(notes)).strip(),
                  headline=headline, tiles=tiles, findings=fs,
                  sections=[vol, val_sec, agr_sec, gold_sec, cons_sec, calib, drift])


def _confusion(eng: Any, inp: Any, gold: pd.DataFrame, task: str) -> pd.DataFrame:
    """Gold label x label given counts on gold items (human judgements of ``task``)."""
    from labkit.stats.scoring import gold_for_task

    g = gold_for_task(gold, task)
    name = eng._name("gold")
    eng._put(name, pd.DataFrame({"item_id": g["item_id"].astype(str).to_numpy(),
                                 "glabel": g["label"].astype(str).to_numpy()}))
    try:
        df = eng.query(inp, f"SELECT gd.glabel AS gold, j.label AS label, COUNT(*) AS n FROM {{J}} j JOIN {name} gd "
                            f"ON j.item_id = gd.item_id WHERE j.task = {eng._lit(task)} AND j.source = 'human' "
                            f"GROUP BY gd.glabel, j.label")
    finally:
        eng._drop(name)
    if not len(df):
        return df
    return df.pivot(index="gold", columns="label", values="n").fillna(0).astype(np.int64).reset_index()
