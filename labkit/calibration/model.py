"""The calibration-session model: no Jupyter here, only files and data.

A session has a task, the guideline version in force, an item set (gold items plus contested items,
see :mod:`labkit.calibration.selection`), participants with roles, and phases::

    blind  ->  reveal  ->  discussion  ->  record  ->  closed

* ``blind``: annotators answer each item (label, confidence, rationale; the time taken is measured),
  seeing nobody else's answers. They may change an answer until the reveal.
* ``reveal``: the distribution of answers, the gold label with its definition, examples and edge
  cases, and every rationale (pseudonymous unless the session shows names) become visible. Anyone
  may propose a clarification of the guideline.
* ``discussion``: as reveal; annotators may also give a final answer per item (``round="final"``),
  which is the "after" of the session items.
* ``record``: the facilitator turns each clarification into a guideline change proposal.
* ``closed``: the summary and the before/after data are written; nothing more is accepted.

Only the facilitator moves the phase. Everything is derived from the session folder on each read
(:mod:`labkit.calibration.storage`), so several kernels on one JupyterHub see the same state.

Examples
--------
>>> s = CalibrationSession.open("sessions/2026-09-28-toxicity")   # doctest: +SKIP
>>> s.submit_answer("ann-07", "c-0042", "spam", confidence=0.8, rationale="link drop")  # doctest: +SKIP
>>> s.advance("facil-1")                                          # doctest: +SKIP
'reveal'
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from labkit._time import format_utc, now_utc, parse_utc
from labkit.calibration import storage
from labkit.calibration.metrics import agreement as _agreement
from labkit.calibration.metrics import item_disagreement
from labkit.errors import InputRefused, LabkitError, ParameterError
from labkit.guidelines.model import GuidelineVersion, parse_version

PHASES: tuple[str, ...] = ("blind", "reveal", "discussion", "record", "closed")
ROLES: tuple[str, ...] = ("facilitator", "annotator")
ROUNDS: tuple[str, ...] = ("blind", "final")
#: Kinds of clarification, as governance proposal operations (:mod:`labkit.guidelines.proposals`).
CLARIFY_OPS: dict[str, str] = {
    "reword_definition": "Reword the definition",
    "add_edge_case": "Add an edge case",
    "add_example:positive": "Add an example of this label",
    "add_example:negative": "Add an example that is NOT this label",
}
SCHEMA_VERSION = 1


class SessionError(LabkitError):
    """An operation the session's phase or roles refuse (answering after the reveal, ...)."""


def _iso(t: dt.datetime) -> str:
    return format_utc(t, micro=True)


@dataclass(frozen=True)
class SessionItem:
    """One item of the session: what participants see and what the reveal shows."""

    item_id: str
    text: str = ""
    gold: str | None = None
    gold_rationale: str = ""
    reasons: tuple[str, ...] = ()
    slice: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["reasons"] = list(self.reasons)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SessionItem:
        return cls(item_id=str(d["item_id"]), text=str(d.get("text") or ""), gold=d.get("gold"),
                   gold_rationale=str(d.get("gold_rationale") or ""), reasons=tuple(d.get("reasons") or ()),
                   slice=d.get("slice"))


@dataclass(frozen=True)
class Participant:
    id: str
    role: str = "annotator"
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "role": self.role, **({"name": self.name} if self.name else {})}


@dataclass(frozen=True)
class Answer:
    participant: str
    item_id: str
    label: str
    confidence: float | None
    rationale: str
    duration_s: float | None
    round: str
    at: dt.datetime


@dataclass(frozen=True)
class Clarification:
    """A proposed clarification of the guideline, made during reveal or discussion.

    ``op`` is one of :data:`CLARIFY_OPS` (``add_example:positive`` adds a positive example).
    """

    id: str
    participant: str
    item_id: str
    label: str
    current: str
    proposed: str
    rationale: str
    at: dt.datetime
    op: str = "reword_definition"


@dataclass
class SessionSpec:
    """What ``session.yaml`` holds. Written once when the session is created."""

    id: str
    task: str
    guideline: GuidelineVersion
    items: list[SessionItem]
    participants: list[Participant]
    show_names: bool = False
    created_at: dt.datetime = field(default_factory=now_utc)
    scheduled_at: dt.datetime | None = None
    sources: dict[str, str] = field(default_factory=dict)
    selection: dict[str, Any] = field(default_factory=dict)
    open_join: bool = True
    file_proposals: bool = True

    @property
    def facilitators(self) -> list[str]:
        return [p.id for p in self.participants if p.role == "facilitator"]

    def to_dict(self) -> dict[str, Any]:
        g = self.guideline
        return {
            "schema": SCHEMA_VERSION,
            "id": self.id,
            "task": self.task,
            "guideline_version": g.version,
            "created_at": _iso(self.created_at),
            "scheduled_at": _iso(self.scheduled_at) if self.scheduled_at else None,
            "show_names": self.show_names,
            "open_join": self.open_join,
            "file_proposals": self.file_proposals,
            "participants": [p.to_dict() for p in self.participants],
            "sources": dict(self.sources),
            "selection": dict(self.selection),
            "items": [i.to_dict() for i in self.items],
            # the guideline version in force, copied so the session stays readable if files move
            "guideline": {"task": g.task, "version": g.version,
                          "released_at": _iso(g.released_at) if g.released_at else None,
                          "labels": [lab.to_dict() for lab in g.labels]},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], path: str = "session.yaml") -> SessionSpec:
        for key in ("id", "task", "guideline", "items", "participants"):
            if key not in d:
                raise InputRefused(path, f"missing field {key!r}")
        g = parse_version(d["guideline"], f"{path}: guideline")
        parts = []
        for i, p in enumerate(d["participants"] or []):
            if not isinstance(p, dict) or "id" not in p:
                raise InputRefused(path, "each participant needs an id", record=i, field="participants")
            if p.get("role", "annotator") not in ROLES:
                raise InputRefused(path, f"role must be one of {', '.join(ROLES)}, got {p.get('role')!r}",
                                           record=i, field="participants.role")
            parts.append(Participant(str(p["id"]), p.get("role", "annotator"), str(p.get("name") or "")))
        return cls(
            id=str(d["id"]), task=str(d["task"]), guideline=g,
            items=[SessionItem.from_dict(x) for x in d["items"]], participants=parts,
            show_names=bool(d.get("show_names", False)),
            created_at=parse_utc(d["created_at"]) if d.get("created_at") else now_utc(),
            scheduled_at=parse_utc(d["scheduled_at"]) if d.get("scheduled_at") else None,
            sources=dict(d.get("sources") or {}), selection=dict(d.get("selection") or {}),
            open_join=bool(d.get("open_join", True)), file_proposals=bool(d.get("file_proposals", True)),
        )


class CalibrationSession:
    """A calibration session backed by its folder. Cheap to create; every read re-derives state.

    Parameters
    ----------
    folder : path
        The session folder (holds ``session.yaml``).
    """

    def __init__(self, folder: str | os.PathLike[str], spec: SessionSpec):
        self.folder = Path(folder)
        self.spec = spec
        self._items = {i.item_id: i for i in spec.items}
        self._cache: dict[Path, tuple[tuple[int, int, int], list[dict[str, Any]]]] = {}

    def _read(self, path: Path) -> list[dict[str, Any]]:
        """The records of one JSONL file, re-read only when it changed.

        The files are append-only, so (inode, size, mtime) identifies their content; another
        kernel's append changes the size and is seen on the next read.
        """
        try:
            st = path.stat()
        except FileNotFoundError:
            self._cache.pop(path, None)
            return []
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        hit = self._cache.get(path)
        if hit is not None and hit[0] == key:
            return hit[1]
        recs = storage.read_records(path)
        for i, r in enumerate(recs, start=1):  # every record says when it was made: the session's state is derived from it
            try:
                parse_utc(r["at"])
            except (KeyError, TypeError, ValueError):
                raise InputRefused(str(path), "a session record needs 'at' (an ISO 8601 time), got "
                                   f"{r.get('at')!r}", record=i, field="at") from None
        self._cache[path] = (key, recs)
        return recs

    # ---------------------------------------------------------------- creation and loading
    @classmethod
    def create(cls, folder: str | os.PathLike[str], spec: SessionSpec) -> CalibrationSession:
        """Write a new session folder. Refuses to overwrite an existing session."""
        f = Path(folder)
        if (f / storage.SESSION_FILE).exists():
            raise SessionError(f"{f}: a session already exists here; choose another folder")
        storage.check_id(spec.id, "session")
        if not spec.items:
            raise SessionError(f"{f}: a session needs at least one item")
        if not spec.facilitators:
            raise SessionError(f"{f}: a session needs a facilitator (a participant with role facilitator)")
        for p in spec.participants:
            storage.check_id(p.id)
        ids = [i.item_id for i in spec.items]
        if len(set(ids)) != len(ids):
            raise SessionError(f"{f}: item ids repeat in the session")
        allowed = set(spec.guideline.label_names)
        for i in spec.items:
            if i.gold is not None and i.gold not in allowed:
                raise SessionError(f"{f}: gold label {i.gold!r} of item {i.item_id!r} is not a label of "
                                   f"{spec.task} {spec.guideline.version} ({', '.join(spec.guideline.label_names)})")
        (f / storage.ANSWERS_DIR).mkdir(parents=True, exist_ok=True)
        storage.write_yaml(f / storage.SESSION_FILE, spec.to_dict())
        return cls(f, spec)

    @classmethod
    def open(cls, folder: str | os.PathLike[str]) -> CalibrationSession:
        f = Path(folder)
        path = f / storage.SESSION_FILE
        return cls(f, SessionSpec.from_dict(storage.read_yaml(path), str(path)))

    # ---------------------------------------------------------------- basic facts
    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def items(self) -> list[SessionItem]:
        return list(self.spec.items)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.spec.guideline.label_names

    def item(self, item_id: str) -> SessionItem:
        try:
            return self._items[item_id]
        except KeyError:
            raise SessionError(f"item {item_id!r} is not in session {self.id}") from None

    def role_of(self, participant: str) -> str:
        """The participant's role; an unknown participant is an annotator if the session is open."""
        for p in self.spec.participants:
            if p.id == participant:
                return p.role
        if self.spec.open_join:
            return "annotator"
        raise SessionError(f"{participant!r} is not a participant of session {self.id} "
                           f"(participants: {', '.join(p.id for p in self.spec.participants)})")

    def participants(self) -> list[str]:
        """Listed participants plus anyone who has written an answers file, in a stable order."""
        listed = [p.id for p in self.spec.participants]
        folder = self.folder / storage.ANSWERS_DIR
        seen = []
        for p in sorted(folder.iterdir()) if folder.is_dir() else []:
            if p.suffix == ".torn" and p.is_file():
                continue  # a torn line moved aside by storage.append_record (kept, not a participant)
            if not (p.is_file() and p.suffix == ".jsonl" and storage._ID.match(p.stem)):
                raise SessionError(f"{p}: not a participant's answers file (answers/ holds only <participant>.jsonl "
                                   "files written by the session); move it out of the session folder")
            seen.append(p.stem)
        return listed + [s for s in seen if s not in listed]

    def annotators(self) -> list[str]:
        return [p for p in self.participants() if self.role_of(p) == "annotator"]

    # ---------------------------------------------------------------- events and phase
    def events(self) -> list[dict[str, Any]]:
        return list(self._read(storage.events_path(self.folder)))

    @property
    def phase(self) -> str:
        phase = "blind"
        for e in self.events():
            if e.get("kind") == "phase":
                phase = e["phase"]
        return phase

    def phase_started(self, phase: str) -> dt.datetime | None:
        for e in self.events():
            if e.get("kind") == "phase" and e.get("phase") == phase:
                return parse_utc(e["at"])
        return None

    def _require_facilitator(self, who: str) -> None:
        if self.role_of(who) != "facilitator":
            raise SessionError(f"only a facilitator may do this; {who!r} is an annotator "
                               f"(facilitators: {', '.join(self.spec.facilitators)})")

    def advance(self, facilitator: str, to: str | None = None, *, at: dt.datetime | None = None) -> str:
        """Move to the next phase (or to ``to``, which must come later). Returns the new phase.

        Moving into ``record`` writes one proposal per clarification; moving into ``closed`` writes
        the summary (see :meth:`close`).
        """
        self._require_facilitator(facilitator)
        current = self.phase
        i = PHASES.index(current)
        if to is None:
            if current == "closed":
                raise SessionError(f"session {self.id} is closed")
            to = PHASES[i + 1]
        if to not in PHASES:
            raise ParameterError(f"phase must be one of {', '.join(PHASES)}, got {to!r}")
        j = PHASES.index(to)
        if j <= i:
            raise SessionError(f"session {self.id} is in phase {current}; it cannot go back to {to}")
        for k in range(i + 1, j + 1):
            ph = PHASES[k]
            if ph == "record":
                self.record_proposals(facilitator, at=at)
            storage.append_record(storage.events_path(self.folder),
                                  {"kind": "phase", "phase": ph, "by": facilitator, "at": _iso(at or now_utc())})
            if ph == "closed":
                from labkit.calibration.summary import write_summary

                write_summary(self)
        return to

    def decide(self, facilitator: str, item_id: str, label: str, note: str = "", *,
               at: dt.datetime | None = None) -> None:
        """Record the facilitator's decision on an item without gold (the reference for "after")."""
        self._require_facilitator(facilitator)
        self.item(item_id)
        self._check_label(label)
        if self.phase not in ("reveal", "discussion"):
            raise SessionError(f"decisions are taken during reveal or discussion; the session is in {self.phase}")
        storage.append_record(storage.events_path(self.folder),
                              {"kind": "decision", "item_id": item_id, "label": label, "note": note,
                               "by": facilitator, "at": _iso(at or now_utc())})

    def decisions(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for e in self.events():
            if e.get("kind") == "decision":
                out[e["item_id"]] = e["label"]
        return out

    def reference(self, item_id: str) -> str | None:
        """Gold label, else the facilitator's decision, else None."""
        it = self.item(item_id)
        return it.gold if it.gold is not None else self.decisions().get(item_id)

    # ---------------------------------------------------------------- answers
    def _check_label(self, label: str) -> None:
        if label not in self.labels:
            raise SessionError(f"label {label!r} is not in {self.spec.task} {self.spec.guideline.version} "
                               f"(labels: {', '.join(self.labels)})")

    def records(self, participant: str) -> list[dict[str, Any]]:
        return list(self._read(storage.answers_path(self.folder, participant)))

    def submit_answer(self, participant: str, item_id: str, label: str, *, confidence: float | None = None,
                      rationale: str = "", duration_s: float | None = None,
                      at: dt.datetime | None = None) -> Answer:
        """Record an answer: ``round="blind"`` during blind, ``"final"`` during discussion.

        The latest answer of a participant for an item and round is the one that counts.

        Raises
        ------
        SessionError
            In any other phase, for a facilitator, an unknown item or a label the version does not have.
        """
        storage.check_id(participant)
        if self.role_of(participant) != "annotator":
            raise SessionError(f"{participant!r} is a facilitator; facilitators do not answer")
        self.item(item_id)
        self._check_label(label)
        if confidence is not None:
            confidence = float(confidence)
            if not 0.0 <= confidence <= 1.0:
                raise ParameterError(f"confidence must be in [0, 1], got {confidence}")
        phase = self.phase
        if phase == "blind":
            rnd = "blind"
        elif phase == "discussion":
            rnd = "final"
        else:
            raise SessionError(f"answers are taken in the blind phase and, as final answers, in discussion; "
                               f"session {self.id} is in {phase}")
        t = at or now_utc()
        why = str(rationale or "")
        secs = None if duration_s is None else round(float(duration_s), 3)
        rec = {"kind": "answer", "participant": participant, "item_id": item_id, "label": label,
               "confidence": confidence, "rationale": why, "duration_s": secs, "round": rnd, "at": _iso(t)}
        storage.append_record(storage.answers_path(self.folder, participant), rec)
        return Answer(participant, item_id, label, confidence, why, secs, rnd, t)

    def answers(self, round: str = "blind", participant: str | None = None) -> pd.DataFrame:
        """The answers that count: latest per participant and item in ``round``.

        Blind answers stamped after the reveal started (a submit racing the facilitator's click) are
        not counted; :meth:`late_answers` lists them.
        """
        if round not in ROUNDS:
            raise ParameterError(f"round must be one of {', '.join(ROUNDS)}, got {round!r}")
        rows = self._answer_rows(participant)
        cols = ["participant", "item_id", "label", "confidence", "rationale", "duration_s", "round", "at"]
        df = pd.DataFrame(rows, columns=cols)
        df = df[df["round"] == round]
        if round == "blind":
            cut = self.phase_started("reveal")
            if cut is not None:
                df = df[df["at"] <= cut]
        df = df.sort_values("at", kind="stable").drop_duplicates(["participant", "item_id"], keep="last")
        order = {it.item_id: k for k, it in enumerate(self.spec.items)}
        df = df.assign(_o=df["item_id"].map(order)).sort_values(["participant", "_o"], kind="stable")
        return df.drop(columns="_o").reset_index(drop=True)

    def late_answers(self) -> pd.DataFrame:
        rows = [r for r in self._answer_rows(None) if r["round"] == "blind"]
        cut = self.phase_started("reveal")
        df = pd.DataFrame(rows, columns=["participant", "item_id", "label", "confidence", "rationale",
                                         "duration_s", "round", "at"])
        if cut is None:
            return df.iloc[0:0]
        return df[df["at"] > cut].reset_index(drop=True)

    def _answer_rows(self, participant: str | None) -> list[dict[str, Any]]:
        who = [participant] if participant else self.participants()
        rows = []
        for p in who:
            for r in self.records(p):
                if r.get("kind") == "answer":
                    rows.append({**{k: r.get(k) for k in ("participant", "item_id", "label", "confidence",
                                                         "rationale", "duration_s", "round")},
                                 "at": parse_utc(r["at"])})
        return rows

    def progress(self, participant: str, round: str | None = None) -> tuple[int, int]:
        """(items answered, items in the session) for the participant in the current round."""
        rnd = round or ("final" if self.phase == "discussion" else "blind")
        done = set(self.answers(rnd, participant)["item_id"])
        return (len(done & set(self._items)), len(self._items))

    def next_item(self, participant: str, round: str | None = None) -> SessionItem | None:
        """The first item the participant has not answered in the current round (None when done)."""
        rnd = round or ("final" if self.phase == "discussion" else "blind")
        done = set(self.answers(rnd, participant)["item_id"])
        for it in self.spec.items:
            if it.item_id not in done:
                return it
        return None

    # ---------------------------------------------------------------- clarifications
    def propose_clarification(self, participant: str, item_id: str, label: str, proposed: str,
                              rationale: str = "", *, op: str = "reword_definition", current: str | None = None,
                              at: dt.datetime | None = None) -> Clarification:
        """Propose a clarification of ``label``'s rule, prompted by ``item_id`` (reveal or discussion).

        ``op`` is one of :data:`CLARIFY_OPS`: reword the definition (``proposed`` is the new wording;
        ``current`` defaults to the definition in the session's version), add an edge case, or add a
        positive or negative example (``proposed`` is the text to add).
        """
        if op not in CLARIFY_OPS:
            raise ParameterError(f"op must be one of {', '.join(CLARIFY_OPS)}, got {op!r}")
        storage.check_id(participant)
        self.role_of(participant)
        self.item(item_id)
        self._check_label(label)
        if self.phase not in ("reveal", "discussion"):
            raise SessionError(f"clarifications are proposed during reveal or discussion; session {self.id} "
                               f"is in {self.phase}")
        proposed = str(proposed or "").strip()
        if not proposed:
            raise ParameterError("a clarification needs the proposed wording (field 'proposed' is empty)")
        t = at or now_utc()
        if current is not None:
            cur = current
        else:
            cur = self.spec.guideline.label(label).definition if op == "reword_definition" else ""
        cid = "c-" + hashlib.sha256(f"{self.id}|{participant}|{item_id}|{label}|{proposed}|{_iso(t)}".encode()).hexdigest()[:10]
        rec = {"kind": "clarification", "id": cid, "participant": participant, "item_id": item_id, "label": label,
               "current": cur, "proposed": proposed, "rationale": str(rationale or ""), "op": op, "at": _iso(t)}
        storage.append_record(storage.answers_path(self.folder, participant), rec)
        return Clarification(cid, participant, item_id, label, cur, proposed, rec["rationale"], t, op)

    def clarifications(self) -> list[Clarification]:
        out = []
        for p in self.participants():
            for r in self.records(p):
                if r.get("kind") == "clarification":
                    out.append(Clarification(r["id"], r["participant"], r["item_id"], r["label"], r["current"],
                                             r["proposed"], r.get("rationale", ""), parse_utc(r["at"]),
                                             r.get("op", "reword_definition")))
        return sorted(out, key=lambda c: c.at)

    def record_proposals(self, facilitator: str, *, at: dt.datetime | None = None) -> list[Path]:
        """Write one guideline change proposal per clarification into ``proposals/`` (idempotent)."""
        from labkit.calibration.proposals import write_proposal

        self._require_facilitator(facilitator)
        done = {e["clarification"] for e in self.events() if e.get("kind") == "proposal"}
        paths = []
        for c in self.clarifications():
            if c.id in done:
                continue
            path = write_proposal(self, c, at=at)
            storage.append_record(storage.events_path(self.folder),
                                  {"kind": "proposal", "clarification": c.id, "path": os.path.relpath(path, self.folder),
                                   "by": facilitator, "at": _iso(at or now_utc())})
            paths.append(path)
        return paths

    def proposals(self) -> list[Path]:
        return sorted((self.folder / storage.PROPOSALS_DIR).glob("*.yaml"))

    # ---------------------------------------------------------------- aggregates (facilitator view)
    def distribution(self, item_id: str, round: str = "blind") -> dict[str, int]:
        """Answer counts per label for one item, in guideline order (labels with zero included)."""
        a = self.answers(round)
        counts = a.loc[a["item_id"] == item_id, "label"].value_counts()
        return {lab: int(counts.get(lab, 0)) for lab in self.labels}

    def agreement(self, round: str = "blind", *, ci: float | None = None) -> dict[str, Any]:
        """Group agreement on the session items: Krippendorff's alpha (nominal), Fleiss' kappa and
        pairwise agreement from :mod:`labkit.stats` (see :func:`labkit.calibration.metrics.agreement`)."""
        return _agreement(self.answers(round), rater="participant", ci=ci)

    def ranked_by_disagreement(self, round: str = "blind") -> pd.DataFrame:
        """Items with answers, most disagreement first: item_id, answers, disagreement, top label, reference."""
        a = self.answers(round)
        rows = []
        for it in self.spec.items:
            labs = a.loc[a["item_id"] == it.item_id, "label"].tolist()
            top = pd.Series(labs).value_counts().index[0] if labs else None
            ref = self.reference(it.item_id)
            rows.append({"item_id": it.item_id, "answers": len(labs),
                         "disagreement": item_disagreement(labs) if labs else float("nan"),
                         "top_label": top, "reference": ref,
                         "correct_share": (sum(x == ref for x in labs) / len(labs)) if labs and ref else float("nan")})
        df = pd.DataFrame(rows)
        return df.sort_values(["disagreement", "answers"], ascending=[False, False], kind="stable",
                              na_position="last").reset_index(drop=True)

    def who_answered(self, round: str = "blind") -> pd.DataFrame:
        """Participant x item matrix of True/False (answered in ``round``), annotators only."""
        a = self.answers(round)
        people = self.annotators()
        items = [i.item_id for i in self.spec.items]
        done = set(zip(a["participant"], a["item_id"]))
        return pd.DataFrame([[(p, i) in done for i in items] for p in people], index=people, columns=items)

    def state(self) -> dict[str, Any]:
        """A JSON-ready summary of where the session is."""
        blind = self.answers("blind")
        final = self.answers("final")
        ann = self.annotators()
        return {
            "session": self.id, "task": self.spec.task, "guideline_version": self.spec.guideline.version,
            "phase": self.phase, "items": len(self.spec.items),
            "gold_items": sum(1 for i in self.spec.items if i.gold is not None),
            "annotators": len(ann), "facilitators": self.spec.facilitators,
            "blind_answers": int(len(blind)), "final_answers": int(len(final)),
            "late_answers": int(len(self.late_answers())),
            "complete_annotators": sum(1 for p in ann if self.progress(p, "blind")[0] == len(self.spec.items)),
            "clarifications": len(self.clarifications()), "proposals": len(self.proposals()),
            "agreement_blind": self.agreement("blind"),
        }

