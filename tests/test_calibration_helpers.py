"""Shared builders for the calibration tests (no tests here)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from labkit.calibration import CalibrationSession, Participant, SessionItem, SessionSpec
from labkit.guidelines.model import Guidelines

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "calibration"
GUIDELINES = ROOT / "guidelines"
T0 = dt.datetime(2026, 9, 28, 9, 0, tzinfo=dt.timezone.utc)


def guidelines_copy(tmp: Path) -> Path:
    """A private copy of the repo's guidelines (proposals get filed into it)."""
    dst = tmp / "guidelines"
    shutil.copytree(GUIDELINES, dst, ignore=shutil.ignore_patterns("proposals", "*.log*", "decisions*"))
    return dst


def make_session(folder: Path, *, show_names: bool = False, guidelines: Path | None = None,
                 open_join: bool = True) -> CalibrationSession:
    """Three items (two gold, one without), facilitator f1, annotators a1 and a2, guideline 1.1.0."""
    g = Guidelines.load(guidelines or GUIDELINES)
    items = [SessionItem("g1", "Thanks, that fixed it.", gold="ok", gold_rationale="Civil thanks."),
             SessionItem("g3", "<b>Wow</b>, what a genius idea. Not.", gold="offensive", gold_rationale="Sarcasm."),
             SessionItem("c1", "<script>alert('x')</script> & my channel", reasons=("disagreement 0.67",))]
    sources = {"guidelines": str(guidelines), "filed_by": "g-facil-1"} if guidelines else {}
    spec = SessionSpec(id="cal-test", task="toxicity", guideline=g.get("toxicity", "1.1.0"), items=items,
                       participants=[Participant("f1", "facilitator"), Participant("a1"), Participant("a2")],
                       show_names=show_names, scheduled_at=T0, sources=sources, open_join=open_join,
                       file_proposals=guidelines is not None)
    return CalibrationSession.create(folder, spec)
