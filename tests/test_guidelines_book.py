"""The guideline book: pages per version, flowchart, what changed, exemplars, exports and the tutorial quiz."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from labkit.cli import main
from labkit.errors import GuidelineError, ParameterError
from labkit.guidelines.book import anchor, changes_filename, flowchart_svg, render_version, tree_nodes, version_filename
from labkit.guidelines.export import label_studio_config, short_hint
from labkit.guidelines.model import Guidelines
from labkit.guidelines.tutorial import Quiz, load_results, questions

REPO = Path(__file__).resolve().parents[1]
SESSION = REPO / "sample" / "calibration" / "cal-2026-09-28"


@pytest.fixture()
def groot(tmp_path: Path) -> Path:
    dst = tmp_path / "guidelines"
    shutil.copytree(REPO / "guidelines", dst)
    return dst


class _Page(HTMLParser):
    """Collects ids, local links, external references and the flowchart's node groups of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.external: list[str] = []
        self.groups: list[str] = []
        self.leaf_links: list[str] = []
        self._in_svg_a: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(str(a["id"]))
        for key in ("href", "src", "xlink:href", "action"):
            v = a.get(key)
            if v and re.match(r"^(https?:)?//", v):
                self.external.append(v)
            if key == "href" and v:
                self.hrefs.append(v)
        if tag == "a" and a.get("href", "").startswith("#"):
            self._in_svg_a = a["href"]
        if tag == "g" and a.get("class") in ("q", "leaf"):
            self.groups.append(str(a["class"]))
            if a["class"] == "leaf" and self._in_svg_a:
                self.leaf_links.append(self._in_svg_a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._in_svg_a = None


def _parse(text: str) -> _Page:
    p = _Page()
    p.feed(text)
    return p


def _count_yaml_tree(tree: object) -> tuple[int, int]:
    """(questions, leaves) counted straight from the YAML mapping, independently of labkit's walker."""
    if isinstance(tree, dict) and "question" in tree:
        q, leaves = 1, 0
        for k, v in tree.items():
            if k in ("question", "label"):
                continue
            a, b = _count_yaml_tree(v)
            q, leaves = q + a, leaves + b
        return q, leaves
    return 0, 1


@pytest.mark.parametrize("version", ["1.0.0", "1.1.0", "2.0.0"])
def test_every_sample_version_renders_with_one_flowchart_node_per_tree_node(version: str, tmp_path: Path) -> None:
    assert main(["guidelines", "render", "toxicity", "--out", str(tmp_path), "--guidelines", str(REPO / "guidelines")]) == 0
    page = (tmp_path / version_filename("toxicity", version)).read_text(encoding="utf-8")
    raw = yaml.safe_load((REPO / "guidelines" / "toxicity" / f"{version}.yaml").read_text(encoding="utf-8"))
    nq, nl = _count_yaml_tree({(("yes" if k is True else "no") if isinstance(k, bool) else k): v
                               for k, v in raw["decision_tree"].items()})
    p = _parse(page)
    assert p.groups.count("q") == nq and p.groups.count("leaf") == nl
    assert nq + nl == len(tree_nodes(Guidelines.load(REPO / "guidelines").get("toxicity", version).decision_tree))
    assert p.external == []  # nothing fetched from anywhere: offline and printable
    assert "@media print" in page
    labels = [lab["name"] for lab in raw["labels"]]
    for name in labels:  # a section and a contents entry per label
        assert anchor(name) in p.ids
        assert f"#{anchor(name)}" in p.hrefs
    assert set(p.leaf_links) <= {f"#{anchor(n)}" for n in labels}  # every leaf links to a definition on the page
    for lab in raw["labels"]:  # every definition and example is on the page, escaped
        assert lab["definition"].replace("'", "&#x27;").replace("<", "&lt;").replace(">", "&gt;") in page
        for ex in lab.get("examples", {}).get("positive", []):
            assert ex.replace("'", "&#x27;").replace("<", "&lt;").replace(">", "&gt;") in page


def test_flowchart_counts_a_wider_tree_and_escapes_text() -> None:
    tree = {"question": "<b>Is it</b> about a person?", "yes": {"question": "Protected?", "yes": {"label": "hate"},
            "no": {"label": "insult"}}, "no": {"question": "Advert?", "yes": {"label": "spam"}, "no": {"label": "ok"},
                                               "unsure": {"label": "ok"}}}
    svg = flowchart_svg(tree)
    p = _parse(svg)
    assert p.groups.count("q") == 3 and p.groups.count("leaf") == 5
    assert "&lt;b&gt;Is it&lt;/b&gt;" in svg and "<b>" not in svg
    assert ">unsure</text>" in svg
    assert flowchart_svg(None) == ""


def test_what_changed_pages_say_the_rename_and_the_examples(tmp_path: Path) -> None:
    assert main(["guidelines", "render", "toxicity", "--out", str(tmp_path), "--guidelines", str(REPO / "guidelines")]) == 0
    page = (tmp_path / changes_filename("toxicity", "1.1.0", "2.0.0")).read_text(encoding="utf-8")
    assert "Label <strong>offensive</strong> is now called <strong>insult</strong>" in page
    assert "added: This is a terrible idea." in page
    assert "Labels spam, self_promotion were merged into <strong>spam</strong>" in page
    # an annotator who last worked under 1.0.0 gets one page to the latest
    assert (tmp_path / changes_filename("toxicity", "1.0.0", "2.0.0")).exists()
    idx = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert all(version_filename("toxicity", v) in idx for v in ("1.0.0", "1.1.0", "2.0.0"))


def test_render_refuses_unknown_task_and_version_and_a_file_as_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    g = str(REPO / "guidelines")
    assert main(["guidelines", "render", "nope", "--out", str(tmp_path / "o"), "--guidelines", g]) != 0
    assert "no guideline task 'nope' (tasks: toxicity)" in capsys.readouterr().err
    assert main(["guidelines", "render", "toxicity", "--version", "9.9.9", "--out", str(tmp_path / "o"), "--guidelines", g]) != 0
    assert "toxicity has no version '9.9.9' (versions: 1.0.0, 1.1.0, 2.0.0)" in capsys.readouterr().err
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["guidelines", "render", "toxicity", "--out", str(f), "--guidelines", g]) != 0
    assert f"--out {f} is a file, not a folder" in capsys.readouterr().err


def test_exemplar_from_the_calibration_session_reaches_the_next_release_book(groot: Path, tmp_path: Path,
                                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["guidelines", "promote", "--session", str(SESSION), "--item", "c-00019", "--as", "g-qa-1",
                 "--guidelines", str(groot), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    (change,) = out["changes"]
    # decided as "offensive" under 1.1.0 in the session; carried to 2.0.0's "insult" by the release's migration map
    assert change["label"] == "insult" and change["op"] == "add_exemplar"
    assert change["source"] == "calibration session cal-2026-09-28, item c-00019"
    assert main(["guidelines", "approve", out["proposal"], "--as", "g-qa-2", "--guidelines", str(groot)]) == 0
    assert main(["guidelines", "release", out["proposal"], "--as", "g-qa-2", "--guidelines", str(groot)]) == 0
    assert main(["log", "verify", str(groot / "decisions.jsonl")]) == 0  # the promotion went through governance
    gl = Guidelines.load(groot)
    new = gl.latest("toxicity")
    assert new.version == "2.0.1"
    (ex,) = new.label("insult").exemplars
    assert ex.text == "Typical moron take. [#58]" and ex.decided_by == "g-qa-1"
    book = tmp_path / "book"
    assert main(["guidelines", "render", "toxicity", "--out", str(book), "--guidelines", str(groot)]) == 0
    page = (book / version_filename("toxicity", "2.0.1")).read_text(encoding="utf-8")
    assert "Typical moron take. [#58]" in page and "Demeans the person addressed" in page
    assert "decided by g-qa-1" in page
    for annotator in ("103", "104", "106"):  # session participants never reach the guideline
        assert f"decided by {annotator}" not in page
    assert "Typical moron take" not in (book / version_filename("toxicity", "2.0.0")).read_text(encoding="utf-8")
    chg = (book / changes_filename("toxicity", "2.0.0", "2.0.1")).read_text(encoding="utf-8")
    assert "exemplars changed" in chg and "added: Typical moron take. [#58]" in chg


def test_exemplar_from_an_adjudication_and_refusals(groot: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = str(REPO / "sample" / "items.csv")
    assert main(["guidelines", "promote", "--adjudication", "c-00019", "--task", "toxicity", "--items", items,
                 "--as", "g-expert-2", "--guidelines", str(groot), "--json"]) == 0
    (change,) = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["changes"]
    assert change["decided_by"] == "g-expert-2" and change["label"] == "insult"
    assert change["rationale"] == "Demeans the person addressed (insult definition, 2.0.0)."
    assert main(["guidelines", "promote", "--adjudication", "c-99999", "--task", "toxicity", "--items", items,
                 "--as", "g-expert-2", "--guidelines", str(groot)]) != 0
    assert "no adjudication of item 'c-99999' for task 'toxicity' in the decision log" in capsys.readouterr().err
    assert main(["guidelines", "promote", "--session", str(SESSION), "--item", "c-00019", "--label", "nope",
                 "--as", "g-qa-1", "--guidelines", str(groot)]) != 0
    assert "label 'nope' is not in toxicity 2.0.0 (labels: ok, insult, hate, spam)" in capsys.readouterr().err


def test_exemplar_field_is_schema_checked(tmp_path: Path) -> None:
    src = (REPO / "guidelines" / "toxicity" / "2.0.0.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(src)
    data["labels"][1]["exemplars"] = [{"text": "x", "polarity": "maybe", "rationale": "r"}]
    (tmp_path / "toxicity").mkdir()
    (tmp_path / "toxicity" / "2.0.0.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(GuidelineError, match=r"labels\[1\] \(insult\)\.exemplars\[0\]: field 'polarity' must be positive "
                                             r"or negative, got 'maybe'"):
        Guidelines.load(tmp_path)


def test_label_studio_config_parses_with_label_studio_tools_and_carries_hints(tmp_path: Path) -> None:
    parse_config = pytest.importorskip("label_studio_tools.core.label_config").parse_config
    assert main(["guidelines", "export", "toxicity", "--out", str(tmp_path), "--guidelines", str(REPO / "guidelines")]) == 0
    v = Guidelines.load(REPO / "guidelines").latest("toxicity")
    cfg = parse_config((tmp_path / "label_studio_config.xml").read_text(encoding="utf-8"))
    ctl = cfg["label"]
    assert ctl["type"] == "Choices" and ctl["to_name"] == ["text"] and ctl["inputs"] == [{"type": "Text", "value": "text"}]
    assert ctl["labels"] == list(v.label_names)
    # Choice's documented attributes (labelstud.io/tags/choice): value, selected, alias, style, hotkey, html, hint, color
    for name, attrs in ctl["labels_attrs"].items():
        assert set(attrs) <= {"value", "selected", "alias", "style", "hotkey", "html", "hint", "color"}
        assert attrs["hint"] == short_hint(v.label(name).definition)
    hints = json.loads((tmp_path / "hints.json").read_text(encoding="utf-8"))
    assert hints["guideline_version"] == "2.0.0" and [h["name"] for h in hints["labels"]] == list(v.label_names)


def test_label_studio_config_escapes_labels_and_short_hints() -> None:
    parse_config = pytest.importorskip("label_studio_tools.core.label_config").parse_config
    from labkit.guidelines.model import parse_version

    v = parse_version({"task": "t", "version": "1.0.0", "labels": [
        {"name": 'a "quoted" <label> & more', "definition": "word " * 60},
        {"name": "b", "definition": "short", "exclusive_with": ['a "quoted" <label> & more']}]})
    cfg = parse_config(label_studio_config(v))
    assert cfg["label"]["labels"] == ['a "quoted" <label> & more', "b"]
    h = cfg["label"]["labels_attrs"]['a "quoted" <label> & more']["hint"]
    assert len(h) <= 120 and h.endswith("…") and not h.endswith(" …")
    assert short_hint("exactly  one\nline") == "exactly one line"


def test_quiz_questions_answers_and_scoring(tmp_path: Path) -> None:
    v = Guidelines.load(REPO / "guidelines").get("toxicity", "2.0.0")
    qs = {q.text: q.answers for q in questions(v)}
    # "You are an idiot." is a positive example of insult and a negative one of ok and hate
    assert qs["You are an idiot."] == ("insult",)
    assert qs["Buy cheap followers here!"] == ("spam",)
    assert len(qs) == sum(len(lab.positive_examples) for lab in v.labels) - 0  # every positive text once
    a = Quiz(v, "ann-1", tmp_path)
    b = Quiz(v, "ann-2", tmp_path)
    assert [q.text for q in a.questions] == [q.text for q in Quiz(v, "ann-1", tmp_path / "x").questions]  # stable
    assert [q.text for q in a.questions] != [q.text for q in b.questions]                           # per person
    with pytest.raises(ParameterError, match=r"label 'nope' is not in toxicity 2.0.0 \(labels: ok, insult, hate, spam\)"):
        a.answer("nope")
    n = len(a.questions)
    for i in range(n):
        q = a.current()
        assert q is not None
        r = a.answer(q.answers[0] if i < n - 2 else next(x for x in v.label_names if x not in q.answers))
        assert r["correct"] == (i < n - 2)
    assert a.done and a.score == (n - 2) / n and a.passed == ((n - 2) / n >= 0.8)
    saved = json.loads((tmp_path / "ann-1.json").read_text(encoding="utf-8"))
    assert saved["n_correct"] == n - 2 and saved["passed"] is a.passed and saved["guideline_version"] == "2.0.0"
    assert [r["participant"] for r in load_results(tmp_path)] == ["ann-1"]
    with pytest.raises(ParameterError, match="the quiz is finished"):
        a.answer("ok")
    with pytest.raises(ParameterError, match=r"participant must be a plain id"):
        Quiz(v, "../evil", tmp_path)


def test_tutorial_widgets_give_feedback_and_save(tmp_path: Path) -> None:
    import ipywidgets as W

    from labkit.calibration.tutorial_widgets import tutorial_view

    t = tutorial_view(REPO / "guidelines", "toxicity", "ann-9", tmp_path, n_questions=3, pass_mark=0.6)
    try:
        assert t.choice.value is None and t.check.disabled  # nothing preselected
        q = t.quiz.current()
        assert q is not None
        t.choice.value = q.answers[0]
        t.check.click()
        assert "Right." in t.feedback.value and "Why:" in t.feedback.value
        t.next.click()
        q = t.quiz.current()
        assert q is not None
        t.choice.value = next(x for x in t.quiz.labels if x not in q.answers)
        t.check.click()
        assert "lkc-msg-err" in t.feedback.value and "Not quite: the guideline says" in t.feedback.value
        t.next.click()
        q = t.quiz.current()
        assert q is not None
        t.choice.value = q.answers[0]
        t.check.click()
        t.next.click()
        assert "Passed: 2 of 3 right (67%; pass mark 60%)" in t.card.value
        assert json.loads((tmp_path / "ann-9.json").read_text(encoding="utf-8"))["passed"] is True
    finally:
        W.Widget.close_all()


def test_version_page_for_a_version_without_tree() -> None:
    from labkit.guidelines.model import parse_version

    v = parse_version({"task": "t", "version": "1.0.0", "labels": [{"name": "a", "definition": "A."}]})
    page = render_version(v)
    assert "This version has no decision tree." in page and 'id="label-a"' in page


def test_calibration_reveal_shows_the_labels_exemplars(groot: Path, tmp_path: Path) -> None:
    import ipywidgets as W

    from labkit.calibration.model import CalibrationSession, Participant, SessionItem, SessionSpec
    from labkit.calibration.widgets import RevealPanel

    assert main(["guidelines", "promote", "--session", str(SESSION), "--item", "c-00019", "--as", "g-qa-1",
                 "--rationale", "Calls the author a <moron>: a personal attack.", "--guidelines", str(groot)]) == 0
    pid = sorted((groot / "toxicity" / "proposals").glob("*exemplars*"))[0].stem
    assert main(["guidelines", "approve", pid, "--as", "g-qa-2", "--guidelines", str(groot)]) == 0
    assert main(["guidelines", "release", pid, "--as", "g-qa-2", "--guidelines", str(groot)]) == 0
    v = Guidelines.load(groot).get("toxicity", "2.0.1")
    spec = SessionSpec(id="cal-ex", task="toxicity", guideline=v,
                       items=[SessionItem("i1", "What a moron.", gold="insult", gold_rationale="Attack.")],
                       participants=[Participant("f1", "facilitator"), Participant("a1")])
    s = CalibrationSession.create(tmp_path / "cal-ex", spec)
    s.submit_answer("a1", "i1", "insult")
    s.advance("f1")  # reveal
    try:
        panel = RevealPanel(s, "a1")
        panel.render()
        assert "Exemplars:" in panel.gold.value
        assert "Typical moron take. [#58] — <b>is insult</b>: Calls the author a &lt;moron&gt;: a personal attack." \
            in panel.gold.value
    finally:
        W.Widget.close_all()


def test_feedback_page_says_what_changed_since_the_annotators_last_version() -> None:
    from labkit.reports.feedback import build

    labels = f"{REPO / 'sample' / 'label_studio_export.json'}:{REPO / 'sample' / 'labels.csv'}"
    args = (str(REPO / "sample" / "gold.csv"), str(REPO / "sample" / "items.csv"), str(REPO / "guidelines"))
    # annotator 123 last labeled under 1.1.0 (the sample's history): the page says what 2.0.0 changed
    rep = build(labels, "123", *args)
    (sec,) = [s for s in rep.sections if s.title == "What changed since version 1.1.0"]
    rows = sec.blocks[1].frame
    assert {"change": "label renamed", "was": "offensive", "now": "insult"} in rows.to_dict("records")
    assert "toxicity-changes-1.1.0-to-2.0.0.html" in sec.blocks[2].text
    # annotator 103 already works under 2.0.0: nothing to say
    assert not [s for s in build(labels, "103", *args).sections if s.title.startswith("What changed")]


def test_book_renders_for_a_guideline_made_by_init_from_a_public_dataset(tmp_path: Path) -> None:
    """labkit init on a public dataset (RTE, labels 0/1 with no task), then the book: one page, every label
    with its anchor and placeholder definition, no decision tree yet, nothing external."""
    src = REPO / "tests" / "data" / "public" / "snow2008_rte" / "long.csv"
    g = tmp_path / "guidelines"
    assert main(["init", str(src), "--guidelines", str(g), "--lead", "lead-1", "--at", "2026-11-01T00:00:00Z"]) == 0
    task = Guidelines.load(g).tasks[0]
    out = tmp_path / "book"
    assert main(["guidelines", "render", task, "--out", str(out), "--guidelines", str(g)]) == 0
    page = (out / version_filename(task, "1.0.0")).read_text(encoding="utf-8")
    p = _parse(page)
    for label in ("0", "1"):
        assert anchor(label) in p.ids and "TODO: define " + label in page
    assert "This version has no decision tree." in page and p.external == []
