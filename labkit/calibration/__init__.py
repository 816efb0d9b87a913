"""Calibration sessions: annotators label the same items blind, see the answers, discuss, and turn
clarifications into guideline change proposals; before/after numbers show whether it worked.

The model (:mod:`~labkit.calibration.model`), its storage (:mod:`~labkit.calibration.storage`), item
selection (:mod:`~labkit.calibration.selection`), replay (:mod:`~labkit.calibration.replay`) and the
before/after numbers (:mod:`~labkit.calibration.summary`) and the bundled sample's session
(:mod:`~labkit.calibration.sample`) import no Jupyter package. The widgets live
in :mod:`labkit.calibration.widgets`, imported only by the notebook.
"""

from typing import TYPE_CHECKING

from labkit._lazy import lazy_attributes

if TYPE_CHECKING:
    from labkit.calibration.model import (
        PHASES,
        ROLES,
        Answer,
        CalibrationSession,
        Clarification,
        Participant,
        SessionError,
        SessionItem,
        SessionSpec,
    )
    from labkit.calibration.replay import Step, replay, steps_from_labels
    from labkit.calibration.selection import Selection, changed_labels, select_items
    from labkit.calibration.summary import before_after, write_summary

__all__ = ["PHASES", "ROLES", "Answer", "CalibrationSession", "Clarification", "Participant", "SessionError",
           "SessionItem", "SessionSpec", "Step", "replay", "steps_from_labels", "Selection", "changed_labels",
           "select_items", "before_after", "write_summary"]

_WHERE = {
    "PHASES": "labkit.calibration.model",
    "ROLES": "labkit.calibration.model",
    "Answer": "labkit.calibration.model",
    "CalibrationSession": "labkit.calibration.model",
    "Clarification": "labkit.calibration.model",
    "Participant": "labkit.calibration.model",
    "SessionError": "labkit.calibration.model",
    "SessionItem": "labkit.calibration.model",
    "SessionSpec": "labkit.calibration.model",
    "Step": "labkit.calibration.replay",
    "replay": "labkit.calibration.replay",
    "steps_from_labels": "labkit.calibration.replay",
    "Selection": "labkit.calibration.selection",
    "changed_labels": "labkit.calibration.selection",
    "select_items": "labkit.calibration.selection",
    "before_after": "labkit.calibration.summary",
    "write_summary": "labkit.calibration.summary",
}
__getattr__, __dir__ = lazy_attributes(__name__, _WHERE)
