"""The report runner on a tiny fixture notebook (tests/data/reports/fixture.ipynb).

The fixture's ``mode`` parameter makes it succeed, raise, sleep past the timeout, kill its kernel or
raise the validation gate's ``ValidationFailed``, so each failure path runs a real kernel in seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labkit.errors import ParameterError
from labkit.reports import runner
from labkit.reports.config import load_config
from labkit.reports.html import external_references
from labkit.reports.metrics import save_metrics
from labkit.reports.params import notebook_params

DATA = Path(__file__).parent / "data" / "reports"
FIXTURE = DATA / "fixture.ipynb"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("LABKIT_PSEUDONYM_KEY", "test-key-runner")


def write_config(tmp_path: Path, extra: str = "") -> Path:
    cfg = tmp_path / "reports.yaml"
    cfg.write_text(f"out: out\ntimeout: 20\nreports:\n  fixture:\n    notebook: {FIXTURE}\n"
                   f"    parameters: {{n: 5}}\n{extra}", encoding="utf-8")
    return cfg


def run(tmp_path: Path, **kw):
    return runner.run_reports(load_config(write_config(tmp_path)), **kw)


def cli(*args: str, cwd: Path, capsys, monkeypatch) -> tuple[int, str, str]:
    """``labkit ARGS`` in this process (the same handler as the console script), from ``cwd``."""
    from labkit.cli import main

    monkeypatch.chdir(cwd)
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# ----------------------------------------------------------------------------------------- metrics

def test_save_metrics_writes_plain_json_and_is_a_noop_without_path(tmp_path):
    import numpy as np

    save_metrics("", {"a": 1})  # no path: nothing written, no error
    assert list(tmp_path.iterdir()) == []
    dest = tmp_path / "m.json"
    save_metrics(str(dest), {"n": np.int64(3), "x": np.float32(0.5), "nan": float("nan"), "nested": {"k": [1, 2]}})
    assert json.loads(dest.read_text()) == {"n": 3, "x": 0.5, "nan": None, "nested": {"k": [1, 2]}}
    with pytest.raises(TypeError, match=r"metrics value at metrics\.bad is a object"):
        save_metrics(str(dest), {"bad": object()})


# -------------------------------------------------------------------------------- parameter checks

def test_notebook_params_reads_typed_commented_cell():
    ps = notebook_params(FIXTURE)
    assert {k: p.type for k, p in ps.items()} == {"mode": "str", "n": "int", "ratio": "float", "flag": "bool",
                                                 "annotator": "str", "metrics_path": "str"}
    assert ps["n"].help == "a number to report back"


@pytest.mark.parametrize("params, message", [
    ({"nope": "1"}, "-p nope: no selected report has such a parameter; valid parameters by report:\n"
                    "  fixture: mode, n, ratio, flag, annotator, metrics_path"),
    ({"n": "three"}, "report 'fixture' (-p): parameter 'n' must be an integer (n: int = 3  # a number to report "
                     "back); got 'three'"),
    ({"flag": "maybe"}, "report 'fixture' (-p): parameter 'flag' must be true or false (flag: bool = False  # a "
                        "bool parameter); got 'maybe'"),
    ({"metrics_path": "/tmp/x"}, "-p metrics_path: set by the runner (it points into the run folder)"),
])
def test_bad_parameter_refused_before_any_kernel(tmp_path, monkeypatch, params, message):
    import papermill

    def boom(*a, **k):  # pragma: no cover - reaching it is the failure
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(papermill, "execute_notebook", boom)
    with pytest.raises(ParameterError) as err:
        run(tmp_path, cli_params=params)
    assert str(err.value) == message
    assert not (tmp_path / "out").exists()  # no run folder, no index


def test_wrong_type_in_config_refused(tmp_path):
    cfg = write_config(tmp_path)
    cfg.write_text(cfg.read_text().replace("{n: 5}", "{n: five, zzz: 1}"))
    with pytest.raises(ParameterError, match=r"parameter 'n' must be an integer .*got str 'five'|unknown parameter 'zzz'"):
        runner.run_reports(load_config(cfg))


def test_unknown_config_parameter_lists_valid_ones(tmp_path):
    cfg = write_config(tmp_path)
    cfg.write_text(cfg.read_text().replace("{n: 5}", "{zzz: 1}"))
    with pytest.raises(ParameterError) as err:
        runner.plan(load_config(cfg))
    assert "unknown parameter 'zzz' (from reports.yaml); valid parameters:\n  mode: str = \"ok\"" in str(err.value)


def test_cli_bad_parameter_exits_nonzero_without_run_folder(tmp_path, capsys, monkeypatch):
    write_config(tmp_path)
    code, out, err = cli("report", "run", "-p", "n=x", cwd=tmp_path, capsys=capsys, monkeypatch=monkeypatch)
    assert code == 2
    assert err == ("labkit report: error: report 'fixture' (-p): parameter 'n' must be an integer "
                   "(n: int = 3  # a number to report back); got 'x'\n")
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------ run folders

def test_success_then_failure_keeps_last_good_run_and_latest(tmp_path):
    ok = run(tmp_path, cli_params={"n": "7"})
    assert ok["ok"] == 1 and ok["failed"] == 0
    good = Path(ok["runs"][0]["folder"])
    assert sorted(p.name for p in good.iterdir()) == ["metrics.json", "report.html", "report.ipynb"]
    page = (good / "report.html").read_text()
    assert external_references(page) == []
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    m = json.loads((good / "metrics.json").read_text())
    assert m["status"] == "ok" and m["metrics"] == {"n": 7, "ratio": 0.5, "annotator": "", "leaked": None,
                                                    "pid": m["metrics"]["pid"]}
    assert m["parameters"] == {"n": 7}
    latest = tmp_path / "out" / "fixture" / "latest"
    assert latest.read_text().strip() == good.name
    before = {p.name: p.read_bytes() for p in good.iterdir()}

    bad = run(tmp_path, cli_params={"mode": "fail"})
    assert bad["failed"] == 1
    r = bad["runs"][0]
    assert r["status"] == "failed" and r["error"].startswith("RuntimeError in cell ")
    failed_dir = Path(r["folder"])
    assert failed_dir.name.endswith("-failed")
    nb = json.loads((failed_dir / "report.ipynb").read_text())
    assert any(o.get("ename") == "RuntimeError" for c in nb["cells"] for o in c.get("outputs", []))
    assert json.loads((failed_dir / "metrics.json").read_text())["status"] == "failed"
    # the last good run and the pointer are untouched
    assert latest.read_text().strip() == good.name
    assert {p.name: p.read_bytes() for p in good.iterdir()} == before
    index = (tmp_path / "out" / "index.html").read_text()
    assert failed_dir.name in index and good.name in index
    assert '<td class=failed>failed<div class="err">RuntimeError in cell ' in index
    assert "planted failure" not in index  # exception text is withheld from published files (issue 15)
    assert not external_references(index)
    # no temporary folder is left behind
    assert not [p for p in (tmp_path / "out" / "fixture").iterdir() if p.name.startswith(".tmp")]


def test_timeout_is_enforced_and_marked_failed(tmp_path):
    res = run(tmp_path, cli_params={"mode": "sleep"}, timeout=2)
    r = res["runs"][0]
    assert r["status"] == "failed"
    assert r["error"] == "timeout: a cell ran longer than 2 s"
    assert r["seconds"] < 25  # the fixture sleeps 30 s
    nb = json.loads((Path(r["folder"]) / "report.ipynb").read_text())
    assert nb["cells"][0]["metadata"]["tags"] == ["labkit-failure"]
    assert not (tmp_path / "out" / "fixture" / "latest").exists()


def test_kernel_death_is_a_failed_run(tmp_path):
    r = run(tmp_path, cli_params={"mode": "die"})["runs"][0]
    assert r["status"] == "failed"
    assert r["error"].startswith("the kernel died")


def test_cli_failure_exits_nonzero_and_json_is_last_line(tmp_path, capsys, monkeypatch):
    write_config(tmp_path)
    code, out, err = cli("report", "run", "-p", "mode=gate", "--json", cwd=tmp_path, capsys=capsys,
                         monkeypatch=monkeypatch)
    assert code == 1
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["failed"] == 1 and summary["ok"] == 0
    assert summary["runs"][0]["error"].startswith("ValidationFailed in cell ")
    assert err == ""  # quiet with --json


def test_run_ids_are_unique_within_one_second(tmp_path):
    import datetime as dt

    now = dt.datetime(2026, 11, 23, 13, 0, 0, tzinfo=dt.timezone.utc)
    (tmp_path / "20261123T130000Z").mkdir()
    (tmp_path / "20261123T130000Z-2-failed").mkdir()
    assert runner.new_run_id(tmp_path, now) == "20261123T130000Z-3"


def test_external_reference_detector():
    assert external_references('<script src="https://cdn.example/x.js"></script>')
    assert external_references('<link rel="stylesheet" href="//cdn.example/x.css">')
    assert external_references("<style>@import url('https://fonts.example/f.css');</style>")
    assert not external_references("&lt;img src=http://x.example/a.png&gt;")  # escaped text is not markup
    assert not external_references('<img src="data:image/png;base64,AAAA">')


# ------------------------------------------------------------------------------------ config, params

@pytest.mark.parametrize("text, message", [
    ("reports: {}\n", "'reports' must map report names to their settings"),
    ("reports:\n  a: {notebook: x.ipynb, colour: red}\n", "reports.a: unknown key(s) colour"),
    ("reports:\n  a: {notebook: x.ipynb, for_each: item}\n", "reports.a.for_each: must be one of annotator, got 'item'"),
    ("timeout: -3\nreports:\n  a: {notebook: x.ipynb}\n", "timeout must be a positive number of seconds, got -3"),
    ("outt: x\nreports:\n  a: {notebook: x.ipynb}\n", "unknown key(s) outt (known: out, parameters, reports, timeout)"),
])
def test_config_errors_name_the_file_and_key(tmp_path, text, message):
    cfg = tmp_path / "reports.yaml"
    cfg.write_text(text)
    with pytest.raises(ParameterError) as err:
        load_config(cfg)
    assert str(err.value) == f"{cfg}: {message}" or str(err.value).startswith(f"{cfg}: {message}")


def test_missing_notebook_and_unknown_report_refused(tmp_path):
    cfg = tmp_path / "reports.yaml"
    cfg.write_text("reports:\n  a: {notebook: nowhere.ipynb}\n")
    with pytest.raises(ParameterError, match=r"nowhere\.ipynb: report notebook not found"):
        runner.plan(load_config(cfg))
    with pytest.raises(ParameterError, match=r"unknown report\(s\) b; reports: a"):
        runner.plan(load_config(cfg), only=["b"])


def test_for_each_lists_annotators_as_pseudonyms(tmp_path):
    from labkit.privacy import pseudonym

    labels = tmp_path / "labels.csv"
    labels.write_text("item_id,annotator_id,label,source\n1,alice,a,human\n1,bob,b,human\n2,alice,a,human\n"
                      "2,model-x,a,model\n")
    cfg = write_config(tmp_path)
    cfg.write_text(cfg.read_text().replace("{n: 5}", "{n: 5}\n    for_each: annotator"))
    nb = tmp_path / "fe.ipynb"  # the fixture plus a labels parameter
    raw = json.loads(FIXTURE.read_text())
    src = raw["cells"][1]["source"]
    raw["cells"][1]["source"] = (src if isinstance(src, str) else "".join(src)) + \
        f'\nlabels: str = "{labels}"  # labels'
    nb.write_text(json.dumps(raw))
    cfg.write_text(cfg.read_text().replace(str(FIXTURE), str(nb)))
    jobs = runner.plan(load_config(cfg), key=b"k")
    # most judgements first (alice 2, bob 1): --annotators N takes the N with the most evidence
    assert [j.variant for j in jobs] == [pseudonym("alice", b"k"), pseudonym("bob", b"k")]
    assert all(j.parameters["annotator"] == j.variant for j in jobs)  # never the raw id
    raw["cells"][1]["source"] = "\n".join(l for l in raw["cells"][1]["source"].splitlines()
                                          if not l.startswith("annotator:"))
    (tmp_path / "no_annotator.ipynb").write_text(json.dumps(raw))
    cfg2 = tmp_path / "two.yaml"
    cfg2.write_text(f"reports:\n  plain:\n    notebook: {tmp_path / 'no_annotator.ipynb'}\n")
    with pytest.raises(ParameterError, match=r"--for-each annotator: none of the selected reports \(plain\) has an "
                                             r"'annotator' parameter"):
        runner.plan(load_config(cfg2), for_each="annotator")
    one = runner.plan(load_config(cfg), cli_params={"annotator": "alice"}, key=b"k")
    assert [(j.variant, j.parameters["annotator"]) for j in one] == [(pseudonym("alice", b"k"),) * 2]
    # a subset (raw ids or pseudonyms), in the order given; an annotator with no judgements is refused
    some = runner.plan(load_config(cfg), annotators=["bob", pseudonym("alice", b"k")], key=b"k")
    assert [j.variant for j in some] == [pseudonym("bob", b"k"), pseudonym("alice", b"k")]
    assert runner.plan(load_config(cfg), annotators=[], key=b"k") == []
    with pytest.raises(ParameterError, match=r"^fixture: no human judgements by annotator\(s\) model-x, carol$"):
        runner.plan(load_config(cfg), annotators=["model-x", "carol"], key=b"k")


def test_report_params_lists_declared_parameters(tmp_path, capsys, monkeypatch):
    write_config(tmp_path)
    code, out, err = cli("report", "params", "--json", cwd=tmp_path, capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0
    got = json.loads(out.strip().splitlines()[-1])["reports"]["fixture"]
    assert got["n"] == {"type": "int", "default": "3", "help": "a number to report back"}


def _for_each_config(tmp_path: Path) -> Path:
    labels = tmp_path / "labels.csv"
    labels.write_text("item_id,annotator_id,label,source\n1,alice,a,human\n1,bob,b,human\n2,carol,a,human\n")
    raw = json.loads(FIXTURE.read_text())
    src = raw["cells"][1]["source"]
    raw["cells"][1]["source"] = (src if isinstance(src, str) else "".join(src)) + f'\nlabels: str = "{labels}"  # labels'
    nb = tmp_path / "fe.ipynb"
    nb.write_text(json.dumps(raw))
    cfg = tmp_path / "reports.yaml"
    cfg.write_text(f"out: out\ntimeout: 60\nreports:\n  fe:\n    notebook: {nb}\n    for_each: annotator\n")
    return cfg


def test_per_annotator_runs_share_a_kernel_with_a_clean_namespace(tmp_path):
    res = runner.run_reports(load_config(_for_each_config(tmp_path)))
    assert [r["status"] for r in res["runs"]] == ["ok"] * 3
    ms = [r["metrics"] for r in res["runs"]]
    assert len({m["pid"] for m in ms}) == 1  # one warm kernel for the three pages
    assert [m["leaked"] for m in ms] == [None, None, None]  # nothing of the previous page survived
    assert [m["annotator"] for m in ms] == [r["variant"] for r in res["runs"]]
    for r in res["runs"]:
        nb = json.loads((Path(r["folder"]) / "report.ipynb").read_text())
        assert not [c for c in nb["cells"] if runner.RESET_TAG in c["metadata"].get("tags", [])]
        assert nb["metadata"]["papermill"]["input_path"].endswith("fe.ipynb")
        assert not (Path(r["folder"]) / ".input.ipynb").exists()
    alone = runner.run_reports(load_config(_for_each_config(tmp_path)), reuse_kernels=False)
    assert len({r["metrics"]["pid"] for r in alone["runs"]}) == 3


def test_a_failed_run_discards_the_shared_kernel(tmp_path, monkeypatch):
    discarded = []
    real = runner.KernelPool.discard
    monkeypatch.setattr(runner.KernelPool, "discard", lambda self, name: (discarded.append(name), real(self, name)))
    res = runner.run_reports(load_config(_for_each_config(tmp_path)), cli_params={"mode": "fail"})
    assert [r["status"] for r in res["runs"]] == ["failed"] * 3
    assert all(r["error"].startswith("RuntimeError in cell ") for r in res["runs"])
    assert discarded == ["fe"] * 3  # after every failure; close() finds no kernel left


def test_index_key_numbers_follow_the_notebook_order_with_intervals():
    from labkit.reports.index import _numbers

    m = {"alpha": 0.5394, "alpha_ci_high": 0.5648, "alpha_ci_low": 0.519, "annotator": "A-1234abcd",
         "items": 1800, "judgements": 6300, "note": "<b>x</b>", "rows": [1]}
    order = ["judgements", "items", "alpha", "alpha_ci_low", "alpha_ci_high", "annotator", "note", "rows"]
    assert _numbers(m, order, skip="A-1234abcd") == (
        "judgements: <span class=num>6,300</span><br>items: <span class=num>1,800</span><br>"
        "alpha: <span class=num>0.539 [0.519, 0.565]</span><br>note: <span class=num>&lt;b&gt;x&lt;/b&gt;</span>")


def test_two_runs_of_one_config_at_once_both_succeed(tmp_path):
    """Issue 15: two `report run`s of one config at once failed each other (shared kernel IPC files in the
    working directory, same run id) in 4 of 5 tries. Now the second waits on a lock in the out folder, the
    run ids differ, and each kernel's connection and IPC files live in a private temporary folder."""
    import os
    import subprocess
    import sys

    cfg = write_config(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LABKIT_PSEUDONYM_KEY": "test-key-runner"}
    cmd = [sys.executable, "-m", "labkit", "report", "run", "--config", str(cfg)]
    import fcntl

    (tmp_path / "out").mkdir()
    held = os.open(tmp_path / "out" / runner.LOCK_NAME, os.O_RDWR | os.O_CREAT)
    fcntl.flock(held, fcntl.LOCK_EX)  # a third run is "in progress": both must wait, then run one after the other
    procs = [subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    first = [p.stderr.readline() for p in procs]  # blocks until each has reached the lock
    assert all(line.startswith("another report run is writing to") for line in first), first
    fcntl.flock(held, fcntl.LOCK_UN)
    os.close(held)
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    assert all("[1/1] fixture: ok in" in o[1] for o in outs)
    folder = tmp_path / "out" / "fixture"
    runs = sorted(p.name for p in folder.iterdir() if not p.name.startswith("latest"))
    assert len(runs) == 2 and not any(r.endswith("-failed") or r.startswith(".tmp") for r in runs)
    assert not [p.name for p in tmp_path.iterdir() if "ipc" in p.name or p.name.startswith("kernel")]


def test_kernel_connection_and_ipc_files_are_in_a_private_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    kms = [runner.IPCKernelManagerFactory.get()(kernel_name="python3") for _ in range(2)]
    dirs = [Path(km.connection_file).parent for km in kms]
    assert dirs[0] != dirs[1] and all(Path(km.ip).parent == d for km, d in zip(kms, dirs))
    assert all(d.stat().st_mode & 0o777 == 0o700 and tmp_path not in d.parents for d in dirs)
    for d in dirs:
        d.rmdir()


def test_a_failed_run_never_quotes_a_data_row_in_page_metrics_or_index(tmp_path):
    """Issue 15: a failed report run quoted the first row of a headerless file (a raw id) in the page,
    metrics and index."""
    nb = json.loads(FIXTURE.read_text(encoding="utf-8"))
    data = tmp_path / "headerless.csv"
    data.write_text("ann-raw-4711,c-1,ok\n", encoding="utf-8")
    code = {"id": "leaky-cell", "cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": f"import sys\nline = open({str(data)!r}).readline().strip()\nprint('row:', line, file=sys.stderr)\n"
                      "raise ValueError(f'line 1 is not a header: {line}')"}
    nb["cells"].append(code)
    leaky = tmp_path / "leaky.ipynb"
    leaky.write_text(json.dumps(nb), encoding="utf-8")
    cfg = tmp_path / "reports.yaml"
    cfg.write_text(f"out: out\ntimeout: 20\nreports:\n  leaky:\n    notebook: {leaky}\n    parameters: {{n: 5}}\n",
                   encoding="utf-8")
    res = runner.run_reports(load_config(cfg))
    r = res["runs"][0]
    assert r["status"] == "failed" and r["error"] == f"ValueError in cell {len(nb['cells'])} ({runner.WITHHELD})"
    published = [p for p in (tmp_path / "out").rglob("*") if p.is_file() and p.name != runner.LOCK_NAME]
    assert {p.name for p in published} >= {"report.html", "metrics.json", "report.ipynb", "index.html"}
    for p in published:
        assert "ann-raw-4711" not in p.read_text(encoding="utf-8", errors="replace"), p
