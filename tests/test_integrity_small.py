"""Issue 15, the small ones: named refusals instead of tracebacks, ids read as they were meant."""

from __future__ import annotations

import errno
import json
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from labkit.cli import main
from labkit.errors import InputRefused
from labkit.io import import_file

REPO = Path(__file__).resolve().parents[1]


def test_out_that_is_a_file_is_a_named_refusal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--out` that is a file gave a traceback."""
    (tmp_path / "afile").write_text("x")
    code = main(["validate", str(REPO / "sample" / "labels.csv"), "--guidelines", str(REPO / "guidelines"),
                 "--out", str(tmp_path / "afile")])
    assert code == 2
    assert capsys.readouterr().err.strip().endswith(f"cannot use {tmp_path / 'afile'}: a file is in the way (expected a folder)")
    code = main(["import", str(REPO / "sample" / "labels.csv"), "--out", str(tmp_path / "afile" / "labels.parquet")])
    assert code == 2 and "a file is in the way (expected a folder)" in capsys.readouterr().err


def test_out_on_a_read_only_filesystem_is_a_named_refusal(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "ro" / "labels.parquet"

    def erofs(*a: object, **k: object) -> None:  # what mkstemp raises on a read-only mount
        raise OSError(errno.EROFS, "Read-only file system", str(out.parent))

    monkeypatch.setattr(tempfile, "mkstemp", erofs)
    assert main(["import", str(REPO / "sample" / "labels.csv"), "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip() == f"labkit import: error: cannot use {out.parent}: read-only file system"


def test_parquet_list_label_is_quarantined_by_name(tmp_path: Path) -> None:
    """A Parquet list label gave a traceback (unhashable type)."""
    f = tmp_path / "multi.parquet"
    pd.DataFrame({"item_id": ["i1", "i2"], "annotator_id": ["a", "b"], "task": ["t", "t"],
                  "label": [["ok", "spam"], ["ok"]]}).to_parquet(f)
    r = import_file(f)
    assert (r.records_in, r.accepted, r.quarantined) == (2, 0, 2)
    assert set(r.quarantine["field"]) == {"label"}
    assert r.quarantine["reason"].iloc[0].startswith("label is a list or mapping, not one value (put one label per row)")


def test_parquet_float_ids_become_integers_only_when_integral(tmp_path: Path) -> None:
    """Parquet float ids became "1.0". Rule: an integral float id is its integer text; others keep their decimals."""
    f = tmp_path / "float.parquet"
    pd.DataFrame({"item_id": [1.0, 2.0, 2.5], "annotator_id": [3.0, 4.0, 1e3], "task": ["t"] * 3,
                  "label": ["a", "b", "c"]}).to_parquet(f)
    t = import_file(f).table
    assert t["item_id"].astype(str).tolist() == ["1", "2", "2.5"]
    assert t["annotator_id"].astype(str).tolist() == ["3", "4", "1000"]


def test_ids_ending_in_a_newline_are_refused_with_a_message(tmp_path: Path) -> None:
    """Ids ending in a newline were accepted ("a1\\n" and "a1" would be one person or two, depending on the reader)."""
    f = tmp_path / "nl.csv"
    f.write_text('item_id,annotator_id,task,label\ni1,a1,t,ok\ni2,"a1\n",t,ok\n"i3\n",a2,t,ok\n', encoding="utf-8")
    r = import_file(f)
    assert (r.records_in, r.accepted, r.quarantined) == (3, 1, 2)
    assert sorted(r.quarantine["reason"]) == [
        "annotator_id contains a line break or control character (value 'a1\\n')",
        "item_id contains a line break or control character (value 'i3\\n')"]


@pytest.fixture()
def session(tmp_path: Path):
    from test_calibration_helpers import make_session

    return make_session(tmp_path / "s")


def test_a_session_record_without_at_is_a_named_refusal(session) -> None:
    """A record without `at` in a session gave a traceback."""
    from labkit.calibration import storage

    storage.append_record(storage.answers_path(session.folder, "a1"), {"kind": "answer", "item_id": "g1", "label": "ok"})
    with pytest.raises(InputRefused) as err:
        session.records("a1")
    assert str(err.value).startswith(f"{session.folder / 'answers' / 'a1.jsonl'}, record 1, field 'at': "
                                     "a session record needs 'at' (an ISO 8601 time), got None")


def test_a_stray_file_in_answers_is_a_named_refusal(session) -> None:
    """A stray file in answers/ gave a traceback."""
    from labkit.calibration.model import SessionError

    stray = session.folder / "answers" / "notes about a1.jsonl"
    stray.write_text(json.dumps({"x": 1}) + "\n")
    with pytest.raises(SessionError) as err:
        session.participants()
    assert str(err.value) == (f"{stray}: not a participant's answers file (answers/ holds only <participant>.jsonl files "
                              "written by the session); move it out of the session folder")


@pytest.mark.parametrize("v, lo, hi, integer, ok", [
    (0.5, 0, 1, False, True), (1, 0, 1, True, True), (True, 0, 1, False, False), (float("nan"), None, None, False, False),
    (float("inf"), 0, None, False, False), (1.5, 0, 3, True, False), (2.0, 0, 3, True, True), ("1", 0, 3, False, False),
    (-0.1, 0, None, False, False), (5, None, 4, True, False),
])
def test_policy_files_share_one_number_rule(v, lo, hi, integer, ok) -> None:
    """Credential policies and simulated policies refuse the same values (bools, NaN, inf, 1.5 where an integer is due)."""
    from labkit._checks import number_in_range
    from labkit.incentives.credentials import _num as cred_num
    from labkit.simulate.policies import _num as sim_num

    assert number_in_range(v, lo, hi, integer) is ok
    if lo is not None and hi is not None:
        if ok:
            assert cred_num("p.yaml", 1, "k", v, lo, hi, integer) == v
        else:
            with pytest.raises(InputRefused, match="k must be"):
                cred_num("p.yaml", 1, "k", v, lo, hi, integer)
    if ok:
        assert sim_num(v, "w", lo=lo, hi=hi, integer=integer) == v
    else:
        with pytest.raises(Exception, match="w must be"):
            sim_num(v, "w", lo=lo, hi=hi, integer=integer)
