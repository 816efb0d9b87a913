"""The decision log: hash chain, verification on a copy of the committed log, concurrent appends."""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import shutil
from pathlib import Path

import pytest

from labkit.cli import main
from labkit.errors import GovernanceError
from labkit.guidelines import log as dlog

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def groot(tmp_path: Path) -> Path:
    """A copy of the committed guidelines folder (versions, proposals, governance, decisions.jsonl)."""
    dst = tmp_path / "guidelines"
    shutil.copytree(REPO / "guidelines", dst)
    return dst


def lines(p: Path) -> list[str]:
    return p.read_text(encoding="utf-8").splitlines(keepends=True)


def test_committed_log_is_intact_and_anchored(groot: Path) -> None:
    v = dlog.verify(groot)
    assert v.ok, str(v)
    assert v.entries == len(lines(groot / "decisions.jsonl"))
    assert v.anchors_checked == ["toxicity 1.0.0", "toxicity 1.1.0", "toxicity 2.0.0"]
    assert main(["log", "verify", str(groot / "decisions.jsonl")]) == 0


def test_hash_is_sha256_of_canonical_json_without_hash(groot: Path) -> None:
    first = json.loads(lines(groot / "decisions.jsonl")[0])
    body = {k: v for k, v in first.items() if k != "hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert first["hash"] == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert first["prev"] == "0" * 64 and first["seq"] == 0


def test_one_changed_character_is_caught_naming_the_line(groot: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = groot / "decisions.jsonl"
    ls = lines(log)
    assert '"who":"g-expert-1"' in ls[3]
    ls[3] = ls[3].replace('"who":"g-expert-1"', '"who":"g-expert-2"')  # one character
    log.write_text("".join(ls), encoding="utf-8")
    v = dlog.verify(groot)
    assert not v.ok and v.first_bad == 4
    assert "does not match its hash" in v.problem
    assert main(["log", "verify", str(log)]) == 1
    assert "BROKEN at line 4" in capsys.readouterr().out


def test_removed_entry_is_caught(groot: Path) -> None:
    log = groot / "decisions.jsonl"
    ls = lines(log)
    del ls[5]
    log.write_text("".join(ls), encoding="utf-8")
    v = dlog.verify(groot)
    assert not v.ok and v.first_bad == 6
    assert "expected seq 5, found 6" in v.problem


def test_two_swapped_entries_are_caught(groot: Path) -> None:
    log = groot / "decisions.jsonl"
    ls = lines(log)
    ls[3], ls[4] = ls[4], ls[3]
    log.write_text("".join(ls), encoding="utf-8")
    v = dlog.verify(groot)
    assert not v.ok and v.first_bad == 4
    assert "expected seq 3, found 4" in v.problem


def test_rewritten_chain_with_recomputed_hashes_is_caught_by_signatures(groot: Path) -> None:
    """An attacker who edits an entry and re-hashes everything after it breaks the entry's signature."""
    log = groot / "decisions.jsonl"
    entries = [json.loads(x) for x in lines(log)]
    entries[2]["why"] = "I never approved this"
    prev = dlog.GENESIS
    for e in entries:
        e["prev"] = prev
        e["hash"] = dlog.entry_hash(e)
        prev = e["hash"]
    log.write_text("".join(dlog.canonical_json(e) + "\n" for e in entries), encoding="utf-8")
    v = dlog.verify(groot)
    assert not v.ok and v.first_bad == 3
    assert v.problem.startswith("entry seq 2 (approve by g-lead-1) is signed with key SHA256:")
    assert v.problem.endswith("which is not a key listed for g-lead-1 in governance.yaml as logged at seq 0 "
                              "(or the signature does not match the entry)")


def test_cut_tail_after_a_release_is_caught(groot: Path) -> None:
    log = groot / "decisions.jsonl"
    ls = lines(log)
    release_200 = next(i for i, x in enumerate(ls) if '"action":"release"' in x and '"version":"2.0.0"' in x)
    log.write_text("".join(ls[:release_200]), encoding="utf-8")  # chain itself still valid
    v = dlog.verify(groot)
    assert not v.ok
    assert v.problem.startswith(f"toxicity 2.0.0 was released at log entry seq {release_200} ")
    assert "not in the log" in v.problem


def test_cut_after_the_last_release_needs_an_expected_head(groot: Path) -> None:
    log = groot / "decisions.jsonl"
    ls = lines(log)
    head = json.loads(ls[-1])["hash"]
    log.write_text("".join(ls[:-2]), encoding="utf-8")
    assert dlog.verify(groot).ok  # documented limit: nothing anchors entries after the last release
    v = dlog.verify(groot, expect_head=head)
    assert not v.ok and "expected head" in v.problem
    assert main(["log", "verify", str(log), "--expect-head", head]) == 1


def test_expect_head_takes_only_a_full_hash(groot: Path) -> None:
    """`--expect-head` accepted an 8-hex-digit prefix."""
    head = json.loads(lines(groot / "decisions.jsonl")[-1])["hash"]
    assert dlog.verify(groot, expect_head=head).ok
    v = dlog.verify(groot, expect_head=head[:8])
    assert not v.ok and v.problem == (f"--expect-head needs a full SHA-256 head (64 hex digits), got {head[:8]!r}: "
                                      "a prefix could be matched by a forged entry")
    assert main(["log", "verify", str(groot / "decisions.jsonl"), "--expect-head", head[:8]]) == 1


def test_truncated_last_line_is_caught_and_append_refuses(tmp_path: Path) -> None:
    dlog.append(tmp_path, "adjudicate", "g-expert-1", at="2026-10-01T00:00:00Z", item_id="c-1", label="ok", why="x")
    log = tmp_path / "decisions.jsonl"
    log.write_bytes(log.read_bytes()[:-20])
    v = dlog.verify(tmp_path)
    assert not v.ok and v.first_bad == 1
    with pytest.raises(GovernanceError, match="the log ends with a torn line"):
        dlog.append(tmp_path, "adjudicate", "g-expert-1", item_id="c-2", label="ok", why="y")


def test_append_rejects_unknown_action_and_reserved_fields(tmp_path: Path) -> None:
    with pytest.raises(GovernanceError, match="log action must be one of"):
        dlog.append(tmp_path, "delete", "g-lead-1")
    with pytest.raises(GovernanceError, match="'seq' is set by the log itself"):
        dlog.append(tmp_path, "adjudicate", "g-lead-1", seq=5)


def _worker(args: tuple[str, int, int]) -> None:
    root, wid, n = args
    for i in range(n):
        dlog.append(root, "adjudicate", f"w{wid}", item_id=f"c-{wid}-{i}", label="ok", why="concurrent")


def test_concurrent_appends_keep_the_chain_intact(tmp_path: Path) -> None:
    ctx = mp.get_context("fork")
    with ctx.Pool(4) as pool:
        pool.map(_worker, [(str(tmp_path), w, 25) for w in range(4)])
    v = dlog.verify(tmp_path)
    assert v.ok, str(v)
    entries = dlog.read(tmp_path)
    assert [e["seq"] for e in entries] == list(range(100))
    assert sorted(e["item_id"] for e in entries) == sorted(f"c-{w}-{i}" for w in range(4) for i in range(25))


def test_an_edited_released_version_file_is_caught(groot: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Released versions are never edited: the release entry's content_sha256 pins the file's content."""
    f = groot / "toxicity" / "2.0.0.yaml"
    text = f.read_text(encoding="utf-8")
    assert "Only a clown would write code like this." in text
    f.write_text(text.replace("code like this.", "code like that."), encoding="utf-8")  # one word of one example
    v = dlog.verify(groot)
    assert not v.ok and v.bad_file == "toxicity/2.0.0.yaml"
    release_200 = next(e for e in dlog.read(groot) if e["action"] == "release" and e["version"] == "2.0.0")
    assert v.first_bad == release_200["seq"] + 1
    assert v.problem.startswith("toxicity/2.0.0.yaml was edited after its release: its content no longer matches "
                                f"the content_sha256 recorded by the release entry (seq {release_200['seq']})")
    assert main(["log", "verify", str(groot / "decisions.jsonl")]) == 1
    assert "BROKEN: toxicity/2.0.0.yaml was edited after its release" in capsys.readouterr().out
    # a change of layout only (same content) is not an edit
    f.write_text(text.replace("\nlabels:\n", "\n\nlabels:\n"), encoding="utf-8")
    assert dlog.verify(groot).ok


def test_content_sha256_is_what_release_recorded(groot: Path) -> None:
    from labkit.guidelines.model import safe_load

    recorded = {e["version"]: e["content_sha256"] for e in dlog.read(groot) if e["action"] == "release"}
    for version, want in recorded.items():
        doc = safe_load((groot / "toxicity" / f"{version}.yaml").read_text(encoding="utf-8"))
        assert dlog.content_sha256(doc) == want


def test_a_version_file_not_made_by_a_release_or_a_missing_one_is_caught(groot: Path) -> None:
    src = (groot / "toxicity" / "2.0.0.yaml").read_text(encoding="utf-8")
    hand = src.replace("version: 2.0.0", "version: 2.0.1").split("log_head:")[0]
    (groot / "toxicity" / "2.0.1.yaml").write_text(hand, encoding="utf-8")
    v = dlog.verify(groot)
    assert not v.ok and v.bad_file == "toxicity/2.0.1.yaml"
    assert v.problem == ("toxicity/2.0.1.yaml has no log_head: it was not made by `labkit guidelines release` "
                         "although toxicity's versions are released through the log")
    (groot / "toxicity" / "2.0.1.yaml").unlink()
    (groot / "toxicity" / "1.1.0.yaml").unlink()
    v = dlog.verify(groot)
    assert not v.ok and v.problem == "toxicity 1.1.0 was released at log entry seq 9, but toxicity/1.1.0.yaml is missing"


def test_a_missing_log_is_not_verified(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["log", "verify", str(tmp_path / "decisions.jsonl")]) == 1
    assert capsys.readouterr().out.strip() == f"{tmp_path / 'decisions.jsonl'}: no such log file"


def test_append_many_is_one_consecutive_batch_or_nothing(tmp_path: Path) -> None:
    dlog.append(tmp_path, "adjudicate", "g-expert-1", at="2026-10-01T00:00:00Z", item_id="c-0", label="ok", why="x")
    batch = [{"action": "adjudicate", "who": "g-expert-2", "at": "2026-10-02T00:00:00Z", "item_id": f"c-{i}",
              "label": "spam", "why": "queue"} for i in range(1, 4)]
    es = dlog.append_many(tmp_path, batch)
    assert [e["seq"] for e in es] == [1, 2, 3] and dlog.read(tmp_path)[1:] == es
    before = (tmp_path / "decisions.jsonl").read_bytes()
    bad = batch + [{"action": "adjudicate", "who": "g-expert-2", "item_id": "c-9", "label": "ok",
                    "why": float("nan")}]
    with pytest.raises(GovernanceError, match=r"^decision 3: log fields must be JSON values"):
        dlog.append_many(tmp_path, bad)
    with pytest.raises(GovernanceError, match=r"^decision 0: log action must be one of"):
        dlog.append_many(tmp_path, [{"action": "erase", "who": "x"}, batch[0]])
    assert (tmp_path / "decisions.jsonl").read_bytes() == before  # nothing written
    assert dlog.append_many(tmp_path, []) == [] and dlog.verify(tmp_path).ok


def _batch_worker(args: tuple[str, int]) -> None:
    root, wid = args
    for k in range(5):
        dlog.append_many(root, [{"action": "adjudicate", "who": f"w{wid}", "item_id": f"c-{wid}-{k}-{i}",
                                 "label": "ok", "why": "batch"} for i in range(10)])


def test_concurrent_batches_stay_contiguous_and_chained(tmp_path: Path) -> None:
    with mp.get_context("fork").Pool(3) as pool:
        pool.map(_batch_worker, [(str(tmp_path), w) for w in range(3)])
    assert dlog.verify(tmp_path).ok
    entries = dlog.read(tmp_path)
    assert len(entries) == 150
    for start in range(0, 150, 10):  # each batch of 10 landed in one piece
        chunk = entries[start:start + 10]
        assert len({e["who"] for e in chunk}) == 1
        assert [e["item_id"].rsplit("-", 1)[1] for e in chunk] == [str(i) for i in range(10)]
