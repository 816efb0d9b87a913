"""Every kind of diff and the semantic-version rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from labkit.cli import main
from labkit.guidelines.diff import check_semver, diff_versions, required_kind, similarity
from labkit.guidelines.model import GuidelineVersion, Guidelines, parse_version

REPO = Path(__file__).resolve().parents[1]


def V(version: str, labels: list[dict[str, Any]], **kw: Any) -> GuidelineVersion:
    return parse_version({"task": "t", "version": version, "labels": labels, **kw})


OK = {"name": "ok", "definition": "Civil or neutral.", "examples": {"positive": ["Thanks!"]}}
RUDE = {"name": "rude", "definition": "Insults or mocks a person.", "examples": {"positive": ["You idiot."]}}
ADS = {"name": "ads", "definition": "Unsolicited advertising or link drops.", "examples": {"positive": ["Buy now!"]}}
PROMO = {"name": "promo", "definition": "The poster promotes their own work unasked.",
         "examples": {"positive": ["Subscribe to my channel."]}}


def test_identical_is_none() -> None:
    d = diff_versions(V("1.0.0", [OK, RUDE]), V("1.0.1", [OK, RUDE]))
    assert (d.kind, d.changed, d.added, d.removed) == ("none", [], [], [])


def test_added_label_is_minor() -> None:
    d = diff_versions(V("1.0.0", [OK]), V("1.1.0", [OK, RUDE]))
    assert (d.kind, d.added, d.reasons) == ("minor", ["rude"], ["label rude added"])


def test_removed_label_is_major() -> None:
    d = diff_versions(V("1.0.0", [OK, RUDE]), V("2.0.0", [OK]))
    assert (d.kind, d.removed, d.renamed) == ("major", ["rude"], [])


def test_rename_declared_by_migration_map() -> None:
    new = dict(RUDE, name="insult", definition="Something entirely different.")
    d = diff_versions(V("1.0.0", [OK, RUDE]), V("2.0.0", [OK, new], migration={"from": "1.0.0", "map": {"rude": "insult"}}))
    assert d.renamed == [{"from": "rude", "to": "insult", "how": "declared"}]
    assert d.kind == "major" and d.added == [] and d.removed == []
    assert [c["field"] for c in d.changed] == ["definition"]


def test_rename_detected_by_definition_similarity() -> None:
    new = {"name": "insult", "definition": "Insults or mocks a specific person."}
    d = diff_versions(V("1.0.0", [OK, RUDE]), V("2.0.0", [OK, new]))
    expected = similarity(RUDE["definition"], new["definition"])
    assert expected == pytest.approx(2 * 5 / 11)  # difflib ratio 2M/T: 5 matching words of 5 + 6
    assert d.renamed == [{"from": "rude", "to": "insult", "how": "detected", "similarity": round(expected, 3)}]


def test_unrelated_remove_plus_add_is_not_a_rename() -> None:
    d = diff_versions(V("1.0.0", [OK, RUDE]), V("2.0.0", [OK, ADS]))
    assert (d.removed, d.added, d.renamed) == (["rude"], ["ads"], [])
    assert d.reasons == ["label rude removed"]


def test_merge_declared() -> None:
    ads2 = dict(ADS, definition="Unsolicited advertising, link drops or unasked self-promotion.")
    d = diff_versions(V("1.0.0", [OK, ADS, PROMO]),
                      V("2.0.0", [OK, ads2], migration={"from": "1.0.0", "map": {"ads": "ads", "promo": "ads"}}))
    assert d.merged == [{"from": ["ads", "promo"], "into": "ads", "how": "declared"}]
    assert d.kind == "major" and d.removed == [] and d.reasons == ["promo merged into ads"]
    assert [(c["label"], c["field"]) for c in d.changed] == [("ads", "definition")]


def test_merge_detected_from_moved_examples() -> None:
    ads2 = dict(ADS, examples={"positive": ["Buy now!", "Subscribe to my channel."]})
    d = diff_versions(V("1.0.0", [OK, ADS, PROMO]), V("2.0.0", [OK, ads2]))
    assert d.merged == [{"from": ["ads", "promo"], "into": "ads", "how": "detected",
                         "examples_moved": ["Subscribe to my channel."]}]
    assert d.removed == [] and d.kind == "major"


def test_split_declared_and_detected() -> None:
    a = {"name": "rude_person", "definition": "Insults or mocks a person by name.", "examples": {"positive": ["You idiot."]}}
    b = {"name": "rude_group", "definition": "Insults or mocks a group of people.", "examples": {"positive": ["All of you are idiots."]}}
    old = V("1.0.0", [OK, RUDE])
    d = diff_versions(old, V("2.0.0", [OK, a, b], migration={"from": "1.0.0", "map": {"ok": "ok"},
                                                             "split": {"rude": ["rude_person", "rude_group"]}}))
    assert d.split == [{"from": "rude", "into": ["rude_person", "rude_group"], "how": "declared"}]
    d = diff_versions(old, V("2.0.0", [OK, a, b]))
    assert d.split == [{"from": "rude", "into": ["rude_person", "rude_group"], "how": "detected"}]
    assert d.kind == "major" and d.added == [] and d.removed == []


def test_definition_example_and_edge_case_changes_are_patch() -> None:
    rude2 = dict(RUDE, definition="Insults or mocks a person, sarcasm included.",
                 examples={"positive": ["You idiot."], "negative": ["Bad code."]}, edge_cases=["Profanity alone is ok."])
    d = diff_versions(V("1.0.0", [OK, RUDE]), V("1.0.1", [OK, rude2]))
    assert d.kind == "patch"
    assert [(c["label"], c["field"]) for c in d.changed] == [
        ("rude", "definition"), ("rude", "examples.negative"), ("rude", "edge_cases")]
    assert d.changed[1]["added"] == ["Bad code."] and d.changed[2]["added"] == ["Profanity alone is ok."]


def test_decision_tree_change_is_patch_and_follows_renames() -> None:
    t1 = {"question": "Attack?", "yes": {"label": "rude"}, "no": {"label": "ok"}}
    t2 = {"question": "Attack?", "yes": {"label": "insult"}, "no": {"label": "ok"}}
    old = V("1.0.0", [OK, RUDE], decision_tree=t1)
    renamed = V("2.0.0", [OK, dict(RUDE, name="insult")], decision_tree=t2,
                migration={"from": "1.0.0", "map": {"rude": "insult"}})
    assert diff_versions(old, renamed).decision_tree_changed is False  # only the leaf's name followed the rename
    d = diff_versions(old, V("1.0.1", [OK, RUDE], decision_tree={"question": "Is it an attack?", **{k: t1[k] for k in ("yes", "no")}}))
    assert (d.kind, d.decision_tree_changed) == ("patch", True)


def test_hierarchy_and_exclusivity_changes_are_minor() -> None:
    old = V("1.0.0", [OK, RUDE, dict(ADS)])
    d = diff_versions(old, V("1.1.0", [dict(OK, exclusive_with=["rude"]), dict(RUDE, exclusive_with=["ok"]), ADS]))
    assert d.kind == "minor" and d.reasons == ["ok.exclusive_with changed", "rude.exclusive_with changed"]
    d = diff_versions(old, V("1.1.0", [OK, RUDE, dict(ADS, parent="rude")]))
    assert d.kind == "minor" and d.changed[0] == {"label": "ads", "field": "parent", "old": None, "new": "rude"}


def test_sample_history_kinds_and_semver() -> None:
    g = Guidelines.load(REPO / "guidelines")
    v100, v110, v200 = g.versions("toxicity")
    d = diff_versions(v100, v110)
    assert (d.kind, d.added) == ("minor", ["self_promotion"])
    d = diff_versions(v110, v200)
    assert d.kind == "major"
    assert d.renamed == [{"from": "offensive", "to": "insult", "how": "declared"}]
    assert d.merged == [{"from": ["spam", "self_promotion"], "into": "spam", "how": "declared"}]
    assert check_semver(v100, v110) is None and check_semver(v110, v200) is None
    wrong = GuidelineVersion(**{**v110.__dict__, "version": "1.0.1"})
    assert check_semver(v100, wrong) == (
        "toxicity 1.0.0 -> 1.0.1 is a minor change (label self_promotion added; "
        "ok.exclusive_with changed): the version must be 1.1.0")
    assert required_kind(v100, v200) == "major"


def test_diff_cli_json_and_text(capsys: pytest.CaptureFixture[str]) -> None:
    g = str(REPO / "guidelines")
    assert main(["guidelines", "diff", "toxicity", "1.1.0", "2.0.0", "--guidelines", g, "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["kind"] == "major" and out["renamed"][0]["to"] == "insult"
    assert main(["guidelines", "diff", "toxicity", "1.0.0", "1.1.0", "--guidelines", g]) == 0
    text = capsys.readouterr().out
    assert text.startswith("toxicity 1.0.0 -> 1.1.0: minor change\n  + added label self_promotion\n")
    assert main(["guidelines", "diff", "toxicity", "1.0.0", "9.9.9", "--guidelines", g]) == 2
    assert "task 'toxicity' has no guideline version '9.9.9' (versions: 1.0.0, 1.1.0, 2.0.0)" in capsys.readouterr().err


def test_decision_tree_changes_say_where_and_what() -> None:
    """The sample's 1.1.0 -> 2.0.0 tree, checked by hand against the two files."""
    g = Guidelines.load(REPO / "guidelines")
    _, v110, v200 = g.versions("toxicity")
    d = diff_versions(v110, v200)
    assert d.tree_changes == [
        {"at": "top", "old": "Does the comment advertise a product, service or link?",
         "new": "Does the comment advertise a product, service, channel or link?"},
        # the self_promotion/spam question collapsed into the spam leaf; old names kept on the old side
        {"at": "yes", "old": "Is it the poster's own work and on topic? yes: self_promotion; no: spam", "new": "spam"},
        {"at": "no", "old": "Does it attack a person or group?", "new": "Does it attack a specific person or group?"},
    ]  # no entry at "no > yes > no": offensive -> insult only follows the declared rename
    assert "      at yes\n        was: Is it the poster's own work" in d.summary()
    # a branch added where there was none, and a leaf changed to another label
    t1 = {"question": "Attack?", "yes": {"label": "rude"}, "no": {"label": "ok"}}
    t2 = {"question": "Attack?", "yes": {"label": "ok"}, "no": {"label": "ok"}, "unsure": {"label": "rude"}}
    d = diff_versions(V("1.0.0", [OK, RUDE], decision_tree=t1), V("1.0.1", [OK, RUDE], decision_tree=t2))
    assert d.kind == "patch" and d.tree_changes == [{"at": "yes", "old": "rude", "new": "ok"},
                                                    {"at": "unsure", "old": "", "new": "rude"}]
