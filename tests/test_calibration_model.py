"""The session model through every phase, driven from code (no Jupyter)."""

from __future__ import annotations

import datetime as dt
import json
import sys

import krippendorff
import numpy as np
import pytest
import yaml

from labkit.calibration import SessionError
from labkit.errors import ParameterError
from test_calibration_helpers import T0, guidelines_copy, make_session


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def test_core_imports_no_jupyter():
    import subprocess

    code = ("import sys, labkit.calibration, labkit.calibration.cli, labkit.calibration.report, labkit.calibration.sample; "
            "bad=[m for m in sys.modules if m.split('.')[0] in ('IPython','ipywidgets','papermill',"
            "'great_expectations','matplotlib')]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_phase(tmp_path):
    gdir = guidelines_copy(tmp_path)
    s = make_session(tmp_path / "s", guidelines=gdir)
    assert s.phase == "blind"
    assert s.next_item("a1").item_id == "g1"
    s.submit_answer("a1", "g1", "ok", confidence=0.9, rationale="civil", duration_s=12.5, at=at(1))
    s.submit_answer("a1", "g3", "ok", confidence=0.4, rationale="criticism of an idea", at=at(2))
    s.submit_answer("a1", "g3", "offensive", confidence=0.6, rationale="sarcasm", at=at(3))  # changed mind
    s.submit_answer("a1", "c1", "spam", at=at(4))
    s.submit_answer("a2", "g1", "ok", at=at(1))
    s.submit_answer("a2", "g3", "ok", at=at(2))
    assert s.progress("a1") == (3, 3) and s.progress("a2") == (2, 3)
    assert s.next_item("a2").item_id == "c1" and s.next_item("a1") is None
    blind = s.answers("blind")
    assert blind[blind.participant == "a1"].set_index("item_id")["label"].to_dict() == {
        "g1": "ok", "g3": "offensive", "c1": "spam"}
    # live agreement equals the krippendorff package on the same reliability data
    ag = s.agreement("blind")
    rel = np.array([[0, 1, 2], [0, 0, np.nan]])  # a1, a2 x g1, g3, c1 (ok=0, offensive=1, spam=2)
    assert ag["alpha"] == pytest.approx(krippendorff.alpha(reliability_data=rel, level_of_measurement="nominal"))
    assert ag["items_with_two_or_more"] == 2
    assert s.ranked_by_disagreement().iloc[0]["item_id"] == "g3"

    with pytest.raises(SessionError, match="only a facilitator may do this; 'a1' is an annotator"):
        s.advance("a1")
    with pytest.raises(SessionError, match="clarifications are proposed during reveal or discussion"):
        s.propose_clarification("a1", "g3", "offensive", "x")
    assert s.advance("f1", at=at(10)) == "reveal"
    with pytest.raises(SessionError, match="answers are taken in the blind phase"):
        s.submit_answer("a2", "c1", "spam")
    assert s.distribution("g3") == {"ok": 1, "offensive": 1, "hate": 0, "spam": 0, "self_promotion": 0}
    c = s.propose_clarification("a2", "g3", "offensive", "Mocking an idea in a sarcastic way is offensive "
                                "only when it targets the person.", "sarcasm split us", at=at(12))
    e = s.propose_clarification("a1", "c1", "self_promotion", "A link to one's own channel, on topic, unasked.",
                                op="add_edge_case", at=at(13))
    assert s.advance("f1", at=at(20)) == "discussion"
    s.decide("f1", "c1", "self_promotion")
    assert s.reference("c1") == "self_promotion"
    for item, lab in (("g1", "ok"), ("g3", "offensive"), ("c1", "self_promotion")):
        s.submit_answer("a1", item, lab, at=at(21))
        s.submit_answer("a2", item, lab, at=at(22))
    assert s.agreement("final")["alpha"] == pytest.approx(1.0)
    assert s.advance("f1", at=at(30)) == "record"
    props = s.proposals()
    assert len(props) == 2
    docs = {yaml.safe_load(p.read_text())["source"]["clarification"]: yaml.safe_load(p.read_text()) for p in props}
    p1 = docs[c.id]
    assert p1["changes"] == [{"op": "reword_definition", "label": "offensive",
                              "current": "The comment insults, mocks or demeans a person or group, including through sarcasm.",
                              "proposed": c.proposed}]
    assert p1["author"] == "a2" and p1["base_version"] == "1.1.0" and p1["source"]["item_id"] == "g3"
    assert docs[e.id]["changes"] == [{"op": "add_edge_case", "label": "self_promotion", "proposed": e.proposed}]
    # filed with governance too: same id under guidelines/toxicity/proposals
    filed = sorted(p.name for p in (gdir / "toxicity" / "proposals").glob("*.yaml"))
    assert filed == sorted(p.name for p in props)
    assert all("filing_error" not in d for d in docs.values())
    # issue 15: the clarification's author enters the append-only log as a pseudonym, filed and signed by a member
    from labkit.guidelines import log as dlog
    from labkit.privacy import load_key, pseudonym

    proposes = [e for e in dlog.read(gdir) if e["action"] == "propose"]
    assert len(proposes) == 2 and {e["who"] for e in proposes} == {"g-facil-1"} and all("sig" in e for e in proposes)
    assert {e["author"] for e in proposes} <= {pseudonym(p, load_key()) for p in ("a1", "a2")}
    assert '"a1"' not in (gdir / "decisions.jsonl").read_text() and '"a2"' not in (gdir / "decisions.jsonl").read_text()
    from labkit.guidelines.governance import Governance

    gov = Governance.load(gdir)  # (the copy has no earlier log, so only the signatures are checked here)
    assert [gov.signature_problem(e) for e in proposes] == [None, None]
    assert s.advance("f1", at=at(40)) == "closed"
    summary = json.loads((s.folder / "summary.json").read_text())
    assert summary["phase"] == "closed" and summary["proposals"] == 2 and summary["final_answers"] == 6
    ba = json.loads((s.folder / "before_after.json").read_text())
    acc = {(r["participant"], r["when"]): (r["correct"], r["n"]) for r in ba["session_items"]["accuracy"]}
    # a1 blind: g1 ok (right), g3 offensive (right), c1 spam (the facilitator decided self_promotion)
    assert acc[("a1", "before")] == (2, 3) and acc[("a2", "before")] == (1, 2)
    assert acc[("a1", "after")] == (3, 3) and acc[("a2", "after")] == (3, 3)
    assert ba["followup"] is None and ba["followup_missing"] == "no labels file"
    with pytest.raises(SessionError, match="is closed"):
        s.advance("f1")


def test_refusals_name_what_is_wrong(tmp_path):
    s = make_session(tmp_path / "s", open_join=False)
    with pytest.raises(SessionError, match=r"label 'insult' is not in toxicity 1.1.0 \(labels: ok, offensive, hate, spam, self_promotion\)"):
        s.submit_answer("a1", "g1", "insult")
    with pytest.raises(SessionError, match="item 'zz' is not in session cal-test"):
        s.submit_answer("a1", "zz", "ok")
    with pytest.raises(SessionError, match="'f1' is a facilitator; facilitators do not answer"):
        s.submit_answer("f1", "g1", "ok")
    with pytest.raises(SessionError, match="'bob' is not a participant of session cal-test"):
        s.submit_answer("bob", "g1", "ok")
    with pytest.raises(ParameterError, match=r"confidence must be in \[0, 1\], got 1.5"):
        s.submit_answer("a1", "g1", "ok", confidence=1.5)
    with pytest.raises(ParameterError, match="participant id must be 1-64 characters"):
        s.submit_answer("../etc", "g1", "ok")
    with pytest.raises(SessionError, match="a session already exists here"):
        make_session(tmp_path / "s")
    with pytest.raises(SessionError, match="cannot go back to blind"):
        s.advance("f1")
        s.advance("f1", "blind")


def test_open_join_and_late_answers(tmp_path):
    s = make_session(tmp_path / "s")
    s.submit_answer("newcomer", "g1", "ok", at=at(1))  # open session: anyone may join as annotator
    assert "newcomer" in s.annotators()
    s.advance("f1", at=at(5))
    # an answer stamped after the reveal (a submit racing the click) is listed, not counted
    from labkit.calibration import storage

    storage.append_record(storage.answers_path(s.folder, "a2"), {
        "kind": "answer", "participant": "a2", "item_id": "g1", "label": "spam", "confidence": None,
        "rationale": "", "duration_s": None, "round": "blind", "at": at(6).isoformat()})
    assert len(s.answers("blind")) == 1
    late = s.late_answers()
    assert late[["participant", "item_id", "label"]].values.tolist() == [["a2", "g1", "spam"]]
    assert s.state()["late_answers"] == 1
