"""The sample's guideline history is made by the governance commands, reproducibly."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.guidelines.history import main as history_main
from labkit.guidelines.history import rebuild
from labkit.guidelines.model import Guidelines

REPO = Path(__file__).resolve().parents[1]
ORIGINAL = REPO / "tests" / "data" / "guidelines" / "original"


def test_committed_history_is_what_the_commands_produce(capsys: pytest.CaptureFixture[str]) -> None:
    assert history_main(["--guidelines", str(REPO / "guidelines"), "--check"]) == 0
    assert capsys.readouterr().out.strip() == "history up to date"


def test_rebuild_is_byte_identical_twice(tmp_path: Path) -> None:
    a = rebuild(REPO / "guidelines", tmp_path / "a")
    b = rebuild(REPO / "guidelines", tmp_path / "b")
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for f in files:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f


def test_released_content_matches_the_hand_written_versions(tmp_path: Path) -> None:
    """Others depend on the names, definitions and dates the lead wrote by hand (kept in tests/data)."""
    (tmp_path / "toxicity").mkdir()
    for v in ("1.0.0", "1.1.0", "2.0.0"):
        (tmp_path / "toxicity" / f"{v}.yaml").write_bytes((ORIGINAL / f"{v}.yaml").read_bytes())
    hand = Guidelines.load(tmp_path).versions("toxicity")
    made = Guidelines.load(REPO / "guidelines").versions("toxicity")
    for h, m in zip(hand, made, strict=True):
        assert (m.version, m.labels, m.released_at, m.previous, m.change_kind, m.rationale) == \
               (h.version, h.labels, h.released_at, h.previous, h.change_kind, h.rationale)
        assert m.decision_tree == h.decision_tree and m.migration == h.migration
        assert m.meta["proposal"] and m.meta["approved_by"] and m.meta["log_head"]["hash"]
