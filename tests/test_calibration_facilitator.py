"""Issue 14: calibration for a facilitator who does not program.

No preset confidence, "add edge case" as the default change, no preselected decision, the reference
hidden in the blind phase, short proposal ids that file whatever the item ids hold, errors in the
error colour, and views that follow phase changes without Refresh.
"""

from __future__ import annotations

import time
from pathlib import Path

import ipywidgets as W
import pytest
import yaml

from labkit.calibration import CalibrationSession, Participant, SessionItem, SessionSpec
from labkit.calibration.proposals import proposal_id
from labkit.calibration.widgets import session_view
from labkit.guidelines import Guidelines
from test_calibration_helpers import T0, guidelines_copy, make_session

URLS = ["https://example.org/reviews/2026/11/a-very-long-path/with-many-segments/and-a-query?id=123456789&lang=en",
        "https://example.org/reviews/2026/11/another-long-path/with-many-segments/and-a-query?id=987654321&lang=en"]


@pytest.fixture(autouse=True)
def _no_follow(monkeypatch):
    monkeypatch.setenv("LABKIT_PSEUDONYM_KEY", "test-key")
    monkeypatch.setenv("LABKIT_CALIBRATION_POLL", "0")
    yield
    W.Widget.close_all()


def _wait(cond, timeout: float = 20.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def test_no_preset_confidence_and_an_answer_without_one(tmp_path: Path) -> None:
    s = make_session(tmp_path / "s")
    a1 = session_view(s.folder, "a1")
    assert a1.form.confidence.value == "" and a1.form.confidence.label == "not given"
    a1.form.label.value = "ok"
    a1.form.submit.click()
    rec = s.answers("blind", "a1").iloc[-1]
    assert rec["label"] == "ok" and (rec["confidence"] is None or rec["confidence"] != rec["confidence"])
    a1.form.label.value = "spam"
    a1.form.confidence.value = 0.8
    a1.form.submit.click()
    assert float(s.answers("blind", "a1").iloc[-1]["confidence"]) == 0.8
    a1.form.show(1)  # item 2, answered with 80%
    assert a1.form.confidence.value == 0.8 and a1.form.confidence.label == "80%"
    a1.form.show(0)  # item 1, answered without a confidence
    assert a1.form.confidence.value == "" and a1.form.confidence.label == "not given"


def test_facilitator_defaults_and_blind_screen(tmp_path: Path) -> None:
    s = make_session(tmp_path / "s", guidelines=guidelines_copy(tmp_path))
    fac = session_view(s.folder, "f1", "facilitator")
    a1 = session_view(s.folder, "a1")
    a1.form.label.value = "ok"
    a1.form.submit.click()
    fac.refresh()
    # blind: the ranking table carries no reference (gold) column on the projected screen
    assert "<th>reference</th>" not in fac.ranked.value
    fac.advance_button.click()
    assert "<th>reference</th>" in fac.ranked.value
    # no preselected decision, also on gold items; deciding without a choice is an error, in error colour
    assert fac.decide_label.value is None
    fac.decide_button.click()
    assert fac.decide_message.value == '<div class="lkc-msg-err">Choose the decision&#x27;s label first.</div>'
    assert fac.reveal.clar_op.value == "add_edge_case"


def test_short_proposal_ids_file_with_url_item_ids(tmp_path: Path) -> None:
    gdir = guidelines_copy(tmp_path)
    g = Guidelines.load(gdir)
    items = [SessionItem(URLS[0], "first", gold="ok"), SessionItem(URLS[1], "second")]
    spec = SessionSpec(id="cal-urls", task="toxicity", guideline=g.get("toxicity", "1.1.0"), items=items,
                       participants=[Participant("f1", "facilitator"), Participant("a1"), Participant("a2")],
                       scheduled_at=T0, sources={"guidelines": str(gdir), "filed_by": "g-facil-1"}, file_proposals=True)
    s = CalibrationSession.create(tmp_path / "s", spec)
    s.advance("f1")
    c = s.propose_clarification("a1", URLS[0], "ok", "Praise of a product is ok.", "unclear")
    fac = session_view(s.folder, "f1", "facilitator")
    fac.advance_button.click()  # discussion
    fac.advance_button.click()  # record: proposals written and filed
    assert "lkc-msg-ok" in fac.phase_message.value and "could not be filed" not in fac.phase_message.value
    (path,) = s.proposals()
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data["id"] == proposal_id("toxicity", c.id) == f"toxicity-cal-{c.id[2:12]}" and len(data["id"]) <= 30
    assert "filing_error" not in data and Path(data["filed_as"]).exists()
    assert data["source"]["item_id"] == URLS[0]
    # deterministic: the same clarification gives the same id; odd task names are made id-safe
    assert proposal_id("toxicity", c.id) == data["id"]
    assert proposal_id("sentiment / ü" + "x" * 200, "c-0123456789") == "sentiment-" + "x" * 50 + "-cal-0123456789"


def test_a_filing_error_is_shown_in_the_error_colour(tmp_path: Path) -> None:
    gdir = guidelines_copy(tmp_path)
    s = make_session(tmp_path / "s", guidelines=gdir)
    s.advance("f1")
    s.propose_clarification("a1", "g1", "ok", "Thanks are ok.", "why")
    (gdir / "toxicity" / "1.1.0.yaml").unlink()  # the base version is gone: filing must fail, visibly
    fac = session_view(s.folder, "f1", "facilitator")
    fac.advance_button.click()
    fac.advance_button.click()
    assert fac.phase_message.value.startswith('<div class="lkc-msg-err">Session is now in phase record.')
    assert "could not be filed with the guidelines" in fac.phase_message.value
    # the calibration report does not list it as filed
    fac.advance_button.click()  # closed
    from labkit.calibration.report import report_data

    data = report_data(s.folder)
    assert data.proposals["filed"].str.startswith("NOT filed: ").tolist() == [True]
    text, bad = next(f for f in data.findings if "became guideline change proposals" in f[0])
    assert bad and "1 could NOT be filed with the guidelines" in text


def test_views_follow_phase_changes_without_refresh(tmp_path: Path) -> None:
    s = make_session(tmp_path / "s")
    a1 = session_view(s.folder, "a1", poll=0.05)
    a2 = session_view(s.folder, "a2", poll=0.05)
    fac = session_view(s.folder, "f1", "facilitator", poll=0.05)
    try:
        assert a1.form.box in a1.body.children
        other = CalibrationSession.open(s.folder)  # another kernel: an annotator answers
        other.submit_answer("a2", "g1", "ok")
        assert _wait(lambda: "1/3" in fac.matrix.value)  # the facilitator sees it arrive
        other.advance("f1")  # the facilitator's kernel moves to reveal
        assert _wait(lambda: a1.reveal.box in a1.body.children and a2.reveal.box in a2.body.children)
        assert _wait(lambda: "<th>reference</th>" in fac.ranked.value)
    finally:
        for v in (a1, a2, fac):
            v.stop()


def test_calibration_open_writes_a_notebook_with_nothing_to_edit(tmp_path: Path, capsys) -> None:
    import json

    from labkit.calibration.widgets import Launcher, ParticipantView
    from labkit.cli import main

    s = make_session(tmp_path / "s")
    assert main(["calibration", "open", str(s.folder), "--as", "a1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["role"] == "annotator" and out["notebook"] == str(s.folder / "notebooks" / "a1.ipynb")
    nb = json.loads(Path(out["notebook"]).read_text(encoding="utf-8"))
    params, code = nb["cells"][1], nb["cells"][2]
    assert params["metadata"]["tags"] == ["parameters"] and nb["metadata"]["kernelspec"]["name"] == "python3"
    ns: dict = {}
    exec(params["source"], ns)  # what Run All does, cell by cell
    assert (ns["session"], ns["participant"], ns["role"]) == (str(s.folder.resolve()), "a1", "annotator")
    exec(code["source"].replace("launcher(session, participant, role)", "shown = launcher(session, participant, role)"), ns)
    assert isinstance(ns["shown"], Launcher) and isinstance(ns["shown"].view, ParticipantView)
    assert ns["shown"].widget.children == (ns["shown"].view.widget,)
    # a role that is not theirs is refused by the CLI, with the reason
    assert main(["calibration", "open", str(s.folder), "--as", "a1", "--role", "facilitator"]) != 0
    assert "'a1' is an annotator in session cal-test, not facilitator" in capsys.readouterr().err


def test_the_form_says_what_is_wrong_in_the_error_colour(tmp_path: Path) -> None:
    from labkit.calibration.widgets import FacilitatorView, launcher

    s = make_session(tmp_path / "s")
    form = launcher()
    form.open_button.click()
    assert form.message.value == '<div class="lkc-msg-err">Give the session folder and your id.</div>'
    form.folder.value = str(s.folder)
    form.participant.value = "a1"
    form.role.value = "facilitator"
    form.open_button.click()
    assert form.message.value.startswith('<div class="lkc-msg-err">') and "not facilitator" in form.message.value
    form.participant.value = "f1"
    form.open_button.click()
    assert isinstance(form.view, FacilitatorView) and form.widget.children == (form.view.widget,)
