"""Guideline files are schema-checked with errors naming file, line and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from labkit.errors import GuidelineError
from labkit.guidelines.governance import Governance
from labkit.guidelines.model import Guidelines, load_version, yaml_lines

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def v110(tmp_path: Path) -> Path:
    d = tmp_path / "toxicity"
    d.mkdir()
    shutil.copy(REPO / "guidelines" / "toxicity" / "1.1.0.yaml", d / "1.1.0.yaml")
    return d / "1.1.0.yaml"


def edit(p: Path, old: str, new: str) -> int:
    text = p.read_text(encoding="utf-8")
    assert text.count(old) >= 1, old
    line = text[: text.index(old)].count("\n") + 1
    p.write_text(text.replace(old, new, 1), encoding="utf-8")
    return line


def test_committed_versions_load() -> None:
    g = Guidelines.load(REPO / "guidelines")
    assert [v.version for v in g.versions("toxicity")] == ["1.0.0", "1.1.0", "2.0.0"]
    assert g.get("toxicity", "2.0.0").label("hate").parent == "insult"


def test_empty_definition_names_file_line_and_field(v110: Path) -> None:
    line = edit(v110, "definition: The comment insults, mocks or demeans a person or group, including through sarcasm.",
                "definition: ''")
    with pytest.raises(GuidelineError) as e:
        load_version(v110)
    assert str(e.value) == f"{v110}:{line}: labels[1] (offensive): field 'definition' must be a non-empty string"


def test_unknown_label_field_is_reported_not_dropped(v110: Path) -> None:
    line = edit(v110, "  edge_cases:\n  - Profanity not aimed at anyone is ok.", "  edge_case:\n  - Profanity not aimed at anyone is ok.")
    with pytest.raises(GuidelineError) as e:
        load_version(v110)
    assert str(e.value).startswith(f"{v110}:{line}: labels[1] (offensive): unknown field 'edge_case'")


def test_decision_tree_leaf_must_be_a_label(v110: Path) -> None:
    edit(v110, "label: self_promotion", "label: self_promo")
    with pytest.raises(GuidelineError, match=r"decision_tree\.yes\.yes ends in label 'self_promo', which is not a label"):
        load_version(v110)


def test_exclusive_and_parent_must_name_labels(v110: Path) -> None:
    line = edit(v110, "  parent: spam", "  parent: advertising")
    with pytest.raises(GuidelineError) as e:
        load_version(v110)
    assert str(e.value) == f"{v110}:{line}: label 'self_promotion' has parent 'advertising', which is not a label"


def test_yaml_syntax_error_has_a_line(v110: Path) -> None:
    line = edit(v110, "task: toxicity", "task: [toxicity")
    with pytest.raises(GuidelineError, match=rf"{v110}:\d+: not valid YAML"):
        load_version(v110)
    assert line == 1


def test_migration_target_must_exist(tmp_path: Path) -> None:
    d = tmp_path / "toxicity"
    d.mkdir()
    p = d / "2.0.0.yaml"
    shutil.copy(REPO / "guidelines" / "toxicity" / "2.0.0.yaml", p)
    line = edit(p, "offensive: insult", "offensive: insulting")
    with pytest.raises(GuidelineError) as e:
        load_version(p)
    assert str(e.value) == (f"{p}:{line}: migration.map sends 'offensive' to 'insulting', which is not a label "
                            "of this version")


def test_yaml_lines_maps_paths_to_lines() -> None:
    text = 'a: 1\nlabels:\n  - name: x\n    definition: y\n"yes": {label: x}\n'
    lines = yaml_lines(text)
    assert lines[("labels", 0, "definition")] == 4 and lines[("yes",)] == 5 and lines[("a",)] == 1


def test_governance_file_errors_have_lines(tmp_path: Path) -> None:
    text = (REPO / "guidelines" / "governance.yaml").read_text(encoding="utf-8")
    bad = text.replace("- {role: qa, count: 1}", "- {role: qa, count: 0}")
    (tmp_path / "governance.yaml").write_text(bad, encoding="utf-8")
    line = bad[: bad.index("count: 0")].count("\n") + 1
    with pytest.raises(GuidelineError) as e:
        Governance.load(tmp_path)
    assert str(e.value) == f"{tmp_path / 'governance.yaml'}:{line}: rules.patch[0]: count must be a positive integer, got 0"
    bad = text.replace("- {role: qa, count: 1}", "- {role: auditor, count: 1}")
    (tmp_path / "governance.yaml").write_text(bad, encoding="utf-8")
    with pytest.raises(GuidelineError, match="no member holds role 'auditor'"):
        Governance.load(tmp_path)


def test_core_imports_no_jupyter_or_gx() -> None:
    import subprocess
    import sys

    code = ("import sys, labkit.guidelines, labkit.guidelines.cli, labkit.guidelines.report, labkit.guidelines.history, "
            "labkit.guidelines.migrate; bad=[m for m in sys.modules if m.split('.')[0] in ('IPython','ipywidgets',"
            "'papermill','great_expectations','matplotlib')]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_numeric_label_names_and_unquoted_yes_no_are_read_as_text(tmp_path: Path) -> None:
    """Hand-written files: `name: 2`, `map: {2: 3}`, `label: 1` and `yes:` are what their authors meant."""
    from labkit.guidelines.diff import diff_versions
    from labkit.guidelines.migrate import step_map

    d = tmp_path / "wsd"
    d.mkdir()
    (d / "1.0.0.yaml").write_text(
        "task: wsd\nversion: 1.0.0\nlabels:\n  - {name: 1, definition: a}\n  - {name: 2, definition: b}\n"
        "  - {name: 3, definition: c}\n", encoding="utf-8")
    (d / "2.0.0.yaml").write_text(
        "task: wsd\nversion: 2.0.0\nlabels:\n  - {name: 1, definition: a}\n  - {name: 3, definition: c}\n"
        "decision_tree: {question: First sense?, yes: {label: 1}, no: {label: 3}}\n"
        "migration: {from: 1.0.0, map: {1: 1, 2: 3, 3: 3}}\n", encoding="utf-8")
    v1, v2 = Guidelines.load(tmp_path).versions("wsd")
    assert v2.migration == {"from": "1.0.0", "map": {"1": "1", "2": "3", "3": "3"}}
    assert v2.decision_tree == {"question": "First sense?", "yes": {"label": "1"}, "no": {"label": "3"}}
    assert step_map(v1, v2) == ({"1": "1", "2": "3", "3": "3"}, {})
    assert diff_versions(v1, v2).merged == [{"from": ["2", "3"], "into": "3", "how": "declared"}]
    bad = (d / "2.0.0.yaml").read_text(encoding="utf-8").replace("no: {label: 3}", "no: {label: 4}")
    (d / "2.0.0.yaml").write_text(bad, encoding="utf-8")
    with pytest.raises(GuidelineError, match=r"2\.0\.0\.yaml:6: decision_tree\.no ends in label '4', which is not a label"):
        load_version(d / "2.0.0.yaml")
