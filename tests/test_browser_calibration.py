"""A calibration session in a real browser: JupyterLab 4 + Debian's chromium driven by Playwright.

Two annotators and a facilitator each open the notebook ``labkit calibration open SESSION --as ID``
wrote for them (nothing edited) in their own JupyterLab tab, run it, answer, reveal, propose a
clarification and record it; nobody presses Refresh: each page follows the phase changes and answers
by itself. Then the session folder is checked. Screenshots of each phase go to ``$LABKIT_SCREENSHOTS`` (default: the
test's temporary folder).

Runs wherever chromium is installed; with ``CI`` set a missing chromium is a failure, never a skip.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from test_calibration_helpers import make_session

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"


def _need_browser() -> None:
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"{CHROMIUM} (apt-get install -y chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append('the playwright package (pip install "playwright==1.64.*")')
    if missing:
        msg = "browser test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(msg + " -- CI must run this test")
        pytest.skip(msg)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(dst: Path, session: Path, participant: str) -> None:
    """What a participant runs: ``labkit calibration open SESSION --as ID`` (the notebook lands in ``dst``)."""
    from labkit.cli import main

    assert main(["calibration", "open", str(session), "--as", participant, "--out", str(dst)]) == 0


@pytest.fixture
def lab(tmp_path):
    _need_browser()
    root = tmp_path / "root"
    root.mkdir()
    settings = tmp_path / "settings"
    (settings / "@jupyterlab" / "notebook-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
        json.dumps({"windowingMode": "none"}))
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    token = "calibration-test-token"
    port = _free_port()
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "ws"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), LABKIT_PSEUDONYM_KEY="browser-test-key",
               GX_ANALYTICS_ENABLED="False")
    log = open(tmp_path / "jupyter.log", "w")
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--expose-app-in-browser",
           "--ServerApp.open_browser=False", "--LabApp.news_url=None"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 40
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("JupyterLab did not start:\n" + (tmp_path / "jupyter.log").read_text()[-3000:])
            time.sleep(0.3)
        progress("JupyterLab up")
        yield {"root": root, "base": base, "token": token}
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


KERNEL_READY = """() => {
    const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
    return !!(k && k.status === 'idle' && w.content && w.content.widgets.length >= 3);
}"""


T0 = time.monotonic()


def progress(msg: str) -> None:
    """Progress with seconds since import (shown with pytest -s); helps see where a slow run spends time."""
    print(f"[{time.monotonic() - T0:6.1f} s] {msg}", file=sys.stderr, flush=True)


class Person:
    """One person's notebook: a tab of one shared JupyterLab page, with its own kernel.

    Three people in one page rather than three pages: the JupyterLab bundle is parsed once, which on
    a small CI machine is most of the time a page takes. Each notebook still has its own kernel, so
    nothing is shared but the session folder, as on a JupyterHub.
    """

    def __init__(self, page, name: str, shots: Path):
        self.page = page
        self.name = name
        self.shots = shots
        self.out = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output")

    def open(self) -> None:
        self.page.evaluate(f"() => {{ window.jupyterapp.commands.execute('docmanager:open', {{path: '{self.name}.ipynb'}}); }}")

    def front(self) -> Person:
        """Make this person's tab the visible one."""
        self.open()
        self.page.wait_for_function(f"() => window.jupyterapp.shell.currentWidget && "
                                    f"window.jupyterapp.shell.currentWidget.context.path === '{self.name}.ipynb'")
        return self

    def start(self) -> None:
        """Wait for the notebook's kernel, then Run All (as the notebook tells its user to)."""
        self.front()
        # the kernel is idle and the cells are there (the execution indicator says "idle" before the
        # kernel even started, and a run-all sent then never finishes)
        self.page.wait_for_function(KERNEL_READY, timeout=90000)
        # fire and forget: awaiting the command's promise would wait for every cell
        self.page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        self.out.locator(".widget-button:has-text('Refresh')").first.wait_for(timeout=60000)
        progress(f"{self.name}: session view shown")

    def button(self, text: str):
        return self.out.locator(f"button.widget-button:has-text('{text}')").first

    def click(self, text: str) -> None:
        self.button(text).click()

    def see(self, text: str, timeout: float = 30000) -> None:
        self.out.get_by_text(text, exact=False).first.wait_for(timeout=timeout)

    def shot(self, label: str) -> None:
        """The session widget as its user sees it (the whole output, scrolled or not)."""
        self.out.last.screenshot(path=str(self.shots / f"{label}-{self.name}.png"))

    def answer(self, k: int, label: str, rationale: str) -> None:
        self.see(f"Item {k} of 3")
        self.out.locator(f".widget-toggle-buttons button:text-is('{label}')").first.click()
        box = self.out.locator(".lkc-rationale textarea").first
        box.fill(rationale)
        self.click("Submit answer")


def test_calibration_session_in_chromium(lab, tmp_path):
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("LABKIT_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    session = lab["root"] / "cal-test"
    make_session(session)
    for who in ("a1", "a2", "f1"):
        _launch(lab["root"] / f"{who}.ipynb", session, who)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1700})
            page.set_default_timeout(30000)
            page.goto(f"{lab['base']}/lab/workspaces/cal/tree/a1.ipynb?reset&token={lab['token']}")
            page.wait_for_selector(".jp-NotebookPanel", timeout=60000)
            a1, a2, fac = (Person(page, who, shots) for who in ("a1", "a2", "f1"))
            a2.open()  # the other two kernels start while a1's does
            fac.open()
            for p in (a1, a2, fac):
                p.start()
            a1.front()
            a1.see("phase: blind")
            a1.shot("1-blind")
            a1.answer(1, "ok", "Polite thanks.")
            a1.answer(2, "offensive", "Sarcasm aimed at the poster.")
            a1.answer(3, "spam", "Link to a channel.")
            a1.see("All items answered")
            a1.shot("2-answered")

            a2.front()
            a2.answer(1, "ok", "Fine.")
            a2.answer(2, "ok", "Criticism of an idea.")
            a2.answer(3, "self_promotion", "Own channel.")
            a2.see("All items answered")
            # nothing of a1 is on a2's page before the reveal
            assert "Sarcasm aimed at the poster" not in a2.out.all_inner_texts().__str__()

            fac.front()
            fac.see("Who has answered")
            # drawn before anyone answered: both rows reach 3/3 by themselves (no Refresh)
            fac.out.locator("td:text-is('3/3')").nth(1).wait_for(timeout=30000)
            fac.shot("3-facilitator-blind")
            fac.click("Reveal answers")
            fac.see("Session is now in phase reveal")
            fac.see("share correct")  # the view has re-rendered for the reveal
            fac.see("Rationales")
            fac.shot("4-facilitator-reveal")

            a1.front()
            a1.see("Gold label: ok")  # the reveal reached a1's page without Refresh
            a1.shot("5-reveal")
            a1.out.locator(".lkc-reveal-item select").first.select_option(label="2. g3")
            a1.see("Gold label: offensive")
            a1.out.locator(".lkc-clar-proposed textarea").first.fill(
                "Sarcasm that mocks a person is offensive; sarcasm about an idea is ok.")
            a1.out.locator(".lkc-clar-why textarea").first.fill("We split on item 2.")
            a1.click("Propose clarification")
            a1.see("becomes a guideline proposal")
            a1.shot("6-clarification")

            fac.front()
            fac.click("Start discussion")
            fac.see("Session is now in phase discussion")

            a2.front()
            a2.see("Your answer after discussion")  # and the discussion reached a2's
            a2.see("0 of 3 items answered after discussion")
            a2.answer(1, "ok", "Still fine.")
            a2.see("1 of 3 items answered after discussion")
            a2.shot("7-discussion")

            fac.front()
            fac.click("Record proposals")
            fac.see("1 proposal(s) written")
            fac.shot("8-record")
            fac.click("Close session")
            fac.see("Summary written")
            fac.shot("9-closed")
        finally:
            browser.close()

    recs = {p: [json.loads(x) for x in (session / "answers" / f"{p}.jsonl").read_text().splitlines()]
            for p in ("a1", "a2")}
    got = {p: {r["item_id"]: r["label"] for r in rs if r["kind"] == "answer"} for p, rs in recs.items()}
    assert got == {"a1": {"g1": "ok", "g3": "offensive", "c1": "spam"},
                   "a2": {"g1": "ok", "g3": "ok", "c1": "self_promotion"}}
    assert all(r["duration_s"] > 0 for rs in recs.values() for r in rs if r["kind"] == "answer")
    assert [r["rationale"] for r in recs["a1"] if r["kind"] == "answer"] == [
        "Polite thanks.", "Sarcasm aimed at the poster.", "Link to a channel."]
    [clar] = [r for r in recs["a1"] if r["kind"] == "clarification"]
    assert (clar["item_id"], clar["label"], clar["op"]) == ("g3", "offensive", "add_edge_case")  # the default change
    events = [json.loads(x) for x in (session / "events.jsonl").read_text().splitlines()]
    assert [e["phase"] for e in events if e["kind"] == "phase"] == ["reveal", "discussion", "record", "closed"]
    finals = [r for r in recs["a2"] if r["kind"] == "answer" and r["round"] == "final"]
    assert [(r["item_id"], r["label"], r["rationale"]) for r in finals] == [("g1", "ok", "Still fine.")]
    summary = json.loads((session / "summary.json").read_text())
    assert (summary["phase"], summary["blind_answers"], summary["final_answers"]) == ("closed", 6, 1)
    assert all(e["by"] == "f1" for e in events)
    [prop] = list((session / "proposals").glob("*.yaml"))
    import yaml

    p = yaml.safe_load(prop.read_text())
    assert p["changes"][0]["proposed"] == "Sarcasm that mocks a person is offensive; sarcasm about an idea is ok."
    assert p["source"] == {"kind": "calibration", "session": "cal-test", "item_id": "g3", "clarification": clar["id"]}
