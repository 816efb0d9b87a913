"""Clarifications become guideline change proposals (:mod:`labkit.guidelines.proposals`).

When the facilitator moves the session into ``record``, each clarification becomes one proposal in
the governance format::

    id: toxicity-2026-09-28-clarify-self-promotion-c-00412
    task: toxicity
    base_version: 1.1.0
    author: ann-07
    created_at: "2026-09-28T10:41:02Z"
    title: "Clarify self_promotion (calibration cal-2026-09-28, item c-00412)"
    rationale: "..."
    source: {kind: calibration, session: cal-2026-09-28, item_id: c-00412, clarification: c-3f2a9c1d0e}
    changes:
      - {op: reword_definition, label: self_promotion, current: "...", proposed: "..."}

If the session files proposals (``file_proposals``, the default) and knows its guidelines folder,
the proposal is filed there through :func:`labkit.guidelines.proposals.new_proposal`, which checks
that it applies to the base version and logs it; a copy always stays in the session folder
(``proposals/<id>.yaml``), with ``filed_as`` (where governance has it) or ``filing_error`` (why it
could not be filed: the copy is kept, nothing is lost).

The filed proposal names the participant by pseudonym (:func:`governance_author`). When governance.yaml
requires signed decisions, the session files as the member in its ``sources.filed_by`` (the facilitator's
member id), signing with ``$LABKIT_SIGNING_KEY``; without one the filing error is kept and
``labkit guidelines propose --from-session DIR --as MEMBER --key PATH`` files it later.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labkit.calibration import storage
from labkit.errors import LabkitError

if TYPE_CHECKING:  # pragma: no cover
    from labkit.calibration.model import CalibrationSession, Clarification


def change_for(c: Clarification) -> dict[str, Any]:
    """The governance operation for a clarification."""
    if c.op == "reword_definition":
        return {"op": "reword_definition", "label": c.label, "current": c.current, "proposed": c.proposed}
    if c.op == "add_edge_case":
        return {"op": "add_edge_case", "label": c.label, "proposed": c.proposed}
    polarity = c.op.split(":", 1)[1]
    return {"op": "add_example", "label": c.label, "polarity": polarity, "proposed": c.proposed}


def proposal_id(task: str, clarification_id: str) -> str:
    """The short, deterministic id of a clarification's proposal: ``<task>-cal-<10 hex digits>``.

    Only the task (made id-safe, at most 60 characters) and the clarification's own hash go in, so
    the id is at most 75 characters of ``[A-Za-z0-9._-]`` whatever the item ids hold (URLs...), and
    filing it cannot fail on the id.
    """
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", task).strip("-.")[:60] or "task"
    return f"{safe}-cal-{clarification_id.removeprefix('c-')[:10]}"


def proposal_dict(session: CalibrationSession, c: Clarification, *, at: dt.datetime | None = None) -> dict[str, Any]:
    """The proposal for clarification ``c`` in the governance format."""
    from labkit._time import format_utc, now_utc

    t = at or now_utc()
    return {
        "id": proposal_id(session.spec.task, c.id),
        "task": session.spec.task,
        "base_version": session.spec.guideline.version,
        "author": c.participant,
        "created_at": format_utc(t),
        "title": f"Clarify {c.label} (calibration {session.id}, item {c.item_id})",
        "rationale": c.rationale or f"Raised in calibration session {session.id} on item {c.item_id}.",
        "source": {"kind": "calibration", "session": session.id, "item_id": c.item_id, "clarification": c.id},
        "changes": [change_for(c)],
    }


def governance_author(participant: str) -> str:
    """The author a clarification is filed under: the participant's pseudonym, never the raw id.

    The decision log is append-only (an id in it can never be erased without breaking the chain), so
    only member ids and annotator pseudonyms (:func:`labkit.privacy.pseudonym` with the program's key)
    enter it. The session's own copy keeps the participant id; the session folder is private.
    """
    from labkit.privacy import load_key, pseudonym

    return pseudonym(participant, load_key())


def filing_dict(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (a :func:`proposal_dict`) as filed to governance: the author pseudonymized."""
    return {**data, "author": governance_author(str(data["author"]))}


def write_proposal(session: CalibrationSession, c: Clarification, *, at: dt.datetime | None = None) -> Path:
    """Write the proposal for ``c`` into ``<session>/proposals/<id>.yaml`` (and file it) and return the path."""
    data = proposal_dict(session, c, at=at)
    root = session.spec.sources.get("guidelines")
    if root and not Path(root).is_absolute():
        root = str((session.folder / root).resolve())
    if session.spec.file_proposals and root and Path(root).is_dir():
        from labkit.guidelines.proposals import new_proposal

        try:
            p = new_proposal(task=data["task"], base_version=data["base_version"],
                             author=governance_author(str(data["author"])),
                             title=data["title"], rationale=data["rationale"], changes=[dict(x) for x in data["changes"]],
                             source=data["source"], root=root, created_at=data["created_at"],
                             proposal_id=data["id"], filed_by=session.spec.sources.get("filed_by") or None)
            data["filed_as"] = str(p.path)
        except LabkitError as exc:
            data["filing_error"] = str(exc)
    path = session.folder / storage.PROPOSALS_DIR / f"{data['id']}.yaml"
    storage.write_yaml(path, data)
    return path
