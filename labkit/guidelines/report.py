"""What the governance report computes (``notebooks/governance_report.ipynb`` only displays it).

* :func:`timeline`: every release with its kind, proposal, author, approvals (with roles and dates),
  rationale and the changes (from :func:`~labkit.guidelines.diff.diff_versions`);
* (each release's impact on agreement and accuracy needs :mod:`labkit.stats`, so it lives one layer up,
  in :func:`labkit.reports.governance.release_impact`);
* :func:`retired_usage`: judgements made under a version that had been superseded for more than
  ``retire_grace_days`` (governance.yaml) when they were made;
* :func:`proposals_table`: every proposal with its state and missing approvals;
* :func:`log_status`: the decision log's verification.

No Jupyter import here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
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


def timeline(root: str | os.PathLike[str], task: str, who: Callable[[str], str] = str) -> pd.DataFrame:
    """One row per released version, oldest first; ``who`` maps a person's id to what is shown
    (a pseudonym on rendered pages).

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
        author = next((who(e["who"]) for e in es if e["action"] == "propose"), "")
        counted = set(v.meta.get("approved_by") or [])
        approvals = [f"{who(e['who'])} ({', '.join(gov.members.get(e['who'], ('not a member',)))}, {e['at'][:10]})"
                     + ("" if e["who"] in counted else " - not counted")
                     for e in es if e["action"] == "approve"]
        releaser = next((who(e["who"]) for e in es if e["action"] == "release"), "")
        changes = (change_rows(diff_versions(prev, v)) if prev is not None else
                   [{"change": "first release", "label": ", ".join(v.label_names), "before": "", "after": ""}])
        rows.append({"version": v.version, "released_at": v.released_at, "kind": v.change_kind or "",
                     "proposal": pid or "", "title": title, "author": author, "approvals": approvals,
                     "released_by": releaser,
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


def _people_in(text: str, ids: Any, who: Callable[[str], str]) -> str:
    """``text`` with each person id in ``ids`` replaced by ``who(id)`` (longest ids first)."""
    import re

    if who is str:
        return text
    for i in sorted({str(x) for x in ids if x}, key=len, reverse=True):
        text = re.sub(rf"(?<![\w-]){re.escape(i)}(?![\w-])", who(i), text)
    return text


_PERSON_KEYS = {"participant", "annotator", "annotator_id", "who", "by", "author", "facilitator"}


def proposals_table(root: str | os.PathLike[str], task: str | None = None, who: Callable[[str], str] = str) -> pd.DataFrame:
    """Every proposal: id, state, kind, base -> next version, title, author, approvals counted, missing.
    ``who`` maps a person's id to what is shown (a pseudonym on rendered pages)."""
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
                     "title": p.title, "author": who(p.author), "created": p.created_at[:10],
                     "source": ", ".join(f"{k}: {who(str(v)) if k in _PERSON_KEYS else v}" for k, v in p.source.items()),
                     "approved by": ", ".join(who(a["who"]) for a in s.approvals),
                     "missing": ("" if s.state != "open" else
                                 "edited after it was filed: cannot be approved or released" if s.edited else
                                 f"out of date: based on {p.base_version}, the latest is {s.latest}" if s.latest else
                                 ("none: ready to release" if s.quorum.met else
                                  _people_in(s.quorum.describe_missing(), [*gov.members, p.author,
                                             *(a["who"] for a in s.approvals)], who))),
                     "rejected": "; ".join(f"{who(r['who'])}: {r.get('why', '')}" for r in s.rejections),
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


__all__ = ["timeline", "retired_usage", "retired_by_annotator", "proposals_table", "log_status"]


def findings(tl: pd.DataFrame, impact: pd.DataFrame, retired: pd.DataFrame, props: pd.DataFrame,
             log: dict[str, Any]) -> list[tuple[str, bool]]:
    """Plain sentences for the top of the report; ``(sentence, needs_attention)``."""
    out: list[tuple[str, bool]] = []
    if not log["ok"]:
        where = f"at line {log['first_bad_line']}" if log.get("first_bad_line") and not log.get("bad_file") else ""
        out.append((f"The decision log fails verification{' ' + where if where else ''}: {log['problem']}. "
                    "Nothing in it can be trusted until this is explained.", True))
    if log.get("signing") == "off":
        out.append(("UNSIGNED mode: governance.yaml lists no signing keys (or says signing: off), so the log records "
                    "who decided as free text and nobody's identity is verified. Fine for a single-person trial; "
                    "list keys (`labkit keys generate`) before anyone relies on these approvals.", True))
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
