"""``labkit calibration open SESSION --as ID``: a ready notebook for one participant, nothing to edit.

Writes ``<session>/notebooks/<id>.ipynb``: the parameters already filled in (the session folder as an
absolute path, the participant, the role) and one cell that shows the right view
(:func:`labkit.calibration.widgets.launcher`). Open it in JupyterLab and choose *Run All*; the view
then follows the session by itself (phase changes, answers) without Refresh.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from labkit.errors import ParameterError


def notebook_json(session: str, participant: str, role: str) -> dict[str, object]:
    """The nbformat-4 document of a participant's launcher notebook (no outputs)."""
    def cell(kind: str, src: str, **meta: object) -> dict[str, object]:
        c: dict[str, object] = {"cell_type": kind, "metadata": dict(meta), "source": src}
        if kind == "code":
            c.update(execution_count=None, outputs=[])
        return c

    return {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                     "language_info": {"name": "python"}},
        "cells": [
            cell("markdown", f"# Calibration session: {participant} ({role})\n\nChoose **Run > Run All Cells**. "
                             "The page follows the session by itself: when the facilitator moves to the next "
                             "phase, it changes without Refresh. Nothing here needs editing."),
            cell("code", f"session = {session!r}\nparticipant = {participant!r}\nrole = {role!r}",
                 tags=["parameters"]),
            cell("code", "from labkit.calibration.widgets import launcher\n\nlauncher(session, participant, role)"),
        ],
    }


def write_launcher(folder: str | os.PathLike[str], participant: str, role: str | None = None,
                   out: str | os.PathLike[str] | None = None) -> tuple[Path, str]:
    """Write the launcher notebook of ``participant`` and return ``(path, role)``.

    Raises
    ------
    SessionError
        When ``participant`` may not join the session or ``role`` is not theirs.
    """
    from labkit._atomic import write_text
    from labkit.calibration import storage
    from labkit.calibration.model import CalibrationSession, SessionError

    s = CalibrationSession.open(folder)
    actual = s.role_of(participant)
    if role is not None and role != actual:
        raise SessionError(f"{participant!r} is {'an' if actual == 'annotator' else 'the'} {actual} in session {s.id}, "
                           f"not {role}")
    if role not in (None, "annotator", "facilitator"):
        raise ParameterError(f"--role must be annotator or facilitator, got {role!r}")
    path = Path(out) if out else Path(folder) / "notebooks" / f"{storage.check_id(participant)}.ipynb"
    nb = notebook_json(str(Path(folder).resolve()), participant, actual)
    write_text(path, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return path, actual
