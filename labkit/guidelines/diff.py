"""What changed between two guideline versions, and the semantic-version kind the change requires.

Kinds (the first that applies wins):

* **major**: a label removed, renamed, merged into another or split in several: judgements made under
  the old version no longer mean the same thing and must be migrated or relabeled;
* **minor**: a label added, or the hierarchy (``parent``) or exclusivity (``exclusive_with``) changed:
  old judgements stay valid but the set of allowed answers changed;
* **patch**: wording only: definitions, examples, edge cases, the decision tree;
* **none**: identical content.

Renames, merges and splits are *declared* when the newer version's ``migration`` map (from the older
version) says so, and otherwise *detected*: an unexplained removed label and an unexplained added label
whose definitions are similar (word-sequence similarity >= :data:`RENAME_SIMILARITY`) or that share
positive examples are a rename; a removed label whose positive examples moved into a surviving label
is a merge; a removed label whose examples or wording are spread over two or more added labels is a
split. Each entry says ``how`` ("declared" or "detected") and detected ones carry their similarity.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from labkit.guidelines.model import GuidelineVersion, LabelDef

RENAME_SIMILARITY = 0.6
SPLIT_SIMILARITY = 0.5
KIND_ORDER = {"none": 0, "patch": 1, "minor": 2, "major": 3}


def similarity(a: str, b: str) -> float:
    """Similarity of two texts in [0, 1]: difflib's ratio over their lower-cased word sequences."""
    wa, wb = re.findall(r"\w+", a.lower()), re.findall(r"\w+", b.lower())
    if not wa and not wb:
        return 1.0
    return difflib.SequenceMatcher(None, wa, wb, autojunk=False).ratio()


@dataclass
class GuidelineDiff:
    """The difference ``old -> new``; ``kind`` is the semver bump it requires, ``reasons`` say why."""

    task: str
    old: str
    new: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    renamed: list[dict[str, Any]] = field(default_factory=list)   # {from, to, how, similarity?}
    merged: list[dict[str, Any]] = field(default_factory=list)    # {from: [...], into, how}
    split: list[dict[str, Any]] = field(default_factory=list)     # {from, into: [...], how}
    changed: list[dict[str, Any]] = field(default_factory=list)   # {label, field, old, new, added?, removed?}
    decision_tree_changed: bool = False
    tree_changes: list[dict[str, str]] = field(default_factory=list)  # {at, old, new}: see tree_changes()
    error_costs_changed: bool = False  # the review cost matrix (``error_costs``), labels mapped through renames
    kind: str = "none"
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "old": self.old, "new": self.new, "kind": self.kind,
                "added": self.added, "removed": self.removed, "renamed": self.renamed,
                "merged": self.merged, "split": self.split, "changed": self.changed,
                "decision_tree_changed": self.decision_tree_changed, "tree_changes": self.tree_changes,
                "error_costs_changed": self.error_costs_changed, "reasons": self.reasons}

    def summary(self) -> str:
        """A readable, line-per-change summary (what ``labkit guidelines diff`` prints)."""
        lines = [f"{self.task} {self.old} -> {self.new}: {self.kind} change"]
        for n in self.added:
            lines.append(f"  + added label {n}")
        for n in self.removed:
            lines.append(f"  - removed label {n}")
        for r in self.renamed:
            sim = f", similarity {r['similarity']:.2f}" if "similarity" in r else ""
            lines.append(f"  ~ renamed {r['from']} -> {r['to']} ({r['how']}{sim})")
        for m in self.merged:
            lines.append(f"  ~ merged {', '.join(m['from'])} -> {m['into']} ({m['how']})")
        for s in self.split:
            lines.append(f"  ~ split {s['from']} -> {', '.join(s['into'])} ({s['how']})")
        for c in self.changed:
            if c["field"] == "definition":
                lines.append(f"  * {c['label']}: definition\n      was: {c['old']}\n      now: {c['new']}")
            else:
                parts = []
                if c.get("added"):
                    parts.append("added " + "; ".join(map(repr, c["added"])))
                if c.get("removed"):
                    parts.append("removed " + "; ".join(map(repr, c["removed"])))
                if not parts:
                    parts.append(f"{c['old']!r} -> {c['new']!r}")
                lines.append(f"  * {c['label']}: {c['field']}: {', '.join(parts)}")
        if self.decision_tree_changed:
            lines.append("  * decision tree changed")
            for t in self.tree_changes:
                lines.append(f"      at {t['at']}\n        was: {t['old'] or '(nothing)'}\n        now: {t['new'] or '(nothing)'}")
        if self.error_costs_changed:
            lines.append("  * error costs changed")
        if self.reasons:
            lines.append("  requires " + self.kind + ": " + "; ".join(self.reasons))
        return "\n".join(lines)


def _declared(old: GuidelineVersion, new: GuidelineVersion) -> tuple[dict[str, str], dict[str, list[str]], list[str]]:
    mig = new.migration or {}
    if not isinstance(mig, dict) or str(mig.get("from")) != old.version:
        return {}, {}, []
    old_names, new_names = set(old.label_names), set(new.label_names)
    mp = {str(k): str(v) for k, v in (mig.get("map") or {}).items() if k in old_names and v in new_names}
    sp = {str(k): [str(x) for x in v] for k, v in (mig.get("split") or {}).items() if k in old_names}
    rel = [str(x) for x in (mig.get("relabel") or []) if x in old_names]
    return mp, sp, rel


def diff_versions(old: GuidelineVersion, new: GuidelineVersion) -> GuidelineDiff:
    """Compare two versions of one task (see the module docstring for the rules).

    Examples
    --------
    >>> from labkit.guidelines.model import parse_version
    >>> a = parse_version({"task": "t", "version": "1.0.0", "labels": [
    ...     {"name": "ok", "definition": "Fine."}, {"name": "rude", "definition": "Insults someone."}]})
    >>> b = parse_version({"task": "t", "version": "2.0.0", "labels": [
    ...     {"name": "ok", "definition": "Fine."}, {"name": "insult", "definition": "Insults someone."}]})
    >>> d = diff_versions(a, b)
    >>> d.kind, d.renamed
    ('major', [{'from': 'rude', 'to': 'insult', 'how': 'detected', 'similarity': 1.0}])
    """
    d = GuidelineDiff(task=new.task, old=old.version, new=new.version)
    old_names, new_names = list(old.label_names), list(new.label_names)
    mp, sp, rel = _declared(old, new)
    correspond: dict[str, str] = {}  # old name -> new name (same, renamed or merged into)
    explained_old: set[str] = set()
    explained_new: set[str] = set()

    # declared by the migration map
    targets: dict[str, list[str]] = {}
    for s, t in mp.items():
        targets.setdefault(t, []).append(s)
    for t, sources in targets.items():
        movers = [s for s in sources if s != t]
        if not movers:
            continue
        if len(sources) >= 2 or t in old_names:
            srcs = sources if t in sources or t not in old_names else sources + [t]
            d.merged.append({"from": sorted(set(srcs), key=old_names.index), "into": t, "how": "declared"})
        else:
            d.renamed.append({"from": movers[0], "to": t, "how": "declared"})
        for s in sources:
            correspond[s] = t
            explained_old.add(s)
        if t not in old_names:
            explained_new.add(t)
    for s, into in sp.items():
        d.split.append({"from": s, "into": into, "how": "declared"})
        explained_old.add(s)
        explained_new.update(into)
    for n in old_names:
        if n in new_names and n not in explained_old:
            correspond[n] = n

    # detected from content
    gone = [n for n in old_names if n not in new_names and n not in explained_old and n not in rel]
    fresh = [n for n in new_names if n not in old_names and n not in explained_new]
    for r in list(gone):  # split: its examples or wording spread over two or more new labels
        ro = old.label(r)
        parts = [a for a in fresh
                 if set(ro.positive_examples) & set(new.label(a).positive_examples)
                 or similarity(ro.definition, new.label(a).definition) >= SPLIT_SIMILARITY]
        if len(parts) >= 2:
            d.split.append({"from": r, "into": parts, "how": "detected"})
            gone.remove(r)
            fresh = [a for a in fresh if a not in parts]
    pairs = sorted(((_label_sim(old.label(r), new.label(a)), r, a) for r in gone for a in fresh), reverse=True)
    for sim, r, a in pairs:  # rename: best mutual matches first
        if r in gone and a in fresh and sim >= RENAME_SIMILARITY:
            d.renamed.append({"from": r, "to": a, "how": "detected", "similarity": round(sim, 3)})
            correspond[r] = a
            gone.remove(r)
            fresh.remove(a)
    for r in list(gone):  # merge: its positive examples moved into a surviving label
        ro = old.label(r)
        for k in new_names:
            if k in fresh or k not in old_names:
                continue
            moved = set(ro.positive_examples) & (set(new.label(k).positive_examples) - set(old.label(k).positive_examples))
            if moved:
                d.merged.append({"from": [k, r], "into": k, "how": "detected", "examples_moved": sorted(moved)})
                correspond[r] = k
                gone.remove(r)
                break
    d.removed = gone + [n for n in rel if n not in gone]
    d.added = fresh

    # field changes on corresponding labels (references mapped through the correspondence)
    for o, n in correspond.items():
        if n in [m["into"] for m in d.merged] and o != n and n in old_names:
            continue  # a label merged into an existing one: compare the survivor with itself only
        lo, ln = old.label(o), new.label(n)
        d.changed.extend(_label_changes(lo, ln, correspond))
    order = {n: i for i, n in enumerate(new_names)}
    d.changed.sort(key=lambda c: order.get(c["label"], len(order)))
    old_tree, new_tree = _tree_norm(old.decision_tree, correspond), _tree_norm(new.decision_tree, {})
    d.decision_tree_changed = old_tree != new_tree
    d.tree_changes = tree_changes(old.decision_tree, new.decision_tree, correspond) if d.decision_tree_changed else []
    d.error_costs_changed = _costs_norm(old.meta.get("error_costs"), correspond) != _costs_norm(new.meta.get("error_costs"), {})
    _classify(d)
    return d


def _costs_norm(raw: Any, corr: dict[str, str]) -> list[tuple[str, str, float]]:
    """``error_costs`` as sorted ``(true_label, read_as, cost)`` with labels mapped through ``corr``."""
    if not isinstance(raw, list):
        return []
    out = []
    for e in raw:
        if isinstance(e, dict) and {"true_label", "read_as", "cost"} <= set(e):
            t, r = str(e["true_label"]), str(e["read_as"])
            try:
                out.append((corr.get(t, t), corr.get(r, r), float(e["cost"])))
            except (TypeError, ValueError):
                out.append((corr.get(t, t), corr.get(r, r), float("nan")))
    return sorted(out)


def _label_sim(a: LabelDef, b: LabelDef) -> float:
    sim = similarity(a.definition, b.definition)
    if set(a.positive_examples) & set(b.positive_examples):
        sim = max(sim, 0.5 + 0.5 * len(set(a.positive_examples) & set(b.positive_examples))
                  / max(len(a.positive_examples), 1))
    return sim


def _label_changes(lo: LabelDef, ln: LabelDef, corr: dict[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if lo.definition != ln.definition:
        out.append({"label": ln.name, "field": "definition", "old": lo.definition, "new": ln.definition,
                    "similarity": round(similarity(lo.definition, ln.definition), 3)})
    for fname, a, b in (("examples.positive", lo.positive_examples, ln.positive_examples),
                        ("examples.negative", lo.negative_examples, ln.negative_examples),
                        ("edge_cases", lo.edge_cases, ln.edge_cases)):
        if list(a) != list(b):
            out.append({"label": ln.name, "field": fname, "old": list(a), "new": list(b),
                        "added": [x for x in b if x not in a], "removed": [x for x in a if x not in b]})
    if lo.exemplars != ln.exemplars:
        a_t = [e.text for e in lo.exemplars]
        b_t = [e.text for e in ln.exemplars]
        out.append({"label": ln.name, "field": "exemplars", "old": a_t, "new": b_t,
                    "added": [x for x in b_t if x not in a_t], "removed": [x for x in a_t if x not in b_t]})
    po = corr.get(lo.parent, lo.parent) if lo.parent else None
    if po != ln.parent:
        out.append({"label": ln.name, "field": "parent", "old": lo.parent, "new": ln.parent})
    eo = {corr.get(x, x) for x in lo.exclusive_with} - {ln.name}
    en = set(ln.exclusive_with)
    if eo != en:
        out.append({"label": ln.name, "field": "exclusive_with", "old": list(lo.exclusive_with),
                    "new": list(ln.exclusive_with), "added": sorted(en - eo), "removed": sorted(eo - en)})
    return out


def _branch(key: Any) -> str:
    return {True: "yes", False: "no"}.get(key, str(key)) if isinstance(key, bool) else str(key)


def render_tree(tree: Any) -> str:
    """A decision (sub)tree on one line: ``Q? yes: spam; no: [Q2? yes: hate; no: ok]``."""
    if isinstance(tree, dict):
        if "label" in tree and isinstance(tree["label"], str) and "question" not in tree:
            return tree["label"]
        branches = [f"{_branch(k)}: {_wrap(v)}" for k, v in tree.items() if k not in ("question", "label")]
        q = str(tree.get("question", "")).strip()
        return (q + (" " if q and branches else "") + "; ".join(branches)).strip()
    if tree is None:
        return ""
    return str(tree)


def _wrap(tree: Any) -> str:
    text = render_tree(tree)
    return f"[{text}]" if isinstance(tree, dict) and "question" in tree else text


def tree_changes(old: Any, new: Any, corr: dict[str, str] | None = None,
                 at: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """Where two decision trees differ: ``{at, old, new}`` per changed question, leaf or branch.

    ``at`` names the node by the answers leading to it (``"top"``, ``"yes"``, ``"no > yes"``). A
    question reworded in place is reported alone; a branch that became something else (a leaf replaced
    by a question, a branch added or dropped) is reported whole, rendered by :func:`render_tree`.
    ``corr`` maps old label names to new ones (renames, merges): a leaf that only follows a rename is
    not a change, and the old side is shown with its own names.

    >>> a = {"question": "Advert?", "yes": {"label": "spam"}, "no": {"label": "ok"}}
    >>> b = {"question": "Advert or link?", "yes": {"question": "Own work?", "yes": {"label": "promo"},
    ...      "no": {"label": "spam"}}, "no": {"label": "ok"}}
    >>> for c in tree_changes(a, b): print(c)
    {'at': 'top', 'old': 'Advert?', 'new': 'Advert or link?'}
    {'at': 'yes', 'old': 'spam', 'new': 'Own work? yes: promo; no: spam'}
    """
    corr = corr or {}
    where = " > ".join(at) or "top"
    if _tree_norm(old, corr) == _tree_norm(new, {}):
        return []
    if isinstance(old, dict) and isinstance(new, dict) and ("question" in old) == ("question" in new):
        out: list[dict[str, str]] = []
        if old.get("question") != new.get("question"):
            out.append({"at": where, "old": str(old.get("question") or ""), "new": str(new.get("question") or "")})
        lo = old.get("label")
        if (corr.get(lo, lo) if isinstance(lo, str) else lo) != new.get("label"):
            out.append({"at": where, "old": str(lo or ""), "new": str(new.get("label") or "")})
        keys = [k for k in dict.fromkeys([*old, *new]) if k not in ("question", "label")]
        for k in keys:
            out.extend(tree_changes(old.get(k), new.get(k), corr, at + (_branch(k),)))
        return out
    return [{"at": where, "old": render_tree(old), "new": render_tree(new)}]


def _tree_norm(tree: Any, corr: dict[str, str]) -> Any:
    if isinstance(tree, dict):
        return {str(k): (corr.get(v, v) if k == "label" and isinstance(v, str) else _tree_norm(v, corr))
                for k, v in tree.items()}
    if isinstance(tree, list):
        return [_tree_norm(v, corr) for v in tree]
    return tree


def _classify(d: GuidelineDiff) -> None:
    reasons: list[tuple[str, str]] = []
    for n in d.removed:
        reasons.append(("major", f"label {n} removed"))
    for r in d.renamed:
        reasons.append(("major", f"label {r['from']} renamed to {r['to']}"))
    for m in d.merged:
        reasons.append(("major", f"{', '.join(x for x in m['from'] if x != m['into'])} merged into {m['into']}"))
    for s in d.split:
        reasons.append(("major", f"label {s['from']} split into {', '.join(s['into'])}"))
    for n in d.added:
        reasons.append(("minor", f"label {n} added"))
    for c in d.changed:
        if c["field"] in ("parent", "exclusive_with"):
            reasons.append(("minor", f"{c['label']}.{c['field']} changed"))
    for c in d.changed:
        if c["field"] not in ("parent", "exclusive_with"):
            reasons.append(("patch", f"{c['label']}.{c['field']} reworded"))
    if d.decision_tree_changed:
        reasons.append(("patch", "decision tree changed"))
    if d.error_costs_changed:
        reasons.append(("patch", "error costs changed"))
    d.kind = max((k for k, _ in reasons), key=KIND_ORDER.__getitem__, default="none")
    d.reasons = [why for k, why in reasons if k == d.kind]


def required_kind(old: GuidelineVersion, new: GuidelineVersion) -> str:
    """``major``, ``minor``, ``patch`` or ``none``: the bump ``old -> new`` requires."""
    return diff_versions(old, new).kind


def check_semver(old: GuidelineVersion, new: GuidelineVersion) -> str | None:
    """A message if ``new``'s number is not ``old`` bumped by the kind its content requires, else None."""
    kind = required_kind(old, new)
    if kind == "none":
        return f"{new.task} {new.version} has the same content as {old.version}"
    expected = str(old.semver.bump(kind))
    if new.version != expected:
        return (f"{new.task} {old.version} -> {new.version} is a {kind} change "
                f"({'; '.join(diff_versions(old, new).reasons)}): the version must be {expected}")
    return None
