"""The guideline tutorial in JupyterLab: an ipywidgets view over :class:`labkit.guidelines.tutorial.Quiz`.

Built from the calibration session's pieces (its card style, escaping and message colours): the item
card, one toggle button per label (none preselected), *Check answer*, immediate feedback with the
rationale and the definition, *Next question*, and at the end the score against the pass mark and where
the result was saved.
"""

from __future__ import annotations

import os
from typing import Any

import ipywidgets as W

from labkit.calibration.widgets import _CSS, _Displayable, esc
from labkit.errors import LabkitError
from labkit.guidelines.model import Guidelines
from labkit.guidelines.tutorial import Quiz

__all__ = ["TutorialView", "tutorial_view"]


class TutorialView(_Displayable):
    """The quiz, one question at a time."""

    def __init__(self, quiz: Quiz):
        self.quiz = quiz
        v = quiz.version
        self.header = W.HTML(f"{_CSS}<h3>{esc(v.task)} guideline {esc(v.version)}: tutorial</h3>"
                             f'<p class="lkc-help">Give the label the guideline asks for. You see at once whether it '
                             f"was right and why. Pass mark: {quiz.pass_mark:.0%}.</p>")
        self.card = W.HTML()
        self.choice = W.ToggleButtons(options=list(quiz.labels), value=None, description="Label:",
                                      tooltips=[v.label(x).definition for x in quiz.labels])
        self.check = W.Button(description="Check answer", button_style="primary", disabled=True)
        self.next = W.Button(description="Next question", disabled=True)
        self.feedback = W.HTML()
        self.progress = W.HTML()
        self.choice.observe(self._on_choice, names="value")
        self.check.on_click(self._on_check)
        self.next.on_click(self._on_next)
        self.widget = W.VBox([self.header, self.progress, self.card, self.choice, W.HBox([self.check, self.next]),
                              self.feedback])
        self._show()

    def _on_choice(self, change: dict[str, Any]) -> None:
        self.check.disabled = change["new"] is None or self.quiz.done

    def _show(self) -> None:
        q = self.quiz.current()
        n = len(self.quiz.questions)
        if q is None:
            self._finish()
            return
        k = self.quiz.position
        self.progress.value = f'<p class="lkc-help">Question {k + 1} of {n} · right so far: ' \
                              f'{sum(a["correct"] for a in self.quiz.answers)}</p>'
        self.card.value = f'<div class="lkc-card"><div class="lkc-text">{esc(q.text)}</div></div>'
        self.choice.value = None
        self.choice.disabled = False
        self.check.disabled = True
        self.next.disabled = True
        self.feedback.value = ""

    def _on_check(self, _b: Any = None) -> None:
        if self.choice.value is None:
            return
        try:
            r = self.quiz.answer(str(self.choice.value))
        except LabkitError as exc:
            self.feedback.value = f'<p class="lkc-msg-err">{esc(exc)}</p>'
            return
        verdict = ('<p class="lkc-msg-ok">Right.</p>' if r["correct"] else
                   f'<p class="lkc-msg-err">Not quite: the guideline says {esc(" or ".join(r["answers"]))}.</p>')
        self.feedback.value = (f"{verdict}<p><strong>Why:</strong> {esc(r['rationale'])}</p>"
                               f"<p><strong>{esc(r['answers'][0])}:</strong> {esc(r['definition'])}</p>")
        self.choice.disabled = True
        self.check.disabled = True
        self.next.disabled = False
        if self.quiz.done:
            self.next.description = "See my result"

    def _on_next(self, _b: Any = None) -> None:
        self._show()

    def _finish(self) -> None:
        q = self.quiz
        path = os.path.join(str(q.results), f"{q.participant}.json")
        cls = "lkc-msg-ok" if q.passed else "lkc-msg-err"
        word = "Passed" if q.passed else "Not passed yet"
        self.progress.value = ""
        self.card.value = (f'<div class="lkc-card"><p class="{cls}">{word}: {sum(a["correct"] for a in q.answers)} of '
                           f"{len(q.questions)} right ({q.score:.0%}; pass mark {q.pass_mark:.0%}).</p>"
                           f'<p class="lkc-help">Result saved to {esc(path)}.</p></div>')
        self.choice.disabled = True
        self.check.disabled = True
        self.next.disabled = True


def tutorial_view(guidelines: str | os.PathLike[str], task: str, participant: str, results: str | os.PathLike[str],
                  *, version: str = "", pass_mark: float = 0.8, n_questions: int = 0) -> TutorialView:
    """The tutorial for ``participant`` on ``task`` (``version`` empty: the latest)."""
    gl = Guidelines.load(guidelines)
    v = gl.get(task, version) if version else gl.latest(task)
    return TutorialView(Quiz(v, participant, results, pass_mark=pass_mark, n_questions=n_questions or None))
