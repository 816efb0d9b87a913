"""``labkit calibration new|status|replay|close`` on tests/data/calibration, as a user runs them."""

from __future__ import annotations

import json

import pytest
import yaml

from labkit.calibration import CalibrationSession
from labkit.cli import main
from test_calibration_helpers import DATA, GUIDELINES


def run(capsys, *argv: str) -> tuple[int, dict, str]:
    code = main(["calibration", *argv, "--json"])
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    return code, (json.loads(lines[-1]) if lines else {}), err


def new_args(folder, *extra: str) -> list[str]:
    return ["new", str(folder), "--labels", str(DATA / "labels.csv"), "--gold", str(DATA / "gold.csv"),
            "--items", str(DATA / "items.csv"), "--guidelines", str(GUIDELINES), "--date", "2026-09-28T09:00:00Z",
            "--facilitator", "f", "--participants", "a1,a2", "--n-gold", "3", "--n-contested", "2", *extra]


def test_new_status_replay_close(tmp_path, capsys):
    folder = tmp_path / "sessions" / "cal-cli"
    code, out, _ = run(capsys, *new_args(folder, "--no-file-proposals"))
    assert code == 0
    assert out["session"] == "cal-cli" and out["guideline_version"] == "1.1.0"  # in force on 2026-09-28
    assert (out["items"], out["gold_items"], out["contested_items"]) == (5, 3, 2)
    assert out["participants"] == ["f", "a1", "a2"]
    spec = yaml.safe_load((folder / "session.yaml").read_text())
    # sources are stored relative to the session folder, so the folder can move with its data
    assert not spec["sources"]["labels"].startswith("/")
    assert (folder / spec["sources"]["labels"]).resolve() == (DATA / "labels.csv").resolve()
    assert spec["open_join"] is False and spec["file_proposals"] is False

    code, st, _ = run(capsys, "status", str(folder))
    assert code == 0 and st["phase"] == "blind" and st["blind_answers"] == 0 and st["annotators"] == 2
    assert st["agreement_blind"]["alpha"] is None  # NaN becomes null in JSON

    code, st, _ = run(capsys, "replay", str(folder), "--facilitator", "f",
                      "--clarify", "a1", "g3", "offensive", "Sarcasm at a person is offensive.")
    assert code == 0 and st["phase"] == "closed"
    assert (st["blind_answers"], st["final_answers"], st["clarifications"], st["proposals"]) == (10, 10, 1, 1)
    s = CalibrationSession.open(folder)
    assert [e["phase"] for e in s.events() if e["kind"] == "phase"] == ["reveal", "discussion", "record", "closed"]
    ba = json.loads((folder / "before_after.json").read_text())
    assert ba["followup"]["window_days"] == 14.0  # the labels and gold were found through sources

    code, _, err = run(capsys, "close", str(folder), "--facilitator", "f")
    assert code != 0 and "session cal-cli is already closed" in err


def test_close_writes_summary(tmp_path, capsys):
    folder = tmp_path / "cal-close"
    assert run(capsys, *new_args(folder, "--no-file-proposals"))[0] == 0
    s = CalibrationSession.open(folder)
    s.submit_answer("a1", s.items[0].item_id, "ok")
    code, _, err = run(capsys, "close", str(folder), "--facilitator", "a1")
    assert code != 0 and "only a facilitator may do this; 'a1' is an annotator" in err
    code, out, _ = run(capsys, "close", str(folder), "--facilitator", "f")
    assert code == 0 and out["phase"] == "closed"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["blind_answers"] == 1 and summary["phase"] == "closed"


def test_user_errors_are_one_clear_line(tmp_path, capsys):
    args = new_args(tmp_path / "x")
    args[args.index("--date") + 1] = "yesterday"
    code, _, err = run(capsys, *args)
    assert code != 0 and "--date must be an ISO 8601 timestamp (e.g. 2026-09-28T09:00:00Z), got 'yesterday'" in err
    code, _, err = run(capsys, "status", str(tmp_path / "nowhere"))
    assert code != 0 and "nowhere/session.yaml: no such file (is this a calibration session folder?)" in err
    folder = tmp_path / "twice"
    assert run(capsys, *new_args(folder, "--no-file-proposals"))[0] == 0
    code, _, err = run(capsys, *new_args(folder, "--no-file-proposals"))
    assert code != 0 and "a session already exists here" in err
    code, _, err = run(capsys, "replay", str(tmp_path / "twice"), "--facilitator", "f", "--window-days", "7")
    assert code == 0
    code, _, err = run(capsys, "replay", str(tmp_path / "twice"), "--facilitator", "f")
    assert code != 0 and "replay needs a fresh session (phase blind, no answers)" in err


@pytest.mark.parametrize("flag", ["--n-gold", "--n-contested"])
def test_negative_sizes_refused(tmp_path, capsys, flag):
    args = new_args(tmp_path / "neg")
    args[args.index(flag) + 1] = "-2"
    code, _, err = run(capsys, *args)
    assert code != 0 and f"{flag[2:].replace('-', '_')} must be a non-negative integer, got -2" in err
