"""Display helpers for report notebooks: escaped HTML, key findings, pseudonyms, one figure style.

Every report notebook imports these instead of building HTML by hand, so that every page escapes data
text the same way and shows annotators only as pseudonyms::

    from labkit.reports import display as D
    D.use_style()
    D.findings(["Agreement fell from 0.71 to 0.64 after 2.0.0."])
    D.table(df, caption="Accuracy on gold per annotator")
    D.unavailable("Cycle time", "no timestamps in this data")

Objects returned here (:class:`Html`) render in Jupyter through ``_repr_html_``; call
:func:`show` to display one from inside a function or loop. Nothing here imports IPython at import
time; :func:`show` imports it when called (inside a kernel it is always there).
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

#: The CSS every helper relies on; emitted once per page by :func:`use_style`.
CSS = """
<style>
.lk-findings{border-left:4px solid #3b6ea5;background:#f3f7fb;padding:.6em 1em;margin:.6em 0 1em}
.lk-findings h3{margin:.1em 0 .4em;font-size:1.05em}
.lk-findings li{margin:.2em 0}
.lk-findings li.lk-attn{color:#8a1c1c}
.lk-note{color:#555;font-style:italic;margin:.4em 0}
.lk-warn{border-left:4px solid #b5651d;background:#fdf5ec;padding:.4em .8em;margin:.5em 0}
table.lk-table{border-collapse:collapse;font-size:.9em;margin:.3em 0 1em}
table.lk-table caption{caption-side:top;text-align:left;font-weight:600;padding:.2em 0}
.jp-RenderedHTMLCommon table.lk-table th,.jp-RenderedHTMLCommon table.lk-table td,table.lk-table th,table.lk-table td{border-bottom:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top;max-width:36em}
.jp-RenderedHTMLCommon table.lk-table td.num,table.lk-table td.num,table.lk-table th.num{text-align:right;font-variant-numeric:tabular-nums}
table.lk-table tr:nth-child(even) td{background:#fafafa}
.lk-kpis{display:flex;flex-wrap:wrap;gap:.6em;margin:.4em 0 1em}
.lk-kpi{border:1px solid #ddd;border-radius:4px;padding:.4em .8em;min-width:8em}
.lk-kpi .v{font-size:1.4em;font-weight:600}
.lk-kpi .k{color:#555;font-size:.85em}
.lk-exemplar{border:1px solid #e3e3e3;border-radius:4px;padding:.5em .8em;margin:.4em 0}
.lk-exemplar blockquote{margin:.3em 0 .3em .5em;padding-left:.6em;border-left:3px solid #ccc;white-space:pre-wrap}
</style>
"""


class Html:
    """A fragment of HTML built only from escaped pieces; renders in Jupyter via ``_repr_html_``."""

    def __init__(self, markup: str):
        self.markup = markup

    def _repr_html_(self) -> str:
        return self.markup

    def __str__(self) -> str:
        return self.markup

    def __add__(self, other: Html) -> Html:
        return Html(self.markup + other.markup)


def esc(value: Any) -> str:
    """HTML-escape any value's text (quotes included); missing values become an empty string."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT:
        return ""
    return html.escape(str(value), quote=True)


def show(*objs: Any) -> None:
    """Display objects from inside a function or loop (imports IPython lazily)."""
    from IPython.display import display

    display(*objs)


def use_style(context: str = "notebook") -> Html:
    """Set one seaborn/matplotlib style for report figures and return the page CSS to display.

    Figures are 8 x 4 inches at 110 dpi with 11 pt text: readable in the HTML page without zooming.
    """
    import matplotlib
    import seaborn as sns

    sns.set_theme(context=context, style="whitegrid", palette="colorblind", font_scale=0.95)
    matplotlib.rcParams.update({"figure.figsize": (8, 4), "figure.dpi": 110, "savefig.dpi": 110,
                                "axes.titleweight": "bold", "axes.titlesize": 12,
                                "figure.autolayout": True})
    return Html(CSS)


def heading(text: str, level: int = 2) -> Html:
    """An escaped heading (use markdown cells for fixed headings; this is for data-driven ones)."""
    level = min(max(int(level), 1), 6)
    return Html(f"<h{level}>{esc(text)}</h{level}>")


def paragraph(text: str, cls: str | None = None) -> Html:
    """An escaped paragraph."""
    c = f' class="{esc(cls)}"' if cls else ""
    return Html(f"<p{c}>{esc(text)}</p>")


def unavailable(section: str, reason: str = "not available in this data") -> Html:
    """A visible note that a section cannot be computed (never skip a section silently)."""
    return Html(f'<p class="lk-note">{esc(section)}: {esc(reason)}.</p>')


def warning(text: str) -> Html:
    """A highlighted warning box with escaped text."""
    return Html(f'<div class="lk-warn">{esc(text)}</div>')


def findings(sentences: Iterable[str | tuple[str, bool]], title: str = "Key findings") -> Html:
    """A block of plain-sentence findings. Pass ``(sentence, True)`` to mark one as needing attention."""
    items = []
    for s in sentences:
        text, attn = (s if isinstance(s, tuple) else (s, False))
        cls = ' class="lk-attn"' if attn else ""
        items.append(f"<li{cls}>{esc(text)}</li>")
    if not items:
        items.append("<li>No findings: nothing moved and nothing needs attention.</li>")
    return Html(f'<div class="lk-findings"><h3>{esc(title)}</h3><ul>{"".join(items)}</ul></div>')


def kpis(values: Mapping[str, Any], fmt: str | None = None) -> Html:
    """A row of headline tiles ``name -> value`` (numbers formatted, text escaped)."""
    cells = []
    for k, v in values.items():
        cells.append(f'<div class="lk-kpi"><div class="v">{esc(fmt_value(v, fmt))}</div>'
                     f'<div class="k">{esc(k)}</div></div>')
    return Html(f'<div class="lk-kpis">{"".join(cells)}</div>')


def fmt_value(v: Any, fmt: str | None = None) -> str:
    """Format one cell: integers with thousands separators, floats with ``fmt`` (default: 3 decimals
    below 1, 2 below 100, none above, with thousands separators), missing values as an en dash."""
    if v is None or v is pd.NA or v is pd.NaT:
        return "–"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        if math.isnan(v):
            return "–"
        if fmt is not None:
            return fmt.format(float(v))
        a = abs(float(v))
        return f"{v:,.0f}" if a >= 100 else f"{v:.2f}" if a >= 1 else f"{v:.3f}"
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d %H:%M") if (v.hour or v.minute) else v.strftime("%Y-%m-%d")
    if isinstance(v, pd.Timedelta):
        return str(v)
    return str(v)


def fmt_interval(est: float, lo: float, hi: float, digits: int = 2) -> str:
    """``0.71 [0.65, 0.77]`` (missing bounds shown as an en dash)."""
    def f(x: float) -> str:
        return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"

    return f"{f(est)} [{f(lo)}, {f(hi)}]"


def table(df: pd.DataFrame, caption: str | None = None, *, max_rows: int = 50, index: bool = False,
          formats: Mapping[str, str] | None = None, empty: str = "No rows.") -> Html:
    """An HTML table with every header and cell escaped; numbers right-aligned and formatted.

    Parameters
    ----------
    df : DataFrame
        The table. Rows beyond ``max_rows`` are not shown, and the table says how many were left out.
    caption : str, optional
        Shown above the table.
    index : bool
        Whether to show the index as the first column.
    formats : mapping, optional
        ``column -> format string`` (e.g. ``{"accuracy": "{:.1%}"}``); default see :func:`fmt_value`.
    empty : str
        The text shown instead of an empty table.
    """
    formats = dict(formats or {})
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    if df is None or len(df) == 0:
        return Html(f'<table class="lk-table">{cap}<tr><td class="lk-note">{esc(empty)}</td></tr></table>')
    shown = df.reset_index() if index else df
    n = len(shown)
    shown = shown.iloc[:max_rows]
    numeric_cols = {c for c in shown.columns if pd.api.types.is_numeric_dtype(shown[c]) and not pd.api.types.is_bool_dtype(shown[c])}
    num_th = '<th class="num">'
    head = "".join(f"{num_th if c in numeric_cols else '<th>'}{esc(c)}</th>" for c in shown.columns)
    rows = []
    for rec in shown.itertuples(index=False, name=None):
        tds = []
        for col, v in zip(shown.columns, rec):
            f = formats.get(col)
            numeric = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
            cls = ' class="num"' if numeric else ""
            tds.append(f"<td{cls}>{esc(fmt_value(v, f))}</td>")
        rows.append("<tr>" + "".join(tds) + "</tr>")
    more = ""
    if n > max_rows:
        more = f'<tr><td colspan="{len(shown.columns)}" class="lk-note">… {n - max_rows:,} more rows not shown.</td></tr>'
    return Html(f'<table class="lk-table">{cap}<thead><tr>{head}</tr></thead><tbody>{"".join(rows)}{more}</tbody></table>')


# Pseudonyms live in labkit.privacy (a neutral module every layer may import); re-exported here.
from labkit.privacy import Pseudonyms  # noqa: E402, F401

