"""The widgets driven like a person would: set values, click buttons, read what is shown."""

from __future__ import annotations

import ipywidgets as W
import pytest

from labkit.calibration import SessionError
from labkit.calibration.widgets import FacilitatorView, ParticipantView, session_view
from test_calibration_helpers import guidelines_copy, make_session


@pytest.fixture(autouse=True)
def _close_widgets(monkeypatch):
    monkeypatch.setenv("LABKIT_PSEUDONYM_KEY", "test-key")
    monkeypatch.setenv("LABKIT_CALIBRATION_POLL", "0")  # views follow the folder only in test_views_follow_*
    yield
    W.Widget.close_all()


def answer(view: ParticipantView, label: str, rationale: str = "", confidence: float = 0.7) -> None:
    view.form.label.value = label
    view.form.confidence.value = confidence
    view.form.rationale.value = rationale
    view.form.submit.click()


def texts(widget: W.Widget) -> str:
    """All HTML/description text under a widget (what the page would show)."""
    out = []
    stack = [widget]
    while stack:
        w = stack.pop()
        for attr in ("value", "description"):
            v = getattr(w, attr, None)
            if isinstance(v, str):
                out.append(v)
        stack.extend(getattr(w, "children", ()) or ())
    return "\n".join(out)


def test_whole_session_through_the_widgets(tmp_path):
    gdir = guidelines_copy(tmp_path)
    s = make_session(tmp_path / "s", guidelines=gdir)
    a1 = session_view(s.folder, "a1", "annotator")
    a2 = session_view(s.folder, "a2", "annotator")
    fac = session_view(s.folder, "f1", "facilitator")
    assert isinstance(a1, ParticipantView) and isinstance(fac, FacilitatorView)
    # label choices are the version's labels, each with its definition as tooltip
    assert list(a1.form.label.options) == ["ok", "offensive", "hate", "spam", "self_promotion"]
    assert a1.form.label.tooltips[1] == s.spec.guideline.label("offensive").definition
    assert a1.form.submit.disabled  # nothing chosen yet
    a1.form.label.value = "spam"
    assert "Unsolicited advertising" in a1.form.definition.value
    assert "Item 1 of 3" in a1.form.card.value
    answer(a1, "ok", "civil thanks", 0.9)
    assert "Item 2 of 3" in a1.form.card.value and a1.form.progress.value == 1
    answer(a1, "offensive", "sarcasm <at> a person")
    answer(a1, "spam")
    assert "All items answered" in a1.form.message.value
    answer(a2, "ok")
    answer(a2, "ok", "criticism of an idea")
    # before the reveal nothing of anyone else is visible to a2
    shown = texts(a2.widget)
    assert "&lt;at&gt; a person" not in shown and "civil thanks" not in shown and "spam" not in a2.form.message.value
    assert a2.reveal.box not in a2.body.children
    # back and change an answer
    a2.form.prev.click()
    assert "Item 2 of 3" in a2.form.card.value and a2.form.label.value == "ok"
    assert a2.form.submit.description == "Update answer"
    answer(a2, "offensive", "changed my mind")
    assert s.answers("blind", "a2").set_index("item_id")["label"].to_dict() == {"g1": "ok", "g3": "offensive"}

    fac.refresh()
    assert "2/3" in fac.matrix.value and "3/3" in fac.matrix.value
    assert ">a1<" in fac.matrix.value  # the facilitator sees who is missing
    assert "Krippendorff alpha" in fac.agreement.value
    assert fac.advance_button.description == "Reveal answers"
    assert "Annotators are answering blind" in fac.header.value  # the facilitator's own instructions
    assert "Answer each item on your own" in a1.header.value
    a2.form.label.value = "spam"
    fac.advance_button.click()
    assert s.phase == "reveal" and fac.advance_button.description == "Start discussion"
    # a2 submits from a stale page: refused with the reason, and the view moves to the reveal
    a2.form.submit.click()
    assert "answers are taken in the blind phase" in a2.form.message.value
    assert a2.reveal.box in a2.body.children

    a1.refresh_button.click()
    # the default change is "add an edge case" (not replacing a definition); the form shows the rule it
    # would change from the start (item 1's reference label, ok)
    assert a1.reveal.clar_op.value == "add_edge_case"
    assert a1.reveal.clar_current.value.startswith("<i>Edge cases of ok now:</i> Strong criticism")
    a1.reveal.item.value = "g3"
    assert "Gold label: offensive" in a1.reveal.gold.value
    assert "Wow, what a genius idea. Not." in a1.reveal.gold.value  # positive example from the guideline
    assert "Edge cases" in a1.reveal.gold.value
    rat = a1.reveal.rationales.value
    assert "<b>you</b> chose <b>offensive</b>" in rat and "sarcasm &lt;at&gt; a person" in rat
    from labkit.privacy import pseudonym

    assert pseudonym("a2", b"test-key") in rat and ">a2<" not in rat  # pseudonymous by default
    a1.reveal.clar_label.value = "offensive"
    a1.reveal.clar_op.value = "add_example:positive"
    assert "Examples of offensive now" in a1.reveal.clar_current.value
    a1.reveal.clar_text.value = "Great job breaking the build again, genius."
    a1.reveal.clar_rationale.value = "sarcasm at a person"
    a1.reveal.clar_submit.click()
    assert "saved" in a1.reveal.clar_message.value
    [c] = s.clarifications()
    assert (c.op, c.label, c.item_id, c.participant) == ("add_example:positive", "offensive", "g3", "a1")

    fac.advance_button.click()  # discussion
    a1.refresh()
    assert "Your answer after discussion" in texts(a1.widget)
    assert a1.form.progress.value == 0
    # in discussion the reveal shows the item being answered, both ways
    assert a1.reveal.item.value == "g1" and "Item 1 of 3" in a1.form.card.value
    a1.form.next.click()
    assert a1.reveal.item.value == "g3" and "Gold label: offensive" in a1.reveal.gold.value
    a1.reveal.item.value = "g1"
    assert "Item 1 of 3" in a1.form.card.value
    answer(a1, "ok")
    answer(a1, "offensive")
    answer(a1, "self_promotion")
    fac.refresh()
    assert "Who has answered (after discussion)" in fac.matrix.value
    assert "<td>a1</td>" + '<td class="lkc-yes">&#10003;</td>' * 3 + "<td>3/3</td>" in fac.matrix.value
    assert "<td>a2</td>" + '<td class="lkc-no">&ndash;</td>' * 3 + "<td>0/3</td>" in fac.matrix.value
    fac.reveal.item.value = "c1"
    fac.decide_label.value = "self_promotion"
    fac.decide_button.click()
    assert "Decision recorded" in fac.decide_message.value
    fac.advance_button.click()  # record
    assert "1 proposal(s) written" in fac.phase_message.value
    fac.advance_button.click()  # closed
    assert s.phase == "closed" and fac.advance_button.disabled
    assert "Summary written" in fac.phase_message.value
    a1.refresh()
    assert "This session is closed" in texts(a1.widget)
    assert (s.folder / "summary.json").exists() and len(s.proposals()) == 1


def test_item_text_and_ids_are_escaped(tmp_path):
    s = make_session(tmp_path / "s")
    v = session_view(s.folder, "a1")
    v.form.show(2)
    card = v.form.card.value
    assert "<script>" not in card and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; my channel" in card
    v.form.show(1)
    assert "&lt;b&gt;Wow&lt;/b&gt;" in v.form.card.value


def test_restart_shows_the_next_unanswered_item(tmp_path):
    s = make_session(tmp_path / "s")
    v = session_view(s.folder, "a1")
    answer(v, "ok")
    W.Widget.close_all()
    again = session_view(s.folder, "a1")  # new kernel, same folder
    assert "Item 2 of 3" in again.form.card.value and again.form.progress.value == 1


def test_role_mismatch_is_refused(tmp_path):
    s = make_session(tmp_path / "s")
    with pytest.raises(SessionError, match="'a1' is a annotator in session cal-test, not facilitator; set role = 'annotator'"):
        session_view(s.folder, "a1", "facilitator")
    with pytest.raises(SessionError, match="role must be annotator or facilitator, got 'boss'"):
        session_view(s.folder, "a1", "boss")


def test_names_shown_when_the_session_says_so(tmp_path):
    s = make_session(tmp_path / "s", show_names=True)
    s.submit_answer("a2", "g1", "ok", rationale="polite")
    s.advance("f1")
    v = session_view(s.folder, "a1")
    assert "<b>a2</b> chose <b>ok</b>" in v.reveal.rationales.value
