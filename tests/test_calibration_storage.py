"""The session folder under concurrent writers, damaged files, and restarts."""

from __future__ import annotations

import json
import multiprocessing as mp

import pytest

from labkit.calibration import CalibrationSession, storage
from labkit.errors import InputRefused
from test_calibration_helpers import make_session

N_PROC = 4
N_EACH = 60


def _append_many(path: str, who: int) -> None:
    for k in range(N_EACH):
        storage.append_record(path, {"who": who, "k": k, "pad": "x" * (200 + 37 * (k % 5))})


def _answer_all(folder: str, who: str) -> None:
    s = CalibrationSession.open(folder)
    for rep in range(10):
        for it in s.items:
            s.submit_answer(who, it.item_id, "ok" if rep % 2 else "spam", rationale=f"{who} {rep}")


def test_concurrent_appends_to_one_file_lose_nothing(tmp_path):
    path = tmp_path / "shared.jsonl"
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(str(path), w)) for w in range(N_PROC)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    recs = storage.read_records(path)
    assert len(recs) == N_PROC * N_EACH
    for w in range(N_PROC):  # every writer's lines, complete and in its own order
        assert [r["k"] for r in recs if r["who"] == w] == list(range(N_EACH))


def test_participants_submitting_at_once(tmp_path):
    s = make_session(tmp_path / "s")
    people = [f"p{i}" for i in range(5)]
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_answer_all, args=(str(s.folder), p)) for p in people]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    for p in people:
        assert len([r for r in s.records(p) if r["kind"] == "answer"]) == 10 * len(s.items)
    blind = s.answers("blind")
    assert len(blind) == 5 * len(s.items)
    assert set(blind["label"]) == {"ok"}  # the last of ten rounds (rep 9 is odd) wins for everybody


def test_damaged_line_is_refused_with_file_and_line(tmp_path):
    s = make_session(tmp_path / "s")
    s.submit_answer("a1", "g1", "ok")
    with open(storage.answers_path(s.folder, "a1"), "a", encoding="utf-8") as fh:
        fh.write('{"kind": "answer", "item_id": "g3"\n')
    with pytest.raises(InputRefused, match=r"answers/a1.jsonl, record line 2: not a JSON line"):
        s.answers("blind")


def test_restart_resumes_where_the_participant_was(tmp_path):
    s = make_session(tmp_path / "s")
    s.submit_answer("a1", "g1", "ok", rationale="civil")
    del s  # the kernel restarts: a new process only has the folder
    s2 = CalibrationSession.open(tmp_path / "s")
    assert s2.next_item("a1").item_id == "g3"
    assert s2.progress("a1") == (1, 3)
    assert s2.answers("blind", "a1")["rationale"].tolist() == ["civil"]


def test_session_yaml_round_trip(tmp_path):
    s = make_session(tmp_path / "s")
    again = CalibrationSession.open(tmp_path / "s")
    assert again.spec.to_dict() == s.spec.to_dict()
    assert again.spec.guideline.label("offensive").definition == s.spec.guideline.label("offensive").definition
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["answers", "session.yaml"]
    assert json.loads(json.dumps(s.state(), default=str))["phase"] == "blind"


def test_session_yaml_errors_name_the_file(tmp_path):
    with pytest.raises(InputRefused, match=r"nope/session.yaml: no such file \(is this a calibration session folder\?\)"):
        CalibrationSession.open(tmp_path / "nope")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "session.yaml").write_text("id: x\ntask: toxicity\n")
    with pytest.raises(InputRefused, match="bad/session.yaml: missing field 'guideline'"):
        CalibrationSession.open(tmp_path / "bad")
