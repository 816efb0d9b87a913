"""An onboarding quiz on a guideline version: questions from its exemplars and examples, scored.

Each question shows a text and asks for the label. Its answer is every label the guideline lists the
text as an instance of (an exemplar with polarity positive, or a positive example); a text also listed
as a negative example of a label cannot have that label as its answer. After each answer the
participant sees at once whether it was right, the rationale (an exemplar's own, else that the
guideline lists it as an example of the label) and the label's definition. At the end the score, the pass mark and whether it was reached
are written to ``<results>/<participant>.json`` (atomically), which an onboarding gate or a credential
policy can read (:func:`load_results`).

The order of the questions is a deterministic shuffle seeded by the participant and the version, so a
participant sees the same quiz after a kernel restart, and two participants see different orders.
No Jupyter import here: the widgets are in :mod:`labkit.calibration.tutorial_widgets`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit.errors import GuidelineError, ParameterError
from labkit.guidelines.model import GuidelineVersion

__all__ = ["Question", "Quiz", "questions", "load_results"]


@dataclass(frozen=True)
class Question:
    text: str
    answers: tuple[str, ...]           # every label that is right
    rationale: str
    source: str                        # "exemplar" or "example"


def questions(v: GuidelineVersion) -> list[Question]:
    """Every text the guideline gives as an instance of a label, with its right answers, in guideline order."""
    pos: dict[str, list[str]] = {}
    neg: dict[str, set[str]] = {}
    why: dict[str, tuple[str, str]] = {}
    for lab in v.labels:
        for e in lab.exemplars:
            if e.polarity == "positive":
                pos.setdefault(e.text, []).append(lab.name)
                why[e.text] = (e.rationale, "exemplar")
            else:
                neg.setdefault(e.text, set()).add(lab.name)
        for t in lab.positive_examples:
            pos.setdefault(t, []).append(lab.name)
            why.setdefault(t, (f"the guideline lists this text as an example of {lab.name}.", "example"))
        for t in lab.negative_examples:
            neg.setdefault(t, set()).add(lab.name)
    out = []
    for text, labels in pos.items():
        answers = tuple(dict.fromkeys(x for x in labels if x not in neg.get(text, set())))
        if answers:
            rationale, source = why[text]
            out.append(Question(text=text, answers=answers, rationale=rationale, source=source))
    return out


def _order(n: int, seed: str) -> list[int]:
    keys = [hashlib.sha256(f"{seed}\x00{i}".encode()).hexdigest() for i in range(n)]
    return sorted(range(n), key=lambda i: keys[i])


@dataclass
class Quiz:
    """One participant's quiz on one guideline version.

    Parameters
    ----------
    version : GuidelineVersion
    participant : str
        Who takes it (the result file is named after it).
    results : path
        Folder for ``<participant>.json``.
    pass_mark : float
        Share of right answers needed to pass, in (0, 1].
    n_questions : int, optional
        Ask only the first n of the shuffled questions (default: all).
    """

    version: GuidelineVersion
    participant: str
    results: str | os.PathLike[str]
    pass_mark: float = 0.8
    n_questions: int | None = None
    answers: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not (0 < float(self.pass_mark) <= 1):
            raise ParameterError(f"pass_mark must be in (0, 1], got {self.pass_mark!r}")
        if not str(self.participant).strip() or "/" in str(self.participant) or str(self.participant).startswith("."):
            raise ParameterError(f"participant must be a plain id (no '/', not starting with '.'), got {self.participant!r}")
        qs = questions(self.version)
        if not qs:
            raise GuidelineError(f"{self.version.task} {self.version.version} has no positive examples or exemplars "
                                 "to quiz on")
        order = _order(len(qs), f"{self.participant}|{self.version.task}|{self.version.version}")
        self.questions = [qs[i] for i in order][: self.n_questions or len(qs)]

    @property
    def labels(self) -> tuple[str, ...]:
        return self.version.label_names

    @property
    def position(self) -> int:
        """Index of the next unanswered question (== len(questions) when done)."""
        return len(self.answers)

    @property
    def done(self) -> bool:
        return self.position >= len(self.questions)

    def current(self) -> Question | None:
        return None if self.done else self.questions[self.position]

    def answer(self, label: str) -> dict[str, Any]:
        """Answer the current question; returns ``{correct, answers, rationale, definition}`` for feedback."""
        q = self.current()
        if q is None:
            raise ParameterError("the quiz is finished: there is no question to answer")
        if label not in self.labels:
            raise ParameterError(f"label {label!r} is not in {self.version.task} {self.version.version} "
                                 f"(labels: {', '.join(self.labels)})")
        ok = label in q.answers
        rec = {"question": q.text, "given": label, "correct": ok, "answers": list(q.answers),
               "rationale": q.rationale, "definition": self.version.label(q.answers[0]).definition}
        self.answers.append(rec)
        if self.done:
            self.save()
        return rec

    @property
    def score(self) -> float:
        return sum(a["correct"] for a in self.answers) / len(self.answers) if self.answers else 0.0

    @property
    def passed(self) -> bool:
        return self.done and self.score >= float(self.pass_mark)

    def result(self) -> dict[str, Any]:
        return {"task": self.version.task, "guideline_version": self.version.version,
                "participant": self.participant, "n_questions": len(self.questions),
                "n_answered": len(self.answers), "n_correct": sum(a["correct"] for a in self.answers),
                "score": self.score, "pass_mark": float(self.pass_mark), "passed": self.passed,
                "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
                "answers": self.answers}

    def save(self) -> Path:
        """Write the result to ``<results>/<participant>.json`` (atomic)."""
        from labkit._atomic import write_text

        folder = Path(self.results)
        if folder.exists() and not folder.is_dir():
            raise GuidelineError(f"results {folder} is a file, not a folder")
        folder.mkdir(parents=True, exist_ok=True)
        return write_text(folder / f"{self.participant}.json", json.dumps(self.result(), indent=2, ensure_ascii=False) + "\n")


def load_results(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every tutorial result in ``folder`` (one dict per participant; a broken file names itself)."""
    out = []
    for p in sorted(Path(folder).glob("*.json")):
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise GuidelineError(f"{p}: not a tutorial result ({exc})") from None
        for key in ("participant", "score", "passed", "guideline_version"):
            if key not in d:
                raise GuidelineError(f"{p}: tutorial result without field {key!r}")
        out.append(d)
    return out
