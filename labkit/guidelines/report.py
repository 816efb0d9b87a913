"""What the governance report computes (``notebooks/governance_report.ipynb`` only displays it).

* :func:`timeline`: every release with its kind, proposal, author, approvals (with roles and dates),
  rationale and the changes (from :func:`~labkit.guidelines.diff.diff_versions`);
* :func:`release_impact`: for each release, agreement (Krippendorff's alpha) and accuracy on gold,
  both with bootstrap intervals over items, of the human judgements made under the old version
  against those made under the new one. Gold is decided under one version; judgements made under
  another are carried to it with the releases' migration maps first (rows that cannot be mapped are
  counted, not scored);
* :func:`retired_usage`: judgements made under a version that had been superseded for more than
  ``retire_grace_days`` (governance.yaml) when they were made;
* :func:`proposals_table`: every proposal with its state and missing approvals;
* :func:`log_status`: the decision log's verification.

No Jupyter import here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labkit.guidelines import log as dlog
from labkit.guidelines.diff import diff_versions
from labkit.guidelines.governance import Governance, status
from labkit.guidelines.model import Guidelines, GuidelineVersion
from labkit.guidelines.proposals import list_proposals


def _entries(root: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The log's entries; an unreadable log gives none here (:func:`log_status` reports why)."""
    from labkit.errors import GovernanceError

    try:
        return dlog.read(root)
    except GovernanceError:
        return []


def timeline(root: str | os.PathLike[str], task: str) -> pd.DataFrame:
    """One row per released version, oldest first.

    Columns: version, released_at, kind, proposal, title, author, approvals (``"g-lead-1 (lead,
    2026-09-25)"``...), rationale, changes (rows of :func:`change_rows`), log_seq.
    """
    g = Guidelines.load(root)
    gov = Governance.load(root)
    entries = _entries(root)
    by_prop: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        if e.get("proposal"):
            by_prop.setdefault(e["proposal"], []).append(e)
    rows = []
    prev: GuidelineVersion | None = None
    for v in g.versions(task):
        pid = v.meta.get("proposal")
        es = by_prop.get(pid, []) if pid else []
        title = next((e.get("why", "") for e in es if e["action"] == "propose"), "")
        author = next((e["who"] for e in es if e["action"] == "propose"), "")
        approvals = [f"{e['who']} ({', '.join(gov.members.get(e['who'], ('not a member',)))}, {e['at'][:10]})"
                     for e in es if e["action"] == "approve"]
        counted = set(v.meta.get("approved_by") or [])
        approvals = [a + ("" if a.split(" ")[0] in counted else " - not counted") for a in approvals]
        changes = (change_rows(diff_versions(prev, v)) if prev is not None else
                   [{"change": "first release", "label": ", ".join(v.label_names), "before": "", "after": ""}])
        rows.append({"version": v.version, "released_at": v.released_at, "kind": v.change_kind or "",
                     "proposal": pid or "", "title": title, "author": author, "approvals": approvals,
                     "rationale": v.rationale, "changes": changes,
                     "log_seq": (v.meta.get("log_head") or {}).get("seq")})
        prev = v
    return pd.DataFrame(rows)


def change_rows(d: Any) -> list[dict[str, str]]:
    """A :class:`~labkit.guidelines.diff.GuidelineDiff` as table rows: change, label, before, after."""
    rows: list[dict[str, str]] = []
    for n in d.added:
        rows.append({"change": "label added", "label": n, "before": "", "after": ""})
    for n in d.removed:
        rows.append({"change": "label removed", "label": n, "before": "", "after": ""})
    for r in d.renamed:
        rows.append({"change": f"label renamed ({r['how']})", "label": r["to"], "before": r["from"], "after": r["to"]})
    for m in d.merged:
        rows.append({"change": f"labels merged ({m['how']})", "label": m["into"], "before": ", ".join(m["from"]), "after": m["into"]})
    for sp in d.split:
        rows.append({"change": f"label split ({sp['how']})", "label": sp["from"], "before": sp["from"], "after": ", ".join(sp["into"])})
    for c in d.changed:
        name = c["field"].replace("examples.", "").replace("_", " ")
        name = {"positive": "positive examples", "negative": "negative examples"}.get(name, name)
        if c["field"] == "definition" or c["field"] == "parent":
            rows.append({"change": f"{name} changed", "label": c["label"], "before": c["old"] or "", "after": c["new"] or ""})
        else:
            if c.get("removed"):
                rows.append({"change": f"{name} removed", "label": c["label"], "before": "; ".join(c["removed"]), "after": ""})
            if c.get("added"):
                rows.append({"change": f"{name} added", "label": c["label"], "before": "", "after": "; ".join(c["added"])})
    for t in getattr(d, "tree_changes", []):
        rows.append({"change": f"decision tree changed (at {t['at']})", "label": "", "before": t["old"], "after": t["new"]})
    if d.decision_tree_changed and not getattr(d, "tree_changes", []):
        rows.append({"change": "decision tree changed", "label": "", "before": "", "after": ""})
    return rows


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

    human = _human(labels, task)
    versions = guidelines.versions(task)
    gold_t = None
    gold_version: str | None = None
    if gold is not None and len(gold):
        gold_t = gold.loc[gold["task"].astype(str) == task] if "task" in gold else gold
        gv = gold_t["guideline_version"].dropna().astype(str).unique() if "guideline_version" in gold_t else []
        gold_version = str(gv[0]) if len(gv) == 1 else versions[-1].version
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
        if gold_t is not None and gold_version is not None and len(sub):
            m = migrate_labels(sub, guidelines, gold_version, task=task)
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


def retired_usage(labels: pd.DataFrame, guidelines: Guidelines, task: str, grace_days: int = 7,
                  now: Any = None) -> pd.DataFrame:
    """Judgements made under a version superseded more than ``grace_days`` before they were made.

    Returns one row per such judgement's (guideline_version, version in force) with counts:
    version, in_force, judgements, annotators, first, last, future (how many of them carry a
    timestamp after ``now``, default the current time: a bad clock or import rather than an old
    guideline; validation reports those too). Judgements without a timestamp or a version are not
    judged here (validation reports them).
    """
    t = labels.loc[labels["task"].astype(str) == task]
    t = t.loc[t["created_at"].notna() & t["guideline_version"].notna()]
    versions = [v for v in guidelines.versions(task) if v.released_at is not None]
    cols = ["version", "in_force", "judgements", "annotators", "first", "last", "future"]
    if not len(t) or not versions:
        return pd.DataFrame(columns=cols)
    rel = pd.Series([pd.Timestamp(v.released_at) for v in versions], index=[v.version for v in versions])
    created = pd.to_datetime(t["created_at"], utc=True)
    # the version in force at each judgement: the last release at or before it (vectorized search)
    pos = np.searchsorted(rel.to_numpy(dtype="datetime64[ns]"),
                          created.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]"),
                          side="right") - 1
    in_force = np.where(pos >= 0, rel.index.to_numpy()[np.clip(pos, 0, None)], None)
    ver = t["guideline_version"].astype(str)
    # when each version stopped being in force: the next release's time (never for the latest)
    superseded_at = pd.Series(list(rel.iloc[1:]) + [pd.NaT], index=rel.index, dtype="datetime64[ns, UTC]")
    superseded = ver.map(superseded_at)
    late = (superseded.notna() & (created > superseded + pd.Timedelta(days=grace_days))).to_numpy()
    ver = ver.to_numpy()
    if not late.any():
        return pd.DataFrame(columns=cols)
    now_ts = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    now_ts = now_ts.tz_localize("UTC") if now_ts.tzinfo is None else now_ts.tz_convert("UTC")
    sub = pd.DataFrame({"version": ver[late], "in_force": in_force[late],
                        "annotator_id": t["annotator_id"].astype(str).to_numpy()[late],
                        "created_at": created.to_numpy()[late],
                        "future": (created > now_ts).to_numpy()[late]})
    out = sub.groupby(["version", "in_force"], sort=True).agg(
        judgements=("annotator_id", "size"), annotators=("annotator_id", "nunique"),
        first=("created_at", "min"), last=("created_at", "max"), future=("future", "sum")).reset_index()
    out["future"] = out["future"].astype("int64")
    return out[cols]


def retired_by_annotator(labels: pd.DataFrame, guidelines: Guidelines, task: str, grace_days: int = 7) -> pd.DataFrame:
    """Per annotator: judgements made under a retired version (see :func:`retired_usage`), most first."""
    t = labels.loc[labels["task"].astype(str) == task]
    rows = []
    for a, sub in t.groupby(t["annotator_id"].astype(str), sort=True, observed=True):
        r = retired_usage(sub, guidelines, task, grace_days)
        if len(r):
            rows.append({"annotator_id": a, "judgements": int(r["judgements"].sum()),
                         "versions": ", ".join(sorted(set(r["version"]))), "last": r["last"].max()})
    out = pd.DataFrame(rows, columns=["annotator_id", "judgements", "versions", "last"])
    return out.sort_values(["judgements", "annotator_id"], ascending=[False, True]).reset_index(drop=True)


def proposals_table(root: str | os.PathLike[str], task: str | None = None) -> pd.DataFrame:
    """Every proposal: id, state, kind, base -> next version, title, author, approvals counted, missing."""
    gov = Governance.load(root)
    entries = _entries(root)
    path = dlog.log_path(root)
    unreadable = not entries and path.exists() and path.stat().st_size > 0
    rows = []
    for p in list_proposals(root, task):
        s = status(p, root, entries=entries, gov=gov)
        if unreadable:
            s.state = "unknown (log unreadable)"
        rows.append({"id": p.id, "state": s.state, "kind": s.kind, "base": p.base_version or "(new)",
                     "next": s.released_as or (s.next_version if s.state == "open" else ""),
                     "title": p.title, "author": p.author, "created": p.created_at[:10],
                     "source": ", ".join(f"{k}: {v}" for k, v in p.source.items()),
                     "approved by": ", ".join(a["who"] for a in s.approvals),
                     "missing": ("" if s.state != "open" else
                                 "edited after it was filed: cannot be approved or released" if s.edited else
                                 f"out of date: based on {p.base_version}, the latest is {s.latest}" if s.latest else
                                 ("none: ready to release" if s.quorum.met else s.quorum.describe_missing())),
                     "rejected": "; ".join(f"{r['who']}: {r.get('why', '')}" for r in s.rejections),
                     "rationale": p.rationale})
    return pd.DataFrame(rows)


def log_status(root: str | os.PathLike[str]) -> dict[str, Any]:
    """The log's verification plus counts per action."""
    v = dlog.verify(root)
    entries = _entries(root)
    counts = pd.Series([e.get("action") for e in entries], dtype="object").value_counts().to_dict() if entries else {}
    text = str(v).replace(v.path, Path(v.path).name, 1)  # no machine paths in a rendered page
    return {**v.to_dict(), "entries": max(len(entries), v.entries), "verified_entries": v.entries if not v.ok else len(entries),
            "actions": {str(k): int(c) for k, c in counts.items()},
            "last_at": entries[-1]["at"] if entries else None, "text": text}


__all__ = ["timeline", "release_impact", "item_bootstrap_accuracy", "retired_usage", "retired_by_annotator", "proposals_table", "log_status"]


def findings(tl: pd.DataFrame, impact: pd.DataFrame, retired: pd.DataFrame, props: pd.DataFrame,
             log: dict[str, Any]) -> list[tuple[str, bool]]:
    """Plain sentences for the top of the report; ``(sentence, needs_attention)``."""
    out: list[tuple[str, bool]] = []
    if not log["ok"]:
        where = f"at line {log['first_bad_line']}" if log.get("first_bad_line") and not log.get("bad_file") else ""
        out.append((f"The decision log fails verification{' ' + where if where else ''}: {log['problem']}. "
                    "Nothing in it can be trusted until this is explained.", True))
    if len(tl):
        last = tl.iloc[-1]
        out.append((f"{len(tl)} releases; the latest is {last['version']} ({last['kind']}, "
                    f"{pd.Timestamp(last['released_at']).strftime('%Y-%m-%d')}): {last['title']}.", False))
    for rel, grp in (impact.groupby("release", sort=False) if len(impact) else []):
        b = grp.loc[grp["side"] == "before"].iloc[0]
        a = grp.loc[grp["side"] == "after"].iloc[0]
        parts = []
        if np.isfinite(a["alpha"]) and np.isfinite(b["alpha"]):
            overlap = not (a["alpha_low"] > b["alpha_high"] or b["alpha_low"] > a["alpha_high"])
            parts.append(f"agreement (alpha) {b['alpha']:.2f} -> {a['alpha']:.2f}"
                         + (" (95% intervals overlap: no clear change)" if overlap else " (95% intervals apart)"))
        if np.isfinite(a["accuracy"]) and np.isfinite(b["accuracy"]):
            overlap = not (a["acc_low"] > b["acc_high"] or b["acc_low"] > a["acc_high"])
            parts.append(f"accuracy on gold {b['accuracy']:.0%} -> {a['accuracy']:.0%}"
                         + (" (95% intervals overlap: no clear change)" if overlap else " (95% intervals apart)"))
        if parts:
            worse = (np.isfinite(a["alpha"]) and np.isfinite(b["alpha"]) and a["alpha_high"] < b["alpha_low"]) or \
                    (np.isfinite(a["accuracy"]) and np.isfinite(b["accuracy"]) and a["acc_high"] < b["acc_low"])
            out.append((f"Release {rel} ({grp['kind'].iloc[0]}), judgements under {b['version']} vs {a['version']}: "
                        + "; ".join(parts) + ".", bool(worse)))
    if len(retired):
        n = int(retired["judgements"].sum())
        vs = ", ".join(sorted(set(retired["version"])))
        fut = int(retired["future"].sum()) if "future" in retired else 0
        note = (f" {fut:,} of them {'is' if fut == 1 else 'are'} dated in the future: a bad timestamp more likely "
                "than an old guideline (see the validation report)." if fut else "")
        out.append((f"{n:,} judgements were made under a retired version ({vs}) after the grace period.{note}", True))
    if len(props):
        open_ = props.loc[props["state"] == "open"]
        ready = open_.loc[open_["missing"] == "none: ready to release"]
        if len(open_):
            out.append((f"{len(open_)} open proposals, {len(ready)} ready to release.", False))
    return out
