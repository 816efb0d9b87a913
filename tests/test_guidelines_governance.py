"""Proposals, approvals by decision rights, releases, rejections and recorded decisions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from labkit.cli import main
from labkit.errors import GovernanceError, GuidelineError
from labkit.guidelines import log as dlog
from labkit.guidelines.governance import Governance, approve, record_decision, reject, release, status
from labkit.guidelines.model import Guidelines
from labkit.guidelines.proposals import apply_proposal, load_proposal, new_proposal

REPO = Path(__file__).resolve().parents[1]
SARCASM = "toxicity-2026-11-02-sarcasm-about-work"   # patch, open, approved by g-expert-1 (not qa)
THREAT = "toxicity-2026-11-09-threat-label"          # minor, open, by g-expert-2, approved by g-lead-1


@pytest.fixture()
def groot(tmp_path: Path) -> Path:
    dst = tmp_path / "guidelines"
    shutil.copytree(REPO / "guidelines", dst)
    return dst


def test_open_proposals_status_from_the_log(groot: Path) -> None:
    st = status(SARCASM, groot)
    assert (st.state, st.kind, st.next_version) == ("open", "patch", "2.0.1")
    assert st.quorum.missing == {"qa": 1}
    assert st.quorum.not_counted == {"g-expert-1": "holds domain_expert; patch changes need qa"}
    st = status(THREAT, groot)
    assert (st.state, st.kind, st.next_version) == ("open", "minor", "2.1.0")
    assert st.quorum.counted == ["g-lead-1"] and st.quorum.missing == {"domain_expert": 1}


def test_release_refused_naming_missing_approvals(groot: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(GovernanceError) as e:
        release(THREAT, groot, at="2026-11-20T00:00:00Z")
    assert str(e.value) == ("release of toxicity-2026-11-09-threat-label refused: a minor change to toxicity "
                            "needs 1 more domain_expert approval")
    assert main(["guidelines", "release", THREAT, "--guidelines", str(groot)]) == 1
    assert "needs 1 more domain_expert approval" in capsys.readouterr().err
    assert not (groot / "toxicity" / "2.1.0.yaml").exists()


def test_authors_own_approval_does_not_count(groot: Path) -> None:
    r = approve(THREAT, "g-expert-2", groot, at="2026-11-20T00:00:00Z")  # g-expert-2 is the author
    assert r["counts"] is False and r["not_counted"] == "is the author"
    with pytest.raises(GovernanceError, match=r"needs 1 more domain_expert approval \(not counted: g-expert-2 is the author\)"):
        release(THREAT, groot)


def test_member_without_the_role_does_not_count(groot: Path) -> None:
    r = approve(SARCASM, "g-lead-1", groot, at="2026-11-20T00:00:00Z")
    assert r["counts"] is False
    with pytest.raises(GovernanceError, match=r"a patch change to toxicity needs 1 more qa approval"):
        release(SARCASM, groot)


def test_release_allowed_with_the_approvals(groot: Path) -> None:
    r = approve(THREAT, "g-expert-1", groot, at="2026-11-20T10:00:00Z")
    assert r["counts"] is True and r["missing"] == {}
    v = release(THREAT, groot, who="g-lead-1", at="2026-11-21T00:00:00Z")
    assert (v.version, v.change_kind, v.previous) == ("2.1.0", "minor", "2.0.0")
    assert v.label_names == ("ok", "insult", "hate", "spam", "threat")
    assert v.label("ok").exclusive_with == ("insult", "hate", "spam", "threat")  # symmetric exclusivity
    assert v.meta["approved_by"] == ["g-lead-1", "g-expert-1"]
    head = dlog.head(groot)
    assert head["action"] == "release" and head["version"] == "2.1.0"
    assert v.meta["log_head"] == {"seq": head["seq"], "hash": head["hash"]}
    changelog = (groot / "toxicity" / "CHANGELOG.md").read_text(encoding="utf-8")
    assert changelog.index("## 2.1.0 (minor) - 2026-11-21") < changelog.index("## 2.0.0 (major)")
    assert "+ added label threat" in changelog
    assert dlog.verify(groot).anchors_checked[-1] == "toxicity 2.1.0"
    # released once only; the other open proposal is now based on an old version
    with pytest.raises(GovernanceError, match="already released as toxicity 2.1.0"):
        release(THREAT, groot)
    approve(SARCASM, "g-qa-1", groot)
    with pytest.raises(GovernanceError, match="it changes toxicity 2.0.0 but the latest version is 2.1.0"):
        release(SARCASM, groot)


def test_one_person_fills_one_slot_only(groot: Path) -> None:
    gov = Governance.load(groot)
    gov.members["g-both"] = ("lead", "domain_expert")
    q = gov.check("minor", ["g-both"], author="g-facil-1")
    assert not q.met and sum(q.missing.values()) == 1
    q = gov.check("minor", ["g-both", "g-expert-1"], author="g-facil-1")
    assert q.met and set(q.counted) == {"g-both", "g-expert-1"}
    q = gov.check("major", ["g-lead-1", "g-expert-1", "g-expert-2", "g-qa-1"], author="g-facil-1")
    assert q.met and q.not_counted == {"g-qa-1": "holds qa; major changes need domain_expert, lead"}


def test_reject_closes_and_needs_a_reason_and_a_role(groot: Path) -> None:
    with pytest.raises(GovernanceError, match="needs a reason"):
        reject(THREAT, "g-lead-1", " ", groot)
    with pytest.raises(GovernanceError, match="g-qa-1 holds qa; only domain_expert, lead may reject a minor change"):
        reject(THREAT, "g-qa-1", "no", groot)
    reject(THREAT, "g-lead-1", "Use the escalation flag instead.", groot, at="2026-11-20T00:00:00Z")
    assert status(THREAT, groot).state == "rejected"
    with pytest.raises(GovernanceError, match=r"was rejected by g-lead-1 \(Use the escalation flag instead.\)"):
        approve(THREAT, "g-expert-1", groot)


def test_unknown_member_and_double_approval(groot: Path) -> None:
    with pytest.raises(GovernanceError, match="'g-nobody' is not a member"):
        approve(THREAT, "g-nobody", groot)
    with pytest.raises(GovernanceError, match="g-lead-1 already approved"):
        approve(THREAT, "g-lead-1", groot)


def test_new_proposal_signature_used_by_calibration(groot: Path) -> None:
    p = new_proposal(task="toxicity", base_version="2.0.0", author="ann-07",
                     title="Clarify insult (calibration s1, item c-00019)", rationale="Split 4/5 on the item.",
                     changes=[{"op": "reword", "label": "insult",
                               "current": "The comment insults, mocks or demeans a specific person or group, including through sarcasm.",
                               "proposed": "The comment insults, mocks or demeans a specific person or group (sarcasm included)."}],
                     source={"kind": "calibration", "session": "s1", "item_id": "c-00019"}, root=groot,
                     created_at="2026-11-20T10:41:02Z", filed_by="g-facil-1")
    assert p.id == "toxicity-2026-11-20-clarify-insult-calibration-s1-item-c-00019"
    assert Path(p.path) == groot / "toxicity" / "proposals" / f"{p.id}.yaml"
    again = load_proposal(p.id, groot)
    assert again.changes[0]["op"] == "reword_definition" and again.source["item_id"] == "c-00019"
    assert dlog.head(groot)["action"] == "propose" and dlog.head(groot)["proposal"] == p.id
    assert status(p.id, groot).kind == "patch"


def test_new_proposal_refuses_stale_current_wording_and_unknown_labels(groot: Path) -> None:
    with pytest.raises(GuidelineError, match=r"changes\[0\] \(reword_definition\): 'current' wording of 'insult' is not the base version's"):
        new_proposal(task="toxicity", base_version="2.0.0", author="a", title="t", rationale="r", root=groot,
                     changes=[{"op": "reword_definition", "label": "insult", "current": "old words", "proposed": "new"}])
    with pytest.raises(GuidelineError, match=r"label 'offensive' is not in toxicity 2.0.0"):
        new_proposal(task="toxicity", base_version="2.0.0", author="a", title="t", rationale="r", root=groot,
                     changes=[{"op": "add_edge_case", "label": "offensive", "proposed": "x"}])
    with pytest.raises(GuidelineError, match="op 'delete_everything' is not one of"):
        new_proposal(task="toxicity", base_version="2.0.0", author="a", title="t", rationale="r", root=groot,
                     changes=[{"op": "delete_everything"}])


def test_apply_every_operation_and_the_migration_it_implies(groot: Path) -> None:
    g = Guidelines.load(groot)
    base = g.get("toxicity", "1.1.0")
    prop = load_proposal("toxicity-2026-10-02-split-hate", groot)
    v = apply_proposal(base, prop)
    assert v.version == "2.0.0" and v.change_kind == "major"
    assert v.migration == {"from": "1.1.0", "map": {"ok": "ok", "offensive": "offensive", "spam": "spam",
                                                     "self_promotion": "self_promotion"},
                           "split": {"hate": ["hate_origin", "hate_other"]}}
    assert v.label_names == ("ok", "offensive", "hate_origin", "hate_other", "spam", "self_promotion")
    # remove with and without a target, patch-level edits
    from labkit.guidelines.proposals import Proposal

    p2 = Proposal(id="x", task="toxicity", base_version="2.0.0", author="a", created_at="", title="t", rationale="r",
                  changes=({"op": "remove_label", "label": "hate", "relabel_to": "insult"},))
    v2 = apply_proposal(g.get("toxicity", "2.0.0"), p2)
    assert v2.migration["map"]["hate"] == "insult" and "relabel" not in v2.migration
    p3 = Proposal(id="y", task="toxicity", base_version="2.0.0", author="a", created_at="", title="t", rationale="r",
                  changes=({"op": "remove_edge_case", "label": "spam", "current": "A link that answers the question is not spam."},
                           {"op": "remove_example", "label": "ok", "polarity": "negative", "current": "You are an idiot."}))
    v3 = apply_proposal(g.get("toxicity", "2.0.0"), p3)
    assert (v3.version, v3.change_kind, v3.migration) == ("2.0.1", "patch", None)
    assert v3.label("spam").edge_cases == ("Answering a direct question with one's own tool, disclosed, is ok.",)


def test_propose_approve_release_through_the_cli(groot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    draft = tmp_path / "draft.yaml"
    draft.write_text(yaml.safe_dump({
        "task": "toxicity", "base_version": "2.0.0", "author": "g-facil-1", "title": "Hate examples",
        "rationale": "Annotators asked for a second example.",
        "changes": [{"op": "add_example", "label": "hate", "polarity": "positive",
                     "proposed": "Those people are all criminals."}]}), encoding="utf-8")
    g = ["--guidelines", str(groot)]
    assert main(["guidelines", "propose", str(draft), "--at", "2026-11-20T09:00:00Z", "--json", *g]) == 0
    filed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["filed"][0]
    assert (filed["id"], filed["kind"], filed["next_version"], filed["missing"]) == (
        "toxicity-2026-11-20-hate-examples", "patch", "2.0.1", {"qa": 1})
    assert main(["guidelines", "release", filed["id"], *g]) == 1
    assert main(["guidelines", "approve", filed["id"], "--as", "g-qa-2", "--at", "2026-11-21T00:00:00Z", *g]) == 0
    assert main(["guidelines", "release", filed["id"], "--at", "2026-11-22T00:00:00Z", "--json", *g]) == 1  # no --as
    assert "name the releasing member (--as MEMBER)" in capsys.readouterr().err
    # an annotator who is not a member, and a member without a role of the patch rules, may not release
    assert main(["guidelines", "release", filed["id"], "--as", "ann-7", *g]) == 1
    assert "'ann-7' is not a member" in capsys.readouterr().err
    assert main(["guidelines", "release", filed["id"], "--as", "g-facil-1", *g]) == 1
    assert capsys.readouterr().err.endswith("g-facil-1 holds facilitator; releasing a patch change needs one of qa\n")
    assert main(["guidelines", "release", filed["id"], "--as", "g-qa-1", "--at", "2026-11-22T00:00:00Z", "--json", *g]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (out["version"], out["kind"], out["approved_by"]) == ("2.0.1", "patch", ["g-qa-2"])
    assert main(["log", "verify", str(groot / "decisions.jsonl")]) == 0


def test_adjudication_and_gold_edit_follow_the_rules(groot: Path) -> None:
    with pytest.raises(GovernanceError, match="adjudication of c-9 refused: needs 1 more domain_expert approval"):
        record_decision("adjudication", "g-qa-1", groot, task="toxicity", item_id="c-9", label="ok", why="reviewed")
    e = record_decision("gold_edit", "g-expert-1", groot, task="toxicity", item_id="c-9", label="insult",
                        why="targets the poster", at="2026-11-20T00:00:00Z")
    assert (e["action"], e["item_id"], e["label"]) == ("gold_edit", "c-9", "insult")
    assert main(["guidelines", "adjudicate", "c-10", "--task", "toxicity", "--label", "spam", "--as", "g-expert-2",
                 "--why", "link drop", "--guidelines", str(groot)]) == 0
    assert dlog.head(groot)["action"] == "adjudicate" and dlog.verify(groot).ok


def test_propose_from_a_calibration_session(groot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import datetime as dt

    from test_calibration_helpers import T0, make_session

    s = make_session(tmp_path / "session")  # not filing proposals itself
    s.advance("f1", at=T0 + dt.timedelta(minutes=10))
    s.propose_clarification("a2", "g3", "offensive", "Sarcasm counts only when it targets a person.",
                            "sarcasm split us", at=T0 + dt.timedelta(minutes=12))
    args = ["guidelines", "propose", "--from-session", str(s.folder), "--guidelines", str(groot), "--as", "g-facil-1",
            "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(out["filed"]) == 1 and out["already_filed"] == []
    f = out["filed"][0]
    from labkit.privacy import load_key, pseudonym

    assert (f["author"], f["base_version"], f["kind"], f["source"]["session"], f["source"]["item_id"]) == (
        pseudonym("a2", load_key()), "1.1.0", "patch", "cal-test", "g3")
    # the raw participant id never enters the append-only log (nor the filed proposal)
    assert '"a2"' not in (groot / "decisions.jsonl").read_text(encoding="utf-8")
    assert "a2" not in (groot / "toxicity" / "proposals" / f"{f['id']}.yaml").read_text(encoding="utf-8").split("author:")[1].split("\n")[0]
    assert dlog.head(groot)["who"] == "g-facil-1" and dlog.head(groot)["author"] == f["author"]
    prop = load_proposal(f["id"], groot)
    assert prop.changes[0]["op"] == "reword_definition"
    assert prop.changes[0]["proposed"] == "Sarcasm counts only when it targets a person."
    assert main(args) == 0  # idempotent: the same clarification is not filed twice
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["filed"] == [] and out["already_filed"] == [f["id"]]
    assert main(["guidelines", "propose", "--from-session", str(tmp_path), "--guidelines", str(groot)]) == 2
    assert "not a calibration session folder (no session.yaml)" in capsys.readouterr().err


def test_propose_errors_name_the_draft_file(groot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from labkit.cli import main

    draft = tmp_path / "draft.yaml"
    draft.write_text("task: toxicity\nbase_version: 2.0.0\nauthor: g-qa-2\ntitle: Clarify spam\nrationale: Reviewers asked.\n"
                     "changes:\n  - {op: reword_definition, label: spamm, proposed: x}\n", encoding="utf-8")
    assert main(["guidelines", "propose", str(draft), "--guidelines", str(groot)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"labkit guidelines: error: {draft}: proposal Clarify spam: changes[0] (reword_definition): label 'spamm' "
        "is not in toxicity 2.0.0 as changed so far (labels: ok, insult, hate, spam)")
    assert not list((groot / "toxicity" / "proposals").glob("*clarify*"))  # nothing filed


def _release_worker(args: tuple[str, str]) -> str:
    root, pid = args
    try:
        return "released " + release(pid, root, who="g-qa-1", at="2026-11-21T00:00:00Z").version
    except GovernanceError as exc:
        return f"refused: {exc}"


def test_two_releases_at_once_cannot_both_become_the_next_version(groot: Path) -> None:
    import multiprocessing as mp

    ids = []
    for word in ("spam", "hate"):
        p = new_proposal(task="toxicity", base_version="2.0.0", author="g-qa-2", title=f"Edge case for {word}",
                         rationale="r", changes=[{"op": "add_edge_case", "label": word, "proposed": f"A new {word} case."}],
                         root=groot, created_at="2026-11-20T00:00:00Z")
        approve(p.id, "g-qa-1", groot, at="2026-11-20T12:00:00Z")
        ids.append(p.id)
    with mp.get_context("fork").Pool(2) as pool:
        out = sorted(pool.map(_release_worker, [(str(groot), pid) for pid in ids]))
    assert out[1] == "released 2.0.1"  # whichever got the lock first; the other saw 2.0.1 as the latest
    loser = next(pid for pid in ids if pid in out[0])
    assert out[0] == (f"refused: release of {loser} refused: it changes toxicity 2.0.0 but the latest version is "
                      "2.0.1; file it again against 2.0.1")
    releases = [e for e in dlog.read(groot) if e["action"] == "release" and e["version"] == "2.0.1"]
    assert len(releases) == 1 and dlog.verify(groot).ok


def test_an_edited_proposal_cannot_be_approved_or_released_and_verify_names_it(groot: Path) -> None:
    """Approvals bind to the text approved: THREAT is edited after g-lead-1 approved it."""
    f = groot / "toxicity" / "proposals" / f"{THREAT}.yaml"
    original = f.read_text(encoding="utf-8")
    f.write_text(original.replace("threatens violence or harm", "threatens harm"), encoding="utf-8")
    st = status(THREAT, groot)
    assert st.edited and st.to_dict()["edited_after_filing"] is True
    msg = (f"proposal {THREAT} was edited after it was filed: {f} no longer matches the proposal_sha256 of its "
           "propose entry in the decision log. A filed proposal is not changed; restore it, or file the new text "
           "as a new proposal")
    with pytest.raises(GovernanceError) as e:
        approve(THREAT, "g-expert-1", groot)
    assert str(e.value) == msg
    with pytest.raises(GovernanceError) as e:
        release(THREAT, groot)
    assert str(e.value) == msg
    v = dlog.verify(groot)
    seq = next(x["seq"] for x in dlog.read(groot) if x["action"] == "propose" and x["proposal"] == THREAT)
    assert not v.ok and v.bad_file == f"toxicity/proposals/{THREAT}.yaml" and v.first_bad == seq + 1
    assert v.problem.startswith(f"toxicity/proposals/{THREAT}.yaml was edited after it was filed")
    reject(THREAT, "g-lead-1", "edited; refile it", groot)  # closing it stays possible
    f.write_text(original, encoding="utf-8")
    assert dlog.verify(groot).ok


def test_an_approval_of_another_text_does_not_count(groot: Path) -> None:
    """A proposal filed without a propose entry (log=False) is edited after an approval: it no longer counts."""
    p = new_proposal(task="toxicity", base_version="2.0.0", author="g-qa-2", title="Edge case for spam",
                     rationale="r", changes=[{"op": "add_edge_case", "label": "spam", "proposed": "A case."}],
                     root=groot, created_at="2026-11-20T00:00:00Z", log=False)
    approve(p.id, "g-qa-1", groot)
    assert status(p.id, groot).quorum.met
    f = Path(p.path)
    f.write_text(f.read_text(encoding="utf-8").replace("A case.", "Another case."), encoding="utf-8")
    st = status(p.id, groot)
    assert not st.edited and not st.quorum.met
    assert st.quorum.not_counted == {"g-qa-1": "approved another text of the proposal"}
    with pytest.raises(GovernanceError, match=r"needs 1 more qa approval \(not counted: g-qa-1 approved another text"):
        release(p.id, groot)
    assert approve(p.id, "g-qa-1", groot)["counts"]  # approving the text as it now stands counts again
    st = status(p.id, groot)
    assert st.quorum.met and st.quorum.counted == ["g-qa-1"] and st.quorum.not_counted == {}


def test_a_proposal_against_an_older_version_is_reported_out_of_date(groot: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = new_proposal(task="toxicity", base_version="1.1.0", author="g-qa-2", title="Clarify offensive",
                     rationale="r", changes=[{"op": "add_edge_case", "label": "offensive", "proposed": "A case."}],
                     root=groot, created_at="2026-10-01T00:00:00Z")
    st = status(p.id, groot)
    assert (st.state, st.latest, st.next_version) == ("open", "2.0.0", "1.1.1")
    assert status(SARCASM, groot).latest is None
    assert main(["guidelines", "status", p.id, "--guidelines", str(groot)]) == 0
    assert capsys.readouterr().out.splitlines()[1].strip() == (
        "out of date: based on 1.1.0, the latest is 2.0.0 (file it again against 2.0.0)")


COSTS = [{"true_label": "hate", "read_as": "ok", "cost": 10}, {"true_label": "insult", "read_as": "ok", "cost": 3}]


def test_error_costs_are_governed_released_and_read_by_the_review_planner(groot: Path) -> None:
    """A cost matrix enters the guideline by a proposal, is released like any change and reaches the planner."""
    from labkit.guidelines.diff import diff_versions
    from labkit.review.planner import costs_from_guidelines

    p = new_proposal(task="toxicity", base_version="2.0.0", author="g-expert-1", title="Costs of missed hate",
                     rationale="A hate comment read as ok reaches users.",
                     changes=[{"op": "set_error_costs", "proposed": COSTS}], root=groot,
                     created_at="2026-11-20T10:00:00Z")
    assert p.changes[0]["current"] == []  # the base had none
    assert status(p.id, groot).kind == "patch"
    approve(p.id, "g-qa-1", groot, at="2026-11-20T11:00:00Z")
    v = release(p.id, groot, who="g-qa-1", at="2026-11-21T00:00:00Z")
    assert (v.version, v.change_kind) == ("2.0.1", "patch")
    assert v.meta["error_costs"] == COSTS
    on_disk = yaml.safe_load((groot / "toxicity" / "2.0.1.yaml").read_text(encoding="utf-8"))
    assert on_disk["error_costs"] == COSTS
    d = diff_versions(Guidelines.load(groot).get("toxicity", "2.0.0"), v)
    assert d.error_costs_changed and d.reasons == ["error costs changed"]
    assert "* error costs changed" in d.summary()
    assert dlog.verify(groot).anchors_checked[-1] == "toxicity 2.0.1"
    got = costs_from_guidelines(Guidelines.load(groot))["toxicity"].to_dict("records")
    assert got == [{"true_label": "hate", "read_as": "ok", "cost": 10.0}, {"true_label": "insult", "read_as": "ok", "cost": 3.0}]


def test_error_costs_carry_forward_through_renames_merges_and_removals(groot: Path) -> None:
    """The next release keeps the base's costs, following the labels the change renames, merges or removes."""
    from dataclasses import replace

    from labkit.guidelines.proposals import parse_proposal

    base = Guidelines.load(groot).get("toxicity", "2.0.0")
    base = replace(base, decision_tree=None,  # removals without a tree edit
                   meta={**base.meta, "error_costs": COSTS + [{"true_label": "spam", "read_as": "ok", "cost": 2}]})

    def applied(*changes: dict) -> list[dict]:
        prop = parse_proposal({"task": "toxicity", "base_version": "2.0.0", "author": "a", "title": "t",
                               "rationale": "r", "changes": list(changes)}, "<test>")
        return apply_proposal(base, prop).meta.get("error_costs", [])

    reword = {"op": "reword", "label": "spam", "proposed": "Unsolicited advertising or links."}
    assert applied(reword) == COSTS + [{"true_label": "spam", "read_as": "ok", "cost": 2}]
    assert applied({"op": "rename", "label": "hate", "new_name": "hateful"})[0] == \
        {"true_label": "hateful", "read_as": "ok", "cost": 10}
    # insult merged into hate: the two pairs become one and keep the larger cost
    assert applied({"op": "merge", "labels": ["hate", "insult"], "into": "hate"}) == \
        [{"true_label": "hate", "read_as": "ok", "cost": 10}, {"true_label": "spam", "read_as": "ok", "cost": 2}]
    assert applied({"op": "remove", "label": "spam", "relabel_to": "ok"}) == COSTS  # spam->ok is no error any more
    assert applied({"op": "remove", "label": "hate"}) == [COSTS[1], {"true_label": "spam", "read_as": "ok", "cost": 2}]


@pytest.mark.parametrize("entry, message", [
    ({"true_label": "hate", "read_as": "okay", "cost": 1}, "label 'okay' is not in toxicity 2.0.0"),
    ({"true_label": "hate", "read_as": "ok", "cost": -1}, "entry 1: cost -1 is not a finite number >= 0"),
    ({"true_label": "hate", "read_as": "ok", "cost": "high"}, "entry 1: cost 'high' is not a finite number >= 0"),
    ({"true_label": "hate", "read_as": "hate", "cost": 1}, "entry 1: reading 'hate' as itself is not an error"),
    ({"true_label": "hate", "cost": 1}, "entry 1 misses field 'read_as'"),
])
def test_set_error_costs_refuses_bad_entries(groot: Path, entry: dict, message: str) -> None:
    with pytest.raises(GuidelineError, match=message.replace("(", r"\(")):
        new_proposal(task="toxicity", base_version="2.0.0", author="g-expert-1", title="Costs", rationale="r",
                     changes=[{"op": "set_error_costs", "proposed": [entry]}], root=groot)
    with pytest.raises(GuidelineError, match="is given twice"):
        new_proposal(task="toxicity", base_version="2.0.0", author="g-expert-1", title="Costs", rationale="r",
                     changes=[{"op": "set_error_costs", "proposed": COSTS + COSTS[:1]}], root=groot)
