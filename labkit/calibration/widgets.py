"""ipywidgets views of a calibration session, thin over :class:`~labkit.calibration.model.CalibrationSession`.

* :class:`ParticipantView`: the item card, label choices from the guideline version in force (each
  label's definition as a tooltip and in an expandable list), confidence, rationale, submit, progress.
  Before the reveal nothing of anybody else is shown. From the reveal on it shows the
  :class:`RevealPanel`, and in discussion a second, final answer per item.
* :class:`RevealPanel`: the answer distribution, the gold label with its definition, positive and
  negative examples and edge cases, every rationale (pseudonymous unless the session shows names) and
  a form to propose a clarification.
* :class:`FacilitatorView`: who answered what, live agreement, items ranked by disagreement, the
  reveal panel, decisions on items without gold, and the phase control.

Every text that comes from data (item text and ids, rationales, labels, definitions) goes through
:func:`labkit.reports.display.esc` before it reaches an ``HTML`` widget. State lives in the session folder; a view
re-reads it on every action and on *Refresh*, so a restarted kernel shows where its participant was.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import ipywidgets as W

from labkit.calibration.model import CLARIFY_OPS, PHASES, CalibrationSession, SessionError
from labkit.errors import LabkitError
from labkit.reports.display import esc

NEXT_PHASE_BUTTON = {"blind": "Reveal answers", "reveal": "Start discussion", "discussion": "Record proposals",
                     "record": "Close session"}
PHASE_HELP = {
    "blind": "Answer each item on your own. Nobody sees your answers until the facilitator reveals them.",
    "reveal": "Answers are revealed. Compare with the gold label and propose a clarification where the "
              "guideline was unclear.",
    "discussion": "Discuss the items. Then give your answer after discussion for each item.",
    "record": "The facilitator is recording the proposed clarifications. Thank you!",
    "closed": "This session is closed. Thank you!",
}
FACILITATOR_HELP = {
    "blind": "Annotators are answering blind. Watch who has answered; reveal when everyone is done or time is up "
             "(answers sent after the reveal are listed, not counted).",
    "reveal": "Walk through the items from the most disagreement down. Record a decision for items without gold.",
    "discussion": "Annotators give their answer after discussion. Record proposals when the room is done.",
    "record": "The clarifications are now guideline change proposals (listed below). Close the session to write "
              "the summary and the before/after data.",
    "closed": "This session is closed: summary.json and before_after.json are in the session folder. Render the "
              "before/after report with: labkit report run --only calibration_report -p session=FOLDER",
}

_CSS = """<style>
.lkc-card{border:1px solid #c9d3df;border-radius:6px;padding:.6em .9em;background:#fbfcfe;margin:.3em 0}
.lkc-card .lkc-id{color:#667;font-size:.85em}
.lkc-card .lkc-text{font-size:1.15em;white-space:pre-wrap;margin:.3em 0}
.lkc-phase{display:inline-block;padding:.1em .6em;border-radius:1em;background:#3b6ea5;color:#fff;font-size:.85em}
.lkc-help{color:#444;margin:.2em 0 .5em}
.lkc-msg-ok{color:#1d6b2c}.lkc-msg-err{color:#8a1c1c;font-weight:600}
table.lkc{border-collapse:collapse;font-size:.9em}
table.lkc th,table.lkc td{border-bottom:1px solid #ddd;padding:.2em .5em;text-align:left}
.lkc-bar{display:inline-block;height:.8em;background:#3b6ea5;vertical-align:middle}
.lkc-gold{border-left:4px solid #2e7d32;padding:.3em .7em;background:#f1f8f2;margin:.3em 0}
.lkc-rat{border-left:3px solid #ccc;padding:.1em .6em;margin:.2em 0;white-space:pre-wrap}
.lkc-yes{color:#1d6b2c;font-weight:600}.lkc-no{color:#aaa}
</style>"""


#: The confidence choices: "not given" (value ``""``, recorded as no confidence) first, so nothing is preset.
CONFIDENCE_VALUES = tuple(round(0.1 * k, 1) for k in range(11))
CONFIDENCE_OPTIONS: list[tuple[str, float | str]] = [("not given", "")] + [(f"{v:.0%}", v) for v in CONFIDENCE_VALUES]


def _msg(ok: bool, text: str) -> str:
    return f'<div class="{"lkc-msg-ok" if ok else "lkc-msg-err"}">{esc(text)}</div>'


class _Names:
    """Participant ids as shown: real ids if the session shows names, else keyed pseudonyms."""

    def __init__(self, session: CalibrationSession):
        self.show = session.spec.show_names
        self._key: bytes | None = None

    def __call__(self, pid: str) -> str:
        if self.show:
            return pid
        if self._key is None:
            from labkit.privacy import load_key

            self._key = load_key()
        from labkit.privacy import pseudonym

        return pseudonym(pid, self._key)


def _header(session: CalibrationSession, who: str, role: str) -> str:
    ph = session.phase
    help_text = (FACILITATOR_HELP if role == "facilitator" else PHASE_HELP)[ph]
    g = session.spec.guideline
    return (_CSS + f'<div><b>Calibration session {esc(session.id)}</b> &middot; {esc(g.task)} guideline '
            f'{esc(g.version)} &middot; you are <b>{esc(who)}</b> ({esc(role)}) &middot; '
            f'<span class="lkc-phase">phase: {esc(ph)}</span></div>'
            f'<div class="lkc-help">{esc(help_text)}</div>')


def _card(session: CalibrationSession, item_id: str, k: int, n: int) -> str:
    it = session.item(item_id)
    text = it.text or "(no text for this item; see the item id)"
    return (f'<div class="lkc-card"><div class="lkc-id">Item {k} of {n} &middot; id {esc(it.item_id)}'
            f'{" &middot; " + esc(it.slice) if it.slice else ""}</div>'
            f'<div class="lkc-text">{esc(text)}</div></div>')


def _definitions(session: CalibrationSession) -> W.Accordion:
    g = session.spec.guideline
    parts = []
    for lab in g.labels:
        body = f"<p>{esc(lab.definition)}</p>"
        if lab.positive_examples:
            body += "<div><i>Examples:</i> " + " &middot; ".join(f"&ldquo;{esc(x)}&rdquo;" for x in lab.positive_examples) + "</div>"
        if lab.negative_examples:
            body += "<div><i>Not this label:</i> " + " &middot; ".join(f"&ldquo;{esc(x)}&rdquo;" for x in lab.negative_examples) + "</div>"
        if lab.edge_cases:
            body += "<div><i>Edge cases:</i> " + " &middot; ".join(esc(x) for x in lab.edge_cases) + "</div>"
        parts.append(W.HTML(body))
    acc = W.Accordion(children=[W.VBox([W.HTML("Open a label to read its definition."), W.Accordion(children=parts, titles=tuple(g.label_names))])],
                      titles=("Label definitions (guideline " + g.version + ")",))
    acc.selected_index = None
    return acc


class AnswerForm:
    """Label, confidence, rationale and submit for one participant and round (blind or final)."""

    def __init__(self, session: CalibrationSession, participant: str, on_done: Any):
        self.session = session
        self.participant = participant
        self._on_done = on_done
        g = session.spec.guideline
        self.order = [it.item_id for it in session.items]
        self.index = 0
        self.card = W.HTML()
        self.label = W.ToggleButtons(options=list(g.label_names), value=None, description="Label",
                                     tooltips=[lab.definition for lab in g.labels],
                                     style={"button_width": "auto"})
        self.definition = W.HTML()
        # no preset confidence: "not given" until the annotator picks one (an answer without one is fine)
        self.confidence = W.Dropdown(options=CONFIDENCE_OPTIONS, index=0, description="Confidence",
                                     tooltip="How sure are you? Optional.")
        self.rationale = W.Textarea(placeholder="Why this label? One or two sentences help the discussion.",
                                    description="Rationale", layout=W.Layout(width="95%", height="4.5em"))
        self.submit = W.Button(description="Submit answer", button_style="primary", disabled=True, icon="check")
        self.label.add_class("lkc-label")
        self.rationale.add_class("lkc-rationale")
        self.prev = W.Button(description="Previous item", icon="arrow-left")
        self.next = W.Button(description="Next item", icon="arrow-right")
        self.progress = W.IntProgress(min=0, max=len(self.order), description="Answered")
        self.progress_text = W.HTML()
        self.message = W.HTML()
        self.label.observe(self._on_label, names="value")
        self.submit.on_click(self._on_submit)
        self.prev.on_click(lambda _b: self.show(self.index - 1))
        self.next.on_click(lambda _b: self.show(self.index + 1))
        self.on_show: Any = None  # called with the item id each time an item is shown
        self.box = W.VBox([self.progress_text, self.card, self.label, self.definition, self.confidence,
                           self.rationale, W.HBox([self.submit, self.prev, self.next, self.progress]), self.message])
        self._shown_at = time.monotonic()

    @property
    def round(self) -> str:
        return "final" if self.session.phase == "discussion" else "blind"

    def _on_label(self, change: dict[str, Any]) -> None:
        lab = change["new"]
        self.submit.disabled = lab is None
        self.definition.value = (f"<i>{esc(lab)}</i>: {esc(self.session.spec.guideline.label(lab).definition)}"
                                 if lab else "")

    def start(self) -> None:
        """Show the first unanswered item (or the last item when everything is answered)."""
        nxt = self.session.next_item(self.participant, self.round)
        self.show(self.order.index(nxt.item_id) if nxt else len(self.order) - 1)

    def show(self, index: int) -> None:
        self.index = max(0, min(index, len(self.order) - 1))
        iid = self.order[self.index]
        self.card.value = _card(self.session, iid, self.index + 1, len(self.order))
        mine = self.session.answers(self.round, self.participant)
        prev = mine[mine["item_id"] == iid]
        if len(prev):
            r = prev.iloc[-1]
            self.label.value = r["label"]
            c = r["confidence"]
            self.confidence.index = (1 + min(range(len(CONFIDENCE_VALUES)), key=lambda k: abs(CONFIDENCE_VALUES[k] - float(c)))
                                     if c is not None and c == c else 0)
            self.rationale.value = r["rationale"] or ""
            self.submit.description = "Update answer"
        else:
            self.label.value = None
            self.confidence.index = 0  # "not given"
            self.rationale.value = ""
            self.submit.description = "Submit answer"
        self.prev.disabled = self.index == 0
        self.next.disabled = self.index == len(self.order) - 1
        self._update_progress(mine)
        self._shown_at = time.monotonic()
        if self.on_show is not None:
            self.on_show(iid)

    def _update_progress(self, mine: Any = None) -> None:
        if mine is None:
            mine = self.session.answers(self.round, self.participant)
        done = len(set(mine["item_id"]) & set(self.order))
        self.progress.value = done
        what = "answered after discussion" if self.round == "final" else "answered"
        self.progress_text.value = f"<b>{done} of {len(self.order)} items {what}</b>"

    def _on_submit(self, _b: Any = None) -> None:
        iid = self.order[self.index]
        try:
            conf = self.confidence.value
            self.session.submit_answer(self.participant, iid, self.label.value, confidence=None if conf == "" else conf,
                                       rationale=self.rationale.value,
                                       duration_s=time.monotonic() - self._shown_at)
        except LabkitError as exc:
            self.message.value = _msg(False, str(exc))
            self._on_done(refresh_only=True)
            return
        nxt = self.session.next_item(self.participant, self.round)
        if nxt is None:
            self._update_progress()
            self.message.value = _msg(True, f"Saved your answer to item {iid}. All items answered"
                                      + (": wait for the facilitator to reveal the answers; this page follows."
                                         if self.round == "blind" else "."))
        else:
            self.message.value = _msg(True, f"Saved your answer to item {iid}.")
            self.show(self.order.index(nxt.item_id))
        self._on_done(refresh_only=False)


class RevealPanel:
    """Distribution, gold with its guideline text, rationales, and the clarification form."""

    def __init__(self, session: CalibrationSession, participant: str, *, allow_clarify: bool = True):
        self.session = session
        self.participant = participant
        self.names = _Names(session)
        ids = [it.item_id for it in session.items]
        self.item = W.Dropdown(options=[(f"{k + 1}. {i}", i) for k, i in enumerate(ids)], value=ids[0],
                               description="Item")
        self.card = W.HTML()
        self.distribution = W.HTML()
        self.gold = W.HTML()
        self.rationales = W.HTML()
        g = session.spec.guideline
        self.clar_label = W.Dropdown(options=list(g.label_names), description="Label")
        self.clar_op = W.Dropdown(options=[(v, k) for k, v in CLARIFY_OPS.items()], value="add_edge_case",
                                  description="Change", style={"description_width": "initial"})
        self.clar_current = W.HTML()
        self.clar_text = W.Textarea(placeholder="Proposed wording of the rule (what the guideline should say)",
                                    description="Proposed", layout=W.Layout(width="95%", height="4.5em"))
        self.clar_rationale = W.Textarea(placeholder="Why: what was unclear on this item",
                                         description="Why", layout=W.Layout(width="95%", height="3em"))
        self.clar_submit = W.Button(description="Propose clarification", icon="pencil", button_style="info",
                                    layout=W.Layout(width="max-content"))
        self.item.add_class("lkc-reveal-item")
        self.clar_text.add_class("lkc-clar-proposed")
        self.clar_rationale.add_class("lkc-clar-why")
        self.clar_message = W.HTML()
        self.item.observe(lambda _c: self.render(), names="value")
        self.clar_label.observe(self._on_clar_label, names="value")
        self.clar_submit.on_click(self._on_clarify)
        self.clar_op.observe(self._on_clar_label, names="value")
        form = W.VBox([W.HTML("<b>Propose a clarification of the guideline</b>"), W.HBox([self.clar_label, self.clar_op]),
                       self.clar_current,
                       self.clar_text, self.clar_rationale, self.clar_submit, self.clar_message])
        self.form = form
        self.box = W.VBox([self.item, self.card, W.HBox([self.distribution, self.gold]), self.rationales]
                          + ([form] if allow_clarify else []))

    def _on_clar_label(self, _change: Any = None) -> None:
        lab = self.clar_label.value
        if not lab:
            return
        d = self.session.spec.guideline.label(lab)
        if self.clar_op.value == "reword_definition":
            self.clar_current.value = f"<i>Current definition of {esc(lab)}:</i> {esc(d.definition)}"
            self.clar_text.placeholder = "The definition as it should read"
        elif self.clar_op.value == "add_edge_case":
            self.clar_current.value = (f"<i>Edge cases of {esc(lab)} now:</i> "
                                       + (" &middot; ".join(esc(x) for x in d.edge_cases) or "none"))
            self.clar_text.placeholder = "The edge case to add, e.g. 'A link to one's own shop counts as ...'"
        else:
            pos = self.clar_op.value.endswith("positive")
            ex = d.positive_examples if pos else d.negative_examples
            self.clar_current.value = (f"<i>{'Examples' if pos else 'Counter-examples'} of {esc(lab)} now:</i> "
                                       + (" &middot; ".join(f"&ldquo;{esc(x)}&rdquo;" for x in ex) or "none"))
            self.clar_text.placeholder = "The example text to add"

    def render(self) -> None:
        s = self.session
        iid = self.item.value
        it = s.item(iid)
        k = [i.item_id for i in s.items].index(iid)
        self.card.value = _card(s, iid, k + 1, len(s.items))
        blind = s.answers("blind")
        a = blind[blind["item_id"] == iid]
        total = max(1, len(a))
        rows = []
        ref = s.reference(iid)
        for lab, n in s.distribution(iid, "blind").items():
            mark = " &#10003;" if lab == ref else ""
            rows.append(f"<tr><td>{esc(lab)}{mark}</td><td>{n}</td>"
                        f'<td><span class="lkc-bar" style="width:{int(120 * n / total)}px"></span></td></tr>')
        self.distribution.value = (f"<table class='lkc'><caption><b>Blind answers ({len(a)})</b></caption>"
                                   f"<tr><th>label</th><th>n</th><th></th></tr>{''.join(rows)}</table>")
        if ref is not None:
            ldef = s.spec.guideline.label(ref)
            src = "Gold label" if it.gold is not None else "Facilitator's decision"
            body = (f'<div class="lkc-gold"><b>{src}: {esc(ref)}</b><div>{esc(ldef.definition)}</div>')
            if it.gold_rationale:
                body += f"<div><i>Why:</i> {esc(it.gold_rationale)}</div>"
            if ldef.positive_examples:
                body += "<div><i>Examples:</i><ul>" + "".join(f"<li>{esc(x)}</li>" for x in ldef.positive_examples) + "</ul></div>"
            if ldef.negative_examples:
                body += "<div><i>Not this label:</i><ul>" + "".join(f"<li>{esc(x)}</li>" for x in ldef.negative_examples) + "</ul></div>"
            if ldef.edge_cases:
                body += "<div><i>Edge cases:</i><ul>" + "".join(f"<li>{esc(x)}</li>" for x in ldef.edge_cases) + "</ul></div>"
            if ldef.exemplars:  # worked examples promoted into the guideline, with the reason behind each
                body += "<div><i>Exemplars:</i><ul>" + "".join(
                    f"<li>{esc(e.text)} — <b>{'is' if e.polarity == 'positive' else 'is not'} {esc(ref)}</b>: "
                    f"{esc(e.rationale)}</li>" for e in ldef.exemplars) + "</ul></div>"
            self.gold.value = body + "</div>"
            self.clar_label.value = ref
        else:
            self.gold.value = ('<div class="lkc-gold"><b>No gold label for this item.</b> '
                               "Discuss it; the facilitator may record a decision.</div>")
        rats = []
        for r in a.itertuples():
            who = "you" if r.participant == self.participant else self.names(r.participant)
            conf = "" if r.confidence is None or r.confidence != r.confidence else f", confidence {r.confidence:.2f}"
            text = esc(r.rationale) if r.rationale else "<i>(no rationale)</i>"
            rats.append(f'<div class="lkc-rat"><b>{esc(who)}</b> chose <b>{esc(r.label)}</b>{conf}: {text}</div>')
        self.rationales.value = "<div><b>Rationales</b></div>" + ("".join(rats) or "<i>No answers yet.</i>")
        self._on_clar_label()  # the current rule of the label in the form (also when the label did not change)
        self.clar_submit.disabled = s.phase not in ("reveal", "discussion")

    def _on_clarify(self, _b: Any = None) -> None:
        try:
            c = self.session.propose_clarification(self.participant, self.item.value, self.clar_label.value,
                                                   self.clar_text.value, self.clar_rationale.value,
                                                   op=self.clar_op.value)
        except LabkitError as exc:
            self.clar_message.value = _msg(False, str(exc))
            return
        self.clar_text.value = ""
        self.clar_rationale.value = ""
        self.clar_message.value = _msg(True, f"Clarification {c.id} on {c.label} saved; it becomes a guideline "
                                       "proposal when the facilitator records the session.")


#: Seconds between two looks at the session folder by a view that follows it (see :class:`_Displayable`).
POLL_SECONDS = 1.0


def folder_stamp(folder: str | os.PathLike[str]) -> tuple[tuple[str, int, int], ...]:
    """(name, mtime_ns, size) of the session's event log and answer files: changes whenever anyone acts."""
    from labkit.calibration import storage

    files = [storage.events_path(folder), *sorted((Path(folder) / storage.ANSWERS_DIR).glob("*.jsonl"))]
    out = []
    for f in files:
        try:
            st = f.stat()
        except FileNotFoundError:
            continue
        out.append((f.name, st.st_mtime_ns, st.st_size))
    return tuple(out)


class _Displayable:
    """A view that follows its session: a background thread looks at the session folder every
    ``poll`` seconds and calls :meth:`on_change` when a file changed (a phase change, an answer), so
    nobody presses Refresh. ``stop()`` ends it (it is a daemon thread: it also ends with the kernel)."""

    widget: W.Widget
    session: CalibrationSession

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def follow(self, poll: float | None = None) -> None:
        """Start following the session folder every ``poll`` seconds (None: ``$LABKIT_CALIBRATION_POLL``,
        else :data:`POLL_SECONDS`; 0: do not follow, Refresh only)."""
        import threading

        self._stop = threading.Event()
        if poll is None:
            poll = float(os.environ.get("LABKIT_CALIBRATION_POLL", POLL_SECONDS))
        if not poll:
            return
        self._stamp = folder_stamp(self.session.folder)

        def loop() -> None:
            while not self._stop.wait(poll):
                try:
                    now = folder_stamp(self.session.folder)
                    if now != self._stamp:
                        self._stamp = now
                        self.on_change()
                except Exception as exc:  # keep following; show what went wrong
                    self.on_error(exc)

        self._thread = threading.Thread(target=loop, name=f"labkit-follow-{self.session.id}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop following the session folder."""
        if getattr(self, "_stop", None) is not None:
            self._stop.set()

    def on_change(self) -> None:
        self.refresh()

    def on_error(self, exc: Exception) -> None:  # pragma: no cover - shown in the page
        pass

    def refresh(self) -> None:
        raise NotImplementedError


class ParticipantView(_Displayable):
    """What an annotator sees. ``.widget`` is the box to display."""

    def __init__(self, session: CalibrationSession, participant: str, *, poll: float | None = None):
        self.session = session
        self.participant = participant
        self.header = W.HTML()
        self.refresh_button = W.Button(description="Refresh", icon="refresh",
                                       tooltip="Read the session again (phase, answers)")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.form = AnswerForm(session, participant, self._after_answer)
        self.reveal = RevealPanel(session, participant)
        self.definitions = _definitions(session)
        self.body = W.VBox()
        self.widget = W.VBox([self.header, self.refresh_button, self.body])
        self._phase: str | None = None
        # in discussion the reveal above and the answer form below show the same item
        self.form.on_show = self._sync_reveal
        self.reveal.item.observe(self._sync_form, names="value")
        self.refresh()
        self.follow(poll)

    def on_change(self) -> None:
        """Another participant's answer changes nothing here; a phase change re-renders the page."""
        if self.session.phase != self._phase:
            self.refresh()
        elif self._phase in ("reveal", "discussion"):
            self.reveal.render()  # new answers and clarifications in the distribution and rationales

    def _sync_reveal(self, item_id: str) -> None:
        if self._phase == "discussion" and self.reveal.item.value != item_id:
            self.reveal.item.value = item_id

    def _sync_form(self, change: dict[str, Any]) -> None:
        if self._phase == "discussion" and self.form.order[self.form.index] != change["new"]:
            self.form.show(self.form.order.index(change["new"]))

    def _after_answer(self, refresh_only: bool) -> None:
        if self.session.phase != self._phase:
            self.refresh()

    def refresh(self) -> None:
        s = self.session
        ph = s.phase
        self.header.value = _header(s, self.participant, "annotator")
        if ph == "blind":
            kids = [self.form.box, self.definitions]
        elif ph == "reveal":
            kids = [self.reveal.box, self.definitions]
        elif ph == "discussion":
            kids = [self.reveal.box, W.HTML("<hr><b>Your answer after discussion</b>"), self.form.box,
                    self.definitions]
        else:
            kids = [W.HTML(_msg(True, PHASE_HELP[ph]))]
        changed = ph != self._phase
        self._phase = ph
        if changed and ph in ("blind", "discussion"):
            self.form.message.value = ""
            self.form.start()
        if ph in ("reveal", "discussion"):
            self.reveal.render()
        self.body.children = kids


class FacilitatorView(_Displayable):
    """What the facilitator sees: progress per person, live agreement, ranking, reveal, phase control."""

    def __init__(self, session: CalibrationSession, facilitator: str, *, poll: float | None = None):
        if session.role_of(facilitator) != "facilitator":
            raise SessionError(f"{facilitator!r} is not a facilitator of session {session.id} "
                               f"(facilitators: {', '.join(session.spec.facilitators)})")
        self.session = session
        self.facilitator = facilitator
        self.names = _Names(session)
        self.header = W.HTML()
        self.refresh_button = W.Button(description="Refresh", icon="refresh")
        self.advance_button = W.Button(button_style="warning", icon="forward", layout=W.Layout(width="auto"))
        self.phase_message = W.HTML()
        self.matrix = W.HTML()
        self.agreement = W.HTML()
        self.ranked = W.HTML()
        self.clarifications = W.HTML()
        self.reveal = RevealPanel(session, facilitator)
        self.decide_label = W.Dropdown(options=list(session.labels), value=None, description="Decision")
        self.decide_button = W.Button(description="Record decision", tooltip="The reference label for an item without gold",
                                      layout=W.Layout(width="max-content"))
        self.decide_message = W.HTML()
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.advance_button.on_click(self._on_advance)
        self.decide_button.on_click(self._on_decide)
        self.decide_box = W.VBox([W.HBox([self.decide_label, self.decide_button]), self.decide_message])
        self.body = W.VBox()
        self.widget = W.VBox([self.header, W.HBox([self.advance_button, self.refresh_button]), self.phase_message,
                              self.body])
        self.refresh()
        self.follow(poll)

    def _on_advance(self, _b: Any = None) -> None:
        try:
            new = self.session.advance(self.facilitator)
        except LabkitError as exc:
            self.phase_message.value = _msg(False, str(exc))
            return
        extra = ""
        if new == "record":
            extra = f" {len(self.session.proposals())} proposal(s) written to {self.session.folder / 'proposals'}."
            import yaml

            errors = [yaml.safe_load(p.read_text(encoding="utf-8")).get("filing_error") for p in self.session.proposals()]
            errors = [e for e in errors if e]
            if errors:
                self.phase_message.value = _msg(False, f"Session is now in phase {new}.{extra} {len(errors)} could not "
                                                       f"be filed with the guidelines (kept in the session): {errors[0]}")
                self.refresh()
                return
        if new == "closed":
            extra = " Summary written to summary.json and before_after.json."
        self.phase_message.value = _msg(True, f"Session is now in phase {new}.{extra}")
        self.refresh()

    def _on_decide(self, _b: Any = None) -> None:
        if self.decide_label.value is None:
            self.decide_message.value = _msg(False, "Choose the decision's label first.")
            return
        try:
            self.session.decide(self.facilitator, self.reveal.item.value, self.decide_label.value)
        except LabkitError as exc:
            self.decide_message.value = _msg(False, str(exc))
            return
        self.decide_message.value = _msg(True, f"Decision recorded: {self.reveal.item.value} is {self.decide_label.value}.")
        self.refresh()

    def refresh(self) -> None:
        s = self.session
        ph = s.phase
        self.header.value = _header(s, self.facilitator, "facilitator")
        self.advance_button.description = NEXT_PHASE_BUTTON.get(ph, "Session closed")
        self.advance_button.disabled = ph == "closed"
        rnd = "final" if ph in ("discussion", "record", "closed") else "blind"
        ids = [it.item_id for it in s.items]
        m = s.who_answered(rnd)
        head = "".join(f"<th title='{esc(i)}'>{k + 1}</th>" for k, i in enumerate(ids))
        rows = []
        for p in m.index:
            cells = "".join('<td class="lkc-yes">&#10003;</td>' if v else '<td class="lkc-no">&ndash;</td>'
                            for v in m.loc[p].tolist())
            done = int(m.loc[p].sum())
            rows.append(f"<tr><td>{esc(p)}</td>{cells}<td>{done}/{len(ids)}</td></tr>")
        what = "after discussion" if rnd == "final" else "blind"
        self.matrix.value = (f"<table class='lkc'><caption><b>Who has answered ({what})</b><br>"
                             f"<small>columns are items 1-{len(ids)}</small></caption><tr><th>participant</th>{head}<th>done</th></tr>{''.join(rows)}</table>"
                             + ("" if rows else "<i>No answers yet.</i>"))
        ag = [("blind", s.agreement("blind"))]
        if rnd == "final":
            ag.append(("after discussion", s.agreement("final")))
        arows = "".join(f"<tr><td>{esc(n)}</td><td>{_num(a['alpha'])}</td><td>{_num(a['kappa'])}</td><td>{_num(a['pairwise_agreement'])}</td>"
                        f"<td>{a['answers']}</td><td>{a['items_with_two_or_more']}</td></tr>" for n, a in ag)
        self.agreement.value = ("<table class='lkc'><caption><b>Live agreement</b></caption><tr><th>round</th>"
                                "<th>Krippendorff alpha</th><th>Fleiss kappa</th><th>pairwise agreement</th><th>answers</th>"
                                f"<th>items with 2+ answers</th></tr>{arows}</table>")
        rk = s.ranked_by_disagreement("blind")
        rrows = "".join(
            f"<tr><td>{ids.index(r.item_id) + 1}</td><td>{esc(r.item_id)}</td><td>{r.answers}</td><td>{_num(r.disagreement)}</td>"
            f"<td>{esc(r.top_label) if r.top_label else ''}</td>"
            # the reference (gold) stays off the facilitator's (often projected) screen while answers are blind
            + (f"<td>{esc(r.reference) if isinstance(r.reference, str) else ''}</td><td>{_num(r.correct_share)}</td>"
               if ph != "blind" else "") + "</tr>"
            for r in rk.itertuples())
        self.ranked.value = ("<table class='lkc'><caption><b>Items ranked by disagreement</b></caption><tr><th>#</th>"
                             "<th>item</th><th>answers</th><th>disagreement</th><th>most chosen</th>"
                             + ("<th>reference</th><th>share correct</th>" if ph != "blind" else "") + f"</tr>{rrows}</table>")
        cl = s.clarifications()
        self.clarifications.value = ("<div><b>Clarifications proposed</b> (" + str(len(cl)) + ")</div>" + "".join(
            f'<div class="lkc-rat"><b>{esc(c.label)}</b> on item {esc(c.item_id)} by {esc(self.names(c.participant))}: '
            f"{esc(c.proposed)}</div>" for c in cl))
        kids: list[W.Widget] = [W.HBox([self.matrix, self.agreement]), self.ranked]
        if ph in ("reveal", "discussion"):
            self.reveal.render()
            kids += [W.HTML("<hr><b>Reveal</b>"), self.reveal.box, self.decide_box]
        if ph != "blind":
            kids.append(self.clarifications)
        self.body.children = kids


def _num(x: Any) -> str:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return ""
    if f != f:
        return "&ndash;"
    text = f"{f:.2f}"
    return "0.00" if text == "-0.00" else text


def session_view(session: str | os.PathLike[str] | CalibrationSession, participant: str,
                 role: str = "annotator", *, poll: float | None = None) -> ParticipantView | FacilitatorView:
    """The view for ``participant`` in ``role``: what the notebook displays (``.widget``).

    The view follows the session folder (every ``poll`` seconds; see :meth:`_Displayable.follow`), so
    phase changes and new answers show up without pressing Refresh.

    Raises
    ------
    SessionError
        When ``role`` does not match the participant's role in the session.
    """
    s = session if isinstance(session, CalibrationSession) else CalibrationSession.open(session)
    actual = s.role_of(participant)
    if role not in ("annotator", "facilitator"):
        raise SessionError(f"role must be annotator or facilitator, got {role!r}")
    if actual != role:
        raise SessionError(f"{participant!r} is {'a' if actual == 'annotator' else 'the'} {actual} in session "
                           f"{s.id}, not {role}; set role = {actual!r}")
    return (FacilitatorView(s, participant, poll=poll) if role == "facilitator"
            else ParticipantView(s, participant, poll=poll))



class Launcher(_Displayable):
    """The first cell's form: session folder, your id and role, *Open*. No code to edit.

    With a valid ``session`` and ``participant`` it opens the view at once; otherwise (or when they do
    not match the session) it shows the form, with the reason in the error colour.
    """

    def __init__(self, session: str | os.PathLike[str] = "", participant: str = "", role: str = ""):
        self.folder = W.Text(value=str(session or ""), description="Session folder", layout=W.Layout(width="60%"),
                             style={"description_width": "initial"})
        self.participant = W.Text(value=str(participant or ""), description="Your id",
                                  style={"description_width": "initial"})
        self.role = W.ToggleButtons(options=[("as in the session", ""), ("annotator", "annotator"),
                                             ("facilitator", "facilitator")], value=role or "", description="Role")
        self.open_button = W.Button(description="Open", button_style="primary", icon="sign-in")
        self.message = W.HTML()
        self.form = W.VBox([W.HTML(_CSS + "<b>Open a calibration session</b>"), self.folder, self.participant,
                            self.role, self.open_button, self.message])
        self.widget = W.VBox([self.form])
        self.view: ParticipantView | FacilitatorView | None = None
        self.open_button.on_click(lambda _b: self.open())
        if session and participant:
            self.open()

    def open(self) -> ParticipantView | FacilitatorView | None:
        """Open the view the form names (shown in place of the form), or say why not (error colour)."""
        folder, who = self.folder.value.strip(), self.participant.value.strip()
        if not folder or not who:
            self.message.value = _msg(False, "Give the session folder and your id.")
            return None
        try:
            s = CalibrationSession.open(folder)
            role = self.role.value or s.role_of(who)
            self.view = session_view(s, who, role)
        except (LabkitError, OSError) as exc:
            self.message.value = _msg(False, str(exc))
            return None
        self.widget.children = [self.view.widget]
        return self.view

    def refresh(self) -> None:
        if self.view is not None:
            self.view.refresh()

    def stop(self) -> None:
        if self.view is not None:
            self.view.stop()


def launcher(session: str | os.PathLike[str] = "", participant: str = "", role: str = "") -> Launcher:
    """What ``notebooks/calibration_session.ipynb`` and ``labkit calibration open`` display."""
    return Launcher(session, participant, role)


__all__ = ["AnswerForm", "RevealPanel", "ParticipantView", "FacilitatorView", "Launcher", "launcher", "session_view",
           "PHASES"]
