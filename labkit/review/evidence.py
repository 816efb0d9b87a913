"""The handoff: what a reviewer sees for each queued item, with annotators shown only by pseudonym."""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["evidence", "evidence_frame"]


def _definitions(guidelines: Any, task: str, labels: list[str], versions: list[str]) -> dict[str, dict[str, Any]]:
    """Definition, examples and edge cases of each label, from the newest guideline version the judgements used."""
    if guidelines is None:
        return {}
    from labkit.errors import GuidelineError

    gv = None
    for v in sorted({v for v in versions if v and v != "nan"}, reverse=True):
        try:
            gv = guidelines.get(task, v)
            break
        except GuidelineError:
            continue
    if gv is None:
        try:
            gv = guidelines.latest(task)
        except GuidelineError:
            return {}
    out: dict[str, dict[str, Any]] = {}
    for name in labels:
        try:
            d = gv.label(name)
        except (KeyError, GuidelineError):
            continue
        out[name] = {"guideline_version": gv.version, "definition": d.definition,
                     "positive_examples": list(d.positive_examples), "negative_examples": list(d.negative_examples),
                     "edge_cases": list(d.edge_cases)}
    return out


def evidence(plan: Any, table: pd.DataFrame, *, top: int | None = None, guidelines: Any = None,
             pseudonyms: Any = None) -> list[dict[str, Any]]:
    """Evidence for each queued item (or the first ``top`` of the queue).

    Each entry: rank, item_id, task, consensus_label, confidence (1 - p_error), p_error, reasons,
    judgements (pseudonym, label, source, duration_s, guideline_version), label_definitions (the
    guideline's definition and examples of every label given, when ``guidelines`` is a
    :class:`labkit.guidelines.model.Guidelines`).
    """
    if pseudonyms is None:
        from labkit.reports.display import Pseudonyms

        pseudonyms = Pseudonyms()
    q = plan.queued if top is None else plan.queue.head(top)
    want = set(zip(q["item_id"].astype(str), q["task"].astype(str)))
    t = table[table["item_id"].astype(str).isin({i for i, _ in want})]
    t = t.assign(_i=t["item_id"].astype(str), _t=t["task"].astype(str))
    groups = {k: g for k, g in t.groupby(["_i", "_t"], sort=False, observed=True)}
    out = []
    for row in q.itertuples(index=False):
        g = groups.get((str(row.item_id), str(row.task)))
        judgements = [] if g is None else [
            {"annotator": pseudonyms(a), "label": str(lab), "source": str(src), "stage": str(st),
             "duration_s": None if pd.isna(d) else float(d),
             "guideline_version": None if pd.isna(v) else str(v)}
            for a, lab, src, st, d, v in zip(g["annotator_id"], g["label"], g["source"], g["stage"], g["duration_s"],
                                             g["guideline_version"])]
        labels = sorted({j["label"] for j in judgements} | {str(row.consensus_label)})
        versions = [j["guideline_version"] or "" for j in judgements]
        out.append({"rank": int(row.rank), "item_id": str(row.item_id), "task": str(row.task),
                    "consensus_label": str(row.consensus_label), "confidence": float(1 - row.p_error),
                    "p_error": float(row.p_error), "reasons": str(row.reasons), "judgements": judgements,
                    "label_definitions": _definitions(guidelines, str(row.task), labels, versions)})
    return out


def evidence_frame(entries: list[dict[str, Any]]) -> pd.DataFrame:
    """A flat table of the evidence (one row per item) for pages and CSV: votes as ``pseudonym: label``."""
    rows = []
    for e in entries:
        rows.append({"rank": e["rank"], "item_id": e["item_id"], "task": e["task"],
                     "consensus_label": e["consensus_label"], "p_error": e["p_error"], "reasons": e["reasons"],
                     "judgements": ", ".join(f"{j['annotator']}{' (model)' if j['source'] == 'model' else ''}: "
                                             f"{j['label']}" for j in e["judgements"] if j["stage"] == "label"),
                     "definitions": " | ".join(f"{k}: {v['definition']}" for k, v in e["label_definitions"].items())})
    return pd.DataFrame(rows)
