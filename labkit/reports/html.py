"""Render an executed notebook to one self-contained HTML page with the code hidden.

nbconvert's ``lab`` template loads require.js, MathJax, Mermaid and the widget manager from public CDNs;
``templates/labkit_report`` extends it with those blocks emptied, so the page opens offline and asks
no third party for anything. Figures are embedded as base64 PNG by the kernel's inline backend.
:func:`external_references` finds any reference to a network resource left in a page (tests use it).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

TEMPLATES = Path(__file__).with_name("templates")

_REMOTE = r"""\s*["']?\s*(?:https?:)?//"""
#: a real tag (not escaped text: that starts with ``&lt;``) loading something remote
_TAG = re.compile(r"<(?:[a-z][a-z0-9-]*)\b[^>]*?\b(?:src|data|poster)\s*=" + _REMOTE
                  + r"|<link\b[^>]*?\bhref\s*=" + _REMOTE, re.IGNORECASE)
_STYLE_BLOCK = re.compile(r"<style\b[^>]*>(.*?)</style>|\bstyle\s*=\s*\"([^\"]*)\"", re.IGNORECASE | re.DOTALL)
_CSS_REMOTE = re.compile(r"@import\s+(?:url\()?" + _REMOTE + r"|url\(" + _REMOTE, re.IGNORECASE)


def external_references(page: str) -> list[str]:
    """Snippets of ``page`` that would make a browser fetch something from the network.

    Looks at real tags (``src=``, ``data=``, ``<link href=>``) and at CSS (``@import``, ``url()``) in
    ``<style>`` blocks and ``style`` attributes. Escaped data text (``&lt;img src=…``) is not markup
    and is not reported.
    """
    found = [page[max(m.start() - 20, 0): m.end() + 60] for m in _TAG.finditer(page)]
    for m in _STYLE_BLOCK.finditer(page):
        css = m.group(1) or m.group(2) or ""
        found += [css[max(c.start() - 20, 0): c.end() + 60] for c in _CSS_REMOTE.finditer(css)]
    return found


def notebook_to_html(path: str | os.PathLike[str], *, title: str | None = None) -> str:
    """The executed notebook at ``path`` as HTML: outputs only, no prompts, no external resources."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(path), as_version=4)
    if title:
        nb.metadata["title"] = title
    nb.metadata.pop("widgets", None)  # widget state cannot render offline without the CDN manager
    exporter = HTMLExporter(template_name="labkit_report", extra_template_basedirs=[str(TEMPLATES)],
                            exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
                            embed_images=True)
    body, _ = exporter.from_notebook_node(nb)
    left = external_references(body)
    if left:
        raise RuntimeError(f"{path}: the rendered page references external resources: {left[:3]}")
    return body
