"""Issue 15, robust records: one line splitter, all-or-nothing appends, output pairs replaced together.

Each test is an attack or a fault from the issue, in its own words.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from labkit import _jsonl
from labkit.calibration import storage
from labkit.cli import main
from labkit.errors import GovernanceError
from labkit.guidelines import log as dlog
from labkit.guidelines.governance import record_decision
from labkit.io import import_file, write_result
from labkit.io.base import check_import_output, gold_path, manifest_path, quarantine_path

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def groot(tmp_path: Path) -> Path:
    dst = tmp_path / "guidelines"
    shutil.copytree(REPO / "guidelines", dst)
    return dst


def _enospc(*_a: object, **_k: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def _adjudicate(root: Path, why: str) -> dict:
    """A signed adjudication (g-expert-2's sample key, from the keyring tests/conftest.py sets)."""
    return record_decision("adjudication", "g-expert-2", root, at="2026-11-20T10:00:00Z", task="toxicity",
                           item_id="c-00019", label="insult", why=why)


# --- one line splitter ---------------------------------------------------------------------------

def test_one_U2028_in_a_why_does_not_break_every_later_governance_command(groot: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """One U+2028 in an approval's --why (common in pasted office text) made every later governance
    command fail with "line N is not JSON" while `log verify` said intact."""
    why = "pasted from a memo\u2028second line\u2029third"
    e = _adjudicate(groot, why)
    raw = (groot / "decisions.jsonl").read_bytes()
    assert "\u2028".encode() not in raw and "\u2029".encode() not in raw  # escaped on write
    assert b"\\u2028" in raw and b"\\u2029" in raw
    entries = dlog.read(groot)
    assert entries[-1]["why"] == why and entries[-1]["hash"] == e["hash"]
    assert dlog.verify(groot).ok
    assert main(["guidelines", "status", "--guidelines", str(groot)]) == 0
    assert main(["log", "show", str(groot / "decisions.jsonl"), "--tail", "1"]) == 0
    assert "pasted from a memo" in capsys.readouterr().out


def test_splitter_splits_on_newline_only_and_reports_a_torn_tail() -> None:
    parts = _jsonl.split_lines(b'{"a":"x\xe2\x80\xa8y"}\n{"b":1}\n{"c":')
    assert parts.lines == [b'{"a":"x\xe2\x80\xa8y"}', b'{"b":1}'] and parts.torn == b'{"c":'
    assert parts.good_length == len(b'{"a":"x\xe2\x80\xa8y"}\n{"b":1}\n')
    assert _jsonl.dumps({"a": "x\u2028y\u2029"}, ensure_ascii=False) == '{"a": "x\\u2028y\\u2029"}'


def test_calibration_record_with_U2028_reads_back_as_one_record(tmp_path: Path) -> None:
    p = tmp_path / "answers" / "p1.jsonl"
    storage.append_record(p, {"kind": "clarification", "text": "a\u2028b"})
    storage.append_record(p, {"kind": "answer", "label": "ok"})
    recs = storage.read_records(p)
    assert [r["kind"] for r in recs] == ["clarification", "answer"] and recs[0]["text"] == "a\u2028b"


# --- torn tails ----------------------------------------------------------------------------------

def test_torn_log_tail_never_blocks_reads_and_is_recovered_by_log_repair(groot: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """An approve on a full disk left a torn line that blocked every later command on that log."""
    log = groot / "decisions.jsonl"
    good = log.read_bytes()
    n = len(dlog.read(groot))
    with open(log, "ab") as fh:
        fh.write(b'{"action":"approve","at":"2026-11-2')  # a writer died mid-line
    assert len(dlog.read(groot)) == n  # the good part still reads
    assert main(["guidelines", "status", "--guidelines", str(groot)]) == 0
    v = dlog.verify(groot)
    assert not v.ok and v.first_bad == n + 1 and "labkit log repair" in v.problem
    with pytest.raises(GovernanceError, match=r"torn line \(an interrupted write\); refusing to append. Run `labkit log repair "):
        _adjudicate(groot, "after the crash")
    capsys.readouterr()
    assert main(["log", "repair", str(log), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["torn_bytes"] == len(b'{"action":"approve","at":"2026-11-2') and out["verify"]["ok"] is True
    assert log.read_bytes() == good
    assert (groot / "decisions.jsonl.torn").read_bytes() == b'{"action":"approve","at":"2026-11-2\n'
    _adjudicate(groot, "after the repair")
    assert dlog.verify(groot).ok


def test_torn_session_line_does_not_block_reading_and_the_next_submit_moves_it_aside(tmp_path: Path) -> None:
    p = tmp_path / "answers" / "p1.jsonl"
    storage.append_record(p, {"kind": "answer", "item_id": "c-1", "label": "ok"})
    with open(p, "ab") as fh:
        fh.write(b'{"kind":"answer","item_id":"c-2","lab')
    assert [r["item_id"] for r in storage.read_records(p)] == ["c-1"]
    storage.append_record(p, {"kind": "answer", "item_id": "c-3", "label": "ok"})
    assert [r["item_id"] for r in storage.read_records(p)] == ["c-1", "c-3"]
    assert p.with_name("p1.jsonl.torn").read_bytes() == b'{"kind":"answer","item_id":"c-2","lab\n'


# --- full disk: fault injection ------------------------------------------------------------------

def test_decision_log_append_on_a_full_disk_leaves_no_torn_line(groot: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = groot / "decisions.jsonl"
    before = log.read_bytes()
    real_write = os.write

    def half_then_enospc(fd: int, data: bytes) -> int:  # the disk fills in the middle of the line
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(os, "write", half_then_enospc)
        with pytest.raises(OSError, match="No space left"):
            _adjudicate(groot, "disk full")
    assert log.read_bytes() == before
    with monkeypatch.context() as m:
        m.setattr(os, "fsync", _enospc)  # the data reached the page cache but fsync fails
        with pytest.raises(OSError, match="No space left"):
            _adjudicate(groot, "fsync fails")
    assert log.read_bytes() == before
    _adjudicate(groot, "space again")
    assert dlog.verify(groot).ok


def test_calibration_submit_on_a_full_disk_leaves_no_torn_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "answers" / "p1.jsonl"
    storage.append_record(p, {"kind": "answer", "item_id": "c-1", "label": "ok"})
    before = p.read_bytes()
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: (real_write(fd, bytes(data[:10])), _enospc())[0])
    with pytest.raises(OSError, match="No space left"):
        storage.append_record(p, {"kind": "answer", "item_id": "c-2", "label": "spam"})
    monkeypatch.undo()
    assert p.read_bytes() == before
    storage.append_record(p, {"kind": "answer", "item_id": "c-2", "label": "spam"})
    assert [r["item_id"] for r in storage.read_records(p)] == ["c-1", "c-2"]


def test_full_disk_after_the_table_is_written_keeps_the_old_pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk after the table was written left a new table beside the old quarantine (20,000
    quarantined records gone from the pair)."""
    out = tmp_path / "labels.parquet"
    bad = tmp_path / "bad.csv"
    bad.write_text("item_id,annotator_id,task,label\n" + "".join(f"i{i},,toxicity,ok\n" for i in range(50))
                   + "i1,a1,toxicity,ok\n", encoding="utf-8")
    first = write_result(import_file(bad), out)
    assert first["quarantined"] == 50 and check_import_output(out) is None
    old = {p: p.read_bytes() for p in (out, quarantine_path(out), manifest_path(out))}
    calls = {"n": 0}
    real_fsync = os.fsync

    def fsync_fails_on_second(fd: int) -> None:  # the table's temp file fsyncs; the quarantine's hits ENOSPC
        calls["n"] += 1
        if calls["n"] == 2:
            _enospc()
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_fails_on_second)
    with pytest.raises(OSError, match="No space left"):
        write_result(import_file(REPO / "sample" / "labels.csv"), out)
    monkeypatch.undo()
    assert {p: p.read_bytes() for p in old} == old  # the old table, quarantine and manifest, together
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "labels.manifest.json", "labels.parquet",
                                                          "labels.quarantine.jsonl"]  # no temp files left
    assert check_import_output(out) is None
    assert len(pd.read_parquet(out)) == 1


def test_a_mismatched_import_pair_is_detected(tmp_path: Path) -> None:
    out_a, out_b = tmp_path / "a" / "labels.parquet", tmp_path / "b" / "labels.parquet"
    write_result(import_file(REPO / "sample" / "labels.csv"), out_a)
    bad = tmp_path / "bad.csv"
    bad.write_text("item_id,annotator_id,task,label\ni1,,toxicity,ok\ni1,a1,toxicity,ok\n", encoding="utf-8")
    write_result(import_file(bad), out_b)
    shutil.copy(quarantine_path(out_b), quarantine_path(out_a))  # a quarantine from another run
    problem = check_import_output(out_a)
    assert problem is not None and "labels.quarantine.jsonl: not the file run" in problem and "mismatched pair" in problem
    manifest_path(out_b).unlink()
    assert "no manifest" in str(check_import_output(out_b))


def test_stale_gold_is_removed_on_reimport_without_gold(tmp_path: Path) -> None:
    """A stale OUT.gold.csv was kept on re-import without gold."""
    out = tmp_path / "labels.parquet"
    with_gold = dataclasses.replace(import_file(REPO / "sample" / "labels.csv"),
                                    gold=pd.DataFrame({"item_id": ["c-00501"], "task": ["toxicity"], "label": ["ok"]}))
    s1 = write_result(with_gold, out)
    assert "gold_out" in s1 and gold_path(out).read_text(encoding="utf-8") == "item_id,task,label\nc-00501,toxicity,ok\n"
    assert check_import_output(out) is None
    s2 = write_result(import_file(REPO / "sample" / "labels.csv"), out)
    assert "gold_out" not in s2 and s2["stale_gold_removed"] == str(gold_path(out))
    assert not gold_path(out).exists() and check_import_output(out) is None


# --- a real full disk: a small tmpfs (root only; skipped where mount is not allowed) ----------------

@pytest.fixture()
def tiny_fs(tmp_path: Path):
    import subprocess

    mnt = tmp_path / "fs"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root and mount to make a small tmpfs")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _fill(folder: Path) -> None:
    """Take every free block of the file system holding ``folder``."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)


def test_on_a_real_full_disk_no_torn_line_and_no_mismatched_pair(tiny_fs: Path) -> None:
    g = tiny_fs / "guidelines"
    shutil.copytree(REPO / "guidelines", g)
    out = tiny_fs / "imp" / "labels.parquet"
    small = tiny_fs / "small.csv"
    small.write_text("item_id,annotator_id,task,label\ni1,,toxicity,ok\ni1,a1,toxicity,ok\n", encoding="utf-8")
    write_result(import_file(small), out)
    pair = {p: p.read_bytes() for p in (out, quarantine_path(out), manifest_path(out))}
    session = tiny_fs / "answers" / "p1.jsonl"
    storage.append_record(session, {"kind": "answer", "item_id": "c-1", "label": "ok", "at": "2026-11-20T10:00:00Z"})
    log_before, session_before = (g / "decisions.jsonl").read_bytes(), session.read_bytes()
    _fill(tiny_fs)
    long = "x" * 20000  # more than the free bytes left in any partly used page
    with pytest.raises(OSError) as err:
        _adjudicate(g, long)
    assert err.value.errno == errno.ENOSPC
    assert (g / "decisions.jsonl").read_bytes() == log_before
    with pytest.raises(OSError):
        storage.append_record(session, {"kind": "answer", "item_id": "c-2", "label": long, "at": "2026-11-20T10:01:00Z"})
    assert session.read_bytes() == session_before
    with pytest.raises(OSError):
        write_result(import_file(REPO / "sample" / "labels.csv"), out)
    assert {p: p.read_bytes() for p in pair} == pair and check_import_output(out) is None
    assert sorted(p.name for p in out.parent.iterdir()) == ["labels.manifest.json", "labels.parquet", "labels.quarantine.jsonl"]
    (tiny_fs / "filler").unlink()  # space again: everything works and verifies
    _adjudicate(g, "space again")
    assert dlog.verify(g).ok
