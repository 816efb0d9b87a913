"""Carry judgements made under older guideline versions forward to a newer one.

Each release between a row's ``guideline_version`` and the target contributes one step. A step maps a
label deterministically when the label survives unchanged (same name in the next version, not split)
or the release's ``migration.map`` sends it to one label; otherwise the row is flagged for relabeling
with the reason (label split, removed without a target, unknown to its own version, or the row has no
or an unknown version). Nothing is dropped silently: every input row is counted exactly once::

    total = already_current + carried + mapped + collapsed + flagged

``carried`` rows keep their label and get the new version, ``mapped`` rows change label, ``collapsed``
rows became exact duplicates of another row of the same annotator on the same item after a merge (one
judgement remains), ``flagged`` rows go to the relabel table with their ``reason``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from labkit.errors import GuidelineError
from labkit.guidelines.model import Guidelines, GuidelineVersion, SemVer

#: What can happen to a row, in the order of :attr:`MigrationResult.counts`.
OUTCOMES = ("already_current", "carried", "mapped", "collapsed", "flagged", "other_task")
_OUT = {k: i for i, k in enumerate(OUTCOMES)}


@dataclass
class MigrationResult:
    """Migrated rows (canonical table), rows to relabel (canonical columns + ``reason``), counts."""

    table: pd.DataFrame
    relabel: pd.DataFrame
    counts: dict[str, int]
    by_step: list[dict[str, Any]] = field(default_factory=list)
    by_reason: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts, "by_reason": self.by_reason, "steps": self.by_step}


def step_map(old: GuidelineVersion, new: GuidelineVersion) -> tuple[dict[str, str], dict[str, str]]:
    """``(mapping, flagged)`` for one release: label -> new label, and label -> reason to relabel."""
    mig = new.migration if isinstance(new.migration, dict) and str(new.migration.get("from")) == old.version else {}
    mp = {str(k): str(v) for k, v in (mig.get("map") or {}).items()}
    split = {str(k): [str(x) for x in v] for k, v in (mig.get("split") or {}).items()}
    relabel = {str(x) for x in (mig.get("relabel") or [])}
    new_names = set(new.label_names)
    mapping: dict[str, str] = {}
    flagged: dict[str, str] = {}
    for lab in old.label_names:
        if lab in split:
            flagged[lab] = f"{lab} was split into {', '.join(split[lab])} in {new.version}"
        elif lab in mp:
            mapping[lab] = mp[lab]
        elif lab in relabel or lab not in new_names:
            flagged[lab] = f"{lab} was removed in {new.version} with no replacement"
        else:
            mapping[lab] = lab
    return mapping, flagged


def migrate_labels(table: pd.DataFrame, guidelines: Guidelines, to: str, task: str | None = None) -> MigrationResult:
    """Migrate every row of ``task`` (all tasks having version ``to`` when None) to version ``to``.

    Rows of other tasks are left as they are and counted as ``other_task``. Rows under a version newer
    than ``to`` are flagged (migration runs forward only).
    """
    SemVer.parse(to)
    tasks = [task] if task else [t for t in guidelines.tasks if any(v.version == to for v in guidelines.versions(t))]
    if not tasks:
        raise GuidelineError(f"no task has a guideline version {to!r} (tasks: {', '.join(guidelines.tasks)})")
    for t in tasks:
        guidelines.get(t, to)
    df = table.reset_index(drop=True)
    n = len(df)
    new_label = df["label"].astype("object").to_numpy(copy=True)
    new_version = df["guideline_version"].astype("object").to_numpy(copy=True)
    outcome = np.full(n, _OUT["other_task"], dtype=np.int8)  # codes of OUTCOMES
    reason = np.full(n, "", dtype=object)
    task_col = df["task"].astype("object").to_numpy()
    steps_out: list[dict[str, Any]] = []
    for t in tasks:
        versions = guidelines.versions(t)
        target = guidelines.get(t, to)
        idx_t = np.flatnonzero(task_col == t)
        known = {v.version: v for v in versions}
        # resolve each distinct (version, label) pair once, then index: no Python loop over rows. The
        # pairs come from integer codes (categoricals factorize for free), never from string keys.
        vcodes, vuniq = pd.factorize(df["guideline_version"].iloc[idx_t], use_na_sentinel=True)
        lcodes, luniq = pd.factorize(df["label"].iloc[idx_t], use_na_sentinel=True)
        vuniq, luniq = np.asarray(vuniq, dtype=object), np.asarray(luniq, dtype=object)
        pair = (vcodes.astype(np.int64) + 1) * (len(luniq) + 1) + (lcodes.astype(np.int64) + 1)
        upairs, codes = np.unique(pair, return_inverse=True)
        codes = codes.reshape(-1)
        table_u = [_resolve(None if pv // (len(luniq) + 1) == 0 else vuniq[pv // (len(luniq) + 1) - 1],
                            None if pv % (len(luniq) + 1) == 0 else luniq[pv % (len(luniq) + 1) - 1],
                            known, versions, target) for pv in upairs.tolist()]
        out_o = np.array([_OUT[r[0]] for r in table_u], dtype=np.int8)
        out_l = np.array([r[1] for r in table_u], dtype=object)
        out_r = np.array([r[2] for r in table_u], dtype=object)
        outcome[idx_t] = out_o[codes]
        new_label[idx_t] = out_l[codes]
        reason[idx_t] = out_r[codes]
        new_version[idx_t] = np.where(np.isin(outcome[idx_t], [_OUT["carried"], _OUT["mapped"], _OUT["already_current"]]), to,
                                      new_version[idx_t])
        for i in range(versions.index(target)):
            m, f = step_map(versions[i], versions[i + 1])
            steps_out.append({"task": t, "from": versions[i].version, "to": versions[i + 1].version,
                              "map": {k: v for k, v in m.items() if k != v}, "flagged": f})
    migrated = df.copy()
    migrated["label"] = new_label
    migrated["guideline_version"] = new_version
    from labkit.schema import finalize_labels

    keep = outcome != _OUT["flagged"]
    moved = np.isin(outcome, [_OUT["mapped"], _OUT["carried"]])
    kept = migrated[keep]
    # a merge can make two rows of one annotator on one item identical: keep one (the row whose label
    # did not change, else the first), count the other as collapsed
    dup_cols = ["item_id", "annotator_id", "task", "label", "stage", "source"]
    kept_idx = np.flatnonzero(keep)
    collapse = np.zeros(len(kept_idx), dtype=bool)
    mapped_k = outcome[kept_idx] == _OUT["mapped"]
    if mapped_k.any():
        # only a judgement whose label changed can newly duplicate another: look at the (item,
        # annotator, task, stage, source) groups holding a mapped row, and nowhere else
        # (item, annotator) groups are a superset of the duplicate groups: whole groups stay together
        ic, n_items = _codes(kept["item_id"])
        ac, n_ann = _codes(kept["annotator_id"])
        group = (ic + 1) * (n_ann + 1) + (ac + 1)
        cand = np.flatnonzero(np.isin(group, np.unique(group[mapped_k])))
        sub = kept.iloc[cand]
        prio = np.where(mapped_k[cand], 1, 0)
        order = np.argsort(prio, kind="stable")
        dup_sorted = sub.iloc[order].duplicated(subset=dup_cols, keep="first").to_numpy()
        dup = np.empty_like(dup_sorted)
        dup[order] = dup_sorted
        orig_dup = df.iloc[kept_idx[cand]].duplicated(subset=dup_cols, keep="first").to_numpy()  # stay as they were
        collapse[cand] = dup & ~orig_dup & moved[kept_idx[cand]]
    outcome[kept_idx[collapse]] = _OUT["collapsed"]
    final = finalize_labels(kept[~collapse].reset_index(drop=True))
    relabel = df[~keep].copy()
    relabel["reason"] = reason[~keep]
    tally = np.bincount(outcome, minlength=len(OUTCOMES))
    counts = {k: int(tally[i]) for i, k in enumerate(OUTCOMES)}
    counts["total"] = n
    if sum(v for k, v in counts.items() if k != "total") != n:  # pragma: no cover - a bug, never user input
        raise AssertionError(f"migration counts do not add up: {counts}")
    by_reason = pd.Series(reason[~keep]).value_counts().to_dict() if (~keep).any() else {}
    return MigrationResult(final, relabel.reset_index(drop=True), counts, steps_out,
                           {str(k): int(v) for k, v in by_reason.items()})


def _codes(col: pd.Series) -> tuple[np.ndarray, int]:
    """Integer codes of a column (-1 for missing) and how many distinct values: free for categoricals."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        return col.cat.codes.to_numpy().astype(np.int64), len(col.cat.categories)
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    return codes.astype(np.int64), len(uniques)


def _resolve(v: Any, lab: Any, known: dict[str, GuidelineVersion], versions: list[GuidelineVersion],
             target: GuidelineVersion) -> tuple[str, str, str]:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return ("flagged", lab, "no guideline_version: cannot tell what the label meant")
    v = str(v)
    if v not in known:
        return ("flagged", lab, f"guideline version {v} is not in the guidelines")
    start = known[v]
    if start.semver > target.semver:
        return ("flagged", lab, f"made under {v}, newer than the target {target.version}")
    if lab not in start.label_names:
        return ("flagged", lab, f"label {lab} is not in version {v}")
    if start.version == target.version:
        return ("already_current", lab, "")
    cur = lab
    i = versions.index(start)
    while versions[i].version != target.version:
        m, f = step_map(versions[i], versions[i + 1])
        if cur in f:
            return ("flagged", lab, f[cur])
        cur = m[cur]
        i += 1
    return ("mapped" if cur != lab else "carried", cur, "")
def in_gold_terms(h: pd.DataFrame, gold: pd.DataFrame | None, guidelines: Guidelines | None,
                  task: str) -> tuple[pd.DataFrame, list[str]]:
    """Judgements ``h`` of ``task`` with labels carried forward to the gold's guideline version.

    Gold is decided under one guideline version; a judgement made under an older version used that
    version's labels (e.g. ``offensive`` before 2.0.0 renamed it ``insult``). Scoring it against gold
    as recorded would count the rename as an error. Each judgement under another known version is
    therefore carried forward with the releases' migration maps (:func:`labkit.guidelines.migrate.
    migrate_labels`); judgements that cannot be carried (a split or removed label, a label its own
    version does not define, a version newer than the gold's or unknown to the guidelines) are left
    out of the comparison and counted. Judgements without a version, or already under the gold's
    version, are kept as they are.

    Returns
    -------
    (table, notes)
        The comparable judgements (canonical columns plus ``made_under``, the version each judgement
        was made under) and sentences saying what was done.
    """
    if gold is None or guidelines is None:
        return h, []
    g = gold.loc[gold["task"].astype(str) == task] if "task" in gold.columns else gold
    if not len(g):
        return h, []
    if "guideline_version" not in g.columns or not g["guideline_version"].notna().any():
        return h, []
    gv = g["guideline_version"].dropna().astype(str)
    try:
        known = {v.version: v for v in guidelines.versions(task)}
    except GuidelineError:
        return h, [f"Gold is under guideline version(s) {', '.join(sorted(set(gv)))} but the guidelines do not "
                   f"define task {task!r}: labels are compared as recorded."]
    targets = sorted({v for v in gv if v in known}, key=SemVer.parse)
    if not targets:
        return h, [f"Gold is under guideline version(s) {', '.join(sorted(set(gv)))}, which the guidelines do not "
                   "define: labels are compared as recorded."]
    notes = []
    if len(set(gv)) > 1:
        notes.append(f"Gold is recorded under several guideline versions ({', '.join(sorted(set(gv)))}); "
                     f"judgements are compared in the terms of the latest, {targets[-1]}.")
    return _carry(h, guidelines, task, targets[-1], f"Gold is decided under guideline {targets[-1]}", notes)


def _carry(h: pd.DataFrame, guidelines: Guidelines, task: str, target: str, lead: str, notes: list[str],
           left_out: str = "cannot be compared with gold") -> tuple[pd.DataFrame, list[str]]:
    """``h`` (one task) carried to ``target``; ``lead`` opens the sentence saying what was done, ``left_out``
    says why the rows that cannot be carried are left out."""
    ver = h["guideline_version"]
    move = ver.notna()  # rows under the gold's version too: a label that version does not define is left out
    if not move.any():
        return h, notes
    # the version each judgement was made under, kept beside the migrated label so that accuracy can
    # still be broken down by it (migration rewrites guideline_version to the target)
    h = h.assign(made_under=h["guideline_version"].astype("string"))
    res = migrate_labels(h.loc[move], guidelines, to=target, task=task)
    from labkit.io import concat_labels

    out = concat_labels([h.loc[~move], res.table]) if (~move).any() else res.table
    c = res.counts
    maps = sorted({f"{k} → {v}" for st in res.by_step for k, v in st["map"].items()})
    older = c["mapped"] + c["carried"]
    if older:
        notes.append(f"{lead}; {older:,} judgements made under older versions are "
                     f"compared in {target}'s terms ({c['mapped']:,} relabeled by the releases' migration maps"
                     + (f": {', '.join(maps)}" if maps else "") + f"; {c['carried']:,} kept their label).")
    left = c["flagged"] + c["collapsed"]
    if left:
        reasons = "; ".join(f"{r}: {n:,}" for r, n in sorted(res.by_reason.items(), key=lambda kv: (-kv[1], kv[0]))[:4])
        notes.append(f"{left:,} judgements {left_out} and are left out of accuracy and consensus"
                     + (f" ({reasons})" if reasons else "")
                     + (f"; {c['collapsed']:,} became duplicates of another judgement by the same annotator"
                        if c["collapsed"] else "") + ".")
    return out, notes




def in_common_terms(table: pd.DataFrame, gold: pd.DataFrame | None,
                    guidelines: Guidelines | None) -> tuple[pd.DataFrame, list[str]]:
    """Every task of ``table`` in one guideline version's terms, so a consensus never counts a renamed label
    as a different one.

    A task whose gold names a guideline version is carried to it (:func:`in_gold_terms`); a task without
    one, to the newest version the guidelines define for it. Tasks the guidelines do not define, and
    everything when ``guidelines`` is None, stay as recorded. Returns the table and sentences, each
    prefixed with its task when the table holds several.
    """
    if guidelines is None or not len(table):
        return table, []
    from labkit.io import concat_labels

    tasks = [str(t) for t in pd.unique(table["task"].astype(str))]
    parts, notes = [], []
    for task in tasks:
        h = table.loc[table["task"].astype(str) == task]
        g = None
        if gold is not None and len(gold):
            g = gold.loc[gold["task"].astype(str) == task] if "task" in gold.columns else gold
        if g is not None and len(g) and "guideline_version" in g.columns and g["guideline_version"].notna().any():
            out, said = in_gold_terms(h, g, guidelines, task)
        elif task in guidelines.tasks and h["guideline_version"].notna().any():
            newest = guidelines.latest(task).version
            out, said = _carry(h, guidelines, task, newest, f"No gold names a guideline version for this task, "
                               f"so judgements are compared in the newest's terms, {newest}", [], left_out=f"cannot be carried to {newest}")
        else:
            out, said = h, []
        parts.append(out)
        notes += [f"{task}: {n}" if len(tasks) > 1 else n for n in said]
    return concat_labels(parts), notes


def load_in_common_terms(labels: str, gold: str = "",
                         guidelines: str = "") -> tuple[pd.DataFrame, pd.DataFrame | None, list[str]]:
    """Read label file(s) and a gold file (either may be ``""``: no gold) and, given a guidelines folder, carry
    the labels to one version's terms per task (:func:`in_common_terms`). Returns (labels, gold, sentences)."""
    from labkit.io import load_labels
    from labkit.schema import read_gold

    table, g = load_labels(labels), (read_gold(gold) if gold else None)
    if not guidelines:
        return table, g, []
    table, notes = in_common_terms(table, g, Guidelines.load(guidelines))
    return table, g, notes
