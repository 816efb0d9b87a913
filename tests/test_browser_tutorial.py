"""The guideline tutorial in a real browser: JupyterLab 4 + Debian's chromium driven by Playwright.

A new annotator opens ``notebooks/guideline_tutorial.ipynb`` (parameterized for them), runs it, answers
three questions (two right, one wrong), sees the feedback with the rationale after each, and finishes;
then the saved result is checked. Same server set-up as the calibration browser test (its ``lab``
fixture); with ``CI`` set a missing chromium is a failure, never a skip.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from test_browser_calibration import CHROMIUM, KERNEL_READY, lab  # noqa: F401  (lab is a fixture)

from labkit.guidelines.model import Guidelines
from labkit.guidelines.tutorial import Quiz

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[1]


def _parameterize(dst: Path, params: dict) -> None:
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = load_notebook_node(str(ROOT / "notebooks" / "guideline_tutorial.ipynb"))
    nb = parameterize_notebook(nb, params)
    nb.metadata.pop("papermill", None)
    nbformat.write(nb, dst)


def test_guideline_tutorial_in_chromium(lab, tmp_path):  # noqa: F811
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("LABKIT_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    results = lab["root"] / "results"
    params = {"guidelines": str(ROOT / "guidelines"), "task": "toxicity", "participant": "newbie",
              "results": str(results), "pass_mark": 0.6, "n_questions": 3}
    _parameterize(lab["root"] / "tutorial.ipynb", params)
    # the questions newbie will see, in order (the same deterministic shuffle the notebook uses)
    v = Guidelines.load(ROOT / "guidelines").latest("toxicity")
    expected = Quiz(v, "newbie", tmp_path / "unused", n_questions=3).questions
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1200})
            page.set_default_timeout(30000)
            page.goto(f"{lab['base']}/lab/workspaces/tut/tree/tutorial.ipynb?reset&token={lab['token']}")
            page.wait_for_selector(".jp-NotebookPanel", timeout=60000)
            page.wait_for_function(KERNEL_READY, timeout=90000)
            page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
            out = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output")

            def see(text: str) -> None:
                out.get_by_text(text, exact=False).first.wait_for(timeout=60000)

            for k, q in enumerate(expected):
                see(f"Question {k + 1} of 3")
                see(q.text)
                wrong = next(x for x in v.label_names if x not in q.answers)
                pick = wrong if k == 1 else q.answers[0]
                out.locator(f".widget-toggle-buttons button:text-is('{pick}')").first.click()
                out.locator("button.widget-button:has-text('Check answer')").first.click()
                see("Right." if k != 1 else "Not quite: the guideline says")
                see("Why:")
                out.last.screenshot(path=str(shots / f"tutorial-{k + 1}.png"))
                nxt = "See my result" if k == 2 else "Next question"
                out.locator(f"button.widget-button:has-text('{nxt}')").first.click()
            see("Passed: 2 of 3 right (67%; pass mark 60%)")
            out.last.screenshot(path=str(shots / "tutorial-result.png"))
        finally:
            browser.close()
    saved = json.loads((results / "newbie.json").read_text(encoding="utf-8"))
    assert (saved["n_correct"], saved["n_questions"], saved["passed"]) == (2, 3, True)
    assert [a["question"] for a in saved["answers"]] == [q.text for q in expected]
    assert [a["correct"] for a in saved["answers"]] == [True, False, True]
