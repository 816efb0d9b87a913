"""``OUT/index.html``: every report and run on disk, with status, time and key numbers.

Built from the ``metrics.json`` files in the run folders (so it is always what is on disk), written
atomically, self-contained (inline CSS, no script) and with every value escaped.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from html import escape
from pathlib import Path
from typing import Any

from labkit._atomic import write_text
from labkit.reports.display import fmt_value

MAX_RUNS = 20  # runs listed per report (newest first); older runs stay on disk
MAX_NUMBERS = 5  # key numbers shown per run

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222}
main{max-width:1100px;margin:0 auto;padding:1em 1.5em 3em}
h1{font-size:1.5em;margin:.3em 0}h2{font-size:1.15em;margin:1.4em 0 .3em}
p.meta{color:#555;margin:.2em 0 1em}
table{border-collapse:collapse;width:100%;font-size:.9em;margin:.3em 0 .8em}
th,td{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f4f4f4}
.ok{color:#1d6b2f;font-weight:600}.failed{color:#a11;font-weight:600}
.err{color:#a11;font-size:.85em}
.num{font-variant-numeric:tabular-nums}
h2 code{font-size:.75em;color:#666;font-weight:normal;margin-left:.3em}
.latest{font-size:.8em;background:#e6f0fa;border-radius:3px;padding:0 .3em;margin-left:.3em}
"""


def _read_runs(folder: Path) -> list[dict[str, Any]]:
    runs = []
    for d in folder.iterdir():
        if not d.is_dir() or d.name.startswith("."):
            continue
        m = d / "metrics.json"
        if not m.exists():
            continue
        try:
            rec = json.loads(m.read_text(encoding="utf-8"))
        except ValueError:
            rec = {"status": "failed", "error": "metrics.json unreadable", "run_id": d.name}
        rec["_dir"] = d
        runs.append(rec)
    runs.sort(key=lambda r: (str(r.get("started_at", "")), r["_dir"].name), reverse=True)
    return runs


def _groups(out: Path) -> list[tuple[str, str | None, Path]]:
    """(report, variant, folder) for every folder holding runs: OUT/<report>/ or OUT/<report>/<variant>/."""
    found: list[tuple[str, str | None, Path]] = []
    for rep in sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if any((d / "metrics.json").exists() for d in rep.iterdir() if d.is_dir()):
            found.append((rep.name, None, rep))
        for sub in sorted(p for p in rep.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if (sub / "metrics.json").exists():
                continue
            if any((d / "metrics.json").exists() for d in sub.iterdir() if d.is_dir()):
                found.append((rep.name, sub.name, sub))
    return found


def _numbers(metrics: dict[str, Any], order: list[str] | None = None, skip: Any = None) -> str:
    """The first :data:`MAX_NUMBERS` plain values in the notebook's order; ``X_ci_low``/``X_ci_high``
    are shown as ``X``'s interval; a value equal to ``skip`` (the row's annotator) is not repeated."""
    keys = [k for k in (order or []) if k in metrics] + [k for k in metrics if k not in (order or [])]
    parts = []
    for k in keys:
        v = metrics[k]
        if isinstance(v, (dict, list)) or k.endswith(("_ci_low", "_ci_high")) or (skip is not None and v == skip):
            continue
        text = fmt_value(v)
        lo, hi = metrics.get(f"{k}_ci_low"), metrics.get(f"{k}_ci_high")
        if isinstance(lo, (int, float)) and isinstance(hi, (int, float)):
            text += f" [{fmt_value(lo)}, {fmt_value(hi)}]"
        parts.append(f"{escape(str(k))}: <span class=num>{escape(text)}</span>")
        if len(parts) == MAX_NUMBERS:
            break
    return "<br>".join(parts)


def _link(target: Path, out: Path, text: str) -> str:
    rel = os.path.relpath(target, out).replace(os.sep, "/")
    return f'<a href="{escape(rel, quote=True)}">{escape(text)}</a>'


def render_index(out: Path, title: str = "labkit reports", config: Any = None) -> str:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    sections = []
    by_report: dict[str, list[tuple[str | None, Path]]] = {}
    for rep, variant, folder in _groups(out):
        by_report.setdefault(rep, []).append((variant, folder))
    known = list(getattr(config, "reports", {}) or {})
    ordered = [r for r in known if r in by_report] + sorted(r for r in by_report if r not in known)
    for rep in ordered:
        groups = by_report[rep]
        spec = (getattr(config, "reports", {}) or {}).get(rep)
        heading = f"{escape(spec.title)} <code>{escape(rep)}</code>" if spec is not None else escape(rep)
        rows = []
        for variant, folder in groups:
            latest = (folder / "latest").read_text().strip() if (folder / "latest").exists() else None
            for run in _read_runs(folder)[:MAX_RUNS]:
                d: Path = run["_dir"]
                status = str(run.get("status", "failed"))
                cls = "ok" if status == "ok" else "failed"
                links = []
                if (d / "report.html").exists():
                    links.append(_link(d / "report.html", out, "page"))
                if (d / "report.ipynb").exists():
                    links.append(_link(d / "report.ipynb", out, "notebook"))
                links.append(_link(d / "metrics.json", out, "metrics"))
                tag = '<span class="latest">latest</span>' if latest == d.name else ""
                err = f'<div class="err">{escape(str(run.get("error") or ""))}</div>' if status != "ok" else ""
                started = str(run.get("started_at", "")).replace("T", " ").replace("+00:00", " UTC")
                rows.append(
                    "<tr>"
                    + (f"<td>{escape(variant)}</td>" if variant is not None else "")
                    + f"<td>{escape(d.name)}{tag}</td><td class={cls}>{escape(status)}{err}</td>"
                    f"<td>{escape(started)}</td><td class=num>{escape(fmt_value(run.get('seconds')))} s</td>"
                    f"<td>{_numbers(run.get('metrics') or {}, run.get('metrics_order'), variant)}</td><td>{' · '.join(links)}</td></tr>")
        has_variant = any(v is not None for v, _ in groups)
        head = ("<th>annotator</th>" if has_variant else "") + \
            "<th>run</th><th>status</th><th>started</th><th>took</th><th>key numbers</th><th>files</th>"
        latest_links = [_link(folder / "latest.html", out, "latest good page")
                        for v, folder in groups if v is None and (folder / "latest.html").exists()]
        lk = f" — {latest_links[0]}" if latest_links else ""
        desc = f'<p class="meta">{escape(spec.description)}</p>' if spec is not None and spec.description else ""
        sections.append(f"<h2>{heading}{lk}</h2>{desc}<table><thead><tr>{head}</tr></thead>"
                        f"<tbody>{''.join(rows)}</tbody></table>")
    body = "".join(sections) or "<p>No runs yet.</p>"
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
            f"<style>{CSS}</style></head><body><main><h1>{escape(title)}</h1>"
            f'<p class="meta">Updated {escape(now)}. Newest runs first; a failed run never replaces the '
            f"latest good one. Annotators appear only as pseudonyms.</p>{body}</main></body></html>\n")


def write_index(out: str | os.PathLike[str], config: Any = None) -> Path:
    """Rewrite ``OUT/index.html`` from the run folders on disk; returns its path."""
    out = Path(out)
    path = out / "index.html"
    write_text(path, render_index(out, config=config))
    return path
