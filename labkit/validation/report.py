"""The validation result: per-expectation outcomes, the failing-rows table, the gate, and writers.

Writers produce the machine-readable result (``validation.json``), the failing-rows table
(``failures.csv`` or ``.parquet``) and a self-contained HTML summary (``validation.html``: inline
CSS, no script, no external URL, every data-derived text escaped, annotator ids as pseudonyms).
Nothing here imports Great Expectations.
"""

from __future__ import annotations

import html
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from labkit._atomic import atomic_path, write_json, write_text
from labkit.errors import ValidationFailed

FAILURE_COLUMNS = ["expectation", "suite", "severity", "item_id", "annotator_id", "value"]
STATUSES = ("passed", "failed", "not applicable", "error")


@dataclass
class ExpectationOutcome:
    """The result of one expectation.

    ``status`` is ``passed``, ``failed``, ``not applicable`` (no row carried the values the
    expectation checks, e.g. guideline checks on data without ``guideline_version``) or ``error``
    (the expectation raised; counted as not passed). ``n_evaluated`` is the number of rows (items,
    for the overlap expectation) it looked at; ``n_failing`` those that failed.
    """

    name: str
    type: str
    suite: str
    severity: str
    status: str
    passed: bool
    n_evaluated: int | None
    n_failing: int
    why: str
    rule: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    observed: Any = None
    error: str | None = None
    derived: str | None = None


@dataclass
class ValidationReport:
    """What :func:`labkit.validation.validate` returns."""

    outcomes: list[ExpectationOutcome]
    failures: pd.DataFrame  # FAILURE_COLUMNS, one row per failing row and expectation
    n_rows: int
    n_items: int
    n_annotators: int
    suites: list[str]
    guidelines: str
    started_at: str
    timings: dict[str, float] = field(default_factory=dict)
    gx_version: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    source: list[str] = field(default_factory=list)
    #: The import of the input (when validated from files): records read, and those quarantined (file,
    #: record, field, reason, original); records_in = accepted + quarantined.
    records_in: int | None = None
    quarantine: pd.DataFrame | None = None
    engine: str = "pandas"

    @property
    def gate(self) -> bool:
        """True unless a critical expectation failed or errored."""
        return not any(o.severity == "critical" and o.status in ("failed", "error") for o in self.outcomes)

    @property
    def critical_failures(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if o.severity == "critical" and o.status in ("failed", "error")]

    def table(self) -> pd.DataFrame:
        """One row per expectation: suite, name, severity, status, n_evaluated, n_failing, why, rule."""
        out = pd.DataFrame([{"suite": o.suite, "expectation": o.name, "severity": o.severity, "status": o.status,
                             "n_evaluated": o.n_evaluated, "n_failing": o.n_failing, "why": o.why, "rule": o.rule}
                            for o in self.outcomes])
        out["n_evaluated"] = out["n_evaluated"].astype("Int64")
        return out

    def outcome(self, name: str) -> ExpectationOutcome:
        for o in self.outcomes:
            if o.name == name:
                return o
        raise KeyError(f"no expectation named {name!r} (have: {', '.join(o.name for o in self.outcomes)})")

    def failing(self, name: str) -> pd.DataFrame:
        """The failing rows of one expectation."""
        return self.failures[self.failures["expectation"] == name].reset_index(drop=True)

    def summary(self) -> dict[str, Any]:
        counts = {s: sum(o.status == s for o in self.outcomes) for s in STATUSES}
        return {
            "gate": "passed" if self.gate else "failed",
            "rows": self.n_rows, "items": self.n_items, "annotators": self.n_annotators,
            "expectations": len(self.outcomes), **{k.replace(" ", "_"): v for k, v in counts.items()},
            "critical_failed": [o.name for o in self.critical_failures],
            "warnings_failed": [o.name for o in self.outcomes if o.severity == "warning" and o.status in ("failed", "error")],
            "failing_rows": int(len(self.failures)),
            "suites": list(self.suites), "guidelines": self.guidelines, "source": list(self.source),
            "gx_version": self.gx_version, "timings": dict(self.timings), "engine": self.engine,
            **({} if self.records_in is None else {
                "records_in": self.records_in, "quarantined": self.n_quarantined,
                "accepted": self.records_in - self.n_quarantined}),
        }

    @property
    def n_quarantined(self) -> int:
        return 0 if self.quarantine is None else int(len(self.quarantine))

    def to_dict(self) -> dict[str, Any]:
        """The machine-readable result: summary, parameters and every outcome (no row data)."""
        return {"summary": self.summary(), "parameters": dict(self.parameters), "started_at": self.started_at,
                "expectations": [_jsonable(asdict(o)) for o in self.outcomes]}

    def raise_for_gate(self) -> None:
        """Raise :class:`~labkit.errors.ValidationFailed` (with the failing rows) if the gate failed."""
        if not self.gate:
            names = ", ".join(o.name for o in self.critical_failures)
            crit = self.failures[self.failures["severity"] == "critical"]
            raise ValidationFailed(f"{len(self.critical_failures)} critical expectation(s) failed: {names}", crit)

    def describe(self) -> str:
        """One line: gate, counts and which expectations failed."""
        s = self.summary()
        crit = ", ".join(s["critical_failed"]) or "none"
        warn = ", ".join(s["warnings_failed"]) or "none"
        return (f"gate {s['gate']} ({self.n_rows} rows, {len(self.outcomes)} expectations: {s['passed']} passed, "
                f"{s['failed']} failed, {s['not_applicable']} not applicable, {s['error']} errors; "
                f"{s['failing_rows']} failing rows); critical failed: {crit}; warnings: {warn}")

    def text(self) -> str:
        """A plain-text summary for the terminal."""
        lines = [f"validation {'PASSED' if self.gate else 'FAILED'}: {self.n_rows} rows, {self.n_items} items, "
                 f"{self.n_annotators} annotators, {len(self.outcomes)} expectations"]
        w = max(len(o.name) for o in self.outcomes) if self.outcomes else 10
        for o in self.outcomes:
            mark = {"passed": "ok  ", "failed": "FAIL", "not applicable": "n/a ", "error": "ERR "}[o.status]
            extra = f"{o.n_failing} failing" if o.status == "failed" else (o.error or "")
            if o.status == "not applicable" and isinstance(o.observed, str):
                extra = o.observed
            lines.append(f"  {mark} {o.severity:<8} {o.name:<{w}}  {extra}".rstrip())
        return "\n".join(lines)

    # ----------------------------------------------------------------------------------------- writers
    def write(self, out_dir: str | os.PathLike[str], *, failures_format: str = "csv",
              key: bytes | None = None) -> dict[str, str]:
        """Write ``validation.json``, ``failures.csv`` (or ``.parquet``) and ``validation.html`` into ``out_dir``."""
        out = Path(out_dir)
        paths = {"result": str(write_json(out / "validation.json", self.to_dict())),
                 "failures": str(self.write_failures(out / f"failures.{failures_format}")),
                 "html": str(self.write_html(out / "validation.html", key=key))}
        return paths

    def write_failures(self, path: str | os.PathLike[str]) -> Path:
        """The failing-rows table as CSV or Parquet (by suffix), atomically, real ids (the data contract)."""
        p = Path(path)
        if p.suffix == ".parquet":
            with atomic_path(p, suffix=".parquet") as tmp:
                self.failures.astype("string").to_parquet(tmp, index=False)
        elif p.suffix == ".csv":
            with atomic_path(p, suffix=".csv") as tmp:
                self.failures.to_csv(tmp, index=False)
        else:
            from labkit.errors import ParameterError

            raise ParameterError(f"failures file must end in .csv or .parquet, got {p.name!r}")
        return p

    def write_html(self, path: str | os.PathLike[str], *, key: bytes | None = None, sample_rows: int = 15) -> Path:
        """A self-contained HTML summary (opens offline; annotator ids pseudonymized with ``key``)."""
        return write_text(path, render_html(self, key=key, sample_rows=sample_rows))


def write_outputs(report: ValidationReport, out_dir: str | os.PathLike[str], *, failures_format: str = "csv",
                  key: bytes | None = None) -> dict[str, str]:
    """Write the three outputs of a run into ``out_dir`` (see :meth:`ValidationReport.write`)."""
    return report.write(out_dir, failures_format=failures_format, key=key)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;margin:0;background:#f6f8fa}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px} h3{font-size:15px;margin:18px 0 6px}
.banner{padding:14px 18px;border-radius:8px;margin:16px 0;font-weight:600;font-size:16px}
.banner.pass{background:#dafbe1;border:1px solid #4ac26b;color:#116329}
.banner.fail{background:#ffebe9;border:1px solid #ff8182;color:#82071e}
.meta{color:#59636e;font-size:13px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}
.card{background:#fff;border:1px solid #d1d9e0;border-radius:8px;padding:10px 14px;min-width:96px}
.card b{display:block;font-size:20px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #d1d9e0;border-radius:6px;font-size:13px}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eef1f4;vertical-align:top}
th{background:#f0f3f6;font-weight:600} td.num{text-align:right;font-variant-numeric:tabular-nums}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;white-space:nowrap}
.passed{background:#dafbe1;color:#116329} .failed{background:#ffebe9;color:#82071e}
.na{background:#eef1f4;color:#59636e} .error{background:#fff8c5;color:#7d4e00}
.critical{color:#82071e;font-weight:600} .warning{color:#7d4e00}
.why{color:#59636e;font-size:12px} code{font-size:12px;background:#eef1f4;padding:0 3px;border-radius:3px}
"""


def _pill(status: str) -> str:
    cls = {"passed": "passed", "failed": "failed", "not applicable": "na", "error": "error"}[status]
    return f'<span class="pill {cls}">{html.escape(status)}</span>'


def render_html(report: ValidationReport, *, key: bytes | None = None, sample_rows: int = 15) -> str:
    """Render the report as one HTML page with inline CSS, no script and no external reference."""
    from labkit.privacy import load_key, pseudonym

    if key is None:
        key = load_key()
    e = html.escape
    s = report.summary()
    gate = report.gate
    crit = report.critical_failures
    banner = ("Gate passed: no critical expectation failed." if gate else
              f"Gate failed: {len(crit)} critical expectation(s) failed. Stop the pipeline and fix the rows below.")
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
             f"<title>labkit validation: {'passed' if gate else 'failed'}</title><style>{_CSS}</style></head><body><main>",
             "<h1>Label validation</h1>",
             f"<div class=\"meta\">source: {e(', '.join(report.source) or 'table')} &middot; guidelines: "
             f"{e(report.guidelines or '-')} &middot; run at {e(report.started_at)} &middot; Great Expectations "
             f"{e(report.gx_version)}</div>",
             f"<div class=\"banner {'pass' if gate else 'fail'}\">{e(banner)}</div>",
             "<div class=\"cards\">"]
    for label, value in (("judgements", s["rows"]), ("items", s["items"]), ("annotators", s["annotators"]),
                         ("expectations", s["expectations"]), ("expectations failed", s["failed"]),
                         ("not applicable", s["not_applicable"]), ("failing rows", s["failing_rows"])):
        parts.append(f"<div class=\"card\"><span class=\"meta\">{e(label)}</span><b>{e(str(value))}</b></div>")
    parts.append("</div><h2>Expectations</h2><table><thead><tr><th>suite</th><th>expectation</th><th>severity</th>"
                 "<th>status</th><th class=\"num\">evaluated</th><th class=\"num\">failing</th><th>why / rule</th></tr>"
                 "</thead><tbody>")
    order = {"error": 0, "failed": 1, "passed": 2, "not applicable": 3}
    sev = {"critical": 0, "warning": 1}
    for o in sorted(report.outcomes, key=lambda o: (order[o.status], sev.get(o.severity, 2))):
        detail = e(o.why) + "<br><span class=\"why\">rule: " + e(o.rule) + "</span>"
        if o.error:
            detail += "<br><span class=\"why\">error: " + e(o.error) + "</span>"
        parts.append(f"<tr><td>{e(o.suite)}</td><td><code>{e(o.name)}</code></td><td class=\"{e(o.severity)}\">"
                     f"{e(o.severity)}</td><td>{_pill(o.status)}</td><td class=\"num\">"
                     f"{'' if o.n_evaluated is None else o.n_evaluated}</td><td class=\"num\">{o.n_failing}</td>"
                     f"<td class=\"why\">{detail}</td></tr>")
    parts.append("</tbody></table>")
    failed = [o for o in report.outcomes if o.status == "failed"]
    if failed:
        parts.append("<h2>Failing rows (samples)</h2><p class=\"meta\">Annotators appear as keyed pseudonyms. "
                     "The complete table, with the ids as exported, is in the failures file beside this page.</p>")
    for o in sorted(failed, key=lambda o: sev.get(o.severity, 2)):
        rows = report.failing(o.name)
        parts.append(f"<h3><code>{e(o.name)}</code> <span class=\"{e(o.severity)}\">{e(o.severity)}</span> "
                     f"<span class=\"meta\">{len(rows)} row(s)"
                     f"{', first ' + str(sample_rows) if len(rows) > sample_rows else ''}</span></h3>")
        parts.append("<table><thead><tr><th>item_id</th><th>annotator</th><th>value</th></tr></thead><tbody>")
        for r in rows.head(sample_rows).itertuples(index=False):
            ann = "" if r.annotator_id is None or pd.isna(r.annotator_id) else pseudonym(str(r.annotator_id), key)
            item = "" if r.item_id is None or pd.isna(r.item_id) else str(r.item_id)
            parts.append(f"<tr><td>{e(item)}</td><td>{e(ann)}</td><td>{e(str(r.value))}</td></tr>")
        parts.append("</tbody></table>")
    parts.append("</main></body></html>\n")
    return "".join(parts)
