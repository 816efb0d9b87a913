"""The feedback page's "what changed since the version you last worked under" section.

Registered in :data:`labkit.reports.feedback.EXTRA_SECTIONS`. It needs the report's ``guidelines``
parameter; without it (or when the annotator already works under the latest version) it adds nothing.
The rows come from the guideline book (:func:`labkit.guidelines.book.change_rows`), so the page and the
book say the same thing; the section names the book page that shows both versions in full.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from labkit.reports.model import Section, Table, Text

__all__ = ["what_changed_section"]


def what_changed_section(program: Any, raw_id: str, fb: Any, pseudonym: Any) -> Section | None:
    from labkit.guidelines.book import change_rows, changes_filename
    from labkit.guidelines.model import SemVer

    gl = getattr(program, "guidelines", None)
    task = getattr(program, "task", None)
    if gl is None or task is None or task not in gl.tasks:
        return None
    mine = program.human[program.human["annotator_id"].astype(str) == str(raw_id)]
    if "guideline_version" not in mine.columns or mine["guideline_version"].isna().all():
        return None
    known = {v.version for v in gl.versions(task)}
    used = [str(v) for v in mine["guideline_version"].dropna().astype(str).unique() if str(v) in known]
    if not used:
        return None
    last = max(used, key=SemVer.parse)
    latest = gl.latest(task)
    if last == latest.version:
        return None
    rows = pd.DataFrame(change_rows(gl.get(task, last), latest), columns=["change", "was", "now"])
    page = changes_filename(task, last, latest.version)
    return Section(
        f"What changed since version {last}",
        [Text(f"Your latest judgements were made under the {task} guideline {last}; it is now at {latest.version}. "
              "These are the differences, in the guideline's own words."),
         Table(rows, caption=f"{task} guideline {last} → {latest.version}", max_rows=100,
               empty="No difference in labels, definitions, examples or the decision tree."),
         Text(f"The guideline book shows both versions in full: page {page} (render the book with "
              f"labkit guidelines render {task} --out DIR).", note=True)])
