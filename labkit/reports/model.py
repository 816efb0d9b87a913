"""The report model: every report is ``build(params) -> Report`` in the package; a notebook only renders it.

A :class:`Report` is typed data, tested without a kernel: a title, headline numbers, findings with a
severity, and sections holding text, tables (with column formats) and figures (drawn lazily, so building
a report never imports matplotlib). ``render`` turns it into escaped HTML for the notebook; the runner
reads ``report.metrics()`` (headline numbers plus the worst finding) for ``metrics.json`` and the index.

A report notebook is then three cells with no definitions, loops or branches::

    # parameters
    labels: str = "sample/labels.csv"
    metrics_path: str = ""
    # build, render, save
    from labkit.reports.model import show_report
    from labkit.review.report import build
    show_report(build(labels=labels), metrics_path)

Severity order (worst last): ``ok`` < ``info`` < ``warning`` < ``critical``. The index colours a report by
its worst finding, so a failed validation gate is red there.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Union

import pandas as pd

from labkit.errors import ParameterError

__all__ = ["Severity", "SEVERITIES", "Finding", "Text", "Quote", "Table", "Figure", "Section", "Report", "worst",
           "render", "show_report", "SectionProvider"]

Severity = Literal["ok", "info", "warning", "critical"]
#: Severities from best to worst.
SEVERITIES: tuple[str, ...] = ("ok", "info", "warning", "critical")


def _check_severity(s: str) -> str:
    if s not in SEVERITIES:
        raise ParameterError(f"severity must be one of {', '.join(SEVERITIES)}, got {s!r}")
    return s


@dataclass(frozen=True)
class Finding:
    """One sentence a reader should act on or know, with how much it matters."""

    text: str
    severity: Severity = "info"

    def __post_init__(self) -> None:
        _check_severity(self.severity)


@dataclass(frozen=True)
class Text:
    """A paragraph of plain text (escaped when rendered); ``note=True`` renders it as a muted note."""

    text: str
    note: bool = False


@dataclass(frozen=True)
class Table:
    """A table to show: ``formats`` maps a column to a format string such as ``"{:.1%}"``."""

    frame: pd.DataFrame
    caption: str | None = None
    formats: Mapping[str, str] = field(default_factory=dict)
    max_rows: int = 50
    empty: str = "No rows."


@dataclass(frozen=True)
class Figure:
    """A figure drawn on demand: ``draw()`` returns a matplotlib Figure (imported only by the caller).

    ``alt`` describes the figure in words (shown as the image's alt text and caption).
    """

    draw: Callable[[], Any]
    alt: str
    caption: str | None = None


@dataclass(frozen=True)
class Quote:
    """A quoted text from the data (an item, a guideline definition) under a short heading."""

    text: str
    heading: str = ""


Block = Union[Text, Quote, Table, Figure, Finding]


@dataclass
class Section:
    """A titled part of a report; ``unavailable`` (a reason) replaces the blocks when data is missing."""

    title: str
    blocks: list[Block] = field(default_factory=list)
    intro: str | None = None
    unavailable: str | None = None


@dataclass
class Report:
    """A built report: what a notebook renders and what the runner summarises.

    ``headline`` holds the numbers written to ``metrics.json`` (plain JSON values) and shown as tiles;
    ``tiles``, when given, is what the page shows instead (display names and formatted values).
    """

    title: str
    subtitle: str | None = None
    headline: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    metrics_extra: dict[str, Any] = field(default_factory=dict)
    tiles: dict[str, Any] = field(default_factory=dict)
    findings_title: str = "Key findings"

    def section(self, title: str) -> Section:
        """The section called ``title`` (KeyError if there is none)."""
        for s in self.sections:
            if s.title == title:
                return s
        raise KeyError(title)

    @property
    def worst(self) -> str:
        return worst(f.severity for f in self.findings)

    def metrics(self) -> dict[str, Any]:
        """What the runner writes to ``metrics.json``: headline numbers, the worst severity and counts."""
        counts = {s: sum(1 for f in self.findings if f.severity == s) for s in SEVERITIES}
        return {**self.headline, **self.metrics_extra, "severity": self.worst,
                "findings": {s: n for s, n in counts.items() if n},
                "worst_finding": next((f.text for f in sorted(self.findings, key=lambda f: -SEVERITIES.index(f.severity))), "")}


#: Something that adds a section to a report (e.g. a badge section on the feedback page): it gets the
#: report's inputs and returns a Section, or None when it has nothing to show.
SectionProvider = Callable[..., Union["Section", None]]


def worst(severities: Iterable[str]) -> str:
    """The worst of ``severities`` ("ok" for none)."""
    best = 0
    for s in severities:
        best = max(best, SEVERITIES.index(_check_severity(s)))
    return SEVERITIES[best]


# ---------------------------------------------------------------------------------------------- rendering
_SEV_CSS = """
<style>
.lk-sev-critical{color:#8a1c1c;font-weight:600}.lk-sev-warning{color:#8a5a00}.lk-sev-ok{color:#1d6b2f}
.lk-findings li.lk-sev-critical::marker{content:"✖ "}.lk-findings li.lk-sev-warning::marker{content:"▲ "}
.lk-findings li.lk-sev-ok::marker{content:"✔ "}
.lk-findings li.lk-sev-info::marker{content:"• "}
.lk-findings li.lk-sev-critical{background:#fdecec}
.lk-fig figcaption{color:#555;font-size:.9em}
</style>
"""


def _figure_html(fig: Figure) -> str:
    from labkit.reports.display import esc

    f = fig.draw()
    if f is None:
        return f'<p class="lk-note">{esc(fig.alt)}: not available.</p>'
    buf = io.BytesIO()
    f.savefig(buf, format="png", bbox_inches="tight")
    try:
        import matplotlib.pyplot as plt

        plt.close(f)
    except Exception:  # pragma: no cover - closing is best effort
        pass
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    cap = f"<figcaption>{esc(fig.caption)}</figcaption>" if fig.caption else ""
    return f'<figure class="lk-fig"><img alt="{esc(fig.alt)}" src="data:image/png;base64,{data}"/>{cap}</figure>'


def _findings_html(items: Sequence[Finding], title: str = "Key findings") -> str:
    from labkit.reports.display import esc

    if not items:
        return ('<div class="lk-findings"><h3>' + esc(title) + "</h3><ul><li>No findings: nothing moved and "
                "nothing needs attention.</li></ul></div>")
    ordered = sorted(items, key=lambda f: -SEVERITIES.index(f.severity))
    lis = "".join(f'<li class="lk-sev-{f.severity}{" lk-attn" if f.severity == "critical" else ""}">'
                  f"{esc(f.text)}</li>" for f in ordered)
    return f'<div class="lk-findings"><h3>{esc(title)}</h3><ul>{lis}</ul></div>'


def _block_html(b: Block) -> str:
    from labkit.reports import display as D

    if isinstance(b, Text):
        return str(D.paragraph(b.text, cls="lk-note" if b.note else None))
    if isinstance(b, Table):
        return str(D.table(b.frame, caption=b.caption, formats=b.formats, max_rows=b.max_rows, empty=b.empty))
    if isinstance(b, Figure):
        return _figure_html(b)
    if isinstance(b, Quote):
        head = f"<div><b>{D.esc(b.heading)}</b></div>" if b.heading else ""
        return f'<div class="lk-exemplar">{head}<blockquote>{D.esc(b.text)}</blockquote></div>'
    if isinstance(b, Finding):
        return _findings_html([b], title="Finding")
    raise ParameterError(f"a report block must be Text, Quote, Table, Figure or Finding, got {type(b).__name__}")


def render(report: Report, *, figures: bool = True, title: bool = True) -> str:
    """The report as one escaped HTML fragment (the page CSS included). ``figures=False`` skips drawing;
    ``title=False`` leaves out the ``<h1>`` (a notebook's markdown cell already shows it)."""
    from labkit.reports import display as D

    parts = [D.CSS, _SEV_CSS] + ([f"<h1>{D.esc(report.title)}</h1>"] if title else [])
    if report.subtitle:
        parts.append(str(D.paragraph(report.subtitle, cls="lk-note")))
    if report.tiles or report.headline:
        parts.append(str(D.kpis(report.tiles or report.headline)))
    parts.append(_findings_html(report.findings, title=report.findings_title))
    for s in report.sections:
        parts.append(f"<h2>{D.esc(s.title)}</h2>")
        if s.intro:
            parts.append(str(D.paragraph(s.intro)))
        if s.unavailable:
            parts.append(str(D.unavailable(s.title, s.unavailable)))
            continue
        for b in s.blocks:
            if isinstance(b, Figure) and not figures:
                parts.append(str(D.paragraph(f"[figure: {b.alt}]", cls="lk-note")))
            else:
                parts.append(_block_html(b))
    return "\n".join(parts)


def show_report(report: Report, metrics_path: str = "", *, title: bool = False) -> None:
    """Display ``report`` in the notebook (style set, HTML shown) and save its metrics when asked.

    The notebook's markdown cell carries the page title, so the report's own ``<h1>`` is left out
    unless ``title=True``; put anything the reader must see (whose page it is) in ``subtitle``."""
    from labkit.reports import display as D
    from labkit.reports.metrics import save_metrics

    D.use_style()
    D.show(D.Html(render(report, title=title)))
    if metrics_path:
        save_metrics(metrics_path, report.metrics())
