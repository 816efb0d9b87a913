"""Issue 15: governance you can trust under attack. Each test is an attack from the issue, in its words.

The program here is made from scratch with keys from `labkit keys generate` (random, not the sample's):
g-lead-1 (lead), g-expert-1 and g-expert-2 (domain_expert), g-qa-1 (qa). Toxicity 1.0.0 is proposed by
g-qa-1, approved by the lead and both experts, and released by the lead; the 1.1.0 proposal is filed
and approved by one expert.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from labkit.cli import main
from labkit.errors import GovernanceError, GuidelineError
from labkit.guidelines import log as dlog
from labkit.guidelines import signing

REPO = Path(__file__).resolve().parents[1]
PROPS = REPO / "guidelines" / "toxicity" / "proposals"
MEMBERS = {"g-lead-1": "lead", "g-expert-1": "domain_expert", "g-expert-2": "domain_expert", "g-qa-1": "qa"}
FIRST, SECOND = "toxicity-1.0.0-first-release", "toxicity-1.1.0-self-promotion"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict, str]:
    code = main([*argv, "--json"])
    cap = capsys.readouterr()
    out = cap.out.strip().splitlines()
    return code, (json.loads(out[-1]) if out and out[-1].startswith("{") else {}), cap.err


def governance_text(keys: dict[str, str], rules: str | None = None) -> str:
    members = "".join(f"  {m}:\n    roles: [{r}]\n    key: {keys[m]}\n" for m, r in MEMBERS.items())
    return ("members:\n" + members + (rules or "rules:\n  major: [{role: lead, count: 1}, {role: domain_expert, count: 2}]\n"
            "  minor: [{role: lead, count: 1}, {role: domain_expert, count: 1}]\n  patch: [{role: qa, count: 1}]\n"))


@pytest.fixture()
def prog(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.delenv("LABKIT_SIGNING_KEY", raising=False)  # every key is passed explicitly here
    keys, pubs = tmp_path / "keys", {}
    for m in [*MEMBERS, "mallory"]:
        code, out, _ = run(capsys, "keys", "generate", str(keys / m))
        assert code == 0 and out["public"].startswith("ssh-ed25519 ")
        pubs[m] = out["public"]
    g = tmp_path / "guidelines"
    g.mkdir()
    (g / "governance.yaml").write_text(governance_text(pubs), encoding="utf-8")
    drafts = tmp_path / "drafts"
    drafts.mkdir()
    for pid in (FIRST, SECOND):
        shutil.copy(PROPS / f"{pid}.yaml", drafts / f"{pid}.yaml")
    G = ["--guidelines", str(g)]
    k = {m: ["--key", str(keys / m)] for m in [*MEMBERS, "mallory"]}
    assert run(capsys, "guidelines", "propose", str(drafts / f"{FIRST}.yaml"), *k["g-qa-1"], *G)[0] == 0
    for who, at in (("g-lead-1", "2026-09-02T10:00:00Z"), ("g-expert-1", "2026-09-03T09:15:00Z"),
                    ("g-expert-2", "2026-09-03T14:40:00Z")):
        assert run(capsys, "guidelines", "approve", FIRST, "--as", who, "--at", at, *k[who], *G)[0] == 0
    assert run(capsys, "guidelines", "release", FIRST, "--as", "g-lead-1", "--at", "2026-09-07T00:00:00Z",
               *k["g-lead-1"], *G)[0] == 0
    (drafts / f"{SECOND}.yaml").write_text((drafts / f"{SECOND}.yaml").read_text().replace("author: g-facil-1",
                                                                                         "author: g-qa-1"))
    assert run(capsys, "guidelines", "propose", str(drafts / f"{SECOND}.yaml"), *k["g-qa-1"], *G)[0] == 0
    assert run(capsys, "guidelines", "approve", SECOND, "--as", "g-expert-1", "--at", "2026-09-23T11:00:00Z",
               *k["g-expert-1"], *G)[0] == 0
    code, out, _ = run(capsys, "log", "verify", str(g / "decisions.jsonl"))
    assert code == 0 and out["signing"] == "required"
    return {"g": g, "G": G, "k": k, "keys": keys, "pubs": pubs, "log": g / "decisions.jsonl", "drafts": drafts}


def verify_cli(capsys: pytest.CaptureFixture[str], prog: dict) -> tuple[int, dict]:
    code, out, _ = run(capsys, "log", "verify", str(prog["log"]))  # no extra flags
    return code, out


def entries(prog: dict) -> list[dict]:
    return [json.loads(x) for x in prog["log"].read_text(encoding="utf-8").split("\n") if x]


def write_chain(prog: dict, es: list[dict]) -> None:
    """What an attacker who can edit the folder does: rewrite entries and recompute every hash."""
    prev = dlog.GENESIS
    for i, e in enumerate(es):
        e["seq"], e["prev"] = i, prev
        e["hash"] = dlog.entry_hash(e)
        prev = e["hash"]
    prog["log"].write_text("".join(dlog.canonical_json(e) + "\n" for e in es), encoding="utf-8")


# --- the tamper test of "Done when" ----------------------------------------------------------------

def test_rewritten_entry_with_recomputed_hashes_is_detected(prog: dict, capsys: pytest.CaptureFixture[str]) -> None:
    """Rewriting an entry after the last release and recomputing the hashes passed `log verify` and let a
    forged approval through to a release."""
    es = entries(prog)
    last = es[-1]
    assert last["action"] == "approve" and last["who"] == "g-expert-1"
    last["who"] = "g-lead-1"  # the forged approval: the lead approved 1.1.0
    write_chain(prog, es)
    code, out = verify_cli(capsys, prog)
    assert code == 1 and out["first_bad_line"] == len(es)
    assert out["problem"].startswith(f"entry seq {len(es) - 1} (approve by g-lead-1) is signed with key SHA256:")
    # and the forged approval does not count towards a release
    code, _, err = run(capsys, "guidelines", "release", SECOND, "--as", "g-lead-1", *prog["k"]["g-lead-1"], *prog["G"])
    assert code == 1 and "needs 1 more lead approval, 1 more domain_expert approval" in err
    assert "g-lead-1 approval in log entry" in err and "not a key listed for g-lead-1" in err


def test_rewritten_and_resigned_with_a_key_not_listed_is_detected(prog: dict, capsys: pytest.CaptureFixture[str]) -> None:
    es = entries(prog)
    es[-1]["who"] = "g-lead-1"
    es[-1].pop("sig")
    mallory = signing.load_private(prog["keys"] / "mallory")
    es[-1]["signer_key"] = signing.fingerprint(signing.public_line(mallory))
    write_chain(prog, es[:-1])
    es[-1]["seq"], es[-1]["prev"] = len(es) - 1, entries(prog)[-1]["hash"]
    es[-1]["sig"] = signing.sign(mallory, es[-1])
    write_chain(prog, es)
    code, out = verify_cli(capsys, prog)
    assert code == 1 and out["problem"] == (
        f"entry seq {len(es) - 1} (approve by g-lead-1) is signed with key {es[-1]['signer_key']}, which is not a key "
        "listed for g-lead-1 in governance.yaml as logged at seq 0 (or the signature does not match the entry)")


def test_edited_governance_yaml_is_detected(prog: dict, capsys: pytest.CaptureFixture[str]) -> None:
    """Adding a member, approving and releasing as that member, then deleting the line left `log verify`
    and `guidelines check` both "intact"."""
    gfile = prog["g"] / "governance.yaml"
    original = gfile.read_text(encoding="utf-8")
    gfile.write_text(original.replace("members:\n", f"members:\n  g-mallory:\n    roles: [lead]\n    key: {prog['pubs']['mallory']}\n"),
                     encoding="utf-8")
    code, out = verify_cli(capsys, prog)
    assert code == 1 and out["bad_file"] == "governance.yaml"
    assert out["problem"].startswith("governance.yaml was edited after log entry 0: its SHA-256 is not the one the log adopted")
    code, _, err = run(capsys, "guidelines", "approve", SECOND, "--as", "g-mallory", *prog["k"]["mallory"], *prog["G"])
    assert code == 2 and "governance.yaml was edited after log entry" in err
    assert run(capsys, "guidelines", "check", *prog["G"])[0] == 1
    # writing the approval into the log by hand, then restoring governance.yaml, is detected too
    gfile.write_text(original, encoding="utf-8")
    mallory = signing.load_private(prog["keys"] / "mallory")
    dlog.append_many(prog["g"], [{"action": "approve", "who": "g-mallory", "at": "2026-09-24T00:00:00Z", "task": "toxicity",
                                  "proposal": SECOND, "kind": "minor", "_key": mallory}])
    code, out = verify_cli(capsys, prog)
    assert code == 1 and out["problem"].endswith("g-mallory is not a member in governance.yaml")


def test_deleted_proposal_is_detected(prog: dict, capsys: pytest.CaptureFixture[str]) -> None:
    (prog["g"] / "toxicity" / "proposals" / f"{SECOND}.yaml").unlink()
    code, out = verify_cli(capsys, prog)
    assert code == 1 and out["bad_file"] == f"toxicity/proposals/{SECOND}.yaml"
    assert out["problem"] == f"toxicity/proposals/{SECOND}.yaml was filed at log entry seq 6 but is missing (deleted?)"


def test_backdated_approval_is_refused_and_detected(prog: dict, capsys: pytest.CaptureFixture[str]) -> None:
    """Approvals backdated to 2020 and a release dated 1999 were accepted on a 2026 proposal."""
    code, _, err = run(capsys, "guidelines", "approve", SECOND, "--as", "g-lead-1", "--at", "2020-01-01T00:00:00Z",
                       *prog["k"]["g-lead-1"], *prog["G"])
    assert code == 2 and err.strip().endswith(
        f"approve by g-lead-1 at 2020-01-01T00:00:00Z refused: it would precede the filing of {SECOND} (2026-09-21T15:00:00Z)")
    assert run(capsys, "guidelines", "approve", SECOND, "--as", "g-lead-1", "--at", "2026-09-25T16:20:00Z",
               *prog["k"]["g-lead-1"], *prog["G"])[0] == 0
    code, _, err = run(capsys, "guidelines", "release", SECOND, "--as", "g-lead-1", "--at", "1999-01-01T00:00:00Z",
                       *prog["k"]["g-lead-1"], *prog["G"])
    assert code == 2 and "release by g-lead-1 at 1999-01-01T00:00:00Z refused: it would precede the filing of" in err
    code, _, err = run(capsys, "guidelines", "approve", SECOND, "--as", "g-expert-2", "--at", "2099-01-01T00:00:00Z",
                       *prog["k"]["g-expert-2"], *prog["G"])
    assert code == 2 and "approve by g-expert-2 at 2099-01-01T00:00:00Z refused: the time is in the future" in err
    # a backdated approval signed by its member's own key but written past the command is detected
    expert2 = signing.load_private(prog["keys"] / "g-expert-2")
    dlog.append_many(prog["g"], [{"action": "approve", "who": "g-expert-2", "at": "2020-01-01T00:00:00Z", "task": "toxicity",
                                  "proposal": SECOND, "kind": "minor", "_key": expert2}])
    code, out = verify_cli(capsys, prog)
    assert code == 1 and out["problem"] == (f"entry seq 9 (approve by g-expert-2) is dated 2020-01-01T00:00:00Z, before {SECOND} "
                                            "was filed (2026-09-21T15:00:00Z)")


def test_approval_by_a_key_not_listed_for_the_member_is_refused_and_detected(prog: dict, capsys: pytest.CaptureFixture[str]) -> None:
    """One shell user approved as the lead and both domain experts and released a major version."""
    code, _, err = run(capsys, "guidelines", "approve", SECOND, "--as", "g-lead-1", *prog["k"]["mallory"], *prog["G"])
    fp = signing.fingerprint(prog["pubs"]["mallory"])
    assert code == 2 and err.strip().endswith(f"the signing key {fp} is not listed for g-lead-1 in {prog['g'] / 'governance.yaml'}: "
                                              "a decision is signed with the key of the member it names")
    code, _, err = run(capsys, "guidelines", "approve", SECOND, "--as", "g-lead-1", *prog["G"])  # no key at all
    assert code == 2 and "requires signed decisions: pass --key PATH (or set LABKIT_SIGNING_KEY)" in err
    mallory = signing.load_private(prog["keys"] / "mallory")
    dlog.append_many(prog["g"], [{"action": "approve", "who": "g-lead-1", "at": "2026-09-25T00:00:00Z", "task": "toxicity",
                                  "proposal": SECOND, "kind": "minor", "_key": mallory}])
    code, out = verify_cli(capsys, prog)
    assert code == 1 and out["problem"].startswith(f"entry seq 8 (approve by g-lead-1) is signed with key {fp}, which is not")
    code, _, err = run(capsys, "guidelines", "release", SECOND, "--as", "g-lead-1", *prog["k"]["g-lead-1"], *prog["G"])
    assert code == 1 and "needs 1 more lead approval" in err


# --- the other governance attacks -------------------------------------------------------------------

def test_author_is_checked_so_own_approval_cannot_be_sidestepped(prog: dict, capsys: pytest.CaptureFixture[str]) -> None:
    """`author` was not checked against the members, so "your own approval does not count" could be sidestepped."""
    draft = yaml.safe_load((PROPS / "toxicity-2026-11-02-sarcasm-about-work.yaml").read_text(encoding="utf-8"))
    draft.update(base_version="1.0.0", id="sidestep", created_at="2026-09-10T00:00:00Z",
                 changes=[{"op": "add_edge_case", "label": "offensive", "proposed": "Sarcasm about work is ok."}])
    f = prog["drafts"] / "sidestep.yaml"
    draft["author"] = "g-expert-1"  # the qa member files it under another member's name
    f.write_text(yaml.safe_dump(draft), encoding="utf-8")
    code, _, err = run(capsys, "guidelines", "propose", str(f), "--as", "g-qa-1", *prog["k"]["g-qa-1"], *prog["G"])
    assert code == 2 and "filed by g-qa-1 but names member g-expert-1 as its author; a member files their own" in err
    draft["author"] = "somebody-else"  # ...or under a name that is no member: the filer still does not count
    f.write_text(yaml.safe_dump(draft), encoding="utf-8")
    assert run(capsys, "guidelines", "propose", str(f), "--as", "g-qa-1", *prog["k"]["g-qa-1"], *prog["G"])[0] == 0
    code, out, _ = run(capsys, "guidelines", "approve", "sidestep", "--as", "g-qa-1", "--at", "2026-09-11T00:00:00Z",
                       *prog["k"]["g-qa-1"], *prog["G"])
    assert code == 0 and out["counts"] is False and out["missing"] == {"qa": 1}
    code, _, err = run(capsys, "guidelines", "release", "sidestep", "--as", "g-qa-1", *prog["k"]["g-qa-1"], *prog["G"])
    assert code == 1 and "needs 1 more qa approval (not counted: g-qa-1 filed the proposal)" in err


def test_an_empty_rule_list_never_allows_a_release_with_zero_approvals(prog: dict) -> None:
    """An empty rule list (`patch: []`) allowed a release with zero approvals."""
    text = (prog["g"] / "governance.yaml").read_text(encoding="utf-8").replace("patch: [{role: qa, count: 1}]", "patch: []")
    (prog["g"] / "governance.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(GuidelineError, match=r"rules.patch is empty: it would let a patch change be released with no approval at all"):
        from labkit.guidelines.governance import Governance

        Governance.load(prog["g"])


def test_released_proposal_never_filed_is_detected(prog: dict, capsys: pytest.CaptureFixture[str]) -> None:
    lead = signing.load_private(prog["keys"] / "g-lead-1")
    dlog.append_many(prog["g"], [{"action": "release", "who": "g-lead-1", "at": "2026-09-30T00:00:00Z", "task": "ghost",
                                  "proposal": "never-filed", "version": "9.0.0", "kind": "major", "_key": lead}])
    code, out = verify_cli(capsys, prog)
    assert code == 1 and out["problem"] == ("entry seq 8 (release by g-lead-1) names proposal never-filed, which was never "
                                            "filed (no propose entry before it)")


def test_edited_changelog_is_detected(prog: dict, capsys: pytest.CaptureFixture[str]) -> None:
    cl = prog["g"] / "toxicity" / "CHANGELOG.md"
    cl.write_text(cl.read_text(encoding="utf-8").replace("First release", "Second release"), encoding="utf-8")
    code, out = verify_cli(capsys, prog)
    assert code == 1 and out["bad_file"] == "toxicity/CHANGELOG.md"
    assert out["problem"] == ("toxicity/CHANGELOG.md: the section of toxicity 1.0.0 was edited: it no longer matches the "
                              "changelog_sha256 recorded by the release entry (seq 5)")


def test_a_deleted_decision_log_fails_guidelines_check(prog: dict, capsys: pytest.CaptureFixture[str]) -> None:
    """A deleted decision log: `guidelines check` exited 0."""
    prog["log"].unlink()
    code, out, _ = run(capsys, "guidelines", "check", *prog["G"])
    assert code == 1 and "decision log: missing: toxicity 1.0.0 records a release in it (decisions.jsonl)" in out["problems"][0]


def test_a_governance_change_is_approved_and_adopted_under_the_rules_in_force(prog: dict, capsys: pytest.CaptureFixture[str]) -> None:
    new = prog["drafts"] / "governance.yaml"
    text = (prog["g"] / "governance.yaml").read_text(encoding="utf-8")
    rotated = signing.generate(prog["keys"] / "g-lead-1.new")  # the lead rotates their key in the same change
    new.write_text(text.replace("members:\n", f"members:\n  g-qa-2:\n    roles: [qa]\n    key: {prog['pubs']['mallory']}\n")
                   .replace(prog["pubs"]["g-lead-1"], rotated), encoding="utf-8")
    G, k = prog["G"], prog["k"]
    code, _, err = run(capsys, "guidelines", "governance", "adopt", str(new), "--as", "g-lead-1", *k["g-lead-1"], *G)
    assert code == 1 and "under the rules in force it needs 1 more lead approval, 2 more domain_expert approvals" in err
    for who in ("g-lead-1", "g-expert-1", "g-expert-2"):
        assert run(capsys, "guidelines", "governance", "approve", str(new), "--as", who, *k[who], *G)[0] == 0
    code, out, _ = run(capsys, "guidelines", "governance", "adopt", str(new), "--as", "g-lead-1", *k["g-lead-1"], *G)
    assert code == 0
    assert (prog["g"] / "governance.yaml").read_text(encoding="utf-8") == new.read_text(encoding="utf-8")
    assert verify_cli(capsys, prog)[0] == 0
    # the new member acts with their key (mallory's key pair was listed for g-qa-2 in the adopted file)
    assert run(capsys, "guidelines", "approve", SECOND, "--as", "g-qa-2", *k["mallory"], *G)[0] == 0
    # old decisions are judged by the keys in force when they were made: the release still stands
    from labkit.guidelines.governance import status

    assert status(FIRST, prog["g"]).state == "released"
    assert run(capsys, "guidelines", "approve", SECOND, "--as", "g-lead-1", *k["g-lead-1"], *G)[0] == 2  # old key
    assert run(capsys, "guidelines", "approve", SECOND, "--as", "g-lead-1", "--key", str(prog["keys"] / "g-lead-1.new"),
               *G)[0] == 0
    assert verify_cli(capsys, prog)[0] == 0


def test_unsigned_mode_is_stated_plainly(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABKIT_SIGNING_KEY", raising=False)
    g = tmp_path / "g"
    g.mkdir()
    (g / "governance.yaml").write_text("members: {g-lead-1: [lead], g-expert-1: [domain_expert]}\n"
                                       "rules: {major: [{role: lead}], minor: [{role: lead}], patch: [{role: lead}],"
                                       " adjudication: [{role: domain_expert}]}\n", encoding="utf-8")
    assert run(capsys, "guidelines", "adjudicate", "c-1", "--task", "toxicity", "--label", "ok", "--as", "g-expert-1",
               "--why", "trial", "--guidelines", str(g))[0] == 0
    assert main(["log", "verify", str(g / "decisions.jsonl")]) == 0
    assert capsys.readouterr().out.strip().endswith(
        "UNSIGNED mode (governance.yaml has no keys or signing: off): who made each decision is NOT verified")
    import pandas as pd

    from labkit.guidelines import report as R

    log = R.log_status(g)  # the governance report says it plainly too
    assert log["signing"] == "off" and "UNSIGNED mode" in log["text"]
    first = R.findings(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), log)[0]
    assert first[1] is True and first[0].startswith("UNSIGNED mode: governance.yaml lists no signing keys")
    with pytest.raises(GuidelineError, match="signing is required but g-expert-1, g-lead-1 list no key"):
        (g / "governance.yaml").write_text("signing: required\n" + (g / "governance.yaml").read_text(), encoding="utf-8")
        from labkit.guidelines.governance import Governance

        Governance.load(g)


def test_keys_generate_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "keys", "generate", str(tmp_path / "k"))[0] == 0
    assert (tmp_path / "k").stat().st_mode & 0o777 == 0o600
    code, _, err = run(capsys, "keys", "generate", str(tmp_path / "k"))
    assert code == 2 and "already exists; refusing to overwrite a key" in err
    with pytest.raises(GovernanceError, match="not an unencrypted private key"):
        (tmp_path / "bad").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nxx\n-----END OPENSSH PRIVATE KEY-----\n")
        signing.load_private(tmp_path / "bad")
