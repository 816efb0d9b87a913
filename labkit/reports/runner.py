"""Run report notebooks with papermill into run folders that a failed run can never spoil.

For each report (and, with ``for_each: annotator``, each annotator) the runner:

1. checks every parameter against the notebook's ``parameters`` cell -- for *all* selected reports,
   before any kernel starts (:func:`plan`);
2. executes the notebook in this process's papermill (one kernel per run, IPC transport) into a
   temporary folder ``OUT/<report>/.tmp-<run-id>-…`` with ``metrics_path`` injected;
3. renders a self-contained HTML page with the code hidden (:mod:`labkit.reports.html`);
4. on success renames the folder to ``OUT/<report>/<run-id>/`` and moves the ``latest`` pointer; on
   failure (an exception in a cell, a cell timeout, kernel death, a refusal by the validation gate)
   renames it to ``<run-id>-failed/``, keeping the executed notebook with the error, and leaves the
   last good run and ``latest`` untouched;
5. rewrites ``OUT/index.html`` from the ``metrics.json`` files on disk.

Run ids are UTC times (``20261123T130501Z``), made unique with a suffix if two runs share a second.
Annotator ids never reach the output: a per-annotator run gets the annotator's pseudonym as its
``annotator`` parameter and folder name, and the notebook maps it back inside the kernel.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit._atomic import write_json, write_text
from labkit.errors import ParameterError
from labkit.reports.config import ReportsConfig, ReportSpec
from labkit.reports.metrics import load_metrics
from labkit.reports.params import Param, notebook_params, resolve

NOTEBOOK_NAME = "report.ipynb"
HTML_NAME = "report.html"
METRICS_NAME = "metrics.json"
NOTEBOOK_METRICS_NAME = ".notebook-metrics.json"
LATEST = "latest"  # a small text file holding the run id of the last good run
LATEST_HTML = "latest.html"  # a redirect page to the last good report


@dataclass
class Job:
    """One notebook execution: a report, maybe for one annotator (by pseudonym)."""

    report: ReportSpec
    parameters: dict[str, Any]
    variant: str | None = None  # the annotator's pseudonym for per-annotator runs

    @property
    def label(self) -> str:
        return self.report.name + (f"/{self.variant}" if self.variant else "")

    def folder(self, out: Path) -> Path:
        return out / self.report.name / self.variant if self.variant else out / self.report.name


@dataclass
class RunResult:
    job: str
    report: str
    variant: str | None
    status: str  # "ok" | "failed"
    run_id: str
    folder: str
    html: str | None
    seconds: float
    error: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"job": self.job, "report": self.report, "variant": self.variant, "status": self.status,
                "run_id": self.run_id, "folder": self.folder, "html": self.html,
                "seconds": round(self.seconds, 2), "error": self.error, "metrics": self.metrics}


def parse_cli_params(items: Sequence[str]) -> dict[str, str]:
    """``["since=2026-10-01", "task=toxicity"]`` -> dict; refuses items without ``=``."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ParameterError(f"-p {item!r}: expected NAME=VALUE")
        out[name.strip()] = value
    return out


def plan(config: ReportsConfig, *, only: Sequence[str] = (), cli_params: dict[str, str] | None = None,
         for_each: str | None = None, key: bytes | None = None,
         annotators: Sequence[str] | None = None) -> list[Job]:
    """Check everything and list the runs to make; raises :class:`ParameterError` before any kernel.

    ``-p`` values go to every selected report that declares the name; a name no selected report
    declares is refused. ``metrics_path`` is the runner's own and cannot be given. ``annotators``
    (ids or pseudonyms) limits per-annotator reports to those annotators, in that order.
    """
    cli_params = dict(cli_params or {})
    unknown_only = [n for n in only if n not in config.reports]
    if unknown_only:
        raise ParameterError(f"{config.path}: unknown report(s) {', '.join(unknown_only)}; "
                             f"reports: {', '.join(config.reports)}")
    selected = [config.reports[n] for n in (only or config.reports)]
    if "metrics_path" in cli_params:
        raise ParameterError("-p metrics_path: set by the runner (it points into the run folder)")
    declared: dict[str, dict[str, Param]] = {}
    for spec in selected:
        params = notebook_params(spec.notebook)
        if "metrics_path" not in params:
            raise ParameterError(f"{spec.notebook}: the parameters cell must declare "
                                 "metrics_path: str = \"\"  # where the runner wants headline numbers")
        declared[spec.name] = params
    leftover = [n for n in cli_params if not any(n in p for p in declared.values())]
    if leftover:
        lines = "\n".join(f"  {s.name}: {', '.join(declared[s.name])}" for s in selected)
        raise ParameterError(f"-p {', '.join(leftover)}: no selected report has such a parameter; valid "
                             f"parameters by report:\n{lines}")
    if for_each == "annotator" and not any("annotator" in declared[s.name] for s in selected):
        raise ParameterError(f"--for-each annotator: none of the selected reports ({', '.join(declared)}) has an "
                             "'annotator' parameter")
    jobs: list[Job] = []
    for spec in selected:
        params = declared[spec.name]
        shared = {k: v for k, v in config.shared.items() if k in params}
        values = resolve(params, {**shared, **spec.parameters},
                         {k: v for k, v in cli_params.items() if k in params},
                         notebook=str(spec.notebook), report=spec.name)
        mode = for_each or spec.for_each
        if mode == "annotator" and "annotator" in params and "annotator" not in cli_params:
            pseuds = annotator_pseudonyms(values, params, config.root, key=key)
            if annotators is not None:
                from labkit.privacy import load_key, pseudonym

                k = key if key is not None else load_key()
                wanted = [a if _looks_pseudonym(a) else pseudonym(a, k) for a in map(str, annotators)]
                missing = [a for a, w in zip(annotators, wanted) if w not in pseuds]
                if missing:
                    raise ParameterError(f"{spec.name}: no human judgements by annotator(s) {', '.join(map(str, missing))}")
                pseuds = list(dict.fromkeys(wanted))
            for pseud in pseuds:
                jobs.append(Job(spec, {**values, "annotator": pseud}, variant=pseud))
        else:
            if "annotator" in values and values["annotator"]:
                from labkit.privacy import load_key, pseudonym

                k = key if key is not None else load_key()
                a = str(values["annotator"])
                pseud = a if _looks_pseudonym(a) else pseudonym(a, k)
                values["annotator"] = pseud
                jobs.append(Job(spec, values, variant=pseud))
            else:
                jobs.append(Job(spec, values))
    return jobs


def _looks_pseudonym(text: str) -> bool:
    return len(text) == 10 and text.startswith("A-") and all(c in "0123456789abcdef" for c in text[2:])


def annotator_pseudonyms(values: dict[str, Any], params: dict[str, Param], root: Path, *,
                         key: bytes | None = None) -> list[str]:
    """Pseudonyms of the human annotators in the report's ``labels`` (sorted)."""
    from labkit.io import load_labels
    from labkit.privacy import load_key, pseudonym

    labels = values.get("labels")
    if labels is None and "labels" in params:
        labels = _literal(params["labels"].default)
    if not labels:
        raise ParameterError("--for-each annotator needs the report's 'labels' parameter to list annotators")
    paths = [p if os.path.isabs(p) else str(root / p) for p in str(labels).split(os.pathsep) if p]
    table = load_labels(paths)
    human = table[table["source"] == "human"] if "source" in table else table
    ids = sorted(set(human["annotator_id"].astype(str)))
    k = key if key is not None else load_key()
    return sorted({pseudonym(a, k) for a in ids})


def _literal(text: str) -> Any:
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def new_run_id(parent: Path, now: dt.datetime | None = None) -> str:
    """A UTC-time run id not yet used under ``parent`` (``-2``, ``-3``… appended on collision)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    base = now.strftime("%Y%m%dT%H%M%SZ")
    rid, n = base, 1
    while (parent / rid).exists() or (parent / f"{rid}-failed").exists():
        n += 1
        rid = f"{base}-{n}"
    return rid


class IPCKernelManagerFactory:
    """Builds a jupyter_client kernel manager class using the IPC transport (no TCP ports)."""

    _cls: type | None = None

    @classmethod
    def get(cls) -> type:
        if cls._cls is None:
            from jupyter_client.manager import AsyncKernelManager
            from traitlets import CaselessStrEnum

            class IPCKernelManager(AsyncKernelManager):
                """A kernel on IPC sockets whose process output stays off the terminal.

                Cell outputs travel over the kernel protocol, not the process's stdout/stderr, so
                nothing of the report is lost; the terminal keeps only the runner's progress.
                """

                transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

                async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
                    import subprocess

                    kw.setdefault("stdout", subprocess.DEVNULL)
                    kw.setdefault("stderr", subprocess.DEVNULL)
                    await super()._async_launch_kernel(kernel_cmd, **kw)

            cls._cls = IPCKernelManager
        return cls._cls


RESET_SOURCE = ("# labkit: clean namespace before this run (removed from the saved notebook)\n"
                "get_ipython().run_line_magic('reset', '-f')\n"
                "import matplotlib.pyplot as _plt; _plt.close('all'); del _plt")
RESET_TAG = "labkit-reset"


class KernelPool:
    """One warm kernel per report, reused across that report's per-annotator runs.

    Starting a kernel and importing pandas, seaborn and labkit costs several seconds; a report
    rendered for each of 40 annotators pays it once instead of 40 times. Before every run the
    namespace is wiped (``%reset -f``, figures closed) by a cell the runner prepends and removes
    from the saved notebook, so no variable of one annotator's page survives into the next. A
    failed run (error, timeout, dead kernel) discards its kernel; the next run starts a fresh one.
    """

    def __init__(self) -> None:
        self._kms: dict[str, Any] = {}

    def get(self, name: str) -> Any:
        km = self._kms.get(name)
        if km is None:
            km = IPCKernelManagerFactory.get()(kernel_name="python3")
            self._kms[name] = km
        return km

    def discard(self, name: str) -> None:
        km = self._kms.pop(name, None)
        if km is not None:
            _shutdown(km)

    def close(self) -> None:
        for name in list(self._kms):
            self.discard(name)


def _shutdown(km: Any) -> None:
    from jupyter_core.utils import run_sync

    try:
        if km.has_kernel:
            run_sync(km.shutdown_kernel)(now=True)
    except Exception:  # noqa: BLE001 - a kernel that is already gone is what we want
        pass


def _with_reset_cell(notebook: Path, dest: Path) -> Path:
    """A copy of ``notebook`` with the namespace-reset cell first (for a reused kernel)."""
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    cell = nbformat.v4.new_code_cell(source=RESET_SOURCE)
    cell.metadata["tags"] = [RESET_TAG]
    nb.cells.insert(0, cell)
    nbformat.write(nb, str(dest))
    return dest


def _drop_reset_cell(nb_path: Path, original: Path) -> None:
    import nbformat

    if not nb_path.exists():
        return
    nb = nbformat.read(str(nb_path), as_version=4)
    nb.cells = [c for c in nb.cells if RESET_TAG not in c.get("metadata", {}).get("tags", [])]
    nb.metadata.get("papermill", {})["input_path"] = str(original)
    nbformat.write(nb, str(nb_path))


def execute_job(job: Job, out: Path, *, root: Path, timeout: float | None,
                progress: Callable[[str], None] | None = None, pool: KernelPool | None = None) -> RunResult:
    """Execute one job into its run folder; never raises for a failure of the notebook itself."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    _quiet_libraries()
    parent = job.folder(out)
    parent.mkdir(parents=True, exist_ok=True)
    run_id = new_run_id(parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{run_id}-", dir=parent))
    nb_out = tmp / NOTEBOOK_NAME
    nb_metrics = tmp / NOTEBOOK_METRICS_NAME
    params = {**job.parameters, "metrics_path": str(nb_metrics)}
    started = dt.datetime.now(dt.timezone.utc)
    t0 = time.perf_counter()
    status, error = "ok", None
    source = job.report.notebook
    extra: dict[str, Any] = {}
    if pool is not None:
        source = _with_reset_cell(job.report.notebook, tmp / ".input.ipynb")
        extra["km"] = pool.get(job.report.name)
    try:
        papermill.execute_notebook(
            str(source), str(nb_out), parameters=params, cwd=str(root),
            kernel_name="python3", progress_bar=False, log_output=False, request_save_on_cell_execute=True,
            execution_timeout=timeout, kernel_manager_class=IPCKernelManagerFactory.get(), **extra)
    except PapermillExecutionError as exc:
        status, error = "failed", f"{exc.ename}: {_first_line(exc.evalue)} (cell {exc.exec_count})"
    except Exception as exc:  # noqa: BLE001 - CellTimeoutError, DeadKernelError, ...: all mean "failed"
        name = type(exc).__name__
        if name == "CellTimeoutError":
            error = f"timeout: a cell ran longer than {timeout:g} s" if timeout else f"timeout: {exc}"
        elif name == "DeadKernelError":
            error = f"the kernel died: {_first_line(str(exc))}"
        else:
            error = f"{name}: {_first_line(str(exc))}"
        status = "failed"
        _mark_failed(nb_out, error)
    if pool is not None:
        if status != "ok":
            pool.discard(job.report.name)  # never reuse a kernel that failed, timed out or died
        (tmp / ".input.ipynb").unlink(missing_ok=True)
        _drop_reset_cell(nb_out, job.report.notebook)
    seconds = time.perf_counter() - t0
    html_ok = None
    if nb_out.exists():
        try:
            from labkit.reports.html import notebook_to_html

            write_text(tmp / HTML_NAME, notebook_to_html(nb_out, title=_title(job, status)))
            html_ok = HTML_NAME
        except Exception as exc:  # noqa: BLE001 - a page that cannot render is a failed run
            status = "failed"
            error = (error + "; " if error else "") + f"HTML rendering failed: {type(exc).__name__}: {exc}"
    nb_numbers = {}
    try:
        nb_numbers = load_metrics(nb_metrics)
    except ValueError as exc:
        status, error = "failed", (error + "; " if error else "") + f"unreadable metrics: {exc}"
    with_status = {
        "report": job.report.name, "title": job.report.title, "variant": job.variant, "run_id": run_id,
        "status": status, "error": error, "started_at": started.isoformat(timespec="seconds"),
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(seconds, 2), "notebook": str(_rel(job.report.notebook, root)),
        "parameters": {k: v for k, v in job.parameters.items()}, "metrics": nb_numbers,
        "metrics_order": list(nb_numbers),
    }
    write_json(tmp / METRICS_NAME, with_status)
    if nb_metrics.exists():
        nb_metrics.unlink()
    final = parent / (run_id if status == "ok" else f"{run_id}-failed")
    os.replace(tmp, final)
    if status == "ok":
        write_text(parent / LATEST, run_id + "\n")
        write_text(parent / LATEST_HTML, _redirect(f"{run_id}/{HTML_NAME}"))
    return RunResult(job=job.label, report=job.report.name, variant=job.variant, status=status, run_id=run_id,
                     folder=str(final), html=str(final / html_ok) if html_ok else None, seconds=seconds,
                     error=error, metrics=nb_numbers)


def _quiet_libraries() -> None:
    """papermill and nbclient log every failure themselves; the runner reports each failure once."""
    import logging

    for name in ("papermill", "nbclient", "traitlets"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _first_line(text: str) -> str:
    text = str(text).strip()
    return text.splitlines()[0][:300] if text else ""


def _rel(p: Path, root: Path) -> Path:
    try:
        return p.resolve().relative_to(root)
    except ValueError:
        return p


def _title(job: Job, status: str) -> str:
    t = job.report.title + (f" — {job.variant}" if job.variant else "")
    return t + (" (FAILED)" if status != "ok" else "")


def _redirect(target: str) -> str:
    from html import escape

    t = escape(target, quote=True)
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="0; url={t}">'
            f'<title>latest report</title></head><body><a href="{t}">latest report</a></body></html>\n')


def _mark_failed(nb_path: Path, error: str) -> None:
    """Put the failure on top of an executed notebook that looks complete (e.g. after a cell timeout)."""
    import nbformat

    if not nb_path.exists():
        return
    try:
        nb = nbformat.read(str(nb_path), as_version=4)
    except Exception:  # noqa: BLE001 - the notebook may be half-written; keep it as it is
        return
    from html import escape

    banner = nbformat.v4.new_code_cell(source="# run failed (added by labkit report run)")
    banner.outputs = [nbformat.v4.new_output(
        "display_data", data={"text/html": f'<div style="border-left:4px solid #b00;background:#fdecec;'
                                           f'padding:.5em 1em"><b>This run failed.</b> {escape(error)}</div>',
                              "text/plain": f"This run failed. {error}"})]
    banner.metadata["tags"] = ["labkit-failure"]
    nb.cells.insert(0, banner)
    nb.metadata.setdefault("papermill", {})["exception"] = True
    nbformat.write(nb, str(nb_path))


def run_reports(config: ReportsConfig, *, only: Sequence[str] = (), cli_params: dict[str, str] | None = None,
                for_each: str | None = None, out: str | os.PathLike[str] | None = None,
                timeout: float | None = None, progress: Callable[[str], None] | None = None,
                key: bytes | None = None, reuse_kernels: bool = True,
                annotators: Sequence[str] | None = None) -> dict[str, Any]:
    """Check, run and index every selected report. Returns a JSON-ready summary.

    ``annotators`` limits per-annotator reports to those annotators (see :func:`plan`).

    Per-annotator runs of one report share a warm kernel (:class:`KernelPool`) unless
    ``reuse_kernels`` is False; every other run gets a kernel of its own.

    Raises :class:`~labkit.errors.ParameterError` (before any kernel starts) for a bad parameter, an
    unknown report or a missing notebook. A notebook that fails does not raise: it is a failed run
    in the summary (``failed`` > 0).
    """
    jobs = plan(config, only=only, cli_params=cli_params, for_each=for_each, key=key, annotators=annotators)
    out_dir = Path(out) if out else config.out
    if not out_dir.is_absolute():
        out_dir = Path.cwd() / out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    to = timeout if timeout is not None else config.timeout
    say = progress or (lambda s: None)
    results: list[RunResult] = []
    pool = KernelPool() if reuse_kernels else None
    try:
        for i, job in enumerate(jobs, 1):
            say(f"[{i}/{len(jobs)}] {job.label} …")
            r = execute_job(job, out_dir, root=config.root, timeout=to, pool=pool if job.variant else None)
            results.append(r)
            shown = r.html or r.folder
            if r.status == "ok":
                say(f"[{i}/{len(jobs)}] {job.label}: ok in {r.seconds:.1f} s -> {_rel(Path(shown), Path.cwd())}")
            else:
                say(f"[{i}/{len(jobs)}] {job.label}: FAILED in {r.seconds:.1f} s: {r.error} "
                    f"(kept in {_rel(Path(r.folder), Path.cwd())})")
    finally:
        if pool is not None:
            pool.close()
    from labkit.reports.index import write_index

    index = write_index(out_dir, config)
    failed = sum(r.status != "ok" for r in results)
    return {"out": str(out_dir), "index": str(index), "runs": [r.to_dict() for r in results],
            "ok": len(results) - failed, "failed": failed}



def run_config(path: str | os.PathLike[str] = "reports.yaml", *, out: str | os.PathLike[str] | None = None,
               root: str | os.PathLike[str] | None = None, quiet: bool = False, only: Sequence[str] = (),
               cli_params: dict[str, str] | None = None, timeout: float | None = None) -> dict[str, Any]:
    """Load ``reports.yaml`` and run every report in it (what ``labkit demo`` and cron jobs call).

    ``root`` is accepted for symmetry with ``labkit demo --root``; paths in the config are always
    relative to the config file's folder. Progress goes to stderr unless ``quiet``.
    """
    import sys

    from labkit.reports.config import load_config

    config = load_config(Path(root) / path if root is not None and not Path(path).is_absolute() else path)
    progress = None if quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    return run_reports(config, only=only, cli_params=cli_params, out=out, timeout=timeout, progress=progress)
