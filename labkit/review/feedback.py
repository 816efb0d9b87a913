"""What review found in an annotator's work: the feedback page's section (registered in
:data:`labkit.reports.feedback.EXTRA_SECTIONS`).

Reads the review and adjudication rows of the report's labels (:func:`labkit.review.apply.apply_reviews`) and
shows the annotator their own judgements on reviewed items against the reviewed label
(:func:`labkit.review.apply.error_patterns`), beside the pool's rate; other annotators never appear.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from labkit.reports.model import Section, Table, Text

__all__ = ["review_feedback_section"]


def review_feedback_section(program: Any, raw_id: str, fb: Any, pseudonym: Any) -> Section | None:
    """``Section`` "What review found in your work", or None when nothing of the task was reviewed."""
    from labkit.review.apply import apply_reviews, error_patterns

    t = program.labels
    t = t[t["task"].astype(str) == str(program.task)]
    stage = t["stage"].astype(str)
    if not stage.isin(["review", "adjudication"]).any():
        return None
    corrected = apply_reviews(t)
    pats = error_patterns(t, corrected)
    if pats.empty:
        return None
    me = pats[pats["annotator_id"] == str(raw_id)]
    sec = Section("What review found in your work",
                  intro="Your judgements on items a reviewer or an adjudicator decided, against their decision.")
    pool_n, pool_w = int(pats["reviewed"].sum()), int(pats["wrong"].sum())
    pool = f"the pool: {pool_w} of {pool_n} ({pool_w / pool_n:.0%})" if pool_n else "the pool: none"
    if me.empty:
        sec.blocks.append(Text(f"None of your judgements is on a reviewed item yet ({pool}).", note=True))
        return sec
    r = me.iloc[0]
    row = pd.DataFrame([{"reviewed judgements": int(r["reviewed"]), "changed by review": int(r["wrong"]),
                         "share changed": float(r["error_rate"]),
                         "your most frequent correction": (f"{r['top_confusion']} ({int(r['top_count'])} times)"
                                                           if int(r["top_count"]) else "none")}])
    sec.blocks.append(Table(row, caption=f"Review outcomes on your judgements ({pool})",
                            formats={"share changed": "{:.0%}"}))
    return sec
