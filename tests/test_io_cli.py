"""``labkit import``: exit codes, the --json summary line, --strict, several SRC files, refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from labkit.cli import main

DATA = Path(__file__).parent / "data" / "io"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(["import", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_clean_import_exit_0_and_json(tmp_path, capsys):
    src = tmp_path / "a.csv"
    src.write_text("item,worker,label\n1,a,x\n2,b,y\n")
    out = tmp_path / "labels.parquet"
    rc, stdout, _ = run(capsys, str(src), "--out", str(out), "--json", "--task", "tox", "--guideline-version", "1.0.0")
    assert rc == 0
    s = last_json(stdout)
    assert {k: s[k] for k in ("records_in", "accepted", "quarantined", "judgements", "format")} == {
        "records_in": 2, "accepted": 2, "quarantined": 0, "judgements": 2, "format": "csv"}
    assert s["out"] == str(out) and s["quarantine"] == str(tmp_path / "labels.quarantine.jsonl")
    t = pd.read_parquet(out)
    assert t["task"].astype(str).tolist() == ["tox", "tox"]
    assert t["guideline_version"].astype(str).tolist() == ["1.0.0", "1.0.0"]
    assert (tmp_path / "labels.quarantine.jsonl").read_text() == ""


def test_quarantine_exit_0_but_strict_exit_3(tmp_path, capsys):
    src = tmp_path / "a.csv"
    src.write_text("item_id,annotator_id,label\n1,a,x\n2,b,y,z\n")
    out = tmp_path / "o.parquet"
    rc, stdout, _ = run(capsys, str(src), "--out", str(out))
    assert rc == 0
    assert "2 records in, 1 accepted, 1 quarantined" in stdout
    rc, stdout, _ = run(capsys, str(src), "--out", str(out), "--strict", "--json")
    assert rc == 3
    s = last_json(stdout)
    assert (s["records_in"], s["accepted"], s["quarantined"]) == (2, 1, 1)
    assert s["quarantine_reasons"] == {"ragged row: expected 3 fields like the header, saw 4": 1}
    q = [json.loads(x) for x in Path(s["quarantine"]).read_text().splitlines()]
    assert q == [{"file": str(src), "record": 3, "field": None,
                  "reason": "ragged row: expected 3 fields like the header, saw 4", "original": "2,b,y,z"}]


def test_refused_input_one_message_nonzero_no_output(tmp_path, capsys):
    src = tmp_path / "export.json"
    src.write_text('{"detail": "Authentication credentials were not provided."}')
    out = tmp_path / "o.parquet"
    rc, stdout, err = run(capsys, str(src), "--out", str(out), "--json")
    assert rc == 2
    assert err == (f"labkit import: error: {src}: is an API error response, not a label export: "
                   '"Authentication credentials were not provided."\n')
    assert stdout == ""
    assert not out.exists()


def test_several_sources_concatenated_counts_summed(tmp_path, capsys):
    out = tmp_path / "all.parquet"
    srcs = [DATA / "label_studio_export.json", DATA / "prodigy_textcat.jsonl", DATA / "argilla_records.json"]
    rc, stdout, _ = run(capsys, *map(str, srcs), "--out", str(out), "--json")
    assert rc == 0
    s = last_json(stdout)
    assert [f["records_in"] for f in s["files"]] == [10, 8, 8]
    assert (s["records_in"], s["accepted"], s["quarantined"]) == (26, 18, 8)
    assert s["judgements"] == 5 + 4 + 6
    assert s["skipped"] == {"was_cancelled": 1, "unannotated": 2, "ignore": 1, "reject": 1, "discarded": 1, "draft": 1}
    assert len(pd.read_parquet(out)) == 15
    assert len(Path(s["quarantine"]).read_text().splitlines()) == 8
    assert s["gold"] == 1 and Path(s["gold_out"]).exists()


def test_console_script_end_to_end(tmp_path):
    """The installed ``labkit`` entry point, as a scheduled job would call it."""
    src = tmp_path / "a.tsv"
    src.write_text("task\tworker\tlabel\nt1\tw1\t1\n")
    out = tmp_path / "o.parquet"
    proc = subprocess.run([sys.executable, "-m", "labkit", "import", str(src), "--out", str(out), "--json"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert last_json(proc.stdout)["accepted"] == 1
    proc = subprocess.run([sys.executable, "-m", "labkit", "import", str(tmp_path / "missing.csv"), "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr == f"labkit import: error: {tmp_path / 'missing.csv'}: no such file\n"
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("fmt", ["label-studio", "prodigy", "argilla"])
def test_wrong_explicit_format_does_not_crash(tmp_path, capsys, fmt):
    src = tmp_path / "a.csv"
    src.write_text("item_id,annotator_id,label\n1,a,x\n")
    rc, _, err = run(capsys, str(src), "--format", fmt, "--out", str(tmp_path / "o.parquet"))
    assert rc == 2 and err.startswith(f"labkit import: error: {src}: ")
