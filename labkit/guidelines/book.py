"""The guideline book: every released version as one self-contained, printable HTML page.

A page holds, per label (with an anchor ``#label-<name>`` and an entry in the table of contents): the
definition, positive and negative examples, edge cases, hierarchy and exclusivity, and the exemplars
promoted from calibration sessions and adjudications with their rationale and who decided (a member
id or a pseudonym). The decision tree is drawn as a flowchart in inline SVG built here (no graphviz,
no script, no CDN): one box per question, one pill per label leaf, edges labelled with the answer.
"What changed" pages (:func:`render_changes`) say in words what differs between two versions, with
the examples and exemplars that were added or removed.

Nothing here imports pandas, Jupyter or GX. The pages reference no external URL (a test checks).
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit.guidelines.diff import GuidelineDiff, diff_versions, render_tree
from labkit.guidelines.model import Guidelines, GuidelineVersion, LabelDef

__all__ = ["flowchart_svg", "tree_nodes", "render_version", "render_changes", "change_rows", "write_book", "anchor",
           "changes_filename", "version_filename"]

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;max-width:60em;margin:1.5em auto;
padding:0 1.2em;color:#1d1d1d;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #3b6ea5;padding-bottom:.15em;margin-top:1.6em}
h3{margin:1.2em 0 .3em}.meta{color:#555}.toc{columns:2;background:#f3f7fb;padding:.6em 1.4em;border-radius:4px}
.toc li{break-inside:avoid}.def{font-size:1.05em;border-left:4px solid #3b6ea5;padding:.2em .8em;background:#fafcff}
.ex{display:grid;grid-template-columns:1fr 1fr;gap:1em}.ex div{border:1px solid #e3e3e3;border-radius:4px;padding:.3em .8em}
.pos h4{color:#1d6b2f}.neg h4{color:#8a1c1c}h4{margin:.3em 0}.rel{color:#444;font-size:.95em}
.exemplar{border:1px solid #e3e3e3;border-left:4px solid #b5651d;border-radius:4px;padding:.4em .8em;margin:.5em 0}
.exemplar blockquote{margin:.2em 0;padding-left:.6em;border-left:3px solid #ccc;white-space:pre-wrap}
.exemplar .who{color:#555;font-size:.9em}.chg li{margin:.25em 0}.add{color:#1d6b2f}.del{color:#8a1c1c}
svg.flow{display:block;margin:0 auto}svg.flow text{font-family:inherit}.flowbox{overflow-x:auto;border:1px solid #eee;padding:.5em}
.note{color:#555;font-style:italic}
@media print{body{max-width:none;margin:0;font-size:10.5pt}.toc{columns:2}a{color:inherit;text-decoration:none}
section.label{break-inside:avoid}h2{break-after:avoid}.flowbox{border:none;overflow:visible}nav.versions{display:none}}
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def anchor(label: str) -> str:
    """The page anchor of a label (stable, URL-safe, distinct for distinct names)."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", label).strip("-") or "x"
    return f"label-{slug}-{sum(map(ord, label)) % 997}" if slug != label else f"label-{slug}"


def version_filename(task: str, version: str) -> str:
    return f"{_safe(task)}-{_safe(version)}.html"


def changes_filename(task: str, old: str, new: str) -> str:
    return f"{_safe(task)}-changes-{_safe(old)}-to-{_safe(new)}.html"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


# ------------------------------------------------------------------------------------------ flowchart
@dataclass
class _Node:
    kind: str          # "question" or "label"
    text: str
    edge: str          # the answer leading here ("" for the root)
    children: list[_Node]
    x: float = 0.0
    y: float = 0.0
    w: float = 0.0
    h: float = 0.0


def _build(tree: Any, edge: str = "") -> _Node:
    if isinstance(tree, dict) and "question" in tree:
        kids = [_build(v, str(k)) for k, v in tree.items() if k not in ("question", "label")]
        return _Node("question", str(tree["question"]), edge, kids)
    if isinstance(tree, dict) and "label" in tree:
        return _Node("label", str(tree["label"]), edge, [])
    return _Node("label", render_tree(tree), edge, [])


def tree_nodes(tree: Any) -> list[tuple[str, str]]:
    """``(kind, text)`` of every node of a decision tree, depth first (questions and label leaves)."""
    out: list[tuple[str, str]] = []

    def walk(n: _Node) -> None:
        out.append((n.kind, n.text))
        for c in n.children:
            walk(c)

    if tree:
        walk(_build(tree))
    return out


def _wrap(text: str, width: int) -> list[str]:
    words, lines, cur = text.split(), [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    if cur:
        lines.append(cur)
    return lines or [""]


_CH = 7.0     # average glyph width at 12px
_LINE = 16.0
_GAP_X = 24.0
_GAP_Y = 46.0


def _measure(n: _Node) -> None:
    wrap = 28 if n.kind == "question" else 22
    lines = _wrap(n.text, wrap)
    n.w = max(len(s) for s in lines) * _CH + 24
    n.h = len(lines) * _LINE + 14
    for c in n.children:
        _measure(c)


def _width(n: _Node) -> float:
    if not n.children:
        return n.w
    return max(n.w, sum(_width(c) for c in n.children) + _GAP_X * (len(n.children) - 1))


def _place(n: _Node, left: float, top: float) -> None:
    total = _width(n)
    n.x = left + total / 2
    n.y = top
    if n.children:
        kids_w = sum(_width(c) for c in n.children) + _GAP_X * (len(n.children) - 1)
        x = left + (total - kids_w) / 2
        row_h = max(n.h for n in [n])
        for c in n.children:
            _place(c, x, top + row_h + _GAP_Y)
            x += _width(c) + _GAP_X


def _all(n: _Node) -> list[_Node]:
    out = [n]
    for c in n.children:
        out.extend(_all(c))
    return out


def flowchart_svg(tree: Any, *, label_anchors: bool = True) -> str:
    """The decision tree as an inline SVG flowchart (top-down), or "" for no tree.

    Each question is a rounded box (``class="q"``), each leaf a pill (``class="leaf"``) linking to the
    label's section; edges carry the answer (``yes``/``no``/...). Layout: a leaf takes its own width,
    a question is centred over its children.
    """
    if not tree:
        return ""
    root = _build(tree)
    _measure(root)
    _place(root, 10.0, 10.0)
    nodes = _all(root)
    width = _width(root) + 20
    height = max(n.y + n.h for n in nodes) + 10
    parts = [f'<svg class="flow" width="{width:.0f}" height="{height:.0f}" '
             f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="decision tree flowchart">']
    for n in nodes:  # edges first, under the boxes
        for c in n.children:
            x1, y1, x2, y2 = n.x, n.y + n.h, c.x, c.y
            parts.append(f'<path class="edge" d="M{x1:.1f},{y1:.1f} C{x1:.1f},{y1 + 22:.1f} {x2:.1f},{y2 - 22:.1f} '
                         f'{x2:.1f},{y2 - 2:.1f}" fill="none" stroke="#777" stroke-width="1.4"/>')
            lx, ly = (x1 + x2) / 2, (y1 + y2) / 2
            colour = {"yes": "#1d6b2f", "no": "#8a1c1c"}.get(c.edge, "#333")
            parts.append(f'<text class="answer" x="{lx:.1f}" y="{ly:.1f}" font-size="11" text-anchor="middle" '
                         f'fill="{colour}" font-weight="bold" paint-order="stroke" stroke="#fff" stroke-width="3">'
                         f'{esc(c.edge)}</text>')
    for n in nodes:
        lines = _wrap(n.text, 28 if n.kind == "question" else 22)
        x0, y0 = n.x - n.w / 2, n.y
        if n.kind == "question":
            box = (f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{n.w:.1f}" height="{n.h:.1f}" rx="6" fill="#f3f7fb" '
                   f'stroke="#3b6ea5" stroke-width="1.5"/>')
        else:
            box = (f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{n.w:.1f}" height="{n.h:.1f}" rx="{n.h / 2:.1f}" '
                   f'fill="#fdf5ec" stroke="#b5651d" stroke-width="1.5"/>')
        texts = "".join(f'<text x="{n.x:.1f}" y="{y0 + 7 + _LINE * (i + 0.75):.1f}" font-size="12" text-anchor="middle"'
                        f'{" font-weight=&quot;bold&quot;" if n.kind == "label" else ""}>{esc(s)}</text>'
                        for i, s in enumerate(lines))
        texts = texts.replace("&quot;bold&quot;", '"bold"')
        inner = f'<g class="{"q" if n.kind == "question" else "leaf"}">{box}{texts}</g>'
        if n.kind == "label" and label_anchors:
            inner = f'<a href="#{esc(anchor(n.text))}">{inner}</a>'
        parts.append(inner)
    parts.append("</svg>")
    return "".join(parts)


# ------------------------------------------------------------------------------------------ pages
def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>'
            f"<body>{body}</body></html>\n")


def _list(items: Any, empty: str = "none") -> str:
    items = list(items)
    if not items:
        return f'<p class="note">{esc(empty)}</p>'
    return "<ul>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>"


def _label_html(lab: LabelDef, v: GuidelineVersion) -> str:
    children = [x.name for x in v.labels if x.parent == lab.name]
    rel = []
    if lab.parent:
        rel.append(f'a kind of <a href="#{esc(anchor(lab.parent))}">{esc(lab.parent)}</a>')
    if children:
        rel.append("covers " + ", ".join(f'<a href="#{esc(anchor(c))}">{esc(c)}</a>' for c in children))
    excl = sorted({o for p in v.exclusive_pairs() if lab.name in p for o in p if o != lab.name})
    if excl:
        rel.append("never together with " + ", ".join(f'<a href="#{esc(anchor(c))}">{esc(c)}</a>' for c in excl))
    parts = [f'<section class="label" id="{esc(anchor(lab.name))}"><h3>{esc(lab.name)}</h3>',
             f'<p class="def">{esc(lab.definition)}</p>']
    if rel:
        parts.append('<p class="rel">' + "; ".join(rel) + ".</p>")
    parts.append('<div class="ex"><div class="pos"><h4>Is ' + esc(lab.name) + "</h4>"
                 + _list(lab.positive_examples, "no positive examples yet") + '</div><div class="neg"><h4>Is not '
                 + esc(lab.name) + "</h4>" + _list(lab.negative_examples, "no negative examples yet") + "</div></div>")
    parts.append("<h4>Edge cases</h4>" + _list(lab.edge_cases, "no edge cases recorded"))
    if lab.exemplars:
        parts.append("<h4>Exemplars from practice</h4>")
        for e in lab.exemplars:
            verdict = f"is {lab.name}" if e.polarity == "positive" else f"is not {lab.name}"
            who = ", ".join(x for x in (f"decided by {e.decided_by}" if e.decided_by else "", e.source) if x)
            parts.append(f'<div class="exemplar"><blockquote>{esc(e.text)}</blockquote>'
                         f'<p><strong>{esc(verdict)}</strong>: {esc(e.rationale)}</p>'
                         + (f'<p class="who">{esc(who)}</p>' if who else "") + "</div>")
    parts.append("</section>")
    return "".join(parts)


def render_version(v: GuidelineVersion, *, versions: list[str] | None = None,
                   changes_link: str | None = None) -> str:
    """One version as a whole HTML page (table of contents, labels, flowchart, links to siblings)."""
    released = v.released_at.strftime("%Y-%m-%d") if v.released_at else "not released"
    nav = ""
    if versions:
        links = [f'<a href="{esc(version_filename(v.task, x))}">{esc(x)}</a>' if x != v.version else f"<strong>{esc(x)}</strong>"
                 for x in versions]
        nav = '<nav class="versions">Versions: ' + " · ".join(links) + "</nav>"
    toc = ('<nav class="toc"><strong>Contents</strong><ol>'
           + "".join(f'<li><a href="#{esc(anchor(lab.name))}">{esc(lab.name)}</a></li>' for lab in v.labels)
           + ('<li><a href="#decision-tree">Decision tree</a></li>' if v.decision_tree else "")
           + "</ol></nav>")
    meta = (f'<p class="meta">Version {esc(v.version)} · released {esc(released)}'
            + (f" · {esc(v.change_kind)} change from {esc(v.previous)}" if v.previous else "")
            + "</p>")
    why = f"<p>{esc(v.rationale)}</p>" if v.rationale else ""
    chg = f'<p><a href="{esc(changes_link)}">What changed since {esc(v.previous)}</a></p>' if changes_link else ""
    labels = "".join(_label_html(lab, v) for lab in v.labels)
    tree = ""
    if v.decision_tree:
        tree = ('<h2 id="decision-tree">Decision tree</h2><p>Start at the top and answer each question; the label '
                "at the end is the one to give. Each label links to its definition.</p>"
                f'<div class="flowbox">{flowchart_svg(v.decision_tree)}</div>')
    else:
        tree = '<h2 id="decision-tree">Decision tree</h2><p class="note">This version has no decision tree.</p>'
    body = (f"<h1>{esc(v.task)} labeling guideline</h1>{meta}{nav}{why}{chg}{toc}<h2>Labels</h2>{labels}{tree}")
    return _page(f"{v.task} guideline {v.version}", body)


def _changes_html(d: GuidelineDiff, new: GuidelineVersion) -> str:
    items: list[str] = []
    page = version_filename(new.task, new.version)
    for n in d.added:
        items.append(f'<li class="add">New label <a href="{esc(page)}#{esc(anchor(n))}">{esc(n)}</a>: '
                     f"{esc(new.label(n).definition)}</li>")
    for n in d.removed:
        items.append(f'<li class="del">Label <strong>{esc(n)}</strong> was removed.</li>')
    for r in d.renamed:
        items.append(f"<li>Label <strong>{esc(r['from'])}</strong> is now called <strong>{esc(r['to'])}</strong>.</li>")
    for m in d.merged:
        items.append(f"<li>Labels {esc(', '.join(m['from']))} were merged into <strong>{esc(m['into'])}</strong>.</li>")
    for s in d.split:
        items.append(f"<li>Label <strong>{esc(s['from'])}</strong> was split into {esc(', '.join(s['into']))}.</li>")
    names = {"definition": "definition", "examples.positive": "positive examples",
             "examples.negative": "negative examples", "edge_cases": "edge cases", "exemplars": "exemplars",
             "parent": "parent label", "exclusive_with": "labels it excludes"}
    for c in d.changed:
        what = names.get(c["field"], c["field"])
        if c["field"] == "definition":
            items.append(f"<li><strong>{esc(c['label'])}</strong>: the definition changed.<br>"
                         f'<span class="del">was: {esc(c["old"])}</span><br><span class="add">now: {esc(c["new"])}</span></li>')
            continue
        sub = "".join(f'<li class="add">added: {esc(x)}</li>' for x in c.get("added") or [])
        sub += "".join(f'<li class="del">removed: {esc(x)}</li>' for x in c.get("removed") or [])
        if not sub:
            sub = f"<li>was {esc(c['old'])}, now {esc(c['new'])}</li>"
        items.append(f"<li><strong>{esc(c['label'])}</strong>: {esc(what)} changed.<ul>{sub}</ul></li>")
    for t in d.tree_changes:
        items.append(f"<li>Decision tree at {esc(t['at'])}: "
                     f'<span class="del">was {esc(t["old"] or "(nothing)")}</span>; '
                     f'<span class="add">now {esc(t["new"] or "(nothing)")}</span>.</li>')
    if not items:
        return '<p class="note">Nothing changed in the labels, examples or decision tree.</p>'
    return '<ul class="chg">' + "".join(items) + "</ul>"


def change_rows(old: GuidelineVersion, new: GuidelineVersion) -> list[dict[str, str]]:
    """What changed from ``old`` to ``new`` as plain rows ``{change, was, now}`` (for tables in reports)."""
    d = diff_versions(old, new)
    rows: list[dict[str, str]] = []
    for n in d.added:
        rows.append({"change": f"new label {n}", "was": "", "now": new.label(n).definition})
    for n in d.removed:
        rows.append({"change": f"label {n} removed", "was": n, "now": ""})
    for r in d.renamed:
        rows.append({"change": "label renamed", "was": str(r["from"]), "now": str(r["to"])})
    for m in d.merged:
        rows.append({"change": "labels merged", "was": ", ".join(m["from"]), "now": str(m["into"])})
    for sp in d.split:
        rows.append({"change": "label split", "was": str(sp["from"]), "now": ", ".join(sp["into"])})
    for c in d.changed:
        if c["field"] == "definition":
            rows.append({"change": f"{c['label']}: definition", "was": c["old"], "now": c["new"]})
        else:
            rows.append({"change": f"{c['label']}: {c['field'].replace('_', ' ').replace('.', ' ')}",
                         "was": "; ".join(map(str, c.get("removed") or [])),
                         "now": "; ".join(map(str, c.get("added") or [])) or str(c.get("new", ""))})
    for t in d.tree_changes:
        rows.append({"change": f"decision tree at {t['at']}", "was": t["old"], "now": t["new"]})
    return rows


def render_changes(old: GuidelineVersion, new: GuidelineVersion) -> str:
    """"What changed" from ``old`` to ``new`` in words, with the examples added and removed, as a page."""
    d = diff_versions(old, new)
    steps = f"{esc(old.version)} → {esc(new.version)}"
    body = (f"<h1>What changed in the {esc(new.task)} guideline</h1>"
            f'<p class="meta">From version {steps} ({esc(d.kind)} change). '
            f'<a href="{esc(version_filename(new.task, new.version))}">Read version {esc(new.version)} in full</a>.</p>'
            + (f"<p>{esc(new.rationale)}</p>" if new.rationale and new.previous == old.version else "")
            + _changes_html(d, new))
    return _page(f"{new.task}: what changed {old.version} to {new.version}", body)


def write_book(guidelines: str | os.PathLike[str] | Guidelines, task: str, out: str | os.PathLike[str],
               *, version: str | None = None) -> list[Path]:
    """Write the book pages for ``task`` into ``out``; returns the paths written.

    Every released version (or only ``version``) gets a page; each version with a previous one gets a
    "what changed" page from its previous version, and one page from every older version to the latest
    (what an annotator who last worked under an older version needs); ``index.html`` lists them.
    """
    from labkit._atomic import write_text
    from labkit.errors import GuidelineError

    gl = guidelines if isinstance(guidelines, Guidelines) else Guidelines.load(guidelines)
    if task not in gl.tasks:
        raise GuidelineError(f"no guideline task {task!r} (tasks: {', '.join(gl.tasks) or 'none'})")
    vs = gl.versions(task)
    names = [v.version for v in vs]
    if version is not None and version not in names:
        raise GuidelineError(f"{task} has no version {version!r} (versions: {', '.join(names)})")
    outp = Path(out)
    if outp.exists() and not outp.is_dir():
        raise GuidelineError(f"--out {outp} is a file, not a folder")
    outp.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    by = {v.version: v for v in vs}
    latest = vs[-1]
    for v in vs:
        if version is not None and v.version != version:
            continue
        link = changes_filename(task, v.previous, v.version) if v.previous in by else None
        written.append(write_text(outp / version_filename(task, v.version), render_version(v, versions=names, changes_link=link)))
        if v.previous in by:
            written.append(write_text(outp / changes_filename(task, str(v.previous), v.version),
                                      render_changes(by[str(v.previous)], v)))
    for v in vs[:-1]:  # every older version -> the latest
        if version is None or version == latest.version:
            p = outp / changes_filename(task, v.version, latest.version)
            if p not in written:
                written.append(write_text(p, render_changes(v, latest)))
    index = ("<h1>" + esc(task) + " guideline book</h1><ul>"
             + "".join(f'<li><a href="{esc(version_filename(task, v.version))}">Version {esc(v.version)}</a>'
                       + (f' — <a href="{esc(changes_filename(task, str(v.previous), v.version))}">what changed</a>'
                          if v.previous in by else "") + "</li>" for v in reversed(vs)) + "</ul>")
    written.append(write_text(outp / "index.html", _page(f"{task} guideline book", index)))
    return written
