"""Promote a calibration session's decided items to guideline exemplars (through the proposal flow).

After discussion an item has a reference: its gold label (with the gold rationale) or the facilitator's
decision. :func:`session_exemplar` turns it into an ``add_exemplar`` change against the task's latest
guideline version (see :mod:`labkit.guidelines.exemplars`); the member filing the proposal is who
decided to teach it. Annotators' answers and names are never copied into the guideline.
"""

from __future__ import annotations

from typing import Any

from labkit.calibration.model import CalibrationSession
from labkit.errors import GuidelineError
from labkit.guidelines.exemplars import exemplar_change
from labkit.guidelines.model import Guidelines

__all__ = ["session_exemplar"]

_AFTER_DISCUSSION = ("discussion", "record", "closed")


def session_exemplar(session: CalibrationSession, item_id: str, gl: Guidelines, *, member: str,
                     polarity: str = "positive", rationale: str | None = None,
                     label: str | None = None) -> dict[str, Any]:
    """The exemplar change for ``item_id`` of ``session``, decided by ``member``.

    Refused before the discussion (nothing is decided yet), for an item with no reference (no gold and
    no decision), and without a rationale (the gold rationale or the decision note is used when
    ``rationale`` is not given).
    """
    if session.phase not in _AFTER_DISCUSSION:
        raise GuidelineError(f"session {session.id} is in {session.phase}: exemplars are promoted after the "
                             "discussion (phase discussion, record or closed)")
    try:
        item = session.item(item_id)
    except Exception as exc:
        raise GuidelineError(f"session {session.id} has no item {item_id!r}") from exc
    ref = session.reference(item_id)
    if ref is None:
        raise GuidelineError(f"session {session.id}, item {item_id}: no gold and no facilitator decision to teach")
    why = rationale if rationale is not None else (item.gold_rationale or _decision_note(session, item_id))
    return exemplar_change(gl, session.spec.task, text=item.text, label=ref,
                           decided_under=session.spec.guideline.version, rationale=why or "",
                           polarity=polarity, source=f"calibration session {session.id}, item {item_id}",
                           decided_by=member, override_label=label)


def _decision_note(session: CalibrationSession, item_id: str) -> str:
    notes = [str(e.get("note") or "") for e in session.events() if e.get("kind") == "decision"
             and str(e.get("item_id")) == item_id]
    return notes[-1] if notes else ""
