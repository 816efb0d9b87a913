"""Closing the loop: fold review and adjudication outcomes into a corrected-label export with provenance.

Review (``stage=review``) and adjudication (``stage=adjudication``) rows import like any labels. For each
(item, task) the corrected label is, in order of authority: the latest adjudication, else the majority
of review rows (latest wins a tie), else the consensus of the label-stage judgements
(:func:`labkit.stats.truth.fit_consensus`). Every row of the export says where its label came from.

:func:`error_patterns` summarises, per annotator, how their judgements fared against reviewed labels
(the annotator feedback page can call it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from labkit.errors import ParameterError

__all__ = ["as_review_outcomes", "apply_reviews", "error_patterns", "confusion_patterns", "propose_from_review", "CORRECTED_COLUMNS"]

CORRECTED_COLUMNS = ("item_id", "task", "label", "previous_label", "changed", "decided_by", "decided_stage",
                     "guideline_version", "decided_at", "n_reviews")


def as_review_outcomes(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` (canonical labels) as review outcomes: rows of the label stage become ``stage=review``
    (a reviewer's export usually carries no stage); review and adjudication rows stay as they are."""
    out = table.copy()
    out["stage"] = out["stage"].where(out["stage"].astype(str) != "label", "review")
    return out


def _latest(df: pd.DataFrame) -> pd.DataFrame:
    d = df.assign(_pos=np.arange(len(df)))
    return d.sort_values(["created_at", "_pos"], kind="stable", na_position="first")


def apply_reviews(table: pd.DataFrame, *, fit: Any = None) -> pd.DataFrame:
    """The corrected labels (one row per item and task of the label stage) with provenance.

    Columns: item_id, task, label (corrected), previous_label (consensus of the label stage),
    changed, decided_by (reviewer id; ``consensus`` when nobody reviewed), decided_stage
    (adjudication | review | consensus), guideline_version (of the deciding row), decided_at, n_reviews.
    """
    from labkit.stats.truth import fit_consensus

    stage = table["stage"].astype(str)
    lab = table[(stage == "label") & (table["source"].astype(str) == "human")]
    if len(lab) == 0:
        raise ParameterError("no human label-stage judgements to correct")
    if fit is None:
        fit = fit_consensus(lab)
    cons = fit.consensus
    out = pd.DataFrame({"item_id": cons["item_id"].astype(str).to_numpy(), "task": cons["task"].astype(str).to_numpy(),
                        "previous_label": cons["label"].astype(str).to_numpy()})
    out["label"] = out["previous_label"]
    out["decided_by"] = "consensus"
    out["decided_stage"] = "consensus"
    gv = (_latest(lab).drop_duplicates(["item_id", "task"], keep="last")
          .assign(_k=lambda d: d["item_id"].astype(str) + "\x1f" + d["task"].astype(str))
          .set_index("_k")["guideline_version"].astype(object))
    key = out["item_id"] + "\x1f" + out["task"]
    out["guideline_version"] = pd.Series(key.map(gv).to_numpy(), dtype=object)
    out["decided_at"] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns, UTC]")
    out["n_reviews"] = 0
    out = out.set_index(key)
    for st in ("review", "adjudication"):  # adjudication last: it overrides review
        rv = table[stage == st]
        if not len(rv):
            continue
        rv = _latest(rv)
        rk = rv["item_id"].astype(str) + "\x1f" + rv["task"].astype(str)
        rv = rv.assign(_k=rk.to_numpy())
        if st == "review":
            out.loc[out.index.intersection(rk.unique()), "n_reviews"] = rk.value_counts().reindex(
                out.index.intersection(rk.unique())).to_numpy()
        for k, grp in rv.groupby("_k", sort=False, observed=True):
            if k not in out.index:
                continue  # a review of an item nobody labeled: not part of the export
            if st == "review":
                counts = grp["label"].astype(str).value_counts()
                best = counts[counts == counts.max()].index
                chosen = grp[grp["label"].astype(str).isin(best)].iloc[-1]  # latest among the tied majority
            else:
                chosen = grp.iloc[-1]
            out.loc[k, "label"] = str(chosen["label"])
            out.loc[k, "decided_by"] = str(chosen["annotator_id"])
            out.loc[k, "decided_stage"] = st
            out.loc[k, "guideline_version"] = (None if pd.isna(chosen["guideline_version"])
                                               else str(chosen["guideline_version"]))
            out.loc[k, "decided_at"] = chosen["created_at"]
    out["changed"] = out["label"] != out["previous_label"]
    return out.reset_index(drop=True)[list(CORRECTED_COLUMNS)]


def error_patterns(table: pd.DataFrame, corrected: pd.DataFrame) -> pd.DataFrame:
    """Per annotator, their label-stage judgements on reviewed items against the reviewed label.

    Returns one row per annotator: reviewed (judgements on items a review or adjudication decided),
    wrong, error_rate, top_confusion (``"A -> B"``: most frequent gave-A-reviewer-said-B), top_count.
    """
    dec = corrected[corrected["decided_stage"] != "consensus"]
    lab = table[(table["stage"].astype(str) == "label") & (table["source"].astype(str) == "human")]
    key = lab["item_id"].astype(str) + "\x1f" + lab["task"].astype(str)
    truth = pd.Series(dec["label"].to_numpy(), index=dec["item_id"].astype(str) + "\x1f" + dec["task"].astype(str))
    t = key.map(truth)
    m = t.notna().to_numpy()
    d = pd.DataFrame({"annotator_id": lab["annotator_id"].astype(str).to_numpy()[m],
                      "gave": lab["label"].astype(str).to_numpy()[m], "truth": t.to_numpy()[m]})
    if d.empty:
        return pd.DataFrame(columns=["annotator_id", "reviewed", "wrong", "error_rate", "top_confusion", "top_count"])
    d["wrong"] = d["gave"] != d["truth"]
    g = d.groupby("annotator_id").agg(reviewed=("wrong", "size"), wrong=("wrong", "sum")).reset_index()
    g["error_rate"] = g["wrong"] / g["reviewed"]
    w = d[d["wrong"]]
    conf = (w.groupby(["annotator_id", "gave", "truth"]).size().rename("n").reset_index()
            .sort_values(["annotator_id", "n", "gave", "truth"], ascending=[True, False, True, True])
            .drop_duplicates("annotator_id"))
    conf["top_confusion"] = conf["gave"] + " -> " + conf["truth"]
    g = g.merge(conf[["annotator_id", "top_confusion", "n"]].rename(columns={"n": "top_count"}), on="annotator_id",
                how="left")
    g["top_count"] = g["top_count"].fillna(0).astype(int)
    return g.sort_values(["error_rate", "annotator_id"], ascending=[False, True]).reset_index(drop=True)


def confusion_patterns(table: pd.DataFrame, corrected: pd.DataFrame) -> pd.DataFrame:
    """Across annotators, how label-stage judgements on reviewed items differ from the reviewed label.

    One row per (task, gave, truth) with gave != truth: ``judgements`` (how many), ``annotators`` (how many
    different people), ``share`` (of the judgements on items reviewed as ``truth``), ``items`` (up to five
    item ids); most frequent first.
    """
    cols = ["task", "gave", "truth", "judgements", "annotators", "share", "items"]
    dec = corrected[corrected["decided_stage"] != "consensus"]
    lab = table[(table["stage"].astype(str) == "label") & (table["source"].astype(str) == "human")]
    key = lab["item_id"].astype(str) + "\x1f" + lab["task"].astype(str)
    truth = pd.Series(dec["label"].astype(str).to_numpy(), index=dec["item_id"].astype(str) + "\x1f" + dec["task"].astype(str))
    t = key.map(truth)
    m = t.notna().to_numpy()
    d = pd.DataFrame({"task": lab["task"].astype(str).to_numpy()[m], "item_id": lab["item_id"].astype(str).to_numpy()[m],
                      "annotator_id": lab["annotator_id"].astype(str).to_numpy()[m],
                      "gave": lab["label"].astype(str).to_numpy()[m], "truth": t.to_numpy()[m]})
    if d.empty:
        return pd.DataFrame(columns=cols)
    per_truth = d.groupby(["task", "truth"]).size().rename("n_truth")
    w = d[d["gave"] != d["truth"]]
    if w.empty:
        return pd.DataFrame(columns=cols)
    g = (w.groupby(["task", "gave", "truth"])
         .agg(judgements=("item_id", "size"), annotators=("annotator_id", "nunique"),
              items=("item_id", lambda s: list(dict.fromkeys(s))[:5]))
         .reset_index())
    g["share"] = g["judgements"] / g.set_index(["task", "truth"]).index.map(per_truth).to_numpy(float)
    return g.sort_values(["judgements", "task", "gave", "truth"], ascending=[False, True, True, True])[cols].reset_index(drop=True)


def propose_from_review(table: pd.DataFrame, corrected: pd.DataFrame, *, root: str, author: str,
                        task: str | None = None, min_judgements: int = 5, min_annotators: int = 2,
                        created_at: Any = None, key: Any = None) -> list[Any]:
    """Open a guideline proposal for each review error pattern frequent enough to be a guideline problem.

    A pattern (judgements labeled ``gave`` on items review decided as ``truth``) qualifies with at least
    ``min_judgements`` judgements from at least ``min_annotators`` people (one person's habit is feedback,
    not a guideline gap). Each qualifying pattern files, through the governance flow
    (:func:`labkit.guidelines.proposals.new_proposal`; approval and release as usual), one ``add_edge_case``
    change to ``truth`` saying where annotators went wrong, with the items as evidence in ``source``.
    Returns the proposals filed (an empty list when no pattern qualifies).
    """
    from labkit.guidelines.model import Guidelines
    from labkit.guidelines.proposals import new_proposal

    if min_judgements < 1 or min_annotators < 1:
        raise ParameterError("min_judgements and min_annotators must be >= 1")
    pats = confusion_patterns(table, corrected)
    if task is not None:
        pats = pats[pats["task"] == task]
    pats = pats[(pats["judgements"] >= min_judgements) & (pats["annotators"] >= min_annotators)]
    if pats.empty:
        return []
    g = Guidelines.load(root)
    filed = []
    for r in pats.itertuples(index=False):
        if r.task not in g.tasks:
            continue
        base = g.latest(r.task)
        if r.truth not in base.label_names:
            continue
        text = (f"Review found {r.judgements} judgements by {r.annotators} annotators labelled {r.gave!r} on items "
                f"reviewed as {r.truth!r} ({r.share:.0%} of the judgements on those items), e.g. "
                f"{', '.join(map(str, r.items))}: say here what makes these {r.truth!r} and not {r.gave!r}.")
        filed.append(new_proposal(
            task=r.task, base_version=base.version, author=author,
            title=f"review pattern {r.gave} read for {r.truth}",
            rationale=(f"Reviewers corrected {r.gave!r} to {r.truth!r} {r.judgements} times across {r.annotators} "
                       "annotators: a boundary the guideline does not draw clearly. The edge case text is a draft "
                       "for the author to word."),
            changes=[{"op": "add_edge_case", "label": r.truth, "proposed": text}],
            source={"kind": "review", "pattern": f"{r.gave} -> {r.truth}", "judgements": int(r.judgements),
                    "annotators": int(r.annotators), "items": [str(i) for i in r.items]},
            root=root, created_at=created_at, key=key))
    return filed
