"""Choosing a session's items: gold items plus contested items, seeded.

Contested items are scored from the program's own labels made before the session:

* **disagreement**: ``1 - share of the most frequent label`` among the item's human judgements;
* **low consensus confidence**: the posterior probability of the consensus label from Dawid-Skene
  (:class:`labkit.stats.DawidSkene`, which weighs annotators by skill); on a small table (under 20
  items with two or more judgements) the majority share instead; ``params["consensus"]`` says which;
* **touched by the guideline change**: the item's top label, any label a third or more of its
  judgements gave, or its gold label was changed by the release of the session's version (added,
  removed, renamed, merged, split, reworded, or narrowed by a new label under it; see
  :func:`changed_labels`, built on :func:`labkit.guidelines.diff.diff_versions`).

``score = disagreement + (1 - consensus confidence) + change_weight * touched``. The top
``n_contested`` non-gold items by score are taken (ties broken by the seed); the ``n_gold`` gold items
are drawn with probability proportional to ``0.25 + score`` so a session mixes clear and hard cases.
Each chosen item keeps the reasons it was chosen, shown to the facilitator.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from labkit.calibration.model import SessionItem
from labkit.errors import LabkitError, ParameterError
from labkit.guidelines.model import Guidelines, GuidelineVersion


def changed_labels(guidelines: Guidelines, version: GuidelineVersion) -> dict[str, str]:
    """Labels touched by the release of ``version``: ``{label: how}``, from
    :func:`labkit.guidelines.diff.diff_versions` against the version before it.

    ``how`` is ``"added"``, ``"removed"``, ``"reworded"`` (definition, examples or edge cases changed),
    ``"renamed from X"`` / ``"renamed to Y"``, ``"merged from X, Y"`` / ``"merged into Y"``,
    ``"split from X"`` / ``"split into Y, Z"``, or ``"narrowed: X added under it"`` (a new label ``X``
    has this label as its parent, so some of what it used to cover is now ``X``). Old names are kept
    as keys too, so judgements made under the previous version are recognised. The first version of
    a task touches nothing. A change of ``exclusive_with`` alone is not a change of the label's rule.
    """
    from labkit.guidelines.diff import diff_versions

    prev = None
    for v in guidelines.versions(version.task):
        if v.semver < version.semver:
            prev = v
    if prev is None:
        return {}
    d = diff_versions(prev, version)
    out: dict[str, str] = {}
    for name in d.added:
        out[name] = "added"
    for name in d.removed:
        out[name] = "removed"
    for r in d.renamed:
        out[r["to"]] = f"renamed from {r['from']}"
        out.setdefault(r["from"], f"renamed to {r['to']}")
    for m in d.merged:
        out[m["into"]] = "merged from " + ", ".join(m["from"])
        for old in m["from"]:
            if old != m["into"]:
                out.setdefault(old, f"merged into {m['into']}")
    for sp in d.split:
        for new in sp["into"]:
            out[new] = f"split from {sp['from']}"
        if sp["from"] not in sp["into"]:
            out.setdefault(sp["from"], "split into " + ", ".join(sp["into"]))
    for c in d.changed:
        if c.get("field") != "exclusive_with":
            out.setdefault(c["label"], "reworded")
    names = set(version.label_names)
    for name in d.added:  # a new label under a parent narrows the parent's reading
        parent = version.label(name).parent
        if parent and parent in names and parent not in out:
            out[parent] = f"narrowed: {name} added under it"
    return out


def gold_in_version(label: str, gold_version: str | None, guidelines: Guidelines,
                    version: GuidelineVersion) -> tuple[str | None, str]:
    """Translate a gold label decided under ``gold_version`` into ``version``'s labels.

    Walks the releases' migration maps (:func:`labkit.guidelines.migrate.step_map`) forward, or
    inverts them going backward. Returns ``(label, "")`` or ``(None, why)`` when there is no single
    answer (a merge seen backward, a split or removal seen forward).

    >>> g = Guidelines.load("guidelines")                                # doctest: +SKIP
    >>> gold_in_version("insult", "2.0.0", g, g.get("toxicity", "1.1.0"))  # doctest: +SKIP
    ('offensive', '')
    """
    if not gold_version or str(gold_version) == version.version:
        return (label, "") if label in version.label_names else (None, f"{label!r} is not a label of {version.version}")
    from labkit.guidelines.migrate import step_map

    vs = guidelines.versions(version.task)
    names = [v.version for v in vs]
    if str(gold_version) not in names:
        return (None, f"gold was decided under unknown version {gold_version}")
    i, j = names.index(str(gold_version)), names.index(version.version)
    if i < j:  # forward
        fwd = label
        for a, b in zip(vs[i:j], vs[i + 1:j + 1]):
            mp, flagged = step_map(a, b)
            if fwd in flagged:
                return (None, flagged[fwd])
            fwd = mp.get(fwd, fwd)
        return (fwd, "") if fwd in version.label_names else (None, f"{fwd!r} is not a label of {version.version}")
    # backward: labels of `version` that migrate to `label` under gold_version
    cands = []
    for lab in version.label_names:
        cur: str | None = lab
        for a, b in zip(vs[j:i], vs[j + 1:i + 1]):
            mp, flagged = step_map(a, b)
            cur = None if cur is None or cur in flagged else mp.get(cur, cur)
            if cur is None:
                break
        if cur == label:
            cands.append(lab)
    if len(cands) == 1:
        return (cands[0], "")
    if not cands:
        return (None, f"gold {label!r} ({gold_version}) has no counterpart in {version.version}")
    return (None, f"gold {label!r} ({gold_version}) could be any of {', '.join(cands)} in {version.version}")


def translate_gold(gold: pd.DataFrame, guidelines: Guidelines | None, version: GuidelineVersion | str,
                   task: str | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """Gold of one task as ``{item_id: label}`` in ``version``'s labels, plus ``{item_id: why}`` for
    gold that has no single counterpart there (see :func:`gold_in_version`).

    Without ``guidelines`` (or for an unknown version) the gold labels are taken as they are.
    """
    vname = version if isinstance(version, str) else version.version
    t = task or (version.task if isinstance(version, GuidelineVersion) else None)
    g = gold if t is None else gold[gold["task"].astype(str) == t]
    ok: dict[str, str] = {}
    skipped: dict[str, str] = {}
    target = None
    if guidelines is not None and t is not None:
        try:
            target = guidelines.get(t, vname)
        except Exception:  # noqa: BLE001 - unknown version: compare labels as they are
            target = None
    for item, lab, gv in zip(g["item_id"].astype(str), g["label"].astype(str), g["guideline_version"]):
        if target is None:
            ok[item] = lab
            continue
        new, why = gold_in_version(lab, None if pd.isna(gv) else str(gv), guidelines, target)  # type: ignore[arg-type]
        if new is None:
            skipped[item] = why
        else:
            ok[item] = new
    return ok, skipped


@dataclass(frozen=True)
class Selection:
    items: list[SessionItem]
    scores: pd.DataFrame  # every candidate item with its score components
    params: dict[str, object]


#: Below this many items with two or more judgements, consensus confidence is the majority share.
MIN_ITEMS_FOR_DAWID_SKENE = 20


def _consensus_confidence(table: pd.DataFrame, task: str) -> tuple[pd.Series, str]:
    """Posterior probability of the consensus label per item, and the method used.

    Dawid-Skene (:class:`labkit.stats.DawidSkene`) weighs annotators by their estimated skill. It needs
    data to estimate each annotator's confusions: on a small table (fewer than
    :data:`MIN_ITEMS_FOR_DAWID_SKENE` items with two or more judgements) its posteriors are
    overconfident (three different labels can come out at 0.99), so the majority share is used.
    """
    from labkit.stats import DawidSkene

    human = table
    multi = int((human.groupby(human["item_id"].astype(str)).size() >= 2).sum())
    if (multi >= MIN_ITEMS_FOR_DAWID_SKENE and human["annotator_id"].astype(str).nunique() >= 2
            and human["label"].astype(str).nunique() >= 2):
        try:
            c = DawidSkene().fit(human, task=task).consensus_
            return pd.Series(c["confidence"].to_numpy(float), index=c["item_id"].astype(str).to_numpy()), "dawid_skene"
        except LabkitError:  # degenerate table: say so in params, use the majority share
            pass
    ids = human["item_id"].astype(str)
    counts = pd.crosstab(ids, human["label"].astype(str))
    return (counts.max(axis=1) / counts.sum(axis=1)).astype(float), "majority_share"


def select_items(
    labels: pd.DataFrame,
    gold: pd.DataFrame | None,
    guidelines: Guidelines,
    version: GuidelineVersion,
    *,
    n_gold: int = 6,
    n_contested: int = 6,
    before: dt.datetime | None = None,
    items: pd.DataFrame | None = None,
    min_judgements: int = 2,
    change_weight: float = 0.5,
    seed: int = 0,
) -> Selection:
    """Choose a session's item set.

    Parameters
    ----------
    labels : DataFrame
        Canonical label table (:mod:`labkit.schema`). Only human ``label``-stage judgements of
        ``version.task`` made before ``before`` (if given) are used.
    gold : DataFrame or None
        Gold table (:func:`labkit.schema.read_gold`); None for a session without gold.
    guidelines, version :
        All versions (to find what changed) and the version in force for the session.
    n_gold, n_contested : int
        How many gold items and contested (non-gold) items. Fewer are taken if fewer exist.
    before : datetime, optional
        Only labels created before this instant are looked at (the session's date).
    items : DataFrame, optional
        ``item_id, text[, slice]`` (``sample/items.csv``): the text shown on each card.
    min_judgements : int
        A contested item needs at least this many judgements.
    seed : int
        Seed for tie-breaking and the draw of gold items.

    Returns
    -------
    Selection
        ``items`` in session order (gold and contested interleaved, seeded), ``scores`` for every
        candidate, and ``params`` as used.
    """
    for name, v in (("n_gold", n_gold), ("n_contested", n_contested), ("min_judgements", min_judgements)):
        if not isinstance(v, (int, np.integer)) or v < 0:
            raise ParameterError(f"{name} must be a non-negative integer, got {v!r}")
    if n_gold + n_contested == 0:
        raise ParameterError("n_gold + n_contested must be at least 1")
    task = version.task
    t = labels
    mask = (t["task"].astype(str) == task) & (t["source"].astype(str) == "human") & (t["stage"].astype(str) == "label")
    n_undated = 0
    if before is not None:
        # labels without a timestamp cannot be placed in time: they are kept (exports without
        # timestamps are common) and counted in the selection's params
        undated = t["created_at"].isna()
        n_undated = int((mask & undated).sum())
        mask &= undated | (t["created_at"] < pd.Timestamp(before))
    share_all, consensus_method = _consensus_confidence(t.loc[mask], task)
    human = t.loc[mask, ["item_id", "annotator_id", "label"]].copy()
    for c in ("item_id", "annotator_id", "label"):
        human[c] = human[c].astype(str)
    n_j = human.groupby("item_id").size()
    share = share_all.reindex(n_j.index)
    counts = human.groupby(["item_id", "label"]).size()
    majority = (counts.groupby(level=0).max() / counts.groupby(level=0).sum()).reindex(n_j.index)
    top_label = counts.reset_index(name="n").sort_values(["item_id", "n"], ascending=[True, False], kind="stable").drop_duplicates("item_id").set_index("item_id")["label"]
    changed = changed_labels(guidelines, version)
    # the labels an item was really read as: its top label and any label a third of its judgements gave
    shares = counts / counts.groupby(level=0).transform("sum")
    item_labels = shares[shares >= 1 / 3].reset_index().groupby("item_id")["label"].agg(lambda s: sorted(set(s)))
    gold_map: dict[str, tuple[str, str]] = {}
    gold_skipped: dict[str, str] = {}
    if gold is not None and len(gold):
        g = gold[gold["task"].astype(str) == task]
        translated, gold_skipped = translate_gold(g, guidelines, version)
        why_gold = dict(zip(g["item_id"].astype(str), g["rationale"]))
        orig = dict(zip(g["item_id"].astype(str), zip(g["label"].astype(str), g["guideline_version"])))

        def why(i: str, lab: str) -> str:
            text = "" if pd.isna(why_gold[i]) else str(why_gold[i])
            o_lab, o_ver = orig[i]
            if o_lab != lab:
                note = f"(gold decided under {o_ver} as {o_lab}; {lab} in {version.version})"
                text = f"{text} {note}".strip()
            return text

        gold_map = {i: (lab, why(i, lab)) for i, lab in translated.items()}
    cand = pd.DataFrame({"judgements": n_j, "disagreement": 1.0 - majority, "consensus_confidence": share,
                         "top_label": top_label.reindex(n_j.index)})
    extra_gold = [i for i in gold_map if i not in cand.index]
    if extra_gold:
        cand = pd.concat([cand, pd.DataFrame(index=pd.Index(extra_gold, name=cand.index.name),
                                             data={"judgements": 0, "disagreement": 0.0, "consensus_confidence": 1.0,
                                                   "top_label": None})])
    touched = []
    for iid in cand.index:
        labs = set(item_labels.get(iid, []))
        if iid in gold_map:
            labs.add(gold_map[iid][0])
        if iid in top_label.index:
            labs.add(top_label[iid])
        touched.append(sorted(lab for lab in labs if lab in changed))
    cand["touched"] = [", ".join(x) for x in touched]
    cand["gold"] = [gold_map.get(i, (None, ""))[0] for i in cand.index]
    cand["score"] = (cand["disagreement"].fillna(0) + (1 - cand["consensus_confidence"].fillna(1))
                     + change_weight * np.array([bool(x) for x in touched], dtype=float))
    rng = np.random.default_rng(seed)
    cand["_tie"] = rng.random(len(cand))
    cand.index.name = "item_id"

    is_gold = cand["gold"].notna()
    pool = cand[~is_gold & (cand["judgements"] >= min_judgements)]
    contested = pool.sort_values(["score", "_tie"], ascending=[False, False]).head(n_contested)
    contested_note = ""
    if n_contested and len(contested) < n_contested:
        if not len(human):
            contested_note = (f"no human labels of task {task!r}"
                              + (f" made before {pd.Timestamp(before).isoformat()}" if before is not None else ""))
        else:
            most = int(cand.loc[~is_gold, "judgements"].max()) if (~is_gold).any() else 0
            contested_note = (f"{len(pool)} non-gold item(s) have at least {min_judgements} judgements "
                              f"(the most any non-gold item has: {most})")
    gpool = cand[is_gold]
    k = min(n_gold, len(gpool))
    if k:
        w = (0.25 + gpool["score"].to_numpy()).astype(float)
        pick = rng.choice(len(gpool), size=k, replace=False, p=w / w.sum())
        gold_pick = gpool.iloc[np.sort(pick)]
    else:
        gold_pick = gpool.iloc[0:0]

    text_map: dict[str, str] = {}
    slice_map: dict[str, str] = {}
    if items is not None and len(items):
        it = items if "task" not in items.columns else items[items["task"].astype(str).isin([task, "default", ""]) | items["task"].isna()]
        text_map = dict(zip(it["item_id"].astype(str), it["text"].fillna("").astype(str))) if "text" in it.columns else {}
        if "slice" in it.columns:
            slice_map = {k: v for k, v in zip(it["item_id"].astype(str), it["slice"]) if isinstance(v, str) and v}

    def reasons(iid: str, row: pd.Series) -> tuple[str, ...]:
        r = []
        if row["gold"] is not None and not pd.isna(row["gold"]):
            r.append("gold item")
        if row["judgements"]:
            if row["disagreement"] > 0:
                r.append(f"disagreement {row['disagreement']:.2f} over {int(row['judgements'])} judgements")
            if row["consensus_confidence"] < 0.8:
                r.append(f"consensus confidence {row['consensus_confidence']:.2f}")
        if row["touched"]:
            r.append("labels changed in " + version.version + ": " + ", ".join(
                f"{lab} ({changed[lab]})" for lab in row["touched"].split(", ")))
        return tuple(r)

    chosen: list[SessionItem] = []
    for iid, row in list(gold_pick.iterrows()) + list(contested.iterrows()):
        g = gold_map.get(iid)
        rs = reasons(iid, row)
        if iid in gold_skipped:
            rs = rs + (f"has gold, not usable here ({gold_skipped[iid]})",)
        chosen.append(SessionItem(item_id=iid, text=text_map.get(iid, ""), gold=g[0] if g else None,
                                  gold_rationale=g[1] if g else "", reasons=rs, slice=slice_map.get(iid)))
    order = rng.permutation(len(chosen))
    chosen = [chosen[i] for i in order]
    params: dict[str, object] = {"n_gold": int(n_gold), "n_contested": int(n_contested), "seed": int(seed),
              "min_judgements": int(min_judgements), "change_weight": float(change_weight),
              "before": before.isoformat() if before else None, "changed_labels": changed,
              "gold_taken": int(len(gold_pick)), "contested_taken": int(len(contested)),
              "gold_not_translatable": int(len(gold_skipped)),
              "undated_labels_used": n_undated, "contested_note": contested_note,
              "consensus": consensus_method}
    return Selection(chosen, cand.drop(columns="_tie").sort_values("score", ascending=False), params)
